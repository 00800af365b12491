//! The Certificate and Certificate Request payloads (RFC 7296 §3.6, §3.7).

use super::PayloadBody;
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// An encoding byte and opaque data: the shape of both CERT and CERTREQ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CertPayload {
    /// Certificate encoding (4 = X.509 signature).
    pub encoding: u8,
    /// Certificate data, or for CERTREQ the concatenated CA key hashes.
    pub data: Vec<u8>,
}

impl PayloadBody for CertPayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(CertPayload {
            encoding: r.u8("CERT payload")?,
            data: r.rest().to_vec(),
        })
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.encoding);
        out.extend_from_slice(&self.data);
    }
}
