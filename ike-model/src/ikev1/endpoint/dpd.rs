//! Dead peer detection for IKEv1 (RFC 3706): after `dpd` without hearing from the peer, an
//! Informational with N(R-U-THERE, sequence number) goes out, repeated every `dpd` until an
//! R-U-THERE-ACK with the same number comes back; with none after `dpd_timeout` the peer is
//! declared dead and the ISAKMP SA and its IPsec SAs are removed. A peer that gets
//! R-U-THERE answers R-U-THERE-ACK.

use sim_core::SimTime;

use super::{Endpoint1, quick_mode};
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev1::consts::{notify, payload, protocol};
use crate::ikev1::payload::RawPayload;

/// A DPD probe in flight: its sequence number, when the first went, when to resend.
#[derive(Clone, Copy, Debug)]
pub(super) struct Probe {
    pub seq: u32,
    pub first_sent: SimTime,
    pub next_at: SimTime,
    pub sends: u32,
}

fn notification(ty: u16, icookie: u64, rcookie: u64, seq: u32) -> RawPayload {
    let mut b = vec![0, 0, 0, 1, protocol::ISAKMP, 16];
    b.extend_from_slice(&ty.to_be_bytes());
    b.extend_from_slice(&icookie.to_be_bytes());
    b.extend_from_slice(&rcookie.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    RawPayload {
        ty: payload::N,
        body: b,
    }
}

/// When SA `i` next needs DPD attention.
pub(super) fn due(ep: &Endpoint1, i: usize) -> Option<SimTime> {
    let delay = ep.cfg.dpd?;
    let sa = &ep.sas[i];
    if !sa.established || sa.dead {
        return None;
    }
    Some(match sa.probe {
        Some(p) => p.next_at.min(p.first_sent + ep.cfg.dpd_timeout),
        None => sa.last_received + delay,
    })
}

/// Sends, resends or gives up on DPD for SA `i`.
pub(super) fn fire(ep: &mut Endpoint1, now: SimTime, i: usize) {
    let Some(delay) = ep.cfg.dpd else { return };
    if due(ep, i).is_none_or(|t| t > now) {
        return;
    }
    let (ic, rc) = (ep.sas[i].icookie, ep.sas[i].rcookie);
    match ep.sas[i].probe {
        Some(p) if now >= p.first_sent + ep.cfg.dpd_timeout => {
            ep.finish(
                i,
                now,
                ExchangeKind::Informational1,
                Purpose::Dpd,
                p.first_sent,
                p.sends - 1,
                Outcome::Timeout,
            );
            ep.kill(i, now, "DPD timeout");
        }
        Some(mut p) => {
            p.sends += 1;
            p.next_at = now + delay;
            ep.sas[i].probe = Some(p);
            quick_mode::inform(
                ep,
                now,
                i,
                notification(notify::R_U_THERE, ic, rc, p.seq),
                false,
            );
        }
        None => {
            ep.sas[i].dpd_seq = ep.sas[i].dpd_seq.wrapping_add(1);
            let seq = ep.sas[i].dpd_seq;
            ep.sas[i].probe = Some(Probe {
                seq,
                first_sent: now,
                next_at: now + delay,
                sends: 1,
            });
            quick_mode::inform(
                ep,
                now,
                i,
                notification(notify::R_U_THERE, ic, rc, seq),
                false,
            );
        }
    }
}

/// Handles a Notification payload body received in an Informational on SA `i`.
pub(super) fn on_notify(ep: &mut Endpoint1, now: SimTime, i: usize, body: &[u8]) {
    if body.len() < 8 {
        return;
    }
    let ty = u16::from_be_bytes([body[6], body[7]]);
    let spi_len = usize::from(body[5]);
    let Some(data) = body.get(8 + spi_len..8 + spi_len + 4) else {
        return;
    };
    let seq = u32::from_be_bytes(data.try_into().expect("4 bytes"));
    let (ic, rc) = (ep.sas[i].icookie, ep.sas[i].rcookie);
    match ty {
        notify::R_U_THERE => {
            quick_mode::inform(
                ep,
                now,
                i,
                notification(notify::R_U_THERE_ACK, ic, rc, seq),
                false,
            );
        }
        notify::R_U_THERE_ACK => {
            if let Some(p) = ep.sas[i].probe
                && p.seq == seq
            {
                ep.sas[i].probe = None;
                ep.finish(
                    i,
                    now,
                    ExchangeKind::Informational1,
                    Purpose::Dpd,
                    p.first_sent,
                    p.sends - 1,
                    Outcome::Success,
                );
            }
        }
        _ => {}
    }
}
