//! The IKEv2 endpoint of one node, sans-IO (quinn-proto's contract): datagrams and timeouts
//! go in through `handle_*`, commands through `start_tunnel`, `create_child`, `rekey_child`,
//! `delete_child` and `delete_ike`; what to send, when to wake up and what happened come
//! out through `poll_transmit`, `poll_timeout` and `poll_event`. The clock is an argument;
//! the randomness is the endpoint's own named stream.
//!
//! One module per exchange (RFC 7296 §1): `ike_sa_init`, `ike_auth`, `create_child_sa`,
//! `informational`; `sa` holds the SAD, `selectors` the tunnels' traffic selectors, `nat`
//! NAT detection and the float to UDP 4500.

pub mod collisions;
mod create_child_sa;
mod ike_auth;
mod ike_sa_init;
mod informational;
mod lifetimes;
pub mod messages;
mod nat;
mod rekey_ike_sa;
mod sa;
mod sad_index;
mod sad_ops;
pub mod selectors;
mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use sim_core::{SimRng, SimTime};

use crate::crypto::{DhGroup, EncrAlg, IntegAlg};
use crate::events::{Event, Outcome};
use crate::ikev2::consts::ExchangeType;
use crate::ikev2::header::{FLAG_INITIATOR, FLAG_RESPONSE, Header};
use crate::ikev2::keys::IkeSuite;
use crate::ikev2::protect::{Opened, Protection, open_as};
use crate::policy::{LifetimePolicy, RetransmitPolicy};

pub use sa::{ChildSa, ChildState, IkeSa, IkeState};
pub use selectors::{Selectors, TunnelConfig};

use sa::{Command, Request};

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Our address and port.
    pub src: SocketAddr,
    /// The peer's address and port.
    pub dst: SocketAddr,
    /// The UDP payload (on port 4500 it starts with the 4-byte non-ESP marker).
    pub payload: Vec<u8>,
}

/// Which implementation's message layout a peer reproduces (the notifies it adds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Flavour {
    /// strongSwan 5.9: NAT-D, fragmentation, signature hashes, redirect, childless,
    /// multiple-auth, EAP-only and message-ID-sync notifies (the reference captures).
    #[default]
    StrongSwan,
    /// A Juniper SRX-like gateway: NAT-D and fragmentation in IKE_SA_INIT, nothing
    /// optional in IKE_AUTH besides INITIAL_CONTACT.
    Srx,
}

/// How a peer ends rekeys and resolves rekey collisions (REFERENCE.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RekeyStyle {
    /// strongSwan: the nonce rule of RFC 7296 §2.8.1/§2.8.2; the rekey initiator deletes
    /// the old SA at once.
    #[default]
    StrongSwan,
    /// libreswan: no nonce rule, parallel SAs linger; the rekey initiator expires the old
    /// SA 1 s after the rekey, and only the newest CHILD_SA of a tunnel is rekeyed.
    Libreswan,
}

impl RekeyStyle {
    /// Whether simultaneous rekeys are resolved by the nonce rule.
    pub fn nonce_rule(self) -> bool {
        self == RekeyStyle::StrongSwan
    }

    /// How long the rekey initiator keeps the old SA (`None`: deletes it at once).
    pub fn delete_old_after(self) -> Option<sim_core::Duration> {
        match self {
            RekeyStyle::StrongSwan => None,
            RekeyStyle::Libreswan => Some(sim_core::Duration::from_secs(1)),
        }
    }
}

