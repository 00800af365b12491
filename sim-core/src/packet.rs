//! Packets as they cross the simulated network: IPv4 or IPv6 addresses, UDP with ports or
//! ESP (IP protocol 50), and the real payload bytes (IKE messages, ESP packets).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// IANA protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IANA protocol number of ESP (RFC 4303).
pub const IPPROTO_ESP: u8 = 50;

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of an IPv6 header without extension headers.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;

/// The layer-4 part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Transport {
    /// UDP with source and destination ports (IKE on 500/4500, UDP-encapsulated ESP).
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
    /// ESP straight over IP (protocol 50); the payload starts with the SPI.
    Esp,
    /// Any other IP protocol, by number.
    Other(u8),
}

impl Transport {
    /// The IP protocol number.
    pub fn protocol(&self) -> u8 {
        match self {
            Transport::Udp { .. } => IPPROTO_UDP,
            Transport::Esp => IPPROTO_ESP,
            Transport::Other(p) => *p,
        }
    }

    /// Bytes of transport header the simulator adds in front of the payload.
    pub fn header_len(&self) -> usize {
        match self {
            Transport::Udp { .. } => UDP_HEADER_LEN,
            _ => 0,
        }
    }
}

/// A packet in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Packet {
    /// Unique within a run, assigned by the network when the packet is first sent; copies
    /// made by link duplication keep it, so a trace can pair them.
    pub id: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// UDP ports or ESP.
    pub transport: Transport,
    /// Hops left before the packet is dropped (IP TTL / hop limit).
    pub ttl: u8,
    /// Everything after the transport header: an IKE message, an ESP packet, a keepalive.
    pub payload: Vec<u8>,
    /// Into how many IPv4 fragments the packet is split (1: not fragmented). The fragments
    /// travel together and are reassembled at the destination; each can be lost, and an
    /// ISP filter can drop fragments (see [`Packet::fragment_for`]).
    pub fragments: u16,
}

impl Packet {
    /// A UDP datagram (the id is assigned when the network sends it).
    pub fn udp(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16, payload: Vec<u8>) -> Self {
        Packet {
            id: 0,
            src,
            dst,
            transport: Transport::Udp { src_port, dst_port },
            ttl: 64,
            payload,
            fragments: 1,
        }
    }

    /// An ESP packet directly over IP (protocol 50).
    pub fn esp(src: IpAddr, dst: IpAddr, payload: Vec<u8>) -> Self {
        Packet {
            id: 0,
            src,
            dst,
            transport: Transport::Esp,
            ttl: 64,
            payload,
            fragments: 1,
        }
    }

    /// Bytes of IP header in front of this packet.
    pub fn ip_header_len(&self) -> usize {
        match self.dst {
            IpAddr::V4(_) => IPV4_HEADER_LEN,
            IpAddr::V6(_) => IPV6_HEADER_LEN,
        }
    }

    /// Size on the wire at the IP layer: IP header + transport header + payload. This is
    /// what serialization delay, MTU and byte counters use.
    pub fn wire_len(&self) -> usize {
        self.ip_header_len() + self.transport.header_len() + self.payload.len()
    }

    /// Size on the wire counting every fragment's own IP header.
    pub fn wire_len_fragmented(&self) -> usize {
        self.wire_len() + (usize::from(self.fragments) - 1) * self.ip_header_len()
    }

    /// The largest fragment's size at the IP layer.
    pub fn largest_fragment(&self) -> usize {
        if self.fragments <= 1 {
            return self.wire_len();
        }
        self.ip_header_len() + Self::fragment_chunk(self.l4_len(), self.fragments)
    }

    fn l4_len(&self) -> usize {
        self.transport.header_len() + self.payload.len()
    }

    /// Bytes of IP payload per fragment (a multiple of 8 except the last) when `l4` bytes
    /// are cut into `n` fragments.
    fn fragment_chunk(l4: usize, n: u16) -> usize {
        l4.div_ceil(usize::from(n)).div_ceil(8) * 8
    }

    /// Splits an IPv4 packet so every fragment fits `mtu` (RFC 791: fragment data in
    /// multiples of 8 bytes), as the sender or a router before a smaller link does.
    /// Returns false when it cannot: IPv6 (routers do not fragment; the packet is too big)
    /// or an MTU below 28 bytes.
    pub fn fragment_for(&mut self, mtu: usize) -> bool {
        if self.largest_fragment() <= mtu {
            return true;
        }
        if !self.src.is_ipv4() || mtu < IPV4_HEADER_LEN + 8 {
            return false;
        }
        let per = (mtu - IPV4_HEADER_LEN) / 8 * 8;
        let n = self.l4_len().div_ceil(per);
        self.fragments = u16::try_from(n).unwrap_or(u16::MAX);
        // Equal shares can round up past `per`; then one more fragment.
        while self.largest_fragment() > mtu && self.fragments < u16::MAX {
            self.fragments += 1;
        }
        true
    }

