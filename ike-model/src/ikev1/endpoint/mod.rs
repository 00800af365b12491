//! The IKEv1 endpoint of one node, sans-IO like the IKEv2 one (same `handle_*` / `poll_*`
//! contract and events): Main Mode or Aggressive Mode with a pre-shared key, Quick Mode with
//! optional PFS, one-way Informational DELETEs, Quick Mode rekeys on the lifetime policy
//! (strongSwan keeps the old IPsec SA until its hard lifetime, then deletes it), and
//! retransmission of the last message until the answer comes. States carry Cisco IOS
//! names (IKE_I_MM1 .. IKE_P1_COMPLETE, IKE_QM_I_QM1 .. IKE_QM_PHASE2_COMPLETE).

mod config;
mod dpd;
mod messages;
mod natt;
mod phase1;
mod quick_mode;
mod sad_index;
mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use rand::Rng;
use sim_core::{Duration, SimRng, SimTime};

use crate::crypto::{DhGroup, DhPrivate, PrfAlg};
use crate::events::{Event, ExchangeKind, IkeVersion, Outcome, Purpose, SaChange, SaKind, SaRef};
use crate::ikev1::consts::exchange;
use crate::ikev1::crypto::{Phase1Keys, Prf1};
use crate::ikev1::header::Header;
use crate::ikev1::payload::decode_chain;
use crate::ikev2::endpoint::TunnelConfig;
use crate::ikev2::protect::Protection;
use crate::policy::LifetimePolicy;

pub use config::{Config1, LifetimeNegotiation};
pub use messages::{VID_DPD, VID_NATT, VID_XAUTH};

/// One IPsec SA pair.
#[derive(Clone, Debug)]
pub struct IpsecSa {
    /// Our inbound SPI.
    pub spi_in: u32,
    /// The peer's inbound SPI.
    pub spi_out: u32,
    /// KEYMAT of our inbound SA: (encryption key, integrity key).
    pub keys_in: (Vec<u8>, Vec<u8>),
    /// KEYMAT of our outbound SA (the peer's SPI).
    pub keys_out: (Vec<u8>, Vec<u8>),
    /// When we start a new Quick Mode for it.
    pub rekey_at: Option<SimTime>,
    /// When it expires (and its DELETE is sent).
    pub expire_at: Option<SimTime>,
    /// Whether a newer SA replaced it.
    pub rekeyed: bool,
}

/// A Quick Mode in progress.
#[derive(Debug)]
struct QuickMode {
    initiator: bool,
    iv: Vec<u8>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    spi_in: u32,
    spi_out: u32,
    dh: Option<DhPrivate>,
    gxy: Option<Vec<u8>>,
    /// The SA this one replaces (our inbound SPI).
    rekey_of: Option<u32>,
    started: SimTime,
    /// The lifetime agreed (seconds; 0 = ours).
    life: u32,
}

/// Our last message of an exchange, resent until the answer comes.
#[derive(Debug)]
struct Outstanding {
    bytes: Vec<u8>,
    kind: ExchangeKind,
    purpose: Purpose,
    first_sent: SimTime,
    /// Sends of this message (each message of an exchange has its own retransmissions).
    /// 16 bits, like the next count: the struct stays 48 bytes (B-tree leaves of these,
    /// one per SA with a message in flight, were 8 MB more at 10^4 IKEv1 tunnels at 56).
    sends: u16,
    /// Retransmissions of the exchange's earlier messages (Main Mode 1 and 3 when this is
    /// Main Mode 5), so the exchange reports all of them.
    earlier_resends: u16,
    next_at: SimTime,
    /// Whether the end of the exchange is reported here (at its initiator).
    report: bool,
}

