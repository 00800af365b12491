//! How rekeys end, including when both peers rekey the same SA at once (RFC 7296 §2.8.1,
//! §2.8.2, §2.25; REFERENCE.md). With the nonce rule (strongSwan), the exchange whose lower
//! nonce is the lowest of the four created the redundant SA, and its initiator deletes that
//! SA; the other exchange's initiator deletes the old one. A refused rekey is retried after
//! TEMPORARY_FAILURE (6-15 s later) unless the peer's own rekey already replaced the SA;
//! after CHILD_SA_NOT_FOUND the CHILD_SA is recreated from scratch. Without the nonce rule
//! (libreswan) both new SAs stay and the rekey initiator expires the old SA 1 s later.

use sim_core::{Duration, SimTime};

use super::rekey_ike_sa::move_children;
use super::sa::{Collision, Command};
use super::{ChildState, Endpoint, IkeState};
use crate::events::{Event, SaChange, SaKind, SaRef};
use crate::ikev2::consts::NotifyType;
use crate::ikev2::payload::NotifyPayload;

/// The lower of an exchange's two nonces. Slices compare octet by octet, and a nonce that
/// is a prefix of a longer one is lower, as §2.8.1 asks.
pub fn min_nonce<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    a.min(b)
}

fn report(
    ep: &mut Endpoint,
    i: usize,
    now: SimTime,
    kind: SaKind,
    resolution: &'static str,
    extra: u32,
) {
    let tunnel = ep.sas[i].tunnel;
    ep.events.push_back((
        now,
        Event::Collision {
            tunnel,
            kind,
            resolution,
            extra_exchanges: extra,
        },
    ));
}

/// Our rekey of CHILD_SA `old` on SA `i` succeeded and installed CHILD_SA `new`;
/// `collision` is the peer's rekey of the same SA that we answered meanwhile.
pub(super) fn child_rekey_completed(
    ep: &mut Endpoint,
    now: SimTime,
    i: usize,
    old: u32,
    new: u32,
    ours_min: &[u8],
    collision: Option<Collision>,
) {
    if let Some(c) = &collision
        && ours_min < c.peer_min_nonce.as_slice()
    {
        // Our exchange has the lowest nonce: the SA it made is redundant and ours to
        // delete; the peer deletes the old one (it may have done so already).
        if let Some(n) = ep.sas[i].child_index(new) {
            ep.set_child_state(i, n, now, ChildState::Deleting);
        }
        ep.sas[i].queue.push_front(Command::DeleteChild(new));
        if let Some(k) = ep.sas[i].child_index(old)
            && ep.sas[i].children[k].state == ChildState::Rekeying
        {
            ep.set_child_state(i, k, now, ChildState::Rekeyed);
        }
        report(
            ep,
            i,
            now,
            SaKind::Child,
            "nonce rule: deleted our redundant SA",
            2,
        );
        return;
    }
    let Some(k) = ep.sas[i].child_index(old) else {
        // The peer deleted it meanwhile: nothing left to replace or delete.
        return;
    };
    if ep.sas[i].children[k].state == ChildState::Deleting {
        // It expired during the rekey; its DELETE is on its way.
        return;
    }
    ep.set_child_state(i, k, now, ChildState::Rekeyed);
    let spi = SaRef::Child(old);
    ep.sa_event(
        i,
        now,
        SaKind::Child,
        spi,
        SaChange::Rekeyed,
        "CREATE_CHILD_SA rekey",
    );
    // Ours survives (or there was no collision): the old SA goes; after a collision the
    // peer deletes the SA its exchange made.
    match ep.cfg.rekey_style.delete_old_after() {
        Some(d) if collision.is_none() => ep.sas[i].children[k].expire_at = Some(now + d),
        _ => ep.sas[i].queue.push_front(Command::DeleteChild(old)),
    }
}

/// Our rekey of CHILD_SA `old` on SA `i` was refused with `n`; `replaced_by_peer` when we
/// answered the peer's rekey of the same SA meanwhile.
pub(super) fn child_rekey_refused(
    ep: &mut Endpoint,
    now: SimTime,
    i: usize,
    old: u32,
    replaced_by_peer: bool,
    n: &NotifyPayload,
) {
    let Some(k) = ep.sas[i].child_index(old) else {
        if n.ty == NotifyType::TEMPORARY_FAILURE {
            report(
                ep,
                i,
                now,
                SaKind::Child,
                "TEMPORARY_FAILURE: SA already gone",
                1,
            );
        }
        return;
    };
    if ep.sas[i].children[k].state == ChildState::Rekeying {
        ep.set_child_state(i, k, now, ChildState::Installed);
    }
    match n.ty {
        NotifyType::TEMPORARY_FAILURE if replaced_by_peer => {
            // The peer's rekey of this SA went through; it will delete the old one.
            ep.set_child_state(i, k, now, ChildState::Rekeyed);
            report(
                ep,
                i,
                now,
                SaKind::Child,
                "TEMPORARY_FAILURE: peer's rekey kept",
                1,
            );
        }
        NotifyType::TEMPORARY_FAILURE => {
            let wait = super::lifetimes::retry_delay(ep);
            ep.sas[i].children[k].retry_at = Some(now + wait);
            report(
                ep,
                i,
                now,
                SaKind::Child,
                "TEMPORARY_FAILURE: retry later",
                1,
            );
        }
        NotifyType::CHILD_SA_NOT_FOUND => {
            ep.remove_child(i, k, now, SaChange::Deleted, "CHILD_SA_NOT_FOUND");
            ep.sas[i].queue.push_front(Command::CreateChild);
            report(
                ep,
                i,
                now,
                SaKind::Child,
                "CHILD_SA_NOT_FOUND: recreated",
                1,
            );
        }
        // NO_PROPOSAL_CHOSEN and the like: the SA runs into its hard lifetime.
        _ => {}
    }
}