    /// The IP-layer bytes of each fragment (one element when not fragmented): IPv4 headers
    /// with the identification `ip_id`, the more-fragments flag and offsets in 8-byte units.
    pub fn to_ip_fragments(&self, ip_id: u16) -> Vec<Vec<u8>> {
        let whole = self.to_ip_bytes(ip_id);
        if self.fragments <= 1 || !self.src.is_ipv4() {
            return vec![whole];
        }
        let l4 = &whole[IPV4_HEADER_LEN..];
        let chunk = Self::fragment_chunk(l4.len(), self.fragments);
        l4.chunks(chunk)
            .enumerate()
            .map(|(k, data)| {
                let mut h = whole[..IPV4_HEADER_LEN].to_vec();
                let total = (IPV4_HEADER_LEN + data.len()) as u16;
                h[2..4].copy_from_slice(&total.to_be_bytes());
                let offset = (k * chunk / 8) as u16;
                let more = (k + 1) * chunk < l4.len();
                let flags = if more { 0x2000 } else { 0 } | offset;
                h[6..8].copy_from_slice(&flags.to_be_bytes());
                h[10..12].copy_from_slice(&[0, 0]);
                let csum = internet_checksum(&h, 0);
                h[10..12].copy_from_slice(&csum.to_be_bytes());
                h.extend_from_slice(data);
                h
            })
            .collect()
    }

    /// The source port, for UDP.
    pub fn src_port(&self) -> Option<u16> {
        match self.transport {
            Transport::Udp { src_port, .. } => Some(src_port),
            _ => None,
        }
    }

    /// The destination port, for UDP.
    pub fn dst_port(&self) -> Option<u16> {
        match self.transport {
            Transport::Udp { dst_port, .. } => Some(dst_port),
            _ => None,
        }
    }

