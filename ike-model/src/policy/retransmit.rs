//! Request retransmission (RFC 7296 §2.1): only the requester retransmits, on a schedule
//! that grows geometrically until it gives up and destroys the IKE SA.
//!
//! strongSwan: timeout(n) = `timeout` x `base`^n with 4 s and 1.8, 5 retransmits, so sends
//! at 0, 4, 11.2, 24.16, 47.49, 89.48 s and give-up at 165.06 s; optional jitter only
//! shortens an interval (at most 20 %). libreswan: 0.5 s doubling, give up after 30 s or
//! 12 retransmits, whichever comes first.

use rand::Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::Duration;

/// When a requester resends an unanswered request, and when it gives up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetransmitPolicy {
    /// Wait before the first retransmission.
    pub timeout: Duration,
    /// Factor by which each wait grows.
    pub base: f64,
    /// Retransmissions after the first send.
    pub tries: u32,
    /// Fraction by which a wait may be shortened at random, in [0, 1) (strongSwan's
    /// `retransmit_jitter` / 100).
    pub jitter: f64,
    /// Longest single wait, if capped (strongSwan's `retransmit_limit`).
    pub max_interval: Option<Duration>,
    /// Give up this long after the first send even if tries remain (libreswan's
    /// `retransmit-timeout`).
    pub give_up_after: Option<Duration>,
}

impl Default for RetransmitPolicy {
    /// strongSwan's defaults.
    fn default() -> Self {
        Self::strongswan()
    }
}

impl RetransmitPolicy {
    /// strongSwan 5.9/6.x: 4 s x 1.8^n, 5 retransmits, no jitter.
    pub fn strongswan() -> Self {
        RetransmitPolicy {
            timeout: Duration::from_secs(4),
            base: 1.8,
            tries: 5,
            jitter: 0.0,
            max_interval: None,
            give_up_after: None,
        }
    }

    /// libreswan: 0.5 s doubling, at most 12 retransmits, give up after 30 s.
    pub fn libreswan() -> Self {
        RetransmitPolicy {
            timeout: Duration::from_millis(500),
            base: 2.0,
            tries: 12,
            jitter: 0.0,
            max_interval: None,
            give_up_after: Some(Duration::from_secs(30)),
        }
    }

    /// A Cisco IOS-like peer: a constant 10 s between retransmissions (as IOS `debug crypto
    /// isakmp` output shows: "retransmitting phase 1" 10 s after the first send), 5
    /// retransmissions (IOS prints "attempt N of 5: retransmit phase 1"), so it gives up one
    /// interval after the fifth, at 60 s. The count is from IOS's message format, not from a
    /// measured capture.
    pub fn cisco() -> Self {
        RetransmitPolicy {
            timeout: Duration::from_secs(10),
            base: 1.0,
            tries: 5,
            jitter: 0.0,
            max_interval: None,
            give_up_after: None,
        }
    }

    /// Checks the values a scenario gave.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout == Duration::ZERO {
            return Err("retransmit timeout must be > 0".into());
        }
        if !(self.base.is_finite() && self.base >= 1.0) {
            return Err(format!("retransmit base {} must be >= 1", self.base));
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(format!(
                "retransmit jitter {} must be in [0, 1)",
                self.jitter
            ));
        }
        Ok(())
    }

    /// The nominal wait after send number `n` (0 = the first send), before jitter, in
    /// whole milliseconds as strongSwan computes it.
    pub fn interval(&self, n: u32) -> Duration {
        let ms = self.timeout.as_secs_f64() * 1000.0 * self.base.powi(n as i32);
        let d = Duration::from_millis(ms as u64);
        match self.max_interval {
            Some(cap) => d.min(cap),
            None => d,
        }
    }

    /// The wait after send number `n`, shortened by up to `jitter` at random.
    pub fn draw_interval<R: Rng + ?Sized>(&self, n: u32, rng: &mut R) -> Duration {
        let d = self.interval(n);
        if self.jitter <= 0.0 {
            return d;
        }
        let cut = d.as_secs_f64() * self.jitter * rng.random::<f64>();
        Duration::from_secs_f64(d.as_secs_f64() - cut)
    }

    /// Offsets from the first send of every send (the first is zero) and of the give-up, in
    /// the absence of jitter and of any answer.
    pub fn schedule(&self) -> (Vec<Duration>, Duration) {
        let mut sends = vec![Duration::ZERO];
        let mut t = Duration::ZERO;
        for n in 0..=self.tries {
            let next = t + self.interval(n);
            if let Some(limit) = self.give_up_after
                && next >= limit
            {
                return (sends, limit);
            }
            t = next;
            if n < self.tries {
                sends.push(t);
            }
        }
        (sends, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn strongswan_sends_at_0_4_11_24_47_89_and_gives_up_at_165s() {
        let (sends, give_up) = RetransmitPolicy::strongswan().schedule();
        assert_eq!(sends, ms(&[0, 4000, 11200, 24160, 47488, 89478]));
        assert_eq!(give_up, Duration::from_millis(165_060));
    }

    #[test]
    fn libreswan_doubles_from_half_a_second_and_gives_up_at_30s() {
        let (sends, give_up) = RetransmitPolicy::libreswan().schedule();
        assert_eq!(sends, ms(&[0, 500, 1500, 3500, 7500, 15500]));
        assert_eq!(give_up, Duration::from_secs(30));
    }

    #[test]
    fn jitter_only_shortens_intervals() {
        let p = RetransmitPolicy {
            jitter: 0.2,
            ..RetransmitPolicy::strongswan()
        };
        let mut rng = sim_core::RngStreams::new(1).stream("t");
        for n in 0..5 {
            for _ in 0..100 {
                let d = p.draw_interval(n, &mut rng);
                assert!(d <= p.interval(n));
                assert!(d.as_secs_f64() >= 0.8 * p.interval(n).as_secs_f64() - 1e-9);
            }
        }
    }

    #[test]
    fn max_interval_caps_each_wait() {
        let p = RetransmitPolicy {
            max_interval: Some(Duration::from_secs(10)),
            ..RetransmitPolicy::strongswan()
        };
        assert_eq!(p.interval(4), Duration::from_secs(10));
        assert_eq!(p.interval(0), Duration::from_secs(4));
    }
}
