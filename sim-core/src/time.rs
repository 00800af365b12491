//! Virtual time: an integer count of nanoseconds since the start of a run.
//!
//! No floating point and no wall clock: two runs of the same scenario see exactly the same
//! instants. [`Duration`] parses and prints human forms ("250ms", "4h", "1m30s") so scenario
//! files can say what they mean.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

/// A point on the virtual clock, in nanoseconds since the start of the run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A length of virtual time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time; used as "never" for timers.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start of the run, for reports only (never for scheduling).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`SimTime::MAX`] instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);
    /// The longest representable duration.
    pub const MAX: Duration = Duration(u64::MAX);

    /// A duration of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        Duration(n)
    }
    /// A duration of `n` microseconds.
    pub const fn from_micros(n: u64) -> Self {
        Duration(n * NS_PER_US)
    }
    /// A duration of `n` milliseconds.
    pub const fn from_millis(n: u64) -> Self {
        Duration(n * NS_PER_MS)
    }
    /// A duration of `n` seconds.
    pub const fn from_secs(n: u64) -> Self {
        Duration(n * NS_PER_S)
    }

    /// A duration from fractional seconds, rounded to the nearest nanosecond; negative and
    /// NaN inputs give zero, huge ones saturate. Used where a distribution is sampled.
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_nan() || s <= 0.0 {
            return Duration::ZERO;
        }
        let ns = (s * NS_PER_S as f64).round();
        if ns >= u64::MAX as f64 {
            Duration::MAX
        } else {
            Duration(ns as u64)
        }
    }

    /// Length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Length in seconds, for reports and distributions (never for scheduling).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// `self * k`, saturating.
    pub fn saturating_mul(self, k: u64) -> Duration {
        Duration(self.0.saturating_mul(k))
    }
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    fn add(self, d: Duration) -> SimTime {
        SimTime(self.0.checked_add(d.0).expect("virtual clock overflow"))
    }
}

impl AddAssign<Duration> for SimTime {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = Duration;
    fn sub(self, rhs: SimTime) -> Duration {
        Duration(self.0.checked_sub(rhs.0).expect("negative time difference"))
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl Mul<u64> for Duration {
    type Output = Duration;
    fn mul(self, k: u64) -> Duration {
        self.saturating_mul(k)
    }
}

/// Prints seconds with nanosecond precision, e.g. `12.000300000`, the form used in traces.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.0 / NS_PER_S, self.0 % NS_PER_S)
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={self}s")
    }
}

/// Prints the shortest exact human form: `0s`, `250ms`, `1h30m`, `1.5us`, ...
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        if ns.is_multiple_of(NS_PER_S) {
            let mut s = ns / NS_PER_S;
            let (h, m);
            h = s / 3600;
            s %= 3600;
            m = s / 60;
            s %= 60;
            if h > 0 {
                write!(f, "{h}h")?;
            }
            if m > 0 {
                write!(f, "{m}m")?;
            }
            if s > 0 {
                write!(f, "{s}s")?;
            }
            return Ok(());
        }
        for (unit, name) in [(NS_PER_MS, "ms"), (NS_PER_US, "us"), (1, "ns")] {
            if ns.is_multiple_of(unit) {
                return write!(f, "{}{name}", ns / unit);
            }
        }
        unreachable!("every integer is a multiple of 1")
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDurationError {
    /// The string was empty.
    #[error("empty duration; expected a number with a unit such as \"250ms\", \"30s\" or \"4h\"")]
    Empty,
    /// A negative sign was given.
    #[error("negative duration \"{0}\"; durations must be zero or positive")]
    Negative(String),
    /// A number was not followed by a known unit.
    #[error(
        "bad duration \"{0}\"; expected a number with a unit (ns, us, ms, s, m, h, d), e.g. \"250ms\" or \"1h30m\""
    )]
    Malformed(String),
    /// The value does not fit in 64-bit nanoseconds (about 584 years).
    #[error("duration \"{0}\" is too long")]
    Overflow(String),
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    /// Parses sums of `<number><unit>` terms: `"250ms"`, `"1.5s"`, `"1h30m"`, `"4h"`.
    /// Units: ns, us (or µs), ms, s, m, h, d. Fractions are exact to the nanosecond.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ParseDurationError::Empty);
        }
        if s.starts_with('-') {
            return Err(ParseDurationError::Negative(input.to_string()));
        }
        let malformed = || ParseDurationError::Malformed(input.to_string());
        let overflow = || ParseDurationError::Overflow(input.to_string());
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(malformed)?;
            let (num, tail) = rest.split_at(num_end);
            if num.is_empty() {
                return Err(malformed());
            }
            let unit_end = tail
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(tail.len());
            let (unit, next) = tail.split_at(unit_end);
            let scale = match unit.trim() {
                "ns" => 1,
                "us" | "µs" => NS_PER_US,
                "ms" => NS_PER_MS,
                "s" => NS_PER_S,
                "m" | "min" => 60 * NS_PER_S,
                "h" => 3600 * NS_PER_S,
                "d" => 86_400 * NS_PER_S,
                _ => return Err(malformed()),
            };
            total = total
                .checked_add(
                    scaled(num, scale)
                        .ok_or_else(malformed)?
                        .ok_or_else(overflow)?,
                )
                .ok_or_else(overflow)?;
            rest = next.trim_start();
        }
        Ok(Duration(total))
    }
}

