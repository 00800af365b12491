//! IKE_SA_INIT (RFC 7296 §1.2): SA, KE, Ni / SA, KE, Nr, with NAT-D and strongSwan's
//! capability notifies. On the response both sides derive SKEYSEED and the SK_* keys.

use std::net::SocketAddr;

use sim_core::SimTime;

use super::messages::{ike_proposal, sa_init_notifies};
use super::{Endpoint, IkeSa, IkeState};
use crate::crypto::DhPrivate;
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev2::consts::{ExchangeType, NotifyType, PayloadType};
use crate::ikev2::header::{FLAG_INITIATOR, FLAG_RESPONSE, Header};
use crate::ikev2::keys::{derive_ike_keys, skeyseed};
use crate::ikev2::message::Message;
use crate::ikev2::payload::{KePayload, NotifyPayload, Payload};

/// Nonce length strongSwan uses.
const NONCE_LEN: usize = 32;

fn header(spi_i: u64, spi_r: u64, flags: u8) -> Header {
    Header {
        spi_i,
        spi_r,
        next_payload: PayloadType::NONE,
        major: 2,
        minor: 0,
        exchange: ExchangeType::IKE_SA_INIT,
        flags,
        message_id: 0,
        length: 0,
    }
}

/// Starts an IKE SA as initiator.
pub(super) fn initiate(ep: &mut Endpoint, now: SimTime, tunnel: u32, peer: SocketAddr) {
    let local = SocketAddr::new(ep.cfg.addr, super::IKE_PORT);
    let spi_i = ep.random_spi();
    let ni = ep.random_bytes(NONCE_LEN);
    let dh = DhPrivate::generate(ep.cfg.dh, ep.cfg.dh_exponent_bits, &mut ep.rng);
    let mut payloads = vec![
        Payload::Sa(ike_proposal(ep.cfg.suite, ep.cfg.dh, vec![])),
        Payload::Ke(KePayload {
            group: ep.cfg.dh.id(),
            data: dh.public().to_vec(),
        }),
        Payload::Nonce(ni.clone()),
    ];
    payloads.extend(sa_init_notifies(
        spi_i,
        0,
        (local.ip(), local.port()),
        (peer.ip(), peer.port()),
        false,
    ));
    let bytes = Message {
        header: header(spi_i, 0, FLAG_INITIATOR),
        payloads,
    }
    .encode();
    ep.sas.push(IkeSa {
        tunnel,
        initiator: true,
        spi_i,
        spi_r: 0,
        state: IkeState::ExpectSaInitResponse,
        local,
        peer,
        keys: None,
        child: None,
        ni,
        nr: Vec::new(),
        dh: Some(dh),
        init_msg_ours: bytes.clone(),
        init_msg_peer: Vec::new(),
        next_msgid: 0,
        expect_msgid: 0,
        pending: None,
        last_response: None,
        child_spi_in: 0,
        last_received: now,
    });
    let i = ep.sas.len() - 1;
    ep.send_request(i, now, bytes, ExchangeKind::IkeSaInit, Purpose::Establish);
}

/// Finds the peer's proposal, KE and nonce, checking them against our configuration. An
/// error is the notify to answer with.
fn accept(ep: &Endpoint, m: &Message) -> Result<(Vec<u8>, Vec<u8>), NotifyType> {
    let mut ke = None;
    let mut nonce = None;
    let mut proposal_ok = false;
    for p in &m.payloads {
        match p {
            Payload::Sa(sa) => {
                let ours = ike_proposal(ep.cfg.suite, ep.cfg.dh, vec![]);
                proposal_ok = sa.proposals.iter().any(|pr| {
                    let mut pr = pr.clone();
                    pr.num = 1;
                    pr.spi.clear();
                    pr == ours.proposals[0]
                });
            }
            Payload::Ke(k) => ke = Some(k.clone()),
            Payload::Nonce(n) => nonce = Some(n.clone()),
            _ => {}
        }
    }
    if !proposal_ok {
        return Err(NotifyType::NO_PROPOSAL_CHOSEN);
    }
    let (Some(ke), Some(nonce)) = (ke, nonce) else {
        return Err(NotifyType::INVALID_SYNTAX);
    };
    if ke.group != ep.cfg.dh.id() {
        return Err(NotifyType::INVALID_KE_PAYLOAD);
    }
    if !(16..=256).contains(&nonce.len()) {
        return Err(NotifyType::INVALID_SYNTAX);
    }
    Ok((ke.data, nonce))
}

