//! The recorder of a run simulated in parts, one thread each (`runner::parallel`). Each part
//! hands over its events in the order it reports them ([`PartRecorder`]); the recorder
//! merges the parts' sequences by (time, peer index) and records an event only when every
//! part that has not finished has one in hand. So the order, and the outputs, depend only
//! on what each part reported, not on how the threads ran; and they are those of one
//! thread reporting in time order, except where two parts report at the very same instant.
//!
//! The recording is done by the parts themselves while they wait for each other
//! ([`MergedRecorder::record_some`]), and what is left at the end by
//! [`MergedRecorder::finish`]: a recorder thread of its own would take a core from a part
//! now and then, and the other part would wait for it.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};

use ike_model::events::Event;
use sim_core::SimTime;

use super::Metrics;
use super::on_thread::{BATCH, Batch, Record};

/// The merge of the parts' events into one [`Metrics`] (see the module doc).
pub struct MergedRecorder {
    merge: Mutex<Merge>,
}

struct Merge {
    metrics: Metrics,
    names: Arc<[String]>,
    /// Per part: its events handed over and not recorded yet, and its channel (`None` once
    /// the part has finished and everything it sent is in hand).
    parts: Vec<(VecDeque<Record>, Option<Receiver<Batch>>)>,
}

/// What one part of a parallel run reports its events to (see [`MergedRecorder`]).
pub struct PartRecorder {
    batch: Batch,
    to_recorder: Sender<Batch>,
}

impl MergedRecorder {
    /// A recorder into `metrics` of the events of `N` parts; `names[i]` is the name of the
    /// peer with index `i`. Part `k` reports to the `k`-th [`PartRecorder`].
    pub fn new<const N: usize>(
        metrics: Metrics,
        names: Arc<[String]>,
    ) -> (Self, [PartRecorder; N]) {
        // Unbounded: a part may run ahead of another by the run's lookahead only.
        let mut receivers = Vec::with_capacity(N);
        let recorders = std::array::from_fn(|_| {
            let (tx, rx) = channel();
            receivers.push(rx);
            PartRecorder {
                batch: Vec::with_capacity(BATCH),
                to_recorder: tx,
            }
        });
        let merge = Merge {
            metrics,
            names,
            parts: receivers
                .into_iter()
                .map(|rx| (VecDeque::new(), Some(rx)))
                .collect(),
        };
        (
            Self {
                merge: Mutex::new(merge),
            },
            recorders,
        )
    }

    /// Records up to `limit` events if they can be recorded now, unless another part is
    /// recording: what a part does while it waits.
    pub fn record_some(&self, limit: usize) {
        if let Ok(mut m) = self.merge.try_lock() {
            m.record(limit, false);
        }
    }

    /// Records everything the parts reported (each [`PartRecorder`] must be dropped) and
    /// returns the metrics of the whole run.
    pub fn finish(self) -> Metrics {
        let mut m = self
            .merge
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.record(usize::MAX, true);
        m.metrics
    }
}

impl Merge {
    /// Records up to `limit` events in merged order; waits for a part's next batch if
    /// `block`, else stops where it would have to.
    fn record(&mut self, limit: usize, block: bool) {
        for _ in 0..limit {
            for (queue, rx) in &mut self.parts {
                while queue.is_empty()
                    && let Some(r) = rx
                {
                    let got = if block {
                        r.recv().map_err(|_| TryRecvError::Disconnected)
                    } else {
                        r.try_recv()
                    };
                    match got {
                        Ok(batch) => queue.extend(batch),
                        Err(TryRecvError::Empty) => return,
                        Err(TryRecvError::Disconnected) => *rx = None,
                    }
                }
            }
            let first = self
                .parts
                .iter()
                .enumerate()
                .filter_map(|(k, (q, _))| Some((k, q.front()?)))
                .min_by_key(|(k, (at, peer, _))| (*at, *peer, *k))
                .map(|(k, _)| k);
            let Some(k) = first else { return };
            let (at, peer, e) = self.parts[k].0.pop_front().expect("in hand");
            self.metrics.record(at, &self.names[peer as usize], &e);
        }
    }
}

impl PartRecorder {
    /// Records `event`, reported at `at` by the peer with index `peer`.
    pub fn record(&mut self, at: SimTime, peer: u32, event: Event) {
        self.batch.push((at, peer, event));
        if self.batch.len() >= BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        // The recorder outlives the parts (it is finished after they are joined).
        let _ = self.to_recorder.send(full);
    }
}

impl Drop for PartRecorder {
    /// Hands over what is left: the part reports nothing more.
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            self.hand_over();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::on_thread::tests::{assert_same_recording, events, tunnels};

    /// Two parts, each reporting its peer's events in time order and recording some of
    /// them at its own pace, are recorded as one thread reporting all of them in time order
    /// would be.
    #[test]
    fn a_merged_recording_is_the_time_ordered_recording() {
        let names: Arc<[String]> = vec!["branch".to_string(), "hub".to_string()].into();
        let mut here = Metrics::new(tunnels());
        for (at, peer, e) in events() {
            here.record(at, &names[peer as usize], &e);
        }
        let (merged, parts) = MergedRecorder::new::<2>(Metrics::new(tunnels()), names);
        std::thread::scope(|scope| {
            for (k, mut part) in parts.into_iter().enumerate() {
                let merged = &merged;
                scope.spawn(move || {
                    for (at, peer, e) in events().into_iter().filter(|e| e.1 as usize == k) {
                        part.record(at, peer, e);
                        merged.record_some(1 + k);
                    }
                });
            }
        });
        let mut there = merged.finish();
        assert_same_recording(&mut there, &mut here);
    }
}
