//! Changes to the SAD with the events they produce: states with strongSwan's names, CHILD_SA
//! installation, the traffic switch, removal with the 5 s linger of inbound SPIs, and the
//! end of an IKE SA.

use sim_core::SimTime;

use super::{ChildSa, ChildState, Endpoint, INBOUND_LINGER, IkeState, lifetimes};
use crate::events::{Event, Outcome, SaChange, SaKind, SaRef};
use crate::ikev2::keys::ChildKeys;

/// Up to this many lingering SPIs are searched by walking the list, without an index.
const LINGER_SCAN: usize = 8;

impl Endpoint {
    pub(super) fn sa_event(
        &mut self,
        i: usize,
        now: SimTime,
        kind: SaKind,
        spi: SaRef,
        change: SaChange,
        reason: &'static str,
    ) {
        let tunnel = self.sas[i].tunnel;
        self.events.push_back((
            now,
            Event::Sa {
                tunnel,
                kind,
                spi,
                change,
                reason,
            },
        ));
    }

    /// Moves SA `i` to `state`, reporting the change.
    pub(super) fn set_ike_state(&mut self, i: usize, now: SimTime, state: IkeState) {
        let before = self.sas[i].state;
        self.sas[i].state = state;
        let half_open = IkeState::ExpectAuthRequest;
        if (before == half_open) != (state == half_open) {
            self.count_half_open(i, state == half_open);
        }
        if state == IkeState::Dead && before != IkeState::Dead {
            self.index.died.push(self.sas[i].uid);
        }
        if before.name() == state.name() || !self.state_events {
            return;
        }
        let sa = &self.sas[i];
        self.events.push_back((
            now,
            Event::State {
                tunnel: sa.tunnel,
                kind: SaKind::Ike,
                spi: sa.sa_ref(),
                state: state.name(),
            },
        ));
    }

    /// Moves CHILD_SA `k` of SA `i` to `state`, reporting the change.
    pub(super) fn set_child_state(&mut self, i: usize, k: usize, now: SimTime, state: ChildState) {
        let c = &mut self.sas[i].children[k];
        if c.state == state {
            return;
        }
        c.state = state;
        if !self.state_events {
            return;
        }
        let spi = SaRef::Child(c.spi_in);
        let tunnel = self.sas[i].tunnel;
        self.events.push_back((
            now,
            Event::State {
                tunnel,
                kind: SaKind::Child,
                spi,
                state: state.name(),
            },
        ));
    }

    /// Installs a CHILD_SA on SA `i` and starts its lifetime; with `outbound` our traffic
    /// moves to it at once.
    pub(super) fn install_child(
        &mut self,
        i: usize,
        now: SimTime,
        child: ChildSa,
        reason: &'static str,
        outbound: bool,
    ) {
        let spi = SaRef::Child(child.spi_in);
        super::sa::push_tight(&mut self.sas[i].children, child);
        self.file_child_spis(i);
        let k = self.sas[i].children.len() - 1;
        lifetimes::arm_child(self, i, k, now);
        self.sa_event(i, now, SaKind::Child, spi, SaChange::Installed, reason);
        let tunnel = self.sas[i].tunnel;
        if self.state_events {
            self.events.push_back((
                now,
                Event::State {
                    tunnel,
                    kind: SaKind::Child,
                    spi,
                    state: ChildState::Installed.name(),
                },
            ));
        }
        if outbound {
            self.set_outbound(i, k, now);
        }
    }

    /// Moves our outbound traffic of SA `i` to CHILD_SA `k`.
    pub(super) fn set_outbound(&mut self, i: usize, k: usize, now: SimTime) {
        for c in &mut self.sas[i].children {
            c.outbound = false;
        }
        self.sas[i].children[k].outbound = true;
        let spi = SaRef::Child(self.sas[i].children[k].spi_in);
        self.sa_event(i, now, SaKind::Child, spi, SaChange::Outbound, "switched");
    }

