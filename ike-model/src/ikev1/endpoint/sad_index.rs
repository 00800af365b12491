//! Indexes of the IKEv1 SAD, so that a concentrator with 10^4 peers finds an ISAKMP SA by
//! its cookies, a tunnel's SAs and the next SA due for a timer without walking the SAD.
//!
//! Every ISAKMP SA gets a stable id (`uid`, increasing, so the SAD stays sorted by it). Its
//! next wake-up (what `poll_timeout` asks for) is filed in an ordered set; after each call
//! into the endpoint only the SAs that call could have changed are filed again: those of
//! the tunnels it touched (an exchange, a re-authentication or INITIAL-CONTACT only ever
//! affects the SAs of one tunnel) and the SAs it created. Debug builds check after every
//! call that every SA is filed at the right time, so the test suite checks the index.
//!
//! The ids also sit in a vector of their own beside the SAD (and, for a large SAD, in a
//! hash map to positions), so finding an SA by id never follows the SAD's pointers. A
//! killed SA leaves the indexes at once; a large SAD drops its dead in batches (when a
//! quarter is dead), because dropping them one by one walked 10^5 boxed SAs per death and
//! made a 10^5-tunnel day quadratic.

use sim_core::SimTime;

use super::{Endpoint1, IsakmpSa, dpd, natt};
use crate::sa_ids::{SaIds, SaPositions, compact_now};

/// The indexes; see the module documentation.
#[derive(Debug, Default)]
pub(super) struct Index1 {
    next_uid: u64,
    /// Initiator cookie -> SA ids (random 64-bit cookies, so almost always one).
    by_icookie: fnv::FnvHashMap<u64, SaIds>,
    /// Tunnel -> SA ids, oldest first.
    by_tunnel: fnv::FnvHashMap<u32, SaIds>,
    /// (next wake-up, SA id) of every SA with one.
    due: crate::wakeups::Wakeups,
    /// Ids of SAs killed in the current call.
    killed: Vec<u64>,
    /// Our inbound IPsec SPI -> id of the ISAKMP SA it belongs to (ESP lookups).
    child_spis: fnv::FnvHashMap<u32, u64>,
    /// Where each SA id sits in the SAD.
    positions: SaPositions,
    /// Dead SAs still in the SAD vector.
    dead_in_sad: usize,
    /// Responder SAs whose Phase 1 is not complete (strongSwan's half-open count).
    pub(super) half_open: crate::half_open::HalfOpen,
}

/// Removes `uid` from the ids under `key`, dropping the entry when it empties.
fn unfile<K: std::hash::Hash + Eq>(map: &mut fnv::FnvHashMap<K, SaIds>, key: K, uid: u64) {
    if let Some(v) = map.get_mut(&key) {
        v.retain(|u| *u != uid);
        if v.is_empty() {
            map.remove(&key);
        }
    }
}

impl Endpoint1 {
    /// Adds `sa` to the SAD and the indexes; returns its index.
    pub(super) fn push_sa(&mut self, mut sa: IsakmpSa) -> usize {
        let uid = self.index.next_uid;
        self.index.next_uid += 1;
        sa.uid = uid;
        sa.filed_tunnel = sa.tunnel;
        if !sa.initiator && !sa.established {
            sa.half_open_ip = self.index.half_open.add(sa.peer.ip());
        }
        self.index
            .by_icookie
            .entry(sa.icookie)
            .or_default()
            .push(uid);
        self.index.by_tunnel.entry(sa.tunnel).or_default().push(uid);
        self.sas.push(Box::new(sa));
        let i = self.sas.len() - 1;
        self.index.positions.push(uid);
        self.refile(i);
        i
    }

    /// SA `i` is no longer half-open (Phase 1 completed, or it died).
    pub(super) fn end_half_open(&mut self, i: usize) {
        self.index.half_open.remove(&mut self.sas[i].half_open_ip);
    }

    /// The first SA that was created after `mark` (see [`Endpoint1::settle`]).
    pub(super) fn uid_mark(&self) -> u64 {
        self.index.next_uid
    }

    /// The index of the SA with id `uid`, if it is still in the SAD.
    fn index_of(&self, uid: u64) -> Option<usize> {
        self.index.positions.index_of(uid)
    }

    /// The SA an ISAKMP header with these cookies belongs to: the first (oldest) SA with
    /// the initiator cookie whose responder cookie matches, or where either side does not
    /// know it yet.
    pub(super) fn find_by_cookies(&self, icookie: u64, rcookie: u64) -> Option<usize> {
        self.index
            .by_icookie
            .get(&icookie)?
            .iter()
            .filter_map(|&u| self.index_of(u))
            .find(|&i| {
                let s = &self.sas[i];
                // A repeated first message (no responder cookie yet) belongs to the SA it
                // made, whose answer is then sent again, not to a new one.
                !s.dead && (s.rcookie == rcookie || s.rcookie == 0 || rcookie == 0)
            })
    }

