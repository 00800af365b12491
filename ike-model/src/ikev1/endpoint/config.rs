//! How an IKEv1 endpoint negotiates: its suites, lifetimes and timers ([`Config1`]).

use std::net::IpAddr;

use sim_core::Duration;

use crate::crypto::{DhGroup, EncrAlg, IntegAlg};
use crate::policy::{LifetimePolicy, RetransmitPolicy};

/// What a Quick Mode responder does with a proposed IPsec lifetime longer than its own
/// (RFC 2407 §4.5.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LifetimeNegotiation {
    /// Accept the proposal and announce its own, shorter lifetime with RESPONDER-LIFETIME;
    /// both use the shorter (strongSwan, Cisco IOS).
    #[default]
    ResponderLifetime,
    /// Accept and use the proposed lifetime.
    Accept,
    /// Refuse the proposal.
    Refuse,
}

/// How this IKEv1 endpoint negotiates.
#[derive(Clone, Debug)]
pub struct Config1 {
    /// Our address (and ID_IPV4_ADDR identity).
    pub addr: IpAddr,
    /// Pre-shared key.
    pub psk: Vec<u8>,
    /// Phase 1 encryption (AES-CBC); the hash and PRF are SHA-1 / HMAC-SHA1.
    pub encr: EncrAlg,
    /// Phase 1 DH groups, preferred first.
    pub dh_groups: Vec<DhGroup>,
    /// Private exponent bits (`None`: full length).
    pub dh_exponent_bits: Option<u32>,
    /// `Modeled` crypto (DESIGN.md): Diffie-Hellman replaced by stand-in bytes of the same
    /// length; messages, sizes and the random draws stay those of `Real`.
    pub modeled: bool,
    /// ESP encryption.
    pub esp_encr: EncrAlg,
    /// ESP integrity.
    pub esp_integ: IntegAlg,
    /// PFS group for Quick Mode.
    pub pfs: Option<DhGroup>,
    /// Retransmission of our last message.
    pub retransmit: RetransmitPolicy,
    /// ISAKMP SA lifetime proposed (seconds).
    pub ike_life_s: u32,
    /// When the initiator re-authenticates (a new Main Mode with new cookies; strongSwan's
    /// IKEv1 "rekey") and when the ISAKMP SA expires.
    pub ike_lifetime: LifetimePolicy,
    /// IPsec SA lifetimes: when to rekey (a new Quick Mode) and when the SA expires.
    pub child_lifetime: LifetimePolicy,
    /// What to do with proposed IPsec lifetimes longer than ours.
    pub lifetimes: LifetimeNegotiation,
    /// DPD (RFC 3706): probe after this long without hearing from the peer; off when
    /// `None` (strongSwan's `dpd_delay`).
    pub dpd: Option<Duration>,
    /// Declare the peer dead after this long without an R-U-THERE-ACK (strongSwan's
    /// `dpd_timeout`, 150 s).
    pub dpd_timeout: Duration,
    /// strongSwan's `encap = yes`: claim a NAT so IKE moves to 4500 and ESP is
    /// UDP-encapsulated.
    pub force_encap: bool,
    /// NAT-T keepalive interval behind a NAT (RFC 3948 §2.3); none when `None`.
    pub keepalive: Option<Duration>,
    /// As responder, drop a first Phase 1 message from a peer address with this many
    /// half-open ISAKMP SAs (strongSwan's `block_threshold`); never when `None`.
    pub block_threshold: Option<u32>,
    /// As responder, drop every first Phase 1 message while this many ISAKMP SAs are
    /// half-open (strongSwan's `init_limit_half_open`); never when `None`.
    pub half_open_limit: Option<u32>,
    /// As responder, drop every first Phase 1 message that arrives while more than this
    /// many jobs wait for a core (strongSwan's `init_limit_job_load`); only a driver with a
    /// queue of work passes a load ([`super::Endpoint1::screen_datagram`]). Never when `None`.
    pub job_load_limit: Option<u32>,
}

impl Config1 {
    /// The configuration of the reference captures (`testdata/strongswan`): AES-128-CBC,
    /// MODP-2048 with strongSwan's 256-bit exponents, ESP AES-128 with HMAC-SHA1-96, no
    /// PFS, strongSwan's retransmission, a 3 h ISAKMP lifetime proposed, the responder's
    /// lifetime taken, DPD and keepalives off, and lifetimes that never fire; change the
    /// fields a case needs.
    pub fn reference(addr: IpAddr, psk: &[u8]) -> Self {
        Config1 {
            addr,
            psk: psk.to_vec(),
            encr: EncrAlg::AesCbc { key_bits: 128 },
            dh_groups: vec![DhGroup::Modp2048],
            dh_exponent_bits: Some(256),
            modeled: false,
            esp_encr: EncrAlg::AesCbc { key_bits: 128 },
            esp_integ: IntegAlg::HmacSha1_96,
            pfs: None,
            retransmit: RetransmitPolicy::strongswan(),
            ike_life_s: 10_800,
            ike_lifetime: LifetimePolicy::Infinite,
            child_lifetime: LifetimePolicy::Infinite,
            lifetimes: LifetimeNegotiation::ResponderLifetime,
            dpd: None,
            dpd_timeout: Duration::from_secs(150),
            force_encap: false,
            keepalive: None,
            block_threshold: None,
            half_open_limit: None,
            job_load_limit: None,
        }
    }
}
