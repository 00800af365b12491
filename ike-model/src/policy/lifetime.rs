//! SA lifetimes: when a peer rekeys an SA it installed and when the SA expires hard.
//!
//! Each peer schedules from the moment it installs the SA (the exchange responder installs
//! first), so the two peers' timers differ by the exchange latency plus their jitter.
//!
//! - strongSwan: rekey at `rekey_time - jitter`, jitter drawn from `[0, rand_time]`; an
//!   IKE SA is deleted `over_time` after its rekey time, a CHILD_SA expires at the fixed
//!   `life_time`. strongSwan keeps whole seconds: `rekey - random() % rand_time` for IKE
//!   SAs and `rekey - floor((rand_time + 1) x U)` for CHILD_SAs, which is what a 1 s
//!   `granularity` reproduces (it changes when two peers' timers can coincide).
//! - libreswan: the SA expires at `lifetime`; the peer that initiated the SA rekeys
//!   `margin x (1 + U[0, fuzz])` before expiry, the responder `margin / 2` before — collisions
//!   are avoided by role rather than by symmetric jitter.

use rand::Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::Duration;

/// How an SA's hard expiry is set (strongSwan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HardExpiry {
    /// `over_time` after the (jittered) rekey time: strongSwan's IKE SAs.
    OverTime(Duration),
    /// At a fixed time after installation: strongSwan's CHILD_SA `life_time`.
    LifeTime(Duration),
}

/// How a peer times the rekey and the expiry of one kind of SA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LifetimePolicy {
    /// strongSwan semantics.
    StrongSwan {
        /// Nominal rekey time after installation.
        rekey_time: Duration,
        /// Width of the random amount subtracted from `rekey_time`.
        rand_time: Duration,
        /// Hard expiry.
        hard: HardExpiry,
        /// Timer granularity (1 s in strongSwan); `None` for continuous jitter.
        #[serde(default)]
        granularity: Option<Duration>,
        /// Whether this is an IKE SA (`random() % rand`) or a CHILD_SA
        /// (`floor((rand + 1) x U)`) draw when granular.
        #[serde(default)]
        ike: bool,
    },
    /// libreswan semantics.
    Libreswan {
        /// Lifetime of the SA (hard expiry).
        lifetime: Duration,
        /// `rekeymargin`.
        margin: Duration,
        /// `rekeyfuzz` as a fraction (1.0 = 100 %).
        fuzz: f64,
    },
    /// Never rekey and never expire (for experiments about setup only).
    Infinite,
}

/// When an installed SA is due for rekeying and for hard expiry, measured from its
/// installation at this peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaTimers {
    /// Start a rekey after this long; `None` never.
    pub rekey_after: Option<Duration>,
    /// Delete the SA after this long; `None` never.
    pub expire_after: Option<Duration>,
}