/// Answers an IKE_SA_INIT request as responder.
pub(super) fn respond(
    ep: &mut Endpoint,
    now: SimTime,
    from: SocketAddr,
    local: SocketAddr,
    h: &Header,
    bytes: &[u8],
) {
    let Ok(m) = Message::decode(bytes) else {
        ep.dropped += 1;
        return;
    };
    let (peer_public, ni) = match accept(ep, &m) {
        Ok(v) => v,
        Err(notify) => {
            // §2.21.1: an error in IKE_SA_INIT is answered unprotected and no SA is kept.
            let data = if notify == NotifyType::INVALID_KE_PAYLOAD {
                ep.cfg.dh.id().to_be_bytes().to_vec()
            } else {
                vec![]
            };
            let reply = Message {
                header: header(h.spi_i, 0, FLAG_RESPONSE),
                payloads: vec![Payload::Notify(NotifyPayload::new(notify, data))],
            }
            .encode();
            ep.out.push_back(super::Transmit {
                src: local,
                dst: from,
                payload: reply,
            });
            return;
        }
    };
    let spi_r = ep.random_spi();
    let nr = ep.random_bytes(NONCE_LEN);
    let dh = DhPrivate::generate(ep.cfg.dh, ep.cfg.dh_exponent_bits, &mut ep.rng);
    let Ok(g_ir) = dh.shared_secret(&peer_public) else {
        ep.dropped += 1;
        return;
    };
    let mut payloads = vec![
        Payload::Sa(ike_proposal(ep.cfg.suite, ep.cfg.dh, vec![])),
        Payload::Ke(KePayload {
            group: ep.cfg.dh.id(),
            data: dh.public().to_vec(),
        }),
        Payload::Nonce(nr.clone()),
    ];
    payloads.extend(sa_init_notifies(
        h.spi_i,
        spi_r,
        (local.ip(), local.port()),
        (from.ip(), from.port()),
        true,
    ));
    let reply = Message {
        header: header(h.spi_i, spi_r, FLAG_RESPONSE),
        payloads,
    }
    .encode();
    let suite = ep.cfg.suite;
    let seed = skeyseed(suite.prf, &ni, &nr, &g_ir);
    let keys = derive_ike_keys(suite, &seed, &ni, &nr, h.spi_i, spi_r);
    ep.sas.push(IkeSa {
        tunnel: ep.tunnel_of(from.ip()),
        initiator: false,
        spi_i: h.spi_i,
        spi_r,
        state: IkeState::ExpectAuthRequest,
        local,
        peer: from,
        keys: Some(keys),
        child: None,
        ni,
        nr,
        dh: None,
        init_msg_ours: reply.clone(),
        init_msg_peer: bytes.to_vec(),
        next_msgid: 0,
        expect_msgid: 0,
        pending: None,
        last_response: None,
        child_spi_in: 0,
        last_received: now,
    });
    let i = ep.sas.len() - 1;
    ep.log_keys(i);
    ep.send_response(i, 0, reply);
}

/// Handles the IKE_SA_INIT response as initiator: keys, then IKE_AUTH.
pub(super) fn on_response(ep: &mut Endpoint, now: SimTime, i: usize, h: &Header, bytes: &[u8]) {
    let Ok(m) = Message::decode(bytes) else {
        ep.dropped += 1;
        return;
    };
    let p = ep.sas[i].pending.take().expect("checked by the caller");
    if let Some(Payload::Notify(n)) = m
        .payloads
        .iter()
        .find(|p| matches!(p, Payload::Notify(n) if n.ty.is_error()))
    {
        ep.finish_exchange(
            i,
            now,
            p.kind,
            p.purpose,
            p.first_sent,
            p.sends - 1,
            Outcome::Refused(n.ty.to_string()),
        );
        ep.kill(i, now, "IKE_SA_INIT refused");
        return;
    }
    let (peer_public, nr) = match accept(ep, &m) {
        Ok(v) => v,
        Err(_) => {
            ep.dropped += 1;
            ep.sas[i].pending = Some(p);
            return;
        }
    };
    let dh = ep.sas[i].dh.take().expect("initiator keeps its DH value");
    let Ok(g_ir) = dh.shared_secret(&peer_public) else {
        ep.dropped += 1;
        ep.sas[i].pending = Some(p);
        return;
    };
    let suite = ep.cfg.suite;
    let sa = &mut ep.sas[i];
    sa.spi_r = h.spi_r;
    sa.nr = nr;
    sa.init_msg_peer = bytes.to_vec();
    let seed = skeyseed(suite.prf, &sa.ni, &sa.nr, &g_ir);
    sa.keys = Some(derive_ike_keys(
        suite, &seed, &sa.ni, &sa.nr, sa.spi_i, sa.spi_r,
    ));
    ep.finish_exchange(
        i,
        now,
        p.kind,
        p.purpose,
        p.first_sent,
        p.sends - 1,
        Outcome::Success,
    );
    super::ike_auth::initiate(ep, now, i);
}
