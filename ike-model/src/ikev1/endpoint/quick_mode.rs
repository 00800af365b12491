//! Quick Mode (RFC 2409 §5.5): HASH(1)+SA+Ni[+KE]+IDci+IDcr / HASH(2)+SA+Nr[+KE]+IDci+IDcr /
//! HASH(3), then KEYMAT for both SPIs; Informational DELETEs (one-way, HASH(1) + D); and the
//! IPsec SA lifetimes: a new Quick Mode at the rekey time, the old SA kept until its hard
//! lifetime and then deleted (strongSwan's IKEv1 behaviour). IKEv1 has no collision rule:
//! two Quick Modes started at once both complete and leave duplicate SAs.

use rand::Rng;
use sim_core::SimTime;

use super::messages::{accept_esp, delete, esp_sa, id_body, parse_delete};
use super::{Endpoint1, IpsecSa, QuickMode};
use crate::crypto::DhPrivate;
use crate::events::{ExchangeKind, Outcome, Purpose, SaChange, SaKind, SaRef};
use crate::ikev1::consts::{exchange, payload, protocol};
use crate::ikev1::crypto::{KeyBytes, hash1, hash2, hash3, keymat, phase2_iv};
use crate::ikev1::header::Header;
use crate::ikev1::payload::{RawPayload, encode_chain};
use crate::ikev1::sa::SaPayload;

const NONCE_LEN: usize = 32;

fn p(ty: u8, body: Vec<u8>) -> RawPayload {
    RawPayload { ty, body }
}

fn find(payloads: &[RawPayload], ty: u8) -> Option<Vec<u8>> {
    payloads.iter().find(|x| x.ty == ty).map(|x| x.body.clone())
}

/// A fresh message ID for a Phase 2 or Informational exchange.
fn message_id(ep: &mut Endpoint1, i: usize) -> u32 {
    loop {
        let m = ep.rng.next_u32();
        if m != 0 && !ep.sas[i].quick.contains_key(&m) {
            return m;
        }
    }
}

/// Starts a Quick Mode on SA `i` (replacing the IPsec SA with inbound SPI `rekey`).
pub(super) fn initiate(ep: &mut Endpoint1, now: SimTime, i: usize, rekey: Option<u32>) {
    let mid = message_id(ep, i);
    let spi_in = ep.random_spi();
    let ni = ep.random_bytes(NONCE_LEN);
    let dh = ep
        .cfg
        .pfs
        .map(|g| DhPrivate::generate_with(g, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng));
    let t = ep.tunnel_config(i);
    let life = ep.ipsec_life_s();
    let mut rest = vec![
        p(
            payload::SA,
            esp_sa(
                ep.cfg.esp_encr,
                ep.cfg.esp_integ,
                ep.cfg.pfs,
                spi_in,
                life,
                ep.sas[i].natt,
            )
            .encode(),
        ),
        p(payload::NONCE, ni.clone()),
    ];
    if let Some(d) = &dh {
        rest.push(p(payload::KE, d.public().to_vec()));
    }
    rest.push(p(payload::ID, id_body(&t.local_ts[0])));
    rest.push(p(payload::ID, id_body(&t.remote_ts[0])));
    let skeyid_a = skeyid_a(ep, i);
    let h1 = hash1(ep.prf1(), &skeyid_a, mid, &encode_chain(&rest).1);
    let mut all = vec![p(payload::HASH, h1)];
    all.extend(rest);
    let iv = phase2_iv(ep.prf1(), ep.cfg.encr, &ep.sas[i].last_p1, mid);
    ep.sas[i].quick.insert(
        mid,
        QuickMode {
            initiator: true,
            iv,
            ni,
            nr: vec![],
            spi_in,
            spi_out: 0,
            dh,
            gxy: None,
            rekey_of: rekey,
            started: now,
            life: 0,
        },
    );
    let m = ep.build(i, exchange::QUICK_MODE, mid, &all, true);
    let purpose = if rekey.is_some() {
        Purpose::RekeyChild
    } else {
        Purpose::Establish
    };
    ep.set_state(i, now, "IKE_QM_I_QM1");
    ep.send(
        i,
        now,
        m,
        Some((mid, ExchangeKind::QuickMode, purpose, true)),
    );
}

