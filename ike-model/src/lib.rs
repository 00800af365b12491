//! IKEv1 and IKEv2 as sans-IO protocol libraries: wire codecs, crypto, SA databases and
//! policies. Nothing here knows the simulation engine exists: the clock and randomness come
//! in as arguments, so the same code could drive a real UDP socket.

pub mod crypto;
pub mod esp;
pub mod events;
mod half_open;
pub mod ikev1;
pub mod ikev2;
mod outbox;
pub mod policy;
mod sa_ids;
mod wakeups;
pub mod wire;
