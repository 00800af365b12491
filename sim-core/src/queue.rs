//! The event queue: a 4-ary heap (module `quad_heap`) ordered by (time, insertion
//! sequence).
//!
//! Events at the same instant come out in the order they were scheduled, so a run is a pure
//! function of its inputs (ns-3's `Scheduler` rule). Payloads live in a slab beside the heap
//! so that cancellation is O(1) and lazy: a cancelled slot is emptied and its heap entry is
//! skipped when it reaches the top, without scanning the heap.
//!
//! Beside the events, each owner (a runner's peer) may have one timer ([`Scheduler::set_timer`],
//! kept in [`crate::timer_heap`]), moved in place when it changes; [`Scheduler::pop_due`]
//! hands out events and timers in time order, and at one instant the timers (in owner order)
//! before the events (in the order scheduled).

use crate::quad_heap::{Entry, QuadHeap};
use crate::time::{Duration, SimTime};
use crate::timer_heap::TimerHeap;

/// What [`Scheduler::pop_due`] hands out: an event, or the timer of an owner.
#[derive(Debug, PartialEq, Eq)]
pub enum Due<E> {
    /// A scheduled event.
    Event(E),
    /// The timer of this owner fired (it is disarmed now).
    Timer(u32),
}

/// Names a scheduled event so that it can be cancelled. Stale ids (the event already ran or
/// was cancelled) are harmless: cancelling them does nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId {
    slot: u32,
    generation: u32,
}

struct Slot<E> {
    generation: u32,
    payload: Option<E>,
}

/// The scheduler of one run: the virtual clock plus the pending events of type `E`.
///
/// `E` is the runner's own event enum; sim-core's components (the network) produce events
/// that convert into it.
pub struct Scheduler<E> {
    now: SimTime,
    heap: QuadHeap,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    timers: TimerHeap,
    next_seq: u64,
    pending: usize,
    processed: u64,
}

