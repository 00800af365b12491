//! The IKE header (RFC 7296 §3.1): 28 bytes in front of every message.

use super::consts::{ExchangeType, PayloadType};
use super::error::DecodeError;
use crate::wire::Reader;

/// Length of the IKE header.
pub const HEADER_LEN: usize = 28;

/// Flag: the sender is the original initiator of the IKE SA (RFC 7296 §3.1).
pub const FLAG_INITIATOR: u8 = 0x08;
/// Flag: the sender can speak a higher major version.
pub const FLAG_VERSION: u8 = 0x10;
/// Flag: this message is a response.
pub const FLAG_RESPONSE: u8 = 0x20;

/// A decoded IKE header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// IKE SA initiator's SPI.
    pub spi_i: u64,
    /// IKE SA responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: u64,
    /// Type of the first payload.
    pub next_payload: PayloadType,
    /// Major version (2).
    pub major: u8,
    /// Minor version (0).
    pub minor: u8,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// Flags (I, V, R).
    pub flags: u8,
    /// Message ID.
    pub message_id: u32,
    /// Total length of the message, header included.
    pub length: u32,
}

impl Header {
    /// Whether the I (original initiator) flag is set.
    pub fn is_initiator(&self) -> bool {
        self.flags & FLAG_INITIATOR != 0
    }

    /// Whether the R (response) flag is set.
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_RESPONSE != 0
    }

    /// Decodes a header from the first 28 bytes; checks the major version.
    pub fn decode(bytes: &[u8]) -> Result<Header, DecodeError> {
        let mut r = Reader::new(bytes);
        let spi_i = r.u64("IKE header")?;
        let spi_r = r.u64("IKE header")?;
        let next_payload = PayloadType(r.u8("IKE header")?);
        let version = r.u8("IKE header")?;
        let exchange = ExchangeType(r.u8("IKE header")?);
        let flags = r.u8("IKE header")?;
        let message_id = r.u32("IKE header")?;
        let length = r.u32("IKE header")?;
        let major = version >> 4;
        if major != 2 {
            return Err(DecodeError::UnsupportedVersion(major));
        }
        Ok(Header {
            spi_i,
            spi_r,
            next_payload,
            major,
            minor: version & 0x0f,
            exchange,
            flags,
            message_id,
            length,
        })
    }

    /// Appends the 28 header bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spi_i.to_be_bytes());
        out.extend_from_slice(&self.spi_r.to_be_bytes());
        out.push(self.next_payload.0);
        out.push((self.major << 4) | (self.minor & 0x0f));
        out.push(self.exchange.0);
        out.push(self.flags);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }
}
