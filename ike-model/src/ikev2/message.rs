//! A whole IKEv2 message: header and payload chain (RFC 7296 §3).

use super::consts::{ExchangeType, PayloadType};
use super::error::DecodeError;
use super::header::{HEADER_LEN, Header};
use super::payload::{Payload, decode_payload_chain, encode_payload_chain_into};

pub use super::payload::{decode_payload_chain as decode_chain, encode_payload_chain};

/// A decoded message. For protected messages the last payload is
/// [`Payload::Encrypted`]; its contents are opened with `ikev2::protect`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// The header; `next_payload` and `length` are recomputed by [`Message::encode`].
    pub header: Header,
    /// The payloads in order.
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Decodes a UDP payload holding one IKEv2 message (no non-ESP marker). The header's
    /// length must equal the datagram's.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let header = Header::decode(bytes)?;
        if header.length as usize != bytes.len() {
            return Err(DecodeError::LengthMismatch {
                header: header.length as usize,
                actual: bytes.len(),
            });
        }
        let payloads = decode_payload_chain(header.next_payload, &bytes[HEADER_LEN..])?;
        Ok(Message { header, payloads })
    }

    /// Encodes the message, setting the header's next-payload and length fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let mut header = self.header;
        header.next_payload = self.payloads.first().map_or(PayloadType::NONE, Payload::ty);
        header.encode(&mut out);
        encode_payload_chain_into(&self.payloads, &mut out);
        let len = out.len() as u32;
        out[24..28].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// The exchange type.
    pub fn exchange(&self) -> ExchangeType {
        self.header.exchange
    }

    /// The payloads after decrypting nothing: for a protected message, the SK payload.
    pub fn is_protected(&self) -> bool {
        matches!(self.payloads.last(), Some(Payload::Encrypted { .. }))
    }
}
