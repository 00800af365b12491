//! What a scenario file says: seed, duration, crypto mode, the network, the peers with their
//! policies, the tunnels between them, and what to write. Every field with a sensible
//! default may be left out.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ike_model::policy::{LifetimePolicy, RetransmitPolicy};
use serde::{Deserialize, Serialize};
use sim_core::link::LinkParams;
use sim_core::middlebox::FilterRule;
use sim_core::{Duration, TraceLevel};

/// A whole scenario (the root of a `.ron` file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in outputs.
    #[serde(default)]
    pub name: String,
    /// What the scenario is for, in a sentence or two.
    #[serde(default)]
    pub description: String,
    /// Master seed (the command line's `--seed` overrides it).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated time to run.
    pub duration: Duration,
    /// `Real` crypto (actual DH, AES, HMAC) or `Modeled` (same sizes, costs charged).
    #[serde(default)]
    pub crypto: CryptoMode,
    /// The network between the peers.
    #[serde(default)]
    pub network: NetworkSpec,
    /// The IKE peers, by name (ordered by name, so iteration is deterministic).
    pub peers: BTreeMap<String, PeerSpec>,
    /// The tunnels to bring up.
    pub tunnels: Vec<TunnelSpec>,
    /// Commands given to peers at set times (create, rekey or delete SAs).
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    /// What the run writes.
    #[serde(default)]
    pub outputs: OutputSpec,
}

/// A command a peer carries out at a set time, as an operator would with `swanctl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// When.
    pub at: Duration,
    /// Which tunnel (index into `tunnels`).
    #[serde(default)]
    pub tunnel: usize,
    /// Which of the tunnel's peers acts; its initiator when left out.
    #[serde(default)]
    pub peer: Option<String>,
    /// What it does.
    #[serde(rename = "do")]
    pub action: Action,
}

/// The commands of [`ActionSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// An additional CHILD_SA (CREATE_CHILD_SA; `swanctl --initiate --child`).
    CreateChild,
    /// Rekey the oldest CHILD_SA (`swanctl --rekey --child`).
    RekeyChild,
    /// Rekey the IKE SA (`swanctl --rekey --ike`).
    RekeyIke,
    /// Delete the oldest CHILD_SA (`swanctl --terminate --child`).
    DeleteChild,
    /// Delete the IKE SA and its CHILD_SAs (`swanctl --terminate --ike`).
    DeleteIke,
}

fn default_seed() -> u64 {
    1
}

/// The two crypto modes of DESIGN.md.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CryptoMode {
    /// MODP Diffie-Hellman, AES-CBC, HMAC-SHA1: real bytes Wireshark decrypts.
    #[default]
    Real,
    /// The same messages and sizes with deterministic stand-in bytes; CPU costs charged.
    Modeled,
}

/// The network: its shape, the WAN links, ISP filters and NATs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// How the peers are connected; two sites when left out.
    #[serde(default)]
    pub shape: Shape,
    /// Two sites: the path from the first peer (by name order) to the second. Shapes with
    /// an Internet core: each site's (branch's, client's) link toward the core.
    #[serde(default)]
    pub forward: LinkParams,
    /// The link back; the same as `forward` when left out.
    #[serde(default)]
    pub reverse: Option<LinkParams>,
    /// Drop rules applied at a peer's ISP, by peer name (a template name applies to every
    /// peer made from it).
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<FilterRule>>,
    /// A NAT at a peer's ISP router, by peer name (for a template, the public address is
    /// the first of a range, one per peer made from it).
    #[serde(default)]
    pub nat: BTreeMap<String, NatSpec>,
}

