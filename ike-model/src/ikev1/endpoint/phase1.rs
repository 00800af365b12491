//! Phase 1 (RFC 2409 §5): Main Mode (SA / SA, KE+Ni+NAT-D / KE+Nr+NAT-D, then IDii+HASH_I /
//! IDir+HASH_R encrypted) and Aggressive Mode (SA+KE+Ni+IDii / SA+KE+Nr+IDir+NAT-D+HASH_R /
//! HASH_I+NAT-D encrypted), with pre-shared keys. A Phase 1 that completes at the initiator
//! starts the first Quick Mode.

use std::net::{IpAddr, SocketAddr};

use sim_core::SimTime;

use super::messages::{accept_phase1, host_id, initial_contact, phase1_sa, vendor_ids};
use super::{Endpoint1, IsakmpSa};
use crate::crypto::DhPrivate;
use crate::events::{ExchangeKind, Outcome, Purpose, SaChange, SaKind, SaRef};
use crate::ikev1::consts::{exchange, payload};
use crate::ikev1::crypto::{Prf1, derive_phase1, phase1_hash, phase1_iv, skeyid_psk};
use crate::ikev1::header::Header;
use crate::ikev1::payload::RawPayload;
use crate::ikev1::sa::SaPayload;
use crate::ikev2::natd::natd_hash;

const NONCE_LEN: usize = 32;

fn p(ty: u8, body: Vec<u8>) -> RawPayload {
    RawPayload { ty, body }
}

fn find(payloads: &[RawPayload], ty: u8) -> Option<Vec<u8>> {
    payloads.iter().find(|x| x.ty == ty).map(|x| x.body.clone())
}

fn kind(aggressive: bool) -> ExchangeKind {
    if aggressive {
        ExchangeKind::AggressiveMode
    } else {
        ExchangeKind::MainMode
    }
}

/// NAT-D payloads (RFC 3947): the peer's address first, then ours. With `fake` (strongSwan's
/// `encap = yes`) our own hash is of port 0, so the peer believes we are behind a NAT.
fn natd(sa: &IsakmpSa, fake: bool) -> [RawPayload; 2] {
    let h = |a: SocketAddr| natd_hash(sa.icookie, sa.rcookie, a.ip(), a.port()).to_vec();
    let mut ours = sa.local;
    if fake {
        ours.set_port(0);
    }
    [p(payload::NAT_D, h(sa.peer)), p(payload::NAT_D, h(ours))]
}

pub(super) fn new_sa(
    ep: &Endpoint1,
    tunnel: u32,
    initiator: bool,
    aggressive: bool,
    local: SocketAddr,
    peer: SocketAddr,
) -> IsakmpSa {
    IsakmpSa {
        tunnel,
        initiator,
        aggressive,
        icookie: 0,
        rcookie: 0,
        state: "IKE_READY",
        established: false,
        local,
        peer,
        keys: None,
        ipsec: Vec::new(),
        group: ep.cfg.dh_groups[0],
        dh: None,
        gxi: vec![],
        gxr: vec![],
        ni: vec![],
        nr: vec![],
        sai_b: vec![],
        idi: vec![],
        iv: vec![],
        last_p1: vec![],
        answers: Default::default(),
        seen: Default::default(),
        outstanding: Default::default(),
        quick: Default::default(),
        dead: false,
        last_received: SimTime::ZERO,
        dpd_seq: 0,
        probe: None,
        rekey_at: None,
        expire_at: None,
        reauth_of: None,
        delete_at: None,
        natt: false,
        nat_here: false,
        nat_checked: false,
        last_sent: SimTime::ZERO,
        uid: 0,
        filed_due: None,
        filed_tunnel: tunnel,
        half_open_ip: None,
    }
}

