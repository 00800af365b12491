//! IKEv2 payloads (RFC 7296 §3.2-3.16) and the payload chain: each payload starts with a
//! generic header (next payload, critical bit, length) and names the type of the next.

pub mod auth;
pub mod cert;
pub mod delete;
pub mod id;
pub mod ke;
pub mod notify;
pub mod sa;
pub mod ts;

use std::fmt;

pub use auth::AuthPayload;
pub use cert::CertPayload;
pub use delete::{DeletePayload, DeleteSpis};
pub use id::IdPayload;
pub use ke::KePayload;
pub use notify::NotifyPayload;
pub use sa::{Attribute, Attributes, Proposal, SaPayload, SpiBytes, Transform};
pub use ts::{Selectors, TrafficSelector, TsPayload};

use super::consts::{PayloadType, transform};
use super::error::DecodeError;
use crate::wire::Reader;

/// Length of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;
/// Most payloads a decoder accepts in one chain.
pub const MAX_PAYLOADS: usize = 64;

/// A payload body that decodes from and encodes to bytes (after the generic header).
pub trait PayloadBody: Sized {
    /// Decodes the body.
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError>;
    /// Appends the body.
    fn encode_body(&self, out: &mut Vec<u8>);
}

/// One payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Payload {
    /// Security Association (33).
    Sa(SaPayload),
    /// Key Exchange (34).
    Ke(KePayload),
    /// Identification - Initiator (35).
    IdI(IdPayload),
    /// Identification - Responder (36).
    IdR(IdPayload),
    /// Certificate (37).
    Cert(CertPayload),
    /// Certificate Request (38).
    CertReq(CertPayload),
    /// Authentication (39).
    Auth(AuthPayload),
    /// Nonce (40).
    Nonce(Vec<u8>),
    /// Notify (41).
    Notify(NotifyPayload),
    /// Delete (42).
    Delete(DeletePayload),
    /// Vendor ID (43).
    VendorId(Vec<u8>),
    /// Traffic Selector - Initiator (44).
    TsI(TsPayload),
    /// Traffic Selector - Responder (45).
    TsR(TsPayload),
    /// Encrypted and Authenticated (46): `body` is IV || ciphertext || ICV, opened by
    /// `ikev2::protect`; `inner_next` is the type of the first payload inside.
    Encrypted {
        /// First inner payload type.
        inner_next: PayloadType,
        /// IV, ciphertext and ICV.
        body: Vec<u8>,
    },
    /// A payload type this codec does not model, kept as bytes (skipped per §2.5 unless
    /// critical).
    Unknown {
        /// Its type.
        ty: PayloadType,
        /// The critical bit as received.
        critical: bool,
        /// Its body.
        body: Vec<u8>,
    },
}

impl Payload {
    /// The payload's type number.
    pub fn ty(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::IdI(_) => PayloadType::IDI,
            Payload::IdR(_) => PayloadType::IDR,
            Payload::Cert(_) => PayloadType::CERT,
            Payload::CertReq(_) => PayloadType::CERTREQ,
            Payload::Auth(_) => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::N,
            Payload::Delete(_) => PayloadType::D,
            Payload::VendorId(_) => PayloadType::V,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::Encrypted { .. } => PayloadType::SK,
            Payload::Unknown { ty, .. } => *ty,
        }
    }

    fn decode(ty: PayloadType, critical: bool, body: &[u8]) -> Result<Payload, DecodeError> {
        Ok(match ty {
            PayloadType::SA => Payload::Sa(SaPayload::decode_body(body)?),
            PayloadType::KE => Payload::Ke(KePayload::decode_body(body)?),
            PayloadType::IDI => Payload::IdI(IdPayload::decode_body(body)?),
            PayloadType::IDR => Payload::IdR(IdPayload::decode_body(body)?),
            PayloadType::CERT => Payload::Cert(CertPayload::decode_body(body)?),
            PayloadType::CERTREQ => Payload::CertReq(CertPayload::decode_body(body)?),
            PayloadType::AUTH => Payload::Auth(AuthPayload::decode_body(body)?),
            PayloadType::NONCE => Payload::Nonce(body.to_vec()),
            PayloadType::N => Payload::Notify(NotifyPayload::decode_body(body)?),
            PayloadType::D => Payload::Delete(DeletePayload::decode_body(body)?),
            PayloadType::V => Payload::VendorId(body.to_vec()),
            PayloadType::TSI => Payload::TsI(TsPayload::decode_body(body)?),
            PayloadType::TSR => Payload::TsR(TsPayload::decode_body(body)?),
            _ if critical => return Err(DecodeError::UnknownCriticalPayload(ty.0)),
            _ => Payload::Unknown {
                ty,
                critical,
                body: body.to_vec(),
            },
        })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Sa(p) => p.encode_body(out),
            Payload::Ke(p) => p.encode_body(out),
            Payload::IdI(p) | Payload::IdR(p) => p.encode_body(out),
            Payload::Cert(p) | Payload::CertReq(p) => p.encode_body(out),
            Payload::Auth(p) => p.encode_body(out),
            Payload::Nonce(b) | Payload::VendorId(b) => out.extend_from_slice(b),
            Payload::Notify(p) => p.encode_body(out),
            Payload::Delete(p) => p.encode_body(out),
            Payload::TsI(p) | Payload::TsR(p) => p.encode_body(out),
            Payload::Encrypted { body, .. } | Payload::Unknown { body, .. } => {
                out.extend_from_slice(body)
            }
        }
    }
}