/// The shapes of network a scenario can ask for. In the generated shapes one peer of
/// `peers` is a template: it stands for `count` peers named `<template>-001`, ... whose
/// addresses count up from the template's, and every tunnel naming the template stands
/// for one tunnel per such peer (numbered in that order).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    /// `gw-a — isp-a — WAN — isp-b — gw-b`: exactly two peers.
    #[default]
    TwoSite,
    /// A concentrator and `branches` branches, each behind its own ISP, around an Internet
    /// core. `forward`/`reverse` are each branch's WAN link; `hub_link` the hub's.
    HubAndSpoke {
        /// The concentrator's peer name.
        hub: String,
        /// The template peer of the branches.
        branch: String,
        /// How many branches.
        branches: u32,
        /// The hub's link to the core (both ways); 1 ms, lossless when left out.
        #[serde(default)]
        hub_link: Option<LinkParams>,
    },
    /// `sites` sites around an Internet core; a tunnel whose two ends are both the template
    /// stands for one tunnel per pair of sites (the lower-numbered site initiates).
    FullMesh {
        /// The template peer of the sites.
        site: String,
        /// How many sites.
        sites: u32,
    },
    /// Remote-access clients behind one carrier-grade NAT, and a gateway on the core.
    /// `forward`/`reverse` are each client's last mile.
    RemoteAccess {
        /// The gateway's peer name.
        gateway: String,
        /// The template peer of the clients (addresses: the subscribers' private ones).
        client: String,
        /// How many clients.
        clients: u32,
        /// The carrier-grade NAT.
        cgn: NatSpec,
        /// The gateway's link to the core (both ways); 1 ms, lossless when left out.
        #[serde(default)]
        gateway_link: Option<LinkParams>,
    },
    /// A hand-written graph; each peer runs on the node of its name.
    Graph(topologies::GraphSpec),
    /// A graph in a RON file, relative to the scenario file (read when the scenario is
    /// loaded, so the scenario then holds it as `Graph`).
    File(String),
}

/// A NAT in front of a peer: its public address and how long an idle mapping lives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatSpec {
    /// The public address the peer's packets leave with.
    pub public: IpAddr,
    /// Mappings idle this long are forgotten (many home routers: 30-120 s for UDP).
    #[serde(default = "default_nat_idle")]
    pub idle_timeout: Duration,
}

fn default_nat_idle() -> Duration {
    Duration::from_secs(60)
}

/// Behaviour presets named after the implementations they reproduce (docs/REFERENCE.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// strongSwan 5.9/6.x defaults.
    #[default]
    StrongSwan,
    /// libreswan defaults.
    Libreswan,
    /// A Juniper SRX-like gateway: fewer notifies, no MOBIKE, IKE 28800 s / IPsec 3600 s.
    Srx,
    /// A Cisco IOS-like gateway: retransmission every 10 s, 5 times; ISAKMP lifetime
    /// 86400 s, IPsec 3600 s (IOS defaults); no MOBIKE.
    Cisco,
}

