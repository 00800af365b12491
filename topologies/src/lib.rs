//! topologies: networks as graphs (petgraph) of gateways, ISP routers, routers and hosts,
//! with routing on the graph and instantiation into a `sim_core::Network`. Built-in shapes
//! live in their own modules: two sites, sites around an Internet core (hub-and-spoke,
//! full mesh), remote access behind a carrier-grade NAT; hand-written graphs come from RON.

pub mod graph;
pub mod graph_file;
pub mod remote_access;
pub mod star;
pub mod two_site;

pub use graph::{Built, NodeSpec, Role, RouteSpec, Topology, TopologyError};
pub use graph_file::{GraphLink, GraphNode, GraphSpec};
pub use remote_access::{Client, RemoteAccess, remote_access};
pub use star::{Placed, Shaped, StarSite, star};
pub use two_site::{Site, two_site};
