//! IKE_AUTH with a pre-shared key and the first CHILD_SA (RFC 7296 §1.2, §2.15, §2.17):
//! IDi, [N], IDr, AUTH, SA, TSi, TSr inside SK, answered by IDr, AUTH, SA, TSi, TSr.

use rand::Rng;
use sim_core::SimTime;

use super::messages::{esp_proposal, flag};
use super::{ChildSa, Endpoint, IkeState};
use crate::events::{ExchangeKind, Outcome, Purpose, SaChange, SaKind};
use crate::ikev2::auth::psk_auth;
use crate::ikev2::consts::{AuthMethod, ExchangeType, NotifyType, PayloadType, ProtocolId};
use crate::ikev2::header::{FLAG_INITIATOR, FLAG_RESPONSE, Header};
use crate::ikev2::keys::child_keys;
use crate::ikev2::payload::{
    AuthPayload, IdPayload, NotifyPayload, Payload, TrafficSelector, TsPayload,
};
use crate::ikev2::protect::{open, padding_len, seal};

fn header(ep: &Endpoint, i: usize, flags: u8, message_id: u32) -> Header {
    Header {
        spi_i: ep.sas[i].spi_i,
        spi_r: ep.sas[i].spi_r,
        next_payload: PayloadType::NONE,
        major: 2,
        minor: 0,
        exchange: ExchangeType::IKE_AUTH,
        flags,
        message_id,
        length: 0,
    }
}

/// Seals `inner` with fresh IV and padding from the endpoint's random stream.
pub(super) fn protect(ep: &mut Endpoint, i: usize, h: &Header, inner: &[Payload]) -> Vec<u8> {
    let keys = ep.sas[i].keys.clone().expect("keys after IKE_SA_INIT");
    let block = keys.suite.encr.block_len();
    let plain = crate::ikev2::payload::encode_payload_chain(inner).1.len();
    let iv = ep.random_bytes(block);
    let padding = ep.random_bytes(padding_len(plain, block));
    seal(&keys, h, inner, &iv, &padding).expect("lengths are ours")
}

/// Our AUTH value over our IKE_SA_INIT message, the peer's nonce and our ID.
fn our_auth(ep: &Endpoint, i: usize, id: &IdPayload) -> Vec<u8> {
    let sa = &ep.sas[i];
    let keys = sa.keys.as_ref().expect("keys");
    let (peer_nonce, sk_p) = if sa.initiator {
        (&sa.nr, &keys.sk_pi)
    } else {
        (&sa.ni, &keys.sk_pr)
    };
    psk_auth(
        keys.suite.prf,
        &ep.cfg.psk,
        &sa.init_msg_ours,
        peer_nonce,
        sk_p,
        &id.body_bytes(),
    )
}

/// The AUTH value the peer must have sent.
fn peer_auth(ep: &Endpoint, i: usize, id: &IdPayload) -> Vec<u8> {
    let sa = &ep.sas[i];
    let keys = sa.keys.as_ref().expect("keys");
    let (own_nonce, sk_p) = if sa.initiator {
        (&sa.ni, &keys.sk_pr)
    } else {
        (&sa.nr, &keys.sk_pi)
    };
    psk_auth(
        keys.suite.prf,
        &ep.cfg.psk,
        &sa.init_msg_peer,
        own_nonce,
        sk_p,
        &id.body_bytes(),
    )
}

fn selectors(ep: &Endpoint, i: usize) -> (TsPayload, TsPayload) {
    let sa = &ep.sas[i];
    let (init_ip, resp_ip) = if sa.initiator {
        (sa.local.ip(), sa.peer.ip())
    } else {
        (sa.peer.ip(), sa.local.ip())
    };
    (
        TsPayload {
            selectors: vec![TrafficSelector::host(init_ip)],
        },
        TsPayload {
            selectors: vec![TrafficSelector::host(resp_ip)],
        },
    )
}

fn random_child_spi(ep: &mut Endpoint) -> u32 {
    // strongSwan allocates SPIs in 0xc0000000..0xcfffffff.
    0xc000_0000 | (ep.rng.next_u32() & 0x0fff_ffff)
}

