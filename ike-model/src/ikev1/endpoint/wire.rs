//! The IKEv1 endpoint's messages on the wire: sealing and opening them with the Phase 1
//! keys and IV chains (RFC 2409 Appendix B), sending them with their retransmission state,
//! and the answers kept for repeated requests.

use std::borrow::Cow;
use std::collections::VecDeque;

use sim_core::SimTime;

use super::{Endpoint1, IsakmpSa, Outstanding, QuickMode};
use crate::crypto::EncrAlg;
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev1::consts::{exchange, flags};
use crate::ikev1::crypto::{Prf1, decrypt_as, encrypt_as, phase2_iv};
use crate::ikev1::header::Header;
use crate::ikev1::payload::{RawPayload, decode_chain, encode_chain};

/// The IV a message of exchange type `ex` and message ID `mid` of SA `sa` is encrypted
/// with: Phase 1's chain, the chain of an exchange under way, or the first IV of a new
/// Phase 2 or Informational exchange (RFC 2409 Appendix B).
fn chain_iv<'a>(sa: &'a IsakmpSa, prf: Prf1, encr: EncrAlg, ex: u8, mid: u32) -> Cow<'a, [u8]> {
    if ex == exchange::MAIN_MODE || ex == exchange::AGGRESSIVE {
        return Cow::Borrowed(&sa.iv);
    }
    match sa.quick.get(&mid) {
        Some(q) => Cow::Borrowed(&q.iv),
        None => Cow::Owned(phase2_iv(prf, encr, &sa.last_p1, mid)),
    }
}

/// Continues the chain of [`chain_iv`] with `next` (the last ciphertext block); gives it
/// back when no exchange `mid` is under way to keep it.
fn continue_chain(sa: &mut IsakmpSa, ex: u8, mid: u32, next: Vec<u8>) -> Result<(), Vec<u8>> {
    if ex == exchange::MAIN_MODE || ex == exchange::AGGRESSIVE {
        sa.iv = next.clone();
        sa.last_p1 = next;
    } else if let Some(q) = sa.quick.get_mut(&mid) {
        q.iv = next;
    } else {
        return Err(next);
    }
    Ok(())
}

impl Endpoint1 {
    /// Decrypts an encrypted message of SA `i`, advancing the right IV chain.
    pub(super) fn open(&mut self, i: usize, h: &Header, bytes: &[u8]) -> Option<Vec<RawPayload>> {
        let (prf, encr) = (self.prf1(), self.cfg.encr);
        let sa = &mut self.sas[i];
        let keys = sa.keys.as_ref()?;
        let iv = chain_iv(sa, prf, encr, h.exchange, h.message_id);
        let (plain, next) = decrypt_as(self.protection, encr, &keys.ka, &iv, &bytes[28..]).ok()?;
        let (p, _) = decode_chain(h.next_payload, &plain).ok()?;
        if let Err(next) = continue_chain(sa, h.exchange, h.message_id, next) {
            // A new exchange from the peer: remember where its chain is.
            sa.quick.insert(
                h.message_id,
                QuickMode {
                    initiator: false,
                    iv: next,
                    ni: vec![],
                    nr: vec![],
                    spi_in: 0,
                    spi_out: 0,
                    dh: None,
                    gxy: None,
                    rekey_of: None,
                    started: SimTime::ZERO,
                    life: 0,
                },
            );
        }
        Some(p)
    }

    /// Builds a message of SA `i`: header and payloads, encrypted after Phase 1 keys exist
    /// (`encrypted`), advancing the IV chain.
    pub(super) fn build(
        &mut self,
        i: usize,
        ex: u8,
        message_id: u32,
        payloads: &[RawPayload],
        encrypted: bool,
    ) -> Vec<u8> {
        let (first, body) = encode_chain(payloads);
        let (prf, encr) = (self.prf1(), self.cfg.encr);
        let sa = &mut self.sas[i];
        let body = if encrypted {
            let keys = sa.keys.as_ref().expect("keys before encryption");
            let iv = chain_iv(sa, prf, encr, ex, message_id);
            let (c, next) =
                encrypt_as(self.protection, encr, &keys.ka, &iv, &body).expect("our lengths");
            // A message of no exchange (an Informational we send) keeps no chain.
            let _ = continue_chain(sa, ex, message_id, next);
            c
        } else {
            body
        };
        let h = Header {
            icookie: sa.icookie,
            rcookie: sa.rcookie,
            next_payload: first,
            version: 0x10,
            exchange: ex,
            flags: if encrypted { flags::ENCRYPTION } else { 0 },
            message_id,
            length: (28 + body.len()) as u32,
        };
        let mut m = Vec::with_capacity(28 + body.len());
        m.extend_from_slice(&h.encode());
        m.extend_from_slice(&body);
        m
    }

