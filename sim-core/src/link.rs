//! One-way links: propagation delay, delay jitter, loss (Bernoulli or Gilbert-Elliott
//! bursts), bandwidth with a finite drop-tail queue, duplication and MTU.
//!
//! Reordering is not a parameter: it happens when jitter lets a later packet overtake an
//! earlier one, as on a real path.

use std::collections::VecDeque;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::dist::Dist;
use crate::network::NodeId;
use crate::packet::Packet;
use crate::rng::{RngStreams, SimRng};
use crate::time::{Duration, SimTime};
use crate::trace::DropReason;

/// How a link loses packets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum LossModel {
    /// No loss.
    #[default]
    None,
    /// Each packet lost independently with probability `p`.
    Bernoulli {
        /// Loss probability per packet.
        p: f64,
    },
    /// Gilbert-Elliott two-state bursts. Before each packet the state changes with the given
    /// probability; the packet is then lost with the state's loss probability. With
    /// `loss_good = 0` and `loss_bad = 1`, bursts last `1 / p_bad_to_good` packets on average
    /// and the long-run loss rate is `p_good_to_bad / (p_good_to_bad + p_bad_to_good)`.
    GilbertElliott {
        /// Probability of moving from the good to the bad state, per packet.
        p_good_to_bad: f64,
        /// Probability of moving from the bad to the good state, per packet.
        p_bad_to_good: f64,
        /// Loss probability in the good state.
        #[serde(default)]
        loss_good: f64,
        /// Loss probability in the bad state.
        #[serde(default = "one")]
        loss_bad: f64,
    },
}

fn one() -> f64 {
    1.0
}

/// The parameters of a one-way link, as a scenario file gives them. Every field has a
/// default: a lossless 1 ms link of unlimited bandwidth with a 1500-byte MTU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkParams {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn per packet (may reorder packets).
    pub jitter: Option<Dist<Duration>>,
    /// Loss model.
    pub loss: LossModel,
    /// Bandwidth in bits per second; `None` means packets take no time to serialise.
    pub bandwidth_bps: Option<u64>,
    /// Packets that may wait behind the one being transmitted before drop-tail drops.
    pub queue_packets: u32,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Largest IP packet the link carries, in bytes.
    pub mtu: u32,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            delay: Duration::from_millis(1),
            jitter: None,
            loss: LossModel::None,
            bandwidth_bps: None,
            queue_packets: 1000,
            duplicate: 0.0,
            mtu: 1500,
        }
    }
}

/// Why link parameters were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid link parameters: {0}")]
pub struct LinkParamsError(pub String);

impl LinkParams {
    /// Checks ranges (probabilities in [0, 1], positive bandwidth and MTU, valid jitter).
    pub fn validate(&self) -> Result<(), LinkParamsError> {
        let prob = |name: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(LinkParamsError(format!(
                    "{name} = {p} is not a probability in [0, 1]"
                )))
            }
        };
        match self.loss {
            LossModel::None => {}
            LossModel::Bernoulli { p } => prob("loss p", p)?,
            LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            } => {
                prob("p_good_to_bad", p_good_to_bad)?;
                prob("p_bad_to_good", p_bad_to_good)?;
                prob("loss_good", loss_good)?;
                prob("loss_bad", loss_bad)?;
            }
        }
        prob("duplicate", self.duplicate)?;
        if self.bandwidth_bps == Some(0) {
            return Err(LinkParamsError("bandwidth_bps must be > 0".into()));
        }
        if self.mtu < 68 {
            return Err(LinkParamsError(format!(
                "mtu {} is below the IPv4 minimum of 68",
                self.mtu
            )));
        }
        if let Some(j) = &self.jitter {
            j.validate()
                .map_err(|e| LinkParamsError(format!("jitter: {e}")))?;
        }
        Ok(())
    }

    /// Time to put `bytes` on the wire at this link's bandwidth (rounded up to a nanosecond).
    pub fn serialization_delay(&self, bytes: usize) -> Duration {
        match self.bandwidth_bps {
            None => Duration::ZERO,
            Some(bps) => {
                let bits = bytes as u128 * 8;
                Duration(((bits * 1_000_000_000).div_ceil(u128::from(bps))) as u64)
            }
        }
    }
}