/// Our rekey of IKE SA `i` succeeded and created IKE SA `new`.
pub(super) fn ike_rekey_completed(
    ep: &mut Endpoint,
    now: SimTime,
    i: usize,
    new: usize,
    ours_min: &[u8],
) {
    match ep.sas[i].collision.take() {
        Some(c) if ours_min < c.peer_min_nonce.as_slice() => {
            // §2.8.2: our new IKE SA is redundant; the CHILD_SAs go to the peer's, and the
            // peer deletes the old one.
            let theirs = ep
                .sas
                .iter()
                .position(|s| (s.spi_i, s.spi_r) == c.created_ike);
            if let Some(t) = theirs {
                move_children(ep, i, t);
            }
            ep.set_ike_state(i, now, IkeState::Rekeyed);
            super::informational::delete_ike(ep, now, new);
            report(
                ep,
                i,
                now,
                SaKind::Ike,
                "nonce rule: deleted our redundant SA",
                2,
            );
        }
        Some(c) => {
            move_children(ep, i, new);
            if let Some(t) = ep
                .sas
                .iter()
                .position(|s| (s.spi_i, s.spi_r) == c.created_ike)
            {
                ep.sas[t].redundant_until = Some(now + Duration::from_secs(30));
            }
            super::informational::delete_ike(ep, now, i);
        }
        None => {
            move_children(ep, i, new);
            super::informational::delete_ike(ep, now, i);
        }
    }
    ep.pump(new, now);
}

/// Our rekey of IKE SA `i` was refused with `n`.
pub(super) fn ike_rekey_refused(ep: &mut Endpoint, now: SimTime, i: usize, n: &NotifyPayload) {
    let collision = ep.sas[i].collision.take();
    match (n.ty, collision) {
        (NotifyType::TEMPORARY_FAILURE, Some(c)) => {
            // The peer's rekey went through: adopt its IKE SA; the peer deletes this one.
            if let Some(t) = ep
                .sas
                .iter()
                .position(|s| (s.spi_i, s.spi_r) == c.created_ike)
            {
                move_children(ep, i, t);
            }
            ep.set_ike_state(i, now, IkeState::Rekeyed);
            report(
                ep,
                i,
                now,
                SaKind::Ike,
                "TEMPORARY_FAILURE: peer's rekey kept",
                1,
            );
        }
        (NotifyType::TEMPORARY_FAILURE, None) => {
            ep.set_ike_state(i, now, IkeState::Established);
            let wait = super::lifetimes::retry_delay(ep);
            ep.sas[i].retry_at = Some(now + wait);
            report(ep, i, now, SaKind::Ike, "TEMPORARY_FAILURE: retry later", 1);
        }
        (NotifyType::INVALID_KE_PAYLOAD, _) if n.data.len() == 2 => {
            ep.set_ike_state(i, now, IkeState::Established);
            let asked = crate::crypto::DhGroup::from_id(u16::from_be_bytes([n.data[0], n.data[1]]));
            if let Some(g) = asked.filter(|g| ep.cfg.dh_groups.contains(g)) {
                // §1.3: retry at once with the group asked for, and keep it for later.
                ep.sas[i].ke_group = g;
                ep.sas[i].queue.push_front(Command::RekeyIke);
            }
        }
        _ => {
            if ep.sas[i].state == IkeState::Rekeying {
                ep.set_ike_state(i, now, IkeState::Established);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::min_nonce;

    #[test]
    fn nonces_compare_octet_by_octet_and_a_prefix_is_lower() {
        assert_eq!(min_nonce(&[1, 2, 3], &[1, 2, 4]), &[1, 2, 3]);
        assert_eq!(min_nonce(&[9], &[1, 255, 255]), &[1, 255, 255]);
        assert_eq!(min_nonce(&[1, 2], &[1, 2, 0]), &[1, 2], "a prefix is lower");
        assert!(min_nonce(&[0, 5], &[7]) < min_nonce(&[0, 6], &[0, 5, 1]));
    }
}
