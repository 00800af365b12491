//! The queues a sans-IO endpoint (IKEv1 and IKEv2) fills for its caller: datagrams to send
//! and events to record, drained after every call.

use std::collections::VecDeque;

/// An endpoint with at least this many SAs keeps its queues' buffers when drained: it is
/// called for nearly every event of a run (a concentrator), so a released buffer would be
/// allocated again at once.
pub(crate) const KEEP_BUFFERS_FROM_SAS: usize = 64;

/// The next item of `q`; once `q` is drained its buffer is released unless `keep`, so an
/// idle endpoint holds none (each of the 10^5 idle branches of the scale bench kept two:
/// 76 MB of its peak).
pub(crate) fn pop_or_release<T>(q: &mut VecDeque<T>, keep: bool) -> Option<T> {
    let x = q.pop_front();
    if x.is_none() && !keep && q.capacity() > 0 {
        *q = VecDeque::new();
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_in_order_and_a_drained_queue_keeps_no_buffer() {
        let mut q: VecDeque<u32> = (1..=3).collect();
        assert_eq!(pop_or_release(&mut q, false), Some(1));
        assert!(q.capacity() > 0, "not drained yet");
        assert_eq!(pop_or_release(&mut q, false), Some(2));
        assert_eq!(pop_or_release(&mut q, false), Some(3));
        assert_eq!(pop_or_release(&mut q, false), None);
        assert_eq!(q.capacity(), 0);
        assert_eq!(pop_or_release(&mut q, false), None);
    }

    #[test]
    fn a_kept_queue_keeps_its_buffer_when_drained() {
        let mut q: VecDeque<u32> = (1..=3).collect();
        let cap = q.capacity();
        while pop_or_release(&mut q, true).is_some() {}
        assert_eq!(q.capacity(), cap);
    }
}
