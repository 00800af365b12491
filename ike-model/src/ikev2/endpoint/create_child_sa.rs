//! CREATE_CHILD_SA for an additional CHILD_SA and for a CHILD_SA rekey (RFC 7296 §1.3.1,
//! §1.3.3): [N(REKEY_SA)], SA, Ni, [KEi], TSi, TSr answered by SA, Nr, [KEr], TSi, TSr.
//! Keys come from SK_d, the new nonces and, with PFS, the new DH secret (§2.17). After a
//! rekey the initiator switches to the new SA on the response and deletes the old one; the
//! responder keeps the old one until that DELETE arrives (§2.8).

use sim_core::SimTime;

use super::ike_auth::{narrow_for_responder, proposed_selectors, selectors_of};
use super::messages::{esp_accept, esp_proposal, flag};
use super::sa::{Pending, Request};
use super::selectors::within;
use super::{ChildSa, ChildState, Endpoint, Flavour, IkeState};
use crate::crypto::DhPrivate;
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev2::consts::{ExchangeType, NotifyType, ProtocolId};
use crate::ikev2::keys::child_keys;
use crate::ikev2::payload::{KePayload, NotifyPayload, Payload, Selectors, TsPayload};
use crate::ikev2::protect::Opened;

/// Nonce length strongSwan uses.
const NONCE_LEN: usize = 32;

fn rekey_notify(spi: u32) -> Payload {
    let mut n = NotifyPayload::new(NotifyType::REKEY_SA, vec![]);
    n.protocol = ProtocolId::ESP;
    n.spi = spi.to_be_bytes().to_vec();
    Payload::Notify(n)
}

/// Sends a CREATE_CHILD_SA request on SA `i`: a new CHILD_SA, or with `rekey` (our inbound
/// SPI) a replacement for that one.
pub(super) fn initiate(ep: &mut Endpoint, now: SimTime, i: usize, rekey: Option<u32>) {
    let spi_in = ep.random_child_spi();
    let nonce = ep.random_bytes(NONCE_LEN);
    let pfs = ep.cfg.esp_dh;
    let dh = pfs
        .map(|g| DhPrivate::generate_with(g, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng));
    let (ts_i, ts_r) = match rekey.and_then(|s| ep.sas[i].child_index(s)) {
        Some(k) => {
            let c = &ep.sas[i].children[k];
            (c.ts_local.clone(), c.ts_remote.clone())
        }
        None => proposed_selectors(ep, i),
    };
    let mut inner = Vec::new();
    if let Some(old) = rekey {
        inner.push(rekey_notify(old));
        if let Some(k) = ep.sas[i].child_index(old) {
            ep.set_child_state(i, k, now, ChildState::Rekeying);
        }
    }
    if ep.cfg.flavour == Flavour::StrongSwan {
        inner.push(flag(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED));
    }
    inner.push(Payload::Sa(esp_proposal(
        ep.cfg.esp_encr,
        ep.cfg.esp_integ,
        pfs,
        spi_in,
    )));
    inner.push(Payload::Nonce(nonce.clone()));
    if let Some(d) = &dh {
        inner.push(Payload::Ke(KePayload {
            group: d.group().id(),
            data: d.public().to_vec(),
        }));
    }
    inner.push(Payload::TsI(TsPayload {
        selectors: ts_i.clone(),
    }));
    inner.push(Payload::TsR(TsPayload {
        selectors: ts_r.clone(),
    }));
    let msgid = ep.sas[i].next_msgid;
    let bytes = ep.seal_message(i, ExchangeType::CREATE_CHILD_SA, false, msgid, &inner);
    let purpose = if rekey.is_some() {
        Purpose::RekeyChild
    } else {
        Purpose::CreateChild
    };
    ep.send_request(
        i,
        now,
        bytes,
        ExchangeKind::CreateChildSa,
        purpose,
        Request::CreateChild {
            spi_in,
            nonce,
            dh,
            rekey,
            ts_i,
            ts_r,
            collision: None,
        },
    );
}

