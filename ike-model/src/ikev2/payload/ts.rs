//! The Traffic Selector payloads TSi and TSr (RFC 7296 §3.13).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::PayloadBody;
use crate::ikev2::consts::TsType;
use crate::ikev2::error::DecodeError;
use crate::wire::Reader;

/// One traffic selector: an address range, a protocol and a port range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    /// IP protocol (0 = any).
    pub ip_protocol: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address (same family as `start`).
    pub end: IpAddr,
}

impl TrafficSelector {
    /// Everything to and from one address, any protocol and port.
    pub fn host(addr: IpAddr) -> Self {
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: addr,
            end: addr,
        }
    }
}

/// Traffic selectors on one side: almost always one, kept inline (a concentrator reads
/// both sides of a tunnel's policy for every CHILD_SA it answers, and every TS payload and
/// CHILD_SA holds a list).
pub type Selectors = smallvec::SmallVec<[TrafficSelector; 1]>;

/// A list of traffic selectors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TsPayload {
    /// The selectors.
    pub selectors: Selectors,
}

impl PayloadBody for TsPayload {
    fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = usize::from(r.u8("TS payload")?);
        r.take(3, "TS payload")?;
        let mut selectors = Selectors::with_capacity(n.min(64));
        for _ in 0..n {
            let ty = TsType(r.u8("traffic selector")?);
            let ip_protocol = r.u8("traffic selector")?;
            let len = usize::from(r.u16("traffic selector")?);
            let alen = match ty {
                TsType::TS_IPV4_ADDR_RANGE => 4,
                TsType::TS_IPV6_ADDR_RANGE => 16,
                other => {
                    return Err(DecodeError::Invalid {
                        what: "traffic selector type",
                        detail: other.0.to_string(),
                    });
                }
            };
            if len != 8 + 2 * alen {
                return Err(DecodeError::BadLength {
                    what: "traffic selector",
                    len,
                });
            }
            let start_port = r.u16("traffic selector")?;
            let end_port = r.u16("traffic selector")?;
            let s = r.take(alen, "traffic selector address")?;
            let e = r.take(alen, "traffic selector address")?;
            let ip = |b: &[u8]| -> IpAddr {
                if alen == 4 {
                    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                } else {
                    let a: [u8; 16] = b.try_into().expect("16 bytes");
                    IpAddr::V6(Ipv6Addr::from(a))
                }
            };
            selectors.push(TrafficSelector {
                ip_protocol,
                start_port,
                end_port,
                start: ip(s),
                end: ip(e),
            });
        }
        if !r.is_empty() {
            return Err(DecodeError::Trailing(
                "bytes after the last traffic selector",
            ));
        }
        Ok(TsPayload { selectors })
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.selectors.len() as u8);
        out.extend_from_slice(&[0, 0, 0]);
        for ts in &self.selectors {
            let (ty, len) = match ts.start {
                IpAddr::V4(_) => (TsType::TS_IPV4_ADDR_RANGE, 16u16),
                IpAddr::V6(_) => (TsType::TS_IPV6_ADDR_RANGE, 40u16),
            };
            out.push(ty.0);
            out.push(ts.ip_protocol);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&ts.start_port.to_be_bytes());
            out.extend_from_slice(&ts.end_port.to_be_bytes());
            for a in [ts.start, ts.end] {
                match a {
                    IpAddr::V4(v) => out.extend_from_slice(&v.octets()),
                    IpAddr::V6(v) => out.extend_from_slice(&v.octets()),
                }
            }
        }
    }
}
