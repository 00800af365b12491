//! The ESP data plane of a run: traffic sources per tunnel and direction, real ESP packets
//! (RFC 4303, AES-CBC + HMAC) on the CHILD_SA the sender uses for outbound traffic at that
//! moment (UDP-encapsulated on 4500 when NAT-T applies), and the receiver's verdict with the
//! SAs it holds. Counters per tunnel and direction like a gateway's tunnel statistics, and
//! outages as time intervals in which offered packets were not delivered.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use ike_model::esp::{EspKeys, Protection, open_as, seal_as, spi_of};
use rand::{Rng, RngExt};
use serde::Serialize;
use sim_core::{Duration, SimRng, SimTime};

use crate::metrics::secs;

/// Counters of one tunnel in one direction.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counters {
    /// Packets the source offered.
    pub offered: u64,
    /// Offered while the sender had no CHILD_SA for outbound traffic.
    pub no_sa: u64,
    /// Encrypted and sent.
    pub sent: u64,
    /// Decrypted by the receiver.
    pub delivered: u64,
    /// Dropped by the receiver: no SA with that SPI.
    pub unknown_spi: u64,
    /// Dropped by the receiver: integrity check failed.
    pub bad_icv: u64,
}

#[derive(Debug, Default)]
struct Flow {
    counters: Counters,
    /// Per offered packet: (time, delivered).
    log: Vec<(SimTime, bool)>,
}

/// Counters of one ESP SA (one SPI, one direction), as `swanctl --list-sas` or a Cisco's
/// `show crypto ipsec sa` shows them.
#[derive(Clone, Debug, Default)]
struct SaCounters {
    flow: FlowKey,
    /// Encrypted and sent by the sender.
    encrypted: u64,
    /// Decrypted and verified by the receiver.
    decrypted: u64,
    /// Refused by the receiver: it holds no SA with this SPI.
    unknown_spi: u64,
    /// Refused by the receiver: integrity check failed.
    bad_icv: u64,
    first: SimTime,
    last: SimTime,
}

/// One direction of a tunnel: 0 = initiator to responder, 1 = back.
pub type FlowKey = (u32, u8);

/// The data plane of a run.
#[derive(Debug, Default)]
pub struct DataPlane {
    flows: BTreeMap<FlowKey, Flow>,
    seq: BTreeMap<u32, u32>,
    in_flight: BTreeMap<u64, (FlowKey, usize)>,
    /// Per outbound SPI.
    sas: BTreeMap<u32, SaCounters>,
    /// `esp_sa` lines (Wireshark) of every SA that carried traffic.
    esp_sa: std::collections::BTreeSet<String>,
    /// Whether `esp_sa` is kept (only a capture needs it: a line is formatted per packet).
    keep_esp_sa: bool,
    /// How packets are protected (Modeled crypto without a capture skips AES and HMAC).
    protection: Protection,
}

/// An ESP packet to put on the wire.
pub struct EspSend {
    /// The ESP bytes.
    pub bytes: Vec<u8>,
    /// Encapsulate in UDP 4500.
    pub encap: bool,
}

/// The wait until the next packet of a source.
pub fn next_gap(rate_pps: f64, poisson: bool, rng: &mut SimRng) -> Duration {
    let mean = 1.0 / rate_pps.max(1e-9);
    let s = if poisson {
        let u: f64 = rng.random::<f64>();
        -mean * (1.0 - u).ln()
    } else {
        mean
    };
    Duration::from_secs_f64(s)
}

/// A period of an on/off source: `mean`, or an exponential draw with that mean.
pub fn period(mean: Duration, exponential: bool, rng: &mut SimRng) -> Duration {
    if exponential {
        let u: f64 = rng.random::<f64>();
        Duration::from_secs_f64(-mean.as_secs_f64() * (1.0 - u).ln())
    } else {
        mean
    }
}