fn nonce_of(inner: &[Payload]) -> Option<Vec<u8>> {
    inner.iter().find_map(|p| match p {
        Payload::Nonce(n) => Some(n.clone()),
        _ => None,
    })
}

fn ke_of(inner: &[Payload]) -> Option<&KePayload> {
    inner.iter().find_map(|p| match p {
        Payload::Ke(k) => Some(k),
        _ => None,
    })
}

fn rekeyed_spi(inner: &[Payload]) -> Option<Option<u32>> {
    inner.iter().find_map(|p| match p {
        Payload::Notify(n) if n.ty == NotifyType::REKEY_SA => {
            Some(n.spi.as_slice().try_into().ok().map(u32::from_be_bytes))
        }
        _ => None,
    })
}

/// What a responder agreed to: the peer's SPI, its nonce, the DH secret and our KE reply,
/// and the narrowed selectors.
struct Agreed {
    peer_spi: u32,
    nonce: Vec<u8>,
    g_ir: Option<Vec<u8>>,
    ke_reply: Option<KePayload>,
    ts_i: Selectors,
    ts_r: Selectors,
}

/// The error notify (with data) to refuse a request with.
type Refusal = (NotifyType, Vec<u8>);

fn agree(ep: &mut Endpoint, i: usize, inner: &[Payload]) -> Result<Agreed, Refusal> {
    let refuse = |n: NotifyType| (n, Vec::new());
    let sa = inner
        .iter()
        .find_map(|p| match p {
            Payload::Sa(sa) => Some(sa.clone()),
            _ => None,
        })
        .ok_or(refuse(NotifyType::INVALID_SYNTAX))?;
    let (tsi, tsr) = selectors_of(inner).ok_or(refuse(NotifyType::INVALID_SYNTAX))?;
    let nonce = nonce_of(inner)
        .filter(|n| (16..=256).contains(&n.len()))
        .ok_or(refuse(NotifyType::INVALID_SYNTAX))?;
    let pfs = ep.cfg.esp_dh;
    let peer_spi = esp_accept(ep.cfg.esp_encr, ep.cfg.esp_integ, pfs, &sa)
        .ok_or(refuse(NotifyType::NO_PROPOSAL_CHOSEN))?;
    let (g_ir, ke_reply) = match pfs {
        None => (None, None),
        Some(g) => {
            let ke = ke_of(inner).ok_or(refuse(NotifyType::INVALID_SYNTAX))?;
            if ke.group != g.id() {
                // §1.3: the right group was offered with the wrong KE; ask for it.
                return Err((
                    NotifyType::INVALID_KE_PAYLOAD,
                    g.id().to_be_bytes().to_vec(),
                ));
            }
            let ours =
                DhPrivate::generate_with(g, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng);
            let secret = ours
                .shared_secret(&ke.data)
                .map_err(|_| refuse(NotifyType::INVALID_SYNTAX))?;
            let reply = KePayload {
                group: g.id(),
                data: ours.public().to_vec(),
            };
            (Some(secret), Some(reply))
        }
    };
    let (_, ts_i, ts_r) =
        narrow_for_responder(ep, i, &tsi, &tsr).ok_or(refuse(NotifyType::TS_UNACCEPTABLE))?;
    Ok(Agreed {
        peer_spi,
        nonce,
        g_ir,
        ke_reply,
        ts_i,
        ts_r,
    })
}

fn derive(
    ep: &Endpoint,
    i: usize,
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
) -> crate::ikev2::keys::ChildKeys {
    let keys = ep.sas[i].keys.as_ref().expect("established");
    child_keys(
        keys.suite.prf,
        keys.sk_d(),
        g_ir,
        ni,
        nr,
        ep.cfg.esp_encr.key_len(),
        ep.cfg.esp_integ.key_len(),
    )
}

