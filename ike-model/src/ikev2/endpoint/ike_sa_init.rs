//! IKE_SA_INIT (RFC 7296 §1.2): SA, KE, Ni / SA, KE, Nr, with NAT-D and strongSwan's
//! capability notifies. On the response both sides derive SKEYSEED and the SK_* keys.

use std::net::SocketAddr;

use sim_core::SimTime;

use super::messages::{ike_proposal, negotiate, sa_init_notifies};
use super::{Endpoint, IkeSa, IkeState, Request};
use crate::crypto::{DhGroup, DhPrivate};
use crate::events::{ExchangeKind, Outcome, Purpose};
use crate::ikev2::consts::{ExchangeType, NotifyType, PayloadType};
use crate::ikev2::header::{FLAG_INITIATOR, FLAG_RESPONSE, Header};
use crate::ikev2::keys::{derive_ike_keys_as, skeyseed_as};
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
    let local = SocketAddr::new(ep.addr, super::IKE_PORT);
    let spi_i = ep.random_spi();
    let ke_group = ep.cfg.dh_groups[0];
    let i = ep.push_sa(IkeSa::new(
        tunnel,
        true,
        spi_i,
        local,
        peer,
        IkeState::ExpectSaInitResponse,
        now,
        ke_group,
    ));
    if ep.state_events {
        let spi = ep.sas[i].sa_ref();
        ep.events.push_back((
            now,
            crate::events::Event::State {
                tunnel,
                kind: crate::events::SaKind::Ike,
                spi,
                state: IkeState::ExpectSaInitResponse.name(),
            },
        ));
    }
    send_request(ep, now, i);
}

/// Sends (or, after INVALID_KE_PAYLOAD, sends again with message ID 0) our IKE_SA_INIT
/// request with a fresh nonce and DH value for the SA's current KE group.
fn send_request(ep: &mut Endpoint, now: SimTime, i: usize) {
    let group = ep.sas[i].ke_group;
    let ni = ep.random_bytes(NONCE_LEN);
    let dh = DhPrivate::generate_with(group, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng);
    let (spi_i, local, peer) = (ep.sas[i].spi_i, ep.sas[i].local, ep.sas[i].peer);
    let mut payloads = vec![
        Payload::Sa(ike_proposal(ep.cfg.suite, &ep.cfg.dh_groups, vec![])),
        Payload::Ke(KePayload {
            group: group.id(),
            data: dh.public().to_vec(),
        }),
        Payload::Nonce(ni.clone()),
    ];
    let fake = ep.cfg.force_encap.then(|| ep.random_bytes(20));
    payloads.extend(sa_init_notifies(
        ep.cfg.flavour,
        spi_i,
        0,
        (local.ip(), local.port()),
        (peer.ip(), peer.port()),
        false,
        fake,
    ));
    let bytes = Message {
        header: header(spi_i, 0, FLAG_INITIATOR),
        payloads,
    }
    .encode();
    let sa = &mut ep.sas[i];
    sa.ni = ni;
    sa.dh = Some(dh);
    sa.init_msg_ours = bytes.clone();
    sa.next_msgid = 0;
    ep.send_request(
        i,
        now,
        bytes,
        ExchangeKind::IkeSaInit,
        Purpose::Establish,
        Request::SaInit,
    );
}

/// Finds the peer's proposal, KE and nonce, checking them against our configuration. An
/// error is the notify to answer with.
/// What an acceptable IKE_SA_INIT offers: the negotiated group, the peer's public value and
/// its nonce.
struct Offer {
    group: DhGroup,
    public: Vec<u8>,
    nonce: Vec<u8>,
}

/// The notify to refuse with, and for INVALID_KE_PAYLOAD the group we want.
type Refusal = (NotifyType, Option<DhGroup>);

