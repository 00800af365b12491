//! IKE SA rekey (RFC 7296 §1.3.2, §2.18): CREATE_CHILD_SA with SA (IKE, new SPI), Ni, KEi,
//! answered by SA, Nr, KEr. The new IKE SA's keys come from the old SK_d, the new DH secret
//! and nonces; its message IDs start at 0; the CHILD_SAs move to it; the initiator of the
//! rekey deletes the old IKE SA. Simultaneous rekeys are resolved by the nonce rule
//! (§2.8.2) through `collisions`.

use sim_core::SimTime;

use super::collisions;
use super::messages::{ike_proposal, negotiate};
use super::sa::{Collision, Pending, Request};
use super::{Endpoint, IkeSa, IkeState};
use crate::crypto::DhPrivate;
use crate::events::{ExchangeKind, Outcome, Purpose, SaChange, SaKind};
use crate::ikev2::consts::{ExchangeType, NotifyType};
use crate::ikev2::keys::{derive_ike_keys_as, skeyseed_rekey_as};
use crate::ikev2::payload::{KePayload, NotifyPayload, Payload, SaPayload};
use crate::ikev2::protect::Opened;

/// Nonce length strongSwan uses.
const NONCE_LEN: usize = 32;

/// Whether a CREATE_CHILD_SA request rekeys the IKE SA (its SA payload proposes IKE).
pub(super) fn is_ike_rekey(inner: &[Payload]) -> bool {
    inner.iter().any(|p| {
        matches!(p, Payload::Sa(sa) if sa.proposals.iter().any(|pr| pr.protocol == crate::ikev2::consts::ProtocolId::IKE))
    })
}

fn spi_of(sa: &SaPayload) -> Option<u64> {
    let p = sa.proposals.first()?;
    Some(u64::from_be_bytes(p.spi.as_slice().try_into().ok()?))
}

/// Sends the IKE SA rekey request on SA `i`.
pub(super) fn initiate(ep: &mut Endpoint, now: SimTime, i: usize) {
    let spi = ep.random_spi();
    let nonce = ep.random_bytes(NONCE_LEN);
    let group = ep.sas[i].ke_group;
    let dh = DhPrivate::generate_with(group, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng);
    // All our groups, the one in use first (its KE goes with the request), as strongSwan.
    let mut offered = vec![group];
    offered.extend(ep.cfg.dh_groups.iter().copied().filter(|g| *g != group));
    ep.set_ike_state(i, now, IkeState::Rekeying);
    let inner = vec![
        Payload::Sa(ike_proposal(
            ep.cfg.suite,
            &offered,
            spi.to_be_bytes().to_vec(),
        )),
        Payload::Nonce(nonce.clone()),
        Payload::Ke(KePayload {
            group: group.id(),
            data: dh.public().to_vec(),
        }),
    ];
    let msgid = ep.sas[i].next_msgid;
    let bytes = ep.seal_message(i, ExchangeType::CREATE_CHILD_SA, false, msgid, &inner);
    ep.send_request(
        i,
        now,
        bytes,
        ExchangeKind::CreateChildSa,
        Purpose::RekeyIke,
        Request::RekeyIke { spi, nonce, dh },
    );
}

