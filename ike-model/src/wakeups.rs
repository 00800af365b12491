//! The ordered set of SA wake-ups both endpoints keep (`sad_index` in ikev1 and ikev2), so
//! a concentrator finds its next timer without walking the SAD.

use std::collections::BTreeSet;

use sim_core::SimTime;

/// (wake-up, SA id) of every SA that has one.
pub(crate) type Wakeups = BTreeSet<(SimTime, u64)>;

/// Moves SA `uid` from the wake-up it is filed at (`filed`) to `due`.
pub(crate) fn refile(
    set: &mut Wakeups,
    uid: u64,
    filed: &mut Option<SimTime>,
    due: Option<SimTime>,
) {
    if *filed == due {
        return;
    }
    if let Some(t) = *filed {
        set.remove(&(t, uid));
    }
    if let Some(t) = due {
        set.insert((t, uid));
    }
    *filed = due;
}
