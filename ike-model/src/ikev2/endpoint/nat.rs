//! NAT detection and the move to UDP 4500 (RFC 7296 §2.23, RFC 3948 §2.2): on port 4500
//! IKE messages follow a 4-byte zero non-ESP marker, ESP packets start with their non-zero
//! SPI, and a lone 0xFF byte is a NAT keepalive.

use std::net::SocketAddr;

use super::NATT_PORT;
use crate::ikev2::consts::NotifyType;
use crate::ikev2::natd::natd_hash;
use crate::ikev2::payload::Payload;

/// The UDP payload for an IKE message sent from `port`.
pub(super) fn frame(port: u16, ike: Vec<u8>) -> Vec<u8> {
    if port == NATT_PORT {
        let mut v = Vec::with_capacity(ike.len() + 4);
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&ike);
        v
    } else {
        ike
    }
}

/// The IKE message inside a datagram that arrived on 4500; `Err(None)` for a keepalive
/// (ignored silently), `Err(Some(why))` for what is not IKE.
pub(super) fn strip_marker(bytes: &[u8]) -> Result<&[u8], Option<&'static str>> {
    match bytes {
        [0xff] => Err(None),
        [0, 0, 0, 0, rest @ ..] => Ok(rest),
        _ if bytes.len() < 4 => Err(Some("short datagram on UDP 4500")),
        _ => Err(Some("ESP in UDP reached the IKE endpoint")),
    }
}

/// What the NAT-D notifies of a received IKE_SA_INIT say: (a NAT in front of us, a NAT in
/// front of the sender, whether the sender sent NAT-D at all).
pub(super) fn detect(
    payloads: &[Payload],
    spi_i: u64,
    spi_r: u64,
    from: SocketAddr,
    local: SocketAddr,
) -> (bool, bool, bool) {
    let mut sources = Vec::new();
    let mut dest = None;
    for p in payloads {
        if let Payload::Notify(n) = p {
            if n.ty == NotifyType::NAT_DETECTION_SOURCE_IP {
                sources.push(n.data.clone());
            } else if n.ty == NotifyType::NAT_DETECTION_DESTINATION_IP {
                dest = Some(n.data.clone());
            }
        }
    }
    let Some(dest) = dest else {
        return (false, false, false);
    };
    if sources.is_empty() {
        return (false, false, false);
    }
    let here = dest != natd_hash(spi_i, spi_r, local.ip(), local.port());
    let src = natd_hash(spi_i, spi_r, from.ip(), from.port());
    let there = !sources.iter().any(|s| *s == src);
    (here, there, true)
}
