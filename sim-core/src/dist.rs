//! Probability distributions shared by every part of the simulator (link jitter, lifetimes
//! jitter, traffic inter-arrival times, CPU costs), deserialisable from scenario files.
//!
//! One generic type serves numbers and durations: `Dist<f64>` for plain values,
//! `Dist<Duration>` for times, written in RON as
//! `Uniform(low: "0ms", high: "5ms")` or `Exponential(mean: "1s")`.

use rand::Rng;
use rand::RngExt;
use rand_distr::{Distribution, Exp, Normal, Pareto};
use serde::{Deserialize, Serialize};

use crate::time::Duration;

/// A value type a distribution can produce: convertible to and from `f64` (durations in
/// seconds).
pub trait DistValue: Copy {
    /// The value as a real number (seconds for durations).
    fn to_f64(self) -> f64;
    /// The value from a real number; durations clamp negatives to zero.
    fn from_f64(v: f64) -> Self;
}

impl DistValue for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl DistValue for Duration {
    fn to_f64(self) -> f64 {
        self.as_secs_f64()
    }
    fn from_f64(v: f64) -> Self {
        Duration::from_secs_f64(v)
    }
}

/// A distribution of values of type `T`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Dist<T> {
    /// Always the same value.
    Constant(T),
    /// Uniform on `[low, high)`.
    Uniform {
        /// Smallest value.
        low: T,
        /// Upper bound (exclusive).
        high: T,
    },
    /// Normal (Gaussian); for durations, negative draws become zero.
    Normal {
        /// Mean.
        mean: T,
        /// Standard deviation.
        std_dev: T,
    },
    /// Exponential with the given mean (memoryless inter-arrival times).
    Exponential {
        /// Mean (1 / rate).
        mean: T,
    },
    /// Pareto with minimum `scale` and tail index `shape` (heavy-tailed delays); the mean
    /// is `scale * shape / (shape - 1)` for `shape > 1`.
    Pareto {
        /// Minimum value.
        scale: T,
        /// Tail index (alpha).
        shape: f64,
    },
    /// Draws uniformly among observed values (a bootstrap of a measured sample).
    Empirical {
        /// The observed values; must not be empty.
        values: Vec<T>,
    },
}

/// Why a distribution's parameters were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid distribution: {0}")]
pub struct DistError(pub String);

impl<T: DistValue> Dist<T> {
    /// Checks the parameters; scenario loading calls this so that a bad file fails early
    /// with a clear message instead of at the first sample.
    pub fn validate(&self) -> Result<(), DistError> {
        let bad = |m: &str| Err(DistError(m.to_string()));
        let finite = |v: T| v.to_f64().is_finite();
        match self {
            Dist::Constant(v) if !finite(*v) => bad("Constant value must be finite"),
            Dist::Uniform { low, high }
                if !(finite(*low) && finite(*high)) || high.to_f64() < low.to_f64() =>
            {
                bad("Uniform needs finite low <= high")
            }
            Dist::Normal { mean, std_dev }
                if !(finite(*mean) && finite(*std_dev)) || std_dev.to_f64() < 0.0 =>
            {
                bad("Normal needs a finite mean and std_dev >= 0")
            }
            Dist::Exponential { mean } if !(mean.to_f64() > 0.0 && finite(*mean)) => {
                bad("Exponential needs mean > 0")
            }
            Dist::Pareto { scale, shape }
                if !(scale.to_f64() > 0.0
                    && finite(*scale)
                    && *shape > 0.0
                    && shape.is_finite()) =>
            {
                bad("Pareto needs scale > 0 and shape > 0")
            }
            Dist::Empirical { values } if values.is_empty() => bad("Empirical needs values"),
            Dist::Empirical { values } if !values.iter().all(|v| finite(*v)) => {
                bad("Empirical values must be finite")
            }
            _ => Ok(()),
        }
    }

