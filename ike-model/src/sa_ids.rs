//! What both endpoints' SAD indexes (`sad_index` in ikev1 and ikev2) keep about SA ids: the
//! ids under one key of an index, and where each id sits in the SAD.

/// SA ids in creation order: almost always one or two (a tunnel during a rekey), so they
/// live inside the hash map's slot instead of behind a pointer of their own (one
/// allocation and one cache miss fewer per SA and lookup at a 10^5-tunnel concentrator).
pub(crate) type SaIds = smallvec::SmallVec<[u64; 2]>;

/// SADs larger than this also map ids to positions through a table.
const MAP_ABOVE: usize = 32;

/// SADs up to this size drop their dead SAs at once (tests see only live SAs there).
const COMPACT_ALWAYS_BELOW: usize = 256;

/// Whether a SAD of `len` SAs, `dead` of them dead, should drop its dead now: a large SAD
/// waits until a quarter is dead, so a death costs O(1) amortised instead of a pass over
/// 10^5 SAs.
pub(crate) fn compact_now(len: usize, dead: usize) -> bool {
    len < COMPACT_ALWAYS_BELOW || dead * 4 >= len
}

/// The id of every SA in the SAD, in SAD order (ids increase with creation, so the vector
/// is sorted), and for a large SAD a table from id to position: a concentrator maps ids to
/// positions several times per message, and a binary search of 10^5 ids costs a cache miss
/// per step below the first few. Ids are dense (each SA takes the next), so the table is a
/// vector indexed by id from the oldest id in the SAD: one read per lookup, where a hash
/// map took a probe and a compare. Kept beside the SAD so a lookup never touches an SA.
#[derive(Debug, Default)]
pub(crate) struct SaPositions {
    uids: Vec<u64>,
    /// `Some((base, pos))` for a large SAD: SA `base + k` sits at `pos[k]` (or is gone).
    table: Option<(u64, Vec<u32>)>,
}

/// A table slot whose SA is not in the SAD.
const GONE: u32 = u32::MAX;

impl SaPositions {
    /// Notes an SA appended to the SAD.
    pub fn push(&mut self, uid: u64) {
        self.uids.push(uid);
        let at = self.uids.len() - 1;
        match &mut self.table {
            Some((base, pos)) => {
                let k = (uid - *base) as usize;
                if k >= pos.len() {
                    pos.resize(k + 1, GONE);
                }
                pos[k] = at as u32;
            }
            None if self.uids.len() > MAP_ABOVE => self.map_all(),
            None => {}
        }
    }

    /// Starts again from the ids of a compacted SAD, in its order.
    pub fn rebuild(&mut self, uids: impl Iterator<Item = u64>) {
        self.uids.clear();
        self.uids.extend(uids);
        if self.uids.len() > MAP_ABOVE {
            self.map_all();
        } else {
            self.table = None;
        }
    }

    /// Where SA `uid` sits in the SAD, if it is there.
    pub fn index_of(&self, uid: u64) -> Option<usize> {
        match &self.table {
            Some((base, pos)) => {
                let k = uid.checked_sub(*base)?;
                let at = *pos.get(usize::try_from(k).ok()?)?;
                (at != GONE).then_some(at as usize)
            }
            None => self.uids.binary_search(&uid).ok(),
        }
    }

    /// The ids, newest last.
    pub fn uids(&self) -> &[u64] {
        &self.uids
    }

    fn map_all(&mut self) {
        let (Some(&first), Some(&last)) = (self.uids.first(), self.uids.last()) else {
            self.table = None;
            return;
        };
        // Reuse the old table's memory: it is about as large after every compaction.
        let mut pos = self.table.take().map(|(_, p)| p).unwrap_or_default();
        pos.clear();
        pos.resize((last - first) as usize + 1, GONE);
        for (at, &u) in self.uids.iter().enumerate() {
            pos[(u - first) as usize] = at as u32;
        }
        self.table = Some((first, pos));
    }
}

/// SA ids by tunnel: tunnels numbered 0..N (a concentrator's) in a vector, the others (a
/// branch's one, the responder SAs not matched to a tunnel yet) hashed.
pub(crate) type SaIdsByTunnel = sim_core::DenseMap<SaIds>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Small and large SADs, before and after compaction, find every id where it is.
    #[test]
    fn positions_follow_pushes_and_rebuilds_on_both_sides_of_the_map_threshold() {
        let mut p = SaPositions::default();
        for uid in (0..100).map(|k| 3 * k) {
            p.push(uid);
            assert_eq!(p.index_of(uid), Some(p.uids().len() - 1));
        }
        assert_eq!(p.index_of(4), None);
        p.rebuild((0..100).map(|k| 3 * k).filter(|u| u % 2 == 0));
        assert_eq!(p.index_of(6), Some(1));
        assert_eq!(p.index_of(3), None, "dropped by the compaction");
        p.rebuild([9, 12].into_iter());
        assert_eq!((p.index_of(12), p.index_of(6)), (Some(1), None));
        // A large SAD whose oldest SA is not the first ever: ids below it and past the
        // newest are not there; one pushed after a gap of dead ids is.
        p.rebuild((1000..1100).filter(|u| u % 3 != 0));
        assert_eq!(p.index_of(999), None);
        assert_eq!((p.index_of(1000), p.index_of(1001)), (Some(0), Some(1)));
        assert_eq!(p.index_of(1002), None, "never in this SAD");
        assert_eq!(p.index_of(5000), None);
        p.push(5000);
        assert_eq!(p.index_of(5000), Some(p.uids().len() - 1));
        assert_eq!(p.index_of(4999), None);
    }
}
