//! The IKEv1 endpoint's messages on the wire: sealing and opening them with the Phase 1
//! keys and IV chains (RFC 2409 Appendix B), sending them with their retransmission state,
//! and the answers kept for repeated requests.

use sim_core::SimTime;

use super::{Endpoint1, Outstanding, PRF, QuickMode};
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev1::consts::{exchange, flags};
use crate::ikev1::crypto::{decrypt, encrypt, phase2_iv};
use crate::ikev1::header::Header;
use crate::ikev1::payload::{RawPayload, decode_chain, encode_chain};

impl Endpoint1 {
    /// Decrypts an encrypted message of SA `i`, advancing the right IV chain.
    pub(super) fn open(&mut self, i: usize, h: &Header, bytes: &[u8]) -> Option<Vec<RawPayload>> {
        let sa = &mut self.sas[i];
        let ka = sa.keys.as_ref()?.ka.clone();
        let phase1 = h.exchange == exchange::MAIN_MODE || h.exchange == exchange::AGGRESSIVE;
        let iv = if phase1 {
            sa.iv.clone()
        } else {
            match sa.quick.get(&h.message_id) {
                Some(q) => q.iv.clone(),
                None => phase2_iv(PRF, self.cfg.encr, &sa.last_p1, h.message_id),
            }
        };
        let (plain, next) = decrypt(self.cfg.encr, &ka, &iv, &bytes[28..]).ok()?;
        let (p, _) = decode_chain(h.next_payload, &plain).ok()?;
        if phase1 {
            sa.iv = next.clone();
            sa.last_p1 = next;
        } else if let Some(q) = sa.quick.get_mut(&h.message_id) {
            q.iv = next;
        } else {
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
        let sa = &mut self.sas[i];
        let body = if encrypted {
            let ka = sa.keys.as_ref().expect("keys before encryption").ka.clone();
            let phase1 = ex == exchange::MAIN_MODE || ex == exchange::AGGRESSIVE;
            let iv = if phase1 {
                sa.iv.clone()
            } else {
                match sa.quick.get(&message_id) {
                    Some(q) => q.iv.clone(),
                    None => phase2_iv(PRF, self.cfg.encr, &sa.last_p1, message_id),
                }
            };
            let (c, next) = encrypt(self.cfg.encr, &ka, &iv, &body).expect("our lengths");
            if phase1 {
                sa.iv = next.clone();
                sa.last_p1 = next;
            } else if let Some(q) = sa.quick.get_mut(&message_id) {
                q.iv = next;
            }
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
        let mut m = h.encode().to_vec();
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
            let first_sent = sa
                .outstanding
                .get(&message_id)
                .filter(|o| o.kind == kind)
                .map_or(now, |o| o.first_sent);
            sa.outstanding.insert(
                message_id,
                Outstanding {
                    bytes: bytes.clone(),
                    kind,
                    purpose,
                    first_sent,
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
                o.sends - 1,
                outcome,
            );
        }
    }

    /// Records our answer to message ID `mid` (resent when the peer repeats itself).
    pub(super) fn remember_answer(&mut self, i: usize, mid: u32, bytes: &[u8]) {
        self.sas[i].answers.insert(mid, bytes.to_vec());
    }
}
