//! What an endpoint holds per IKE SA (its SAD): state, keys, CHILD_SAs, the requests in
//! flight and queued, and the responder's window of message IDs (RFC 7296 §2.3). States
//! carry the names a strongSwan user reads in `swanctl --list-sas`.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;

use sim_core::SimTime;

use crate::crypto::{DhGroup, DhPrivate};
use crate::events::{ExchangeKind, Purpose};
use crate::ikev2::keys::{ChildKeys, IkeSaKeys};
use crate::ikev2::payload::Selectors;

/// Where an IKE SA is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IkeState {
    /// Initiator: IKE_SA_INIT request sent.
    ExpectSaInitResponse,
    /// Initiator: IKE_AUTH request sent.
    ExpectAuthResponse,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    ExpectAuthRequest,
    /// Authenticated.
    Established,
    /// Our rekey of the IKE SA is in flight.
    Rekeying,
    /// Replaced by a new IKE SA; waiting for its DELETE (or sending it).
    Rekeyed,
    /// Our DELETE of the IKE SA is in flight.
    Deleting,
    /// Gone; kept only until the driver has seen the events.
    Dead,
}

impl IkeState {
    /// The state name strongSwan shows (`ike_sa_state_t`).
    pub fn name(self) -> &'static str {
        match self {
            IkeState::ExpectSaInitResponse
            | IkeState::ExpectAuthResponse
            | IkeState::ExpectAuthRequest => "CONNECTING",
            IkeState::Established => "ESTABLISHED",
            IkeState::Rekeying => "REKEYING",
            IkeState::Rekeyed => "REKEYED",
            IkeState::Deleting => "DELETING",
            IkeState::Dead => "DESTROYING",
        }
    }
}

/// Where a CHILD_SA is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// Installed and carrying traffic.
    Installed,
    /// Our rekey of it is in flight.
    Rekeying,
    /// Replaced by a newer CHILD_SA; waiting for its DELETE.
    Rekeyed,
    /// Our DELETE of it is in flight.
    Deleting,
}

impl ChildState {
    /// The state name strongSwan shows (`child_sa_state_t`).
    pub fn name(self) -> &'static str {
        match self {
            ChildState::Installed => "INSTALLED",
            ChildState::Rekeying => "REKEYING",
            ChildState::Rekeyed => "REKEYED",
            ChildState::Deleting => "DELETING",
        }
    }
}

/// A CHILD_SA pair as this endpoint holds it.
#[derive(Clone, Debug)]
// What the wake-up of an SA reads of each CHILD_SA (state and timers) is in its first 64
// bytes.
#[repr(C)]
pub struct ChildSa {
    /// Our inbound SPI.
    pub spi_in: u32,
    /// The peer's inbound SPI (our outbound).
    pub spi_out: u32,
    /// State.
    pub state: ChildState,
    /// Whether this endpoint initiated the exchange that created it.
    pub initiated: bool,
    /// Whether our outbound traffic uses it.
    pub outbound: bool,
    /// When this endpoint starts rekeying it.
    pub rekey_at: Option<SimTime>,
    /// When it expires hard.
    pub expire_at: Option<SimTime>,
    /// When a rekey refused with TEMPORARY_FAILURE is retried.
    pub(super) retry_at: Option<SimTime>,
    /// When this endpoint installed it.
    pub installed_at: SimTime,
    /// Traffic selectors agreed for our side.
    pub ts_local: Selectors,
    /// Traffic selectors agreed for the peer's side.
    pub ts_remote: Selectors,
    /// Keys (initiator's direction first, as KEYMAT orders them).
    pub keys: ChildKeys,
}

impl ChildSa {
    /// A CHILD_SA installed now with selectors (ours, the peer's); its timers are set by
    /// the endpoint's lifetime policy.
    pub(super) fn new(
        spi_in: u32,
        spi_out: u32,
        keys: ChildKeys,
        ts: (Selectors, Selectors),
        now: SimTime,
        initiated: bool,
    ) -> Self {
        ChildSa {
            spi_in,
            spi_out,
            keys,
            state: ChildState::Installed,
            ts_local: ts.0,
            ts_remote: ts.1,
            installed_at: now,
            initiated,
            outbound: false,
            rekey_at: None,
            expire_at: None,
            retry_at: None,
        }
    }
}

/// A peer's rekey we answered while our own rekey of the same SA was in flight: the lower
/// of its two nonces, and for an IKE SA the SPIs of the IKE SA our answer created.
#[derive(Clone, Debug)]
pub(super) struct Collision {
    pub peer_min_nonce: Vec<u8>,
    pub created_ike: (u64, u64),
}

