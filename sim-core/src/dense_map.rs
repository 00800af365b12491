//! A map from `u32` keys that keeps a dense run of them in a vector indexed by key and the
//! rest in a hash map: a concentrator's tunnels are numbered 0..N and a generated
//! topology's sites get consecutive addresses, so a lookup there is one read where a probe
//! of a 10^5-entry hash table took two cache misses (control bytes, then slot).
//!
//! The run is chosen from all the keys, not from the first ones: it is the densest window
//! (at most about four slots per key) holding the most keys, worked out again each time
//! the number of keys doubles, so a far-off key filed first (a concentrator's own address,
//! the tunnel number of SAs not matched yet) does not push the run aside. Between those
//! times a key extends the run when it stays dense enough. Lookups and updates only: the
//! map is never iterated, so where a key is kept cannot show in a result.

use fnv::FnvHashMap;

/// A value with a "none" that a vector slot can hold (`Default` makes it).
pub trait Vacant: Default {
    /// Whether this is "none".
    fn is_vacant(&self) -> bool;
}

impl<T> Vacant for Option<T> {
    fn is_vacant(&self) -> bool {
        self.is_none()
    }
}

impl<A: smallvec::Array> Vacant for smallvec::SmallVec<A> {
    fn is_vacant(&self) -> bool {
        self.is_empty()
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct DenseMap<V> {
    /// The key of `dense[0]`.
    base: u32,
    /// `dense[k]`: the value of key `base + k` (vacant: none).
    dense: Vec<V>,
    /// Keys outside the run.
    sparse: FnvHashMap<u32, V>,
    /// Keys with a value, in both.
    filed: usize,
    /// `filed` when the run was last chosen from all keys.
    chosen_at: usize,
}

/// Whether `keys` keys spanning `span` slots are dense enough for a vector.
fn dense_enough(keys: usize, span: u64) -> bool {
    span <= 4 * keys as u64 + 64
}

impl<V: Vacant> DenseMap<V> {
    /// The slot of `key` in the run, if the run covers it.
    #[inline]
    fn slot(&self, key: u32) -> Option<usize> {
        let k = key.checked_sub(self.base)? as usize;
        (k < self.dense.len()).then_some(k)
    }

    /// The value of `key`, if any.
    #[inline]
    pub fn get(&self, key: u32) -> Option<&V> {
        match self.slot(key) {
            Some(k) => Some(&self.dense[k]).filter(|v| !v.is_vacant()),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&key),
        }
    }

    /// The value of `key` to change, if any.
    pub fn get_mut(&mut self, key: u32) -> Option<&mut V> {
        match self.slot(key) {
            Some(k) => Some(&mut self.dense[k]).filter(|v| !v.is_vacant()),
            None => self.sparse.get_mut(&key),
        }
    }

    /// The value of `key`, vacant if it has none; the caller fills it.
    pub fn entry(&mut self, key: u32) -> &mut V {
        if self.slot(key).is_none() && !self.sparse.contains_key(&key) {
            if self.filed + 1 >= 2 * self.chosen_at.max(8) {
                self.choose_run(key);
            } else {
                self.extend_to(key);
            }
        }
        let v = match self.slot(key) {
            Some(k) => &mut self.dense[k],
            None => self.sparse.entry(key).or_default(),
        };
        if v.is_vacant() {
            // Counted from here: every caller fills it.
            self.filed += 1;
        }
        v
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: u32) {
        let had = match self.slot(key) {
            Some(k) => !std::mem::take(&mut self.dense[k]).is_vacant(),
            None => self.sparse.remove(&key).is_some_and(|v| !v.is_vacant()),
        };
        if had {
            self.filed -= 1;
        }
    }

    /// Grows the run to take `key` when it stays dense enough. Growing at the front makes
    /// room for about as many again below, so keys added from the top down are not moved
    /// one by one.
    fn extend_to(&mut self, key: u32) {
        let run_keys = self.filed.saturating_sub(self.sparse.len());
        if self.dense.is_empty() {
            if self.sparse.is_empty() {
                self.base = key;
                self.dense.push(V::default());
            }
            return;
        }
        let end = u64::from(self.base) + self.dense.len() as u64;
        let (lo, hi) = (self.base.min(key), end.max(u64::from(key) + 1));
        if !dense_enough(run_keys + 1, hi - u64::from(lo)) {
            return;
        }
        if lo < self.base {
            let budget = 4 * (run_keys as u64 + 1) + 64 - (hi - u64::from(lo));
            let extra = (self.dense.len() as u64).min(u64::from(lo)).min(budget) as u32;
            let start = lo - extra;
            let shift = (self.base - start) as usize;
            self.dense
                .splice(0..0, std::iter::repeat_with(V::default).take(shift));
            self.base = start;
        }
        let len = (hi - u64::from(self.base)) as usize;
        if self.dense.len() < len {
            self.dense.resize_with(len, V::default);
        }
    }

    /// Chooses the run again from all keys and `key`: the window holding the most keys at
    /// most about four slots per key apart. The keys outside it go to the map. The count of
    /// keys is made exact again here (a value emptied through `get_mut` and then removed
    /// was not uncounted).
    fn choose_run(&mut self, key: u32) {
        self.sparse.retain(|_, v| !v.is_vacant());
        let mut keys: Vec<u32> = self.sparse.keys().copied().collect();
        keys.extend(
            self.dense
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_vacant())
                .map(|(k, _)| self.base + k as u32),
        );
        self.filed = keys.len();
        keys.push(key);
        keys.sort_unstable();
        // Two pointers: the widest dense window ending at each key.
        let (mut best, mut from) = ((0usize, 0usize), 0usize);
        for to in 0..keys.len() {
            while !dense_enough(to - from + 1, u64::from(keys[to] - keys[from]) + 1) {
                from += 1;
            }
            if to + 1 - from > best.1 - best.0 {
                best = (from, to + 1);
            }
        }
        let (lo, hi) = (keys[best.0], keys[best.1 - 1]);
        let old_base = self.base;
        let mut all: Vec<(u32, V)> = self.sparse.drain().collect();
        all.extend(
            std::mem::take(&mut self.dense)
                .into_iter()
                .enumerate()
                .filter(|(_, v)| !v.is_vacant())
                .map(|(k, v)| (old_base + k as u32, v)),
        );
        self.base = lo;
        self.dense.resize_with((hi - lo) as usize + 1, V::default);
        for (k, v) in all {
            match self.slot(k) {
                Some(s) => self.dense[s] = v,
                None => {
                    self.sparse.insert(k, v);
                }
            }
        }
        self.chosen_at = self.filed + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type M = DenseMap<Option<u32>>;

    fn put(m: &mut M, k: u32, v: u32) {
        *m.entry(k) = Some(v);
    }

    /// A far-off key filed first (a concentrator's own address before its sites) does not
    /// keep the sites' consecutive keys out of the vector.
    #[test]
    fn a_far_off_first_key_does_not_push_the_run_aside() {
        let mut m = M::default();
        put(&mut m, 0xcb00_7101, 1);
        for k in 0..100_000u32 {
            put(&mut m, 0x0a00_0001 + k, k);
        }
        assert_eq!(m.sparse.len(), 1, "only the far-off key is hashed");
        assert!(m.dense.len() <= 4 * 100_000 + 64);
        assert_eq!(m.get(0xcb00_7101), Some(&Some(1)));
        assert!(
            (0..100_000)
                .step_by(997)
                .all(|k| m.get(0x0a00_0001 + k) == Some(&Some(k)))
        );
        assert_eq!(m.get(0x0a00_0000), None);
        // And the same with the far-off key at the top of the range: u32::MAX.
        let mut t = M::default();
        put(&mut t, u32::MAX, 9);
        for k in 0..1000 {
            put(&mut t, k, k);
        }
        assert_eq!((t.base, t.sparse.len()), (0, 1));
        assert_eq!(t.get(u32::MAX), Some(&Some(9)));
        assert_eq!(t.get(999), Some(&Some(999)));
    }

    /// Keys added from the top down, scattered keys, overwrites and removals.
    #[test]
    fn keys_are_found_wherever_they_are_kept() {
        let mut m = M::default();
        for k in (0..100_000u32).rev() {
            put(&mut m, 1_000 + k, k);
        }
        assert_eq!((m.filed, m.sparse.len()), (100_000, 0));
        assert!(m.dense.len() <= 4 * 100_000 + 64);
        for k in (0..100_000).step_by(991) {
            assert_eq!(m.get(1_000 + k), Some(&Some(k)));
        }
        let mut s = M::default();
        for k in 0..300u32 {
            put(&mut s, k.wrapping_mul(2_654_435_761), k);
        }
        assert!(s.dense.len() <= 64 + 4, "scattered keys stay hashed");
        for k in 0..300u32 {
            assert_eq!(s.get(k.wrapping_mul(2_654_435_761)), Some(&Some(k)));
        }
        put(&mut s, 7u32.wrapping_mul(2_654_435_761), 70);
        assert_eq!(s.get(7u32.wrapping_mul(2_654_435_761)), Some(&Some(70)));
        assert_eq!(s.filed, 300);
        s.remove(7u32.wrapping_mul(2_654_435_761));
        m.remove(1_005);
        assert_eq!(
            (s.get(7u32.wrapping_mul(2_654_435_761)), s.filed),
            (None, 299)
        );
        assert_eq!((m.get(1_005), m.filed), (None, 99_999));
        assert!(m.get_mut(1_005).is_none());
        *m.get_mut(1_006).unwrap() = Some(6_000);
        assert_eq!(m.get(1_006), Some(&Some(6_000)));
        // One key alone is kept in a vector of one.
        let mut b = M::default();
        put(&mut b, 73_456, 3);
        assert_eq!((b.dense.len(), b.get(73_456)), (1, Some(&Some(3))));
        b.remove(73_456);
        assert_eq!((b.get(73_456), b.filed), (None, 0));
    }
}