/// One IKE peer: its address and policy. Left-out policy fields come from the preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSpec {
    /// The peer's IP address.
    pub address: IpAddr,
    /// The implementation it behaves like.
    #[serde(default)]
    pub preset: Preset,
    /// IKE proposals in strongSwan syntax, most preferred first (e.g. `aes128-sha1-modp2048`).
    #[serde(default)]
    pub ike_proposals: Option<Vec<String>>,
    /// ESP proposals in strongSwan syntax (a DH group here means PFS on rekey).
    #[serde(default)]
    pub esp_proposals: Option<Vec<String>>,
    /// Retransmission of requests.
    #[serde(default)]
    pub retransmit: Option<RetransmitPolicy>,
    /// IKE SA rekey and expiry.
    #[serde(default)]
    pub ike_lifetime: Option<LifetimePolicy>,
    /// CHILD_SA rekey and expiry.
    #[serde(default)]
    pub child_lifetime: Option<LifetimePolicy>,
    /// Liveness checks when nothing was received for this long; off when left out.
    #[serde(default)]
    pub dpd: Option<Duration>,
    /// Requests this peer allows outstanding (SET_WINDOW_SIZE); 1 when left out.
    #[serde(default)]
    pub window: Option<u32>,
    /// strongSwan's `mobike`: move IKE to UDP 4500 from IKE_AUTH on even without a NAT.
    /// The preset decides when left out (strongSwan yes; libreswan and SRX no).
    #[serde(default)]
    pub mobike: Option<bool>,
    /// strongSwan's `encap = yes`: fake a NAT so ESP goes in UDP 4500.
    #[serde(default)]
    pub encap: bool,
    /// NAT-T keepalive interval behind a NAT (strongSwan's `keep_alive`, 20 s); `"0s"`
    /// turns keepalives off.
    #[serde(default)]
    pub keepalive: Option<Duration>,
    /// IKEv1: what a Quick Mode responder does with a proposed lifetime longer than its own
    /// (`ResponderLifetime`, `Accept` or `Refuse`).
    #[serde(default)]
    pub ikev1_lifetimes: ike_model::ikev1::endpoint::LifetimeNegotiation,
    /// As responder, answer IKE_SA_INIT with a COOKIE once this many IKE SAs are half-open
    /// (strongSwan's default is 30); never when left out.
    #[serde(default)]
    pub cookie_threshold: Option<u32>,
    /// As responder, demand a COOKIE from a peer address with this many half-open IKE SAs
    /// (strongSwan's `cookie_threshold_ip`, 3); never when left out.
    #[serde(default)]
    pub cookie_threshold_ip: Option<u32>,
    /// As responder, silently drop IKE_SA_INIT (or a first Main or Aggressive Mode message)
    /// from a peer address with this many half-open IKE SAs (strongSwan's `block_threshold`,
    /// 5; many clients behind one carrier-grade NAT share an address); never when left out.
    #[serde(default)]
    pub block_threshold: Option<u32>,
    /// As responder, silently drop every IKE_SA_INIT (or first Main or Aggressive Mode
    /// message) while this many IKE SAs are half-open (strongSwan's `init_limit_half_open`,
    /// off by default); never when left out.
    #[serde(default)]
    pub half_open_limit: Option<u32>,
    /// As responder, silently drop every IKE_SA_INIT (or first Main or Aggressive Mode
    /// message) that arrives while more than this many IKE datagrams wait for a core of its
    /// `cpu` (strongSwan's `init_limit_job_load`, off by default); needs `cpu`. Never when
    /// left out.
    // Left out when unset: a sweep job's seed hashes the scenario as serialized, and older
    // sweeps keep theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_load_limit: Option<u32>,
    /// Pre-shared key; `ike-ref-test-psk` (the reference captures' key) when left out.
    #[serde(default)]
    pub psk: Option<String>,
    /// The gateway's CPU: IKE work waits for a free core and its answers leave when the work
    /// is done. No CPU cost when left out.
    #[serde(default)]
    pub cpu: Option<CpuSpec>,
}

/// A gateway CPU: cores, a queue of IKE datagrams waiting for one, and what work costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSpec {
    /// Cores working on IKE in parallel.
    #[serde(default = "one")]
    pub cores: u32,
    /// Datagrams that may wait for a core; more are dropped (a full socket buffer).
    #[serde(default = "default_cpu_queue")]
    pub queue: u32,
    /// What each operation costs; the table measured on the reference machine when left out
    /// (`ikesim calibrate` prints one for yours).
    #[serde(default)]
    pub costs: CostTable,
    /// A cost table file as `ikesim calibrate --out FILE` writes it, relative to the
    /// scenario file; it replaces `costs` (give one or the other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub costs_file: Option<String>,
}

fn one() -> u32 {
    1
}

fn default_cpu_queue() -> u32 {
    1000
}

/// CPU time per operation, as `ikesim calibrate` measures it in Real mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostTable {
    /// Handling one IKE message in or out (parsing, PRF, AUTH, bookkeeping).
    #[serde(default = "default_message_cost")]
    pub message: Duration,
    /// Encrypting or decrypting and authenticating 1 KiB (AES-CBC + HMAC).
    #[serde(default = "default_kib_cost")]
    pub per_kib: Duration,
    /// One Diffie-Hellman operation (a key generation or a shared secret), by group name
    /// (`modp1024`, `modp2048`, ...).
    #[serde(default = "default_dh_costs")]
    pub dh: BTreeMap<String, Duration>,
}

impl Default for CostTable {
    fn default() -> Self {
        CostTable {
            message: default_message_cost(),
            per_kib: default_kib_cost(),
            dh: default_dh_costs(),
        }
    }
}

fn default_message_cost() -> Duration {
    Duration::from_micros(DEFAULT_COSTS_US.0)
}

fn default_kib_cost() -> Duration {
    Duration::from_micros(DEFAULT_COSTS_US.1)
}