    /// Indexes of the live SAs of `tunnel`, oldest first.
    pub(super) fn sas_of_tunnel(&self, tunnel: u32) -> impl DoubleEndedIterator<Item = usize> {
        self.index
            .by_tunnel
            .get(&tunnel)
            .into_iter()
            .flatten()
            .filter_map(|&u| self.index_of(u))
            .filter(|&i| !self.sas[i].dead)
    }

    /// Indexes of the SAs whose wake-up is at or before `now`, in SAD order.
    pub(super) fn due_sas(&self, now: SimTime) -> Vec<usize> {
        crate::wakeups::due_uids(&self.index.due, now)
            .into_iter()
            .filter_map(|u| self.index_of(u))
            .collect()
    }

    /// The earliest wake-up of any SA.
    pub(super) fn first_due(&self) -> Option<SimTime> {
        self.index.due.peek().map(|e| e.time)
    }

    /// When SA `i` next needs `handle_timeout`: a resend, an IPsec SA's rekey or expiry,
    /// the ISAKMP SA's re-authentication, expiry or delayed delete, DPD, a keepalive.
    fn sa_due(&self, i: usize) -> Option<SimTime> {
        let s = &self.sas[i];
        if s.dead {
            return None;
        }
        let mut due = crate::wakeups::Earliest::default();
        for o in s.outstanding.values() {
            due.take(Some(o.next_at));
        }
        for c in &s.ipsec {
            if !c.rekeyed {
                due.take(c.rekey_at);
            }
            due.take(c.expire_at);
        }
        if s.initiator {
            due.take(s.rekey_at);
        }
        due.take(s.expire_at);
        due.take(s.delete_at);
        due.take(dpd::due(self, i));
        due.take(natt::keepalive_due(self, i));
        due.0
    }

    /// Files SA `i` again at its current wake-up (and under its current tunnel).
    pub(super) fn refile(&mut self, i: usize) {
        let due = self.sa_due(i);
        let s = &mut self.sas[i];
        // A B-tree emptied by removals keeps its leaf node (room for 11 Quick Modes or
        // requests) for as long as the SA lives; a new empty map holds none (10^4-tunnel
        // bench: 311 -> 298 MB peak).
        if s.quick.is_empty() {
            s.quick = Default::default();
        }
        if s.outstanding.is_empty() {
            s.outstanding = Default::default();
        }
        let uid = s.uid;
        crate::wakeups::refile(&mut self.index.due, i, uid, &mut s.filed_due, due);
        if s.filed_tunnel != s.tunnel {
            let (old, new) = (s.filed_tunnel, s.tunnel);
            s.filed_tunnel = new;
            unfile(&mut self.index.by_tunnel, old, uid);
            self.index.by_tunnel.entry(new).or_default().push(uid);
            // Keep the tunnel's ids oldest first.
            if let Some(v) = self.index.by_tunnel.get_mut(&new) {
                v.sort_unstable();
            }
        }
    }

    /// Files IPsec SA `spi` (our inbound SPI) as one of SA `i`'s.
    pub(super) fn file_child(&mut self, i: usize, spi: u32) {
        self.index.child_spis.insert(spi, self.sas[i].uid);
    }

    /// Forgets IPsec SA `spi` (removed from SA `i`).
    pub(super) fn unfile_child(&mut self, i: usize, spi: u32) {
        if self.index.child_spis.get(&spi) == Some(&self.sas[i].uid) {
            self.index.child_spis.remove(&spi);
        }
    }

    /// Whether inbound SPI `spi` is in use by an IPsec SA here.
    pub(super) fn spi_in_use(&self, spi: u32) -> bool {
        self.index.child_spis.contains_key(&spi)
    }

    /// The ISAKMP SA and the position of the IPsec SA with inbound SPI `spi`.
    pub(super) fn find_child(&self, spi: u32) -> Option<(usize, usize)> {
        let i = self.index_of(*self.index.child_spis.get(&spi)?)?;
        let k = self.sas[i].ipsec.iter().position(|c| c.spi_in == spi)?;
        Some((i, k))
    }

    /// Marks SA `i` dead; it leaves the indexes and the SAD when the call settles.
    pub(super) fn mark_dead(&mut self, i: usize) {
        self.end_half_open(i);
        if !self.sas[i].dead {
            self.sas[i].dead = true;
            self.index.killed.push(self.sas[i].uid);
        }
    }