    /// Removes CHILD_SA `k` of SA `i`; its inbound SPI lingers 5 s. If our traffic used
    /// it, it moves to the newest installed CHILD_SA.
    pub(super) fn remove_child(
        &mut self,
        i: usize,
        k: usize,
        now: SimTime,
        change: SaChange,
        reason: &'static str,
    ) {
        let c = self.sas[i].children.remove(k);
        if self.index.child_spis.get(&c.spi_in) == Some(&self.sas[i].uid) {
            self.index.child_spis.remove(&c.spi_in);
        }
        let spi = SaRef::Child(c.spi_in);
        self.sa_event(i, now, SaKind::Child, spi, change, reason);
        let until = now + INBOUND_LINGER;
        // Kept in order of `until` (equal ones in insertion order); with one linger time
        // every new entry goes last.
        let at = self.lingering.partition_point(|l| l.until <= until);
        if self.lingering.is_empty() {
            // Usually the only one: no room for more.
            self.lingering.reserve_exact(1);
        }
        self.lingering.insert(
            at,
            super::Linger {
                tunnel: self.sas[i].tunnel,
                spi: c.spi_in,
                until,
                // Without linger wake-ups no ESP comes (see `set_linger_wakeups`), and the
                // linger may last until the next call: it keeps no keys meanwhile.
                keys: self.linger_wakeups.then_some(c.keys),
                initiated: c.initiated,
            },
        );
        if !self.lingering_spis.is_empty() {
            self.lingering_spis.insert(c.spi_in);
        } else if self.lingering.len() > LINGER_SCAN {
            self.lingering_spis = self.lingering.iter().map(|l| l.spi).collect();
        }
        if c.outbound
            && !self.sas[i].children.iter().any(|c| c.outbound)
            && let Some(n) = self.sas[i]
                .children
                .iter()
                .rposition(|c| c.state == ChildState::Installed)
        {
            self.set_outbound(i, n, now);
        }
    }

    /// Our inbound ESP SPIs: those of installed CHILD_SAs and of deleted ones still
    /// lingering.
    pub fn inbound_spis(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .sas
            .iter()
            .flat_map(|s| s.children.iter().map(|c| c.spi_in))
            .chain(self.lingering.iter().map(|l| l.spi))
            .collect();
        v.sort_unstable();
        v
    }

    /// The peer's SPI our outbound traffic of `tunnel` uses, if any.
    pub fn outbound_spi(&self, tunnel: u32) -> Option<u32> {
        self.sas
            .iter()
            .filter(|s| s.tunnel == tunnel)
            .flat_map(|s| &s.children)
            .find(|c| c.outbound)
            .map(|c| c.spi_out)
    }

    /// The ESP keys of CHILD_SA `c` for our inbound (`inbound`) or outbound direction.
    /// KEYMAT holds the keys of the initiator-to-responder direction first, where the
    /// initiator is the one of the exchange that created the CHILD_SA (RFC 7296 §2.17).
    pub(super) fn child_esp_keys(&self, c: &ChildSa, inbound: bool) -> crate::esp::EspKeys {
        self.esp_keys(&c.keys, c.initiated, inbound)
    }

    /// As [`Endpoint::child_esp_keys`], from the keys and whether we initiated the exchange
    /// that made them.
    fn esp_keys(&self, keys: &ChildKeys, initiated: bool, inbound: bool) -> crate::esp::EspKeys {
        let use_i = initiated != inbound;
        let (encr_key, integ_key) = if use_i {
            (keys.encr_i(), keys.integ_i())
        } else {
            (keys.encr_r(), keys.integ_r())
        };
        crate::esp::EspKeys {
            encr: self.cfg.esp_encr,
            encr_key: crate::esp::KeyBytes::from_slice(encr_key),
            integ: self.cfg.esp_integ,
            integ_key: crate::esp::KeyBytes::from_slice(integ_key),
        }
    }

    /// Where our ESP traffic of `tunnel` goes: the peer's SPI, our outbound keys, whether it
    /// is UDP-encapsulated (a NAT was seen or faked), and then the peer's address and port
    /// as IKE last saw them (behind a NAT: the NAT's mapping).
    pub fn esp_outbound(&self, tunnel: u32) -> Option<super::EspRoute> {
        self.uids_of_tunnel(tunnel)
            .iter()
            .filter_map(|&u| self.index_of(u))
            .map(|i| &self.sas[i])
            .filter(|s| s.tunnel == tunnel && s.state != IkeState::Dead)
            .find_map(|s| {
                let c = s.children.iter().find(|c| c.outbound)?;
                let encap = s.nat_here || s.nat_there;
                Some((
                    c.spi_out,
                    self.child_esp_keys(c, false),
                    encap,
                    encap.then_some(s.peer),
                ))
            })
    }

