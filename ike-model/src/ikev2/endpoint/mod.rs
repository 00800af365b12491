//! The IKEv2 endpoint of one node, sans-IO (quinn-proto's contract): datagrams and timeouts
//! go in through `handle_*`, and what to send, when to wake up and what happened come out
//! through `poll_transmit`, `poll_timeout` and `poll_event`. The clock is an argument; the
//! randomness is the endpoint's own named stream.
//!
//! This first slice runs IKE_SA_INIT and IKE_AUTH with PSK and the first CHILD_SA (RFC 7296
//! §1.2), with retransmission per policy (§2.1) and a response cache for retransmitted
//! requests. Later exchanges (CREATE_CHILD_SA, INFORMATIONAL, COOKIE, INVALID_KE) build on
//! the same SA table.

mod ike_auth;
mod ike_sa_init;
mod informational;
pub mod messages;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use rand::Rng;
use sim_core::{SimRng, SimTime};

use crate::crypto::{DhGroup, DhPrivate, EncrAlg, IntegAlg};
use crate::events::{Event, ExchangeKind, IkeVersion, Outcome, Purpose, SaChange, SaKind};
use crate::ikev2::consts::ExchangeType;
use crate::ikev2::header::Header;
use crate::ikev2::keys::{ChildKeys, IkeSaKeys, IkeSuite};
use crate::policy::RetransmitPolicy;

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Our address and port.
    pub src: SocketAddr,
    /// The peer's address and port.
    pub dst: SocketAddr,
    /// The IKE message.
    pub payload: Vec<u8>,
}

/// How this endpoint negotiates and authenticates.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Our address (IKE on UDP 500; also our ID_IPV4_ADDR / ID_IPV6_ADDR identity).
    pub addr: IpAddr,
    /// Pre-shared key.
    pub psk: Vec<u8>,
    /// IKE SA algorithms we propose and accept.
    pub suite: IkeSuite,
    /// DH groups we propose and accept, most preferred first; the initiator's first KE
    /// guess is the first.
    pub dh_groups: Vec<DhGroup>,
    /// Private exponent bits (`None`: the prime's length, strongSwan's default).
    pub dh_exponent_bits: Option<u32>,
    /// CHILD_SA encryption.
    pub esp_encr: EncrAlg,
    /// CHILD_SA integrity.
    pub esp_integ: IntegAlg,
    /// Request retransmission.
    pub retransmit: RetransmitPolicy,
    /// Liveness check after this long without receiving anything (strongSwan's
    /// `dpd_delay`); off when `None`.
    pub dpd: Option<sim_core::Duration>,
    /// As responder, demand a COOKIE (RFC 7296 §2.6) once this many IKE SAs are half-open
    /// (strongSwan: 30); never when `None`.
    pub cookie_threshold: Option<u32>,
}

/// Where an IKE SA is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IkeState {
    /// Initiator: IKE_SA_INIT request sent.
    ExpectSaInitResponse,
    /// Initiator: IKE_AUTH request sent.
    ExpectAuthResponse,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    ExpectAuthRequest,
    /// Authenticated, first CHILD_SA installed.
    Established,
    /// Gave up or failed; kept only until the driver has seen the events.
    Dead,
}

impl IkeState {
    /// The state name a strongSwan user recognises.
    pub fn name(self) -> &'static str {
        match self {
            IkeState::ExpectSaInitResponse | IkeState::ExpectAuthResponse => "CONNECTING",
            IkeState::ExpectAuthRequest => "CONNECTING (responder)",
            IkeState::Established => "ESTABLISHED",
            IkeState::Dead => "DESTROYING",
        }
    }
}

/// A request waiting for its response.
#[derive(Clone, Debug)]
struct Pending {
    msgid: u32,
    bytes: Vec<u8>,
    kind: ExchangeKind,
    purpose: Purpose,
    first_sent: SimTime,
    sends: u32,
    next_at: SimTime,
}

