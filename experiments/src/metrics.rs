//! Metrics of a run, from the endpoints' events: one row per exchange (`exchanges.csv`), one
//! row per SA change (`sa_events.csv`), and the aggregates of `summary.json`. Definitions are
//! DESIGN.md's: exchange latency is measured at the initiator; establishment time runs from
//! the tunnel's start to the first CHILD_SA installed at both ends.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use ike_model::events::{Event, ExchangeKind, Outcome, Purpose, SaChange, SaKind};
use serde::Serialize;

use crate::availability::Availability;
use sim_core::{Duration, SimTime};

mod merged;
mod on_thread;
mod rows;
pub use merged::{MergedRecorder, PartRecorder};
pub use on_thread::MetricsThread;
pub use rows::{ExchangeRow, SaRow, secs};
use rows::{Rows, secs_into, u32_into, write_fields};

/// Adds one to `map[outer][inner]`, allocating the keys only the first time they occur.
fn bump(map: &mut BTreeMap<String, BTreeMap<String, u64>>, outer: &str, inner: &str) {
    if !map.contains_key(outer) {
        map.insert(outer.to_string(), BTreeMap::new());
    }
    let m = map.get_mut(outer).expect("inserted above");
    match m.get_mut(inner) {
        Some(n) => *n += 1,
        None => {
            m.insert(inner.to_string(), 1);
        }
    }
}

#[derive(Clone, Debug)]
pub struct TunnelInfo {
    /// Initiating peer.
    pub initiator: String,
    /// Responding peer.
    pub responder: String,
    /// When the initiator starts it.
    pub start: SimTime,
}

/// Collects the events of one run. Rows are written out as they come and only aggregates
/// stay in memory, so a run of 10^5 tunnels does not hold millions of rows.
#[derive(Debug)]
pub struct Metrics {
    tunnels: Vec<TunnelInfo>,
    exchanges: Rows<ExchangeRow>,
    sa_rows: Rows<SaRow>,
    /// The first error writing a row (reported when the files are finished).
    write_error: Option<io::Error>,
    /// First CHILD_SA installation per tunnel at (initiator, responder).
    first_child: Vec<[Option<SimTime>; 2]>,
    by_type: BTreeMap<String, BTreeMap<String, u64>>,
    retransmissions: u64,
    dropped: BTreeMap<String, u64>,
    /// Collisions by SA kind, then resolution.
    collisions: BTreeMap<String, BTreeMap<String, u64>>,
    extra_exchanges: u64,
    availability: Availability,
    /// Latencies (ns) of successful exchanges by type and purpose.
    latencies: BTreeMap<(ExchangeKind, Purpose), Vec<u64>>,
    /// First and last end (ns) of successful exchanges by type and purpose.
    ends: BTreeMap<(ExchangeKind, Purpose), (u64, u64)>,
    /// Rekey exchanges by purpose, then outcome.
    rekeys: BTreeMap<String, BTreeMap<String, u64>>,
    /// Live SAs now: [IKE, CHILD] x [at initiators, at responders].
    live: [[i64; 2]; 2],
    /// One bin per simulated minute (`timeline.csv`).
    timeline: Vec<MinuteBin>,
}

/// One minute of `timeline.csv`: what ended in it, and the SAs alive at its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MinuteBin {
    /// Exchanges that ended (any kind, any outcome).
    pub exchanges: u64,
    /// CHILD_SA rekeys that succeeded.
    pub child_rekeys: u64,
    /// IKE SA rekeys that succeeded.
    pub ike_rekeys: u64,
    /// Live SAs at the end of the minute: [IKE, CHILD] x [at initiators, at responders].
    pub live: [[i64; 2]; 2],
}

/// Runs with up to this many tunnels list `outages_by_tunnel` in summary.json.
pub const OUTAGES_IN_SUMMARY: usize = 1000;

/// The header of `timeline.csv`.
const TIMELINE_COLUMNS: &str = "minute_s,exchanges,child_rekeys,ike_rekeys,\
ike_sas_initiators,ike_sas_responders,child_sas_initiators,child_sas_responders\n";