/// An ISAKMP SA and its IPsec SAs.
#[derive(Debug)]
pub struct IsakmpSa {
    /// Tunnel index.
    pub tunnel: u32,
    /// Whether we initiated Phase 1.
    pub initiator: bool,
    /// Aggressive Mode (else Main Mode).
    pub aggressive: bool,
    /// Initiator cookie.
    pub icookie: u64,
    /// Responder cookie.
    pub rcookie: u64,
    /// Cisco-style state name.
    pub state: &'static str,
    /// Whether Phase 1 completed.
    pub established: bool,
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's.
    pub peer: SocketAddr,
    /// Phase 1 keys.
    pub keys: Option<Phase1Keys>,
    /// IPsec SAs, oldest first.
    pub ipsec: Vec<IpsecSa>,
    group: DhGroup,
    dh: Option<DhPrivate>,
    gxi: Vec<u8>,
    gxr: Vec<u8>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    sai_b: Vec<u8>,
    /// The initiator's ID payload body (Aggressive Mode sends it in the clear first).
    idi: Vec<u8>,
    iv: Vec<u8>,
    last_p1: Vec<u8>,
    /// Our latest answers, (message ID, bytes), resent when the peer repeats a request;
    /// the last few only (`wire::ANSWERS_KEPT`; strongSwan keeps the last one).
    answers: VecDeque<(u32, Vec<u8>)>,
    /// The hashes of the last messages received (`wire::SEEN_KEPT`), to spot retransmissions
    /// (a repeat comes within seconds; an SA living for hours must not keep them all).
    seen: VecDeque<[u8; 20]>,
    /// Our messages waiting for an answer, by message ID (0 for Phase 1).
    outstanding: BTreeMap<u32, Outstanding>,
    quick: BTreeMap<u32, QuickMode>,
    dead: bool,
    /// When an authenticated message last came from the peer (for DPD).
    last_received: SimTime,
    /// Our last DPD sequence number.
    dpd_seq: u32,
    /// The DPD probe in flight.
    probe: Option<dpd::Probe>,
    /// When we re-authenticate (initiator) and when the ISAKMP SA expires.
    pub rekey_at: Option<SimTime>,
    /// Hard expiry of the ISAKMP SA.
    pub expire_at: Option<SimTime>,
    /// The ISAKMP SA this one re-authenticates (its initiator cookie).
    reauth_of: Option<u64>,
    /// When the old ISAKMP SA replaced by a re-authentication is deleted.
    delete_at: Option<SimTime>,
    /// Whether IKE moved to UDP 4500 (RFC 3947), so ESP is UDP-encapsulated too.
    pub natt: bool,
    /// Whether NAT-D showed a NAT in front of us (we then send keepalives).
    pub nat_here: bool,
    nat_checked: bool,
    /// When we last sent the peer anything (for keepalives).
    last_sent: SimTime,
    /// Stable id (see `sad_index`).
    uid: u64,
    /// The wake-up and the tunnel this SA is filed under in the indexes.
    filed_due: Option<SimTime>,
    filed_tunnel: u32,
    /// The peer address this SA is counted under while half-open (responder, Phase 1 not
    /// complete).
    half_open_ip: Option<IpAddr>,
}

impl IsakmpSa {
    /// Quick Modes and Informational exchanges under way on this SA (a finished one is
    /// forgotten, as strongSwan's tasks are).
    pub fn exchanges_in_flight(&self) -> usize {
        self.quick.len()
    }
}

/// An IKEv1 endpoint.
#[derive(Debug)]
pub struct Endpoint1 {
    cfg: Config1,
    rng: SimRng,
    /// Boxed: a re-authentication removes an SA from the middle of the SAD every few
    /// seconds at a large concentrator, and the SAs after it move (pointers, not 0.7 KB
    /// each: 27 s -> 21 s for 10^4 IKEv1 branches over a day).
    #[allow(clippy::vec_box)]
    sas: Vec<Box<IsakmpSa>>,
    out: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    events: VecDeque<(SimTime, Event)>,
    tunnels: Vec<TunnelConfig>,
    /// The first tunnel config with each id, and the tunnels with each peer, by index.
    tunnel_at: fnv::FnvHashMap<u32, usize>,
    tunnels_of_peer: fnv::FnvHashMap<IpAddr, Vec<usize>>,
    index: sad_index::Index1,
    /// Wireshark `ikev1_decryption_table` lines (initiator cookie, Ka).
    pub key_log: Vec<String>,
    /// Whether `key_log` is kept (a line per ISAKMP SA, for the whole run).
    keep_key_log: bool,
    /// How keys, IVs, HASH payloads and encryption are computed (see [`Prf1`]).
    protection: Protection,
    /// Datagrams dropped, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Whether the driver runs strongSwan's receiver checks when a datagram arrives
    /// ([`Endpoint1::screen_datagram`]), so that answering a first Phase 1 message does not
    /// repeat them.
    screens_on_arrival: bool,
}

