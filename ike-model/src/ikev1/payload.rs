//! The ISAKMP payload chain (RFC 2408 §3.2): each payload has a 4-byte generic header (next
//! payload, reserved, length). Payloads are kept as type + body; `sa` decodes the SA
//! payload's proposals and transforms.

use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// Most payloads a decoder accepts in one message.
pub const MAX_PAYLOADS: usize = 64;

/// A payload: its type and its body (without the generic header).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RawPayload {
    /// Payload type.
    pub ty: u8,
    /// Body after the 4-byte generic header.
    pub body: Vec<u8>,
}

impl RawPayload {
    /// Length on the wire, with the generic header.
    pub fn wire_len(&self) -> usize {
        4 + self.body.len()
    }
}

/// Decodes the chain starting with payload type `first` from `bytes`; returns the payloads
/// and the number of bytes they used (the rest of an encrypted body is padding).
pub fn decode_chain(first: u8, bytes: &[u8]) -> Result<(Vec<RawPayload>, usize), DecodeError> {
    let mut r = Reader::new(bytes);
    let mut ty = first;
    // Room for a Quick Mode message's payloads in one allocation.
    let mut out = Vec::with_capacity(if ty == super::consts::payload::NONE {
        0
    } else {
        6
    });
    while ty != super::consts::payload::NONE {
        if out.len() >= MAX_PAYLOADS {
            return Err(DecodeError::TooMany("ISAKMP payloads"));
        }
        let next = r.u8("payload header")?;
        r.u8("payload header")?;
        let len = usize::from(r.u16("payload header")?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                what: "ISAKMP payload",
                len,
            });
        }
        let body = r.take(len - 4, "payload body")?;
        out.push(RawPayload {
            ty,
            body: body.to_vec(),
        });
        ty = next;
    }
    Ok((out, bytes.len() - r.remaining()))
}

/// Encodes a chain; returns the first payload's type and the bytes.
pub fn encode_chain(payloads: &[RawPayload]) -> (u8, Vec<u8>) {
    // One allocation of the final size: a Quick Mode message grew this buffer four times.
    let mut out = Vec::with_capacity(payloads.iter().map(RawPayload::wire_len).sum());
    for (k, p) in payloads.iter().enumerate() {
        let next = payloads
            .get(k + 1)
            .map_or(super::consts::payload::NONE, |n| n.ty);
        out.push(next);
        out.push(0);
        out.extend_from_slice(&(p.wire_len() as u16).to_be_bytes());
        out.extend_from_slice(&p.body);
    }
    (payloads.first().map_or(0, |p| p.ty), out)
}