/// Minimum, median and maximum of a sample, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// Number of values.
    pub n: usize,
    /// Smallest.
    pub min_s: Option<f64>,
    /// Median (lower middle for even counts, so it is one of the values).
    pub median_s: Option<f64>,
    /// Largest.
    pub max_s: Option<f64>,
}

impl Spread {
    /// The spread of `values`.
    pub fn of(mut values: Vec<Duration>) -> Self {
        values.sort();
        let s = |d: &Duration| d.as_secs_f64();
        Spread {
            n: values.len(),
            min_s: values.first().map(s),
            median_s: values.get(values.len().saturating_sub(1) / 2).map(s),
            max_s: values.last().map(s),
        }
    }
}

impl Metrics {
    /// An empty collector for these tunnels that keeps its rows in memory (tests).
    pub fn new(tunnels: Vec<TunnelInfo>) -> Self {
        Self::with_rows(tunnels, Rows::Memory(Vec::new()), Rows::Memory(Vec::new()))
    }

    /// A collector that writes `exchanges.csv` and, when `sa_events`, `sa_events.csv` into
    /// `dir` as rows come ([`Metrics::finish_csvs`] puts them in place).
    pub fn writing_to(tunnels: Vec<TunnelInfo>, dir: &Path, sa_events: bool) -> io::Result<Self> {
        let exchanges = Rows::open(&dir.join("exchanges.csv"), EXCHANGE_COLUMNS)?;
        let sa_rows = if sa_events {
            Rows::open(&dir.join("sa_events.csv"), SA_COLUMNS)?
        } else {
            Rows::Off
        };
        Ok(Self::with_rows(tunnels, exchanges, sa_rows))
    }

    fn with_rows(
        tunnels: Vec<TunnelInfo>,
        exchanges: Rows<ExchangeRow>,
        sa_rows: Rows<SaRow>,
    ) -> Self {
        let n = tunnels.len();
        let availability = Availability::new(
            tunnels
                .iter()
                .map(|t| (t.initiator.clone(), t.responder.clone())),
        );
        Metrics {
            collisions: BTreeMap::new(),
            extra_exchanges: 0,
            availability,
            tunnels,
            exchanges,
            sa_rows,
            write_error: None,
            first_child: vec![[None, None]; n],
            by_type: BTreeMap::new(),
            retransmissions: 0,
            dropped: BTreeMap::new(),
            latencies: BTreeMap::new(),
            ends: BTreeMap::new(),
            rekeys: BTreeMap::new(),
            live: [[0; 2]; 2],
            timeline: Vec::new(),
        }
    }

    /// The bin of the minute holding `now`, opening the minutes up to it (each starts with
    /// the SAs alive before it).
    fn minute(&mut self, now: SimTime) -> &mut MinuteBin {
        let m = (now.as_nanos() / 60_000_000_000) as usize;
        while self.timeline.len() <= m {
            self.timeline.push(MinuteBin {
                live: self.live,
                ..MinuteBin::default()
            });
        }
        &mut self.timeline[m]
    }

    /// `timeline.csv`: per simulated minute up to `end`, exchanges and successful rekeys that
    /// ended in it and the SAs alive at its end, at initiators and at responders (a hub's
    /// load in hub-and-spoke). A day is 1,440 rows whatever the number of tunnels.
    pub fn timeline_csv(&mut self, end: SimTime) -> String {
        if end > SimTime::ZERO {
            self.minute(SimTime(end.as_nanos() - 1));
        }
        let mut out = String::from(TIMELINE_COLUMNS);
        for (k, b) in self.timeline.iter().enumerate() {
            let [[ii, ir], [ci, cr]] = b.live;
            out.push_str(&format!(
                "{},{},{},{},{ii},{ir},{ci},{cr}\n",
                k * 60,
                b.exchanges,
                b.child_rekeys,
                b.ike_rekeys
            ));
        }
        out
    }

    fn keep_error(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.write_error.is_none()
        {
            self.write_error = Some(e);
        }
    }