/// SA `i`'s SKEYID_a, which the HASH payloads of Quick Mode and Informational exchanges
/// are computed with (a copy: the caller goes on to change the endpoint).
fn skeyid_a(ep: &Endpoint1, i: usize) -> KeyBytes {
    KeyBytes::from_slice(&ep.sas[i].keys.as_ref().expect("Phase 1 done").skeyid_a)
}

fn keys_for(ep: &Endpoint1, i: usize, q: &QuickMode, spi: u32) -> (Vec<u8>, Vec<u8>) {
    let k = ep.sas[i].keys.as_ref().expect("Phase 1 done");
    let (el, il) = (ep.cfg.esp_encr.key_len(), ep.cfg.esp_integ.key_len());
    let km = keymat(
        ep.prf1(),
        &k.skeyid_d,
        q.gxy.as_deref(),
        protocol::ESP,
        spi,
        &q.ni,
        &q.nr,
        el + il,
    );
    (km[..el].to_vec(), km[el..].to_vec())
}

fn install(ep: &mut Endpoint1, now: SimTime, i: usize, mid: u32, life: u32) {
    let q = ep.sas[i].quick.get(&mid).expect("known exchange");
    let c = IpsecSa {
        spi_in: q.spi_in,
        spi_out: q.spi_out,
        keys_in: keys_for(ep, i, q, q.spi_in),
        keys_out: keys_for(ep, i, q, q.spi_out),
        rekey_at: None,
        expire_at: None,
        rekeyed: false,
    };
    let (initiated, rekey_of) = (q.initiator, q.rekey_of);
    let reason = if rekey_of.is_some() {
        "Quick Mode rekey"
    } else {
        "Quick Mode"
    };
    ep.install(i, now, c, initiated, life, reason);
    if let Some(old) = rekey_of
        && let Some(o) = ep.sas[i].ipsec.iter_mut().find(|c| c.spi_in == old)
    {
        // strongSwan keeps the old SA until its hard lifetime and deletes it then.
        o.rekeyed = true;
        let spi = SaRef::Child(old);
        ep.sa_event(
            i,
            now,
            SaKind::Child,
            spi,
            SaChange::Rekeyed,
            "Quick Mode rekey",
        );
    }
    ep.set_state(i, now, "IKE_QM_PHASE2_COMPLETE");
    ep.set_state(i, now, "QM_IDLE");
    // The exchange is over, as strongSwan's quick_mode task is: a repeat of its last message
    // is answered from `answers` (see `handle_datagram`) before anything looks for the
    // exchange. Kept, the finished Quick Modes of an ISAKMP SA's life (one per rekey, with
    // their nonces and IVs) were a fifth of a concentrator's heap.
    ep.sas[i].quick.remove(&mid);
}

/// The IPsec SA a Quick Mode the peer started replaces, as strongSwan's responder sees it:
/// IKEv1 carries no "rekey of" marker, so a Quick Mode for the selectors and proposal of an
/// installed SA (on an ISAKMP SA all are the tunnel's, with our one proposal) rekeys the
/// oldest one not already being rekeyed or replaced. Without this both ends would rekey
/// every SA on their own timers and the SAs would double each lifetime.
fn rekeyed_by_peer(ep: &Endpoint1, i: usize) -> Option<u32> {
    let sa = &ep.sas[i];
    sa.ipsec
        .iter()
        .find(|c| !c.rekeyed && !being_rekeyed(ep, i, c.spi_in))
        .map(|c| c.spi_in)
}

/// Whether a Quick Mode in flight on SA `i` (ours or the peer's) replaces IPsec SA `spi`.
fn being_rekeyed(ep: &Endpoint1, i: usize, spi: u32) -> bool {
    ep.sas[i].quick.values().any(|q| q.rekey_of == Some(spi))
}