fn accept(ep: &Endpoint, m: &Message) -> Result<Offer, Refusal> {
    let mut ke = None;
    let mut nonce = None;
    let mut group = None;
    for p in &m.payloads {
        match p {
            Payload::Sa(sa) => group = negotiate(ep.cfg.suite, &ep.cfg.dh_groups, sa),
            Payload::Ke(k) => ke = Some(k.clone()),
            Payload::Nonce(n) => nonce = Some(n.clone()),
            _ => {}
        }
    }
    let Some(group) = group else {
        return Err((NotifyType::NO_PROPOSAL_CHOSEN, None));
    };
    let (Some(ke), Some(nonce)) = (ke, nonce) else {
        return Err((NotifyType::INVALID_SYNTAX, None));
    };
    if ke.group != group.id() {
        return Err((NotifyType::INVALID_KE_PAYLOAD, Some(group)));
    }
    if !(16..=256).contains(&nonce.len()) {
        return Err((NotifyType::INVALID_SYNTAX, None));
    }
    Ok(Offer {
        group,
        public: ke.data,
        nonce,
    })
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
        ep.drop_datagram(now, None, "malformed IKE_SA_INIT");
        return;
    };
    // With a queue of work ahead (a CPU model), the driver ran these checks on arrival.
    if !ep.screens_on_arrival && !receiver_checks(ep, now, from, local, h, &m, 0) {
        return;
    }
    let (group, peer_public, ni) = match accept(ep, &m) {
        Ok(o) => (o.group, o.public, o.nonce),
        Err((notify, want)) => {
            // §2.21.1: an error in IKE_SA_INIT is answered unprotected and no SA is kept;
            // INVALID_KE_PAYLOAD names the group we want (§1.3).
            let data = want.map_or(vec![], |g| g.id().to_be_bytes().to_vec());
            answer_statelessly(ep, h.spi_i, local, from, notify, data);
            return;
        }
    };
    let spi_r = ep.random_spi();
    let nr = ep.random_bytes(NONCE_LEN);
    let dh = DhPrivate::generate_with(group, ep.cfg.dh_exponent_bits, ep.cfg.modeled, &mut ep.rng);
    let Ok(g_ir) = dh.shared_secret(&peer_public) else {
        ep.drop_datagram(now, None, "invalid KE value");
        return;
    };
    let mut payloads = vec![
        Payload::Sa(ike_proposal(ep.cfg.suite, &[group], vec![])),
        Payload::Ke(KePayload {
            group: group.id(),
            data: dh.public().to_vec(),
        }),
        Payload::Nonce(nr.clone()),
    ];
    let fake = ep.cfg.force_encap.then(|| ep.random_bytes(20));
    payloads.extend(sa_init_notifies(
        ep.cfg.flavour,
        h.spi_i,
        spi_r,
        (local.ip(), local.port()),
        (from.ip(), from.port()),
        true,
        fake,
    ));
    let reply = Message {
        header: header(h.spi_i, spi_r, FLAG_RESPONSE),
        payloads,
    }
    .encode();
    let suite = ep.cfg.suite;
    let seed = skeyseed_as(ep.protection, suite.prf, &ni, &nr, &g_ir);
    let keys = derive_ike_keys_as(ep.protection, suite, &seed, &ni, &nr, h.spi_i, spi_r);
    let (nat_here, nat_there, sent_natd) = super::nat::detect(&m.payloads, h.spi_i, 0, from, local);
    let tunnel = ep
        .tunnels_with(from.ip())
        .next()
        .map_or(u32::MAX, |t| t.tunnel);
    let mut sa = IkeSa::new(
        tunnel,
        false,
        h.spi_i,
        local,
        from,
        IkeState::ExpectAuthRequest,
        now,
        group,
    );
    sa.spi_r = spi_r;
    sa.keys = Some(keys);
    sa.ni = ni;
    sa.nr = nr;
    sa.init_msg_ours = reply.clone();
    sa.init_msg_peer = bytes.to_vec();
    sa.nat_here = nat_here || ep.cfg.force_encap;
    sa.nat_there = nat_there;
    sa.peer_sent_natd = sent_natd;
    let i = ep.push_sa(sa);
    ep.log_keys(i);
    if ep.state_events {
        let spi = ep.sas[i].sa_ref();
        ep.events.push_back((
            now,
            crate::events::Event::State {
                tunnel,
                kind: crate::events::SaKind::Ike,
                spi,
                state: IkeState::ExpectAuthRequest.name(),
            },
        ));
    }
    ep.send_response(i, 0, reply);
}

