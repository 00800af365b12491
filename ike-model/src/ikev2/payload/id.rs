//! The Identification payloads IDi and IDr (RFC 7296 §3.5).

use std::net::IpAddr;

use super::PayloadBody;
use crate::ikev2::consts::IdType;
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// An identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdPayload {
    /// ID type.
    pub id_type: IdType,
    /// The identification data.
    pub data: Vec<u8>,
}

impl IdPayload {
    /// An ID_IPV4_ADDR or ID_IPV6_ADDR identity.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => IdPayload {
                id_type: IdType::ID_IPV4_ADDR,
                data: a.octets().to_vec(),
            },
            IpAddr::V6(a) => IdPayload {
                id_type: IdType::ID_IPV6_ADDR,
                data: a.octets().to_vec(),
            },
        }
    }

    /// The address of an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.id_type {
            IdType::ID_IPV4_ADDR => <[u8; 4]>::try_from(self.data.as_slice())
                .ok()
                .map(IpAddr::from),
            IdType::ID_IPV6_ADDR => <[u8; 16]>::try_from(self.data.as_slice())
                .ok()
                .map(IpAddr::from),
            _ => None,
        }
    }

    /// The body without the generic header: what AUTH signs as IDx' (RFC 7296 §2.15).
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + self.data.len());
        self.encode_body(&mut v);
        v
    }
}

impl PayloadBody for IdPayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let id_type = IdType(r.u8("ID payload")?);
        r.take(3, "ID payload")?;
        Ok(IdPayload {
            id_type,
            data: r.rest().to_vec(),
        })
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.id_type.0);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.data);
    }
}
