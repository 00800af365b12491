//! topologies: networks as graphs (petgraph) of gateways, ISP routers, routers and hosts,
//! with routing computed on the graph and instantiation into a `sim_core::Network`.
//! Built-in shapes live in their own modules (`two_site` now; hub-and-spoke, mesh and
//! remote access come with the network issue).

pub mod graph;
pub mod two_site;

pub use graph::{Built, NodeSpec, Role, Topology, TopologyError};
pub use two_site::{Site, two_site};