    /// Records `event`, reported at `now` by the endpoint on node `node`.
    pub fn record(&mut self, now: SimTime, node: &str, event: &Event) {
        match event {
            Event::ExchangeFinished {
                tunnel,
                version,
                kind,
                purpose,
                started,
                ended,
                retransmissions,
                outcome,
            } => {
                // Strings are borrowed and counters found before anything is allocated:
                // a day of 10^5 tunnels finishes ~3 million exchanges.
                let outcome_s: std::borrow::Cow<str> = match outcome {
                    Outcome::Success => "success".into(),
                    Outcome::Timeout => "timeout".into(),
                    other => other.to_string().into(),
                };
                bump(&mut self.by_type, kind.as_str(), &outcome_s);
                self.retransmissions += u64::from(*retransmissions);
                let success = *outcome == Outcome::Success;
                let bin = self.minute(now);
                bin.exchanges += 1;
                match purpose {
                    Purpose::RekeyChild if success => bin.child_rekeys += 1,
                    Purpose::RekeyIke if success => bin.ike_rekeys += 1,
                    _ => {}
                }
                if success {
                    let (a, b) = (started.as_nanos(), ended.as_nanos());
                    self.latencies
                        .entry((*kind, *purpose))
                        .or_default()
                        .push(b.saturating_sub(a));
                    let e = self.ends.entry((*kind, *purpose)).or_insert((b, b));
                    e.0 = e.0.min(b);
                    e.1 = e.1.max(b);
                }
                if matches!(purpose, Purpose::RekeyChild | Purpose::RekeyIke) {
                    bump(&mut self.rekeys, purpose.as_str(), &outcome_s);
                }
                let responder = self
                    .tunnels
                    .get(*tunnel as usize)
                    .map(|t| {
                        if t.initiator == node {
                            t.responder.as_str()
                        } else {
                            t.initiator.as_str()
                        }
                    })
                    .unwrap_or_default();
                let r = match &mut self.exchanges {
                    Rows::File(w) => {
                        let (mut t, mut s, mut e, mut l, mut r) =
                            ([0u8; 10], [0u8; 32], [0u8; 32], [0u8; 32], [0u8; 10]);
                        let fields = [
                            u32_into(*tunnel, &mut t),
                            version.as_str().as_bytes(),
                            kind.as_str().as_bytes(),
                            purpose.as_str().as_bytes(),
                            node.as_bytes(),
                            responder.as_bytes(),
                            secs_into(started.as_nanos(), &mut s),
                            secs_into(ended.as_nanos(), &mut e),
                            secs_into(ended.saturating_since(*started).as_nanos(), &mut l),
                            u32_into(*retransmissions, &mut r),
                            outcome_s.as_bytes(),
                        ];
                        write_fields(w, &fields)
                    }
                    rows => rows.push(ExchangeRow {
                        tunnel: *tunnel,
                        ike_version: version.to_string(),
                        exchange: kind.to_string(),
                        purpose: purpose.to_string(),
                        initiator: node.to_string(),
                        responder: responder.to_string(),
                        start_s: secs(started.as_nanos()),
                        end_s: secs(ended.as_nanos()),
                        latency_s: secs(ended.saturating_since(*started).as_nanos()),
                        retransmissions: *retransmissions,
                        outcome: outcome_s.to_string(),
                    }),
                };
                self.keep_error(r);
            }
            Event::Sa {
                tunnel,
                kind,
                spi,
                change,
                reason,
            } => {
                if *kind == SaKind::Child
                    && *change == SaChange::Installed
                    && let Some(t) = self.tunnels.get(*tunnel as usize)
                {
                    let side = usize::from(t.initiator != node);
                    let slot = &mut self.first_child[*tunnel as usize][side];
                    if slot.is_none() {
                        *slot = Some(now);
                    }
                }
                let delta = match change {
                    SaChange::Installed => 1,
                    SaChange::Deleted | SaChange::Expired => -1,
                    _ => 0,
                };
                if delta != 0
                    && let Some(t) = self.tunnels.get(*tunnel as usize)
                {
                    let side = usize::from(t.initiator != node);
                    self.live[usize::from(*kind == SaKind::Child)][side] += delta;
                    let live = self.live;
                    self.minute(now).live = live;
                }
                if *kind == SaKind::Child {
                    let alive = match change {
                        SaChange::Installed => Some(true),
                        SaChange::Deleted | SaChange::Expired => Some(false),
                        SaChange::Rekeyed | SaChange::Outbound | SaChange::InboundRemoved => None,
                    };
                    if let Some(alive) = alive {
                        self.availability.child(now, *tunnel, node, *spi, alive);
                    }
                }
                match &mut self.sa_rows {
                    Rows::File(w) => {
                        // Field by field, with no allocation per row (a day of 10^5
                        // tunnels writes ~25 million rows).
                        let mut time = [0u8; 32];
                        let mut num = [0u8; 10];
                        let mut sa = [0u8; 33];
                        let fields = [
                            secs_into(now.as_nanos(), &mut time),
                            node.as_bytes(),
                            u32_into(*tunnel, &mut num),
                            kind.as_str().as_bytes(),
                            spi.write_into(&mut sa),
                            change.as_str().as_bytes(),
                            reason.as_bytes(),
                        ];
                        let r = write_fields(w, &fields);
                        self.keep_error(r);
                    }
                    Rows::Memory(v) => v.push(SaRow {
                        time_s: secs(now.as_nanos()),
                        node: node.to_string(),
                        tunnel: *tunnel,
                        sa_kind: kind.to_string(),
                        spi: spi.to_string(),
                        event: change.to_string(),
                        reason: reason.to_string(),
                    }),
                    Rows::Off => {}
                }
            }
            Event::State { .. } => {}
            Event::Collision {
                kind,
                resolution,
                extra_exchanges,
                ..
            } => {
                *self
                    .collisions
                    .entry(kind.to_string())
                    .or_default()
                    .entry((*resolution).to_string())
                    .or_default() += 1;
                self.extra_exchanges += u64::from(*extra_exchanges);
            }
            Event::Dropped { reason, .. } => {
                *self.dropped.entry((*reason).to_string()).or_default() += 1;
            }
        }
    }

