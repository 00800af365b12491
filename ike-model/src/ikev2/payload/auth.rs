//! The Authentication payload (RFC 7296 §3.8).

use super::PayloadBody;
use crate::ikev2::consts::AuthMethod;
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// AUTH method and data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthPayload {
    /// The method (PSK = 2).
    pub method: AuthMethod,
    /// The authentication data (for PSK: a PRF output).
    pub data: Vec<u8>,
}

impl PayloadBody for AuthPayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let method = AuthMethod(r.u8("AUTH payload")?);
        r.take(3, "AUTH payload")?;
        Ok(AuthPayload {
            method,
            data: r.rest().to_vec(),
        })
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.method.0);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.data);
    }
}