/// Per-link counters. The three every packet updates come first (`Link` keeps them in its
/// first cache line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[repr(C)]
pub struct LinkStats {
    /// Packets offered to the link.
    pub offered: u64,
    /// Packets that will arrive (duplicates counted once more each).
    pub delivered: u64,
    /// Bytes that will arrive.
    pub delivered_bytes: u64,
    /// Packets lost to the loss model.
    pub lost: u64,
    /// Packets dropped by the full queue.
    pub queue_drops: u64,
    /// Packets dropped for exceeding the MTU.
    pub mtu_drops: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
}

/// What the link does with one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// The packet will arrive at `at`, and a duplicate at `duplicate_at` if one was made.
    Deliver {
        /// Arrival of the packet.
        at: SimTime,
        /// Arrival of a duplicate copy.
        duplicate_at: Option<SimTime>,
    },
    /// The packet is gone.
    Dropped(DropReason),
}

/// A one-way link between two nodes, with its own random streams and queue.
#[derive(Debug)]
// What a packet on a fixed-delay link reads and writes (the far node, MTU, delay and the
// three counters it bumps) is in the first 64 bytes, and a link starts a cache line: a
// 10^5-tunnel network has 4 * 10^5 links and a message crosses four, each a likely miss.
#[repr(C, align(64))]
pub struct Link {
    /// Receiving node.
    pub to: NodeId,
    /// `params.mtu`, beside what else a hop reads.
    mtu: u32,
    /// `params.delay`, likewise.
    delay: Duration,
    /// Whether the link only delays packets by a fixed time (see [`Link::is_fixed_delay`]).
    fixed_delay: bool,
    /// Counters.
    pub stats: LinkStats,
    /// Unique name, e.g. `A->B`; also names its random streams.
    pub name: String,
    /// Sending node.
    pub from: NodeId,
    /// Parameters; private, because `mtu`, `delay` and `fixed_delay` are copies of them
    /// (see [`Link::params`]).
    params: LinkParams,
    ge_bad: bool,
    /// Transmission end times of packets not yet fully sent, oldest first.
    backlog: VecDeque<SimTime>,
    /// The run's streams; a link's own generators are made on first use, so the many
    /// clean links of a large topology cost no generator state.
    streams: RngStreams,
    rng_loss: Option<Box<SimRng>>,
    rng_delay: Option<Box<SimRng>>,
    rng_dup: Option<Box<SimRng>>,
}

/// The generator in `slot`, made from stream `link/<name>/<what>` the first time.
fn lazy<'a>(
    slot: &'a mut Option<Box<SimRng>>,
    streams: &RngStreams,
    name: &str,
    what: &str,
) -> &'a mut SimRng {
    slot.get_or_insert_with(|| Box::new(streams.stream(&format!("link/{name}/{what}"))))
}

impl Link {
    /// A link called `name` whose random streams come from `streams`
    /// (`link/<name>/loss`, `link/<name>/delay`, `link/<name>/dup`).
    pub fn new(
        name: impl Into<String>,
        from: NodeId,
        to: NodeId,
        params: LinkParams,
        streams: &RngStreams,
    ) -> Self {
        let name = name.into();
        let fixed_delay = params.bandwidth_bps.is_none()
            && params.loss == LossModel::None
            && params.jitter.is_none()
            && params.duplicate == 0.0;
        Link {
            mtu: params.mtu,
            delay: params.delay,
            fixed_delay,
            streams: streams.clone(),
            rng_loss: None,
            rng_delay: None,
            rng_dup: None,
            name,
            from,
            to,
            params,
            stats: LinkStats::default(),
            ge_bad: false,
            backlog: VecDeque::new(),
        }
    }