/// Handles a Quick Mode message on SA `i`.
pub(super) fn on_message(
    ep: &mut Endpoint1,
    now: SimTime,
    i: usize,
    h: &Header,
    payloads: &[RawPayload],
) {
    let mid = h.message_id;
    let Some(hash) = payloads
        .first()
        .filter(|x| x.ty == payload::HASH)
        .map(|x| x.body.clone())
    else {
        ep.drop_datagram(now, "Quick Mode without HASH first");
        return;
    };
    let rest = encode_chain(&payloads[1..]).1;
    let skeyid_a = skeyid_a(ep, i);
    let q = ep.sas[i].quick.get(&mid).expect("open() registered it");
    let (initiator, have_nr) = (q.initiator, !q.nr.is_empty());
    if !initiator && q.ni.is_empty() {
        // QM1 at the responder.
        if hash != hash1(ep.prf1(), &skeyid_a, mid, &rest) {
            ep.sas[i].quick.remove(&mid);
            ep.drop_datagram(now, "Quick Mode HASH(1) did not verify");
            return;
        }
        let offer = find(payloads, payload::SA)
            .and_then(|b| SaPayload::decode(&b).ok())
            .and_then(|s| accept_esp(&s, ep.cfg.esp_encr, ep.cfg.esp_integ, ep.cfg.pfs));
        let (Some((spi_out, life)), Some(ni)) = (offer, find(payloads, payload::NONCE)) else {
            ep.sas[i].quick.remove(&mid);
            ep.drop_datagram(now, "no acceptable Quick Mode proposal");
            return;
        };
        let ids: Vec<Vec<u8>> = payloads
            .iter()
            .filter(|x| x.ty == payload::ID)
            .map(|x| x.body.clone())
            .collect();
        let spi_in = ep.random_spi();
        let nr = ep.random_bytes(NONCE_LEN);
        let dh = ep.cfg.pfs.map(|g| {
            DhPrivate::generate_with(g, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng)
        });
        let gxy = match (&dh, find(payloads, payload::KE)) {
            (Some(d), Some(k)) => d.shared_secret(&k).ok(),
            _ => None,
        };
        if dh.is_some() && gxy.is_none() {
            ep.sas[i].quick.remove(&mid);
            ep.drop_datagram(now, "Quick Mode PFS without a valid KE");
            return;
        }
        // The shorter of the proposed and our own lifetime wins (0 = none). Without a
        // lifetime of our own we echo the initiator's and leave the expiry to it, as the
        // reference responder (rekey_time = life_time = 0) does.
        let ours = ep.ipsec_life_s();
        // The SA echoes the proposal (RFC 2407 §4.6.3.1); a shorter lifetime of ours goes
        // in a RESPONDER-LIFETIME notify instead.
        let (life, local_life) = match (life, ours) {
            (0, ours) => (ours, ours),
            (theirs, 0) => (theirs, 0),
            (theirs, ours) => (theirs, theirs.min(ours)),
        };
        let shorter = (life != 0 && local_life != 0 && local_life < life).then_some(local_life);
        let (local_life, shorter) = match ep.cfg.lifetimes {
            super::LifetimeNegotiation::ResponderLifetime => (local_life, shorter),
            // Take the initiator's lifetime as it is.
            super::LifetimeNegotiation::Accept => (life, None),
            // A longer lifetime than ours is not acceptable (RFC 2407 §4.5.4 leaves the
            // choice to the responder).
            super::LifetimeNegotiation::Refuse if shorter.is_some() => {
                ep.sas[i].quick.remove(&mid);
                ep.drop_datagram(now, "Quick Mode lifetime longer than ours");
                return;
            }
            super::LifetimeNegotiation::Refuse => (local_life, None),
        };
        let mut out = vec![
            p(
                payload::SA,
                esp_sa(
                    ep.cfg.esp_encr,
                    ep.cfg.esp_integ,
                    ep.cfg.pfs,
                    spi_in,
                    life,
                    ep.sas[i].natt,
                )
                .encode(),
            ),
            p(payload::NONCE, nr.clone()),
        ];
        if let Some(d) = &dh {
            out.push(p(payload::KE, d.public().to_vec()));
        }
        out.extend(ids.into_iter().map(|b| p(payload::ID, b)));
        if let Some(l) = shorter {
            out.push(super::messages::responder_lifetime(spi_in, l));
        }
        let h2 = hash2(ep.prf1(), &skeyid_a, mid, &ni, &encode_chain(&out).1);
        let mut all = vec![p(payload::HASH, h2)];
        all.extend(out);
        let rekey_of = rekeyed_by_peer(ep, i);
        let q = ep.sas[i].quick.get_mut(&mid).expect("present");
        q.ni = ni;
        q.nr = nr;
        q.spi_in = spi_in;
        q.spi_out = spi_out;
        q.gxy = gxy;
        q.started = now;
        q.rekey_of = rekey_of;
        ep.set_state(i, now, "IKE_QM_R_QM1");
        let m = ep.build(i, exchange::QUICK_MODE, mid, &all, true);
        ep.remember_answer(i, mid, &m);
        // Resent until HASH(3) confirms it.
        ep.send(
            i,
            now,
            m,
            Some((mid, ExchangeKind::QuickMode, Purpose::Establish, false)),
        );
        ep.set_state(i, now, "IKE_QM_R_QM2");
        // The lifetime the initiator asked for, if shorter than ours, is the one we use.
        ep.sas[i].quick.get_mut(&mid).expect("present").life = local_life;
    } else if initiator && !have_nr {
        // QM2 at the initiator.
        let Some(nr) = find(payloads, payload::NONCE) else {
            ep.drop_datagram(now, "Quick Mode 2 without Nonce");
            return;
        };
        let ni = q.ni.clone();
        if hash != hash2(ep.prf1(), &skeyid_a, mid, &ni, &rest) {
            ep.drop_datagram(now, "Quick Mode HASH(2) did not verify");
            return;
        }
        let offer = find(payloads, payload::SA)
            .and_then(|b| SaPayload::decode(&b).ok())
            .and_then(|s| accept_esp(&s, ep.cfg.esp_encr, ep.cfg.esp_integ, ep.cfg.pfs));
        let Some((spi_out, life)) = offer else {
            ep.answered(i, now, mid, Outcome::Refused("NO-PROPOSAL-CHOSEN".into()));
            ep.sas[i].quick.remove(&mid);
            return;
        };
        // A RESPONDER-LIFETIME shortens what we proposed.
        let life = payloads
            .iter()
            .filter(|x| x.ty == payload::N)
            .find_map(|n| super::messages::parse_responder_lifetime(&n.body))
            .map_or(life, |l| if life == 0 { l } else { life.min(l) });
        let gxy = match (&q.dh, find(payloads, payload::KE)) {
            (Some(d), Some(k)) => d.shared_secret(&k).ok(),
            _ => None,
        };
        let q = ep.sas[i].quick.get_mut(&mid).expect("present");
        q.nr = nr.clone();
        q.spi_out = spi_out;
        q.gxy = gxy;
        let h3 = hash3(ep.prf1(), &skeyid_a, mid, &ni, &nr);
        let m = ep.build(i, exchange::QUICK_MODE, mid, &[p(payload::HASH, h3)], true);
        ep.remember_answer(i, mid, &m);
        ep.send(i, now, m, None);
        ep.answered(i, now, mid, Outcome::Success);
        install(ep, now, i, mid, life);
    } else if !initiator && have_nr && payloads.len() == 1 {
        // QM3 at the responder.
        let q = ep.sas[i].quick.get(&mid).expect("present");
        if hash != hash3(ep.prf1(), &skeyid_a, mid, &q.ni, &q.nr) {
            ep.drop_datagram(now, "Quick Mode HASH(3) did not verify");
            return;
        }
        let life = q.life;
        ep.answered(i, now, mid, Outcome::Success);
        install(ep, now, i, mid, life);
    } else {
        ep.drop_datagram(now, "Quick Mode message not expected");
    }
}

