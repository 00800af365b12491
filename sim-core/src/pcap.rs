//! Captures of simulated traffic as classic pcap files (LINKTYPE_RAW: each record starts at
//! the IP header), time-stamped with nanosecond virtual time from a fixed epoch so that the
//! same run always gives the same bytes, and Wireshark shows plausible dates.

use std::io::{self, Write};
use std::path::Path;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::output::AtomicFile;
use crate::packet::Packet;
use crate::time::SimTime;

/// Virtual time zero in a capture: 2026-01-01T00:00:00Z, as Unix seconds.
pub const PCAP_EPOCH_UNIX_SECS: u64 = 1_767_225_600;

/// Writes packets to a pcap stream.
pub struct PcapSink<W: Write> {
    writer: PcapWriter<W>,
    next_ip_id: u16,
    packets: u64,
}

fn pcap_err(e: pcap_file::PcapError) -> io::Error {
    io::Error::other(e.to_string())
}

impl<W: Write> PcapSink<W> {
    /// Starts a capture on `w` (writes the file header).
    pub fn new(w: W) -> io::Result<Self> {
        let header = PcapHeader {
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::NanoSecond,
            snaplen: 65_535,
            endianness: Endianness::Little,
            ..PcapHeader::default()
        };
        Ok(PcapSink {
            writer: PcapWriter::with_header(w, header).map_err(pcap_err)?,
            next_ip_id: 1,
            packets: 0,
        })
    }

    /// Appends `packet` as seen at virtual time `at`. IPv4 identification numbers count up
    /// per capture, so they are deterministic too.
    /// A fragmented packet is written as its fragments (one record each).
    pub fn write(&mut self, at: SimTime, packet: &Packet) -> io::Result<()> {
        let frags = packet.to_ip_fragments(self.next_ip_id);
        self.next_ip_id = self.next_ip_id.wrapping_add(1);
        let ts = std::time::Duration::from_secs(PCAP_EPOCH_UNIX_SECS)
            + std::time::Duration::from_nanos(at.as_nanos());
        for bytes in frags {
            self.writer
                .write_packet(&PcapPacket::new(ts, bytes.len() as u32, &bytes))
                .map_err(pcap_err)?;
            self.packets += 1;
        }
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Ends the capture and returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.writer.into_writer()
    }
}

impl PcapSink<AtomicFile> {
    /// A capture written to `path`, visible only once [`PcapSink::finish`] is called.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        PcapSink::new(AtomicFile::create(path)?)
    }

    /// Completes the file and renames it into place.
    pub fn finish(self) -> io::Result<()> {
        self.into_inner().commit()
    }
}