/// strongSwan's receiver (`drop_ike_sa_init`) for a first Phase 1 message: dropped silently
/// from an address with `block_threshold` half-open ISAKMP SAs, from anyone while
/// `init_limit_half_open` are, or while more than `init_limit_job_load` jobs wait for a
/// core (`queued_jobs`). Whether the message goes on to be answered.
pub(super) fn receiver_checks(
    ep: &mut Endpoint1,
    now: SimTime,
    from: SocketAddr,
    queued_jobs: usize,
) -> bool {
    let (half_open, from_ip) = (
        ep.index.half_open.total(),
        ep.index.half_open.from(from.ip()),
    );
    let reason = if ep.cfg.block_threshold.is_some_and(|l| from_ip >= l) {
        "per-IP half-open limit (block_threshold)"
    } else if ep
        .cfg
        .half_open_limit
        .is_some_and(|l| half_open >= l as usize)
    {
        "half-open limit (init_limit_half_open)"
    } else if ep
        .cfg
        .job_load_limit
        .is_some_and(|l| queued_jobs > l as usize)
    {
        "job load limit (init_limit_job_load)"
    } else {
        return true;
    };
    ep.drop_datagram(now, reason);
    false
}

/// Behind a NAT the peer's source address is the NAT's: its identity (an address ID, as
/// our peers use) names the tunnel instead, as strongSwan picks the config by identity.
fn tunnel_by_identity(ep: &mut Endpoint1, i: usize, id: &[u8]) {
    if ep.sas[i].tunnel != u32::MAX {
        return;
    }
    let addr: Option<IpAddr> = match id {
        [1, _, _, _, a, b, c, d] => Some(IpAddr::from([*a, *b, *c, *d])),
        [5, _, _, _, rest @ ..] if rest.len() == 16 => {
            Some(IpAddr::from(<[u8; 16]>::try_from(rest).expect("16 bytes")))
        }
        _ => None,
    };
    if let Some(t) = addr.and_then(|a| ep.tunnel_with(a)) {
        ep.sas[i].tunnel = t.tunnel;
    }
}

/// Starts Phase 1 as initiator.
pub(super) fn initiate(
    ep: &mut Endpoint1,
    now: SimTime,
    tunnel: u32,
    peer: IpAddr,
    aggressive: bool,
) {
    initiate_for(ep, now, tunnel, peer, aggressive, None);
}

/// Starts Phase 1 as initiator, re-authenticating the ISAKMP SA with cookie `reauth_of`.
fn initiate_for(
    ep: &mut Endpoint1,
    now: SimTime,
    tunnel: u32,
    peer: IpAddr,
    aggressive: bool,
    reauth_of: Option<u64>,
) {
    let local = SocketAddr::new(ep.cfg.addr, 500);
    let mut sa = new_sa(
        ep,
        tunnel,
        true,
        aggressive,
        local,
        SocketAddr::new(peer, 500),
    );
    sa.icookie = ep.random_cookie();
    sa.reauth_of = reauth_of;
    let sa_payload = phase1_sa(ep.cfg.encr, sa.group, ep.cfg.ike_life_s).encode();
    sa.sai_b = sa_payload.clone();
    let i = ep.push_sa(sa);
    let mut payloads = vec![p(payload::SA, sa_payload)];
    if aggressive {
        let dh = DhPrivate::generate_with(
            ep.sas[i].group,
            ep.cfg.dh_exponent_bits,
            ep.cfg.modeled,
            &mut ep.rng,
        );
        let ni = ep.random_bytes(NONCE_LEN);
        payloads.push(p(payload::KE, dh.public().to_vec()));
        payloads.push(p(payload::NONCE, ni.clone()));
        payloads.push(p(payload::ID, host_id(ep.cfg.addr)));
        let sa = &mut ep.sas[i];
        sa.gxi = dh.public().to_vec();
        sa.ni = ni;
        sa.dh = Some(dh);
    }
    payloads.extend(vendor_ids(true));
    let ex = if aggressive {
        exchange::AGGRESSIVE
    } else {
        exchange::MAIN_MODE
    };
    let m = ep.build(i, ex, 0, &payloads, false);
    ep.set_state(i, now, if aggressive { "IKE_I_AM1" } else { "IKE_I_MM1" });
    ep.send(
        i,
        now,
        m,
        Some((0, kind(aggressive), Purpose::Establish, true)),
    );
}