/// Handles an Informational message on SA `i` (DELETE; one-way, nothing is answered).
pub(super) fn on_informational(
    ep: &mut Endpoint1,
    now: SimTime,
    i: usize,
    h: &Header,
    payloads: &[RawPayload],
) {
    let skeyid_a = skeyid_a(ep, i);
    let ok = payloads.first().is_some_and(|x| {
        x.ty == payload::HASH
            && x.body
                == hash1(
                    ep.prf1(),
                    &skeyid_a,
                    h.message_id,
                    &encode_chain(&payloads[1..]).1,
                )
    });
    ep.sas[i].quick.remove(&h.message_id);
    if !ok {
        ep.drop_datagram(now, "Informational HASH(1) did not verify");
        return;
    }
    for n in payloads.iter().filter(|x| x.ty == payload::N) {
        super::dpd::on_notify(ep, now, i, &n.body);
    }
    for d in payloads.iter().filter(|x| x.ty == payload::D) {
        let Some((proto, spis)) = parse_delete(&d.body) else {
            continue;
        };
        if proto == protocol::ISAKMP {
            ep.kill(i, now, "deleted by peer");
            return;
        }
        for s in spis {
            let Ok(s) = <[u8; 4]>::try_from(s.as_slice()) else {
                continue;
            };
            let s = u32::from_be_bytes(s);
            if let Some(k) = ep.sas[i].ipsec.iter().position(|c| c.spi_out == s) {
                let c = ep.sas[i].ipsec.remove(k);
                ep.unfile_child(i, c.spi_in);
                ep.sa_event(
                    i,
                    now,
                    SaKind::Child,
                    SaRef::Child(c.spi_in),
                    SaChange::Deleted,
                    "deleted by peer",
                );
            }
        }
    }
}

