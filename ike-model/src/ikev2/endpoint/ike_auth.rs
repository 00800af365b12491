//! IKE_AUTH with a pre-shared key and the first CHILD_SA (RFC 7296 §1.2, §2.9, §2.15):
//! IDi, [N], IDr, AUTH, SA, TSi, TSr inside SK, answered by IDr, AUTH, SA, TSi, TSr with the
//! selectors narrowed to the responder's policy. A CHILD_SA that cannot be agreed
//! (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN) leaves the IKE SA up without it (§1.2).

use sim_core::SimTime;

use super::messages::{esp_accept, esp_proposal, flag};
use super::sa::{Pending, Request};
use super::selectors::{narrow, within};
use super::{ChildSa, Endpoint, Flavour, IkeState};
use crate::events::{ExchangeKind, Outcome, Purpose, SaChange, SaKind};
use crate::ikev2::auth::{SignedOctets, psk_auth_as};
use crate::ikev2::consts::{AuthMethod, ExchangeType, NotifyType};
use crate::ikev2::keys::child_keys;
use crate::ikev2::payload::{
    AuthPayload, IdPayload, NotifyPayload, Payload, Selectors, TrafficSelector, TsPayload,
};
use crate::ikev2::protect::Opened;

/// Our AUTH value over our IKE_SA_INIT message, the peer's nonce and our ID.
fn our_auth(ep: &Endpoint, i: usize, id: &IdPayload) -> Vec<u8> {
    let sa = &ep.sas[i];
    let keys = sa.keys.as_ref().expect("keys");
    let (peer_nonce, sk_p) = if sa.initiator {
        (&sa.nr, keys.sk_pi())
    } else {
        (&sa.ni, keys.sk_pr())
    };
    let octets = SignedOctets {
        real_message: &sa.init_msg_ours,
        peer_nonce,
        sk_p,
        id_body: &id.body_bytes(),
    };
    psk_auth_as(ep.protection, keys.suite.prf, &ep.cfg.psk, &octets)
}

/// The AUTH value the peer must have sent.
fn peer_auth(ep: &Endpoint, i: usize, id: &IdPayload) -> Vec<u8> {
    let sa = &ep.sas[i];
    let keys = sa.keys.as_ref().expect("keys");
    let (own_nonce, sk_p) = if sa.initiator {
        (&sa.ni, keys.sk_pr())
    } else {
        (&sa.nr, keys.sk_pi())
    };
    let octets = SignedOctets {
        real_message: &sa.init_msg_peer,
        peer_nonce: own_nonce,
        sk_p,
        id_body: &id.body_bytes(),
    };
    psk_auth_as(ep.protection, keys.suite.prf, &ep.cfg.psk, &octets)
}

/// The selectors an initiator proposes for SA `i`'s tunnel: (TSi, TSr).
pub(super) fn proposed_selectors(ep: &Endpoint, i: usize) -> (Selectors, Selectors) {
    let sa = &ep.sas[i];
    match ep.tunnel_config(sa.tunnel) {
        Some(t) => (t.local_ts.clone(), t.remote_ts.clone()),
        None => (
            smallvec::smallvec![TrafficSelector::host(sa.local.ip())],
            smallvec::smallvec![TrafficSelector::host(sa.peer.ip())],
        ),
    }
}

/// The peer's proposed selectors (TSi, TSr) in a request.
pub(super) fn selectors_of(inner: &[Payload]) -> Option<(Selectors, Selectors)> {
    let tsi = inner.iter().find_map(|p| match p {
        Payload::TsI(t) => Some(t.selectors.clone()),
        _ => None,
    })?;
    let tsr = inner.iter().find_map(|p| match p {
        Payload::TsR(t) => Some(t.selectors.clone()),
        _ => None,
    })?;
    Some((tsi, tsr))
}

