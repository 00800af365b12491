//! sim-core: the deterministic discrete-event engine of ikesim.
//!
//! - [`time`]: virtual time in integer nanoseconds, human durations for scenario files;
//! - [`queue`]: the event queue, a 4-ary heap ordered by (time, insertion sequence), with
//!   O(1) lazy cancellation, and one movable timer per owner (an endpoint's wake-up;
//!   [`timer_heap`] is that heap);
//! - [`rng`]: named random streams, ChaCha seeded from (master seed, stream name);
//! - [`dist`]: the distributions every component samples from;
//! - [`packet`], [`link`], [`middlebox`], [`network`]: packets, one-way links with delay,
//!   jitter, loss, bandwidth and queues, middlebox hooks, routing;
//! - [`trace`]: typed records of a run and its fingerprint; [`pcap`]: captures;
//!   [`output`]: files that appear whole.
//!
//! A run is a pure function of (scenario, seed, program version): no wall clock, no
//! unordered iteration in anything observable, randomness only from named streams.

pub mod cache_hint;
pub mod dense_map;
pub mod dist;
pub mod link;
pub mod middlebox;
pub mod nat;
pub mod network;
pub mod output;
pub mod packet;
pub mod pcap;
pub mod pcap_read;
mod quad_heap;
pub mod queue;
pub mod rng;
pub mod time;
pub mod timer_heap;
pub mod trace;

pub use cache_hint::{prefetch, prefetch_first_line};
pub use dense_map::DenseMap;
pub use dist::Dist;
pub use link::{LinkParams, LossModel};
pub use network::{Delivery, LinkId, NetEvent, Network, NodeId};
pub use packet::{Packet, Transport};
pub use queue::{Due, EventId, Scheduler};
pub use rng::{RngStreams, SimRng};
pub use time::{Duration, SimTime};
pub use trace::{Trace, TraceLevel};
