//! Timers with an owner each: a 4-ary min-heap of `(time, seq, owner)` that knows where
//! every owner's entry is, so moving an owner's timer is done in place.
//!
//! A runner keeps one wake-up per endpoint. As plain events, every re-arm left the old
//! wake-up in the queue until it surfaced and was recognised as stale: in a 10^5-tunnel
//! day a quarter of all events were such corpses, each one a heap pop and a cache miss on
//! a cold endpoint. Here an owner has at most one entry, re-arming sifts it from where it
//! is, and disarming removes it. An endpoint files its SAs' wake-ups in one too (owner: the
//! SA's place in its SAD; tie-breaker: the SA's id).

use crate::time::SimTime;

/// One armed timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerEntry {
    /// When it fires.
    pub time: SimTime,
    /// The scheduler's sequence number when it was armed (ties with events and timers).
    pub seq: u64,
    /// Whose timer it is.
    pub owner: u32,
}

impl TimerEntry {
    #[inline]
    fn key(&self) -> u128 {
        crate::quad_heap::order_key(self.time, self.seq)
    }
}

const ARITY: usize = 4;
const ABSENT: u32 = u32::MAX;

/// Timers keyed by (time, seq), at most one per owner; owners are small integers (the
/// position array has one slot per owner up to the largest).
#[derive(Debug, Default)]
pub struct TimerHeap {
    v: Vec<TimerEntry>,
    /// Index in `v` of each owner's entry; `ABSENT` when it has none.
    pos: Vec<u32>,
}

impl TimerHeap {
    /// The earliest timer, if any.
    #[inline]
    pub fn peek(&self) -> Option<&TimerEntry> {
        self.v.first()
    }

    /// When `owner`'s timer fires, if it is armed.
    pub fn get(&self, owner: u32) -> Option<SimTime> {
        match self.pos.get(owner as usize) {
            Some(&p) if p != ABSENT => Some(self.v[p as usize].time),
            _ => None,
        }
    }

    /// Arms `owner`'s timer at `time` with tie-breaker `seq`, moving it if it was armed.
    pub fn set(&mut self, owner: u32, time: SimTime, seq: u64) {
        let o = owner as usize;
        if o >= self.pos.len() {
            self.pos.resize(o + 1, ABSENT);
        }
        let e = TimerEntry { time, seq, owner };
        match self.pos[o] {
            ABSENT => {
                let at = self.v.len();
                self.v.push(e);
                self.sift_up(at, e);
            }
            p => {
                let p = p as usize;
                if e.key() < self.v[p].key() {
                    self.sift_up(p, e);
                } else {
                    self.sift_down(p, e);
                }
            }
        }
    }

    /// Disarms `owner`'s timer; whether it was armed.
    pub fn remove(&mut self, owner: u32) -> bool {
        let Some(&p) = self.pos.get(owner as usize) else {
            return false;
        };
        if p == ABSENT {
            return false;
        }
        self.pos[owner as usize] = ABSENT;
        self.take_at(p as usize);
        true
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Appends to `out` the `seq` of every timer due at or before `now`, in no particular
    /// order (a walk of the heap that skips every subtree whose root is later).
    pub fn due_by(&self, now: SimTime, out: &mut impl Extend<u64>) {
        // Usually one or two are due: no allocation for the walk.
        let mut stack: smallvec::SmallVec<[usize; 16]> = smallvec::SmallVec::new();
        if self.v.first().is_some_and(|e| e.time <= now) {
            stack.push(0);
        }
        while let Some(at) = stack.pop() {
            out.extend([self.v[at].seq]);
            let first = ARITY * at + 1;
            for c in first..(first + ARITY).min(self.v.len()) {
                if self.v[c].time <= now {
                    stack.push(c);
                }
            }
        }
    }

    /// Renames every owner `o` to `rename(o)` (an SAD compacted: the SAs moved), which
    /// must be one-to-one on the armed owners. Keys, and so the order, stay.
    pub fn rename_owners(&mut self, rename: impl Fn(u32) -> u32) {
        self.pos.iter_mut().for_each(|p| *p = ABSENT);
        for (at, e) in self.v.iter_mut().enumerate() {
            e.owner = rename(e.owner);
            let o = e.owner as usize;
            if o >= self.pos.len() {
                self.pos.resize(o + 1, ABSENT);
            }
            self.pos[o] = at as u32;
        }
    }

    /// Removes and returns the earliest timer.
    pub fn pop(&mut self) -> Option<TimerEntry> {
        let top = *self.v.first()?;
        self.pos[top.owner as usize] = ABSENT;
        self.take_at(0);
        Some(top)
    }

    /// Fills the hole at `p` (whose owner is already marked absent) with the last entry.
    fn take_at(&mut self, p: usize) {
        let last = self.v.pop().expect("the entry at p exists");
        if p < self.v.len() {
            if last.key() < self.v[p].key() {
                self.sift_up(p, last);
            } else {
                self.sift_down(p, last);
            }
        }
    }

    /// Puts `e` at `hole` or above it, moving larger parents down.
    fn sift_up(&mut self, mut hole: usize, e: TimerEntry) {
        let key = e.key();
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.v[parent].key() <= key {
                break;
            }
            self.place(hole, self.v[parent]);
            hole = parent;
        }
        self.place(hole, e);
    }

