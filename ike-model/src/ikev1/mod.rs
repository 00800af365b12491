//! IKEv1 (RFC 2407, 2408, 2409): the ISAKMP wire codec, Phase 1 and Phase 2 key derivation
//! with pre-shared keys, IV chaining and the HASH payloads of Main, Aggressive and Quick
//! Mode and of Informational exchanges. All of it is checked against the strongSwan
//! reference captures (`testdata/strongswan/ikev1-*`).

pub mod consts;
pub mod crypto;
pub mod header;
pub mod payload;
pub mod sa;

pub use header::Header;
pub use payload::{RawPayload, decode_chain, encode_chain};
pub mod endpoint;
