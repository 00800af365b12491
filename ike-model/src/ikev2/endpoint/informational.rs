//! INFORMATIONAL exchanges (RFC 7296 §1.4): for now the empty liveness check (§2.4) that
//! strongSwan sends as DPD when nothing was received for `dpd` seconds and no exchange is in
//! flight, and the empty answer to it.

use sim_core::SimTime;

use super::{Endpoint, IkeState};
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev2::consts::{ExchangeType, PayloadType};
use crate::ikev2::header::{FLAG_INITIATOR, FLAG_RESPONSE, Header};
use crate::ikev2::payload::Payload;
use crate::ikev2::protect::open;

fn header(ep: &Endpoint, i: usize, response: bool, message_id: u32) -> Header {
    let sa = &ep.sas[i];
    let mut flags = if sa.initiator { FLAG_INITIATOR } else { 0 };
    if response {
        flags |= FLAG_RESPONSE;
    }
    Header {
        spi_i: sa.spi_i,
        spi_r: sa.spi_r,
        next_payload: PayloadType::NONE,
        major: 2,
        minor: 0,
        exchange: ExchangeType::INFORMATIONAL,
        flags,
        message_id,
        length: 0,
    }
}

/// When SA `i` should send its next liveness check, if DPD is on and it is idle.
pub(super) fn dpd_due(ep: &Endpoint, i: usize) -> Option<SimTime> {
    let sa = &ep.sas[i];
    let delay = ep.cfg.dpd?;
    (sa.state == IkeState::Established && sa.pending.is_none())
        .then(|| sa.last_received.saturating_add(delay))
}

/// Sends an empty INFORMATIONAL request on SA `i`.
pub(super) fn send_liveness_check(ep: &mut Endpoint, now: SimTime, i: usize) {
    let msgid = ep.sas[i].next_msgid;
    let h = header(ep, i, false, msgid);
    let bytes = super::ike_auth::protect(ep, i, &h, &[]);
    ep.send_request(i, now, bytes, ExchangeKind::Informational, Purpose::Dpd);
}

/// Answers an INFORMATIONAL request on SA `i`.
pub(super) fn respond(ep: &mut Endpoint, i: usize, bytes: &[u8]) -> bool {
    let keys = ep.sas[i].keys.clone().expect("established");
    let Ok(opened) = open(&keys, bytes) else {
        return false;
    };
    let msgid = opened.message.header.message_id;
    // Deletes and notifies come with the rekey work; an empty request is a liveness check.
    let reply_inner: Vec<Payload> = Vec::new();
    let h = header(ep, i, true, msgid);
    let reply = super::ike_auth::protect(ep, i, &h, &reply_inner);
    ep.send_response(i, msgid, reply);
    true
}

/// Handles the answer to our INFORMATIONAL request on SA `i`.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, bytes: &[u8]) -> bool {
    let keys = ep.sas[i].keys.clone().expect("established");
    if open(&keys, bytes).is_err() {
        return false;
    }
    let p = ep.sas[i].pending.take().expect("checked by the caller");
    ep.finish_pending(i, now, &p, Outcome::Success);
    true
}