/// How this endpoint negotiates and authenticates.
#[derive(Clone, Debug, PartialEq)]
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
    /// `Modeled` crypto (DESIGN.md): Diffie-Hellman replaced by stand-in bytes of the same
    /// length; messages, sizes and the random draws stay those of `Real`.
    pub modeled: bool,
    /// CHILD_SA encryption.
    pub esp_encr: EncrAlg,
    /// CHILD_SA integrity.
    pub esp_integ: IntegAlg,
    /// PFS group for CHILD_SAs made by CREATE_CHILD_SA (the DH group of the ESP
    /// proposal); `None`: no PFS.
    pub esp_dh: Option<DhGroup>,
    /// Request retransmission.
    pub retransmit: RetransmitPolicy,
    /// Liveness check after this long without receiving anything (strongSwan's
    /// `dpd_delay`); off when `None`.
    pub dpd: Option<sim_core::Duration>,
    /// As responder, demand a COOKIE (RFC 7296 §2.6) once this many IKE SAs are half-open
    /// (strongSwan: 30); never when `None`.
    pub cookie_threshold: Option<u32>,
    /// As responder, demand a COOKIE from a peer address with this many half-open IKE SAs
    /// (strongSwan's `cookie_threshold_ip`: 3); never when `None`.
    pub cookie_threshold_ip: Option<u32>,
    /// As responder, drop IKE_SA_INIT from a peer address with this many half-open IKE SAs
    /// (strongSwan's `block_threshold`: 5); never when `None`.
    pub block_threshold: Option<u32>,
    /// As responder, drop every IKE_SA_INIT while this many IKE SAs are half-open
    /// (strongSwan's `init_limit_half_open`, off by default); never when `None`.
    pub half_open_limit: Option<u32>,
    /// As responder, drop every IKE_SA_INIT that arrives while more than this many jobs
    /// wait for a core (strongSwan's `init_limit_job_load`, off by default); only a driver
    /// with a queue of work calls [`Endpoint::screen_datagram`] with a load. Never when `None`.
    pub job_load_limit: Option<u32>,
    /// Requests the peer may have outstanding with us (SET_WINDOW_SIZE, RFC 7296 §2.3).
    pub window: u32,
    /// strongSwan's `mobike = yes`: announce MOBIKE and move IKE to UDP 4500 from
    /// IKE_AUTH on whenever the peer sent NAT-D; otherwise move only when a NAT is seen.
    pub mobike: bool,
    /// strongSwan's `encap = yes`: fake the NAT-D source hash so both ends see a NAT and
    /// encapsulate ESP in UDP.
    pub force_encap: bool,
    /// Whose message layout to reproduce.
    pub flavour: Flavour,
    /// Behind a NAT, a 1-byte NAT-T keepalive (RFC 3948 §2.3) after this long without
    /// sending on UDP 4500 (strongSwan's `keep_alive`, 20 s); never when `None`.
    pub keepalive: Option<sim_core::Duration>,
    /// IKE SA rekey and expiry.
    pub ike_lifetime: LifetimePolicy,
    /// CHILD_SA rekey and expiry.
    pub child_lifetime: LifetimePolicy,
    /// How rekeys end and collisions resolve.
    pub rekey_style: RekeyStyle,
    /// When a tunnel this endpoint started loses its last CHILD_SA to expiry, set the
    /// tunnel up again with a new IKE SA (an SRX with `establish-tunnels immediately`).
    pub restart_when_childless: bool,
}

/// Why a command could not be carried out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The tunnel has no established IKE SA at this endpoint.
    #[error("tunnel {0} has no established IKE SA here")]
    NoIkeSa(u32),
    /// The tunnel's IKE SA has no CHILD_SA to act on.
    #[error("tunnel {0} has no installed CHILD_SA here")]
    NoChildSa(u32),
}