    /// Puts `e` at `hole` or below it, moving smaller children up.
    fn sift_down(&mut self, mut hole: usize, e: TimerEntry) {
        let key = e.key();
        let n = self.v.len();
        loop {
            let first = ARITY * hole + 1;
            if first >= n {
                break;
            }
            let min = (first + 1..(first + ARITY).min(n)).fold(first, |m, c| {
                if self.v[c].key() < self.v[m].key() {
                    c
                } else {
                    m
                }
            });
            if self.v[min].key() >= key {
                break;
            }
            self.place(hole, self.v[min]);
            hole = min;
        }
        self.place(hole, e);
    }

    #[inline]
    fn place(&mut self, at: usize, e: TimerEntry) {
        self.v[at] = e;
        self.pos[e.owner as usize] = at as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug)]
    enum Op {
        Set(u32, u64),
        Remove(u32),
        Pop,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u32..40, 0u64..50).prop_map(|(o, t)| Op::Set(o, t)),
            1 => (0u32..40).prop_map(Op::Remove),
            2 => Just(Op::Pop),
        ]
    }

    proptest! {
        /// Any sequence of arms, moves, disarms and pops gives what a plain ordered map of
        /// owner -> (time, seq) gives.
        #[test]
        fn behaves_like_an_ordered_map(ops in proptest::collection::vec(op(), 0..400)) {
            let mut h = TimerHeap::default();
            let mut model: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
            for (seq, op) in ops.into_iter().enumerate() {
                let seq = seq as u64;
                match op {
                    Op::Set(o, t) => {
                        h.set(o, SimTime(t), seq);
                        model.insert(o, (t, seq));
                    }
                    Op::Remove(o) => {
                        prop_assert_eq!(h.remove(o), model.remove(&o).is_some());
                    }
                    Op::Pop => {
                        let want = model
                            .iter()
                            .min_by_key(|(_, k)| **k)
                            .map(|(o, (t, s))| (*o, *t, *s));
                        if let Some((o, _, _)) = want {
                            model.remove(&o);
                        }
                        let got = h.pop().map(|e| (e.owner, e.time.0, e.seq));
                        prop_assert_eq!(got, want);
                    }
                }
                for (o, (t, _)) in &model {
                    prop_assert_eq!(h.get(*o), Some(SimTime(*t)));
                }
                prop_assert_eq!(h.v.len(), model.len());
                let mut due = Vec::new();
                h.due_by(SimTime(25), &mut due);
                due.sort_unstable();
                let mut want: Vec<u64> =
                    model.values().filter(|(t, _)| *t <= 25).map(|(_, s)| *s).collect();
                want.sort_unstable();
                prop_assert_eq!(due, want);
            }
            // Renaming owners (reversed) keeps every timer under its new owner.
            h.rename_owners(|o| 100 - o);
            for (o, (t, _)) in &model {
                prop_assert_eq!(h.get(100 - *o), Some(SimTime(*t)));
            }
            let order: Vec<u64> = std::iter::from_fn(|| h.pop().map(|e| e.seq)).collect();
            let mut want: Vec<(u64, u64)> = model.values().copied().collect();
            want.sort_unstable();
            prop_assert_eq!(order, want.into_iter().map(|(_, s)| s).collect::<Vec<_>>());
        }
    }
}