/// Answers a CREATE_CHILD_SA request on SA `i`.
pub(super) fn respond(ep: &mut Endpoint, now: SimTime, i: usize, opened: &Opened) {
    let msgid = opened.message.header.message_id;
    let inner = &opened.inner;
    let rekey = rekeyed_spi(inner);
    let old = match rekey {
        Some(Some(spi)) => ep.sas[i].children.iter().position(|c| c.spi_out == spi),
        _ => None,
    };
    let result = if ep.sas[i].state != IkeState::Established {
        // §2.25: the IKE SA is being rekeyed or deleted.
        Err((NotifyType::TEMPORARY_FAILURE, Vec::new()))
    } else if ep.sas[i]
        .pending
        .iter()
        .any(|p| matches!(p.req, Request::RekeyIke { .. }))
    {
        Err((NotifyType::TEMPORARY_FAILURE, Vec::new()))
    } else if rekey == Some(None) {
        Err((NotifyType::INVALID_SYNTAX, Vec::new()))
    } else if rekey.is_some() && old.is_none() {
        // An SA we do not know may be one our own CREATE_CHILD_SA in flight made at the
        // peer (its response still on its way): ask for a retry rather than let the peer
        // recreate it (§2.25). Otherwise it is gone.
        let creating = ep.sas[i]
            .pending
            .iter()
            .any(|p| matches!(p.req, Request::CreateChild { .. }));
        // Or it still sits on another IKE SA of the tunnel: the peer rekeyed the IKE SA and
        // moved its CHILD_SAs, while ours move only once our own colliding IKE rekey is
        // resolved. A retry will find it here (the peer must not recreate it: that would
        // leave two CHILD_SAs for the same traffic).
        let spi = rekey.flatten().unwrap_or(0);
        let elsewhere = ep
            .uids_of_tunnel(ep.sas[i].tunnel)
            .iter()
            .filter_map(|&u| ep.index_of(u))
            .any(|j| {
                j != i
                    && ep.sas[j].state != IkeState::Dead
                    && ep.sas[j].children.iter().any(|c| c.spi_out == spi)
            });
        if creating || elsewhere {
            Err((NotifyType::TEMPORARY_FAILURE, Vec::new()))
        } else {
            Err((NotifyType::CHILD_SA_NOT_FOUND, Vec::new()))
        }
    } else if old.is_some_and(|k| {
        matches!(
            ep.sas[i].children[k].state,
            ChildState::Rekeyed | ChildState::Deleting
        )
    }) {
        // §2.25: already replaced or being deleted.
        Err((NotifyType::TEMPORARY_FAILURE, Vec::new()))
    } else {
        agree(ep, i, inner)
    };
    let a = match result {
        Ok(a) => a,
        Err((n, data)) => {
            let mut note = NotifyPayload::new(n, data);
            if let (Some(Some(spi)), NotifyType::CHILD_SA_NOT_FOUND) = (rekey, n) {
                note.protocol = ProtocolId::ESP;
                note.spi = spi.to_be_bytes().to_vec();
            }
            let reply = ep.seal_message(
                i,
                ExchangeType::CREATE_CHILD_SA,
                true,
                msgid,
                &[Payload::Notify(note)],
            );
            ep.send_response(i, msgid, reply);
            return;
        }
    };
    let spi_in = ep.random_child_spi();
    let nr = ep.random_bytes(NONCE_LEN);
    let mut reply = Vec::new();
    if ep.cfg.flavour == Flavour::StrongSwan {
        reply.push(flag(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED));
    }
    reply.push(Payload::Sa(esp_proposal(
        ep.cfg.esp_encr,
        ep.cfg.esp_integ,
        ep.cfg.esp_dh,
        spi_in,
    )));
    reply.push(Payload::Nonce(nr.clone()));
    if let Some(ke) = a.ke_reply.clone() {
        reply.push(Payload::Ke(ke));
    }
    reply.push(Payload::TsI(TsPayload {
        selectors: a.ts_i.clone(),
    }));
    reply.push(Payload::TsR(TsPayload {
        selectors: a.ts_r.clone(),
    }));
    let bytes = ep.seal_message(i, ExchangeType::CREATE_CHILD_SA, true, msgid, &reply);
    ep.send_response(i, msgid, bytes);
    let keys = derive(ep, i, a.g_ir.as_deref(), &a.nonce, &nr);
    let child = ChildSa::new(spi_in, a.peer_spi, keys, (a.ts_r, a.ts_i), now, false);
    let reason = if old.is_some() {
        "CREATE_CHILD_SA rekey"
    } else {
        "CREATE_CHILD_SA"
    };
    // A rekey's responder keeps sending on the old SA until its DELETE arrives.
    ep.install_child(i, now, child, reason, old.is_none());
    if let Some(k) = old {
        if ep.sas[i].children[k].state == ChildState::Rekeying && ep.cfg.rekey_style.nonce_rule() {
            // §2.8.1: our rekey of this SA is in flight too; its response decides.
            let peer_min = super::collisions::min_nonce(&a.nonce, &nr).to_vec();
            let old_spi = ep.sas[i].children[k].spi_in;
            for p in &mut ep.sas[i].pending {
                if let Request::CreateChild {
                    rekey: Some(r),
                    collision,
                    ..
                } = &mut p.req
                    && *r == old_spi
                {
                    *collision = Some(super::sa::Collision {
                        peer_min_nonce: peer_min.clone(),
                        created_ike: (0, 0),
                    });
                }
            }
        } else {
            // The responder keeps sending on the old SA until the initiator deletes it.
            ep.set_child_state(i, k, now, ChildState::Rekeyed);
        }
    }
}

