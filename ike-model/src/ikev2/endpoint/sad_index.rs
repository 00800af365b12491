//! Indexes over the SAD so that a concentrator with 10^4-10^5 IKE SAs does per-datagram and
//! per-timer work in O(log N): every IKE SA has a stable id (increasing in creation order,
//! so the SAD stays sorted by it), its next wake-up is filed in a heap (ordered by time, then
//! id), and SAs are found by initiator SPI and by tunnel without scanning. After each call into the
//! endpoint, the SAs it touched (the one a datagram or timer was for, the others of the
//! same tunnel, and the new ones) are filed again and dead ones leave every index.
//! Dead SAs leave the indexes at once but stay in a large SAD vector (state `Dead`) until
//! a quarter of it is dead; scans over the SAD skip them.
//! In debug builds every call ends with a check that no SA's wake-up was missed.

use fnv::FnvHashMap;

use sim_core::SimTime;

use super::Endpoint;
use super::sa::IkeSa;
use crate::sa_ids::{SaIds, SaIdsByTunnel, SaPositions, compact_now};

/// The indexes an [`Endpoint`] keeps over its SAD.
#[derive(Debug, Default)]
pub(super) struct SadIndex {
    next_uid: u64,
    /// The next wake-up of every live SA that has one (owners: SAD positions).
    due: crate::wakeups::Wakeups,
    /// SA ids by initiator SPI, in creation order (lookups only; never iterated).
    by_spi_i: FnvHashMap<u64, SaIds>,
    /// SA ids by tunnel, in creation order (lookups only; never iterated).
    by_tunnel: SaIdsByTunnel,
    /// Where each SA id sits in the SAD vector.
    positions: SaPositions,
    /// SAs that died during the current call.
    pub(super) died: Vec<u64>,
    /// Dead SAs still in the SAD vector: a large SAD is compacted only when a quarter of
    /// it is dead, so a death costs O(1) amortised instead of moving every pointer.
    dead_in_sad: usize,
    /// Responder SAs waiting for IKE_AUTH, in total and per peer address (the COOKIE
    /// thresholds and the half-open limits count them).
    pub(super) half_open: crate::half_open::HalfOpen,
    /// The SA holding each installed inbound CHILD_SA SPI (ESP lookups; unique SPIs).
    pub(super) child_spis: FnvHashMap<u32, u64>,
}

/// The tunnel of SAs a responder has not matched to a tunnel yet.
const NO_TUNNEL: u32 = u32::MAX;

impl Endpoint {
    /// Adds an IKE SA to the SAD and returns its index.
    pub(super) fn push_sa(&mut self, mut sa: IkeSa) -> usize {
        if sa.state == super::IkeState::ExpectAuthRequest {
            sa.half_open_ip = self.index.half_open.add(sa.peer.ip());
        }
        sa.uid = self.index.next_uid;
        self.index.next_uid += 1;
        self.index
            .by_spi_i
            .entry(sa.spi_i)
            .or_default()
            .push(sa.uid);
        self.index.positions.push(sa.uid);
        super::sa::push_tight(&mut self.sas, sa);
        self.sas.len() - 1
    }

    /// Counts SA `i` as half-open (`on`) or no longer, in total and per peer address.
    pub(super) fn count_half_open(&mut self, i: usize, on: bool) {
        if on {
            self.sas[i].half_open_ip = self.index.half_open.add(self.sas[i].peer.ip());
        } else {
            self.index.half_open.remove(&mut self.sas[i].half_open_ip);
        }
    }

    /// Files the inbound SPIs of SA `i`'s CHILD_SAs under it (after an install or a move).
    pub(super) fn file_child_spis(&mut self, i: usize) {
        let uid = self.sas[i].uid;
        for c in &self.sas[i].children {
            self.index.child_spis.insert(c.spi_in, uid);
        }
    }

    /// The SA and CHILD_SA holding inbound SPI `spi`.
    pub(super) fn find_child(&self, spi: u32) -> Option<(usize, usize)> {
        let i = self.index_of(*self.index.child_spis.get(&spi)?)?;
        let k = self.sas[i].children.iter().position(|c| c.spi_in == spi)?;
        Some((i, k))
    }

    /// The id the next SA will get (to tell new SAs from old after a call).
    pub(super) fn uid_mark(&self) -> u64 {
        self.index.next_uid
    }

    /// The index of the SA with id `uid`, if it is still in the SAD.
    pub(super) fn index_of(&self, uid: u64) -> Option<usize> {
        self.index.positions.index_of(uid)
    }

    /// The first SA (in creation order) matching a header's SPIs.
    pub(super) fn find_by_spis(&self, spi_i: u64, spi_r: u64) -> Option<usize> {
        self.index
            .by_spi_i
            .get(&spi_i)?
            .iter()
            .filter_map(|&u| self.index_of(u))
            .find(|&i| {
                let s = &self.sas[i];
                s.state != super::IkeState::Dead && (s.spi_r == spi_r || s.spi_r == 0 || spi_r == 0)
            })
    }

    /// The ids of the SAs filed under `tunnel`, in creation order.
    pub(super) fn uids_of_tunnel(&self, tunnel: u32) -> &[u64] {
        self.index.by_tunnel.get(tunnel).map_or(&[], |v| v)
    }

    /// The earliest wake-up filed.
    pub(super) fn first_due(&self) -> Option<SimTime> {
        self.index.due.peek().map(|e| e.time)
    }

    /// The ids of the SAs whose filed wake-up is at or before `now`, in creation order.
    pub(super) fn due_uids(&self, now: SimTime) -> crate::wakeups::Uids {
        crate::wakeups::due_uids(&self.index.due, now)
    }