/// Answers the first message of Main Mode or Aggressive Mode as responder.
pub(super) fn respond_first(
    ep: &mut Endpoint1,
    now: SimTime,
    from: SocketAddr,
    local: SocketAddr,
    h: &Header,
    bytes: &[u8],
) {
    // With a queue of work ahead (a CPU model), the driver ran these checks on arrival.
    if !ep.screens_on_arrival && !receiver_checks(ep, now, from, 0) {
        return;
    }
    let Ok((payloads, _)) = crate::ikev1::decode_chain(h.next_payload, &bytes[28..]) else {
        ep.drop_datagram(now, "malformed ISAKMP payloads");
        return;
    };
    let aggressive = h.exchange == exchange::AGGRESSIVE;
    let Some(sai_b) = find(&payloads, payload::SA) else {
        ep.drop_datagram(now, "Phase 1 without SA");
        return;
    };
    let offer = SaPayload::decode(&sai_b)
        .ok()
        .and_then(|s| accept_phase1(&s, ep.cfg.encr, &ep.cfg.dh_groups));
    let Some((group, life)) = offer else {
        // NO-PROPOSAL-CHOSEN would be an unprotected notify; strongSwan just gives up.
        ep.drop_datagram(now, "no acceptable Phase 1 proposal");
        return;
    };
    let tunnel = ep.tunnel_with(from.ip()).map_or(u32::MAX, |t| t.tunnel);
    let mut sa = new_sa(ep, tunnel, false, aggressive, local, from);
    sa.icookie = h.icookie;
    sa.rcookie = ep.random_cookie();
    sa.group = group;
    sa.sai_b = sai_b;
    let digest: [u8; 20] = crate::ikev1::crypto::hash(ep.prf1(), &[bytes])
        .try_into()
        .expect("SHA-1");
    sa.remember_seen(digest);
    // strongSwan deletes a responder's IKE SA that is not established 30 s after the
    // first message (`half_open_timeout`); until then it counts as half-open.
    sa.delete_at = Some(now + crate::ikev2::endpoint::HALF_OPEN_TIMEOUT);
    let i = ep.push_sa(sa);
    let life = match (life, ep.cfg.ike_life_s) {
        (0, ours) => ours,
        (theirs, 0) => theirs,
        (theirs, ours) => theirs.min(ours),
    };
    let mut out = vec![p(payload::SA, phase1_sa(ep.cfg.encr, group, life).encode())];
    if !aggressive {
        out.extend(vendor_ids(false));
        let m = ep.build(i, exchange::MAIN_MODE, 0, &out, false);
        ep.set_state(i, now, "IKE_R_MM1");
        ep.remember_answer(i, 0, &m);
        ep.send(i, now, m, None);
        ep.set_state(i, now, "IKE_R_MM2");
        return;
    }
    // Aggressive Mode: everything in one answer, authenticated by HASH_R.
    let (Some(gxi), Some(ni), Some(idi)) = (
        find(&payloads, payload::KE),
        find(&payloads, payload::NONCE),
        find(&payloads, payload::ID),
    ) else {
        ep.drop_datagram(now, "Aggressive Mode without KE, Nonce or ID");
        ep.mark_dead(i);
        return;
    };
    tunnel_by_identity(ep, i, &idi);
    ep.sas[i].idi = idi;
    let dh = DhPrivate::generate_with(group, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng);
    let nr = ep.random_bytes(NONCE_LEN);
    {
        let sa = &mut ep.sas[i];
        sa.gxi = gxi;
        sa.ni = ni;
        sa.gxr = dh.public().to_vec();
        sa.nr = nr.clone();
    }
    if !derive(ep, i, &dh) {
        ep.mark_dead(i);
        return;
    }
    let idr = host_id(ep.cfg.addr);
    let hash_r = responder_hash(ep.prf1(), &ep.sas[i], &idr);
    out.push(p(payload::KE, ep.sas[i].gxr.clone()));
    out.push(p(payload::NONCE, nr));
    out.push(p(payload::ID, idr));
    out.extend(vendor_ids(false));
    out.extend(natd(&ep.sas[i], ep.cfg.force_encap));
    out.push(p(payload::HASH, hash_r));
    let m = ep.build(i, exchange::AGGRESSIVE, 0, &out, false);
    ep.set_state(i, now, "IKE_R_AM1");
    ep.remember_answer(i, 0, &m);
    // Resent until the initiator's HASH_I arrives.
    ep.send(
        i,
        now,
        m,
        Some((0, ExchangeKind::AggressiveMode, Purpose::Establish, false)),
    );
    ep.set_state(i, now, "IKE_R_AM2");
}