/// A CHILD_SA pair as this endpoint holds it.
#[derive(Clone, Debug)]
pub struct ChildSa {
    /// Our inbound SPI.
    pub spi_in: u32,
    /// The peer's inbound SPI (our outbound).
    pub spi_out: u32,
    /// Keys (initiator's direction first, as KEYMAT orders them).
    pub keys: ChildKeys,
}

/// One IKE SA and what it is doing.
#[derive(Debug)]
pub struct IkeSa {
    /// The tunnel this SA serves (scenario index).
    pub tunnel: u32,
    /// Whether we initiated it.
    pub initiator: bool,
    /// Initiator's SPI.
    pub spi_i: u64,
    /// Responder's SPI (0 until known).
    pub spi_r: u64,
    /// State.
    pub state: IkeState,
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub peer: SocketAddr,
    /// Keys, once IKE_SA_INIT completed.
    pub keys: Option<IkeSaKeys>,
    /// The first CHILD_SA, once installed.
    pub child: Option<ChildSa>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    dh: Option<DhPrivate>,
    /// Our IKE_SA_INIT message (signed by our AUTH).
    init_msg_ours: Vec<u8>,
    /// The peer's IKE_SA_INIT message (signed by its AUTH).
    init_msg_peer: Vec<u8>,
    next_msgid: u32,
    expect_msgid: u32,
    pending: Option<Pending>,
    /// The last response we sent: (message ID, bytes), resent for a retransmitted request.
    last_response: Option<(u32, Vec<u8>)>,
    child_spi_in: u32,
    /// When a valid message last arrived on this SA (for DPD).
    last_received: SimTime,
    /// The DH group of our KE payload (changed by INVALID_KE_PAYLOAD).
    ke_group: DhGroup,
}

/// An IKEv2 endpoint.
#[derive(Debug)]
pub struct Endpoint {
    cfg: EndpointConfig,
    rng: SimRng,
    sas: Vec<IkeSa>,
    out: VecDeque<Transmit>,
    events: VecDeque<(SimTime, Event)>,
    /// The secret behind our cookies, drawn when first needed.
    cookie_secret: Option<[u8; 16]>,
    /// Wireshark `ikev2_decryption_table` lines of every IKE SA that got keys, in order.
    pub key_log: Vec<String>,
    /// Tunnel index by peer address, for SAs this endpoint responds to.
    peers: Vec<(IpAddr, u32)>,
    /// Datagrams dropped because they did not parse or belonged to no SA.
    pub dropped: u64,
}

/// The IKE port.
pub const IKE_PORT: u16 = 500;

