//! A responder's half-open IKE SAs, as strongSwan's IKE SA manager counts them for its
//! receiver (the COOKIE threshold, `block_threshold`, `init_limit_half_open`): in total
//! and per peer address. IKEv1 and IKEv2 endpoints each keep one.

use std::net::IpAddr;

/// Half-open SAs in total and per peer address. An SA remembers the address it was counted
/// under (`Option<IpAddr>`, taken when it stops counting), so it leaves the count once.
#[derive(Debug, Default)]
pub(crate) struct HalfOpen {
    total: usize,
    by_ip: fnv::FnvHashMap<IpAddr, u32>,
}

impl HalfOpen {
    /// Counts an SA with peer `ip`; returns what the SA keeps to be uncounted.
    pub(crate) fn add(&mut self, ip: IpAddr) -> Option<IpAddr> {
        self.total += 1;
        *self.by_ip.entry(ip).or_default() += 1;
        Some(ip)
    }

    /// Uncounts the SA that keeps `counted` (nothing if it is not counted).
    pub(crate) fn remove(&mut self, counted: &mut Option<IpAddr>) {
        if let Some(ip) = counted.take() {
            self.total -= 1;
            if let Some(n) = self.by_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.by_ip.remove(&ip);
                }
            }
        }
    }

    /// Half-open SAs.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Half-open SAs with peer address `ip`.
    pub(crate) fn from(&self, ip: IpAddr) -> u32 {
        self.by_ip.get(&ip).copied().unwrap_or(0)
    }

    /// Debug builds: the counts must be those of `expected` SAs.
    #[cfg(debug_assertions)]
    pub(crate) fn check(&self, expected: usize) {
        assert_eq!(self.total, expected, "half-open count");
        let per_ip: usize = self.by_ip.values().map(|n| *n as usize).sum();
        assert_eq!(per_ip, expected, "half-open count per address");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sa_is_counted_once_per_address_and_uncounted_once() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut h = HalfOpen::default();
        let mut s1 = h.add(a);
        let mut s2 = h.add(a);
        let mut s3 = h.add(b);
        assert_eq!((h.total(), h.from(a), h.from(b)), (3, 2, 1));
        h.remove(&mut s1);
        h.remove(&mut s1);
        assert_eq!((h.total(), h.from(a)), (2, 1));
        h.remove(&mut s2);
        h.remove(&mut s3);
        assert_eq!((h.total(), h.from(a), h.from(b)), (0, 0, 0));
        #[cfg(debug_assertions)]
        h.check(0);
    }
}
