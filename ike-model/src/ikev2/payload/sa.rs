//! The Security Association payload (RFC 7296 §3.3): proposals of transforms with attributes.

use super::PayloadBody;
use crate::ikev2::consts::{ProtocolId, TransformType, transform};
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// Most proposals or transforms a decoder accepts in one structure.
const MAX_ITEMS: usize = 64;

/// A transform attribute (RFC 7296 §3.3.5): TV when the AF bit is set, else TLV.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// Type/value form (AF = 1), e.g. Key Length.
    Tv {
        /// Attribute type without the AF bit.
        ty: u16,
        /// The value.
        value: u16,
    },
    /// Type/length/value form (AF = 0).
    Tlv {
        /// Attribute type.
        ty: u16,
        /// The value bytes.
        value: Vec<u8>,
    },
}

/// A transform's attributes: at most one (Key Length) in practice, kept inline.
pub type Attributes = smallvec::SmallVec<[Attribute; 1]>;

/// A proposal's SPI bytes (none, 4 or 8), kept inline.
pub type SpiBytes = smallvec::SmallVec<[u8; 8]>;

/// A transform (RFC 7296 §3.3.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transform {
    /// ENCR, PRF, INTEG, DH or ESN.
    pub ty: TransformType,
    /// Transform ID within its type.
    pub id: u16,
    /// Attributes (Key Length for AES).
    pub attributes: Attributes,
}

impl Transform {
    /// A transform without attributes.
    pub fn new(ty: TransformType, id: u16) -> Self {
        Transform {
            ty,
            id,
            attributes: Attributes::new(),
        }
    }

    /// A transform with a Key Length attribute (AES-CBC).
    pub fn with_key_length(ty: TransformType, id: u16, bits: u16) -> Self {
        Transform {
            ty,
            id,
            attributes: smallvec::smallvec![Attribute::Tv {
                ty: transform::ATTR_KEY_LENGTH,
                value: bits,
            }],
        }
    }

    /// The Key Length attribute, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Tv { ty, value } if *ty == transform::ATTR_KEY_LENGTH => Some(*value),
            _ => None,
        })
    }
}

/// A proposal (RFC 7296 §3.3.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// Proposal number (1-based).
    pub num: u8,
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// The sender's SPI: empty in IKE_SA_INIT, 8 bytes for an IKE rekey, 4 for ESP.
    pub spi: SpiBytes,
    /// The transforms.
    pub transforms: Vec<Transform>,
}

/// The SA payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SaPayload {
    /// Proposals in preference order.
    pub proposals: Vec<Proposal>,
}

impl PayloadBody for SaPayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut proposals = Vec::new();
        loop {
            if proposals.len() == MAX_ITEMS {
                return Err(DecodeError::TooMany("proposals"));
            }
            let last = r.u8("proposal")?;
            r.u8("proposal")?;
            let len = usize::from(r.u16("proposal")?);
            if len < 8 {
                return Err(DecodeError::BadLength {
                    what: "proposal",
                    len,
                });
            }
            let mut p = Reader::new(r.take(len - 4, "proposal")?);
            let num = p.u8("proposal")?;
            let protocol = ProtocolId(p.u8("proposal")?);
            let spi_size = usize::from(p.u8("proposal")?);
            let n = usize::from(p.u8("proposal")?);
            let spi = SpiBytes::from_slice(p.take(spi_size, "proposal SPI")?);
            let mut transforms = Vec::with_capacity(n.min(MAX_ITEMS));
            for _ in 0..n {
                if transforms.len() == MAX_ITEMS {
                    return Err(DecodeError::TooMany("transforms"));
                }
                transforms.push(decode_transform(&mut p)?);
            }
            if !p.is_empty() {
                return Err(DecodeError::Trailing("bytes after the last transform"));
            }
            proposals.push(Proposal {
                num,
                protocol,
                spi,
                transforms,
            });
            match last {
                0 => break,
                2 => continue,
                v => {
                    return Err(DecodeError::Invalid {
                        what: "proposal last/more",
                        detail: v.to_string(),
                    });
                }
            }
        }
        if !r.is_empty() {
            return Err(DecodeError::Trailing("bytes after the last proposal"));
        }
        Ok(SaPayload { proposals })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        for (i, p) in self.proposals.iter().enumerate() {
            let start = out.len();
            out.push(if i + 1 == self.proposals.len() { 0 } else { 2 });
            out.push(0);
            out.extend_from_slice(&[0, 0]);
            out.push(p.num);
            out.push(p.protocol.0);
            out.push(p.spi.len() as u8);
            out.push(p.transforms.len() as u8);
            out.extend_from_slice(&p.spi);
            for (j, t) in p.transforms.iter().enumerate() {
                let ts = out.len();
                out.push(if j + 1 == p.transforms.len() { 0 } else { 3 });
                out.push(0);
                out.extend_from_slice(&[0, 0]);
                out.push(t.ty.0);
                out.push(0);
                out.extend_from_slice(&t.id.to_be_bytes());
                for a in &t.attributes {
                    match a {
                        Attribute::Tv { ty, value } => {
                            out.extend_from_slice(&(ty | 0x8000).to_be_bytes());
                            out.extend_from_slice(&value.to_be_bytes());
                        }
                        Attribute::Tlv { ty, value } => {
                            out.extend_from_slice(&(ty & 0x7fff).to_be_bytes());
                            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
                            out.extend_from_slice(value);
                        }
                    }
                }
                let tl = (out.len() - ts) as u16;
                out[ts + 2..ts + 4].copy_from_slice(&tl.to_be_bytes());
            }
            let pl = (out.len() - start) as u16;
            out[start + 2..start + 4].copy_from_slice(&pl.to_be_bytes());
        }
    }
}

fn decode_transform(p: &mut Reader<'_>) -> Result<Transform, DecodeError> {
    let last = p.u8("transform")?;
    if last != 0 && last != 3 {
        return Err(DecodeError::Invalid {
            what: "transform last/more",
            detail: last.to_string(),
        });
    }
    p.u8("transform")?;
    let len = usize::from(p.u16("transform")?);
    if len < 8 {
        return Err(DecodeError::BadLength {
            what: "transform",
            len,
        });
    }
    let mut t = Reader::new(p.take(len - 4, "transform")?);
    let ty = TransformType(t.u8("transform")?);
    t.u8("transform")?;
    let id = t.u16("transform")?;
    let mut attributes = Attributes::new();
    while !t.is_empty() {
        if attributes.len() == MAX_ITEMS {
            return Err(DecodeError::TooMany("attributes"));
        }
        let raw = t.u16("attribute")?;
        if raw & 0x8000 != 0 {
            attributes.push(Attribute::Tv {
                ty: raw & 0x7fff,
                value: t.u16("attribute")?,
            });
        } else {
            let l = usize::from(t.u16("attribute")?);
            attributes.push(Attribute::Tlv {
                ty: raw,
                value: t.take(l, "attribute value")?.to_vec(),
            });
        }
    }
    Ok(Transform { ty, id, attributes })
}