/// Creates the new IKE SA from a completed rekey of SA `i` and returns its index.
#[allow(clippy::too_many_arguments)]
fn create_new_sa(
    ep: &mut Endpoint,
    now: SimTime,
    i: usize,
    we_initiated: bool,
    spi_i: u64,
    spi_r: u64,
    ni: Vec<u8>,
    nr: Vec<u8>,
    g_ir: &[u8],
) -> usize {
    let old = &ep.sas[i];
    let old_keys = old.keys.as_ref().expect("established");
    let suite = old_keys.suite;
    let seed = skeyseed_rekey_as(ep.protection, suite.prf, old_keys.sk_d(), g_ir, &ni, &nr);
    let keys = derive_ike_keys_as(ep.protection, suite, &seed, &ni, &nr, spi_i, spi_r);
    let mut sa = IkeSa::new(
        old.tunnel,
        we_initiated,
        spi_i,
        old.local,
        old.peer,
        IkeState::Established,
        now,
        old.ke_group,
    );
    sa.spi_r = spi_r;
    sa.keys = Some(keys);
    sa.ni = ni;
    sa.nr = nr;
    sa.peer_id = old.peer_id;
    sa.send_window = old.send_window;
    sa.nat_here = old.nat_here;
    sa.nat_there = old.nat_there;
    sa.installed = true;
    let n = ep.push_sa(sa);
    ep.log_keys(n);
    let spi = ep.sas[n].sa_ref();
    ep.sa_event(
        n,
        now,
        SaKind::Ike,
        spi,
        SaChange::Installed,
        "IKE_SA rekey",
    );
    let tunnel = ep.sas[n].tunnel;
    if ep.state_events {
        ep.events.push_back((
            now,
            crate::events::Event::State {
                tunnel,
                kind: SaKind::Ike,
                spi,
                state: IkeState::Established.name(),
            },
        ));
    }
    super::lifetimes::arm_ike(ep, n, now);
    n
}

/// Moves the CHILD_SAs and queued CHILD_SA work of SA `from` to SA `to` (§2.8).
pub(super) fn move_children(ep: &mut Endpoint, from: usize, to: usize) {
    let children = std::mem::take(&mut ep.sas[from].children);
    // The new IKE SA usually has none yet: hand over the vector itself rather than
    // growing an empty one to four slots (a concentrator holds 10^5 of them).
    let dest = &mut ep.sas[to].children;
    if dest.is_empty() {
        *dest = children;
    } else {
        for c in children {
            super::sa::push_tight(dest, c);
        }
    }
    ep.file_child_spis(to);
    let queued: Vec<_> = ep.sas[from]
        .queue
        .drain(..)
        .filter(|c| {
            !matches!(
                c,
                super::sa::Command::DeleteIke | super::sa::Command::RekeyIke
            )
        })
        .collect();
    ep.sas[to].queue.extend(queued);
}

fn refuse(ep: &mut Endpoint, i: usize, msgid: u32, n: NotifyType, data: Vec<u8>) {
    let reply = ep.seal_message(
        i,
        ExchangeType::CREATE_CHILD_SA,
        true,
        msgid,
        &[Payload::Notify(NotifyPayload::new(n, data))],
    );
    ep.send_response(i, msgid, reply);
}