impl Endpoint {
    /// An endpoint with configuration `cfg`, drawing SPIs, nonces, DH exponents, IVs and
    /// padding from `rng`.
    pub fn new(cfg: EndpointConfig, rng: SimRng) -> Self {
        Endpoint {
            cfg,
            rng,
            sas: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            peers: Vec::new(),
            key_log: Vec::new(),
            cookie_secret: None,
            dropped: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// The IKE SAs this endpoint holds (its SAD).
    pub fn ike_sas(&self) -> &[IkeSa] {
        &self.sas
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event, with the time it happened.
    pub fn poll_event(&mut self) -> Option<(SimTime, Event)> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        (0..self.sas.len())
            .filter_map(|i| {
                let retransmit = self.sas[i].pending.as_ref().map(|p| p.next_at);
                retransmit.or_else(|| informational::dpd_due(self, i))
            })
            .min()
    }

    /// Tells a responder that SAs from `peer` belong to tunnel `tunnel` (for its events).
    pub fn add_peer(&mut self, peer: IpAddr, tunnel: u32) {
        self.peers.push((peer, tunnel));
    }

    fn tunnel_of(&self, peer: IpAddr) -> u32 {
        self.peers
            .iter()
            .find(|(ip, _)| *ip == peer)
            .map_or(u32::MAX, |(_, t)| *t)
    }

    /// Starts tunnel `tunnel` to `peer`: sends IKE_SA_INIT.
    pub fn start_tunnel(&mut self, now: SimTime, tunnel: u32, peer: IpAddr) {
        ike_sa_init::initiate(self, now, tunnel, SocketAddr::new(peer, IKE_PORT));
    }

    /// Retransmits due requests; gives up on those whose schedule ran out.
    pub fn handle_timeout(&mut self, now: SimTime) {
        for i in 0..self.sas.len() {
            if informational::dpd_due(self, i).is_some_and(|t| t <= now) {
                informational::send_liveness_check(self, now, i);
                continue;
            }
            let Some(p) = self.sas[i].pending.as_mut() else {
                continue;
            };
            if p.next_at > now {
                continue;
            }
            let policy = &self.cfg.retransmit;
            if p.sends > policy.tries {
                let (kind, purpose, first_sent, sends) = (p.kind, p.purpose, p.first_sent, p.sends);
                self.sas[i].pending = None;
                self.finish_exchange(
                    i,
                    now,
                    kind,
                    purpose,
                    first_sent,
                    sends - 1,
                    Outcome::Timeout,
                );
                self.kill(i, now, "retransmissions exhausted");
                continue;
            }
            let wait = policy.draw_interval(p.sends, &mut self.rng);
            p.sends += 1;
            let deadline = policy
                .give_up_after
                .map(|g| p.first_sent + g)
                .unwrap_or(SimTime::MAX);
            p.next_at = (now + wait).min(deadline);
            if p.next_at == deadline {
                // The next wake-up is the give-up, not another send.
                p.sends = policy.tries + 1;
            }
            let bytes = p.bytes.clone();
            let (local, peer) = (self.sas[i].local, self.sas[i].peer);
            self.out.push_back(Transmit {
                src: local,
                dst: peer,
                payload: bytes,
            });
        }
        self.sas.retain(|s| s.state != IkeState::Dead);
    }

    /// Handles a datagram received on `local` from `from`.
    pub fn handle_datagram(
        &mut self,
        now: SimTime,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
    ) {
        let Ok(h) = Header::decode(bytes) else {
            self.dropped += 1;
            return;
        };
        let idx = self.sas.iter().position(|s| {
            s.spi_i == h.spi_i && (s.spi_r == h.spi_r || s.spi_r == 0 || h.spi_r == 0)
        });
        match idx {
            None if !h.is_response() && h.message_id == 0 && h.spi_r == 0 => {
                ike_sa_init::respond(self, now, from, local, &h, bytes)
            }
            None => self.dropped += 1,
            Some(i) => {
                if h.is_response() {
                    let matches = self.sas[i]
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.msgid == h.message_id);
                    if !matches {
                        self.dropped += 1;
                        return;
                    }
                    match self.sas[i].state {
                        IkeState::ExpectSaInitResponse => {
                            ike_sa_init::on_response(self, now, i, &h, bytes)
                        }
                        IkeState::ExpectAuthResponse => ike_auth::on_response(self, now, i, bytes),
                        IkeState::Established if h.exchange == ExchangeType::INFORMATIONAL => {
                            if informational::on_response(self, now, i, bytes) {
                                self.sas[i].last_received = now;
                            } else {
                                self.dropped += 1;
                            }
                        }
                        _ => self.dropped += 1,
                    }
                } else if let Some((id, cached)) = &self.sas[i].last_response
                    && *id == h.message_id
                {
                    // §2.1: a retransmitted request gets the same response, unprocessed.
                    self.out.push_back(Transmit {
                        src: self.sas[i].local,
                        dst: self.sas[i].peer,
                        payload: cached.clone(),
                    });
                } else if h.message_id == self.sas[i].expect_msgid
                    && self.sas[i].state == IkeState::ExpectAuthRequest
                {
                    ike_auth::respond(self, now, i, bytes);
                    self.sas[i].last_received = now;
                } else if h.message_id == self.sas[i].expect_msgid
                    && self.sas[i].state == IkeState::Established
                    && h.exchange == ExchangeType::INFORMATIONAL
                {
                    if informational::respond(self, i, bytes) {
                        self.sas[i].last_received = now;
                    } else {
                        self.dropped += 1;
                    }
                } else {
                    self.dropped += 1;
                }
            }
        }
        self.sas.retain(|s| s.state != IkeState::Dead);
    }

    /// Records the decryption-table line of SA `i` once it has keys.
    fn log_keys(&mut self, i: usize) {
        let sa = &self.sas[i];
        if let Some(k) = &sa.keys {
            self.key_log
                .push(crate::ikev2::keylog::decryption_table_line(
                    sa.spi_i, sa.spi_r, k,
                ));
        }
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn random_spi(&mut self) -> u64 {
        loop {
            let s = self.rng.next_u64();
            if s != 0 {
                return s;
            }
        }
    }

    /// Sends a request on SA `i` and starts its retransmission timer.
    fn send_request(
        &mut self,
        i: usize,
        now: SimTime,
        bytes: Vec<u8>,
        kind: ExchangeKind,
        purpose: Purpose,
    ) {
        let wait = self.cfg.retransmit.draw_interval(0, &mut self.rng);
        let sa = &mut self.sas[i];
        let msgid = sa.next_msgid;
        sa.next_msgid += 1;
        sa.pending = Some(Pending {
            msgid,
            bytes: bytes.clone(),
            kind,
            purpose,
            first_sent: now,
            sends: 1,
            next_at: now + wait,
        });
        self.out.push_back(Transmit {
            src: sa.local,
            dst: sa.peer,
            payload: bytes,
        });
    }

    /// Sends a response on SA `i` and caches it for retransmitted requests.
    fn send_response(&mut self, i: usize, msgid: u32, bytes: Vec<u8>) {
        let sa = &mut self.sas[i];
        sa.last_response = Some((msgid, bytes.clone()));
        sa.expect_msgid = msgid + 1;
        self.out.push_back(Transmit {
            src: sa.local,
            dst: sa.peer,
            payload: bytes,
        });
    }

    /// Reports the end of the exchange of request `p` (now taken off SA `i`).
    fn finish_pending(&mut self, i: usize, now: SimTime, p: &Pending, outcome: Outcome) {
        self.finish_exchange(
            i,
            now,
            p.kind,
            p.purpose,
            p.first_sent,
            p.sends - 1,
            outcome,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_exchange(
        &mut self,
        i: usize,
        now: SimTime,
        kind: ExchangeKind,
        purpose: Purpose,
        started: SimTime,
        retransmissions: u32,
        outcome: Outcome,
    ) {
        let tunnel = self.sas[i].tunnel;
        self.events.push_back((
            now,
            Event::ExchangeFinished {
                tunnel,
                version: IkeVersion::V2,
                kind,
                purpose,
                started,
                ended: now,
                retransmissions,
                outcome,
            },
        ));
    }

    fn sa_event(&mut self, i: usize, now: SimTime, kind: SaKind, change: SaChange, reason: &str) {
        let sa = &self.sas[i];
        let spi = match kind {
            SaKind::Ike => format!("{:016x}_{:016x}", sa.spi_i, sa.spi_r),
            SaKind::Child => format!("{:08x}", sa.child.as_ref().map_or(0, |c| c.spi_in)),
        };
        self.events.push_back((
            now,
            Event::Sa {
                tunnel: sa.tunnel,
                kind,
                spi,
                change,
                reason: reason.to_string(),
            },
        ));
    }

    fn kill(&mut self, i: usize, now: SimTime, reason: &str) {
        if self.sas[i].keys.is_some() {
            self.sa_event(i, now, SaKind::Ike, SaChange::Deleted, reason);
        }
        self.sas[i].state = IkeState::Dead;
    }
}