    /// Draws one value. Parameters are assumed valid ([`Dist::validate`]); invalid ones give
    /// a degenerate but finite draw rather than a panic.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> T {
        T::from_f64(self.sample_f64(rng))
    }

    /// Draws one value as a real number.
    pub fn sample_f64<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Constant(v) => v.to_f64(),
            Dist::Uniform { low, high } => {
                let (l, h) = (low.to_f64(), high.to_f64());
                l + (h - l) * rng.random::<f64>()
            }
            Dist::Normal { mean, std_dev } => Normal::new(mean.to_f64(), std_dev.to_f64())
                .map(|d| d.sample(rng))
                .unwrap_or(mean.to_f64()),
            Dist::Exponential { mean } => Exp::new(1.0 / mean.to_f64())
                .map(|d| d.sample(rng))
                .unwrap_or(0.0),
            Dist::Pareto { scale, shape } => Pareto::new(scale.to_f64(), *shape)
                .map(|d| d.sample(rng))
                .unwrap_or(scale.to_f64()),
            Dist::Empirical { values } => {
                if values.is_empty() {
                    0.0
                } else {
                    values[rng.random_range(0..values.len())].to_f64()
                }
            }
        }
    }

    /// The distribution's mean (infinite for a Pareto with shape <= 1).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => v.to_f64(),
            Dist::Uniform { low, high } => (low.to_f64() + high.to_f64()) / 2.0,
            Dist::Normal { mean, .. } | Dist::Exponential { mean } => mean.to_f64(),
            Dist::Pareto { scale, shape } => {
                if *shape <= 1.0 {
                    f64::INFINITY
                } else {
                    scale.to_f64() * shape / (shape - 1.0)
                }
            }
            Dist::Empirical { values } => {
                values.iter().map(|v| v.to_f64()).sum::<f64>() / values.len().max(1) as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::RngStreams;

    fn sample_mean(d: &Dist<f64>, n: usize) -> f64 {
        let mut r = RngStreams::new(7).stream("dist-test");
        (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_the_distribution_means() {
        let dists = [
            Dist::Constant(3.0),
            Dist::Uniform {
                low: 1.0,
                high: 5.0,
            },
            Dist::Normal {
                mean: 10.0,
                std_dev: 2.0,
            },
            Dist::Exponential { mean: 0.5 },
            Dist::Pareto {
                scale: 1.0,
                shape: 3.0,
            },
            Dist::Empirical {
                values: vec![1.0, 2.0, 6.0],
            },
        ];
        for d in dists {
            d.validate().unwrap();
            let m = sample_mean(&d, 200_000);
            assert!(
                (m - d.mean()).abs() < 0.02 * d.mean().max(1.0),
                "{d:?}: {m}"
            );
        }
    }

    #[test]
    fn duration_distributions_read_from_ron() {
        let d: Dist<Duration> = ron::from_str(r#"Uniform(low: "1ms", high: "3ms")"#).unwrap();
        let mut r = RngStreams::new(1).stream("x");
        for _ in 0..1000 {
            let v = d.sample(&mut r);
            assert!(v >= Duration::from_millis(1) && v < Duration::from_millis(3));
        }
        let e: Dist<Duration> = ron::from_str(r#"Exponential(mean: 0.25)"#).unwrap();
        assert_eq!(e.mean(), 0.25);
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(
            Dist::Uniform {
                low: 2.0,
                high: 1.0
            }
            .validate()
            .is_err()
        );
        assert!(Dist::Exponential { mean: 0.0 }.validate().is_err());
        assert!(
            Dist::<f64>::Empirical { values: vec![] }
                .validate()
                .is_err()
        );
        assert!(
            Dist::Normal {
                mean: 1.0,
                std_dev: -1.0
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn negative_normal_durations_clamp_to_zero() {
        let d = Dist::Normal {
            mean: Duration::ZERO,
            std_dev: Duration::from_millis(10),
        };
        let mut r = RngStreams::new(3).stream("n");
        assert!((0..100).all(|_| d.sample(&mut r) >= Duration::ZERO));
    }
}