/// The ISAKMP message of a datagram received on `local`: on 4500 it follows the 4-byte
/// non-ESP marker (RFC 3948 §2.2), and anything else there (ESP, keepalives) is not ours.
fn isakmp_bytes(local: SocketAddr, bytes: &[u8]) -> Option<&[u8]> {
    if local.port() != natt::NATT_PORT {
        return Some(bytes);
    }
    match bytes {
        [0, 0, 0, 0, rest @ ..] => Some(rest),
        _ => None,
    }
}

/// PRF and hash of our suites (HMAC-SHA1, SHA-1).
pub(crate) const PRF: PrfAlg = PrfAlg::HmacSha1;

impl Endpoint1 {
    /// An endpoint with configuration `cfg` and random stream `rng`.
    pub fn new(cfg: Config1, rng: SimRng) -> Self {
        Endpoint1 {
            cfg,
            rng,
            sas: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            tunnels: Vec::new(),
            tunnel_at: Default::default(),
            tunnels_of_peer: Default::default(),
            index: Default::default(),
            key_log: Vec::new(),
            keep_key_log: true,
            protection: Protection::Real,
            dropped: BTreeMap::new(),
            screens_on_arrival: false,
        }
    }

    /// Keeps (the default) or stops keeping `key_log`, which runs without a capture do not
    /// need.
    pub fn set_key_log(&mut self, keep: bool) {
        self.keep_key_log = keep;
    }

    /// Sets how keys, IVs, HASH payloads and encryption are computed:
    /// [`Protection::Modeled`] keeps every message's length and flow but replaces the PRF,
    /// the hash and AES-CBC by stand-ins (for Modeled crypto runs whose bytes nobody
    /// decrypts). Both peers of a tunnel must use the same.
    pub fn set_protection(&mut self, protection: Protection) {
        self.protection = protection;
    }

    /// The PRF and hash of our suites as this endpoint computes them.
    pub(super) fn prf1(&self) -> Prf1 {
        Prf1 {
            alg: PRF,
            protection: self.protection,
        }
    }

    /// The ISAKMP SAs (the SAD), oldest first.
    pub fn isakmp_sas(&self) -> Vec<&IsakmpSa> {
        // A large SAD keeps its dead until a batch is dropped; they are gone already.
        self.sas.iter().filter(|s| !s.dead).map(|s| &**s).collect()
    }

    fn esp_keys(&self, k: &(Vec<u8>, Vec<u8>)) -> crate::esp::EspKeys {
        crate::esp::EspKeys {
            encr: self.cfg.esp_encr,
            encr_key: crate::esp::KeyBytes::from_slice(&k.0),
            integ: self.cfg.esp_integ,
            integ_key: crate::esp::KeyBytes::from_slice(&k.1),
        }
    }

    /// Where our ESP traffic of `tunnel` goes: the newest IPsec SA's peer SPI and our
    /// outbound keys, UDP-encapsulated to the peer's NAT-T address when IKE floated.
    pub fn esp_outbound(&self, tunnel: u32) -> Option<crate::ikev2::endpoint::EspRoute> {
        let sas = || self.sas_of_tunnel(tunnel).map(|i| &self.sas[i]);
        sas()
            .filter(|s| s.established)
            .flat_map(|s| s.ipsec.iter())
            .rfind(|c| !c.rekeyed)
            .map(|c| c.spi_out)
            .and_then(|spi| {
                let s = sas().rfind(|s| s.ipsec.iter().any(|c| c.spi_out == spi))?;
                let c = s.ipsec.iter().find(|c| c.spi_out == spi)?;
                // With NAT-T, ESP goes in UDP to where the peer's IKE comes from.
                Some((
                    spi,
                    self.esp_keys(&c.keys_out),
                    s.natt,
                    s.natt.then_some(s.peer),
                ))
            })
    }