impl LifetimePolicy {
    /// strongSwan's IKE SA defaults: rekey 4 h, over 10 % (1440 s), rand = over.
    pub fn strongswan_ike() -> Self {
        LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(4 * 3600),
            rand_time: Duration::from_secs(1440),
            hard: HardExpiry::OverTime(Duration::from_secs(1440)),
            granularity: Some(Duration::from_secs(1)),
            ike: true,
        }
    }

    /// strongSwan's CHILD_SA defaults: rekey 1 h, life 1.1 x rekey (3960 s), rand = 360 s.
    pub fn strongswan_child() -> Self {
        LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(3600),
            rand_time: Duration::from_secs(360),
            hard: HardExpiry::LifeTime(Duration::from_secs(3960)),
            granularity: Some(Duration::from_secs(1)),
            ike: false,
        }
    }

    /// A Juniper SRX-like peer: hard lifetime `seconds` (IKE 28800, IPsec 3600 by default),
    /// rekey at 90 % of it without jitter. (Junos' exact soft-lifetime rule is not in our
    /// references; this is an assumption a scenario can override.)
    pub fn srx(seconds: u64) -> Self {
        LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(seconds * 9 / 10),
            rand_time: Duration::ZERO,
            hard: HardExpiry::LifeTime(Duration::from_secs(seconds)),
            granularity: Some(Duration::from_secs(1)),
            ike: false,
        }
    }

    /// libreswan's defaults for both IKE and IPsec SAs: 8 h, margin 9 min, fuzz 100 %.
    pub fn libreswan() -> Self {
        LifetimePolicy::Libreswan {
            lifetime: Duration::from_secs(8 * 3600),
            margin: Duration::from_secs(540),
            fuzz: 1.0,
        }
    }

    /// Checks the values a scenario gave.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            LifetimePolicy::StrongSwan {
                rekey_time,
                rand_time,
                hard,
                ..
            } => {
                if *rekey_time == Duration::ZERO {
                    return Err("rekey_time must be > 0".into());
                }
                if rand_time > rekey_time {
                    return Err(format!(
                        "rand_time {rand_time} is longer than rekey_time {rekey_time}"
                    ));
                }
                if let HardExpiry::LifeTime(l) = hard
                    && l < rekey_time
                {
                    return Err(format!(
                        "life_time {l} is shorter than rekey_time {rekey_time}"
                    ));
                }
                Ok(())
            }
            LifetimePolicy::Libreswan {
                lifetime,
                margin,
                fuzz,
            } => {
                if !(fuzz.is_finite() && *fuzz >= 0.0) {
                    return Err(format!("rekeyfuzz {fuzz} must be >= 0"));
                }
                if margin.as_secs_f64() * (1.0 + fuzz) >= lifetime.as_secs_f64() {
                    return Err(format!(
                        "rekeymargin {margin} x (1 + fuzz) must be shorter than lifetime {lifetime}"
                    ));
                }
                Ok(())
            }
            LifetimePolicy::Infinite => Ok(()),
        }
    }

    /// Draws the timers of an SA this peer just installed; `initiated` tells whether this
    /// peer initiated the exchange that created it (libreswan's margins depend on it).
    pub fn draw<R: Rng + ?Sized>(&self, initiated: bool, rng: &mut R) -> SaTimers {
        match self {
            LifetimePolicy::StrongSwan {
                rekey_time,
                rand_time,
                hard,
                granularity,
                ike,
            } => {
                let jitter = match granularity {
                    Some(g) if g.as_nanos() > 0 && rand_time.as_nanos() > 0 => {
                        let units = rand_time.as_nanos() / g.as_nanos();
                        let k = if *ike {
                            rng.random_range(0..units.max(1))
                        } else {
                            ((units + 1) as f64 * rng.random::<f64>()).floor() as u64
                        };
                        Duration(k * g.as_nanos())
                    }
                    _ => Duration::from_secs_f64(rand_time.as_secs_f64() * rng.random::<f64>()),
                };
                let rekey = *rekey_time - jitter;
                let expire = match hard {
                    HardExpiry::OverTime(o) => rekey + *o,
                    HardExpiry::LifeTime(l) => *l,
                };
                SaTimers {
                    rekey_after: Some(rekey),
                    expire_after: Some(expire),
                }
            }
            LifetimePolicy::Libreswan {
                lifetime,
                margin,
                fuzz,
            } => {
                let before = if initiated {
                    margin.as_secs_f64() * (1.0 + fuzz * rng.random::<f64>())
                } else {
                    margin.as_secs_f64() / 2.0
                };
                SaTimers {
                    rekey_after: Some(*lifetime - Duration::from_secs_f64(before)),
                    expire_after: Some(*lifetime),
                }
            }
            LifetimePolicy::Infinite => SaTimers {
                rekey_after: None,
                expire_after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> sim_core::SimRng {
        sim_core::RngStreams::new(5).stream("lifetime")
    }

    #[test]
    fn strongswan_child_rekeys_in_whole_seconds_within_3240_to_3600_and_expires_at_3960() {
        let p = LifetimePolicy::strongswan_child();
        let mut r = rng();
        let mut seen_edges = (false, false);
        for _ in 0..20_000 {
            let t = p.draw(true, &mut r);
            let rekey = t.rekey_after.unwrap();
            assert_eq!(rekey.as_nanos() % 1_000_000_000, 0, "whole seconds");
            assert!(rekey >= Duration::from_secs(3240) && rekey <= Duration::from_secs(3600));
            seen_edges.0 |= rekey == Duration::from_secs(3240);
            seen_edges.1 |= rekey == Duration::from_secs(3600);
            assert_eq!(t.expire_after, Some(Duration::from_secs(3960)));
        }
        assert_eq!(
            seen_edges,
            (true, true),
            "both ends of [rekey - rand, rekey] occur"
        );
    }

    #[test]
    fn strongswan_ike_deletes_over_time_after_its_own_rekey_time() {
        let p = LifetimePolicy::strongswan_ike();
        let mut r = rng();
        for _ in 0..1000 {
            let t = p.draw(false, &mut r);
            let rekey = t.rekey_after.unwrap();
            assert!(
                rekey > Duration::from_secs(14400 - 1440) && rekey <= Duration::from_secs(14400)
            );
            assert_eq!(t.expire_after.unwrap() - rekey, Duration::from_secs(1440));
        }
    }

    #[test]
    fn libreswan_initiator_rekeys_9_to_18_min_early_responder_4_5_min() {
        let p = LifetimePolicy::libreswan();
        let mut r = rng();
        for _ in 0..1000 {
            let i = p.draw(true, &mut r).rekey_after.unwrap();
            assert!(
                i >= Duration::from_secs(28800 - 1080) && i <= Duration::from_secs(28800 - 540)
            );
        }
        let resp = p.draw(false, &mut r);
        assert_eq!(resp.rekey_after, Some(Duration::from_secs(28800 - 270)));
        assert_eq!(resp.expire_after, Some(Duration::from_secs(28800)));
    }

    #[test]
    fn continuous_jitter_is_not_whole_seconds() {
        let p = LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(180),
            rand_time: Duration::from_secs(18),
            hard: HardExpiry::LifeTime(Duration::from_secs(198)),
            granularity: None,
            ike: false,
        };
        let mut r = rng();
        let t = p.draw(true, &mut r).rekey_after.unwrap();
        assert_ne!(t.as_nanos() % 1_000_000_000, 0);
    }

    #[test]
    fn inconsistent_lifetimes_are_refused() {
        let bad = LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(100),
            rand_time: Duration::from_secs(10),
            hard: HardExpiry::LifeTime(Duration::from_secs(50)),
            granularity: None,
            ike: false,
        };
        assert!(bad.validate().is_err());
        assert!(LifetimePolicy::strongswan_child().validate().is_ok());
        assert!(LifetimePolicy::libreswan().validate().is_ok());
    }
}
