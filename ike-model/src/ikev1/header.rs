//! The ISAKMP header (RFC 2408 §3.1): initiator and responder cookies, next payload,
//! version 1.0, exchange type, flags, message ID and length.

use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// Bytes in the header.
pub const HEADER_LEN: usize = 28;

/// An ISAKMP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Initiator cookie.
    pub icookie: u64,
    /// Responder cookie (0 in the first message).
    pub rcookie: u64,
    /// Type of the first payload.
    pub next_payload: u8,
    /// Major and minor version (0x10 for IKEv1).
    pub version: u8,
    /// Exchange type.
    pub exchange: u8,
    /// Flags (encryption, commit, authentication only).
    pub flags: u8,
    /// Message ID (0 in Phase 1; random in Quick Mode and Informational).
    pub message_id: u32,
    /// Length of the whole message.
    pub length: u32,
}

impl Header {
    /// Reads a header, checking the version and that the length fits the datagram.
    pub fn decode(bytes: &[u8]) -> Result<Header, DecodeError> {
        let mut r = Reader::new(bytes);
        let h = Header {
            icookie: r.u64("ISAKMP header")?,
            rcookie: r.u64("ISAKMP header")?,
            next_payload: r.u8("ISAKMP header")?,
            version: r.u8("ISAKMP header")?,
            exchange: r.u8("ISAKMP header")?,
            flags: r.u8("ISAKMP header")?,
            message_id: r.u32("ISAKMP header")?,
            length: r.u32("ISAKMP header")?,
        };
        if h.version >> 4 != 1 {
            return Err(DecodeError::Invalid {
                what: "ISAKMP version",
                detail: format!("{:#04x}", h.version),
            });
        }
        let len = h.length as usize;
        if len < HEADER_LEN || len > bytes.len() {
            return Err(DecodeError::BadLength {
                what: "ISAKMP message",
                len,
            });
        }
        Ok(h)
    }

    /// Whether the payloads are encrypted.
    pub fn encrypted(&self) -> bool {
        self.flags & super::consts::flags::ENCRYPTION != 0
    }

    /// The 28 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&self.icookie.to_be_bytes());
        b[8..16].copy_from_slice(&self.rcookie.to_be_bytes());
        b[16] = self.next_payload;
        b[17] = self.version;
        b[18] = self.exchange;
        b[19] = self.flags;
        b[20..24].copy_from_slice(&self.message_id.to_be_bytes());
        b[24..28].copy_from_slice(&self.length.to_be_bytes());
        b
    }
}