    /// Ends a call into the endpoint: files again the SAs of `tunnels` and those created
    /// since `mark`, and removes the SAs killed.
    pub(super) fn settle(&mut self, tunnels: &[u32], mark: u64) {
        // Inline: a call touches a few SAs, and this ran for every datagram and wake-up.
        let mut touched: smallvec::SmallVec<[usize; 8]> = tunnels
            .iter()
            .flat_map(|&t| self.index.by_tunnel.get(&t).into_iter().flatten())
            .filter_map(|&u| self.index_of(u))
            .collect();
        touched.extend(
            (0..self.sas.len())
                .rev()
                .take_while(|&i| self.sas[i].uid >= mark),
        );
        touched.sort_unstable();
        touched.dedup();
        for i in touched {
            // A newly created SA may have been renamed to another tunnel: refiling moves it.
            let t = self.sas[i].tunnel;
            self.refile(i);
            // Its new tunnel's other SAs may have been changed too (adoption).
            if !tunnels.contains(&t) {
                for j in self
                    .sas_of_tunnel(t)
                    .collect::<smallvec::SmallVec<[usize; 8]>>()
                {
                    self.refile(j);
                }
            }
        }
        if !self.index.killed.is_empty() {
            for uid in std::mem::take(&mut self.index.killed) {
                let Some(i) = self.index_of(uid) else {
                    continue;
                };
                let s = &mut self.sas[i];
                let (icookie, tunnel) = (s.icookie, s.filed_tunnel);
                crate::wakeups::refile(&mut self.index.due, i, uid, &mut s.filed_due, None);
                unfile(&mut self.index.by_icookie, icookie, uid);
                unfile(&mut self.index.by_tunnel, tunnel, uid);
                self.index.dead_in_sad += 1;
            }
            let dead = self.index.dead_in_sad;
            if compact_now(self.sas.len(), dead) {
                crate::wakeups::compacted(&mut self.index.due, self.sas.iter().map(|s| !s.dead));
                self.sas.retain(|s| !s.dead);
                self.index.positions.rebuild(self.sas.iter().map(|s| s.uid));
                self.index.dead_in_sad = 0;
            }
        }
        #[cfg(debug_assertions)]
        self.check_filed();
    }

    /// Debug builds: every SA is filed at its wake-up and under its tunnel and cookie.
    #[cfg(debug_assertions)]
    fn check_filed(&self) {
        let half_open: Vec<_> = self
            .sas
            .iter()
            .filter(|s| !s.dead && !s.initiator && !s.established)
            .collect();
        self.index.half_open.check(half_open.len());
        assert!(
            half_open
                .iter()
                .all(|s| s.half_open_ip == Some(s.peer.ip()))
        );
        let mut filed = 0;
        let live = || self.sas.iter().filter(|s| !s.dead);
        let children: usize = live().map(|s| s.ipsec.len()).sum();
        assert_eq!(children, self.index.child_spis.len(), "IPsec SPIs misfiled");
        assert_eq!(
            self.sas.len() - live().count(),
            self.index.dead_in_sad,
            "dead SAs counted"
        );
        for (i, s) in self.sas.iter().enumerate() {
            assert_eq!(self.index_of(s.uid), Some(i), "position of SA {}", s.uid);
            if s.dead {
                assert!(s.filed_due.is_none(), "dead SA {i} still filed");
                assert!(
                    !self
                        .index
                        .by_tunnel
                        .get(&s.filed_tunnel)
                        .is_some_and(|v| v.contains(&s.uid)),
                    "dead SA {i} still under its tunnel"
                );
                continue;
            }
            for c in &s.ipsec {
                assert_eq!(self.index.child_spis.get(&c.spi_in), Some(&s.uid));
            }
            assert_eq!(
                s.filed_due,
                self.sa_due(i),
                "ISAKMP SA {i} filed at a stale time"
            );
            assert_eq!(self.index.due.get(crate::wakeups::owner(i)), s.filed_due);
            if s.filed_due.is_some() {
                filed += 1;
            }
            assert_eq!(
                s.filed_tunnel, s.tunnel,
                "ISAKMP SA {i} under a stale tunnel"
            );
            assert!(self.index.by_tunnel[&s.tunnel].contains(&s.uid));
            assert!(self.index.by_icookie[&s.icookie].contains(&s.uid));
        }
        assert_eq!(
            filed,
            self.index.due.len(),
            "wake-ups of SAs no longer there"
        );
    }
}
