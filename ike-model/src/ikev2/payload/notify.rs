//! The Notify payload (RFC 7296 §3.10).

use super::PayloadBody;
use crate::ikev2::consts::{NotifyType, ProtocolId};
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// A notification: an error or a status, optionally about an SA.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NotifyPayload {
    /// Protocol of the SA it concerns (0 when none).
    pub protocol: ProtocolId,
    /// SPI of the SA it concerns (empty when none).
    pub spi: Vec<u8>,
    /// Notify type.
    pub ty: NotifyType,
    /// Notification data.
    pub data: Vec<u8>,
}

impl NotifyPayload {
    /// A notify about no SA.
    pub fn new(ty: NotifyType, data: Vec<u8>) -> Self {
        NotifyPayload {
            protocol: ProtocolId(0),
            spi: Vec::new(),
            ty,
            data,
        }
    }
}

impl PayloadBody for NotifyPayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let protocol = ProtocolId(r.u8("Notify payload")?);
        let spi_size = usize::from(r.u8("Notify payload")?);
        let ty = NotifyType(r.u16("Notify payload")?);
        let spi = r.take(spi_size, "Notify SPI")?.to_vec();
        Ok(NotifyPayload {
            protocol,
            spi,
            ty,
            data: r.rest().to_vec(),
        })
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.protocol.0);
        out.push(self.spi.len() as u8);
        out.extend_from_slice(&self.ty.0.to_be_bytes());
        out.extend_from_slice(&self.spi);
        out.extend_from_slice(&self.data);
    }
}