/// Sends a one-way Informational with `d` on SA `i`; a DELETE is reported as a finished
/// exchange at once (it has no answer).
pub(super) fn inform(ep: &mut Endpoint1, now: SimTime, i: usize, d: RawPayload, report: bool) {
    let mid = message_id(ep, i);
    let skeyid_a = skeyid_a(ep, i);
    let rest = vec![d];
    let h1 = hash1(ep.prf1(), &skeyid_a, mid, &encode_chain(&rest).1);
    let mut all = vec![p(payload::HASH, h1)];
    all.extend(rest);
    let m = ep.build(i, exchange::INFORMATIONAL, mid, &all, true);
    ep.send(i, now, m, None);
    if report {
        ep.finish(
            i,
            now,
            ExchangeKind::Informational1,
            Purpose::Delete,
            now,
            0,
            Outcome::Success,
        );
    }
}

/// Deletes IPsec SA `spi_in` of SA `i` and tells the peer.
pub(super) fn delete_ipsec(
    ep: &mut Endpoint1,
    now: SimTime,
    i: usize,
    spi_in: u32,
    change: SaChange,
    reason: &'static str,
) {
    if let Some(k) = ep.sas[i].ipsec.iter().position(|c| c.spi_in == spi_in) {
        ep.sas[i].ipsec.remove(k);
        ep.unfile_child(i, spi_in);
        ep.sa_event(i, now, SaKind::Child, SaRef::Child(spi_in), change, reason);
        inform(ep, now, i, delete(&[spi_in], None), true);
    }
}

/// Deletes the ISAKMP SA `i` and tells the peer.
pub(super) fn delete_isakmp(ep: &mut Endpoint1, now: SimTime, i: usize) {
    let (ic, rc) = (ep.sas[i].icookie, ep.sas[i].rcookie);
    inform(ep, now, i, delete(&[], Some((ic, rc))), true);
    ep.kill(i, now, "deleted");
}

/// Rekeys and expires the IPsec SAs of SA `i` whose time has come.
pub(super) fn lifetimes(ep: &mut Endpoint1, now: SimTime, i: usize) {
    if !ep.sas[i].established {
        return;
    }
    let due = |t: Option<SimTime>| t.is_some_and(|t| t <= now);
    let expired: Vec<u32> = ep.sas[i]
        .ipsec
        .iter()
        .filter(|c| due(c.expire_at))
        .map(|c| c.spi_in)
        .collect();
    for spi in expired {
        delete_ipsec(ep, now, i, spi, SaChange::Expired, "hard lifetime");
    }
    let rekey: Vec<u32> = ep.sas[i]
        .ipsec
        .iter()
        .filter(|c| !c.rekeyed && due(c.rekey_at))
        .map(|c| c.spi_in)
        .collect();
    for spi in rekey {
        // An SA the peer is rekeying right now is left to that exchange (strongSwan's
        // rekey job skips an SA that is not INSTALLED).
        let theirs = being_rekeyed(ep, i, spi);
        if let Some(c) = ep.sas[i].ipsec.iter_mut().find(|c| c.spi_in == spi) {
            c.rekey_at = None;
        }
        if !theirs {
            initiate(ep, now, i, Some(spi));
        }
    }
}
