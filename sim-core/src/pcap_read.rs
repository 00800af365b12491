//! Reading captures back: ours (raw IP) and real ones (Ethernet, Linux cooked), down to the
//! UDP or ESP payload, so `ikesim inspect` and the tests can look at IKE messages in any
//! pcap. Packets that are not IPv4/IPv6 with UDP or ESP are skipped and counted; truncated
//! or malformed headers are reported per packet, never a panic.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;

use crate::packet::{IPPROTO_ESP, IPPROTO_UDP, Transport};

/// One IP packet with a UDP or ESP payload, as found in a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedDatagram {
    /// Position of the frame in the capture, from 1 (as Wireshark numbers frames).
    pub frame: u64,
    /// Capture timestamp, nanoseconds since the Unix epoch.
    pub timestamp_ns: u128,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// UDP ports, or ESP.
    pub transport: Transport,
    /// The UDP payload, or the ESP packet from its SPI on.
    pub payload: Vec<u8>,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureReadError {
    /// Not a pcap file, or a damaged one.
    #[error("not a readable pcap capture: {0}")]
    Pcap(String),
    /// A link type this reader does not understand.
    #[error(
        "unsupported link type {0:?} (supported: Ethernet, raw IP, Linux cooked v1/v2, BSD loopback)"
    )]
    LinkType(DataLink),
}

/// What a capture held.
#[derive(Clone, Debug, Default)]
pub struct CaptureContents {
    /// The UDP and ESP packets, in capture order.
    pub datagrams: Vec<CapturedDatagram>,
    /// Frames skipped because they carry something else (ARP, TCP, ...).
    pub skipped: u64,
    /// Frames whose headers were truncated or inconsistent: (frame number, why).
    pub malformed: Vec<(u64, String)>,
}

/// Reads every UDP and ESP packet of a pcap stream.
pub fn read_capture(r: impl Read) -> Result<CaptureContents, CaptureReadError> {
    let mut reader = PcapReader::new(r).map_err(|e| CaptureReadError::Pcap(e.to_string()))?;
    let link = reader.header().datalink;
    match link {
        DataLink::ETHERNET
        | DataLink::RAW
        | DataLink::IPV4
        | DataLink::IPV6
        | DataLink::LINUX_SLL
        | DataLink::LINUX_SLL2
        | DataLink::NULL => {}
        other => return Err(CaptureReadError::LinkType(other)),
    }
    let mut out = CaptureContents::default();
    let mut frame = 0u64;
    while let Some(pkt) = reader.next_packet() {
        frame += 1;
        let pkt = pkt.map_err(|e| CaptureReadError::Pcap(e.to_string()))?;
        let ts = pkt.timestamp.as_nanos();
        match parse_frame(link, &pkt.data) {
            Ok(Some((src, dst, transport, payload))) => out.datagrams.push(CapturedDatagram {
                frame,
                timestamp_ns: ts,
                src,
                dst,
                transport,
                payload: payload.to_vec(),
            }),
            Ok(None) => out.skipped += 1,
            Err(why) => out.malformed.push((frame, why)),
        }
    }
    Ok(out)
}

type Parsed<'a> = (IpAddr, IpAddr, Transport, &'a [u8]);

fn take(data: &[u8], n: usize, what: &str) -> Result<(), String> {
    if data.len() < n {
        Err(format!("truncated {what}: {} of {n} bytes", data.len()))
    } else {
        Ok(())
    }
}

/// Strips the link-layer header; `None` when the frame is not IP.
fn parse_frame(link: DataLink, data: &[u8]) -> Result<Option<Parsed<'_>>, String> {
    let ip = match link {
        DataLink::ETHERNET => {
            take(data, 14, "Ethernet header")?;
            let mut ethertype = u16::from_be_bytes([data[12], data[13]]);
            let mut off = 14;
            while ethertype == 0x8100 || ethertype == 0x88a8 {
                take(data, off + 4, "VLAN tag")?;
                ethertype = u16::from_be_bytes([data[off + 2], data[off + 3]]);
                off += 4;
            }
            if ethertype != 0x0800 && ethertype != 0x86dd {
                return Ok(None);
            }
            &data[off..]
        }
        DataLink::LINUX_SLL => {
            take(data, 16, "Linux cooked header")?;
            &data[16..]
        }
        DataLink::LINUX_SLL2 => {
            take(data, 20, "Linux cooked v2 header")?;
            &data[20..]
        }
        DataLink::NULL => {
            take(data, 4, "loopback header")?;
            &data[4..]
        }
        _ => data,
    };
    parse_ip(ip)
}

fn parse_ip(ip: &[u8]) -> Result<Option<Parsed<'_>>, String> {
    take(ip, 1, "IP header")?;
    let (src, dst, proto, l4) = match ip[0] >> 4 {
        4 => {
            take(ip, 20, "IPv4 header")?;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if ihl < 20 || total < ihl {
                return Err(format!("bad IPv4 lengths (ihl {ihl}, total {total})"));
            }
            take(ip, total, "IPv4 packet")?;
            let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
            if frag != 0 {
                return Ok(None); // fragments carry no complete transport header
            }
            let s = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let d = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            (IpAddr::V4(s), IpAddr::V4(d), ip[9], &ip[ihl..total])
        }
        6 => {
            take(ip, 40, "IPv6 header")?;
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            take(ip, 40 + plen, "IPv6 packet")?;
            let s: [u8; 16] = ip[8..24].try_into().expect("16 bytes");
            let d: [u8; 16] = ip[24..40].try_into().expect("16 bytes");
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                ip[6],
                &ip[40..40 + plen],
            )
        }
        v => return Err(format!("IP version {v}")),
    };
    match proto {
        IPPROTO_UDP => {
            take(l4, 8, "UDP header")?;
            let len = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
            if len < 8 {
                return Err(format!("UDP length {len} < 8"));
            }
            take(l4, len, "UDP datagram")?;
            let transport = Transport::Udp {
                src_port: u16::from_be_bytes([l4[0], l4[1]]),
                dst_port: u16::from_be_bytes([l4[2], l4[3]]),
            };
            Ok(Some((src, dst, transport, &l4[8..len])))
        }
        IPPROTO_ESP => Ok(Some((src, dst, Transport::Esp, l4))),
        _ => Ok(None),
    }
}