/// strongSwan's receiver (`drop_ike_sa_init`), before any work is queued for an IKE_SA_INIT
/// request: a COOKIE first (once `cookie_threshold` IKE SAs are half-open, or
/// `cookie_threshold_ip` from this address, and for 10 s after either was last reached);
/// then, cookie or not, the request is dropped silently from an address with
/// `block_threshold` half-open SAs, from anyone while `init_limit_half_open` are, or while
/// more than `init_limit_job_load` jobs wait for a core (`queued_jobs`). Whether the request
/// goes on to be answered.
pub(super) fn receiver_checks(
    ep: &mut Endpoint,
    now: SimTime,
    from: SocketAddr,
    local: SocketAddr,
    h: &Header,
    m: &Message,
    queued_jobs: usize,
) -> bool {
    let (half_open, from_ip) = (
        ep.index.half_open.total(),
        ep.index.half_open.from(from.ip()),
    );
    let calm = |last: Option<SimTime>| last.is_some_and(|t| now < t + super::COOKIE_CALMDOWN);
    let global = match ep.cfg.cookie_threshold {
        Some(t) if half_open >= t as usize => {
            ep.cookies_last_needed.0 = Some(now);
            true
        }
        Some(_) => calm(ep.cookies_last_needed.0),
        None => false,
    };
    let per_ip = match ep.cfg.cookie_threshold_ip {
        Some(t) if from_ip >= t => {
            ep.cookies_last_needed.1.insert(from.ip(), now);
            true
        }
        Some(_) => calm(ep.cookies_last_needed.1.get(&from.ip()).copied()),
        None => false,
    };
    if global || per_ip {
        let expected = cookie(ep, m, from);
        let offered = match m.payloads.first() {
            Some(Payload::Notify(n)) if n.ty == NotifyType::COOKIE => Some(&n.data),
            _ => None,
        };
        if offered != Some(&expected) {
            // Stateless: answer with the cookie and keep nothing.
            answer_statelessly(ep, h.spi_i, local, from, NotifyType::COOKIE, expected);
            return false;
        }
    }
    if ep.cfg.block_threshold.is_some_and(|l| from_ip >= l) {
        ep.drop_datagram(now, None, "per-IP half-open limit (block_threshold)");
        return false;
    }
    if ep
        .cfg
        .half_open_limit
        .is_some_and(|l| half_open >= l as usize)
    {
        ep.drop_datagram(now, None, "half-open limit (init_limit_half_open)");
        return false;
    }
    if ep
        .cfg
        .job_load_limit
        .is_some_and(|l| queued_jobs > l as usize)
    {
        ep.drop_datagram(now, None, "job load limit (init_limit_job_load)");
        return false;
    }
    true
}

/// Answers an IKE_SA_INIT request with a lone notify, keeping no state (§2.6, §2.21.1).
fn answer_statelessly(
    ep: &mut Endpoint,
    spi_i: u64,
    local: SocketAddr,
    to: SocketAddr,
    ty: NotifyType,
    data: Vec<u8>,
) {
    let reply = Message {
        header: header(spi_i, 0, FLAG_RESPONSE),
        payloads: vec![Payload::Notify(NotifyPayload::new(ty, data))],
    }
    .encode();
    ep.out.push_back(super::Transmit {
        src: local,
        dst: to,
        payload: reply,
    });
}

/// Cookie = <version> | SHA-1(Ni | IPi | SPIi | <secret>) (RFC 7296 §2.6).
fn cookie(ep: &mut Endpoint, m: &Message, from: SocketAddr) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let secret = match ep.cookie_secret {
        Some(s) => s,
        None => {
            let mut s = [0u8; 16];
            s.copy_from_slice(&ep.random_bytes(16));
            ep.cookie_secret = Some(s);
            s
        }
    };
    let ni = m.payloads.iter().find_map(|p| {
        if let Payload::Nonce(n) = p {
            Some(n.as_slice())
        } else {
            None
        }
    });
    let mut h = Sha1::new();
    h.update(ni.unwrap_or_default());
    match from.ip() {
        std::net::IpAddr::V4(a) => h.update(a.octets()),
        std::net::IpAddr::V6(a) => h.update(a.octets()),
    }
    h.update(m.header.spi_i.to_be_bytes());
    h.update(secret);
    let mut out = vec![1u8];
    out.extend_from_slice(&h.finalize());
    out
}

