//! The SA wake-ups both endpoints keep (`sad_index` in ikev1 and ikev2), so a
//! concentrator finds its next timer without walking the SAD: a heap with one entry per SA
//! that has a wake-up, owned by the SA's position in the SAD and ordered by (time, SA id).
//! A changed wake-up moves in place (an ordered set took a removal and an insertion among
//! 10^5 entries, each a few cache misses).

use sim_core::SimTime;
use sim_core::timer_heap::TimerHeap;

/// The wake-ups of an endpoint's SAs.
pub(crate) type Wakeups = TimerHeap;

/// SA `pos`'s owner id in the heap: its SAD position.
pub(crate) fn owner(pos: usize) -> u32 {
    u32::try_from(pos).expect("fewer than 2^32 SAs")
}

/// Files SA `uid`, at SAD position `pos`, at `due` instead of `filed` (where it is filed
/// now), and records that in `filed`.
pub(crate) fn refile(
    set: &mut Wakeups,
    pos: usize,
    uid: u64,
    filed: &mut Option<SimTime>,
    due: Option<SimTime>,
) {
    if *filed == due {
        return;
    }
    match due {
        Some(t) => set.set(owner(pos), t, uid),
        None => {
            set.remove(owner(pos));
        }
    }
    *filed = due;
}

/// The earliest of the times an SA's wake-up is computed from, taken one by one (plain
/// code: chained iterator adapters over them were a tenth of the IKEv1 bench's
/// instructions, and this runs for every SA a call touches).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Earliest(pub(crate) Option<SimTime>);

impl Earliest {
    /// Takes `t` into account (nothing when `None`).
    #[inline]
    pub(crate) fn take(&mut self, t: Option<SimTime>) {
        if let Some(t) = t
            && self.0.is_none_or(|d| t < d)
        {
            self.0 = Some(t);
        }
    }
}

/// SA ids an endpoint call works on: a few, kept inline.
pub(crate) type Uids = smallvec::SmallVec<[u64; 8]>;

/// The ids of the SAs filed at or before `now`, in creation order.
pub(crate) fn due_uids(set: &Wakeups, now: SimTime) -> Uids {
    let mut v = Uids::new();
    set.due_by(now, &mut v);
    v.sort_unstable();
    v
}

/// After the SAD dropped its dead SAs: `alive` says, for each old position in order,
/// whether that SA stayed; the survivors' entries move to their new positions.
pub(crate) fn compacted(set: &mut Wakeups, alive: impl Iterator<Item = bool>) {
    let mut next = 0;
    let moved_to: Vec<u32> = alive
        .map(|keep| {
            if keep {
                next += 1;
                next - 1
            } else {
                u32::MAX
            }
        })
        .collect();
    set.rename_owners(|o| moved_to[o as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_time_taken_wins_and_none_counts_for_nothing() {
        let mut e = Earliest::default();
        assert_eq!(e.0, None);
        e.take(None);
        e.take(Some(SimTime(30)));
        e.take(Some(SimTime(10)));
        e.take(None);
        e.take(Some(SimTime(20)));
        assert_eq!(e.0, Some(SimTime(10)));
    }
}
