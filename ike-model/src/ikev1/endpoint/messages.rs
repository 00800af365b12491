//! The payloads strongSwan 5.9 puts in IKEv1 messages (the reference captures): the Phase 1
//! SA (AES-CBC, SHA, PSK, a MODP group, lifetime in seconds), its vendor IDs, ID, HASH,
//! NAT-D, INITIAL-CONTACT, the Quick Mode ESP SA, and Delete payloads.

use std::net::IpAddr;

use crate::crypto::{DhGroup, EncrAlg, IntegAlg};
use crate::ikev1::consts::{notify, payload, protocol};
use crate::ikev1::payload::RawPayload;
use crate::ikev1::sa::{Attribute, Proposal, SaPayload, Transform};
use crate::ikev2::payload::TrafficSelector;

/// XAUTH.
pub const VID_XAUTH: [u8; 8] = [0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12];
/// RFC 3706 DPD.
pub const VID_DPD: [u8; 16] = [
    0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00,
];
/// Cisco fragmentation.
pub const VID_FRAG: [u8; 20] = [
    0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3,
    0x80, 0x00, 0x00, 0x00,
];
/// RFC 3947 NAT-T.
pub const VID_NATT: [u8; 16] = [
    0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f,
];
/// draft-ietf-ipsec-nat-t-ike-02\n.
pub const VID_NATT_02N: [u8; 16] = [
    0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f,
];

/// Vendor ID payloads: the initiator sends five, the responder the first four.
pub fn vendor_ids(initiator: bool) -> Vec<RawPayload> {
    let mut v: Vec<&[u8]> = vec![&VID_XAUTH, &VID_DPD, &VID_FRAG, &VID_NATT];
    if initiator {
        v.push(&VID_NATT_02N);
    }
    v.into_iter()
        .map(|b| RawPayload {
            ty: payload::VID,
            body: b.to_vec(),
        })
        .collect()
}

fn life(ty: u16, seconds: u32) -> Attribute {
    match u16::try_from(seconds) {
        Ok(s) => Attribute::Basic(ty, s),
        Err(_) => Attribute::Variable(ty, seconds.to_be_bytes().to_vec()),
    }
}

fn key_bits(e: EncrAlg) -> u16 {
    match e {
        EncrAlg::AesCbc { key_bits } => key_bits,
    }
}

/// The Phase 1 SA: one proposal, one KEY_IKE transform (RFC 2409 Appendix A attributes).
pub fn phase1_sa(encr: EncrAlg, group: DhGroup, life_s: u32) -> SaPayload {
    SaPayload {
        doi: 1,
        situation: 1,
        proposals: vec![Proposal {
            num: 1,
            protocol: protocol::ISAKMP,
            spi: vec![],
            transforms: vec![Transform {
                num: 1,
                id: 1,
                attributes: vec![
                    Attribute::Basic(1, 7), // AES-CBC
                    Attribute::Basic(14, key_bits(encr)),
                    Attribute::Basic(2, 2), // SHA
                    Attribute::Basic(4, group.id()),
                    Attribute::Basic(3, 1),  // pre-shared key
                    Attribute::Basic(11, 1), // seconds
                    life(12, life_s),
                ],
            }],
        }],
    }
}

/// The group and lifetime of a Phase 1 SA offer, if it offers our algorithms.
pub fn accept_phase1(sa: &SaPayload, encr: EncrAlg, groups: &[DhGroup]) -> Option<(DhGroup, u32)> {
    sa.proposals.iter().find_map(|p| {
        p.transforms.iter().find_map(|t| {
            let get = |ty: u16| {
                t.attributes.iter().find_map(|a| match a {
                    Attribute::Basic(x, v) if *x == ty => Some(u32::from(*v)),
                    Attribute::Variable(x, v) if *x == ty && v.len() <= 4 => {
                        Some(v.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)))
                    }
                    _ => None,
                })
            };
            let ok = get(1) == Some(7)
                && get(14) == Some(u32::from(key_bits(encr)))
                && get(2) == Some(2)
                && get(3) == Some(1);
            let group = DhGroup::from_id(get(4)? as u16).filter(|g| groups.contains(g))?;
            ok.then_some((group, get(12).unwrap_or(0)))
        })
    })
}

