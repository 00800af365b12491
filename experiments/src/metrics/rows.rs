//! The rows of `exchanges.csv` and `sa_events.csv` and how they are written: field by
//! field into the file as they come, numbers formatted without allocating (a day of 10^5
//! tunnels writes millions of rows), or kept in memory for unit tests.

use std::io;
use std::path::Path;

use serde::Serialize;
use sim_core::output::AtomicFile;

/// [`secs`] written into `buf`, without allocating; returns the bytes written.
pub(super) fn secs_into(ns: u64, buf: &mut [u8; 32]) -> &[u8] {
    let mut n = 0;
    n += u64_into(ns / 1_000_000_000, &mut buf[..20]);
    buf[n] = b'.';
    n += 1;
    let mut frac = ns % 1_000_000_000;
    for k in (0..9).rev() {
        buf[n + k] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    &buf[..n + 9]
}

/// Decimal digits of `v` at the start of `buf` (at least 20 bytes); returns their count.
pub(super) fn u64_into(mut v: u64, buf: &mut [u8]) -> usize {
    let mut tmp = [0u8; 20];
    let mut k = tmp.len();
    loop {
        k -= 1;
        tmp[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = tmp.len() - k;
    buf[..len].copy_from_slice(&tmp[k..]);
    len
}

/// Decimal digits of `v`, written into `buf`.
pub(super) fn u32_into(v: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut wide = [0u8; 20];
    let n = u64_into(u64::from(v), &mut wide);
    buf[..n].copy_from_slice(&wide[..n]);
    &buf[..n]
}

/// Writes one CSV row field by field, with no allocation (a day of 10^5 tunnels writes
/// millions of rows).
pub(super) fn write_fields(w: &mut csv::Writer<AtomicFile>, fields: &[&[u8]]) -> io::Result<()> {
    fields
        .iter()
        .try_for_each(|f| w.write_field(f))
        .and_then(|()| w.write_record(None::<&[u8]>))
        .map_err(io::Error::other)
}

/// Seconds with nanosecond precision, exactly (no float rounding), for CSV and JSON.
pub fn secs(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

#[derive(Clone, Debug, Serialize)]
pub struct ExchangeRow {
    /// Tunnel index.
    pub tunnel: u32,
    /// `IKEv2` or `IKEv1`.
    pub ike_version: String,
    /// Exchange type name.
    pub exchange: String,
    /// establish / rekey-child / rekey-ike / delete / dpd / create-child.
    pub purpose: String,
    /// Node that initiated the exchange.
    pub initiator: String,
    /// The other node.
    pub responder: String,
    /// First transmission of the first request, seconds.
    pub start_s: String,
    /// Completion at the initiator, seconds.
    pub end_s: String,
    /// end - start, seconds.
    pub latency_s: String,
    /// Retransmitted requests.
    pub retransmissions: u32,
    /// success / refused:NOTIFY / timeout / aborted:why.
    pub outcome: String,
}

/// One row of `sa_events.csv`.
#[derive(Clone, Debug, Serialize)]
pub struct SaRow {
    /// When, seconds.
    pub time_s: String,
    /// The node whose SA it is.
    pub node: String,
    /// Tunnel index.
    pub tunnel: u32,
    /// ike / child.
    pub sa_kind: String,
    /// SPI(s) in hex.
    pub spi: String,
    /// installed / rekeyed / deleted / expired.
    pub event: String,
    /// Why.
    pub reason: String,
}

/// Where the rows of one CSV go: written as they come (a run), kept in memory (unit
/// tests), or nowhere (turned off in the scenario's outputs).
pub(super) enum Rows<T> {
    File(Box<csv::Writer<AtomicFile>>),
    Memory(Vec<T>),
    Off,
}

impl<T: Serialize> Rows<T> {
    pub(super) fn open(path: &Path, header: &[&str]) -> io::Result<Self> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(AtomicFile::create(path)?);
        w.write_record(header).map_err(io::Error::other)?;
        Ok(Rows::File(Box::new(w)))
    }

    pub(super) fn push(&mut self, row: T) -> io::Result<()> {
        match self {
            Rows::File(w) => w.serialize(row).map_err(io::Error::other),
            Rows::Memory(v) => {
                v.push(row);
                Ok(())
            }
            Rows::Off => Ok(()),
        }
    }

    /// Flushes and renames a written file into place.
    pub(super) fn finish(&mut self) -> io::Result<()> {
        if let Rows::File(w) = std::mem::replace(self, Rows::Off) {
            let file = w
                .into_inner()
                .map_err(|e| io::Error::other(e.to_string()))?;
            file.commit()?;
        }
        Ok(())
    }
}

impl<T> std::fmt::Debug for Rows<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rows::File(_) => "Rows::File",
            Rows::Memory(_) => "Rows::Memory",
            Rows::Off => "Rows::Off",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_formatted_without_allocating_as_secs_formats_them() {
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            86_400_123_456_789,
            u64::MAX,
        ] {
            let mut buf = [0u8; 32];
            assert_eq!(secs_into(ns, &mut buf), secs(ns).as_bytes());
        }
        for v in [0, 7, 10, 4_294_967_295] {
            let mut buf = [0u8; 10];
            assert_eq!(u32_into(v, &mut buf), v.to_string().as_bytes());
        }
    }
}
