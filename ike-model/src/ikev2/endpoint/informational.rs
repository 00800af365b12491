//! INFORMATIONAL exchanges (RFC 7296 §1.4): DELETE of CHILD_SAs and of the IKE SA, and the
//! empty liveness check (§2.4) strongSwan sends as DPD when nothing was received for `dpd`
//! and no exchange is in flight.

use sim_core::SimTime;

use super::sa::{ChildSpis, Pending, Request};
use super::{ChildState, Endpoint, IkeState};
use crate::events::{ExchangeKind, Outcome, Purpose, SaChange};
use crate::ikev2::consts::{ExchangeType, ProtocolId};
use crate::ikev2::payload::{DeletePayload, Payload, SpiBytes};
use crate::ikev2::protect::Opened;

/// When SA `i` should send its next liveness check, if DPD is on and it is idle.
pub(super) fn dpd_due(ep: &Endpoint, i: usize) -> Option<SimTime> {
    let sa = &ep.sas[i];
    let delay = ep.cfg.dpd?;
    (sa.state == IkeState::Established && sa.pending.is_empty() && sa.queue.is_empty())
        .then(|| sa.last_received.saturating_add(delay))
}

fn send(
    ep: &mut Endpoint,
    now: SimTime,
    i: usize,
    inner: &[Payload],
    purpose: Purpose,
    req: Request,
) {
    let msgid = ep.sas[i].next_msgid;
    let bytes = ep.seal_message(i, ExchangeType::INFORMATIONAL, false, msgid, inner);
    ep.send_request(i, now, bytes, ExchangeKind::Informational, purpose, req);
}

/// Sends an empty INFORMATIONAL request on SA `i`.
pub(super) fn send_liveness_check(ep: &mut Endpoint, now: SimTime, i: usize) {
    send(ep, now, i, &[], Purpose::Dpd, Request::Liveness);
}

fn esp_delete(spis: &[u32]) -> Payload {
    Payload::Delete(DeletePayload {
        protocol: ProtocolId::ESP,
        spi_size: 4,
        spis: spis
            .iter()
            .map(|s| SpiBytes::from_slice(&s.to_be_bytes()))
            .collect(),
    })
}

/// Deletes CHILD_SAs of SA `i` by our inbound SPIs (each side's D names its own inbound
/// SPI, §1.4.1).
pub(super) fn delete_children(ep: &mut Endpoint, now: SimTime, i: usize, spis: ChildSpis) {
    for s in &spis {
        if let Some(k) = ep.sas[i].child_index(*s) {
            ep.set_child_state(i, k, now, ChildState::Deleting);
        }
    }
    send(
        ep,
        now,
        i,
        &[esp_delete(&spis)],
        Purpose::Delete,
        Request::DeleteChild { spis },
    );
}

/// Deletes IKE SA `i` (and with it its CHILD_SAs).
pub(super) fn delete_ike(ep: &mut Endpoint, now: SimTime, i: usize) {
    ep.set_ike_state(i, now, IkeState::Deleting);
    let d = Payload::Delete(DeletePayload {
        protocol: ProtocolId::IKE,
        spi_size: 0,
        spis: Default::default(),
    });
    send(ep, now, i, &[d], Purpose::Delete, Request::DeleteIke);
}

/// Answers an INFORMATIONAL request on SA `i`: deletes what it names, answers a CHILD_SA
/// delete with our inbound SPIs of the same pairs, and anything else with an empty message.
pub(super) fn respond(ep: &mut Endpoint, now: SimTime, i: usize, opened: &Opened) {
    let msgid = opened.message.header.message_id;
    let mut delete_ike = false;
    let mut ours = Vec::new();
    for p in &opened.inner {
        let Payload::Delete(d) = p else { continue };
        if d.protocol == ProtocolId::IKE {
            delete_ike = true;
        } else if d.protocol == ProtocolId::ESP {
            for spi in &d.spis {
                let Ok(spi) = <[u8; 4]>::try_from(spi.as_slice()) else {
                    continue;
                };
                let spi = u32::from_be_bytes(spi);
                if let Some(k) = ep.sas[i].children.iter().position(|c| c.spi_out == spi) {
                    // A pair we are deleting ourselves is not named again (§1.4.1).
                    if ep.sas[i].children[k].state != ChildState::Deleting {
                        ours.push(ep.sas[i].children[k].spi_in);
                    }
                    ep.remove_child(i, k, now, SaChange::Deleted, "deleted by peer");
                }
            }
        }
    }
    let reply: Vec<Payload> = if ours.is_empty() || delete_ike {
        Vec::new()
    } else {
        vec![esp_delete(&ours)]
    };
    let bytes = ep.seal_message(i, ExchangeType::INFORMATIONAL, true, msgid, &reply);
    ep.send_response(i, msgid, bytes);
    if delete_ike {
        // §2.8.2: we answered the peer's rekey while ours was in flight, and the peer
        // (which never saw ours) deletes the old SA: its new IKE SA takes the CHILD_SAs.
        if let Some(c) = ep.sas[i].collision.take()
            && let Some(t) = ep
                .sas
                .iter()
                .position(|s| (s.spi_i, s.spi_r) == c.created_ike)
        {
            super::rekey_ike_sa::move_children(ep, i, t);
            let tunnel = ep.sas[i].tunnel;
            ep.events.push_back((
                now,
                crate::events::Event::Collision {
                    tunnel,
                    kind: crate::events::SaKind::Ike,
                    resolution: "peer deleted the old SA: adopted its new SA",
                    extra_exchanges: 1,
                },
            ));
        }
        ep.kill(i, now, "deleted by peer");
    }
}

/// Handles the answer to our INFORMATIONAL request on SA `i`.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, p: Pending, _o: &Opened) {
    ep.finish_pending(i, now, &p, Outcome::Success);
    match &p.req {
        Request::DeleteChild { spis } => {
            for s in spis {
                if let Some(k) = ep.sas[i].child_index(*s) {
                    ep.remove_child(i, k, now, SaChange::Deleted, "deleted");
                }
            }
        }
        Request::DeleteIke => ep.kill(i, now, "deleted"),
        _ => {}
    }
}