/// The Quick Mode ESP SA with our inbound SPI (ESP_AES with HMAC-SHA1, tunnel mode, or
/// UDP-Encapsulated-Tunnel (3, RFC 3947 §5) with `udp_encap`).
pub fn esp_sa(
    encr: EncrAlg,
    integ: IntegAlg,
    pfs: Option<DhGroup>,
    spi: u32,
    life_s: u32,
    udp_encap: bool,
) -> SaPayload {
    let auth = match integ {
        IntegAlg::HmacSha1_96 => 2,
        IntegAlg::HmacSha256_128 => 5,
    };
    let mut attributes = vec![
        Attribute::Basic(6, key_bits(encr)),
        Attribute::Basic(5, auth),
    ];
    if let Some(g) = pfs {
        attributes.push(Attribute::Basic(3, g.id()));
    }
    attributes.extend([
        Attribute::Basic(4, if udp_encap { 3 } else { 1 }),
        Attribute::Basic(1, 1),
        life(2, life_s),
    ]);
    SaPayload {
        doi: 1,
        situation: 1,
        proposals: vec![Proposal {
            num: 1,
            protocol: protocol::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms: vec![Transform {
                num: 1,
                id: 12, // ESP_AES
                attributes,
            }],
        }],
    }
}

/// The peer's SPI, PFS group and lifetime from a Quick Mode SA, if its transform equals ours.
pub fn accept_esp(
    sa: &SaPayload,
    encr: EncrAlg,
    integ: IntegAlg,
    pfs: Option<DhGroup>,
) -> Option<(u32, u32)> {
    let ours = esp_sa(encr, integ, pfs, 0, 0, false)
        .proposals
        .remove(0)
        .transforms
        .remove(0);
    sa.proposals.iter().find_map(|p| {
        let spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
        p.transforms.iter().find_map(|t| {
            // Lifetimes are negotiated apart; the encapsulation mode follows NAT-D.
            let strip = |a: &[Attribute]| -> Vec<Attribute> {
                a.iter()
                    .filter(|x| {
                        !matches!(x, Attribute::Basic(2 | 4, _) | Attribute::Variable(2, _))
                    })
                    .cloned()
                    .collect()
            };
            let life = t.attributes.iter().find_map(|a| match a {
                Attribute::Basic(2, v) => Some(u32::from(*v)),
                Attribute::Variable(2, v) if v.len() <= 4 => {
                    Some(v.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)))
                }
                _ => None,
            });
            (p.protocol == protocol::ESP
                && t.id == ours.id
                && strip(&t.attributes) == strip(&ours.attributes))
            .then_some((spi, life.unwrap_or(0)))
        })
    })
}

/// An ID payload body: ID_IPV4_ADDR / ID_IPV6_ADDR for a host, ID_IPV4_ADDR_RANGE /
/// ID_IPV6_ADDR_RANGE otherwise (RFC 2407 §4.6.2).
pub fn id_body(ts: &TrafficSelector) -> Vec<u8> {
    let octets = |a: IpAddr| match a {
        IpAddr::V4(x) => x.octets().to_vec(),
        IpAddr::V6(x) => x.octets().to_vec(),
    };
    let v4 = ts.start.is_ipv4();
    let mut b = if ts.start == ts.end {
        vec![if v4 { 1 } else { 5 }, 0, 0, 0]
    } else {
        vec![if v4 { 7 } else { 8 }, 0, 0, 0]
    };
    b.extend(octets(ts.start));
    if ts.start != ts.end {
        b.extend(octets(ts.end));
    }
    b
}

/// The host ID of an address (Phase 1 identities).
pub fn host_id(a: IpAddr) -> Vec<u8> {
    id_body(&TrafficSelector::host(a))
}