    /// Offers `packet` to the link at `now` and decides its fate: MTU, queue, serialization,
    /// loss, delay and jitter, duplication, in that order. A lost packet still used the
    /// link's bandwidth.
    pub fn transmit(&mut self, now: SimTime, packet: &Packet) -> TxOutcome {
        self.stats.offered += 1;
        let len = packet.wire_len_fragmented();
        if packet.largest_fragment() > self.mtu as usize {
            self.stats.mtu_drops += 1;
            return TxOutcome::Dropped(DropReason::ExceedsMtu { mtu: self.mtu });
        }
        if self.fixed_delay {
            // Nothing to draw or queue: only the first cache line is read.
            self.stats.delivered += 1;
            self.stats.delivered_bytes += len as u64;
            return TxOutcome::Deliver {
                at: now + self.delay,
                duplicate_at: None,
            };
        }
        let departure = if self.params.bandwidth_bps.is_some() {
            while self.backlog.front().is_some_and(|&end| end <= now) {
                self.backlog.pop_front();
            }
            // The front packet is on the wire; the rest are waiting.
            let waiting = self.backlog.len().saturating_sub(1);
            if !self.backlog.is_empty() && waiting >= self.params.queue_packets as usize {
                self.stats.queue_drops += 1;
                return TxOutcome::Dropped(DropReason::QueueFull);
            }
            let start = self.backlog.back().copied().unwrap_or(now).max(now);
            let end = start + self.params.serialization_delay(len);
            self.backlog.push_back(end);
            end
        } else {
            now
        };
        // Each fragment can be lost; losing one loses the packet (no reassembly).
        if let Some(reason) = (0..packet.fragments.max(1)).find_map(|_| self.draw_loss()) {
            self.stats.lost += 1;
            return TxOutcome::Dropped(reason);
        }
        let at = departure + self.draw_delay();
        let duplicate_at = if self.params.duplicate > 0.0
            && lazy(&mut self.rng_dup, &self.streams, &self.name, "dup").random::<f64>()
                < self.params.duplicate
        {
            self.stats.duplicated += 1;
            self.stats.delivered += 1;
            self.stats.delivered_bytes += len as u64;
            Some(departure + self.draw_delay())
        } else {
            None
        };
        self.stats.delivered += 1;
        self.stats.delivered_bytes += len as u64;
        TxOutcome::Deliver { at, duplicate_at }
    }

    /// Whether the link only delays packets by a fixed time: no bandwidth (so no queue), no
    /// loss, jitter or duplication, hence no random draw and no state a packet's fate
    /// depends on.
    pub fn is_fixed_delay(&self) -> bool {
        self.fixed_delay
    }

    /// The delay of a fixed-delay link ([`Link::is_fixed_delay`]); `None` for any other.
    pub fn fixed_delay(&self) -> Option<Duration> {
        self.fixed_delay.then_some(self.delay)
    }

    /// The parameters the link was made with (they never change afterwards).
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// The largest IP packet the link carries, in bytes (`params.mtu`).
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    fn loss_rng(&mut self) -> &mut SimRng {
        lazy(&mut self.rng_loss, &self.streams, &self.name, "loss")
    }

    fn draw_loss(&mut self) -> Option<DropReason> {
        match self.params.loss {
            LossModel::None => None,
            LossModel::Bernoulli { p } => {
                (self.loss_rng().random::<f64>() < p).then_some(DropReason::RandomLoss)
            }
            LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let flip = self.loss_rng().random::<f64>();
                if self.ge_bad {
                    if flip < p_bad_to_good {
                        self.ge_bad = false;
                    }
                } else if flip < p_good_to_bad {
                    self.ge_bad = true;
                }
                let p = if self.ge_bad { loss_bad } else { loss_good };
                (self.loss_rng().random::<f64>() < p).then_some(DropReason::BurstLoss)
            }
        }
    }

    fn draw_delay(&mut self) -> Duration {
        let jitter = match &self.params.jitter {
            Some(d) => d.sample(lazy(
                &mut self.rng_delay,
                &self.streams,
                &self.name,
                "delay",
            )),
            None => Duration::ZERO,
        };
        self.delay + jitter
    }
}