    /// The rekey figures of `summary.json`: rekey exchanges by outcome, failed rekeys by
    /// reason, collisions by kind and resolution, the exchanges collisions added, and the
    /// time each tunnel had no usable CHILD_SA (up to `end`).
    pub fn rekey_summary(&self, end: SimTime) -> serde_json::Value {
        let rekeys = &self.rekeys;
        let mut failed: BTreeMap<String, u64> = BTreeMap::new();
        for by_outcome in rekeys.values() {
            for (outcome, n) in by_outcome {
                if outcome != "success" {
                    *failed.entry(outcome.clone()).or_default() += n;
                }
            }
        }
        let outages = self.availability.outages(end);
        // Collisions per successful rekey exchange, by SA kind.
        let per_rekey = |kind: &str, purpose: &str| {
            let c: u64 = self.collisions.get(kind).map_or(0, |m| m.values().sum());
            let r = rekeys
                .get(purpose)
                .and_then(|m| m.get("success"))
                .copied()
                .unwrap_or(0);
            if r == 0 { 0.0 } else { c as f64 / r as f64 }
        };
        let rate = serde_json::json!({
            "child": per_rekey("child", "rekey-child"),
            "ike": per_rekey("ike", "rekey-ike"),
        });
        let mut v = serde_json::json!({
            "rekeys": rekeys,
            "failed_rekeys_by_reason": failed,
            "collisions": self.collisions,
            "collisions_per_rekey": rate,
            "extra_exchanges_from_collisions": self.extra_exchanges,
            "no_usable_child_sa_s": outages.iter().map(|o| o.total_s).sum::<f64>(),
            "outages": {
                "tunnels_with_outages": outages.iter().filter(|o| o.count > 0).count(),
                "count": outages.iter().map(|o| o.count).sum::<u64>(),
                "longest_s": outages.iter().map(|o| o.longest_s).fold(0.0, f64::max),
            },
        });
        // Per tunnel in the summary only for small runs; outages.csv always has them.
        if outages.len() <= OUTAGES_IN_SUMMARY {
            v["outages_by_tunnel"] = serde_json::to_value(&outages).unwrap_or_default();
        }
        v
    }

