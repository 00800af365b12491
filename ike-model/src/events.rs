//! What an endpoint reports to whoever drives it (`poll_event`): SAs installed, rekeyed and
//! deleted, and exchanges finished with their outcome and latency. The runner turns these
//! into `exchanges.csv`, `sa_events.csv` and the summary; nothing else is needed to compute
//! the metrics DESIGN.md defines.

use std::fmt;

use serde::Serialize;
use sim_core::{Duration, SimTime};

/// IKE version (and IKEv1 mode) of an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum IkeVersion {
    /// IKEv2.
    V2,
    /// IKEv1.
    V1,
}

impl IkeVersion {
    /// The name written in exchanges.csv (`IKEv2`, `IKEv1`).
    pub fn as_str(self) -> &'static str {
        match self {
            IkeVersion::V2 => "IKEv2",
            IkeVersion::V1 => "IKEv1",
        }
    }
}

impl fmt::Display for IkeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exchange types of RFC 7296 §1 and RFC 2409, named as Wireshark and strongSwan name
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ExchangeKind {
    /// IKEv2 IKE_SA_INIT.
    IkeSaInit,
    /// IKEv2 IKE_AUTH.
    IkeAuth,
    /// IKEv2 CREATE_CHILD_SA.
    CreateChildSa,
    /// IKEv2 INFORMATIONAL.
    Informational,
    /// IKEv1 Main Mode.
    MainMode,
    /// IKEv1 Aggressive Mode.
    AggressiveMode,
    /// IKEv1 Quick Mode.
    QuickMode,
    /// IKEv1 Informational.
    Informational1,
}

impl ExchangeKind {
    /// The exchange's name as Wireshark and strongSwan print it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::IkeSaInit => "IKE_SA_INIT",
            ExchangeKind::IkeAuth => "IKE_AUTH",
            ExchangeKind::CreateChildSa => "CREATE_CHILD_SA",
            ExchangeKind::Informational => "INFORMATIONAL",
            ExchangeKind::MainMode => "MAIN_MODE",
            ExchangeKind::AggressiveMode => "AGGRESSIVE_MODE",
            ExchangeKind::QuickMode => "QUICK_MODE",
            ExchangeKind::Informational1 => "INFORMATIONAL_V1",
        }
    }
}

impl fmt::Display for ExchangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an exchange was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Purpose {
    /// Setting up the tunnel (IKE SA and first CHILD_SA).
    Establish,
    /// An additional CHILD_SA.
    CreateChild,
    /// Rekeying a CHILD_SA.
    RekeyChild,
    /// Rekeying the IKE SA.
    RekeyIke,
    /// Deleting an SA.
    Delete,
    /// A liveness check (DPD).
    Dpd,
}

impl Purpose {
    /// The name written in exchanges.csv and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Establish => "establish",
            Purpose::CreateChild => "create-child",
            Purpose::RekeyChild => "rekey-child",
            Purpose::RekeyIke => "rekey-ike",
            Purpose::Delete => "delete",
            Purpose::Dpd => "dpd",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an exchange ended, at its initiator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Outcome {
    /// Completed as asked.
    Success,
    /// The responder answered with an error notify (e.g. `NO_PROPOSAL_CHOSEN`,
    /// `TEMPORARY_FAILURE`); the name is the notify's.
    Refused(String),
    /// Retransmissions ran out.
    Timeout,
    /// Abandoned because something else superseded it (e.g. the IKE SA went away).
    Aborted(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("success"),
            Outcome::Refused(n) => write!(f, "refused:{n}"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::Aborted(why) => write!(f, "aborted:{why}"),
        }
    }
}

/// Kind of security association.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SaKind {
    /// IKE SA (IKEv1: ISAKMP SA).
    Ike,
    /// CHILD_SA (IKEv1: IPsec SA).
    Child,
}

impl SaKind {
    /// The name used in outputs (`ike`, `child`).
    pub fn as_str(self) -> &'static str {
        match self {
            SaKind::Ike => "ike",
            SaKind::Child => "child",
        }
    }
}

impl fmt::Display for SaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SaChange {
    /// Installed (keys in place, usable).
    Installed,
    /// Replaced by a rekey (the old SA still exists until deleted).
    Rekeyed,
    /// Deleted.
    Deleted,
    /// Reached its hard lifetime.
    Expired,
    /// Now carries this peer's outbound traffic (the initiator of a rekey switches on the
    /// response, the responder when the old SA's DELETE arrives; RFC 7296 §2.8).
    Outbound,
    /// Its inbound SPI is uninstalled, 5 s after the SA was deleted (packets still in
    /// flight are accepted until then).
    InboundRemoved,
}

impl SaChange {
    /// The name used in outputs (`installed`, `inbound-removed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SaChange::Installed => "installed",
            SaChange::Rekeyed => "rekeyed",
            SaChange::Deleted => "deleted",
            SaChange::Expired => "expired",
            SaChange::Outbound => "outbound",
            SaChange::InboundRemoved => "inbound-removed",
        }
    }
}

impl fmt::Display for SaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event an endpoint reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An exchange this endpoint initiated ended.
    ExchangeFinished {
        /// Tunnel index in the scenario.
        tunnel: u32,
        /// IKE version.
        version: IkeVersion,
        /// Exchange type.
        kind: ExchangeKind,
        /// Why it ran.
        purpose: Purpose,
        /// First transmission of its first request.
        started: SimTime,
        /// When it completed at this (initiating) endpoint.
        ended: SimTime,
        /// Retransmissions of its requests.
        retransmissions: u32,
        /// How it ended.
        outcome: Outcome,
    },
    /// An SA changed state at this endpoint.
    Sa {
        /// Tunnel index in the scenario.
        tunnel: u32,
        /// IKE or CHILD.
        kind: SaKind,
        /// The SA's identifier: both IKE SPIs, or the inbound ESP SPI, in hex.
        spi: String,
        /// What happened.
        change: SaChange,
        /// Why, in a few words (`rekeyed by peer`, `hard lifetime`, `collision loser`, ...).
        reason: String,
    },
    /// An SA moved to a new state (strongSwan's state names: CONNECTING, ESTABLISHED,
    /// DELETING, DESTROYING for IKE SAs; INSTALLED, REKEYING, REKEYED, DELETING for
    /// CHILD_SAs).
    State {
        /// Scenario tunnel index.
        tunnel: u32,
        /// IKE SA or CHILD_SA.
        kind: SaKind,
        /// The SA's SPIs as in `Sa` events.
        spi: String,
        /// The new state's name.
        state: &'static str,
    },
    /// Both peers tried to rekey (or rekey and delete) the same SA at once, and how it was
    /// resolved. Reported once per collision, by the peer whose exchange lost.
    Collision {
        /// Scenario tunnel index.
        tunnel: u32,
        /// Whether a CHILD_SA or the IKE SA collided.
        kind: SaKind,
        /// How it was resolved.
        resolution: &'static str,
        /// Exchanges that would not have happened without the collision.
        extra_exchanges: u32,
    },
    /// A datagram was dropped without an answer (RFC 7296 §2.21), and why.
    Dropped {
        /// The tunnel of the IKE SA it was for, when one was found.
        tunnel: Option<u32>,
        /// Why.
        reason: &'static str,
    },
}

impl Event {
    /// The exchange latency of a finished exchange (DESIGN.md: first transmission of the
    /// first request to completion at the initiator).
    pub fn latency(&self) -> Option<Duration> {
        match self {
            Event::ExchangeFinished { started, ended, .. } => {
                Some(ended.saturating_since(*started))
            }
            _ => None,
        }
    }
}