    /// Tells the endpoint that ESP of `tunnel` left at `now` (postpones NAT-T keepalives).
    pub fn esp_sent(&mut self, now: SimTime, tunnel: u32) {
        let Some(i) = self
            .sas_of_tunnel(tunnel)
            .rfind(|&i| self.sas[i].established)
        else {
            return;
        };
        let s = &mut self.sas[i];
        s.last_sent = s.last_sent.max(now);
        // Called per ESP packet: only a NAT-T keepalive's time depends on it.
        if natt::keepalive_due(self, i).is_some() {
            self.refile(i);
        }
    }

    /// The keys of inbound SPI `spi` and its tunnel.
    pub fn esp_inbound(&self, spi: u32) -> Option<(u32, crate::esp::EspKeys)> {
        let (i, k) = self.find_child(spi)?;
        let s = &self.sas[i];
        Some((s.tunnel, self.esp_keys(&s.ipsec[k].keys_in)))
    }

    /// Adds a tunnel's policy.
    pub fn add_tunnel(&mut self, t: TunnelConfig) {
        let at = self.tunnels.len();
        self.tunnel_at.entry(t.tunnel).or_insert(at);
        self.tunnels_of_peer.entry(t.peer).or_default().push(at);
        self.tunnels.push(t);
    }

    /// The first tunnel configured with `peer`.
    fn tunnel_with(&self, peer: IpAddr) -> Option<&TunnelConfig> {
        let &k = self.tunnels_of_peer.get(&peer)?.first()?;
        Some(&self.tunnels[k])
    }

    /// Indexes of the live SAs with `peer`: those of its tunnels and of no known tunnel.
    fn sas_with_peer(&self, peer: IpAddr) -> Vec<usize> {
        let tunnels = self
            .tunnels_of_peer
            .get(&peer)
            .into_iter()
            .flatten()
            .map(|&k| self.tunnels[k].tunnel)
            .chain([u32::MAX]);
        let mut v: Vec<usize> = tunnels
            .flat_map(|t| self.sas_of_tunnel(t))
            .filter(|&i| self.sas[i].peer.ip() == peer)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The next datagram: (source, destination, bytes).
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        crate::outbox::pop_or_release(&mut self.out, self.sas.len())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<(SimTime, Event)> {
        crate::outbox::pop_or_release(&mut self.events, self.sas.len())
    }

    /// When to call `handle_timeout` next.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.first_due()
    }

    /// Starts tunnel `tunnel` to `peer` with Main Mode (or Aggressive Mode).
    pub fn start_tunnel(&mut self, now: SimTime, tunnel: u32, peer: IpAddr, aggressive: bool) {
        if !self.tunnel_at.contains_key(&tunnel) {
            self.add_tunnel(TunnelConfig::host_to_host(tunnel, self.cfg.addr, peer));
        }
        let mark = self.uid_mark();
        phase1::initiate(self, now, tunnel, peer, aggressive);
        self.settle(&[tunnel], mark);
    }

    /// Starts a new Quick Mode on the tunnel's ISAKMP SA (an additional IPsec SA, or with
    /// `rekey` a replacement for the SA with that inbound SPI).
    pub fn quick_mode(&mut self, now: SimTime, tunnel: u32, rekey: Option<u32>) -> bool {
        match self.established(tunnel) {
            Some(i) => {
                let mark = self.uid_mark();
                quick_mode::initiate(self, now, i, rekey);
                self.settle(&[tunnel], mark);
                true
            }
            None => false,
        }
    }

    fn established(&self, tunnel: u32) -> Option<usize> {
        self.sas_of_tunnel(tunnel)
            .find(|&i| self.sas[i].established)
    }

    /// Rekeys the tunnel's newest IPsec SA with a new Quick Mode; false without one.
    pub fn rekey_child(&mut self, now: SimTime, tunnel: u32) -> bool {
        let Some(i) = self.established(tunnel) else {
            return false;
        };
        let Some(spi) = self.sas[i]
            .ipsec
            .iter()
            .rev()
            .find(|c| !c.rekeyed)
            .map(|c| c.spi_in)
        else {
            return false;
        };
        let mark = self.uid_mark();
        quick_mode::initiate(self, now, i, Some(spi));
        self.settle(&[tunnel], mark);
        true
    }