impl<E> Default for Scheduler<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Scheduler<E> {
    /// An empty queue with the clock at zero.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` pending events before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        Scheduler {
            now: SimTime::ZERO,
            heap: QuadHeap::with_capacity(n),
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            timers: TimerHeap::default(),
            next_seq: 0,
            pending: 0,
            processed: 0,
        }
    }

    /// The current virtual time: the time of the event being handled.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events still to run (cancelled ones excluded).
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Moves the clock to `at` (never back) and counts one event taken: for a runner that
    /// takes some of its events from a queue of its own (a parallel runner's datagrams from
    /// another thread), so that timers armed next are not put in the past.
    pub fn take_outside(&mut self, at: SimTime) {
        debug_assert!(at >= self.now, "an event from outside in the past");
        self.now = self.now.max(at);
        self.processed += 1;
    }

    /// Events handed out by [`Scheduler::pop`] so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Schedules `event` at absolute time `at`. Times in the past run "now" (at the current
    /// instant, after everything already scheduled for it), never before the clock.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        let time = at.max(self.now);
        let slot = match self.free.pop() {
            Some(s) => {
                let entry = &mut self.slots[s as usize];
                entry.payload = Some(event);
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).expect("more than 2^32 pending events");
                self.slots.push(Slot {
                    generation: 0,
                    payload: Some(event),
                });
                s
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, slot });
        self.pending += 1;
        EventId {
            slot,
            generation: self.slots[slot as usize].generation,
        }
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay: Duration, event: E) -> EventId {
        self.schedule_at(self.now.saturating_add(delay), event)
    }

    /// Cancels a pending event and returns its payload; `None` if it already ran or was
    /// cancelled. The heap entry stays until it surfaces and is then skipped.
    pub fn cancel(&mut self, id: EventId) -> Option<E> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let payload = slot.payload.take()?;
        self.pending -= 1;
        Some(payload)
    }

    /// Arms the timer of `owner` at `at` (a time in the past means now), moving it if it
    /// was armed; `None` disarms it. An owner (an endpoint, say) has at most one timer, so
    /// re-arming leaves nothing stale behind. At one instant the timers fire before the
    /// events due then, in owner order: where a timer stands does not depend on when it was
    /// armed, so how often a runner re-arms it (say, to wake an endpoint for bookkeeping
    /// nobody sees) cannot change the order in which anything happens.
    pub fn set_timer(&mut self, owner: u32, at: Option<SimTime>) {
        match at {
            None => {
                self.timers.remove(owner);
            }
            Some(at) => {
                let time = at.max(self.now);
                if self.timers.get(owner) != Some(time) {
                    self.timers.set(owner, time, u64::from(owner));
                }
            }
        }
    }

    /// When the timer of `owner` fires, if it is armed.
    pub fn timer(&self, owner: u32) -> Option<SimTime> {
        self.timers.get(owner)
    }

    /// The time of the next live event or timer, if any (skips cancelled entries).
    pub fn peek_time(&mut self) -> Option<SimTime> {
        let event = self.peek_event().map(|e| e.time);
        let timer = self.timers.peek().map(|t| t.time);
        match (event, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next live event's heap entry (cancelled ones are dropped on the way).
    #[inline]
    fn peek_event(&mut self) -> Option<Entry> {
        while let Some(&top) = self.heap.peek() {
            if self.slots[top.slot as usize].payload.is_some() {
                return Some(top);
            }
            let e = self.heap.pop().expect("peeked");
            self.release(e.slot);
        }
        None
    }

    /// What [`Scheduler::pop_due`] will most likely return next, left in place: a hint for
    /// prefetching (a cancelled event at the top hides the one after it).
    #[inline]
    pub fn peek_next(&self) -> Option<Due<&E>> {
        let event = self.heap.peek();
        match self.timers.peek() {
            Some(t) if timer_first(event, t) => Some(Due::Timer(t.owner)),
            _ => event.and_then(|e| self.slots[e.slot as usize].payload.as_ref().map(Due::Event)),
        }
    }

    /// Removes whatever is due first, event or timer, advances the clock to its time and
    /// returns it. At one instant the timers (in owner order) go before the events (in the
    /// order scheduled).
    #[inline]
    pub fn pop_due(&mut self) -> Option<(SimTime, Due<E>)> {
        let event = self.peek_event();
        if self
            .timers
            .peek()
            .is_some_and(|t| timer_first(event.as_ref(), t))
        {
            let t = self.timers.pop().expect("peeked");
            self.now = t.time;
            self.processed += 1;
            return Some((t.time, Due::Timer(t.owner)));
        }
        self.pop().map(|(t, e)| (t, Due::Event(e)))
    }

    /// Removes the next event, advances the clock to its time and returns it. Timers are
    /// left alone: a user of timers takes both with [`Scheduler::pop_due`].
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        while let Some(e) = self.heap.pop() {
            let payload = self.slots[e.slot as usize].payload.take();
            self.release(e.slot);
            if let Some(p) = payload {
                self.now = e.time;
                self.pending -= 1;
                self.processed += 1;
                return Some((e.time, p));
            }
        }
        None
    }

    /// Returns a slot to the free list; bumping the generation makes old ids stale.
    #[inline]
    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
    }
}