/// As responder: the tunnel whose policy admits the proposed selectors, and the narrowed
/// (TSi, TSr); tunnels already serving SA `i`'s tunnel are preferred.
pub(super) fn narrow_for_responder(
    ep: &Endpoint,
    i: usize,
    tsi: &[TrafficSelector],
    tsr: &[TrafficSelector],
) -> Option<(u32, Selectors, Selectors)> {
    let sa = &ep.sas[i];
    // Behind a NAT the source address is the NAT's: the identity names the peer.
    let peer = sa.peer_id.unwrap_or(sa.peer.ip());
    let admits = |t: &super::TunnelConfig| {
        let ni = narrow(tsi, &t.remote_ts);
        let nr = narrow(tsr, &t.local_ts);
        (!ni.is_empty() && !nr.is_empty()).then_some((t.tunnel, ni, nr))
    };
    // The SA's own tunnel first, then the others in the order they were added. The first
    // settings added for the SA's tunnel are found without the peer's list (a hash probe,
    // cold at a concentrator); they come first in it if they are for this peer.
    let tried = ep.tunnel_config(sa.tunnel).filter(|t| t.peer == peer);
    if let Some(found) = tried.and_then(admits) {
        return Some(found);
    }
    let untried = |t: &&super::TunnelConfig| !tried.is_some_and(|f| std::ptr::eq(f, *t));
    ep.tunnels_with(peer)
        .filter(|t| t.tunnel == sa.tunnel)
        .chain(ep.tunnels_with(peer).filter(|t| t.tunnel != sa.tunnel))
        .filter(untried)
        .find_map(admits)
}

/// Sends the IKE_AUTH request (initiator), right after IKE_SA_INIT completed.
pub(super) fn initiate(ep: &mut Endpoint, now: SimTime, i: usize) {
    let spi = ep.random_child_spi();
    ep.set_ike_state(i, now, IkeState::ExpectAuthResponse);
    let idi = IdPayload::from_ip(ep.addr);
    let idr = IdPayload::from_ip(ep.sas[i].peer.ip());
    let auth = our_auth(ep, i, &idi);
    let (tsi, tsr) = proposed_selectors(ep, i);
    // strongSwan sends INITIAL_CONTACT unless another IKE SA with this peer is up.
    // Only the SAs of tunnels with this peer can be with this peer (no scan of the SAD).
    let peer = ep.sas[i].peer.ip();
    let first_contact = !ep
        .tunnels_with(peer)
        .flat_map(|t| ep.uids_of_tunnel(t.tunnel))
        .filter_map(|&u| ep.index_of(u))
        .any(|j| j != i && ep.sas[j].peer.ip() == peer && ep.sas[j].state == IkeState::Established);
    let strongswan = ep.cfg.flavour == Flavour::StrongSwan;
    let mut inner = vec![Payload::IdI(idi)];
    if first_contact {
        inner.push(flag(NotifyType::INITIAL_CONTACT));
    }
    if strongswan {
        inner.push(Payload::IdR(idr));
    }
    inner.push(Payload::Auth(AuthPayload {
        method: AuthMethod::PSK,
        data: auth,
    }));
    if strongswan {
        inner.push(flag(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED));
    }
    inner.extend([
        Payload::Sa(esp_proposal(ep.cfg.esp_encr, ep.cfg.esp_integ, None, spi)),
        Payload::TsI(TsPayload { selectors: tsi }),
        Payload::TsR(TsPayload { selectors: tsr }),
    ]);
    if ep.cfg.mobike {
        inner.push(flag(NotifyType::MOBIKE_SUPPORTED));
    }
    if ep.cfg.window > 1 {
        inner.push(window_notify(ep.cfg.window));
    }
    if strongswan {
        inner.extend([
            flag(NotifyType::MULTIPLE_AUTH_SUPPORTED),
            flag(NotifyType::EAP_ONLY_AUTHENTICATION),
            flag(NotifyType::IKEV2_MESSAGE_ID_SYNC_SUPPORTED),
        ]);
    }
    let msgid = ep.sas[i].next_msgid;
    let bytes = ep.seal_message(i, ExchangeType::IKE_AUTH, false, msgid, &inner);
    ep.send_request(
        i,
        now,
        bytes,
        ExchangeKind::IkeAuth,
        Purpose::Establish,
        Request::Auth { spi_in: spi },
    );
}

fn window_notify(window: u32) -> Payload {
    Payload::Notify(NotifyPayload::new(
        NotifyType::SET_WINDOW_SIZE,
        window.to_be_bytes().to_vec(),
    ))
}

/// The peer's identity (IDi from the initiator, IDr from the responder) and AUTH data.
fn peer_id_and_auth(inner: &[Payload], from_initiator: bool) -> Option<(IdPayload, Vec<u8>)> {
    let id = inner.iter().find_map(|p| match p {
        Payload::IdI(id) if from_initiator => Some(id.clone()),
        Payload::IdR(id) if !from_initiator => Some(id.clone()),
        _ => None,
    })?;
    let auth = inner.iter().find_map(|p| match p {
        Payload::Auth(a) => Some(a.data.clone()),
        _ => None,
    })?;
    Some((id, auth))
}

