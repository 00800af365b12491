//! The queues a sans-IO endpoint (IKEv1 and IKEv2) fills for its caller: datagrams to send
//! and events to record, drained after every call.

use std::collections::VecDeque;

/// An endpoint with at least this many SAs keeps its queues' buffers when drained: it is
/// called for nearly every event of a run (a concentrator), so a released buffer would be
/// allocated again at once.
const KEEP_BUFFERS_FROM_SAS: usize = 64;

/// The next item of `q` of an endpoint holding `sas` SAs; once `q` is drained its buffer is
/// released unless the endpoint is a concentrator, so an idle endpoint holds none (each of
/// the 10^5 idle branches of the scale bench kept two: 76 MB of its peak).
pub(crate) fn pop_or_release<T>(q: &mut VecDeque<T>, sas: usize) -> Option<T> {
    let x = q.pop_front();
    if x.is_none() && sas < KEEP_BUFFERS_FROM_SAS && q.capacity() > 0 {
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
        assert_eq!(pop_or_release(&mut q, 0), Some(1));
        assert!(q.capacity() > 0, "not drained yet");
        assert_eq!(pop_or_release(&mut q, 0), Some(2));
        assert_eq!(pop_or_release(&mut q, 0), Some(3));
        assert_eq!(pop_or_release(&mut q, 0), None);
        assert_eq!(q.capacity(), 0);
        assert_eq!(pop_or_release(&mut q, 0), None);
    }

    #[test]
    fn a_kept_queue_keeps_its_buffer_when_drained() {
        let mut q: VecDeque<u32> = (1..=3).collect();
        let cap = q.capacity();
        while pop_or_release(&mut q, KEEP_BUFFERS_FROM_SAS).is_some() {}
        assert_eq!(q.capacity(), cap);
    }
}