/// Sends the IKE_AUTH request (initiator), right after IKE_SA_INIT completed.
pub(super) fn initiate(ep: &mut Endpoint, now: SimTime, i: usize) {
    let spi = random_child_spi(ep);
    ep.sas[i].child_spi_in = spi;
    ep.sas[i].state = IkeState::ExpectAuthResponse;
    let idi = IdPayload::from_ip(ep.sas[i].local.ip());
    let idr = IdPayload::from_ip(ep.sas[i].peer.ip());
    let auth = our_auth(ep, i, &idi);
    let (tsi, tsr) = selectors(ep, i);
    let inner = vec![
        Payload::IdI(idi),
        flag(NotifyType::INITIAL_CONTACT),
        Payload::IdR(idr),
        Payload::Auth(AuthPayload {
            method: AuthMethod::PSK,
            data: auth,
        }),
        flag(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED),
        Payload::Sa(esp_proposal(ep.cfg.esp_encr, ep.cfg.esp_integ, spi)),
        Payload::TsI(tsi),
        Payload::TsR(tsr),
        flag(NotifyType::MULTIPLE_AUTH_SUPPORTED),
        flag(NotifyType::EAP_ONLY_AUTHENTICATION),
        flag(NotifyType::IKEV2_MESSAGE_ID_SYNC_SUPPORTED),
    ];
    let msgid = ep.sas[i].next_msgid;
    let h = header(ep, i, FLAG_INITIATOR, msgid);
    let bytes = protect(ep, i, &h, &inner);
    ep.send_request(i, now, bytes, ExchangeKind::IkeAuth, Purpose::Establish);
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

fn esp_spi_of(inner: &[Payload]) -> Option<u32> {
    inner.iter().find_map(|p| match p {
        Payload::Sa(sa) => sa
            .proposals
            .iter()
            .find(|pr| pr.protocol == ProtocolId::ESP && pr.spi.len() == 4)
            .map(|pr| u32::from_be_bytes(pr.spi.clone().try_into().expect("4 bytes"))),
        _ => None,
    })
}

fn install_child(ep: &mut Endpoint, i: usize, now: SimTime, spi_out: u32) {
    let keys = ep.sas[i].keys.clone().expect("keys");
    let sa = &ep.sas[i];
    let ck = child_keys(
        keys.suite.prf,
        &keys.sk_d,
        None,
        &sa.ni,
        &sa.nr,
        ep.cfg.esp_encr.key_len(),
        ep.cfg.esp_integ.key_len(),
    );
    ep.sas[i].child = Some(ChildSa {
        spi_in: ep.sas[i].child_spi_in,
        spi_out,
        keys: ck,
    });
    ep.sas[i].state = IkeState::Established;
    ep.sa_event(i, now, SaKind::Ike, SaChange::Installed, "IKE_AUTH");
    ep.sa_event(i, now, SaKind::Child, SaChange::Installed, "IKE_AUTH");
}

/// Answers IKE_AUTH as responder: verifies the initiator's AUTH, installs the CHILD_SA.
pub(super) fn respond(ep: &mut Endpoint, now: SimTime, i: usize, bytes: &[u8]) {
    let keys = ep.sas[i].keys.clone().expect("keys after IKE_SA_INIT");
    let Ok(opened) = open(&keys, bytes) else {
        ep.dropped += 1; // §2.21.2: a bad ICV is dropped silently
        return;
    };
    let msgid = opened.message.header.message_id;
    let (Some((idi, auth)), Some(peer_spi)) = (
        peer_id_and_auth(&opened.inner, true),
        esp_spi_of(&opened.inner),
    ) else {
        ep.dropped += 1;
        return;
    };
    if auth != peer_auth(ep, i, &idi) {
        let h = header(ep, i, FLAG_RESPONSE, msgid);
        let reply = protect(
            ep,
            i,
            &h,
            &[Payload::Notify(NotifyPayload::new(
                NotifyType::AUTHENTICATION_FAILED,
                vec![],
            ))],
        );
        ep.send_response(i, msgid, reply);
        ep.kill(i, now, "AUTHENTICATION_FAILED");
        return;
    }
    let spi = random_child_spi(ep);
    ep.sas[i].child_spi_in = spi;
    let idr = IdPayload::from_ip(ep.sas[i].local.ip());
    let our = our_auth(ep, i, &idr);
    let (tsi, tsr) = selectors(ep, i);
    let inner = vec![
        Payload::IdR(idr),
        Payload::Auth(AuthPayload {
            method: AuthMethod::PSK,
            data: our,
        }),
        flag(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED),
        Payload::Sa(esp_proposal(ep.cfg.esp_encr, ep.cfg.esp_integ, spi)),
        Payload::TsI(tsi),
        Payload::TsR(tsr),
    ];
    let h = header(ep, i, FLAG_RESPONSE, msgid);
    let reply = protect(ep, i, &h, &inner);
    ep.send_response(i, msgid, reply);
    install_child(ep, i, now, peer_spi);
}

/// Handles the IKE_AUTH response as initiator.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, bytes: &[u8]) {
    let keys = ep.sas[i].keys.clone().expect("keys");
    let Ok(opened) = open(&keys, bytes) else {
        ep.dropped += 1;
        return;
    };
    let p = ep.sas[i].pending.take().expect("checked by the caller");
    if let Some(n) = opened.inner.iter().find_map(|x| match x {
        Payload::Notify(n) if n.ty.is_error() => Some(n.ty),
        _ => None,
    }) {
        ep.finish_pending(i, now, &p, Outcome::Refused(n.to_string()));
        ep.kill(i, now, "IKE_AUTH refused");
        return;
    }
    match (
        peer_id_and_auth(&opened.inner, false),
        esp_spi_of(&opened.inner),
    ) {
        (Some((idr, auth)), Some(spi)) if auth == peer_auth(ep, i, &idr) => {
            ep.sas[i].last_received = now;
            ep.finish_pending(i, now, &p, Outcome::Success);
            install_child(ep, i, now, spi);
        }
        _ => {
            ep.finish_pending(i, now, &p, Outcome::Refused("AUTHENTICATION_FAILED".into()));
            ep.kill(i, now, "peer AUTH did not verify");
        }
    }
}
