//! Time with no usable CHILD_SA, per tunnel (a metric of the rekey issue): a tunnel is
//! usable while both of its peers hold at least one CHILD_SA that is neither deleted nor
//! expired. Counted from the tunnel's first establishment to the end of the run, so setup
//! time is not an outage.

use ike_model::events::SaRef;
use serde::Serialize;
use sim_core::{Duration, SimTime};

/// Outages of one tunnel.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Outages {
    /// How many times the tunnel stopped being usable.
    pub count: u64,
    /// Their total length, seconds.
    pub total_s: f64,
    /// The longest, seconds.
    pub longest_s: f64,
}

#[derive(Debug, Default)]
struct Tunnel {
    /// The live CHILD_SAs at the initiator and at the responder.
    live: [Vec<SaRef>; 2],
    ends: [String; 2],
    up: bool,
    down_since: Option<SimTime>,
    count: u64,
    total: Duration,
    longest: Duration,
}

/// Follows the CHILD_SAs of every tunnel at both ends.
#[derive(Debug, Default)]
pub struct Availability {
    tunnels: Vec<Tunnel>,
}

impl Availability {
    /// A tracker for tunnels between these (initiator, responder) node names.
    pub fn new(ends: impl IntoIterator<Item = (String, String)>) -> Self {
        Availability {
            tunnels: ends
                .into_iter()
                .map(|(a, b)| Tunnel {
                    ends: [a, b],
                    ..Tunnel::default()
                })
                .collect(),
        }
    }

    /// A CHILD_SA `spi` of `tunnel` at `node` appeared (`alive`) or went.
    pub fn child(&mut self, now: SimTime, tunnel: u32, node: &str, spi: SaRef, alive: bool) {
        let Some(t) = self.tunnels.get_mut(tunnel as usize) else {
            return;
        };
        let Some(side) = t.ends.iter().position(|e| e == node) else {
            return;
        };
        let set = &mut t.live[side];
        if alive {
            if !set.contains(&spi) {
                set.push(spi);
            }
        } else {
            set.retain(|k| *k != spi);
        }
        let usable = t.live.iter().all(|s| !s.is_empty());
        match (t.up, usable) {
            (false, true) => {
                t.up = true;
                if let Some(since) = t.down_since.take() {
                    let d = now.saturating_since(since);
                    t.total = t.total + d;
                    t.longest = t.longest.max(d);
                }
            }
            (true, false) => {
                t.up = false;
                t.count += 1;
                t.down_since = Some(now);
            }
            _ => {}
        }
    }

    /// The outages of each tunnel, closing open ones at `end`.
    pub fn outages(&self, end: SimTime) -> Vec<Outages> {
        self.tunnels
            .iter()
            .map(|t| {
                let open = t
                    .down_since
                    .map_or(Duration::ZERO, |s| end.saturating_since(s));
                Outages {
                    count: t.count,
                    total_s: (t.total + open).as_secs_f64(),
                    longest_s: t.longest.max(open).as_secs_f64(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_runs_from_the_first_end_losing_its_sa_to_both_having_one_again() {
        let mut a = Availability::new([("a".to_string(), "b".to_string())]);
        let t = |s: u64| SimTime(s * 1_000_000_000);
        a.child(t(1), 0, "b", SaRef::Child(1), true);
        a.child(t(2), 0, "a", SaRef::Child(2), true);
        a.child(t(10), 0, "a", SaRef::Child(2), false); // down at 10
        a.child(t(12), 0, "b", SaRef::Child(1), false);
        a.child(t(15), 0, "a", SaRef::Child(3), true);
        a.child(t(16), 0, "b", SaRef::Child(4), true); // up at 16
        a.child(t(20), 0, "b", SaRef::Child(4), false); // down at 20, still at the end (25)
        let o = &a.outages(t(25))[0];
        assert_eq!(o.count, 2);
        assert_eq!(o.total_s, 11.0);
        assert_eq!(o.longest_s, 6.0);
    }
}