/// `num` (decimal, optional fraction) times `scale` nanoseconds, exactly. Outer `None`: not a
/// number; inner `None`: overflow. Fractions finer than a nanosecond are truncated.
fn scaled(num: &str, scale: u64) -> Option<Option<u64>> {
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let int_v: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let Some(mut ns) = int_v.checked_mul(scale) else {
        return Some(None);
    };
    let mut place = scale;
    for d in frac.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        ns = match ns.checked_add(u64::from(d - b'0') * place) {
            Some(v) => v,
            None => return Some(None),
        };
    }
    Some(Some(ns))
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Accepts a string with units (`"250ms"`) or a plain number of seconds (`0.25`, `30`).
impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"250ms\", \"30s\", \"4h\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                v.checked_mul(NS_PER_S)
                    .map(Duration)
                    .ok_or_else(|| E::custom("duration too long"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if v < 0 {
                    Err(E::custom(format!(
                        "negative duration {v}; durations must be zero or positive"
                    )))
                } else {
                    self.visit_u64(v as u64)
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                if v.is_nan() || v < 0.0 {
                    Err(E::custom(format!(
                        "negative duration {v}; durations must be zero or positive"
                    )))
                } else {
                    Ok(Duration::from_secs_f64(v))
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        let cases = [
            ("250ms", 250 * NS_PER_MS),
            ("4h", 4 * 3600 * NS_PER_S),
            ("1h30m", 5400 * NS_PER_S),
            ("1.5s", 1_500_000_000),
            ("0.1s", 100_000_000),
            ("7ns", 7),
            ("20us", 20_000),
            ("2d", 172_800 * NS_PER_S),
            ("1m 30s", 90 * NS_PER_S),
        ];
        for (s, ns) in cases {
            assert_eq!(s.parse::<Duration>().unwrap(), Duration(ns), "{s}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(matches!(
            "-5s".parse::<Duration>(),
            Err(ParseDurationError::Negative(_))
        ));
        assert!(matches!(
            "".parse::<Duration>(),
            Err(ParseDurationError::Empty)
        ));
        for bad in ["5", "5x", "s", "1..2s", "ms5"] {
            assert!(
                matches!(
                    bad.parse::<Duration>(),
                    Err(ParseDurationError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            "99999999999d".parse::<Duration>(),
            Err(ParseDurationError::Overflow(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for ns in [
            0,
            1,
            999,
            1_000,
            250 * NS_PER_MS,
            NS_PER_S,
            5400 * NS_PER_S,
            1_500_000_001,
        ] {
            let d = Duration(ns);
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d, "{d}");
        }
        assert_eq!(Duration::from_secs(5400).to_string(), "1h30m");
        assert_eq!(SimTime(12_000_300_000).to_string(), "12.000300000");
    }
}
