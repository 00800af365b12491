//! Sending: fresh SPIs, nonces and padding from the endpoint's random stream, sealing inner
//! payloads into an SK payload (RFC 7296 §3.14), putting messages on the wire (behind the
//! non-ESP marker on UDP 4500, §2.23), and the request/response state that retransmission
//! (§2.1) and the response cache (§2.2) need.

use rand::Rng;
use sim_core::SimTime;

use super::sa::{self, Pending, Request};
use super::{Endpoint, FLAG_INITIATOR, FLAG_RESPONSE, Transmit, nat};
use crate::events::{Event, ExchangeKind, IkeVersion, Outcome, Purpose};
use crate::ikev2::consts::{ExchangeType, PayloadType};
use crate::ikev2::header::Header;
use crate::ikev2::payload::Payload;
use crate::ikev2::protect::{padding_len, seal_plain};

thread_local! {
    /// Where `seal_message` encodes inner payloads before sealing them.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Endpoint {
    pub(super) fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    pub(super) fn random_spi(&mut self) -> u64 {
        loop {
            let s = self.rng.next_u64();
            if s != 0 {
                return s;
            }
        }
    }

    pub(super) fn random_child_spi(&mut self) -> u32 {
        // strongSwan allocates SPIs in 0xc0000000..0xcfffffff, each unique at this host (the
        // kernel refuses duplicates): among 10^5 SAs a few random draws would collide.
        loop {
            let spi = 0xc000_0000 | (self.rng.next_u32() & 0x0fff_ffff);
            if !self.index.child_spis.contains_key(&spi) && !self.is_lingering(spi) {
                return spi;
            }
        }
    }

    /// Seals `inner` into a message of SA `i` with fresh IV and padding.
    pub(super) fn seal_message(
        &mut self,
        i: usize,
        exchange: ExchangeType,
        response: bool,
        message_id: u32,
        inner: &[Payload],
    ) -> Vec<u8> {
        let sa = &self.sas[i];
        let mut flags = if sa.initiator { FLAG_INITIATOR } else { 0 };
        if response {
            flags |= FLAG_RESPONSE;
        }
        let h = Header {
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            next_payload: PayloadType::NONE,
            major: 2,
            minor: 0,
            exchange,
            flags,
            message_id,
            length: 0,
        };
        let block = sa
            .keys
            .as_ref()
            .expect("sealing needs keys")
            .suite
            .encr
            .block_len();
        // Encoded into a buffer the thread keeps (no allocation once it has grown), then
        // sealed into the message's one allocation.
        SCRATCH
            .with_borrow_mut(|plain| {
                plain.clear();
                crate::ikev2::payload::encode_payload_chain_into(inner, plain);
                let inner_next = inner.first().map_or(PayloadType::NONE, Payload::ty);
                // Both under one cipher block (16 bytes for AES), drawn as two calls as before.
                let (mut iv, mut padding) = ([0u8; 32], [0u8; 32]);
                let iv = &mut iv[..block];
                let padding = &mut padding[..padding_len(plain.len(), block)];
                self.rng.fill_bytes(iv);
                self.rng.fill_bytes(padding);
                let keys = self.sas[i].keys.as_ref().expect("sealing needs keys");
                seal_plain(self.protection, keys, &h, inner_next, plain, iv, padding)
            })
            .expect("lengths are ours")
    }

    /// Puts an IKE message of SA `i` on the wire (behind the non-ESP marker on 4500).
    pub(super) fn emit(&mut self, i: usize, bytes: Vec<u8>) {
        self.sas[i].last_sent = self.clock;
        let sa = &self.sas[i];
        self.out.push_back(Transmit {
            src: sa.local,
            dst: sa.peer,
            payload: nat::frame(sa.local.port(), bytes),
        });
    }

    /// Sends a request on SA `i` and starts its retransmission timer.
    pub(super) fn send_request(
        &mut self,
        i: usize,
        now: SimTime,
        bytes: Vec<u8>,
        kind: ExchangeKind,
        purpose: Purpose,
        req: Request,
    ) {
        let wait = self.cfg.retransmit.draw_interval(0, &mut self.rng);
        let sa = &mut self.sas[i];
        let msgid = sa.next_msgid;
        sa.next_msgid += 1;
        // Boxed: a fresh allocation is warm in cache, where the SA's own slot was last
        // written an hour ago (five cold lines per request at a concentrator).
        sa::push_tight(
            &mut sa.pending,
            Box::new(Pending {
                msgid,
                bytes: bytes.clone(),
                kind,
                purpose,
                first_sent: now,
                sends: 1,
                next_at: now + wait,
                req,
            }),
        );
        self.emit(i, bytes);
    }

    /// Sends a response on SA `i`, caching it for retransmitted requests.
    pub(super) fn send_response(&mut self, i: usize, msgid: u32, bytes: Vec<u8>) {
        let window = self.cfg.window.max(1) as usize;
        let sa = &mut self.sas[i];
        sa.responses.push_back((msgid, bytes.clone()));
        while sa.responses.len() > window {
            sa.responses.pop_front();
        }
        if msgid == sa.expect_msgid {
            sa.expect_msgid += 1;
            while sa.answered_above.remove(&sa.expect_msgid) {
                sa.expect_msgid += 1;
            }
        } else {
            sa.answered_above.insert(msgid);
        }
        self.emit(i, bytes);
    }

    /// Reports the end of the exchange of request `p` (already taken off SA `i`).
    pub(super) fn finish_pending(&mut self, i: usize, now: SimTime, p: &Pending, outcome: Outcome) {
        let tunnel = self.sas[i].tunnel;
        self.events.push_back((
            now,
            Event::ExchangeFinished {
                tunnel,
                version: IkeVersion::V2,
                kind: p.kind,
                purpose: p.purpose,
                started: p.first_sent,
                ended: now,
                retransmissions: p.sends - 1,
                outcome,
            },
        ));
    }
}