/// Decodes a chain of payloads starting with type `first`, as found after the IKE header or
/// inside a decrypted SK payload. An SK payload ends the chain (its next-payload field names
/// the first inner payload); bytes after it are an error.
pub fn decode_payload_chain(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut next = first;
    // Room for a CREATE_CHILD_SA's payloads without growing (a rekey request has up to six).
    let mut out = Vec::with_capacity(8);
    while next != PayloadType::NONE {
        if out.len() == MAX_PAYLOADS {
            return Err(DecodeError::TooMany("payloads"));
        }
        let following = PayloadType(r.u8("generic payload header")?);
        let critical = r.u8("generic payload header")? & 0x80 != 0;
        let len = usize::from(r.u16("generic payload header")?);
        if len < GENERIC_HEADER_LEN {
            return Err(DecodeError::BadLength {
                what: "payload",
                len,
            });
        }
        let body = r.take(len - GENERIC_HEADER_LEN, "payload body")?;
        if next == PayloadType::SK {
            out.push(Payload::Encrypted {
                inner_next: following,
                body: body.to_vec(),
            });
            if !r.is_empty() {
                return Err(DecodeError::Trailing("bytes after the SK payload"));
            }
            return Ok(out);
        }
        out.push(Payload::decode(next, critical, body)?);
        next = following;
    }
    if !r.is_empty() {
        return Err(DecodeError::Trailing("bytes after the last payload"));
    }
    Ok(out)
}

/// Encodes a chain of payloads; returns the type of the first (for the IKE header or the
/// SK payload's next-payload field) and the bytes.
pub fn encode_payload_chain(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    let mut out = Vec::new();
    encode_payload_chain_into(payloads, &mut out);
    (payloads.first().map_or(PayloadType::NONE, Payload::ty), out)
}

/// As [`encode_payload_chain`], appending to `out`.
pub fn encode_payload_chain_into(payloads: &[Payload], out: &mut Vec<u8>) {
    for (i, p) in payloads.iter().enumerate() {
        let next = match p {
            Payload::Encrypted { inner_next, .. } => *inner_next,
            _ => payloads.get(i + 1).map_or(PayloadType::NONE, Payload::ty),
        };
        let start = out.len();
        out.push(next.0);
        out.push(match p {
            Payload::Unknown { critical: true, .. } => 0x80,
            _ => 0,
        });
        out.extend_from_slice(&[0, 0]);
        p.encode_body(out);
        let len = (out.len() - start) as u16;
        out[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// The encoded length of a payload, generic header included.
pub fn encoded_len(p: &Payload) -> usize {
    let mut v = Vec::new();
    p.encode_body(&mut v);
    v.len() + GENERIC_HEADER_LEN
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A short form as Wireshark-style dumps show it: `SA[ESP (3):c8f27ab0]`, `N(REKEY_SA)`,
/// `D(ESP (3):c8f27ab0)`, `KE[2048 bit MODP group]`, `Nonce`, `SK`.
impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Sa(sa) => {
                let parts: Vec<String> = sa
                    .proposals
                    .iter()
                    .map(|p| {
                        let spi = if p.spi.is_empty() {
                            "-".into()
                        } else {
                            hex(&p.spi)
                        };
                        format!("{} ({}):{spi}", p.protocol, p.protocol.0)
                    })
                    .collect();
                write!(f, "SA[{}]", parts.join(","))
            }
            Payload::Ke(k) => write!(f, "KE[{}]", transform::name(4, k.group)),
            Payload::IdI(_) => f.write_str("IDi"),
            Payload::IdR(_) => f.write_str("IDr"),
            Payload::Cert(_) => f.write_str("CERT"),
            Payload::CertReq(_) => f.write_str("CERTREQ"),
            Payload::Auth(_) => f.write_str("AUTH"),
            Payload::Nonce(_) => f.write_str("Nonce"),
            Payload::Notify(n) => write!(f, "N({})", n.ty),
            Payload::Delete(d) => {
                let spis: Vec<String> = d.spis.iter().map(|s| hex(s)).collect();
                write!(f, "D({} ({}):{})", d.protocol, d.protocol.0, spis.join(","))
            }
            Payload::VendorId(_) => f.write_str("V"),
            Payload::TsI(_) => f.write_str("TSi"),
            Payload::TsR(_) => f.write_str("TSr"),
            Payload::Encrypted { .. } => f.write_str("SK"),
            Payload::Unknown { ty, .. } => write!(f, "{ty}"),
        }
    }
}