fn default_dh_costs() -> BTreeMap<String, Duration> {
    DEFAULT_COSTS_US
        .2
        .iter()
        .map(|(g, us)| (g.to_string(), Duration::from_micros(*us)))
        .collect()
}

/// The default cost table in microseconds: (message, per KiB, DH per group), the medians of
/// three `ikesim calibrate` runs (release build, one core of the 2-core reference machine,
/// 2026-11-23). A message's cost is protecting and checking 300 bytes twice; a real
/// gateway's parsing and bookkeeping cost more, so set `message` from your own profile.
pub const DEFAULT_COSTS_US: (u64, u64, [(&str, u64); 5]) = (
    3,
    3,
    [
        ("modp768", 334),
        ("modp1024", 677),
        ("modp1536", 2082),
        ("modp2048", 5044),
        ("modp3072", 15701),
    ],
);

/// IKE versions and modes a tunnel may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IkeVersion {
    /// IKEv2 (RFC 7296).
    #[default]
    IKEv2,
    /// IKEv1 Main Mode + Quick Mode (RFC 2409).
    IKEv1Main,
    /// IKEv1 Aggressive Mode + Quick Mode (RFC 2409).
    IKEv1Aggressive,
}

/// A tunnel between two peers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelSpec {
    /// The peer that starts it.
    pub initiator: String,
    /// The other peer.
    pub responder: String,
    /// IKE version.
    #[serde(default)]
    pub version: IkeVersion,
    /// When the initiator starts it.
    #[serde(default)]
    pub start: Duration,
    /// Start at a uniformly random time in `[start, start + start_spread]` instead (from
    /// the stream `tunnel-start`, drawn in tunnel order): branches coming up after a
    /// concentrator reboot, clients logging on in the morning.
    #[serde(default)]
    pub start_spread: Option<Duration>,
    /// Traffic behind the initiator (addresses, subnets or ranges); its address when left
    /// out.
    #[serde(default)]
    pub initiator_ts: Option<Vec<String>>,
    /// Traffic behind the responder; its address when left out.
    #[serde(default)]
    pub responder_ts: Option<Vec<String>>,
    /// ESP traffic through the tunnel, the same in both directions; none when left out.
    #[serde(default)]
    pub traffic: Option<TrafficSpec>,
}

/// A traffic source feeding a tunnel in each direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Packets per second in each direction.
    pub rate_pps: f64,
    /// Size of each inner IP packet.
    #[serde(default = "default_packet_bytes")]
    pub bytes: u32,
    /// Poisson arrivals instead of a constant rate.
    #[serde(default)]
    pub poisson: bool,
    /// When the sources start (the tunnel's start when left out).
    #[serde(default)]
    pub start: Option<Duration>,
    /// An on/off source: `rate_pps` while on, silent while off, starting on.
    #[serde(default)]
    pub on_off: Option<OnOff>,
}

/// The periods of an on/off traffic source (bursts of activity, e.g. office hours or a
/// user's sessions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnOff {
    /// How long it sends (the mean, when `exponential`).
    pub on: Duration,
    /// How long it is silent (the mean, when `exponential`).
    pub off: Duration,
    /// Exponentially distributed periods (the classic on/off source) instead of fixed ones.
    #[serde(default)]
    pub exponential: bool,
}

fn default_packet_bytes() -> u32 {
    200
}

/// What a run writes besides `summary.json`, `exchanges.csv` and `sa_events.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSpec {
    /// Write `capture.pcap` and its Wireshark decryption tables.
    pub pcap: bool,
    /// Write `trace.log`.
    pub trace: bool,
    /// How much the trace records.
    pub trace_level: TraceLevel,
    /// Draw the run's charts into `plots/` (as `ikesim plot` does).
    pub plots: bool,
    /// Write `messages.csv` (every IKE message; the ladder is drawn from it). Off saves
    /// about 200 bytes per message in very large runs.
    pub messages: bool,
    /// Write `sa_events.csv` (one row per SA change: about 250 rows per tunnel per day with
    /// strongSwan's default lifetimes). The summary's figures do not depend on it.
    pub sa_events: bool,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            pcap: false,
            trace: true,
            trace_level: TraceLevel::Full,
            plots: false,
            messages: true,
            sa_events: true,
        }
    }
}