/// INITIAL-CONTACT about the ISAKMP SA with these cookies.
pub fn initial_contact(icookie: u64, rcookie: u64) -> RawPayload {
    let mut b = vec![0, 0, 0, 1, protocol::ISAKMP, 16];
    b.extend_from_slice(&notify::INITIAL_CONTACT.to_be_bytes());
    b.extend_from_slice(&icookie.to_be_bytes());
    b.extend_from_slice(&rcookie.to_be_bytes());
    RawPayload {
        ty: payload::N,
        body: b,
    }
}

/// A Delete payload for ESP SPIs or (with `cookies`) the ISAKMP SA.
pub fn delete(esp: &[u32], cookies: Option<(u64, u64)>) -> RawPayload {
    let mut b = vec![0, 0, 0, 1];
    match cookies {
        Some((i, r)) => {
            b.extend_from_slice(&[protocol::ISAKMP, 16, 0, 1]);
            b.extend_from_slice(&i.to_be_bytes());
            b.extend_from_slice(&r.to_be_bytes());
        }
        None => {
            b.extend_from_slice(&[protocol::ESP, 4]);
            b.extend_from_slice(&(esp.len() as u16).to_be_bytes());
            for s in esp {
                b.extend_from_slice(&s.to_be_bytes());
            }
        }
    }
    RawPayload {
        ty: payload::D,
        body: b,
    }
}

/// What a Delete payload deletes: ESP SPIs, or the ISAKMP SA.
pub fn parse_delete(body: &[u8]) -> Option<(u8, Vec<Vec<u8>>)> {
    if body.len() < 8 {
        return None;
    }
    let (proto, size, n) = (
        body[4],
        usize::from(body[5]),
        usize::from(u16::from_be_bytes([body[6], body[7]])),
    );
    let spis = body[8..]
        .chunks(size.max(1))
        .take(n)
        .map(<[u8]>::to_vec)
        .collect();
    (body.len() == 8 + size * n).then_some((proto, spis))
}

/// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1) about ESP SA `spi`: the lifetime the responder
/// will use, as SA attributes (seconds).
pub fn responder_lifetime(spi: u32, seconds: u32) -> RawPayload {
    let mut b = vec![0, 0, 0, 1, protocol::ESP, 4];
    b.extend_from_slice(&notify::RESPONDER_LIFETIME.to_be_bytes());
    b.extend_from_slice(&spi.to_be_bytes());
    b.extend_from_slice(&[0x80, 0x01, 0x00, 0x01]); // SA Life Type: seconds
    match life(2, seconds) {
        Attribute::Basic(t, v) => {
            b.extend_from_slice(&(t | 0x8000).to_be_bytes());
            b.extend_from_slice(&v.to_be_bytes());
        }
        Attribute::Variable(t, v) => {
            b.extend_from_slice(&t.to_be_bytes());
            b.extend_from_slice(&(v.len() as u16).to_be_bytes());
            b.extend_from_slice(&v);
        }
    }
    RawPayload {
        ty: payload::N,
        body: b,
    }
}

/// The lifetime in seconds a RESPONDER-LIFETIME notify body carries.
pub fn parse_responder_lifetime(body: &[u8]) -> Option<u32> {
    if body.len() < 8 || u16::from_be_bytes([body[6], body[7]]) != notify::RESPONDER_LIFETIME {
        return None;
    }
    let attrs = body.get(8 + usize::from(body[5])..)?;
    let mut k = 0;
    while k + 4 <= attrs.len() {
        let t = u16::from_be_bytes([attrs[k], attrs[k + 1]]);
        if t & 0x8000 != 0 {
            let v = u16::from_be_bytes([attrs[k + 2], attrs[k + 3]]);
            if t & 0x7fff == 2 {
                return Some(u32::from(v));
            }
            k += 4;
        } else {
            let len = usize::from(u16::from_be_bytes([attrs[k + 2], attrs[k + 3]]));
            let v = attrs.get(k + 4..k + 4 + len)?;
            if t == 2 && len <= 4 {
                return Some(v.iter().fold(0u32, |a, b| a << 8 | u32::from(*b)));
            }
            k += 4 + len;
        }
    }
    None
}