fn has_notify(inner: &[Payload], ty: NotifyType) -> bool {
    inner
        .iter()
        .any(|p| matches!(p, Payload::Notify(n) if n.ty == ty))
}

/// The window the peer announced (SET_WINDOW_SIZE), if any.
fn announced_window(inner: &[Payload]) -> Option<u32> {
    inner.iter().find_map(|p| match p {
        Payload::Notify(n) if n.ty == NotifyType::SET_WINDOW_SIZE && n.data.len() == 4 => {
            Some(u32::from_be_bytes(n.data[..4].try_into().expect("4 bytes")))
        }
        _ => None,
    })
}

fn sa_of(inner: &[Payload]) -> Option<&crate::ikev2::payload::SaPayload> {
    inner.iter().find_map(|p| match p {
        Payload::Sa(sa) => Some(sa),
        _ => None,
    })
}

/// Installs the first CHILD_SA (keys from SK_d and the IKE_SA_INIT nonces, §2.17).
fn install_first_child(
    ep: &mut Endpoint,
    i: usize,
    now: SimTime,
    spi_in: u32,
    spi_out: u32,
    ts: (Selectors, Selectors),
) {
    let keys = ep.sas[i].keys.clone().expect("keys");
    let sa = &ep.sas[i];
    let ck = child_keys(
        keys.suite.prf,
        keys.sk_d(),
        None,
        &sa.ni,
        &sa.nr,
        ep.cfg.esp_encr.key_len(),
        ep.cfg.esp_integ.key_len(),
    );
    let initiated = ep.sas[i].initiator;
    // `ts` is (TSi, TSr): the initiator's side first.
    let ts = if initiated { ts } else { (ts.1, ts.0) };
    let child = ChildSa::new(spi_in, spi_out, ck, ts, now, initiated);
    ep.install_child(i, now, child, "IKE_AUTH", true);
}

fn establish(ep: &mut Endpoint, i: usize, now: SimTime) {
    ep.set_ike_state(i, now, IkeState::Established);
    ep.sas[i].installed = true;
    // Both AUTH values (§2.15) are checked by now; the IKE_SA_INIT messages they sign are
    // never needed again, and at a concentrator they were a tenth of its memory.
    ep.sas[i].init_msg_ours = Vec::new();
    ep.sas[i].init_msg_peer = Vec::new();
    let spi = ep.sas[i].sa_ref();
    ep.sa_event(i, now, SaKind::Ike, spi, SaChange::Installed, "IKE_AUTH");
    super::lifetimes::arm_ike(ep, i, now);
}

