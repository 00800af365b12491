//! The IKEv1 SA payload (RFC 2408 §3.4-3.6, RFC 2407 §4.6.1): DOI, situation, and Proposal
//! payloads holding Transform payloads whose attributes are TV (basic, 2 bytes) or TLV
//! (variable length).

use super::consts::payload;
use super::payload::{RawPayload, decode_chain, encode_chain};
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// A data attribute of a transform.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// TV form: type and a 16-bit value.
    Basic(u16, u16),
    /// TLV form: type and bytes.
    Variable(u16, Vec<u8>),
}

/// A transform: number, transform ID and attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transform {
    /// Transform number.
    pub num: u8,
    /// Transform ID (KEY_IKE = 1 in Phase 1; ESP_AES = 12 in Phase 2, ...).
    pub id: u8,
    /// Attributes in order.
    pub attributes: Vec<Attribute>,
}

/// A proposal: number, protocol, SPI and its transforms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// Proposal number.
    pub num: u8,
    /// Protocol ID (ISAKMP 1, ESP 3).
    pub protocol: u8,
    /// SPI (empty in Phase 1, 4 bytes for ESP).
    pub spi: Vec<u8>,
    /// Transforms.
    pub transforms: Vec<Transform>,
}

/// An SA payload body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SaPayload {
    /// Domain of interpretation (1 = IPsec).
    pub doi: u32,
    /// Situation (1 = identity only).
    pub situation: u32,
    /// Proposals.
    pub proposals: Vec<Proposal>,
}

fn attributes(bytes: &[u8]) -> Result<Vec<Attribute>, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let t = r.u16("attribute")?;
        if t & 0x8000 != 0 {
            out.push(Attribute::Basic(t & 0x7fff, r.u16("attribute")?));
        } else {
            let len = usize::from(r.u16("attribute")?);
            out.push(Attribute::Variable(
                t,
                r.take(len, "attribute value")?.to_vec(),
            ));
        }
    }
    Ok(out)
}

impl SaPayload {
    /// Decodes an SA payload body.
    pub fn decode(body: &[u8]) -> Result<SaPayload, DecodeError> {
        let mut r = Reader::new(body);
        let doi = r.u32("SA payload")?;
        let situation = r.u32("SA payload")?;
        let (props, used) = decode_chain(payload::PROPOSAL, r.rest())?;
        if used != body.len() - 8 {
            return Err(DecodeError::BadLength {
                what: "SA payload proposals",
                len: body.len(),
            });
        }
        let mut proposals = Vec::with_capacity(props.len());
        for p in props {
            if p.ty != payload::PROPOSAL {
                return Err(DecodeError::Invalid {
                    what: "SA payload",
                    detail: format!("payload {} inside an SA", p.ty),
                });
            }
            let mut r = Reader::new(&p.body);
            let num = r.u8("proposal")?;
            let protocol = r.u8("proposal")?;
            let spi_size = usize::from(r.u8("proposal")?);
            let count = usize::from(r.u8("proposal")?);
            let spi = r.take(spi_size, "proposal SPI")?.to_vec();
            let (trs, _) = decode_chain(payload::TRANSFORM, r.rest())?;
            if trs.len() != count || trs.iter().any(|t| t.ty != payload::TRANSFORM) {
                return Err(DecodeError::Invalid {
                    what: "proposal",
                    detail: format!("{count} transforms announced, {} found", trs.len()),
                });
            }
            let mut transforms = Vec::with_capacity(trs.len());
            for t in trs {
                let mut r = Reader::new(&t.body);
                let num = r.u8("transform")?;
                let id = r.u8("transform")?;
                r.take(2, "transform")?;
                transforms.push(Transform {
                    num,
                    id,
                    attributes: attributes(r.rest())?,
                });
            }
            proposals.push(Proposal {
                num,
                protocol,
                spi,
                transforms,
            });
        }
        Ok(SaPayload {
            doi,
            situation,
            proposals,
        })
    }

    /// Encodes the SA payload body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.doi.to_be_bytes());
        out.extend_from_slice(&self.situation.to_be_bytes());
        let props: Vec<RawPayload> = self
            .proposals
            .iter()
            .map(|p| {
                let trs: Vec<RawPayload> = p
                    .transforms
                    .iter()
                    .map(|t| {
                        let mut b = vec![t.num, t.id, 0, 0];
                        for a in &t.attributes {
                            match a {
                                Attribute::Basic(ty, v) => {
                                    b.extend_from_slice(&(ty | 0x8000).to_be_bytes());
                                    b.extend_from_slice(&v.to_be_bytes());
                                }
                                Attribute::Variable(ty, v) => {
                                    b.extend_from_slice(&ty.to_be_bytes());
                                    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
                                    b.extend_from_slice(v);
                                }
                            }
                        }
                        RawPayload {
                            ty: payload::TRANSFORM,
                            body: b,
                        }
                    })
                    .collect();
                let mut b = vec![
                    p.num,
                    p.protocol,
                    p.spi.len() as u8,
                    p.transforms.len() as u8,
                ];
                b.extend_from_slice(&p.spi);
                b.extend_from_slice(&encode_chain(&trs).1);
                RawPayload {
                    ty: payload::PROPOSAL,
                    body: b,
                }
            })
            .collect();
        out.extend_from_slice(&encode_chain(&props).1);
        out
    }
}
