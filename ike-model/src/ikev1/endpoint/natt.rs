//! NAT traversal for IKEv1 (RFC 3947 and RFC 3948): NAT-D in Main Mode 3/4 (Aggressive
//! Mode 2/3) tells each side whether a NAT sits in front of it or of the peer; if one does,
//! the initiator moves to UDP 4500 from Main Mode 5 (Aggressive Mode 3) on, every IKE
//! message there carries the 4-byte non-ESP marker, Quick Mode asks for UDP-Encapsulated-
//! Tunnel mode, ESP travels in UDP 4500, and the side behind the NAT sends 1-byte keepalives
//! (0xFF) after `keepalive` of silence so its mapping lives.

use std::net::SocketAddr;

use sim_core::SimTime;

use super::Endpoint1;
use crate::ikev1::consts::payload;
use crate::ikev1::payload::RawPayload;
use crate::ikev2::natd::natd_hash;

/// The NAT-T port.
pub const NATT_PORT: u16 = 4500;

/// Compares the NAT-D payloads of a Phase 1 message with where it really came from and
/// went to; the initiator moves to port 4500 as soon as a NAT (or `force_encap`) shows.
pub(super) fn detect(
    ep: &mut Endpoint1,
    i: usize,
    from: SocketAddr,
    local: SocketAddr,
    payloads: &[RawPayload],
) {
    let hashes: Vec<&Vec<u8>> = payloads
        .iter()
        .filter(|p| p.ty == payload::NAT_D)
        .map(|p| &p.body)
        .collect();
    if hashes.len() < 2 || ep.sas[i].nat_checked {
        return;
    }
    let sa = &ep.sas[i];
    let (ic, rc) = (sa.icookie, sa.rcookie);
    // The first hash is of the address the sender sent to (us); the others of its own.
    let us = natd_hash(ic, rc, local.ip(), local.port());
    let them = natd_hash(ic, rc, from.ip(), from.port());
    let nat_here = hashes[0].as_slice() != us.as_slice() || ep.cfg.force_encap;
    let nat_there = !hashes[1..].iter().any(|h| h.as_slice() == them.as_slice());
    let sa = &mut ep.sas[i];
    sa.nat_checked = true;
    sa.nat_here = nat_here;
    if (nat_here || nat_there) && sa.initiator {
        float(ep, i);
    }
}

/// Moves SA `i` to UDP 4500 at both ends of its path.
pub(super) fn float(ep: &mut Endpoint1, i: usize) {
    let sa = &mut ep.sas[i];
    if !sa.natt {
        sa.natt = true;
        sa.local.set_port(NATT_PORT);
        sa.peer.set_port(NATT_PORT);
    }
}

/// When SA `i`, behind a NAT on UDP 4500, owes the NAT a keepalive.
pub(super) fn keepalive_due(ep: &Endpoint1, i: usize) -> Option<SimTime> {
    let sa = &ep.sas[i];
    let k = ep.cfg.keepalive?;
    (sa.natt && sa.nat_here && !sa.dead && k > sim_core::Duration::ZERO).then(|| sa.last_sent + k)
}

/// Sends the keepalives that are due.
pub(super) fn send_keepalives(ep: &mut Endpoint1, now: SimTime, due: &[usize]) {
    for &i in due {
        if keepalive_due(ep, i).is_some_and(|t| t <= now) {
            let sa = &mut ep.sas[i];
            sa.last_sent = now;
            ep.out.push_back((sa.local, sa.peer, vec![0xFF]));
        }
    }
}
