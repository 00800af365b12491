//! SA lifetimes at work (RFC 7296 §2.8, REFERENCE.md "Lifetimes and jitter"): each peer
//! draws its own rekey and expiry times when it installs an SA, starts the rekey when the
//! first comes, retries a rekey refused with TEMPORARY_FAILURE, and deletes an SA whose hard
//! lifetime ran out.

use rand::RngExt;
use sim_core::{Duration, SimTime};

use super::sa::Command;
use super::{ChildState, Endpoint, IkeState};
use crate::events::SaChange;

/// Sets the rekey and expiry times of CHILD_SA `k` of SA `i`, installed now.
pub(super) fn arm_child(ep: &mut Endpoint, i: usize, k: usize, now: SimTime) {
    let initiated = ep.sas[i].children[k].initiated;
    let t = ep.cfg.child_lifetime.draw(initiated, &mut ep.rng);
    let c = &mut ep.sas[i].children[k];
    c.rekey_at = t.rekey_after.map(|d| now + d);
    c.expire_at = t.expire_after.map(|d| now + d);
}

/// Sets the rekey and expiry times of IKE SA `i`, installed now.
pub(super) fn arm_ike(ep: &mut Endpoint, i: usize, now: SimTime) {
    let initiated = ep.sas[i].initiator;
    let t = ep.cfg.ike_lifetime.draw(initiated, &mut ep.rng);
    let sa = &mut ep.sas[i];
    sa.rekey_at = t.rekey_after.map(|d| now + d);
    sa.expire_at = t.expire_after.map(|d| now + d);
}

/// strongSwan's wait before retrying a rekey refused with TEMPORARY_FAILURE: 6 to 15 s.
pub(super) fn retry_delay(ep: &mut Endpoint) -> Duration {
    Duration::from_secs_f64(ep.rng.random_range(6.0..15.0))
}

/// The earliest lifetime event of SA `i`.
pub(super) fn next_due(ep: &Endpoint, i: usize) -> Option<SimTime> {
    let sa = &ep.sas[i];
    let mut due = crate::wakeups::Earliest::default();
    due.take(sa.expire_at);
    due.take(sa.redundant_until);
    if matches!(sa.state, IkeState::Established) {
        due.take(sa.rekey_at);
        due.take(sa.retry_at);
    }
    for c in &sa.children {
        if c.state == ChildState::Installed {
            due.take(c.rekey_at);
            due.take(c.retry_at);
        }
        due.take(c.expire_at);
    }
    due.0
}

/// Carries out the lifetime events of SA `i` due at `now`.
pub(super) fn fire(ep: &mut Endpoint, now: SimTime, i: usize) {
    let due = |t: Option<SimTime>| t.is_some_and(|t| t <= now);
    if due(ep.sas[i].redundant_until) {
        ep.kill(i, now, "redundant IKE SA after a collision");
        return;
    }
    if due(ep.sas[i].expire_at) {
        ep.sas[i].expire_at = None;
        let spi = ep.sas[i].sa_ref();
        ep.sa_event(
            i,
            now,
            crate::events::SaKind::Ike,
            spi,
            SaChange::Expired,
            "hard lifetime",
        );
        if matches!(ep.sas[i].state, IkeState::Established | IkeState::Rekeying) {
            ep.sas[i].queue.clear();
            super::informational::delete_ike(ep, now, i);
        } else {
            ep.kill(i, now, "hard lifetime");
        }
        return;
    }
    let mut k = 0;
    while k < ep.sas[i].children.len() {
        let c = &mut ep.sas[i].children[k];
        if due(c.expire_at) {
            // strongSwan destroys the SA at once and tells the peer afterwards.
            let spi = c.spi_in;
            let announced = c.state == ChildState::Deleting;
            ep.remove_child(i, k, now, SaChange::Expired, "hard lifetime");
            if !announced {
                ep.sas[i].queue.push_back(Command::DeleteExpired(spi));
            }
            restart_if_childless(ep, now, i);
            continue;
        } else if c.state == ChildState::Installed && (due(c.rekey_at) || due(c.retry_at)) {
            c.rekey_at = None;
            c.retry_at = None;
            let spi = c.spi_in;
            let (ts_l, ts_r) = (c.ts_local.clone(), c.ts_remote.clone());
            // libreswan replaces only the newest SA of a connection; older parallel ones
            // run out.
            let superseded = ep.cfg.rekey_style == super::RekeyStyle::Libreswan
                && ep.sas[i].children[k + 1..].iter().any(|n| {
                    n.state == ChildState::Installed && n.ts_local == ts_l && n.ts_remote == ts_r
                });
            if !superseded {
                ep.sas[i].queue.push_back(Command::RekeyChild(spi));
            }
        }
        k += 1;
    }
    let sa = &mut ep.sas[i];
    if sa.state == IkeState::Established && (due(sa.rekey_at) || due(sa.retry_at)) {
        sa.rekey_at = None;
        sa.retry_at = None;
        sa.queue.push_back(Command::RekeyIke);
    }
    ep.pump(i, now);
}

/// An SRX-like initiator whose tunnel lost its last CHILD_SA sets the tunnel up again from
/// scratch: a new IKE SA (whose IKE_AUTH carries a CHILD_SA without PFS), the old one deleted.
fn restart_if_childless(ep: &mut Endpoint, now: SimTime, i: usize) {
    let tunnel = ep.sas[i].tunnel;
    let usable = !ep.sas[i].children.is_empty();
    if usable || !ep.cfg.restart_when_childless {
        return;
    }
    let Some(peer) = ep
        .started
        .iter()
        .find(|(t, _)| *t == tunnel)
        .map(|(_, p)| *p)
    else {
        return;
    };
    ep.sas[i].queue.push_back(Command::DeleteIke);
    ep.start_tunnel(now, tunnel, peer);
}