/// Handles the CREATE_CHILD_SA response on SA `i`.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, p: Pending, opened: &Opened) {
    let Request::CreateChild {
        spi_in,
        ref nonce,
        ref dh,
        rekey,
        ref ts_i,
        ref ts_r,
        ref collision,
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
        if let Some(old) = rekey {
            super::collisions::child_rekey_refused(ep, now, i, old, collision.is_some(), &n);
        }
        return;
    }
    let agreed = (|| {
        let sa = inner.iter().find_map(|x| match x {
            Payload::Sa(sa) => Some(sa),
            _ => None,
        })?;
        let spi_out = esp_accept(ep.cfg.esp_encr, ep.cfg.esp_integ, ep.cfg.esp_dh, sa)?;
        let nr = nonce_of(inner)?;
        let (tsi, tsr) = selectors_of(inner)?;
        if !(within(&tsi, ts_i) && within(&tsr, ts_r)) {
            return None;
        }
        let g_ir = match dh {
            None => None,
            Some(d) => {
                let ke = ke_of(inner)?;
                if ke.group != d.group().id() {
                    return None;
                }
                Some(d.shared_secret(&ke.data).ok()?)
            }
        };
        Some((spi_out, nr, g_ir, tsi, tsr))
    })();
    let Some((spi_out, nr, g_ir, tsi, tsr)) = agreed else {
        let n = NotifyPayload::new(NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
        ep.finish_pending(i, now, &p, Outcome::Refused(n.ty.to_string()));
        if let Some(old) = rekey {
            super::collisions::child_rekey_refused(ep, now, i, old, collision.is_some(), &n);
        }
        return;
    };
    let keys = derive(ep, i, g_ir.as_deref(), nonce, &nr);
    ep.finish_pending(i, now, &p, Outcome::Success);
    let child = ChildSa::new(spi_in, spi_out, keys, (tsi, tsr), now, true);
    let reason = if rekey.is_some() {
        "CREATE_CHILD_SA rekey"
    } else {
        "CREATE_CHILD_SA"
    };
    // The initiator switches on the response (§2.8).
    ep.install_child(i, now, child, reason, true);
    if let Some(old) = rekey {
        let ours_min = super::collisions::min_nonce(nonce, &nr).to_vec();
        let c = collision.clone();
        super::collisions::child_rekey_completed(ep, now, i, old, spi_in, &ours_min, c);
    }
}