    /// `outages.csv`: each tunnel's outages (count, total and longest, seconds) up to `end`.
    pub fn outages_csv(&self, end: SimTime) -> String {
        let mut out = String::from("tunnel,count,total_s,longest_s\n");
        for (t, o) in self.availability.outages(end).iter().enumerate() {
            out.push_str(&format!("{t},{},{},{}\n", o.count, o.total_s, o.longest_s));
        }
        out
    }

    /// Datagrams the endpoints dropped unanswered, by reason.
    pub fn dropped_by_reason(&self) -> &BTreeMap<String, u64> {
        &self.dropped
    }

    /// Establishment time of each tunnel that has a CHILD_SA at both ends.
    pub fn establishment_times(&self) -> Vec<(u32, Duration)> {
        self.first_child
            .iter()
            .enumerate()
            .filter_map(|(i, [a, b])| {
                let both = (*a)?.max((*b)?);
                Some((i as u32, both.saturating_since(self.tunnels[i].start)))
            })
            .collect()
    }

    /// Exchanges counted by type, then by outcome.
    pub fn exchanges_by_type(&self) -> &BTreeMap<String, BTreeMap<String, u64>> {
        &self.by_type
    }

    /// Latency of successful exchanges by exchange type and purpose
    /// (`CREATE_CHILD_SA rekey-child`), as min/median/max.
    pub fn latency_by_exchange(&self) -> BTreeMap<String, Spread> {
        self.latencies
            .iter()
            .map(|((k, p), v)| {
                (
                    format!("{k} {p}"),
                    Spread::of(v.iter().map(|ns| Duration(*ns)).collect()),
                )
            })
            .collect()
    }

    /// When the first and the last successful exchange of each type and purpose ended
    /// (seconds): how long a burst of requests took to get through.
    pub fn exchange_ends(&self) -> BTreeMap<String, serde_json::Value> {
        self.ends
            .iter()
            .map(|((k, p), (a, b))| {
                (
                    format!("{k} {p}"),
                    serde_json::json!({
                        "first_s": Duration(*a).as_secs_f64(),
                        "last_s": Duration(*b).as_secs_f64(),
                    }),
                )
            })
            .collect()
    }

    /// Total retransmitted requests.
    pub fn retransmissions(&self) -> u64 {
        self.retransmissions
    }

    /// The exchange rows, in completion order, when kept in memory (tests).
    pub fn exchanges(&self) -> &[ExchangeRow] {
        match &self.exchanges {
            Rows::Memory(v) => v,
            _ => &[],
        }
    }

    /// The SA rows, in time order, when kept in memory (tests).
    pub fn sa_rows(&self) -> &[SaRow] {
        match &self.sa_rows {
            Rows::Memory(v) => v,
            _ => &[],
        }
    }

    /// Puts the CSV files written so far in place, or reports the first write error.
    pub fn finish_csvs(&mut self) -> io::Result<()> {
        if let Some(e) = self.write_error.take() {
            return Err(e);
        }
        self.exchanges.finish()?;
        self.sa_rows.finish()
    }
}

const EXCHANGE_COLUMNS: &[&str] = &[
    "tunnel",
    "ike_version",
    "exchange",
    "purpose",
    "initiator",
    "responder",
    "start_s",
    "end_s",
    "latency_s",
    "retransmissions",
    "outcome",
];
const SA_COLUMNS: &[&str] = &[
    "time_s", "node", "tunnel", "sa_kind", "spi", "event", "reason",
];

#[cfg(test)]
mod tests {
    use super::*;
    use ike_model::events::{ExchangeKind, IkeVersion, Outcome, Purpose, SaRef};

