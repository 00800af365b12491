//! The event queue's ordering structure: a small heap of the near future and buckets of
//! the far future.
//!
//! In a 10^5-tunnel run almost every pending event is a timer minutes or hours away (each
//! branch's next rekey), while the events actually handled are packets a few milliseconds
//! out. One heap of all of them is 17 levels deep and every pop walks to its bottom through
//! lines the rest of the run has pushed out of the cache. Here only events in the current
//! bucket (2^30 ns, about a second) or earlier are in the heap; later ones wait in a bucket
//! per second, unsorted, and a bucket is poured into the heap when the heap runs dry. The
//! heap then holds about one second of events. Every event of a bucket is later than every
//! event in the heap, and the heap orders by (time, seq), so the pop order is the same
//! total order one heap gives: the structure cannot change a run's results (a property
//! test checks it against std's binary heap).

use std::collections::BTreeMap;

use crate::quad_heap::{Entry, QuadHeap};
use crate::time::SimTime;

/// log2 of the bucket width in nanoseconds (2^30 ns = 1.07 s).
const BUCKET_SHIFT: u32 = 30;

/// Emptied bucket vectors kept for reuse, at most this many.
const SPARE_BUCKETS: usize = 64;

fn bucket(t: SimTime) -> u64 {
    t.0 >> BUCKET_SHIFT
}

/// Near heap plus far buckets. Invariant: `near` holds every entry whose bucket is at most
/// `horizon`; `far` holds only entries of later buckets.
#[derive(Debug, Default)]
pub(crate) struct TieredQueue {
    near: QuadHeap,
    far: BTreeMap<u64, Vec<Entry>>,
    horizon: u64,
    spare: Vec<Vec<Entry>>,
}

impl TieredQueue {
    /// An empty queue whose heap has room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        TieredQueue {
            near: QuadHeap::with_capacity(n),
            ..Default::default()
        }
    }

    /// Adds `e`.
    #[inline]
    pub fn push(&mut self, e: Entry) {
        let b = bucket(e.time);
        if b <= self.horizon {
            self.near.push(e);
        } else {
            let spare = &mut self.spare;
            self.far
                .entry(b)
                .or_insert_with(|| spare.pop().unwrap_or_default())
                .push(e);
        }
    }

    /// The smallest entry, if any.
    #[inline]
    pub fn peek(&mut self) -> Option<&Entry> {
        self.refill();
        self.near.peek()
    }

    /// Removes and returns the smallest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry> {
        self.refill();
        self.near.pop()
    }

    /// When the heap is empty, pours the earliest bucket into it and moves the horizon
    /// there.
    #[inline]
    fn refill(&mut self) {
        if self.near.peek().is_some() {
            return;
        }
        let Some((b, mut v)) = self.far.pop_first() else {
            return;
        };
        self.horizon = b;
        for e in v.drain(..) {
            self.near.push(e);
        }
        if self.spare.len() < SPARE_BUCKETS {
            self.spare.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    proptest! {
        /// Pushes at any time not before the last pop (as the scheduler does: it never
        /// schedules into the past), near and far, interleaved with pops: the same pops as
        /// std's binary heap.
        #[test]
        fn pops_in_the_order_of_a_binary_heap(
            ops in prop::collection::vec((any::<bool>(), 0u64..8, 0u64..(1u64 << 33)), 0..400)
        ) {
            let mut ours = TieredQueue::default();
            let mut reference = BinaryHeap::new();
            let mut now = 0u64;
            for (seq, (push, scale, offset)) in ops.into_iter().enumerate() {
                let seq = seq as u64;
                if push {
                    // Offsets from nanoseconds to hours, often equal times.
                    let time = now + (offset >> (4 * scale));
                    ours.push(Entry { time: SimTime(time), seq, slot: 0 });
                    reference.push(Reverse((time, seq)));
                } else {
                    let got = ours.pop().map(|e| (e.time.0, e.seq));
                    let want = reference.pop().map(|r| r.0);
                    prop_assert_eq!(got, want);
                    if let Some((t, _)) = want {
                        now = t;
                    }
                }
                prop_assert_eq!(ours.peek().map(|e| (e.time.0, e.seq)), reference.peek().map(|r| r.0));
            }
            while let Some(r) = reference.pop() {
                prop_assert_eq!(ours.pop().map(|e| (e.time.0, e.seq)), Some(r.0));
            }
            prop_assert_eq!(ours.pop(), None);
        }
    }

    #[test]
    fn far_events_wait_outside_the_heap_until_their_second() {
        let mut q = TieredQueue::default();
        let second = 1u64 << BUCKET_SHIFT;
        for (seq, t) in [5 * second + 1, 3, 5 * second, 2 * second]
            .into_iter()
            .enumerate()
        {
            q.push(Entry {
                time: SimTime(t),
                seq: seq as u64,
                slot: 0,
            });
        }
        assert_eq!(q.far.len(), 2, "two later buckets");
        let order: Vec<u64> = std::iter::from_fn(|| q.pop().map(|e| e.time.0)).collect();
        assert_eq!(order, vec![3, 2 * second, 5 * second, 5 * second + 1]);
        assert!(q.far.is_empty());
    }
}
