//! `ikesim inspect`: what is in a capture, IKE packet by IKE packet, decrypted when the
//! Wireshark decryption table is given. Works on our captures and on real ones.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use ike_model::ikev2::keylog::parse_decryption_table_line;
use ike_model::ikev2::keys::IkeSaKeys;
use ike_model::ikev2::message::Message;
use ike_model::ikev2::payload::{Payload, encoded_len};
use ike_model::ikev2::protect::{OpenError, open};
use serde::Serialize;
use sim_core::Transport;
use sim_core::pcap_read::read_capture;

/// One IKE packet as `inspect` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct InspectedPacket {
    /// Frame number in the capture (from 1).
    pub frame: u64,
    /// Seconds since the first frame.
    pub time_rel: f64,
    /// `ip:port`.
    pub src: String,
    /// `ip:port`.
    pub dst: String,
    /// 1 or 2.
    pub ike_version: u8,
    /// Exchange name.
    pub exchange: String,
    /// Message ID.
    pub msgid: u32,
    /// `I-`, `-R`, `IR` or `--`.
    pub flags: String,
    /// IKE length.
    pub length: usize,
    /// Initiator SPI (hex).
    pub spi_i: String,
    /// Responder SPI (hex).
    pub spi_r: String,
    /// Whether an SK payload was opened.
    pub decrypted: bool,
    /// `correct`, `incorrect`, or empty when not protected or no keys.
    pub icv: String,
    /// Payloads as `Name/length`, the SK payload first and then its contents when decrypted.
    pub payloads: Vec<String>,
    /// Decode error, if the message is malformed.
    pub error: Option<String>,
}

/// Loads `ikev2_decryption_table` from a folder (a Wireshark profile or a run's output).
pub fn load_keys(dir: &Path) -> Result<BTreeMap<(u64, u64), IkeSaKeys>> {
    let path = dir.join("ikev2_decryption_table");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut keys = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (spi_i, spi_r, k) = parse_decryption_table_line(line)
            .with_context(|| format!("{}:{}", path.display(), i + 1))?;
        keys.insert((spi_i, spi_r), k);
    }
    Ok(keys)
}

fn listed(p: &Payload) -> String {
    format!("{p}/{}", encoded_len(p))
}

/// Reads the capture and describes every IKE packet (UDP 500, and UDP 4500 after the
/// non-ESP marker). NAT keepalives and ESP are skipped.
pub fn inspect(
    capture: &Path,
    keys: &BTreeMap<(u64, u64), IkeSaKeys>,
) -> Result<Vec<InspectedPacket>> {
    let bytes = std::fs::read(capture).with_context(|| format!("reading {}", capture.display()))?;
    let contents =
        read_capture(&bytes[..]).with_context(|| format!("reading {}", capture.display()))?;
    let t0 = contents.datagrams.first().map_or(0, |d| d.timestamp_ns);
    let mut out = Vec::new();
    for d in &contents.datagrams {
        let Transport::Udp { src_port, dst_port } = d.transport else {
            continue;
        };
        let ike: &[u8] = if src_port == 4500 || dst_port == 4500 {
            match d.payload.strip_prefix(&[0u8; 4][..]) {
                Some(rest) => rest,
                None => continue, // ESP in UDP or a keepalive
            }
        } else if src_port == 500 || dst_port == 500 {
            &d.payload
        } else {
            continue;
        };
        if ike.len() < 28 {
            continue;
        }
        let version = ike[17] >> 4;
        let flags_byte = ike[19];
        let mut p = InspectedPacket {
            frame: d.frame,
            time_rel: (d.timestamp_ns - t0) as f64 / 1e9,
            src: format!("{}:{src_port}", d.src),
            dst: format!("{}:{dst_port}", d.dst),
            ike_version: version,
            exchange: format!("exchange {}", ike[18]),
            msgid: u32::from_be_bytes(ike[20..24].try_into().expect("4 bytes")),
            flags: String::new(),
            length: ike.len(),
            spi_i: hex::encode(&ike[0..8]),
            spi_r: hex::encode(&ike[8..16]),
            decrypted: false,
            icv: String::new(),
            payloads: Vec::new(),
            error: None,
        };
        if version == 2 {
            p.flags = format!(
                "{}{}",
                if flags_byte & 0x08 != 0 { 'I' } else { '-' },
                if flags_byte & 0x20 != 0 { 'R' } else { '-' }
            );
            describe_v2(ike, keys, &mut p);
        } else {
            p.exchange = format!("ISAKMP exchange {}", ike[18]);
            p.flags = format!("0x{flags_byte:02x}");
        }
        out.push(p);
    }
    Ok(out)
}

fn describe_v2(ike: &[u8], keys: &BTreeMap<(u64, u64), IkeSaKeys>, p: &mut InspectedPacket) {
    let m = match Message::decode(ike) {
        Ok(m) => m,
        Err(e) => {
            p.error = Some(e.to_string());
            return;
        }
    };
    p.exchange = m.header.exchange.to_string();
    p.payloads = m.payloads.iter().map(listed).collect();
    if !m.is_protected() {
        return;
    }
    let Some(k) = keys.get(&(m.header.spi_i, m.header.spi_r)) else {
        return;
    };
    match open(k, ike) {
        Ok(o) => {
            p.decrypted = true;
            p.icv = "correct".into();
            p.payloads.extend(o.inner.iter().map(listed));
        }
        // The outer message already decoded, so a decode error here is in the decrypted
        // inner payloads: the ICV had verified.
        Err(OpenError::Decode(e)) => {
            p.icv = "correct".into();
            p.error = Some(format!("inner payloads: {e}"));
        }
        Err(e) => {
            p.icv = "incorrect".into();
            p.error = Some(e.to_string());
        }
    }
}

/// The text report: one line per packet.
pub fn render_text(packets: &[InspectedPacket]) -> String {
    let mut s = String::new();
    for p in packets {
        let icv = if p.icv.is_empty() {
            String::new()
        } else {
            format!(" [ICV {}]", p.icv)
        };
        let _ = writeln!(
            s,
            "{:>4} {:>10.6} {} -> {} v{} {} {} {} {}B spi={}/{}{icv} | {}{}",
            p.frame,
            p.time_rel,
            p.src,
            p.dst,
            p.ike_version,
            p.exchange,
            p.msgid,
            p.flags,
            p.length,
            p.spi_i,
            p.spi_r,
            p.payloads.join(" "),
            p.error
                .as_ref()
                .map(|e| format!(" !! {e}"))
                .unwrap_or_default()
        );
    }
    s
}