/// Derives the Phase 1 keys of SA `i` from our DH value and the nonces; logs Ka.
fn derive(ep: &mut Endpoint1, i: usize, dh: &DhPrivate) -> bool {
    let peer = if ep.sas[i].initiator {
        ep.sas[i].gxr.clone()
    } else {
        ep.sas[i].gxi.clone()
    };
    let Ok(gxy) = dh.shared_secret(&peer) else {
        return false;
    };
    let prf = ep.prf1();
    let sa = &mut ep.sas[i];
    let skeyid = skeyid_psk(prf, &ep.cfg.psk, &sa.ni, &sa.nr);
    let keys = derive_phase1(prf, ep.cfg.encr, skeyid, &gxy, sa.icookie, sa.rcookie);
    if ep.keep_key_log {
        ep.key_log
            .push(format!("{:016x},{}", sa.icookie, hex::encode(&keys.ka)));
    }
    sa.iv = phase1_iv(prf, ep.cfg.encr, &sa.gxi, &sa.gxr);
    sa.keys = Some(keys);
    true
}

/// Re-authenticates and expires ISAKMP SA `i` when its time has come, and deletes an old
/// one 10 s after its replacement took over.
pub(super) fn lifetimes(ep: &mut Endpoint1, now: SimTime, i: usize) {
    let due = |t: Option<SimTime>| t.is_some_and(|t| t <= now);
    let sa = &ep.sas[i];
    if sa.half_open_ip.is_some() && due(sa.delete_at) {
        // Silently, as strongSwan's half-open timeout: nothing was established.
        ep.kill(i, now, "half-open timeout");
        return;
    }
    if !sa.established || sa.dead {
        return;
    }
    if due(sa.delete_at) || due(sa.expire_at) {
        ep.sas[i].delete_at = None;
        ep.sas[i].expire_at = None;
        for spi in ep.sas[i].ipsec.iter().map(|c| c.spi_in).collect::<Vec<_>>() {
            super::quick_mode::delete_ipsec(
                ep,
                now,
                i,
                spi,
                SaChange::Expired,
                "ISAKMP SA expired",
            );
        }
        super::quick_mode::delete_isakmp(ep, now, i);
        return;
    }
    if sa.initiator && due(sa.rekey_at) {
        let (tunnel, peer, aggressive, ic) = (sa.tunnel, sa.peer.ip(), sa.aggressive, sa.icookie);
        ep.sas[i].rekey_at = None;
        initiate_for(ep, now, tunnel, peer, aggressive, Some(ic));
    }
}

/// Moves the IPsec SAs of the tunnel's other ISAKMP SAs to SA `i` (the re-authenticated
/// one) and returns the index of the SA they came from.
fn adopt(ep: &mut Endpoint1, i: usize) -> Option<usize> {
    let (tunnel, cookie) = (ep.sas[i].tunnel, ep.sas[i].icookie);
    let old = ep.sas_of_tunnel(tunnel).find(|&j| {
        let s = &ep.sas[j];
        s.icookie != cookie && s.established && s.delete_at.is_none()
    })?;
    let children = std::mem::take(&mut ep.sas[old].ipsec);
    for c in &children {
        ep.file_child(i, c.spi_in);
    }
    ep.sas[i].ipsec.extend(children);
    Some(old)
}