    /// Tells the endpoint that ESP of `tunnel` left at `now`: like the kernel's use time
    /// that strongSwan reads, outbound ESP postpones NAT-T keepalives.
    pub fn esp_sent(&mut self, now: SimTime, tunnel: u32) {
        let found = self
            .uids_of_tunnel(tunnel)
            .iter()
            .filter_map(|&u| self.index_of(u))
            .find(|&i| {
                let s = &self.sas[i];
                s.tunnel == tunnel
                    && s.state != IkeState::Dead
                    && s.children.iter().any(|c| c.outbound)
            });
        if let Some(i) = found {
            let s = &mut self.sas[i];
            s.last_sent = s.last_sent.max(now);
        }
    }

    /// Tells the endpoint that ESP on inbound SPI `spi` arrived and verified at `now`. With
    /// a NAT on the path strongSwan takes it as a sign of life (no DPD probe is needed);
    /// without one it does not (docs/REFERENCE.md: ESP blocked, DPD does not notice).
    pub fn esp_received(&mut self, now: SimTime, spi: u32) {
        if let Some((i, _)) = self.find_child(spi) {
            let s = &mut self.sas[i];
            if s.nat_here || s.nat_there {
                s.last_received = s.last_received.max(now);
            }
        }
    }

    /// The keys of inbound SPI `spi` (installed, or deleted less than 5 s ago) and its
    /// tunnel.
    pub fn esp_inbound(&self, spi: u32) -> Option<(u32, crate::esp::EspKeys)> {
        self.find_child(spi)
            .map(|(i, k)| {
                (
                    self.sas[i].tunnel,
                    self.child_esp_keys(&self.sas[i].children[k], true),
                )
            })
            .or_else(|| {
                self.lingering.iter().find(|l| l.spi == spi).and_then(|l| {
                    Some((l.tunnel, self.esp_keys(l.keys.as_ref()?, l.initiated, true)))
                })
            })
    }

    /// Whether inbound SPI `spi` is lingering.
    pub(super) fn is_lingering(&self, spi: u32) -> bool {
        let scan = || self.lingering.iter().any(|l| l.spi == spi);
        if self.lingering_spis.is_empty() {
            scan()
        } else {
            debug_assert_eq!(self.lingering_spis.len(), self.lingering.len());
            debug_assert_eq!(self.lingering_spis.contains(&spi), scan());
            self.lingering_spis.contains(&spi)
        }
    }

    /// Uninstalls the inbound SPIs whose linger ended.
    pub(super) fn expire_lingering(&mut self, now: SimTime) {
        while let Some(l) = self.lingering.front()
            && l.until <= now
        {
            let l = self.lingering.pop_front().expect("front exists");
            if !self.lingering_spis.is_empty() {
                self.lingering_spis.remove(&l.spi);
            }
            if !self.linger_wakeups {
                continue;
            }
            self.events.push_back((
                now,
                Event::Sa {
                    tunnel: l.tunnel,
                    kind: SaKind::Child,
                    spi: SaRef::Child(l.spi),
                    change: SaChange::InboundRemoved,
                    reason: "linger ended",
                },
            ));
        }
        if self.lingering.is_empty() && self.lingering.capacity() > 0 {
            // Nothing lingers between rekeys: a branch keeps no buffers for it meanwhile.
            self.lingering = Default::default();
            self.lingering_spis = Default::default();
        }
    }

    /// Destroys SA `i` and its CHILD_SAs; requests in flight end as aborted.
    pub(super) fn kill(&mut self, i: usize, now: SimTime, reason: &'static str) {
        for p in std::mem::take(&mut self.sas[i].pending) {
            self.finish_pending(i, now, &p, Outcome::Aborted(reason.to_string()));
        }
        for c in &mut self.sas[i].children {
            c.outbound = false;
        }
        while !self.sas[i].children.is_empty() {
            self.remove_child(i, 0, now, SaChange::Deleted, reason);
        }
        // Only an SA that was installed (authenticated) is reported as deleted.
        if self.sas[i].installed {
            let spi = self.sas[i].sa_ref();
            self.sa_event(i, now, SaKind::Ike, spi, SaChange::Deleted, reason);
        }
        self.set_ike_state(i, now, IkeState::Dead);
    }
}