/// An IKEv2 endpoint.
#[derive(Debug)]
pub struct Endpoint {
    cfg: Arc<EndpointConfig>,
    /// Our address (`cfg.addr` unless the settings are shared).
    addr: IpAddr,
    rng: SimRng,
    /// The SAD in creation order (dead SAs may linger; see `sad_index`).
    sas: Vec<IkeSa>,
    /// Indexes over the SAD: wake-ups, initiator SPIs, tunnels.
    index: sad_index::SadIndex,
    out: VecDeque<Transmit>,
    events: VecDeque<(SimTime, Event)>,
    /// The secret behind our cookies, drawn when first needed.
    cookie_secret: Option<[u8; 16]>,
    /// When the COOKIE thresholds were last reached: globally, and per peer address
    /// (strongSwan keeps demanding cookies until 10 s after that, `COOKIE_CALMDOWN_DELAY`).
    cookies_last_needed: (Option<SimTime>, fnv::FnvHashMap<IpAddr, SimTime>),
    /// Wireshark `ikev2_decryption_table` lines of every IKE SA that got keys, in order.
    pub key_log: Vec<String>,
    tunnels: Vec<TunnelConfig>,
    /// Position in `tunnels` by tunnel id (lookups only; never iterated).
    tunnel_at: sim_core::DenseMap<Option<u32>>,
    /// Positions in `tunnels` by peer address, in the order the tunnels were added.
    tunnels_of_peer: fnv::FnvHashMap<IpAddr, smallvec::SmallVec<[usize; 1]>>,
    /// Whether `key_log` is kept (it costs a line per IKE SA).
    keep_key_log: bool,
    /// How SK payloads are protected (Modeled crypto without a capture may skip AES/HMAC).
    protection: Protection,
    /// Whether `Event::State` is reported (only a trace reads it).
    state_events: bool,
    /// Datagrams dropped, by reason (RFC 7296 §2.21: never answered, only counted).
    pub dropped: BTreeMap<&'static str, u64>,
    /// Where the datagram being handled came from and arrived (for the float to 4500).
    arrival: Option<(SocketAddr, SocketAddr)>,
    /// Tunnels this endpoint started, with the peer's address.
    started: Vec<(u32, IpAddr)>,
    /// The time of the call being handled (for what is sent from deep inside it).
    clock: SimTime,
    /// Inbound SPIs of deleted CHILD_SAs still accepted: (tunnel, SPI, until), ordered by
    /// `until` (a concentrator has hundreds; the next to end is the first).
    lingering: std::collections::VecDeque<Linger>,
    /// The SPIs in `lingering` once it is long (a concentrator has hundreds), so drawing a
    /// new SPI does not walk it; empty while it is short (a branch has one, for 5 s, or
    /// until its next call without linger wake-ups). Either empty or all of them.
    lingering_spis: fnv::FnvHashSet<u32>,
    /// Whether the end of a linger is an event of its own (a wake-up, reported as
    /// `InboundRemoved`), or, when nothing in the run looks at it, taken lazily (see
    /// [`Endpoint::set_linger_wakeups`]).
    linger_wakeups: bool,
    /// Whether the driver runs strongSwan's receiver checks when a datagram arrives
    /// ([`Endpoint::screen_datagram`]), so that answering IKE_SA_INIT does not repeat them.
    screens_on_arrival: bool,
}

/// Where ESP for a tunnel goes: (peer's SPI, our outbound keys, UDP-encapsulated, the
/// peer's address and port when encapsulated).
pub type EspRoute = (u32, crate::esp::EspKeys, bool, Option<SocketAddr>);

/// A deleted CHILD_SA whose inbound SPI still accepts packets for a while.
#[derive(Debug)]
struct Linger {
    tunnel: u32,
    spi: u32,
    until: SimTime,
    /// The CHILD_SA's keys (derived only if a packet needs them); none without linger
    /// wake-ups.
    keys: Option<crate::ikev2::keys::ChildKeys>,
    /// Whether we initiated the exchange that made the CHILD_SA.
    initiated: bool,
}

/// The IKE message of a datagram received on `local`: after the non-ESP marker on UDP 4500
/// (`nat::strip_marker`, which says why it is not one, if it is worth a drop count).
fn ike_bytes(local: SocketAddr, bytes: &[u8]) -> Result<&[u8], Option<&'static str>> {
    if local.port() == NATT_PORT {
        nat::strip_marker(bytes)
    } else {
        Ok(bytes)
    }
}

/// Whether `h` is an IKE_SA_INIT request that asks for a new IKE SA (if none has its SPI).
fn opens_new_sa(h: &Header) -> bool {
    !h.is_response() && h.message_id == 0 && h.spi_r == 0 && h.exchange == ExchangeType::IKE_SA_INIT
}

/// How long a responder keeps demanding COOKIEs after the threshold was last reached
/// (strongSwan's `COOKIE_CALMDOWN_DELAY`: switching on and off would confuse initiators
/// whose retransmissions straddle the change).
pub const COOKIE_CALMDOWN: sim_core::Duration = sim_core::Duration::from_secs(10);

/// The IKE port.
pub const IKE_PORT: u16 = 500;
/// How long the inbound SPI of a deleted CHILD_SA stays installed (strongSwan, Linux).
pub const INBOUND_LINGER: sim_core::Duration = sim_core::Duration::from_secs(5);
/// How long a responder keeps an IKE SA whose IKE_AUTH never came (strongSwan's
/// `half_open_timeout`).
pub const HALF_OPEN_TIMEOUT: sim_core::Duration = sim_core::Duration::from_secs(30);
/// The NAT-T port (RFC 3948): IKE after the 4-byte non-ESP marker, and ESP in UDP.
pub const NATT_PORT: u16 = 4500;