fn established(ep: &mut Endpoint1, i: usize, now: SimTime) {
    ep.set_state(i, now, "IKE_P1_COMPLETE");
    ep.sas[i].established = true;
    if ep.sas[i].half_open_ip.is_some() {
        // The half-open timeout (see `respond_first`).
        ep.sas[i].delete_at = None;
    }
    ep.end_half_open(i);
    // Both HASHes are checked and the keys derived: the exchanged values are never needed
    // again (a repeated Phase 1 message is answered from the answer cache), and they were
    // about 0.7 KB of every ISAKMP SA a concentrator holds.
    let sa = &mut ep.sas[i];
    for v in [
        &mut sa.gxi,
        &mut sa.gxr,
        &mut sa.ni,
        &mut sa.nr,
        &mut sa.sai_b,
        &mut sa.idi,
    ] {
        *v = Vec::new();
    }
    ep.sas[i].last_received = now;
    // RFC 3706 §7: sequence numbers start at a random value.
    ep.sas[i].dpd_seq = rand::Rng::next_u32(&mut ep.rng) & 0x7fff_ffff;
    let sa = &ep.sas[i];
    let spi = SaRef::Ike(sa.icookie, sa.rcookie);
    let reason = if sa.aggressive {
        "Aggressive Mode"
    } else {
        "Main Mode"
    };
    ep.sa_event(i, now, SaKind::Ike, spi, SaChange::Installed, reason);
    ep.set_state(i, now, "QM_IDLE");
    let initiated = ep.sas[i].initiator;
    let t = ep.cfg.ike_lifetime.draw(initiated, &mut ep.rng);
    ep.sas[i].rekey_at = t.rekey_after.map(|d| now + d);
    ep.sas[i].expire_at = t.expire_after.map(|d| now + d);
    // A re-authentication: the new ISAKMP SA takes over the IPsec SAs; the initiator
    // deletes the old one 10 s later (strongSwan).
    if let Some(old) = adopt(ep, i)
        && ep.sas[i].initiator
    {
        ep.sas[old].delete_at = Some(now + sim_core::Duration::from_secs(10));
        ep.sas[old].rekey_at = None;
    }
}

/// Whether Phase 1 on SA `i` re-authenticated an existing ISAKMP SA (no new Quick Mode).
fn is_reauth(ep: &Endpoint1, i: usize) -> bool {
    ep.sas[i].reauth_of.is_some()
}

