//! The Key Exchange payload (RFC 7296 §3.4).

use super::PayloadBody;
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// A Diffie-Hellman public value and its group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KePayload {
    /// The DH group (transform ID of type 4).
    pub group: u16,
    /// The public value, padded to the group's length.
    pub data: Vec<u8>,
}

impl PayloadBody for KePayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let group = r.u16("KE payload")?;
        r.u16("KE payload")?;
        Ok(KePayload {
            group,
            data: r.rest().to_vec(),
        })
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.group.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.data);
    }
}