impl Endpoint {
    /// An endpoint with configuration `cfg`, drawing SPIs, nonces, DH exponents, IVs and
    /// padding from `rng`.
    pub fn new(cfg: EndpointConfig, rng: SimRng) -> Self {
        let addr = cfg.addr;
        Self::sharing(Arc::new(cfg), addr, rng)
    }

    /// An endpoint at `addr` whose settings are shared with other endpoints (a
    /// concentrator's branches: one copy for 10^5 of them, read from the same cache lines);
    /// `settings.addr` is not used.
    pub fn sharing(settings: Arc<EndpointConfig>, addr: IpAddr, rng: SimRng) -> Self {
        Endpoint {
            cfg: settings,
            addr,
            rng,
            sas: Vec::new(),
            index: sad_index::SadIndex::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            tunnels: Vec::new(),
            tunnel_at: Default::default(),
            tunnels_of_peer: Default::default(),
            keep_key_log: true,
            protection: Protection::Real,
            state_events: true,
            key_log: Vec::new(),
            cookie_secret: None,
            cookies_last_needed: Default::default(),
            dropped: BTreeMap::new(),
            arrival: None,
            started: Vec::new(),
            lingering: Default::default(),
            lingering_spis: Default::default(),
            linger_wakeups: true,
            screens_on_arrival: false,
            clock: SimTime::ZERO,
        }
    }

    /// The settings (their `addr` is another endpoint's when shared: see
    /// [`Endpoint::address`]).
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Our address (IKE's source address and our identity).
    pub fn address(&self) -> IpAddr {
        self.addr
    }

    /// The IKE SAs this endpoint holds (its SAD), in creation order. A SAD of 256 SAs or
    /// more may still hold SAs in state `Dead` (swept in batches); skip them.
    pub fn ike_sas(&self) -> &[IkeSa] {
        &self.sas
    }

    /// Whether no exchange is in flight or queued and every SA is in a settled state
    /// (IKE SAs established, CHILD_SAs installed): the moment invariants are checked.
    pub fn is_idle(&self) -> bool {
        self.sas
            .iter()
            .filter(|s| s.state != IkeState::Dead)
            .all(|s| {
                s.state == IkeState::Established
                    && s.pending.is_empty()
                    && s.queue.is_empty()
                    && s.children.iter().all(|c| c.state == ChildState::Installed)
            })
    }

    /// All datagrams dropped so far.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        crate::outbox::pop_or_release(&mut self.out, self.sas.len())
    }

    /// The next event, with the time it happened.
    pub fn poll_event(&mut self) -> Option<(SimTime, Event)> {
        crate::outbox::pop_or_release(&mut self.events, self.sas.len())
    }