/// Our inbound SPIs of the CHILD_SAs one DELETE names: one, or a few (kept inline).
pub(super) type ChildSpis = smallvec::SmallVec<[u32; 2]>;

/// What a request in flight asked for, so its response can be handled.
#[derive(Debug)]
pub(super) enum Request {
    /// IKE_SA_INIT.
    SaInit,
    /// IKE_AUTH carrying the first CHILD_SA with our inbound SPI.
    Auth { spi_in: u32 },
    /// CREATE_CHILD_SA for a new CHILD_SA (or a rekey of `rekey`, our inbound SPI).
    CreateChild {
        spi_in: u32,
        nonce: Vec<u8>,
        dh: Option<DhPrivate>,
        rekey: Option<u32>,
        ts_i: Selectors,
        ts_r: Selectors,
        /// The peer's rekey of the same SA, answered while this request was in flight
        /// (§2.8.1); kept here because the old SA may be deleted before our response.
        collision: Option<Collision>,
    },
    /// CREATE_CHILD_SA rekeying the IKE SA: our new SPI, nonce and DH value.
    RekeyIke {
        spi: u64,
        nonce: Vec<u8>,
        dh: DhPrivate,
    },
    /// INFORMATIONAL deleting CHILD_SAs by our inbound SPIs.
    DeleteChild { spis: ChildSpis },
    /// INFORMATIONAL deleting the IKE SA.
    DeleteIke,
    /// Empty INFORMATIONAL (liveness check).
    Liveness,
}

/// A request waiting for its response.
#[derive(Debug)]
pub(super) struct Pending {
    pub msgid: u32,
    pub bytes: Vec<u8>,
    pub kind: ExchangeKind,
    pub purpose: Purpose,
    pub first_sent: SimTime,
    pub sends: u32,
    pub next_at: SimTime,
    pub req: Request,
}

/// Work waiting for a free slot in the peer's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Command {
    /// CREATE_CHILD_SA for an additional CHILD_SA.
    CreateChild,
    /// CREATE_CHILD_SA with REKEY_SA for the CHILD_SA with this inbound SPI.
    RekeyChild(u32),
    /// INFORMATIONAL with a DELETE for the CHILD_SA with this inbound SPI.
    DeleteChild(u32),
    /// INFORMATIONAL with a DELETE for a CHILD_SA already removed here (hard expiry).
    DeleteExpired(u32),
    /// INFORMATIONAL with a DELETE for the IKE SA.
    DeleteIke,
    /// CREATE_CHILD_SA rekeying the IKE SA.
    RekeyIke,
}

/// Pushes `x` onto a vector that usually holds one or two items, growing it by half
/// instead of to four slots at once (a concentrator holds 10^5 SAs, each with a few such
/// vectors of large items).
pub(super) fn push_tight<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 2).max(1));
    }
    v.push(x);
}

