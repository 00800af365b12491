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

/// Which SA an [`Event::Sa`] or [`Event::State`] is about: an IKE SA (an ISAKMP SA) by
/// its two SPIs (cookies), a CHILD_SA (an IPsec SA) by its inbound SPI. Shown as outputs
/// spell it: 16 hex digits, `_`, 16 hex digits; or 8 hex digits. (A value, not a string: a
/// concentrator's day reports tens of millions of SA events.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SaRef {
    /// An IKE SA: initiator's and responder's SPIs (0 while unknown).
    Ike(u64, u64),
    /// A CHILD_SA: our inbound SPI.
    Child(u32),
}

impl SaRef {
    /// Writes the text form into `buf` and returns it (no allocation).
    pub fn write_into<'a>(&self, buf: &'a mut [u8; 33]) -> &'a [u8] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut put = |at: usize, v: u64, digits: usize| {
            for k in 0..digits {
                buf[at + k] = HEX[((v >> (4 * (digits - 1 - k))) & 0xf) as usize];
            }
        };
        match *self {
            SaRef::Ike(i, r) => {
                put(0, i, 16);
                put(17, r, 16);
                buf[16] = b'_';
                &buf[..33]
            }
            SaRef::Child(spi) => {
                put(0, u64::from(spi), 8);
                &buf[..8]
            }
        }
    }
}

impl fmt::Display for SaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaRef::Ike(i, r) => write!(f, "{i:016x}_{r:016x}"),
            SaRef::Child(spi) => write!(f, "{spi:08x}"),
        }
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
        /// The SA: both IKE SPIs, or the inbound ESP SPI.
        spi: SaRef,
        /// What happened.
        change: SaChange,
        /// Why, in a few words (`rekeyed by peer`, `hard lifetime`, `collision loser`, ...).
        reason: &'static str,
    },
    /// An SA moved to a new state (strongSwan's state names: CONNECTING, ESTABLISHED,
    /// DELETING, DESTROYING for IKE SAs; INSTALLED, REKEYING, REKEYED, DELETING for
    /// CHILD_SAs).
    State {
        /// Scenario tunnel index.
        tunnel: u32,
        /// IKE SA or CHILD_SA.
        kind: SaKind,
        /// The SA, as in `Sa` events.
        spi: SaRef,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sa_refs_read_as_outputs_spell_them_written_or_displayed() {
        let ike = SaRef::Ike(0x0123_4567_89ab_cdef, 0xfe);
        let child = SaRef::Child(0xc0ffee);
        assert_eq!(ike.to_string(), "0123456789abcdef_00000000000000fe");
        assert_eq!(child.to_string(), "00c0ffee");
        let mut buf = [0u8; 33];
        assert_eq!(ike.write_into(&mut buf), ike.to_string().as_bytes());
        assert_eq!(child.write_into(&mut buf), b"00c0ffee");
    }
}
