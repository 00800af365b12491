//! The scheduler against a reference model: a plain list sorted on every pop. Any sequence
//! of schedules, cancels and pops must give the same events at the same times.

use proptest::prelude::*;
use sim_core::{EventId, Scheduler, SimTime};

#[derive(Debug, Clone)]
enum Op {
    Schedule(u64),
    Cancel(usize),
    Pop,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..50).prop_map(Op::Schedule),
        1 => (0usize..64).prop_map(Op::Cancel),
        3 => Just(Op::Pop),
    ]
}

proptest! {
    #[test]
    fn scheduler_matches_a_sorted_list(ops in proptest::collection::vec(op(), 1..300)) {
        let mut q: Scheduler<u32> = Scheduler::new();
        // Model: (time, seq, payload, alive).
        let mut model: Vec<(u64, u64, u32, bool)> = Vec::new();
        let mut ids: Vec<(EventId, u64)> = Vec::new();
        let mut now = 0u64;
        let mut seq = 0u64;
        for (i, o) in ops.into_iter().enumerate() {
            match o {
                Op::Schedule(dt) => {
                    let id = q.schedule_at(SimTime(now + dt), i as u32);
                    model.push((now + dt, seq, i as u32, true));
                    ids.push((id, seq));
                    seq += 1;
                }
                Op::Cancel(k) => {
                    if let Some(&(id, s)) = ids.get(k % ids.len().max(1)) {
                        let got = q.cancel(id);
                        let m = model.iter_mut().find(|e| e.1 == s && e.3);
                        match m {
                            Some(e) => {
                                prop_assert_eq!(got, Some(e.2));
                                e.3 = false;
                            }
                            None => prop_assert_eq!(got, None),
                        }
                    }
                }
                Op::Pop => {
                    let next = model
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| e.3)
                        .min_by_key(|(_, e)| (e.0, e.1))
                        .map(|(j, e)| (j, e.0, e.2));
                    let got = q.pop();
                    match next {
                        Some((j, t, p)) => {
                            prop_assert_eq!(got, Some((SimTime(t), p)));
                            model[j].3 = false;
                            now = t;
                        }
                        None => prop_assert_eq!(got, None),
                    }
                }
            }
            prop_assert_eq!(q.pending(), model.iter().filter(|e| e.3).count());
        }
    }
}