    /// When [`Endpoint::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let linger = self
            .lingering
            .front()
            .filter(|_| self.linger_wakeups)
            .map(|l| l.until);
        match (self.first_due(), linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When SA `i` next needs [`Endpoint::handle_timeout`]: a retransmission or give-up, a
    /// lifetime event, a keepalive, a liveness check or the half-open timeout.
    pub(super) fn sa_due(&self, i: usize) -> Option<SimTime> {
        let retransmit = self.sas[i].pending.iter().map(|p| p.next_at).min();
        let life = [lifetimes::next_due(self, i), self.keepalive_due(i)]
            .into_iter()
            .flatten()
            .min();
        let other = retransmit
            .or_else(|| informational::dpd_due(self, i))
            .or_else(|| self.half_open_due(i));
        match (life, other) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds a tunnel's policy (both ends need it: the initiator for what to propose, the
    /// responder to find the tunnel and narrow the selectors).
    pub fn add_tunnel(&mut self, t: TunnelConfig) {
        let at = self.tunnels.len();
        let first = self.tunnel_at.entry(t.tunnel);
        if first.is_none() {
            *first = Some(at as u32);
        }
        self.tunnels_of_peer.entry(t.peer).or_default().push(at);
        self.tunnels.push(t);
    }

    /// The tunnels configured with `peer`, in the order they were added.
    fn tunnels_with(&self, peer: IpAddr) -> impl Iterator<Item = &TunnelConfig> {
        self.tunnels_of_peer
            .get(&peer)
            .into_iter()
            .flatten()
            .map(|&k| &self.tunnels[k])
    }

    /// Keeps (the default) or stops keeping `key_log`, which large runs without a capture
    /// do not need.
    pub fn set_key_log(&mut self, keep: bool) {
        self.keep_key_log = keep;
    }

    /// Sets how SK payloads are protected: [`Protection::Modeled`] keeps every message's
    /// length and flow but replaces AES-CBC and HMAC by stand-ins (for Modeled crypto runs
    /// whose bytes nobody decrypts). Both peers of a tunnel must use the same.
    pub fn set_protection(&mut self, protection: Protection) {
        self.protection = protection;
    }

    /// Reports `Event::State` (the default) or not (large runs without a trace).
    pub fn set_state_events(&mut self, on: bool) {
        self.state_events = on;
    }

    /// Whether the end of each 5 s inbound linger ([`INBOUND_LINGER`]) is a wake-up of its
    /// own that reports `InboundRemoved` (the default), or not (`false`). Without, a linger
    /// that ended is dropped at the start of the endpoint's next call, before anything in it
    /// can look at the lingering SPIs, so every SPI drawn and every message are as with the
    /// wake-ups; no `InboundRemoved` is reported, [`Endpoint::poll_timeout`] does not count
    /// lingers, and [`Endpoint::esp_inbound`] finds no lingering SPI (their keys are not
    /// kept). For runs with no ESP traffic whose outputs do not show SA events: a rekeyed
    /// CHILD_SA left a wake-up at each end that did nothing else, a quarter of all the
    /// events of a concentrator's day.
    pub fn set_linger_wakeups(&mut self, on: bool) {
        self.linger_wakeups = on;
    }

    /// Tells the endpoint that its driver queues datagrams for a CPU and calls
    /// [`Endpoint::screen_datagram`] on each when it arrives, as strongSwan's receiver thread
    /// screens IKE_SA_INIT before it queues a job: the COOKIE and the half-open and job-load
    /// limits are then decided at arrival, with the queue as it is then, and not again when
    /// the job runs.
    pub fn set_screening_on_arrival(&mut self, on: bool) {
        self.screens_on_arrival = on;
    }

    /// strongSwan's receiver (`drop_ike_sa_init`) for a datagram that arrives now, before any
    /// work is queued for it, with `queued_jobs` waiting for a core. An IKE_SA_INIT request
    /// for a new IKE SA may be answered with a COOKIE at once (left for
    /// [`Endpoint::poll_transmit`]), or dropped by `block_threshold`, `init_limit_half_open`
    /// or `init_limit_job_load` (counted and reported like any drop); every other datagram
    /// passes, to be checked when it is handled. Whether the datagram goes on to the queue.
    pub fn screen_datagram(
        &mut self,
        now: SimTime,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        queued_jobs: usize,
    ) -> bool {
        // What does not decode is dropped, and counted, when it is handled.
        let Ok(bytes) = ike_bytes(local, bytes) else {
            return true;
        };
        let Ok(h) = Header::decode(bytes) else {
            return true;
        };
        if !opens_new_sa(&h) || self.find_by_spis(h.spi_i, 0).is_some() {
            return true;
        }
        let Ok(m) = crate::ikev2::message::Message::decode(bytes) else {
            return true;
        };
        ike_sa_init::receiver_checks(self, now, from, local, &h, &m, queued_jobs)
    }

    /// Starts a call at `now`: sets the clock and, without linger wake-ups, ends the lingers
    /// due by now. Their wake-ups would have ended them before this call: a runner's timers
    /// come before the other work of an instant (`sim_core::Scheduler::set_timer`).
    fn enter(&mut self, now: SimTime) {
        self.clock = now;
        if !self.linger_wakeups {
            self.expire_lingering(now);
        }
    }

    /// Adds a host-to-host tunnel with `peer`.
    pub fn add_peer(&mut self, peer: IpAddr, tunnel: u32) {
        self.add_tunnel(TunnelConfig::host_to_host(tunnel, self.addr, peer));
    }

    fn tunnel_config(&self, tunnel: u32) -> Option<&TunnelConfig> {
        let k = (*self.tunnel_at.get(tunnel)?)?;
        Some(&self.tunnels[k as usize])
    }

    /// Starts tunnel `tunnel` to `peer`: sends IKE_SA_INIT.
    pub fn start_tunnel(&mut self, now: SimTime, tunnel: u32, peer: IpAddr) {
        self.enter(now);
        if self.tunnel_config(tunnel).is_none() {
            self.add_peer(peer, tunnel);
        }
        if !self.started.iter().any(|(t, _)| *t == tunnel) {
            self.started.push((tunnel, peer));
        }
        let mark = self.uid_mark();
        ike_sa_init::initiate(self, now, tunnel, SocketAddr::new(peer, IKE_PORT));
        self.settle(Default::default(), mark);
    }

    /// When SA `i`, behind a NAT on UDP 4500, owes the NAT a keepalive.
    fn keepalive_due(&self, i: usize) -> Option<SimTime> {
        let sa = &self.sas[i];
        let k = self.cfg.keepalive?;
        (sa.nat_here && sa.local.port() == NATT_PORT && sa.state == IkeState::Established)
            .then(|| sa.last_sent + k)
    }

    /// When responder SA `i`, still waiting for IKE_AUTH, is given up (strongSwan's
    /// `half_open_timeout`, 30 s).
    fn half_open_due(&self, i: usize) -> Option<SimTime> {
        let sa = &self.sas[i];
        (sa.state == IkeState::ExpectAuthRequest).then(|| sa.last_received + HALF_OPEN_TIMEOUT)
    }

    fn established(&self, tunnel: u32) -> Result<usize, CommandError> {
        self.uids_of_tunnel(tunnel)
            .iter()
            .filter_map(|&u| self.index_of(u))
            .find(|&i| self.sas[i].tunnel == tunnel && self.sas[i].state == IkeState::Established)
            .ok_or(CommandError::NoIkeSa(tunnel))
    }

    fn installed_child(&self, i: usize, tunnel: u32) -> Result<u32, CommandError> {
        self.sas[i]
            .children
            .iter()
            .find(|c| c.state == ChildState::Installed)
            .map(|c| c.spi_in)
            .ok_or(CommandError::NoChildSa(tunnel))
    }

    fn command(&mut self, now: SimTime, i: usize, c: Command) {
        self.enter(now);
        let (mark, uid) = (self.uid_mark(), self.sas[i].uid);
        self.sas[i].queue.push_back(c);
        self.pump(i, now);
        self.settle(smallvec::smallvec![uid], mark);
    }

    /// Creates an additional CHILD_SA on the tunnel's IKE SA (CREATE_CHILD_SA, §1.3.1).
    pub fn create_child(&mut self, now: SimTime, tunnel: u32) -> Result<(), CommandError> {
        let i = self.established(tunnel)?;
        self.command(now, i, Command::CreateChild);
        Ok(())
    }

    /// Rekeys the tunnel's oldest installed CHILD_SA (CREATE_CHILD_SA with REKEY_SA, §1.3.3).
    pub fn rekey_child(&mut self, now: SimTime, tunnel: u32) -> Result<(), CommandError> {
        let i = self.established(tunnel)?;
        let spi = self.installed_child(i, tunnel)?;
        self.command(now, i, Command::RekeyChild(spi));
        Ok(())
    }

    /// Rekeys the tunnel's IKE SA (CREATE_CHILD_SA with a new IKE SA, §1.3.2).
    pub fn rekey_ike(&mut self, now: SimTime, tunnel: u32) -> Result<(), CommandError> {
        let i = self.established(tunnel)?;
        self.command(now, i, Command::RekeyIke);
        Ok(())
    }

    /// Deletes the tunnel's oldest installed CHILD_SA (INFORMATIONAL with D, §1.4.1).
    pub fn delete_child(&mut self, now: SimTime, tunnel: u32) -> Result<(), CommandError> {
        let i = self.established(tunnel)?;
        let spi = self.installed_child(i, tunnel)?;
        self.command(now, i, Command::DeleteChild(spi));
        Ok(())
    }

    /// Deletes the tunnel's IKE SA with its CHILD_SAs (INFORMATIONAL with D(IKE), §1.4.1).
    pub fn delete_ike(&mut self, now: SimTime, tunnel: u32) -> Result<(), CommandError> {
        let i = self.established(tunnel)?;
        self.command(now, i, Command::DeleteIke);
        Ok(())
    }

    /// Sends queued commands of SA `i` while the peer's window has room.
    fn pump(&mut self, i: usize, now: SimTime) {
        while self.sas[i].state == IkeState::Established && self.sas[i].window_open() {
            let Some(c) = self.sas[i].queue.pop_front() else {
                return;
            };
            match c {
                Command::CreateChild => create_child_sa::initiate(self, now, i, None),
                Command::RekeyChild(spi) => {
                    if let Some(k) = self.sas[i].child_index(spi)
                        && self.sas[i].children[k].state == ChildState::Installed
                    {
                        create_child_sa::initiate(self, now, i, Some(spi));
                    }
                }
                Command::DeleteChild(spi) => {
                    if self.sas[i].child_index(spi).is_some() {
                        informational::delete_children(self, now, i, smallvec::smallvec![spi]);
                    }
                }
                Command::DeleteExpired(spi) => {
                    informational::delete_children(self, now, i, smallvec::smallvec![spi]);
                }
                Command::DeleteIke => informational::delete_ike(self, now, i),
                Command::RekeyIke => rekey_ike_sa::initiate(self, now, i),
            }
        }
    }

    /// Retransmits due requests, gives up on those whose schedule ran out, and sends due
    /// liveness checks.
    pub fn handle_timeout(&mut self, now: SimTime) {
        self.clock = now;
        self.expire_lingering(now);
        let mark = self.uid_mark();
        // Only the SAs filed as due, in creation order (the SAD's order).
        let due = self.due_uids(now);
        for &uid in &due {
            let Some(i) = self.index_of(uid) else {
                continue;
            };
            if self.sas[i].state == IkeState::Dead {
                continue;
            }
            if self.keepalive_due(i).is_some_and(|t| t <= now) {
                let sa = &mut self.sas[i];
                sa.last_sent = now;
                self.out.push_back(Transmit {
                    src: sa.local,
                    dst: sa.peer,
                    payload: vec![0xff],
                });
            }
            if self.half_open_due(i).is_some_and(|t| t <= now) {
                self.kill(i, now, "half-open timeout");
                continue;
            }
            if lifetimes::next_due(self, i).is_some_and(|t| t <= now) {
                lifetimes::fire(self, now, i);
                if self.sas[i].state == IkeState::Dead {
                    continue;
                }
            }
            if informational::dpd_due(self, i).is_some_and(|t| t <= now) {
                informational::send_liveness_check(self, now, i);
                continue;
            }
            let mut k = 0;
            while k < self.sas[i].pending.len() {
                if self.sas[i].state == IkeState::Dead {
                    break;
                }
                let p = &mut self.sas[i].pending[k];
                if p.next_at > now {
                    k += 1;
                    continue;
                }
                let policy = &self.cfg.retransmit;
                if p.sends > policy.tries {
                    let p = self.sas[i].pending.remove(k);
                    self.finish_pending(i, now, &p, Outcome::Timeout);
                    // §2.4: no answer means the peer is gone; the IKE SA goes with it.
                    self.kill(i, now, "retransmissions exhausted");
                    break;
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
                self.emit(i, bytes);
                k += 1;
            }
        }
        self.settle(due, mark);
    }

    /// Handles a datagram received on `local` from `from`.
    pub fn handle_datagram(
        &mut self,
        now: SimTime,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
    ) {
        self.enter(now);
        let bytes = match ike_bytes(local, bytes) {
            Ok(b) => b,
            Err(why) => {
                if let Some(why) = why {
                    self.drop_datagram(now, None, why);
                }
                return;
            }
        };
        let Ok(h) = Header::decode(bytes) else {
            self.drop_datagram(now, None, "undecodable IKE header");
            return;
        };
        self.arrival = Some((from, local));
        let mark = self.uid_mark();
        let idx = self.find_by_spis(h.spi_i, h.spi_r);
        let touched: crate::wakeups::Uids = idx.map(|i| self.sas[i].uid).into_iter().collect();
        match idx {
            None if opens_new_sa(&h) => ike_sa_init::respond(self, now, from, local, &h, bytes),
            None => self.drop_datagram(now, None, "no IKE SA with these SPIs"),
            Some(i) if h.is_response() => self.on_response(now, i, &h, bytes),
            Some(i) => self.on_request(now, i, &h, bytes),
        }
        self.arrival = None;
        self.settle(touched, mark);
    }

    fn on_response(&mut self, now: SimTime, i: usize, h: &Header, bytes: &[u8]) {
        let Some(k) = self.sas[i]
            .pending
            .iter()
            .position(|p| p.msgid == h.message_id)
        else {
            self.drop_datagram(now, Some(i), "response to no request in flight");
            return;
        };
        match &self.sas[i].pending[k].req {
            Request::SaInit => ike_sa_init::on_response(self, now, i, k, h, bytes),
            _ => {
                let Some(opened) = self.open_authenticated(now, i, bytes) else {
                    return;
                };
                let p = *self.sas[i].pending.remove(k);
                match p.req {
                    Request::Auth { .. } => ike_auth::on_response(self, now, i, p, &opened),
                    Request::CreateChild { .. } => {
                        create_child_sa::on_response(self, now, i, p, &opened)
                    }
                    Request::RekeyIke { .. } => rekey_ike_sa::on_response(self, now, i, p, &opened),
                    _ => informational::on_response(self, now, i, p, &opened),
                }
            }
        }
        if self.sas[i].state != IkeState::Dead {
            self.pump(i, now);
        }
    }

    fn on_request(&mut self, now: SimTime, i: usize, h: &Header, bytes: &[u8]) {
        let sa = &self.sas[i];
        if let Some((_, cached)) = sa.responses.iter().find(|(id, _)| *id == h.message_id) {
            // §2.1: a retransmitted request gets the same response, unprocessed.
            let cached = cached.clone();
            self.emit(i, cached);
            return;
        }
        let window = self.cfg.window.max(1);
        if h.message_id < sa.expect_msgid
            || h.message_id - sa.expect_msgid >= window
            || sa.answered_above.contains(&h.message_id)
        {
            // §2.3: outside the window; too old ones have been answered already.
            self.drop_datagram(now, Some(i), "request message ID outside the window");
            return;
        }
        let state = sa.state;
        match (state, h.exchange) {
            (IkeState::ExpectAuthRequest, ExchangeType::IKE_AUTH) => {
                if let Some(o) = self.open_authenticated(now, i, bytes) {
                    ike_auth::respond(self, now, i, &o);
                }
            }
            (
                IkeState::Established | IkeState::Rekeying | IkeState::Rekeyed | IkeState::Deleting,
                ExchangeType::CREATE_CHILD_SA | ExchangeType::INFORMATIONAL,
            ) => {
                let Some(o) = self.open_authenticated(now, i, bytes) else {
                    return;
                };
                if h.exchange == ExchangeType::INFORMATIONAL {
                    informational::respond(self, now, i, &o);
                } else if rekey_ike_sa::is_ike_rekey(&o.inner) {
                    rekey_ike_sa::respond(self, now, i, &o);
                } else {
                    create_child_sa::respond(self, now, i, &o);
                }
            }
            _ => self.drop_datagram(now, Some(i), "request not expected in this state"),
        }
    }

    /// Verifies and decrypts a message of SA `i`. On success the SA counts as alive and,
    /// if the message came to UDP 4500, follows it there (§2.23: addresses are updated only
    /// from authenticated messages). On failure the message is dropped (§2.21.2).
    fn open_authenticated(&mut self, now: SimTime, i: usize, bytes: &[u8]) -> Option<Opened> {
        let Some(keys) = self.sas[i].keys.as_ref() else {
            self.drop_datagram(now, Some(i), "encrypted message before keys");
            return None;
        };
        match open_as(self.protection, keys, bytes) {
            Ok(o) => {
                self.sas[i].last_received = now;
                if let Some((from, local)) = self.arrival
                    && local.port() == NATT_PORT
                {
                    self.sas[i].local = local;
                    self.sas[i].peer = from;
                }
                Some(o)
            }
            Err(_) => {
                self.drop_datagram(now, Some(i), "integrity check failed");
                None
            }
        }
    }

    fn drop_datagram(&mut self, now: SimTime, i: Option<usize>, reason: &'static str) {
        *self.dropped.entry(reason).or_default() += 1;
        let tunnel = i.map(|i| self.sas[i].tunnel);
        self.events
            .push_back((now, Event::Dropped { tunnel, reason }));
    }

    /// Records the decryption-table line of SA `i` once it has keys.
    fn log_keys(&mut self, i: usize) {
        let sa = &self.sas[i];
        if self.keep_key_log
            && let Some(k) = &sa.keys
        {
            self.key_log
                .push(crate::ikev2::keylog::decryption_table_line(
                    sa.spi_i, sa.spi_r, k,
                ));
        }
    }
}