    /// Deletes the tunnel's oldest IPsec SA (one-way Informational); false without one.
    pub fn delete_child(&mut self, now: SimTime, tunnel: u32) -> bool {
        let Some(i) = self.established(tunnel) else {
            return false;
        };
        let Some(spi) = self.sas[i].ipsec.first().map(|c| c.spi_in) else {
            return false;
        };
        let mark = self.uid_mark();
        quick_mode::delete_ipsec(self, now, i, spi, SaChange::Deleted, "deleted");
        self.settle(&[tunnel], mark);
        true
    }

    /// Deletes the tunnel's ISAKMP SA and its IPsec SAs; false without one.
    pub fn delete_ike(&mut self, now: SimTime, tunnel: u32) -> bool {
        let Some(i) = self.established(tunnel) else {
            return false;
        };
        for spi in self.sas[i]
            .ipsec
            .iter()
            .map(|c| c.spi_in)
            .collect::<Vec<_>>()
        {
            quick_mode::delete_ipsec(self, now, i, spi, SaChange::Deleted, "deleted");
        }
        let mark = self.uid_mark();
        quick_mode::delete_isakmp(self, now, i);
        self.settle(&[tunnel], mark);
        true
    }

    /// Tells the endpoint that its driver queues datagrams for a CPU and calls
    /// [`Endpoint1::screen_datagram`] on each as it arrives (see
    /// `ikev2::endpoint::Endpoint::set_screening_on_arrival`).
    pub fn set_screening_on_arrival(&mut self, on: bool) {
        self.screens_on_arrival = on;
    }

    /// strongSwan's receiver (`drop_ike_sa_init`) for a datagram that arrives now, before any
    /// work is queued for it, with `queued_jobs` waiting for a core: a first Main or
    /// Aggressive Mode message (no responder cookie, no SA yet) is dropped by
    /// `block_threshold`, `init_limit_half_open` or `init_limit_job_load` (IKEv1 has no
    /// COOKIE); every other datagram passes. Whether it goes on to the queue.
    pub fn screen_datagram(
        &mut self,
        now: SimTime,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        queued_jobs: usize,
    ) -> bool {
        let Some(bytes) = isakmp_bytes(local, bytes) else {
            return true;
        };
        let Ok(h) = Header::decode(bytes) else {
            return true;
        };
        if h.rcookie != 0
            || !(h.exchange == exchange::MAIN_MODE || h.exchange == exchange::AGGRESSIVE)
            || self.find_by_cookies(h.icookie, 0).is_some()
        {
            return true;
        }
        phase1::receiver_checks(self, now, from, queued_jobs)
    }

    /// Handles a datagram (an IKEv1 message) received on `local` from `from`.
    pub fn handle_datagram(
        &mut self,
        now: SimTime,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
    ) {
        let mark = self.uid_mark();
        let tunnel = self.datagram(now, from, local, bytes);
        self.settle(tunnel.as_slice(), mark);
    }