/// One IKE SA and what it is doing.
#[derive(Debug)]
// A concentrator's SAD holds 10^5 of these and touches a few per message: what finding an
// SA and computing its next wake-up read (state, ids, SPIs, CHILD_SAs, timers, requests in
// flight) is in its first 192 bytes, in that order, and the rest after. The size is a
// multiple of 64, so in a SAD buffer that starts on a cache line (mimalloc's do) those are
// three lines. Forcing the alignment (`align(64)`) made the hub's SAD grow by copying
// (aligned reallocation): +42 MB peak at 10^5 tunnels.
#[repr(C)]
pub struct IkeSa {
    /// State.
    pub state: IkeState,
    /// Whether we initiated it.
    pub initiator: bool,
    /// Whether NAT-D showed a NAT in front of us.
    pub nat_here: bool,
    /// Whether NAT-D showed a NAT in front of the peer.
    pub nat_there: bool,
    /// The tunnel this SA serves (scenario index; `u32::MAX` until a responder knows it).
    pub tunnel: u32,
    /// A number unique in this endpoint, increasing in creation order (the SAD's order).
    pub(super) uid: u64,
    /// Initiator's SPI.
    pub spi_i: u64,
    /// Responder's SPI (0 until known).
    pub spi_r: u64,
    /// The CHILD_SAs, oldest first.
    pub children: Vec<ChildSa>,
    pub(super) next_msgid: u32,
    /// Lowest request message ID not yet answered.
    pub(super) expect_msgid: u32,
    /// The wake-up time this SA is filed under in the endpoint's timer index.
    pub(super) filed_due: Option<SimTime>,
    /// When this endpoint starts rekeying the IKE SA.
    pub rekey_at: Option<SimTime>,
    /// When the IKE SA expires hard.
    pub expire_at: Option<SimTime>,
    /// When an IKE rekey refused with TEMPORARY_FAILURE is retried.
    pub(super) retry_at: Option<SimTime>,
    /// When a redundant IKE SA left by a collision is removed if the peer never deletes it
    /// (strongSwan: 30 s).
    pub(super) redundant_until: Option<SimTime>,
    /// When an authenticated message last arrived (for DPD).
    pub(super) last_received: SimTime,
    /// When we last sent something to the peer (for NAT-T keepalives).
    pub(super) last_sent: SimTime,
    // Boxed on purpose: see `send_request` (a warm allocation beats a cold inline slot).
    #[allow(clippy::vec_box)]
    pub(super) pending: Vec<Box<Pending>>,
    /// The tunnel this SA is filed under in the endpoint's tunnel index.
    pub(super) filed_tunnel: Option<u32>,
    pub(super) queue: VecDeque<Command>,
    /// Requests we may have outstanding (the peer's SET_WINDOW_SIZE; 1 by default).
    pub send_window: u32,
    /// Whether it was ever installed (authenticated, or made by a rekey).
    pub installed: bool,
    /// Whether the peer sent NAT-D notifies (strongSwan then floats to 4500 with MOBIKE).
    pub(super) peer_sent_natd: bool,
    /// The DH group of our KE payload (changed by INVALID_KE_PAYLOAD).
    pub(super) ke_group: DhGroup,
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub peer: SocketAddr,
    /// The peer's authenticated identity, when it is an address (it differs from `peer`
    /// behind a NAT).
    pub peer_id: Option<std::net::IpAddr>,
    /// The peer address this SA is counted under while half-open (responder).
    pub(super) half_open_ip: Option<std::net::IpAddr>,
    /// Keys, once IKE_SA_INIT completed.
    pub keys: Option<IkeSaKeys>,
    /// Answered message IDs above `expect_msgid` (window > 1 lets them arrive out of order).
    pub(super) answered_above: BTreeSet<u32>,
    /// The last responses we sent, (message ID, bytes), resent for retransmitted requests.
    pub(super) responses: VecDeque<(u32, Vec<u8>)>,
    /// The peer's IKE rekey we answered while ours was in flight (§2.8.2).
    pub(super) collision: Option<Collision>,
    pub(super) ni: Vec<u8>,
    pub(super) nr: Vec<u8>,
    pub(super) dh: Option<DhPrivate>,
    /// Our IKE_SA_INIT message (signed by our AUTH).
    pub(super) init_msg_ours: Vec<u8>,
    /// The peer's IKE_SA_INIT message (signed by its AUTH).
    pub(super) init_msg_peer: Vec<u8>,
}

impl IkeSa {
    /// A fresh SA in `state`, with nothing negotiated yet.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        tunnel: u32,
        initiator: bool,
        spi_i: u64,
        local: SocketAddr,
        peer: SocketAddr,
        state: IkeState,
        now: SimTime,
        ke_group: DhGroup,
    ) -> Self {
        IkeSa {
            tunnel,
            initiator,
            spi_i,
            spi_r: 0,
            state,
            local,
            peer,
            keys: None,
            children: Vec::new(),
            nat_here: false,
            nat_there: false,
            send_window: 1,
            peer_id: None,
            ni: Vec::new(),
            nr: Vec::new(),
            dh: None,
            init_msg_ours: Vec::new(),
            init_msg_peer: Vec::new(),
            next_msgid: 0,
            expect_msgid: 0,
            answered_above: BTreeSet::new(),
            pending: Vec::new(),
            queue: VecDeque::new(),
            responses: VecDeque::new(),
            last_received: now,
            last_sent: now,
            uid: 0,
            filed_due: None,
            filed_tunnel: None,
            half_open_ip: None,
            ke_group,
            peer_sent_natd: false,
            installed: false,
            rekey_at: None,
            expire_at: None,
            retry_at: None,
            collision: None,
            redundant_until: None,
        }
    }

    /// The first (oldest) CHILD_SA, if any.
    pub fn child(&self) -> Option<&ChildSa> {
        self.children.first()
    }

    /// The IKE SA as SA events name it (its two SPIs).
    pub fn sa_ref(&self) -> crate::events::SaRef {
        crate::events::SaRef::Ike(self.spi_i, self.spi_r)
    }

    /// Whether requests that wait for a window slot may go now.
    pub(super) fn window_open(&self) -> bool {
        (self.pending.len() as u32) < self.send_window.max(1)
    }

    pub(super) fn child_index(&self, spi_in: u32) -> Option<usize> {
        self.children.iter().position(|c| c.spi_in == spi_in)
    }
}