/// Handles the IKE_SA_INIT response as initiator: keys, then IKE_AUTH.
pub(super) fn on_response(
    ep: &mut Endpoint,
    now: SimTime,
    i: usize,
    k: usize,
    h: &Header,
    bytes: &[u8],
) {
    let Ok(m) = Message::decode(bytes) else {
        ep.drop_datagram(now, Some(i), "malformed IKE_SA_INIT response");
        return;
    };
    let p = ep.sas[i].pending.remove(k);
    // §2.6: resend the same request with the responder's cookie as the first payload.
    if let Some(Payload::Notify(n)) = m.payloads.first()
        && n.ty == NotifyType::COOKIE
        && (1..=64).contains(&n.data.len())
    {
        ep.finish_pending(i, now, &p, Outcome::Refused(NotifyType::COOKIE.to_string()));
        let mut ours = Message::decode(&ep.sas[i].init_msg_ours).expect("we encoded it");
        if matches!(ours.payloads.first(), Some(Payload::Notify(c)) if c.ty == NotifyType::COOKIE) {
            ours.payloads.remove(0);
        }
        ours.payloads.insert(
            0,
            Payload::Notify(NotifyPayload::new(NotifyType::COOKIE, n.data.clone())),
        );
        let bytes = ours.encode();
        ep.sas[i].init_msg_ours = bytes.clone();
        ep.sas[i].next_msgid = 0;
        ep.send_request(
            i,
            now,
            bytes,
            ExchangeKind::IkeSaInit,
            Purpose::Establish,
            Request::SaInit,
        );
        return;
    }
    // §1.2: a wrong KE guess costs one round trip; retry at once with the group asked for.
    if let Some(group) = m.payloads.iter().find_map(|x| match x {
        Payload::Notify(n) if n.ty == NotifyType::INVALID_KE_PAYLOAD && n.data.len() == 2 => {
            DhGroup::from_id(u16::from_be_bytes([n.data[0], n.data[1]]))
        }
        _ => None,
    }) && ep.cfg.dh_groups.contains(&group)
        && group != ep.sas[i].ke_group
    {
        ep.finish_pending(
            i,
            now,
            &p,
            Outcome::Refused(NotifyType::INVALID_KE_PAYLOAD.to_string()),
        );
        ep.sas[i].ke_group = group;
        send_request(ep, now, i);
        return;
    }
    if let Some(Payload::Notify(n)) = m
        .payloads
        .iter()
        .find(|p| matches!(p, Payload::Notify(n) if n.ty.is_error()))
    {
        ep.finish_pending(i, now, &p, Outcome::Refused(n.ty.to_string()));
        ep.kill(i, now, "IKE_SA_INIT refused");
        return;
    }
    let (peer_public, nr) = match accept(ep, &m) {
        Ok(o) if o.group == ep.sas[i].ke_group => (o.public, o.nonce),
        _ => {
            ep.sas[i].pending.insert(k, p);
            ep.drop_datagram(now, Some(i), "unacceptable IKE_SA_INIT response");
            return;
        }
    };
    let Ok(g_ir) = ep.sas[i]
        .dh
        .as_ref()
        .expect("initiator keeps its DH value")
        .shared_secret(&peer_public)
    else {
        ep.sas[i].pending.insert(k, p);
        ep.drop_datagram(now, Some(i), "invalid KE value");
        return;
    };
    ep.sas[i].dh = None;
    let (from, local) = ep.arrival.expect("set while handling a datagram");
    let suite = ep.cfg.suite;
    let sa = &mut ep.sas[i];
    sa.spi_r = h.spi_r;
    sa.nr = nr;
    sa.init_msg_peer = bytes.to_vec();
    let seed = skeyseed_as(ep.protection, suite.prf, &sa.ni, &sa.nr, &g_ir);
    sa.keys = Some(derive_ike_keys_as(
        ep.protection,
        suite,
        &seed,
        &sa.ni,
        &sa.nr,
        sa.spi_i,
        sa.spi_r,
    ));
    let (here, there, sent) = super::nat::detect(&m.payloads, sa.spi_i, sa.spi_r, from, local);
    sa.nat_here = here || ep.cfg.force_encap;
    sa.nat_there = there;
    sa.peer_sent_natd = sent;
    // strongSwan moves to 4500 whenever a NAT is seen, and with MOBIKE whenever the peer
    // could have seen one (it sent NAT-D).
    if sa.nat_here || sa.nat_there || (ep.cfg.mobike && sent) {
        sa.local.set_port(super::NATT_PORT);
        sa.peer.set_port(super::NATT_PORT);
    }
    ep.finish_pending(i, now, &p, Outcome::Success);
    ep.log_keys(i);
    super::ike_auth::initiate(ep, now, i);
}