    /// [`Endpoint1::handle_datagram`]; returns the tunnel of the ISAKMP SA it went to.
    fn datagram(
        &mut self,
        now: SimTime,
        from: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
    ) -> Option<u32> {
        let bytes = isakmp_bytes(local, bytes)?;
        let Ok(h) = Header::decode(bytes) else {
            self.drop_datagram(now, "undecodable ISAKMP header");
            return None;
        };
        let bytes = &bytes[..h.length as usize];
        let i = match self.find_by_cookies(h.icookie, h.rcookie) {
            Some(i) => i,
            None if h.rcookie == 0
                && (h.exchange == exchange::MAIN_MODE || h.exchange == exchange::AGGRESSIVE) =>
            {
                phase1::respond_first(self, now, from, local, &h, bytes);
                return None;
            }
            None => {
                self.drop_datagram(now, "no ISAKMP SA with these cookies");
                return None;
            }
        };
        let tunnel = self.sas[i].tunnel;
        // A duplicate of something already handled gets our answer again (RFC 2408 §5.6).
        let digest = crate::ikev1::crypto::hash(self.prf1(), &[bytes]);
        let digest: [u8; 20] = digest.try_into().expect("SHA-1");
        if self.sas[i].seen.contains(&digest) {
            let answer = self.sas[i]
                .answers
                .iter()
                .rev()
                .find(|(m, _)| *m == h.message_id)
                .map(|(_, a)| a.clone());
            if let Some(a) = answer {
                self.emit(i, now, a);
            }
            return Some(tunnel);
        }
        if self.sas[i].rcookie == 0 {
            self.sas[i].rcookie = h.rcookie;
        }
        let payloads = if h.encrypted() {
            match self.open(i, &h, bytes) {
                Some(p) => p,
                None => {
                    self.drop_datagram(now, "undecryptable ISAKMP message");
                    return Some(tunnel);
                }
            }
        } else {
            match decode_chain(h.next_payload, &bytes[28..]) {
                Ok((p, _)) => p,
                Err(_) => {
                    self.drop_datagram(now, "malformed ISAKMP payloads");
                    return Some(tunnel);
                }
            }
        };
        self.sas[i].remember_seen(digest);
        self.sas[i].last_received = now;
        if local.port() == natt::NATT_PORT {
            // The peer moved to 4500 (or its NAT gave it a new port): answer there.
            natt::float(self, i);
            self.sas[i].peer = from;
            self.sas[i].local = local;
        }
        if matches!(h.exchange, exchange::MAIN_MODE | exchange::AGGRESSIVE) {
            natt::detect(self, i, from, local, &payloads);
        }
        match h.exchange {
            exchange::MAIN_MODE | exchange::AGGRESSIVE => {
                phase1::on_message(self, now, i, &h, bytes, &payloads)
            }
            exchange::QUICK_MODE if self.sas[i].established => {
                quick_mode::on_message(self, now, i, &h, &payloads)
            }
            exchange::INFORMATIONAL if self.sas[i].established => {
                quick_mode::on_informational(self, now, i, &h, &payloads)
            }
            _ => self.drop_datagram(now, "unexpected ISAKMP exchange"),
        }
        Some(tunnel)
    }

    /// Resends what is due, gives up on exchanges whose schedule ran out, rekeys and
    /// expires IPsec SAs.
    pub fn handle_timeout(&mut self, now: SimTime) {
        let mark = self.uid_mark();
        // Only the SAs with something due, in SAD order (as a walk of the SAD would).
        let due = self.due_sas(now);
        let tunnels: Vec<u32> = due.iter().map(|&i| self.sas[i].tunnel).collect();
        for &i in &due {
            let due: Vec<u32> = self.sas[i]
                .outstanding
                .iter()
                .filter(|(_, o)| o.next_at <= now)
                .map(|(m, _)| *m)
                .collect();
            for mid in due {
                if self.sas[i].dead {
                    break;
                }
                let policy = &self.cfg.retransmit;
                let o = self.sas[i].outstanding.get_mut(&mid).expect("due");
                if u32::from(o.sends) > policy.tries {
                    self.answered(i, now, mid, Outcome::Timeout);
                    if mid == 0 || !self.sas[i].established {
                        self.kill(i, now, "retransmissions exhausted");
                    } else {
                        self.sas[i].quick.remove(&mid);
                    }
                    continue;
                }
                let wait = policy.draw_interval(u32::from(o.sends), &mut self.rng);
                o.sends = o.sends.saturating_add(1);
                let deadline = policy
                    .give_up_after
                    .map(|g| o.first_sent + g)
                    .unwrap_or(SimTime::MAX);
                o.next_at = (now + wait).min(deadline);
                if o.next_at == deadline {
                    o.sends = u16::try_from(policy.tries + 1).unwrap_or(u16::MAX);
                }
                let b = o.bytes.clone();
                self.emit(i, now, b);
            }
            if self.sas[i].dead {
                continue;
            }
            quick_mode::lifetimes(self, now, i);
            dpd::fire(self, now, i);
            phase1::lifetimes(self, now, i);
        }
        natt::send_keepalives(self, now, &due);
        self.settle(&tunnels, mark);
    }