    fn t(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    #[test]
    fn establishment_needs_a_child_sa_at_both_ends() {
        let mut m = Metrics::new(vec![TunnelInfo {
            initiator: "a".into(),
            responder: "b".into(),
            start: t(1000),
        }]);
        let child = |spi: u32| Event::Sa {
            tunnel: 0,
            kind: SaKind::Child,
            spi: SaRef::Child(spi),
            change: SaChange::Installed,
            reason: "IKE_AUTH",
        };
        m.record(t(1070), "b", &child(0xc1));
        assert!(m.establishment_times().is_empty());
        m.record(t(1080), "a", &child(0xc2));
        m.record(t(1500), "a", &child(0xc3));
        assert_eq!(
            m.establishment_times(),
            vec![(0, Duration::from_millis(80))]
        );
    }

    #[test]
    fn exchanges_are_counted_by_type_and_outcome_with_exact_latency() {
        let mut m = Metrics::new(vec![TunnelInfo {
            initiator: "a".into(),
            responder: "b".into(),
            start: SimTime::ZERO,
        }]);
        let ex = |outcome: Outcome, r| Event::ExchangeFinished {
            tunnel: 0,
            version: IkeVersion::V2,
            kind: ExchangeKind::CreateChildSa,
            purpose: Purpose::RekeyChild,
            started: SimTime(1),
            ended: SimTime(40_000_001),
            retransmissions: r,
            outcome,
        };
        m.record(SimTime(40_000_001), "b", &ex(Outcome::Success, 0));
        m.record(
            SimTime(40_000_001),
            "a",
            &ex(Outcome::Refused("TEMPORARY_FAILURE".into()), 2),
        );
        assert_eq!(m.exchanges()[0].latency_s, "0.040000000");
        assert_eq!(
            m.exchanges()[0].responder,
            "a",
            "b initiated, so a responded"
        );
        assert_eq!(m.retransmissions(), 2);
        let c = &m.exchanges_by_type()["CREATE_CHILD_SA"];
        assert_eq!(c["success"], 1);
        assert_eq!(c["refused:TEMPORARY_FAILURE"], 1);
    }

    #[test]
    fn the_timeline_counts_rekeys_per_minute_and_live_sas_at_each_end() {
        let mut m = Metrics::new(vec![TunnelInfo {
            initiator: "a".into(),
            responder: "b".into(),
            start: SimTime::ZERO,
        }]);
        let sa = |kind, spi: SaRef, change| Event::Sa {
            tunnel: 0,
            kind,
            spi,
            change,
            reason: "",
        };
        let secs = |s: u64| SimTime(s * 1_000_000_000);
        m.record(
            secs(1),
            "a",
            &sa(SaKind::Ike, SaRef::Ike(1, 1), SaChange::Installed),
        );
        m.record(
            secs(1),
            "b",
            &sa(SaKind::Ike, SaRef::Ike(1, 1), SaChange::Installed),
        );
        m.record(
            secs(2),
            "a",
            &sa(SaKind::Child, SaRef::Child(0xc1), SaChange::Installed),
        );
        let rekey = Event::ExchangeFinished {
            tunnel: 0,
            version: IkeVersion::V2,
            kind: ExchangeKind::CreateChildSa,
            purpose: Purpose::RekeyChild,
            started: secs(130),
            ended: secs(130),
            retransmissions: 0,
            outcome: Outcome::Success,
        };
        m.record(secs(130), "a", &rekey);
        m.record(
            secs(131),
            "a",
            &sa(SaKind::Child, SaRef::Child(0xc1), SaChange::Deleted),
        );
        let csv = m.timeline_csv(secs(240));
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), 5, "header and four minutes");
        assert_eq!(rows[1], "0,0,0,0,1,1,1,0");
        assert_eq!(rows[2], "60,0,0,0,1,1,1,0", "carried over");
        assert_eq!(rows[3], "120,1,1,0,1,1,0,0");
        assert_eq!(rows[4], "180,0,0,0,1,1,0,0");
    }

    #[test]
    fn spread_reports_min_median_max() {
        let s = Spread::of(vec![
            Duration::from_secs(3),
            Duration::from_secs(1),
            Duration::from_secs(2),
        ]);
        assert_eq!(
            (s.min_s, s.median_s, s.max_s),
            (Some(1.0), Some(2.0), Some(3.0))
        );
        assert_eq!(Spread::of(vec![]).median_s, None);
    }
}