    /// Ends a call: forgets the SAs that died, removes them from the SAD, and files again
    /// the SAs in `touched`, those of their tunnels, and every SA created since `mark`.
    pub(super) fn settle(&mut self, mut touched: crate::wakeups::Uids, mark: u64) {
        // New SAs and the tunnels of everything touched.
        touched.extend(
            self.index
                .positions
                .uids()
                .iter()
                .rev()
                .take_while(|u| **u >= mark)
                .copied(),
        );
        let mut tunnels: smallvec::SmallVec<[u32; 8]> = smallvec::SmallVec::new();
        for &u in &touched {
            if let Some(i) = self.index_of(u) {
                tunnels.push(self.sas[i].tunnel);
                if let Some(t) = self.sas[i].filed_tunnel {
                    tunnels.push(t);
                }
            }
        }
        tunnels.sort_unstable();
        tunnels.dedup();
        for t in tunnels {
            if t != NO_TUNNEL
                && let Some(v) = self.index.by_tunnel.get(t)
            {
                touched.extend_from_slice(v);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        // The dead leave every index, then (in batches) the SAD.
        let died = std::mem::take(&mut self.index.died);
        if !died.is_empty() {
            for &u in &died {
                if let Some(i) = self.index_of(u) {
                    self.unfile(i);
                    let spi_i = self.sas[i].spi_i;
                    if let Some(v) = self.index.by_spi_i.get_mut(&spi_i) {
                        v.retain(|x| *x != u);
                        if v.is_empty() {
                            self.index.by_spi_i.remove(&spi_i);
                        }
                    }
                }
                self.index.dead_in_sad += 1;
            }
            touched.retain(|u| !died.contains(u));
            let dead = self.index.dead_in_sad;
            if compact_now(self.sas.len(), dead) {
                let alive = |s: &IkeSa| s.state != super::IkeState::Dead;
                crate::wakeups::compacted(&mut self.index.due, self.sas.iter().map(alive));
                self.sas.retain(alive);
                self.index.positions.rebuild(self.sas.iter().map(|s| s.uid));
                self.index.dead_in_sad = 0;
            }
        }
        for u in touched {
            if let Some(i) = self.index_of(u) {
                self.file(i);
            }
        }
        #[cfg(debug_assertions)]
        self.check_filed();
    }

    /// Files SA `i` under its current wake-up and tunnel.
    fn file(&mut self, i: usize) {
        let due = self.sa_due(i);
        let sa = &mut self.sas[i];
        let uid = sa.uid;
        crate::wakeups::refile(&mut self.index.due, i, uid, &mut sa.filed_due, due);
        if sa.filed_tunnel != Some(sa.tunnel) {
            if let Some(old) = sa.filed_tunnel
                && let Some(v) = self.index.by_tunnel.get_mut(old)
            {
                v.retain(|x| *x != uid);
                if v.is_empty() {
                    self.index.by_tunnel.remove(old);
                }
            }
            let v = self.index.by_tunnel.entry(sa.tunnel);
            // Keep creation order (ids increase).
            let at = v.partition_point(|x| *x < uid);
            v.insert(at, uid);
            sa.filed_tunnel = Some(sa.tunnel);
        }
    }

    /// Takes SA `i` out of the timer, tunnel and SPI indexes.
    fn unfile(&mut self, i: usize) {
        let sa = &mut self.sas[i];
        let uid = sa.uid;
        for c in &sa.children {
            if self.index.child_spis.get(&c.spi_in) == Some(&uid) {
                self.index.child_spis.remove(&c.spi_in);
            }
        }
        crate::wakeups::refile(&mut self.index.due, i, uid, &mut sa.filed_due, None);
        if let Some(old) = sa.filed_tunnel.take()
            && let Some(v) = self.index.by_tunnel.get_mut(old)
        {
            v.retain(|x| *x != uid);
            if v.is_empty() {
                self.index.by_tunnel.remove(old);
            }
        }
    }

    /// Debug builds: no live SA may be due earlier than it is filed (a missed wake-up), and
    /// the half-open counts and the SPI index must match the SAD.
    #[cfg(debug_assertions)]
    fn check_filed(&self) {
        let half_open = self
            .sas
            .iter()
            .filter(|s| s.state == super::IkeState::ExpectAuthRequest)
            .count();
        self.index.half_open.check(half_open);
        for (i, sa) in self.sas.iter().enumerate() {
            assert_eq!(self.index_of(sa.uid), Some(i), "position of SA {}", sa.uid);
        }
        let mut spis = 0;
        for i in 0..self.sas.len() {
            if self.sas[i].state == super::IkeState::Dead {
                continue;
            }
            for c in &self.sas[i].children {
                spis += 1;
                assert_eq!(
                    self.index.child_spis.get(&c.spi_in),
                    Some(&self.sas[i].uid),
                    "inbound SPI {:08x} filed under its SA",
                    c.spi_in
                );
            }
            let (filed, fresh) = (self.sas[i].filed_due, self.sa_due(i));
            assert_eq!(
                self.index.due.get(crate::wakeups::owner(i)),
                filed,
                "SA {} filed in the heap at its place",
                self.sas[i].uid
            );
            let missed = match (filed, fresh) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(f), Some(n)) => n < f,
            };
            assert!(
                !missed,
                "SA {} of tunnel {} is due at {fresh:?} but filed at {filed:?}",
                self.sas[i].uid, self.sas[i].tunnel
            );
        }
        assert_eq!(spis, self.index.child_spis.len(), "no stale inbound SPIs");
    }
}
