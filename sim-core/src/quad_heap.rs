//! A 4-ary min-heap of `(time, seq)` keys: the event queue's ordering structure.
//!
//! A binary heap of 10^5 pending events (a 10^5-tunnel run) is 17 levels deep, and below
//! the few levels that stay in cache every level of a pop is a cache miss. With four
//! children per node the heap is half as deep and the four children of a node sit in two
//! or three adjacent cache lines, so a pop costs about half the misses for two more
//! comparisons per level (PHOLD, 2026-11-30, third session: medians 1.18 times a bare binary
//! heap's rate with 1,000 pending events, 1.21 with 160,000). Keys are unique (the sequence number breaks
//! ties), so the pop order is the same total order a binary heap gives: the choice cannot
//! change a run's results.

use crate::time::SimTime;

/// What the heap holds: ordering keys first, then the slab slot of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// When the event runs.
    pub time: SimTime,
    /// Insertion order, unique: breaks ties between equal times.
    pub seq: u64,
    /// Where the payload is.
    pub slot: u32,
}

impl Entry {
    #[inline]
    fn key(&self) -> u128 {
        order_key(self.time, self.seq)
    }
}

/// One integer whose order is (time, seq) order: a single comparison per child (both
/// heaps, this one and the timers').
#[inline]
pub(crate) fn order_key(time: SimTime, seq: u64) -> u128 {
    (u128::from(time.0) << 64) | u128::from(seq)
}

const ARITY: usize = 4;

/// The heap; the smallest key is at index 0.
#[derive(Debug, Default)]
pub(crate) struct QuadHeap {
    v: Vec<Entry>,
}

impl QuadHeap {
    /// An empty heap with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        QuadHeap {
            v: Vec::with_capacity(n),
        }
    }

    /// The smallest entry, if any.
    #[inline]
    pub fn peek(&self) -> Option<&Entry> {
        self.v.first()
    }

    /// Adds `e`, moving it up past every larger parent.
    #[inline]
    pub fn push(&mut self, e: Entry) {
        let hole = self.v.len();
        self.v.push(e);
        self.sift_up(hole, e);
    }

    /// Puts `e` into the hole at `hole` or, while a parent is larger, moves the parent down
    /// into the hole and goes up.
    #[inline]
    fn sift_up(&mut self, mut hole: usize, e: Entry) {
        let key = e.key();
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.v[parent].key() <= key {
                break;
            }
            self.v[hole] = self.v[parent];
            hole = parent;
        }
        self.v[hole] = e;
    }

    /// Removes and returns the smallest entry.
    ///
    /// Floyd's order, as std's binary heap does it: the hole left at the root moves down
    /// along the smallest children to the bottom, without comparing against the entry that
    /// will fill it, and that entry (the last one, which belongs near the bottom anyway)
    /// then moves up from there. The smallest of four children is found as a tournament
    /// of independent comparisons the compiler turns into conditional moves.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry> {
        let last = self.v.pop()?;
        let Some(&top) = self.v.first() else {
            return Some(last);
        };
        let n = self.v.len();
        let mut hole = 0;
        loop {
            let first = ARITY * hole + 1;
            let min = if first + ARITY <= n {
                let k = |c: usize| self.v[c].key();
                let (a, ka) = min_of((first, k(first)), (first + 1, k(first + 1)));
                let (b, kb) = min_of((first + 2, k(first + 2)), (first + 3, k(first + 3)));
                min_of((a, ka), (b, kb)).0
            } else if first < n {
                (first + 1..n).fold(first, |m, c| {
                    if self.v[c].key() < self.v[m].key() {
                        c
                    } else {
                        m
                    }
                })
            } else {
                break;
            };
            self.v[hole] = self.v[min];
            hole = min;
        }
        self.sift_up(hole, last);
        Some(top)
    }
}

/// The (index, key) with the smaller key; the first on a tie (keys are unique anyway).
#[inline]
fn min_of(x: (usize, u128), y: (usize, u128)) -> (usize, u128) {
    if y.1 < x.1 { y } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    fn entry(time: u64, seq: u64) -> Entry {
        Entry {
            time: SimTime(time),
            seq,
            slot: seq as u32,
        }
    }

    proptest! {
        /// Any interleaving of pushes and pops gives the pops std's binary heap gives.
        #[test]
        fn pops_in_the_order_of_a_binary_heap(ops in prop::collection::vec((any::<bool>(), 0u64..50), 0..400)) {
            let mut ours = QuadHeap::default();
            let mut reference = BinaryHeap::new();
            for (seq, (push, time)) in ops.into_iter().enumerate() {
                let seq = seq as u64;
                if push {
                    ours.push(entry(time, seq));
                    reference.push(Reverse((time, seq)));
                } else {
                    let got = ours.pop().map(|e| (e.time.0, e.seq));
                    prop_assert_eq!(got, reference.pop().map(|r| r.0));
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
    fn equal_times_leave_in_sequence_order() {
        let mut h = QuadHeap::with_capacity(8);
        for seq in (0..20).rev() {
            h.push(entry(7, seq));
        }
        let order: Vec<u64> = std::iter::from_fn(|| h.pop().map(|e| e.seq)).collect();
        assert_eq!(order, (0..20).collect::<Vec<_>>());
    }
}
