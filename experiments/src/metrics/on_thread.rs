//! [`Metrics`] kept on a thread of their own, so that a run uses the second core for its
//! rows and aggregates while the first simulates: at 10^5 tunnels recording the ~3 million
//! exchanges of a day and writing their CSV rows is about a tenth of the work. The events
//! go over in batches, in the order the run reports them, so the outputs are those of
//! recording them in place.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use ike_model::events::Event;
use sim_core::SimTime;

use super::Metrics;

/// Events per batch: large enough that the hand-over costs little per event, small enough
/// that a batch stays in cache.
pub(super) const BATCH: usize = 1024;

/// Batches in flight before the run waits for the recorder (bounds the memory they hold).
const IN_FLIGHT: usize = 16;

/// One event: (when, reporting peer's index, event).
pub(super) type Record = (SimTime, u32, Event);

/// One batch of events.
pub(super) type Batch = Vec<Record>;

/// A recorder of a run's events on its own thread; [`MetricsThread::finish`] gives the
/// [`Metrics`] back.
pub struct MetricsThread {
    batch: Batch,
    to_recorder: Option<SyncSender<Batch>>,
    /// Emptied batches coming back for reuse.
    spent: Receiver<Batch>,
    recorder: Option<JoinHandle<Metrics>>,
}

impl MetricsThread {
    /// Starts recording into `metrics`; `names[i]` is the name of the peer with index `i`.
    pub fn spawn(mut metrics: Metrics, names: Arc<[String]>) -> std::io::Result<Self> {
        let (to_recorder, batches) = sync_channel::<Batch>(IN_FLIGHT);
        let (give_back, spent) = sync_channel::<Batch>(IN_FLIGHT + 1);
        let recorder = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for mut batch in batches {
                    for (at, peer, e) in batch.drain(..) {
                        metrics.record(at, &names[peer as usize], &e);
                    }
                    // The run may have stopped taking batches back; then this one is dropped.
                    let _ = give_back.try_send(batch);
                }
                metrics
            })?;
        Ok(Self {
            batch: Vec::with_capacity(BATCH),
            to_recorder: Some(to_recorder),
            spent,
            recorder: Some(recorder),
        })
    }

    /// Records `event`, reported at `at` by the peer with index `peer`.
    pub fn record(&mut self, at: SimTime, peer: u32, event: Event) {
        self.batch.push((at, peer, event));
        if self.batch.len() >= BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let next = match self.spent.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(BATCH),
        };
        let full = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.to_recorder
            && tx.send(full).is_err()
        {
            // The recorder is gone (it panicked): `finish` reports it.
            self.to_recorder = None;
        }
    }

    /// Records what is left and returns the metrics of the whole run.
    pub fn finish(mut self) -> anyhow::Result<Metrics> {
        if !self.batch.is_empty() {
            self.hand_over();
        }
        self.to_recorder = None;
        joined(self.recorder.take().expect("finished once"))
    }
}

/// The recorder thread's metrics, or why it has none.
fn joined(recorder: JoinHandle<Metrics>) -> anyhow::Result<Metrics> {
    recorder.join().map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        anyhow::anyhow!("the metrics recorder thread panicked: {why}")
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::metrics::TunnelInfo;
    use ike_model::events::{ExchangeKind, IkeVersion, Outcome, Purpose, SaChange, SaKind, SaRef};
    use sim_core::Duration;

    /// Events of many kinds over several batches, in an order whose rows would differ if a
    /// batch were recorded out of turn or an event twice.
    pub(crate) fn events() -> Vec<(SimTime, u32, Event)> {
        let mut v = Vec::new();
        for k in 0..(3 * BATCH as u64 + 17) {
            let at = SimTime::ZERO + Duration::from_millis(37 * k);
            let tunnel = (k % 5) as u32;
            let e = if k % 3 == 0 {
                Event::Sa {
                    tunnel,
                    kind: if k % 2 == 0 {
                        SaKind::Child
                    } else {
                        SaKind::Ike
                    },
                    spi: SaRef::Child(k as u32),
                    change: if k % 4 == 0 {
                        SaChange::Installed
                    } else {
                        SaChange::Deleted
                    },
                    reason: "test",
                }
            } else {
                Event::ExchangeFinished {
                    tunnel,
                    version: IkeVersion::V2,
                    kind: ExchangeKind::CreateChildSa,
                    purpose: Purpose::RekeyChild,
                    started: at,
                    ended: at + Duration::from_micros(k),
                    retransmissions: (k % 3) as u32,
                    outcome: if k % 7 == 0 {
                        Outcome::Timeout
                    } else {
                        Outcome::Success
                    },
                }
            };
            v.push((at, (k % 2) as u32, e));
        }
        v
    }

    pub(crate) fn tunnels() -> Vec<TunnelInfo> {
        (0..5)
            .map(|t| TunnelInfo {
                initiator: "branch".into(),
                responder: "hub".into(),
                start: SimTime::ZERO + Duration::from_secs(t),
            })
            .collect()
    }

    /// Recording on the thread gives the same rows and aggregates as recording in place.
    #[test]
    fn the_thread_records_what_recording_in_place_does() {
        let names: Arc<[String]> = vec!["branch".to_string(), "hub".to_string()].into();
        let mut here = Metrics::new(tunnels());
        let mut there = MetricsThread::spawn(Metrics::new(tunnels()), names.clone()).unwrap();
        for (at, peer, e) in events() {
            here.record(at, &names[peer as usize], &e);
            there.record(at, peer, e);
        }
        let mut there = there.finish().unwrap();
        assert_same_recording(&mut there, &mut here);
        let finished = events()
            .iter()
            .filter(|e| matches!(e.2, Event::ExchangeFinished { .. }))
            .count();
        assert!(finished > 2 * BATCH, "the events span several batches");
        assert_eq!(there.exchanges().len(), finished);
    }

    /// That `there` recorded what `here` did: the exchange and SA rows, the timeline and
    /// the rekey summary of the first hour.
    pub(crate) fn assert_same_recording(there: &mut Metrics, here: &mut Metrics) {
        assert_eq!(
            format!("{:?}", there.exchanges()),
            format!("{:?}", here.exchanges())
        );
        assert_eq!(
            format!("{:?}", there.sa_rows()),
            format!("{:?}", here.sa_rows())
        );
        let end = SimTime::ZERO + Duration::from_secs(3600);
        assert_eq!(there.timeline_csv(end), here.timeline_csv(end));
        assert_eq!(there.rekey_summary(end), here.rekey_summary(end));
    }
}