/// An inner IPv4/UDP packet of `bytes` between the gateways' addresses (port 5000 to 5000,
/// zero UDP checksum, which IPv4 allows).
fn inner_packet(src: IpAddr, dst: IpAddr, bytes: u32) -> Vec<u8> {
    let len = bytes.max(28) as usize;
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
        p[12..16].copy_from_slice(&s.octets());
        p[16..20].copy_from_slice(&d.octets());
    }
    let sum = (0..20).step_by(2).fold(0u32, |a, k| {
        a + u32::from(u16::from_be_bytes([p[k], p[k + 1]]))
    });
    let folded = (sum & 0xffff) + (sum >> 16);
    p[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    p[20..22].copy_from_slice(&5000u16.to_be_bytes());
    p[22..24].copy_from_slice(&5000u16.to_be_bytes());
    p[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
    p
}

impl DataPlane {
    /// A data plane protecting packets as `protection` says, keeping Wireshark's `esp_sa`
    /// table when `esp_sa_table` (a run with a capture).
    pub fn new(protection: Protection, esp_sa_table: bool) -> Self {
        DataPlane {
            protection,
            keep_esp_sa: esp_sa_table,
            ..Self::default()
        }
    }

    /// A packet offered on `flow` at `now`; `outbound` is the sender's SA (peer SPI, keys,
    /// NAT-T) if it has one; `addrs` are the inner packet's, `outer_dst` where the ESP goes
    /// (a NAT's public address behind NAT-T), for Wireshark's `esp_sa` table. Returns the
    /// ESP packet to send.
    #[allow(clippy::too_many_arguments)]
    pub fn offer(
        &mut self,
        now: SimTime,
        flow: FlowKey,
        outbound: Option<(u32, EspKeys, bool)>,
        addrs: (IpAddr, IpAddr),
        outer_dst: IpAddr,
        bytes: u32,
        rng: &mut SimRng,
    ) -> Option<EspSend> {
        let f = self.flows.entry(flow).or_default();
        f.counters.offered += 1;
        let Some((spi, keys, encap)) = outbound else {
            f.counters.no_sa += 1;
            f.log.push((now, false));
            return None;
        };
        let seq = self.seq.entry(spi).or_insert(0);
        *seq += 1;
        let mut iv = vec![0u8; keys.encr.block_len()];
        rng.fill_bytes(&mut iv);
        let inner = inner_packet(addrs.0, addrs.1, bytes);
        let esp = seal_as(self.protection, &keys, spi, *seq, &iv, 4, &inner).expect("our lengths");
        if self.keep_esp_sa {
            self.esp_sa
                .insert(ike_model::esp::esp_sa_line(addrs.0, outer_dst, spi, &keys));
        }
        f.counters.sent += 1;
        f.log.push((now, false));
        let sa = self.sas.entry(spi).or_insert_with(|| SaCounters {
            flow,
            first: now,
            ..SaCounters::default()
        });
        sa.encrypted += 1;
        sa.last = now;
        Some(EspSend { bytes: esp, encap })
    }

    /// Notes that the packet just offered on `flow` went out as packet `id`.
    pub fn sent_as(&mut self, flow: FlowKey, id: u64) {
        let k = self.flows[&flow].log.len() - 1;
        self.in_flight.insert(id, (flow, k));
    }

    /// An ESP packet `bytes` (packet `id`) reached a peer whose SA for its SPI is `keys`;
    /// true when it decrypted and verified.
    pub fn receive(&mut self, id: u64, bytes: &[u8], keys: Option<EspKeys>) -> bool {
        let Some((flow, k)) = self.in_flight.remove(&id) else {
            return false;
        };
        let f = self.flows.get_mut(&flow).expect("flow of a sent packet");
        let sa = Self::spi(bytes).and_then(|spi| self.sas.get_mut(&spi));
        match keys {
            None => {
                f.counters.unknown_spi += 1;
                if let Some(sa) = sa {
                    sa.unknown_spi += 1;
                }
            }
            Some(keys) => match open_as(self.protection, &keys, bytes) {
                Ok(_) => {
                    f.counters.delivered += 1;
                    f.log[k].1 = true;
                    if let Some(sa) = sa {
                        sa.decrypted += 1;
                    }
                    return true;
                }
                Err(_) => {
                    f.counters.bad_icv += 1;
                    if let Some(sa) = sa {
                        sa.bad_icv += 1;
                    }
                }
            },
        }
        false
    }

    /// At the end of the run: the packets not among `travelling` (still scheduled to
    /// arrive somewhere) were lost in the network.
    pub fn settle(&mut self, travelling: &std::collections::BTreeSet<u64>) {
        self.in_flight.retain(|id, _| travelling.contains(id));
    }

    /// Log indices of the packets of `flow` still on their way when the run ended.
    fn pending(&self, flow: FlowKey) -> std::collections::BTreeSet<usize> {
        self.in_flight
            .values()
            .filter(|(f, _)| *f == flow)
            .map(|(_, k)| *k)
            .collect()
    }

    /// The SPI of an ESP packet.
    pub fn spi(bytes: &[u8]) -> Option<u32> {
        spi_of(bytes)
    }

    /// Writes `traffic.csv` (one row per tunnel and direction) whole.
    pub fn write_csv(&self, dir: &Path) -> std::io::Result<()> {
        let mut s = String::from(
            "tunnel,direction,offered,no_sa,sent,delivered,lost_in_network,unknown_spi,bad_icv,in_flight_at_end\n",
        );
        for (key, f) in &self.flows {
            let (t, d) = key;
            let c = &f.counters;
            let pending = self.pending(*key).len() as u64;
            let lost = c.sent - c.delivered - c.unknown_spi - c.bad_icv - pending;
            s.push_str(&format!(
                "{t},{},{},{},{},{},{lost},{},{},{pending}\n",
                if *d == 0 { "i->r" } else { "r->i" },
                c.offered,
                c.no_sa,
                c.sent,
                c.delivered,
                c.unknown_spi,
                c.bad_icv
            ));
        }
        sim_core::output::write_atomic(dir.join("traffic.csv"), s.as_bytes())?;
        // Per SA: the same counters for each outbound SPI, so a rekey's old and new SAs and
        // the packets each carried are visible.
        let mut s = String::from(
            "spi,tunnel,direction,encrypted,decrypted,unknown_spi,bad_icv,not_decrypted,first_s,last_s\n",
        );
        let mut rows: Vec<(&u32, &SaCounters)> = self.sas.iter().collect();
        rows.sort_by_key(|(spi, c)| (c.flow, c.first, **spi));
        for (spi, c) in rows {
            let (t, d) = c.flow;
            s.push_str(&format!(
                "{spi:08x},{t},{},{},{},{},{},{},{},{}\n",
                if d == 0 { "i->r" } else { "r->i" },
                c.encrypted,
                c.decrypted,
                c.unknown_spi,
                c.bad_icv,
                c.encrypted - c.decrypted - c.unknown_spi - c.bad_icv,
                secs(c.first.as_nanos()),
                secs(c.last.as_nanos()),
            ));
        }
        sim_core::output::write_atomic(dir.join("esp_sas.csv"), s.as_bytes())
    }

    /// Writes Wireshark's `esp_sa` table and a `preferences` file that turns ESP
    /// decryption on, beside the capture.
    pub fn write_esp_sa(&self, dir: &Path) -> std::io::Result<()> {
        let mut s = String::new();
        for l in &self.esp_sa {
            s.push_str(l);
            s.push('\n');
        }
        sim_core::output::write_atomic(dir.join("esp_sa"), s.as_bytes())?;
        sim_core::output::write_atomic(
            dir.join("preferences"),
            b"esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n",
        )
    }

    /// The summary per tunnel and direction: counters and outages (maximal runs of offered
    /// packets that were not delivered, from the first one's offer to the next delivered
    /// packet's offer or the end of the run).
    pub fn summary(&self, end: SimTime) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for ((t, d), f) in &self.flows {
            let pending = self.pending((*t, *d));
            let mut outages: Vec<f64> = Vec::new();
            let mut since: Option<SimTime> = None;
            for (k, (at, ok)) in f.log.iter().enumerate() {
                if pending.contains(&k) {
                    // Still on its way when the run ended: neither delivered nor lost.
                    continue;
                }
                match (ok, since) {
                    (false, None) => since = Some(*at),
                    (true, Some(s)) => {
                        outages.push(at.saturating_since(s).as_secs_f64());
                        since = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = since {
                outages.push(end.saturating_since(s).as_secs_f64());
            }
            let key = format!("{t} {}", if *d == 0 { "i->r" } else { "r->i" });
            out.insert(
                key,
                serde_json::json!({
                    "counters": f.counters,
                    "undelivered": f.counters.offered - f.counters.delivered - pending.len() as u64,
                    "in_flight_at_end": pending.len(),
                    "outages": outages.len(),
                    "outage_total_s": outages.iter().sum::<f64>(),
                    "outage_longest_s": outages.iter().copied().fold(0.0, f64::max),
                    "first_outage_at_s": f
                        .log
                        .iter()
                        .enumerate()
                        .find(|(k, x)| !x.1 && !pending.contains(k))
                        .map(|(_, x)| secs(x.0.as_nanos())),
                }),
            );
        }
        serde_json::Value::Object(out)
    }
}