/// Whether timer `t` goes before `event` (the next event, if any): at one instant, timers
/// first.
#[inline]
fn timer_first(event: Option<&Entry>, t: &crate::timer_heap::TimerEntry) -> bool {
    event.is_none_or(|e| t.time <= e.time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_time_events_run_in_scheduling_order() {
        let mut q = Scheduler::new();
        let t = SimTime(1_000);
        for i in 0..100u32 {
            q.schedule_at(t, i);
        }
        q.schedule_at(SimTime(500), 999);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        let mut expected = vec![999];
        expected.extend(0..100);
        assert_eq!(order, expected);
    }

    #[test]
    fn events_come_out_in_time_order_and_advance_the_clock() {
        let mut q = Scheduler::new();
        for t in [50u64, 10, 40, 20, 30] {
            q.schedule_at(SimTime(t), t);
        }
        let mut last = SimTime::ZERO;
        while let Some((t, e)) = q.pop() {
            assert_eq!(t, SimTime(e));
            assert!(t >= last);
            assert_eq!(q.now(), t);
            last = t;
        }
        assert_eq!(q.processed(), 5);
    }

    #[test]
    fn cancel_removes_only_the_named_event() {
        let mut q = Scheduler::new();
        let a = q.schedule_at(SimTime(10), "a");
        let b = q.schedule_at(SimTime(20), "b");
        let c = q.schedule_at(SimTime(30), "c");
        assert_eq!(q.cancel(b), Some("b"));
        assert_eq!(q.cancel(b), None, "second cancel is a no-op");
        assert_eq!(q.pending(), 2);
        assert_eq!(q.pop(), Some((SimTime(10), "a")));
        assert_eq!(q.cancel(a), None, "cancelling a fired event is a no-op");
        assert_eq!(q.pop(), Some((SimTime(30), "c")));
        assert_eq!(q.pop(), None);
        let _ = c;
    }

    #[test]
    fn stale_id_does_not_cancel_a_reused_slot() {
        let mut q = Scheduler::new();
        let a = q.schedule_at(SimTime(10), 1);
        assert_eq!(q.pop(), Some((SimTime(10), 1)));
        let b = q.schedule_at(SimTime(20), 2);
        assert_eq!(a.slot, b.slot, "slot is reused");
        assert_eq!(q.cancel(a), None);
        assert_eq!(q.pop(), Some((SimTime(20), 2)));
    }

    #[test]
    fn past_times_run_now_after_already_scheduled_events() {
        let mut q = Scheduler::new();
        q.schedule_at(SimTime(100), 1);
        q.pop();
        q.schedule_at(SimTime(100), 2);
        q.schedule_at(SimTime(5), 3);
        assert_eq!(q.pop(), Some((SimTime(100), 2)));
        assert_eq!(q.pop(), Some((SimTime(100), 3)));
    }

    #[test]
    fn timers_fire_before_the_events_of_their_instant_in_owner_order_and_move_in_place() {
        let mut q: Scheduler<&str> = Scheduler::new();
        q.schedule_at(SimTime(10), "a");
        q.set_timer(7, Some(SimTime(10)));
        q.schedule_at(SimTime(10), "b");
        q.set_timer(3, Some(SimTime(5)));
        q.set_timer(3, Some(SimTime(30)));
        q.set_timer(9, Some(SimTime(20)));
        q.set_timer(9, None);
        assert_eq!(q.timer(3), Some(SimTime(30)));
        assert_eq!(q.timer(9), None);
        assert_eq!(q.peek_time(), Some(SimTime(10)));
        let order: Vec<(u64, Due<&str>)> =
            std::iter::from_fn(|| q.pop_due().map(|(t, d)| (t.0, d))).collect();
        assert_eq!(
            order,
            vec![
                (10, Due::Timer(7)),
                (10, Due::Event("a")),
                (10, Due::Event("b")),
                (30, Due::Timer(3)),
            ]
        );
        assert_eq!(q.processed(), 4, "moved and disarmed timers never surface");
        assert_eq!(q.timer(7), None, "a fired timer is disarmed");
    }

    #[test]
    fn peek_next_names_what_pop_due_returns_next() {
        let mut q: Scheduler<&str> = Scheduler::new();
        q.schedule_at(SimTime(10), "a");
        q.set_timer(7, Some(SimTime(10)));
        q.schedule_at(SimTime(4), "b");
        q.set_timer(3, Some(SimTime(20)));
        q.schedule_at(SimTime(20), "c");
        let mut seen = 0;
        loop {
            let hint = q.peek_next().map(|d| match d {
                Due::Timer(o) => Due::Timer(o),
                Due::Event(e) => Due::Event(*e),
            });
            let next = q.pop_due().map(|(_, d)| d);
            assert_eq!(hint, next, "step {seen}");
            if next.is_none() {
                break;
            }
            seen += 1;
        }
        assert_eq!(seen, 5);
    }

    #[test]
    fn the_order_at_one_instant_does_not_depend_on_when_timers_were_armed() {
        // The same timers and events, the timers armed early, late, and re-armed on the way.
        let order = |arm_late: bool| {
            let mut q: Scheduler<&str> = Scheduler::new();
            if !arm_late {
                q.set_timer(4, Some(SimTime(10)));
                q.set_timer(2, Some(SimTime(3)));
            }
            q.schedule_at(SimTime(10), "e");
            q.schedule_at(SimTime(10), "f");
            if arm_late {
                q.set_timer(2, Some(SimTime(10)));
                q.set_timer(4, Some(SimTime(7)));
                q.set_timer(4, Some(SimTime(10)));
            } else {
                q.set_timer(2, Some(SimTime(10)));
            }
            std::iter::from_fn(|| q.pop_due()).collect::<Vec<_>>()
        };
        let expected = vec![
            (SimTime(10), Due::Timer(2)),
            (SimTime(10), Due::Timer(4)),
            (SimTime(10), Due::Event("e")),
            (SimTime(10), Due::Event("f")),
        ];
        assert_eq!(order(false), expected);
        assert_eq!(order(true), expected);
    }

    #[test]
    fn peek_skips_cancelled_events() {
        let mut q = Scheduler::new();
        let a = q.schedule_at(SimTime(1), ());
        q.schedule_at(SimTime(2), ());
        q.cancel(a);
        assert_eq!(q.peek_time(), Some(SimTime(2)));
    }
}