    fn drop_datagram(&mut self, now: SimTime, reason: &'static str) {
        *self.dropped.entry(reason).or_default() += 1;
        self.events.push_back((
            now,
            Event::Dropped {
                tunnel: None,
                reason,
            },
        ));
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn random_cookie(&mut self) -> u64 {
        loop {
            let c = self.rng.next_u64();
            if c != 0 {
                return c;
            }
        }
    }

    fn random_spi(&mut self) -> u32 {
        // strongSwan's range; unique at this host, as the kernel insists (among 10^4 SAs
        // random draws from 2^28 do collide).
        loop {
            let spi = 0xc000_0000 | (self.rng.next_u32() & 0x0fff_ffff);
            if !self.spi_in_use(spi) {
                return spi;
            }
        }
    }

    fn set_state(&mut self, i: usize, now: SimTime, state: &'static str) {
        let sa = &mut self.sas[i];
        if sa.state == state {
            return;
        }
        sa.state = state;
        let spi = SaRef::Ike(sa.icookie, sa.rcookie);
        let tunnel = sa.tunnel;
        self.events.push_back((
            now,
            Event::State {
                tunnel,
                kind: SaKind::Ike,
                spi,
                state,
            },
        ));
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
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
                version: IkeVersion::V1,
                kind,
                purpose,
                started,
                ended: now,
                retransmissions,
                outcome,
            },
        ));
    }

    fn sa_event(
        &mut self,
        i: usize,
        now: SimTime,
        kind: SaKind,
        spi: SaRef,
        change: SaChange,
        reason: &'static str,
    ) {
        let tunnel = self.sas[i].tunnel;
        self.events.push_back((
            now,
            Event::Sa {
                tunnel,
                kind,
                spi,
                change,
                reason,
            },
        ));
    }

    fn kill(&mut self, i: usize, now: SimTime, reason: &'static str) {
        for c in std::mem::take(&mut self.sas[i].ipsec) {
            self.unfile_child(i, c.spi_in);
            self.sa_event(
                i,
                now,
                SaKind::Child,
                SaRef::Child(c.spi_in),
                SaChange::Deleted,
                reason,
            );
        }
        if self.sas[i].established {
            let spi = SaRef::Ike(self.sas[i].icookie, self.sas[i].rcookie);
            self.sa_event(i, now, SaKind::Ike, spi, SaChange::Deleted, reason);
        }
        self.mark_dead(i);
    }

    /// The tunnel config for SA `i`.
    fn tunnel_config(&self, i: usize) -> TunnelConfig {
        let sa = &self.sas[i];
        self.tunnel_at
            .get(&sa.tunnel)
            .map(|&k| self.tunnels[k].clone())
            .unwrap_or_else(|| TunnelConfig::host_to_host(sa.tunnel, self.cfg.addr, sa.peer.ip()))
    }

    /// The Phase 1 lifetime proposed, and the Quick Mode one (the hard lifetime).
    fn ipsec_life_s(&self) -> u32 {
        match &self.cfg.child_lifetime {
            LifetimePolicy::StrongSwan {
                hard, rekey_time, ..
            } => match hard {
                crate::policy::HardExpiry::LifeTime(l) => l.as_secs_f64() as u32,
                crate::policy::HardExpiry::OverTime(o) => (*rekey_time + *o).as_secs_f64() as u32,
            },
            LifetimePolicy::Libreswan { lifetime, .. } => lifetime.as_secs_f64() as u32,
            LifetimePolicy::Infinite => 0,
        }
    }

    /// Installs an IPsec SA on SA `i`, with its rekey and expiry times.
    fn install(
        &mut self,
        i: usize,
        now: SimTime,
        mut c: IpsecSa,
        initiated: bool,
        life_s: u32,
        reason: &'static str,
    ) {
        let t = self.cfg.child_lifetime.draw(initiated, &mut self.rng);
        c.rekey_at = t.rekey_after.map(|d| now + d);
        let negotiated = (life_s > 0).then(|| now + Duration::from_secs(u64::from(life_s)));
        c.expire_at = match (t.expire_after.map(|d| now + d), negotiated) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let spi = SaRef::Child(c.spi_in);
        self.file_child(i, c.spi_in);
        self.sas[i].ipsec.push(c);
        self.sa_event(i, now, SaKind::Child, spi, SaChange::Installed, reason);
    }
}
