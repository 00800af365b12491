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

/// What a [`ByTunnel`] holds per tunnel: a default value that stands for "none".
pub(crate) trait TunnelSlot: Default {
    /// Whether this is the "none" value.
    fn is_vacant(&self) -> bool;
}

impl TunnelSlot for SaIds {
    fn is_vacant(&self) -> bool {
        self.is_empty()
    }
}

impl TunnelSlot for Option<u32> {
    fn is_vacant(&self) -> bool {
        self.is_none()
    }
}

/// Something per tunnel (an endpoint's SA ids, a tunnel's place in its settings): a vector
/// indexed by tunnel number for the tunnels numbered densely from 0 (a concentrator's
/// 0..N), a hash map for the others (a branch's one tunnel, the responder SAs not matched
/// to a tunnel yet): one read per lookup at a concentrator instead of a probe of a
/// 10^5-entry table (two cache misses, control bytes and slot). Lookups only; never
/// iterated.
#[derive(Debug, Default)]
pub(crate) struct ByTunnel<V> {
    /// `dense[t]`: tunnel `t`'s value (vacant: none).
    dense: Vec<V>,
    /// Tunnels at or past `dense.len()`.
    sparse: fnv::FnvHashMap<u32, V>,
    /// Tunnels with a value, in both.
    filed: usize,
}

/// SA ids by tunnel.
pub(crate) type SaIdsByTunnel = ByTunnel<SaIds>;

/// Tunnels kept in the hash map before the vector is considered.
const SPARSE_UP_TO: usize = 64;

impl<V: TunnelSlot> ByTunnel<V> {
    /// The value of `tunnel`, if any.
    #[inline]
    pub fn get(&self, tunnel: u32) -> Option<&V> {
        match self.dense.get(tunnel as usize) {
            Some(v) => (!v.is_vacant()).then_some(v),
            None => self.sparse.get(&tunnel),
        }
    }

    /// The value of `tunnel` to change, if any.
    pub fn get_mut(&mut self, tunnel: u32) -> Option<&mut V> {
        match self.dense.get_mut(tunnel as usize) {
            Some(v) => (!v.is_vacant()).then_some(v),
            None => self.sparse.get_mut(&tunnel),
        }
    }

    /// The value of `tunnel`, vacant if there is none; the caller fills it.
    pub fn entry(&mut self, tunnel: u32) -> &mut V {
        let t = tunnel as usize;
        if t >= self.dense.len()
            && !self.sparse.contains_key(&tunnel)
            && self.filed + 1 >= SPARSE_UP_TO
            && t < 2 * (self.filed + 1) + SPARSE_UP_TO
        {
            // Dense enough (at most about two slots per tunnel): the vector takes it, and
            // the map's tunnels below it.
            self.dense.resize_with(t + 1, V::default);
            let n = self.dense.len();
            let moving: Vec<u32> = self
                .sparse
                .keys()
                .copied()
                .filter(|k| (*k as usize) < n)
                .collect();
            for k in moving {
                self.dense[k as usize] = self.sparse.remove(&k).expect("listed");
            }
        }
        let v = match self.dense.get_mut(t) {
            Some(v) => v,
            None => self.sparse.entry(tunnel).or_default(),
        };
        if v.is_vacant() {
            // Counted as filed from here: every caller fills it.
            self.filed += 1;
        }
        v
    }

    /// Forgets `tunnel`.
    pub fn remove(&mut self, tunnel: u32) {
        let had = match self.dense.get_mut(tunnel as usize) {
            Some(v) => !std::mem::take(v).is_vacant(),
            None => self.sparse.remove(&tunnel).is_some_and(|v| !v.is_vacant()),
        };
        if had {
            self.filed -= 1;
        }
    }
}

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

    /// Tunnel numbers 0..N go into the vector past the threshold, far-off ones stay in the
    /// map, and every tunnel's ids are found wherever they are.
    #[test]
    fn ids_by_tunnel_are_found_in_the_vector_and_the_map() {
        let mut m = SaIdsByTunnel::default();
        m.entry(u32::MAX).push(9);
        for t in 0..200u32 {
            m.entry(t).push(u64::from(t) * 10);
        }
        assert!(m.dense.len() >= 150, "dense by now: {}", m.dense.len());
        assert_eq!(
            m.sparse.len(),
            1 + 200 - m.dense.len(),
            "only the far-off and the newest"
        );
        m.entry(7).push(71);
        assert_eq!(m.get(7).map(|v| v.as_slice()), Some(&[70, 71][..]));
        m.remove(8);
        assert_eq!(m.get(8), None);
        assert!(m.get_mut(8).is_none());
        assert_eq!(m.get(500), None);
        m.entry(1_000_000).push(1);
        assert_eq!(m.get(1_000_000).map(|v| v.as_slice()), Some(&[1][..]));
        assert_eq!(m.get(u32::MAX).map(|v| v.as_slice()), Some(&[9][..]));
        assert_eq!(m.get(199).map(|v| v.as_slice()), Some(&[1990][..]));
        m.entry(8).push(80);
        assert_eq!(m.get(8).map(|v| v.as_slice()), Some(&[80][..]));
        assert_eq!(m.filed, 202);
        // A branch's single, high tunnel number stays in the map.
        let mut b = SaIdsByTunnel::default();
        b.entry(73_456).push(3);
        assert!(b.dense.is_empty());
        assert_eq!(b.get(73_456).map(|v| v.len()), Some(1));
        b.remove(73_456);
        assert_eq!((b.get(73_456), b.filed), (None, 0));
    }
}