    /// Sends `bytes` on SA `i` and, with `expect` = (message ID, kind, purpose, report),
    /// resends them until an answer comes.
    pub(super) fn send(
        &mut self,
        i: usize,
        now: SimTime,
        bytes: Vec<u8>,
        expect: Option<(u32, ExchangeKind, Purpose, bool)>,
    ) {
        let sa = &mut self.sas[i];
        if let Some((message_id, kind, purpose, report)) = expect {
            let wait = self.cfg.retransmit.draw_interval(0, &mut self.rng);
            let (first_sent, earlier_resends) = sa
                .outstanding
                .get(&message_id)
                .filter(|o| o.kind == kind)
                .map_or((now, 0), |o| {
                    (o.first_sent, o.earlier_resends.saturating_add(o.sends - 1))
                });
            sa.outstanding.insert(
                message_id,
                Outstanding {
                    bytes: bytes.clone(),
                    kind,
                    purpose,
                    first_sent,
                    earlier_resends,
                    sends: 1,
                    next_at: now + wait,
                    report,
                },
            );
        }
        self.emit(i, now, bytes);
    }

    /// Puts `bytes` on the wire for SA `i`, behind the non-ESP marker once on 4500.
    pub(super) fn emit(&mut self, i: usize, now: SimTime, bytes: Vec<u8>) {
        let sa = &mut self.sas[i];
        sa.last_sent = now;
        let bytes = if sa.natt {
            let mut m = vec![0u8; 4];
            m.extend_from_slice(&bytes);
            m
        } else {
            bytes
        };
        self.out.push_back((sa.local, sa.peer, bytes));
    }

    /// Ends the wait for an answer to message ID `mid`, reporting it if we started it.
    pub(super) fn answered(&mut self, i: usize, now: SimTime, mid: u32, outcome: Outcome) {
        if let Some(o) = self.sas[i].outstanding.remove(&mid)
            && o.report
        {
            self.finish(
                i,
                now,
                o.kind,
                o.purpose,
                o.first_sent,
                u32::from(o.earlier_resends) + u32::from(o.sends) - 1,
                outcome,
            );
        }
    }

    /// Records our answer to message ID `mid` (resent when the peer repeats itself).
    pub(super) fn remember_answer(&mut self, i: usize, mid: u32, bytes: &[u8]) {
        let answers = &mut self.sas[i].answers;
        answers.retain(|(m, _)| *m != mid);
        push_bounded(answers, ANSWERS_KEPT, (mid, bytes.to_vec()));
    }
}

/// Answers an ISAKMP SA keeps for repeated requests.
pub(super) const ANSWERS_KEPT: usize = 4;

/// Hashes of received messages an ISAKMP SA keeps to spot repeats.
pub(super) const SEEN_KEPT: usize = 16;

impl IsakmpSa {
    /// Notes a received message's hash, forgetting the oldest beyond `SEEN_KEPT`.
    pub(super) fn remember_seen(&mut self, digest: [u8; 20]) {
        push_bounded(&mut self.seen, SEEN_KEPT, digest);
    }
}

/// Appends `x`, dropping the oldest item when `q` already holds `cap`.
fn push_bounded<T>(q: &mut VecDeque<T>, cap: usize, x: T) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(x);
}

#[cfg(test)]
mod tests {
    use super::super::{Config1, phase1};
    use super::*;
    use crate::policy::LifetimePolicy;
    use crate::policy::lifetime::HardExpiry;
    use sim_core::{Duration, RngStreams};

    fn endpoint() -> Endpoint1 {
        let cfg = Config1 {
            modeled: true,
            child_lifetime: LifetimePolicy::StrongSwan {
                rekey_time: Duration::from_secs(3_600),
                rand_time: Duration::ZERO,
                hard: HardExpiry::LifeTime(Duration::from_secs(3_960)),
                granularity: None,
                ike: false,
            },
            ..Config1::reference("10.0.0.1".parse().unwrap(), b"psk")
        };
        Endpoint1::new(cfg, RngStreams::new(1).stream("ep"))
    }

    /// An ISAKMP SA living for hours answers DPD and Quick Modes all along: it keeps only
    /// its latest answers and hashes, and a new answer to a message ID replaces the old.
    #[test]
    fn an_isakmp_sa_keeps_only_its_latest_answers_and_hashes() {
        let mut ep = endpoint();
        let (a, b) = (
            "10.0.0.1:500".parse().unwrap(),
            "10.0.0.2:500".parse().unwrap(),
        );
        let sa = phase1::new_sa(&ep, 0, false, false, a, b);
        let i = ep.push_sa(sa);
        for mid in 1..=40u32 {
            ep.remember_answer(i, mid, &mid.to_be_bytes());
            ep.sas[i].remember_seen([mid as u8; 20]);
        }
        // A repeated answer for the same message ID replaces the earlier one.
        ep.remember_answer(i, 40, b"again");
        let sa = &ep.sas[i];
        let mids: Vec<u32> = sa.answers.iter().map(|(m, _)| *m).collect();
        assert_eq!(mids, vec![37, 38, 39, 40]);
        assert_eq!(sa.answers.back().unwrap().1, b"again");
        assert_eq!(sa.seen.len(), SEEN_KEPT);
        assert!(sa.seen.contains(&[40; 20]) && !sa.seen.contains(&[24; 20]));
    }
}