    /// The bytes of this packet as it would be captured at the IP layer (pcap LINKTYPE_RAW):
    /// IPv4 or IPv6 header, UDP header with a valid checksum, payload. `ip_id` fills the
    /// IPv4 identification field.
    pub fn to_ip_bytes(&self, ip_id: u16) -> Vec<u8> {
        let l4_len = self.transport.header_len() + self.payload.len();
        let mut out = Vec::with_capacity(self.ip_header_len() + l4_len);
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = (IPV4_HEADER_LEN + l4_len).min(usize::from(u16::MAX)) as u16;
                out.extend_from_slice(&[0x45, 0]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&ip_id.to_be_bytes());
                out.extend_from_slice(&[0, 0, self.ttl, self.transport.protocol(), 0, 0]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                let csum = internet_checksum(&out[..IPV4_HEADER_LEN], 0);
                out[10..12].copy_from_slice(&csum.to_be_bytes());
            }
            (s, d) => {
                let s = to_v6(s);
                let d = to_v6(d);
                out.extend_from_slice(&[0x60, 0, 0, 0]);
                out.extend_from_slice(&(l4_len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
                out.extend_from_slice(&[self.transport.protocol(), self.ttl]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
            }
        }
        let l4_start = out.len();
        if let Transport::Udp { src_port, dst_port } = self.transport {
            let len = (UDP_HEADER_LEN + self.payload.len()).min(usize::from(u16::MAX)) as u16;
            out.extend_from_slice(&src_port.to_be_bytes());
            out.extend_from_slice(&dst_port.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(&self.payload);
        if matches!(self.transport, Transport::Udp { .. }) {
            let pseudo = pseudo_header_sum(self.src, self.dst, IPPROTO_UDP, out.len() - l4_start);
            let mut csum = internet_checksum(&out[l4_start..], pseudo);
            if csum == 0 {
                csum = 0xffff; // RFC 768: a computed zero is sent as all ones
            }
            out[l4_start + 6..l4_start + 8].copy_from_slice(&csum.to_be_bytes());
        }
        out
    }
}

fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Sum of the pseudo header (RFC 768 / RFC 8200 §8.1) as a 32-bit partial checksum.
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    let mut sum = 0u32;
    let mut add = |bytes: &[u8]| {
        for c in bytes.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            add(&s.octets());
            add(&d.octets());
        }
        (s, d) => {
            add(&to_v6(s).octets());
            add(&to_v6(d).octets());
        }
    }
    sum + u32::from(proto) + len as u32
}

/// The Internet checksum (RFC 1071) of `data`, starting from a partial sum.
fn internet_checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A one-line description: `10.0.0.1:500 -> 10.0.0.2:500 UDP 462B` or `... ESP 120B`.
impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transport {
            Transport::Udp { src_port, dst_port } => write!(
                f,
                "{}:{} -> {}:{} UDP {}B",
                self.src,
                src_port,
                self.dst,
                dst_port,
                self.wire_len()
            ),
            Transport::Esp => write!(f, "{} -> {} ESP {}B", self.src, self.dst, self.wire_len()),
            Transport::Other(p) => {
                write!(
                    f,
                    "{} -> {} proto {p} {}B",
                    self.src,
                    self.dst,
                    self.wire_len()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_fit_the_mtu_and_reassemble_to_the_whole_packet() {
        let mut p = Packet::udp(
            "10.99.0.1".parse().unwrap(),
            500,
            "10.99.0.2".parse().unwrap(),
            500,
            (0..590u32).map(|x| x as u8).collect(),
        );
        assert!(p.fragment_for(1500));
        assert_eq!(p.fragments, 1);
        assert!(p.fragment_for(576));
        assert_eq!(p.fragments, 2);
        assert!(p.largest_fragment() <= 576);
        assert_eq!(p.wire_len_fragmented(), p.wire_len() + 20);
        let whole = p.to_ip_bytes(9);
        let frags = p.to_ip_fragments(9);
        assert_eq!(frags.len(), 2);
        let mut data = Vec::new();
        for (k, f) in frags.iter().enumerate() {
            assert!(f.len() <= 576);
            assert_eq!(u16::from_be_bytes([f[2], f[3]]) as usize, f.len());
            assert_eq!(u16::from_be_bytes([f[4], f[5]]), 9, "same identification");
            let flags = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(
                flags & 0x2000 != 0,
                k == 0,
                "more fragments on all but the last"
            );
            assert_eq!(usize::from(flags & 0x1fff) * 8, data.len(), "offset");
            assert_eq!(internet_checksum(&f[..20], 0), 0, "header checksum");
            data.extend_from_slice(&f[20..]);
        }
        assert_eq!(data, whole[20..]);
        // A 68-byte MTU (the IPv4 minimum) still works: 48-byte pieces.
        assert!(p.fragment_for(68));
        assert!(p.largest_fragment() <= 68);
        // IPv6 is not fragmented on the way.
        let mut v6 = Packet::udp(
            "2001:db8::1".parse().unwrap(),
            500,
            "2001:db8::2".parse().unwrap(),
            500,
            vec![0; 1400],
        );
        assert!(!v6.fragment_for(1280));
    }

    #[test]
    fn ipv4_udp_bytes_have_valid_checksums_and_lengths() {
        let p = Packet::udp(
            "10.99.0.1".parse().unwrap(),
            500,
            "10.99.0.2".parse().unwrap(),
            500,
            vec![1, 2, 3, 4, 5],
        );
        let b = p.to_ip_bytes(7);
        assert_eq!(b.len(), p.wire_len());
        assert_eq!(b.len(), 20 + 8 + 5);
        assert_eq!(u16::from_be_bytes([b[2], b[3]]) as usize, b.len());
        assert_eq!(
            internet_checksum(&b[..20], 0),
            0,
            "IPv4 header checksum verifies"
        );
        let pseudo = pseudo_header_sum(p.src, p.dst, IPPROTO_UDP, 13);
        assert_eq!(
            internet_checksum(&b[20..], pseudo),
            0,
            "UDP checksum verifies"
        );
        assert_eq!(&b[28..], &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn esp_has_no_transport_header() {
        let p = Packet::esp(
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            vec![0; 100],
        );
        assert_eq!(p.wire_len(), 120);
        let b = p.to_ip_bytes(1);
        assert_eq!(b[9], IPPROTO_ESP);
        assert_eq!(b.len(), 120);
    }

    #[test]
    fn ipv6_packets_are_40_byte_headers() {
        let p = Packet::udp(
            "2001:db8::1".parse().unwrap(),
            500,
            "2001:db8::2".parse().unwrap(),
            500,
            vec![0; 10],
        );
        assert_eq!(p.wire_len(), 58);
        let b = p.to_ip_bytes(0);
        assert_eq!(b[0] >> 4, 6);
        assert_eq!(b.len(), 58);
    }
}