/// Handles a Phase 1 message after the first, at either end.
pub(super) fn on_message(
    ep: &mut Endpoint1,
    now: SimTime,
    i: usize,
    _h: &Header,
    _bytes: &[u8],
    payloads: &[RawPayload],
) {
    let (initiator, aggressive) = (ep.sas[i].initiator, ep.sas[i].aggressive);
    let k = kind(aggressive);
    match (initiator, aggressive, ep.sas[i].state) {
        // Main Mode, initiator.
        (true, false, "IKE_I_MM1") => {
            let Some(offer) = find(payloads, payload::SA)
                .and_then(|b| SaPayload::decode(&b).ok())
                .and_then(|s| accept_phase1(&s, ep.cfg.encr, &ep.cfg.dh_groups))
            else {
                ep.answered(i, now, 0, Outcome::Refused("NO_PROPOSAL_CHOSEN".into()));
                ep.kill(i, now, "no acceptable Phase 1 proposal");
                return;
            };
            ep.set_state(i, now, "IKE_I_MM2");
            ep.sas[i].group = offer.0;
            let dh = DhPrivate::generate_with(
                offer.0,
                ep.cfg.dh_exponent_bits,
                ep.cfg.modeled,
                &mut ep.rng,
            );
            let ni = ep.random_bytes(NONCE_LEN);
            let mut out = vec![
                p(payload::KE, dh.public().to_vec()),
                p(payload::NONCE, ni.clone()),
            ];
            out.extend(natd(&ep.sas[i], ep.cfg.force_encap));
            let sa = &mut ep.sas[i];
            sa.gxi = dh.public().to_vec();
            sa.ni = ni;
            sa.dh = Some(dh);
            let m = ep.build(i, exchange::MAIN_MODE, 0, &out, false);
            ep.send(i, now, m, Some((0, k, Purpose::Establish, true)));
            ep.set_state(i, now, "IKE_I_MM3");
        }
        (true, false, "IKE_I_MM3") => {
            let (Some(gxr), Some(nr)) =
                (find(payloads, payload::KE), find(payloads, payload::NONCE))
            else {
                ep.drop_datagram(now, "Main Mode 4 without KE or Nonce");
                return;
            };
            ep.set_state(i, now, "IKE_I_MM4");
            ep.sas[i].gxr = gxr;
            ep.sas[i].nr = nr;
            let dh = ep.sas[i].dh.take().expect("initiator's DH");
            if !derive(ep, i, &dh) {
                ep.drop_datagram(now, "invalid KE value");
                return;
            }
            let idi = host_id(ep.cfg.addr);
            let sa = &ep.sas[i];
            let hash_i = initiator_hash(ep.prf1(), sa, &idi);
            let mut out = vec![p(payload::ID, idi), p(payload::HASH, hash_i)];
            // INITIAL-CONTACT only when no other ISAKMP SA with the peer is up (not when
            // re-authenticating): 108 bytes instead of 76, as in the reference capture.
            let peer = sa.peer.ip();
            if !ep
                .sas_with_peer(peer)
                .into_iter()
                .any(|j| ep.sas[j].established)
            {
                out.push(initial_contact(sa.icookie, sa.rcookie));
            }
            let m = ep.build(i, exchange::MAIN_MODE, 0, &out, true);
            ep.send(i, now, m, Some((0, k, Purpose::Establish, true)));
            ep.set_state(i, now, "IKE_I_MM5");
        }
        (true, false, "IKE_I_MM5") => {
            let (Some(idr), Some(hash_r)) =
                (find(payloads, payload::ID), find(payloads, payload::HASH))
            else {
                ep.drop_datagram(now, "Main Mode 6 without ID or HASH");
                return;
            };
            let sa = &ep.sas[i];
            let want = responder_hash(ep.prf1(), sa, &idr);
            if hash_r != want {
                ep.answered(i, now, 0, Outcome::Refused("AUTHENTICATION-FAILED".into()));
                ep.kill(i, now, "HASH_R did not verify");
                return;
            }
            ep.set_state(i, now, "IKE_I_MM6");
            ep.answered(i, now, 0, Outcome::Success);
            established(ep, i, now);
            if !is_reauth(ep, i) {
                super::quick_mode::initiate(ep, now, i, None);
            }
        }
        // Main Mode, responder.
        (false, false, "IKE_R_MM2") => {
            let (Some(gxi), Some(ni)) =
                (find(payloads, payload::KE), find(payloads, payload::NONCE))
            else {
                ep.drop_datagram(now, "Main Mode 3 without KE or Nonce");
                return;
            };
            ep.set_state(i, now, "IKE_R_MM3");
            let dh = DhPrivate::generate_with(
                ep.sas[i].group,
                ep.cfg.dh_exponent_bits,
                ep.cfg.modeled,
                &mut ep.rng,
            );
            let nr = ep.random_bytes(NONCE_LEN);
            let sa = &mut ep.sas[i];
            sa.gxi = gxi;
            sa.ni = ni;
            sa.gxr = dh.public().to_vec();
            sa.nr = nr.clone();
            if !derive(ep, i, &dh) {
                ep.drop_datagram(now, "invalid KE value");
                return;
            }
            let mut out = vec![p(payload::KE, ep.sas[i].gxr.clone()), p(payload::NONCE, nr)];
            out.extend(natd(&ep.sas[i], ep.cfg.force_encap));
            let m = ep.build(i, exchange::MAIN_MODE, 0, &out, false);
            ep.remember_answer(i, 0, &m);
            ep.send(i, now, m, None);
            ep.set_state(i, now, "IKE_R_MM4");
        }
        (false, false, "IKE_R_MM4") => {
            let (Some(idi), Some(hash_i)) =
                (find(payloads, payload::ID), find(payloads, payload::HASH))
            else {
                ep.drop_datagram(now, "Main Mode 5 without ID or HASH");
                return;
            };
            let sa = &ep.sas[i];
            let want = initiator_hash(ep.prf1(), sa, &idi);
            if hash_i != want {
                ep.kill(i, now, "HASH_I did not verify");
                return;
            }
            let idr = host_id(ep.cfg.addr);
            let hash_r = responder_hash(ep.prf1(), sa, &idr);
            tunnel_by_identity(ep, i, &idi);
            ep.set_state(i, now, "IKE_R_MM5");
            let out = vec![p(payload::ID, idr), p(payload::HASH, hash_r)];
            let m = ep.build(i, exchange::MAIN_MODE, 0, &out, true);
            ep.remember_answer(i, 0, &m);
            ep.send(i, now, m, None);
            ep.set_state(i, now, "IKE_R_MM6");
            established(ep, i, now);
        }
        // Aggressive Mode.
        (true, true, "IKE_I_AM1") => {
            let (Some(gxr), Some(nr), Some(idr), Some(hash_r)) = (
                find(payloads, payload::KE),
                find(payloads, payload::NONCE),
                find(payloads, payload::ID),
                find(payloads, payload::HASH),
            ) else {
                ep.drop_datagram(now, "Aggressive Mode 2 incomplete");
                return;
            };
            ep.set_state(i, now, "IKE_I_AM2");
            ep.sas[i].gxr = gxr;
            ep.sas[i].nr = nr;
            let dh = ep.sas[i].dh.take().expect("initiator's DH");
            if !derive(ep, i, &dh) {
                ep.drop_datagram(now, "invalid KE value");
                return;
            }
            let sa = &ep.sas[i];
            let want = responder_hash(ep.prf1(), sa, &idr);
            if hash_r != want {
                ep.answered(i, now, 0, Outcome::Refused("AUTHENTICATION-FAILED".into()));
                ep.kill(i, now, "HASH_R did not verify");
                return;
            }
            let idi = host_id(ep.cfg.addr);
            let hash_i = initiator_hash(ep.prf1(), sa, &idi);
            let mut out = vec![p(payload::HASH, hash_i)];
            out.extend(natd(&ep.sas[i], ep.cfg.force_encap));
            let m = ep.build(i, exchange::AGGRESSIVE, 0, &out, true);
            ep.remember_answer(i, 0, &m);
            ep.answered(i, now, 0, Outcome::Success);
            ep.send(i, now, m, None);
            established(ep, i, now);
            if !is_reauth(ep, i) {
                super::quick_mode::initiate(ep, now, i, None);
            }
        }
        (false, true, "IKE_R_AM2") => {
            let Some(hash_i) = find(payloads, payload::HASH) else {
                ep.drop_datagram(now, "Aggressive Mode 3 without HASH");
                return;
            };
            // IDii came in the first message, in the clear.
            let idi = ep.sas[i].idi.clone();
            let sa = &ep.sas[i];
            let want = initiator_hash(ep.prf1(), sa, &idi);
            if hash_i != want {
                ep.kill(i, now, "HASH_I did not verify");
                return;
            }
            ep.answered(i, now, 0, Outcome::Success);
            established(ep, i, now);
        }
        _ => ep.drop_datagram(now, "Phase 1 message not expected in this state"),
    }
}

/// HASH_I (RFC 2409 §5): prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
fn initiator_hash(prf: Prf1, sa: &IsakmpSa, idi: &[u8]) -> Vec<u8> {
    let k = sa.keys.as_ref().expect("derived");
    phase1_hash(
        prf, &k.skeyid, &sa.gxi, &sa.gxr, sa.icookie, sa.rcookie, &sa.sai_b, idi,
    )
}

/// HASH_R (RFC 2409 §5): prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
fn responder_hash(prf: Prf1, sa: &IsakmpSa, idr: &[u8]) -> Vec<u8> {
    let k = sa.keys.as_ref().expect("derived");
    phase1_hash(
        prf, &k.skeyid, &sa.gxr, &sa.gxi, sa.rcookie, sa.icookie, &sa.sai_b, idr,
    )
}