/// Answers an IKE SA rekey request on SA `i`.
pub(super) fn respond(ep: &mut Endpoint, now: SimTime, i: usize, opened: &Opened) {
    let msgid = opened.message.header.message_id;
    let inner = &opened.inner;
    // §2.25: not while a CHILD_SA rekey of ours is in flight, nor on an SA going away.
    let child_rekey_in_flight = ep.sas[i]
        .pending
        .iter()
        .any(|p| matches!(p.req, Request::CreateChild { .. }));
    if child_rekey_in_flight
        || !matches!(ep.sas[i].state, IkeState::Established | IkeState::Rekeying)
    {
        refuse(ep, i, msgid, NotifyType::TEMPORARY_FAILURE, vec![]);
        return;
    }
    let sa = inner.iter().find_map(|p| match p {
        Payload::Sa(sa) => Some(sa.clone()),
        _ => None,
    });
    let nonce = inner.iter().find_map(|p| match p {
        Payload::Nonce(n) => Some(n.clone()),
        _ => None,
    });
    let ke = inner.iter().find_map(|p| match p {
        Payload::Ke(k) => Some(k.clone()),
        _ => None,
    });
    let (Some(sa), Some(ni), Some(ke)) = (sa, nonce, ke) else {
        refuse(ep, i, msgid, NotifyType::INVALID_SYNTAX, vec![]);
        return;
    };
    let Some(group) = negotiate(ep.cfg.suite, &ep.cfg.dh_groups, &sa) else {
        refuse(ep, i, msgid, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
        return;
    };
    let Some(peer_spi) = spi_of(&sa) else {
        refuse(ep, i, msgid, NotifyType::INVALID_SYNTAX, vec![]);
        return;
    };
    if ke.group != group.id() {
        let data = group.id().to_be_bytes().to_vec();
        refuse(ep, i, msgid, NotifyType::INVALID_KE_PAYLOAD, data);
        return;
    }
    let dh = DhPrivate::generate_with(group, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng);
    let Ok(g_ir) = dh.shared_secret(&ke.data) else {
        refuse(ep, i, msgid, NotifyType::INVALID_SYNTAX, vec![]);
        return;
    };
    let spi = ep.random_spi();
    let nr = ep.random_bytes(NONCE_LEN);
    let reply = vec![
        Payload::Sa(ike_proposal(
            ep.cfg.suite,
            &[group],
            spi.to_be_bytes().to_vec(),
        )),
        Payload::Nonce(nr.clone()),
        Payload::Ke(KePayload {
            group: group.id(),
            data: dh.public().to_vec(),
        }),
    ];
    let bytes = ep.seal_message(i, ExchangeType::CREATE_CHILD_SA, true, msgid, &reply);
    ep.send_response(i, msgid, bytes);
    ep.sas[i].ke_group = group;
    let peer_min = collisions::min_nonce(&ni, &nr).to_vec();
    let n = create_new_sa(ep, now, i, false, peer_spi, spi, ni, nr, &g_ir);
    if ep.sas[i].state == IkeState::Rekeying && ep.cfg.rekey_style.nonce_rule() {
        // §2.8.2: ours is in flight too; its response decides which new SA survives.
        ep.sas[i].collision = Some(Collision {
            peer_min_nonce: peer_min,
            created_ike: (ep.sas[n].spi_i, ep.sas[n].spi_r),
        });
    } else {
        move_children(ep, i, n);
        ep.set_ike_state(i, now, IkeState::Rekeyed);
    }
}

/// Handles the response to our IKE SA rekey on SA `i`.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, p: Pending, opened: &Opened) {
    let Request::RekeyIke {
        spi,
        ref nonce,
        ref dh,
    } = p.req
    else {
        unreachable!("dispatched by request kind")
    };
    let inner = &opened.inner;
    if let Some(n) = inner.iter().find_map(|x| match x {
        Payload::Notify(n) if n.ty.is_error() => Some(n.clone()),
        _ => None,
    }) {
        ep.finish_pending(i, now, &p, Outcome::Refused(n.ty.to_string()));
        collisions::ike_rekey_refused(ep, now, i, &n);
        return;
    }
    let sa = inner.iter().find_map(|x| match x {
        Payload::Sa(sa) => Some(sa),
        _ => None,
    });
    let nr = inner.iter().find_map(|x| match x {
        Payload::Nonce(n) => Some(n.clone()),
        _ => None,
    });
    let ke = inner.iter().find_map(|x| match x {
        Payload::Ke(k) => Some(k),
        _ => None,
    });
    let agreed = match (sa, nr, ke) {
        (Some(sa), Some(nr), Some(ke)) if ke.group == dh.group().id() => spi_of(sa)
            .zip(dh.shared_secret(&ke.data).ok())
            .map(|(peer_spi, g)| (peer_spi, nr, g)),
        _ => None,
    };
    let Some((peer_spi, nr, g_ir)) = agreed else {
        ep.finish_pending(i, now, &p, Outcome::Refused("NO_PROPOSAL_CHOSEN".into()));
        if ep.sas[i].state == IkeState::Rekeying {
            ep.set_ike_state(i, now, IkeState::Established);
        }
        return;
    };
    ep.finish_pending(i, now, &p, Outcome::Success);
    let ours_min = collisions::min_nonce(nonce, &nr).to_vec();
    let n = create_new_sa(ep, now, i, true, spi, peer_spi, nonce.clone(), nr, &g_ir);
    collisions::ike_rekey_completed(ep, now, i, n, &ours_min);
}