/// Answers IKE_AUTH as responder: verifies the initiator's AUTH, narrows the selectors and
/// installs the CHILD_SA.
pub(super) fn respond(ep: &mut Endpoint, now: SimTime, i: usize, opened: &Opened) {
    let msgid = opened.message.header.message_id;
    let inner = &opened.inner;
    let Some((idi, auth)) = peer_id_and_auth(inner, true) else {
        ep.drop_datagram(now, Some(i), "IKE_AUTH without IDi or AUTH");
        return;
    };
    if auth != peer_auth(ep, i, &idi) {
        let inner = [Payload::Notify(NotifyPayload::new(
            NotifyType::AUTHENTICATION_FAILED,
            vec![],
        ))];
        let reply = ep.seal_message(i, ExchangeType::IKE_AUTH, true, msgid, &inner);
        ep.send_response(i, msgid, reply);
        ep.kill(i, now, "AUTHENTICATION_FAILED");
        return;
    }
    if let Some(w) = announced_window(inner) {
        ep.sas[i].send_window = w.max(1);
    }
    ep.sas[i].peer_id = idi.ip();
    let peer_mobike = has_notify(inner, NotifyType::MOBIKE_SUPPORTED);
    let child = match (sa_of(inner), selectors_of(inner)) {
        (Some(sa), Some((tsi, tsr))) => {
            match esp_accept(ep.cfg.esp_encr, ep.cfg.esp_integ, None, sa) {
                None => Err(NotifyType::NO_PROPOSAL_CHOSEN),
                Some(peer_spi) => match narrow_for_responder(ep, i, &tsi, &tsr) {
                    None => Err(NotifyType::TS_UNACCEPTABLE),
                    Some((tunnel, ni, nr)) => Ok((peer_spi, tunnel, ni, nr)),
                },
            }
        }
        _ => Err(NotifyType::INVALID_SYNTAX),
    };
    if let Ok((_, tunnel, _, _)) = &child {
        ep.sas[i].tunnel = *tunnel;
    }
    if has_notify(inner, NotifyType::INITIAL_CONTACT) {
        // §2.4: the peer restarted; its older IKE SAs for this tunnel are stale.
        let (peer, tunnel) = (ep.sas[i].peer_id, ep.sas[i].tunnel);
        // Killing changes the SAD: walk a copy of the tunnel's SA ids.
        for u in ep.uids_of_tunnel(tunnel).to_vec() {
            let Some(j) = ep.index_of(u) else { continue };
            let s = &ep.sas[j];
            if j != i && s.peer_id == peer && s.tunnel == tunnel && s.state == IkeState::Established
            {
                ep.kill(j, now, "INITIAL_CONTACT");
            }
        }
    }
    let strongswan = ep.cfg.flavour == Flavour::StrongSwan;
    let idr = IdPayload::from_ip(ep.addr);
    let our = our_auth(ep, i, &idr);
    let mut reply_inner = vec![
        Payload::IdR(idr),
        Payload::Auth(AuthPayload {
            method: AuthMethod::PSK,
            data: our,
        }),
    ];
    let spi_in = ep.random_child_spi();
    match &child {
        Ok((_, _, ni, nr)) => {
            if strongswan {
                reply_inner.push(flag(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED));
            }
            reply_inner.extend([
                Payload::Sa(esp_proposal(
                    ep.cfg.esp_encr,
                    ep.cfg.esp_integ,
                    None,
                    spi_in,
                )),
                Payload::TsI(TsPayload {
                    selectors: ni.clone(),
                }),
                Payload::TsR(TsPayload {
                    selectors: nr.clone(),
                }),
            ]);
        }
        Err(n) => reply_inner.push(flag(*n)),
    }
    if ep.cfg.mobike && peer_mobike {
        reply_inner.push(flag(NotifyType::MOBIKE_SUPPORTED));
        reply_inner.push(flag(NotifyType::NO_ADDITIONAL_ADDRESSES));
    }
    if ep.cfg.window > 1 {
        reply_inner.push(window_notify(ep.cfg.window));
    }
    let reply = ep.seal_message(i, ExchangeType::IKE_AUTH, true, msgid, &reply_inner);
    ep.send_response(i, msgid, reply);
    establish(ep, i, now);
    if let Ok((peer_spi, _, ni, nr)) = child {
        install_first_child(ep, i, now, spi_in, peer_spi, (ni, nr));
    }
}

/// Handles the IKE_AUTH response as initiator.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, p: Pending, opened: &Opened) {
    let Request::Auth { spi_in } = p.req else {
        unreachable!("dispatched by request kind")
    };
    let inner = &opened.inner;
    let authenticated =
        peer_id_and_auth(inner, false).is_some_and(|(idr, auth)| auth == peer_auth(ep, i, &idr));
    if !authenticated {
        let why = inner
            .iter()
            .find_map(|x| match x {
                Payload::Notify(n) if n.ty.is_error() => Some(n.ty.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "AUTHENTICATION_FAILED".into());
        ep.finish_pending(i, now, &p, Outcome::Refused(why));
        ep.kill(i, now, "IKE_AUTH refused");
        return;
    }
    if let Some(w) = announced_window(inner) {
        ep.sas[i].send_window = w.max(1);
    }
    ep.sas[i].peer_id = peer_id_and_auth(inner, false).and_then(|(id, _)| id.ip());
    establish(ep, i, now);
    let child_error = inner.iter().find_map(|x| match x {
        Payload::Notify(n) if n.ty.is_error() => Some(n.ty.to_string()),
        _ => None,
    });
    let (proposed_i, proposed_r) = proposed_selectors(ep, i);
    let agreed = sa_of(inner)
        .and_then(|sa| esp_accept(ep.cfg.esp_encr, ep.cfg.esp_integ, None, sa))
        .zip(selectors_of(inner))
        .filter(|(_, (tsi, tsr))| within(tsi, &proposed_i) && within(tsr, &proposed_r));
    match (child_error, agreed) {
        (None, Some((spi_out, ts))) => {
            ep.finish_pending(i, now, &p, Outcome::Success);
            install_first_child(ep, i, now, spi_in, spi_out, ts);
        }
        (err, _) => {
            // The IKE SA stands; the CHILD_SA failed (strongSwan keeps the IKE SA).
            let why = err.unwrap_or_else(|| "TS_UNACCEPTABLE".into());
            ep.finish_pending(i, now, &p, Outcome::Refused(why));
        }
    }
}
