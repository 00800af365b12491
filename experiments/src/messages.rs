//! `messages.csv`: every IKE message a run put on the wire, with when it was sent, by whom
//! to whom, what it was, and when it arrived (empty when the network lost it). This is what
//! ladder diagrams are drawn from.

use std::collections::BTreeMap;
use std::path::Path;

use ike_model::ikev2::endpoint::NATT_PORT;
use ike_model::ikev2::header::Header;
use sim_core::SimTime;

use crate::metrics::secs;

#[derive(Debug)]
struct Row {
    sent: SimTime,
    from: String,
    to: String,
    exchange: String,
    message_id: u32,
    kind: &'static str,
    bytes: usize,
    port: u16,
    received: Option<SimTime>,
}

/// Collects the IKE messages of a run.
#[derive(Debug, Default)]
pub struct MessageLog {
    rows: Vec<Row>,
    by_packet: BTreeMap<u64, usize>,
}

impl MessageLog {
    /// Notes packet `id`, an IKE datagram `payload` sent from `port` by `from` to `to`.
    #[allow(clippy::too_many_arguments)]
    pub fn sent(&mut self, id: u64, now: SimTime, from: &str, to: &str, port: u16, payload: &[u8]) {
        let ike = if port == NATT_PORT && payload.len() >= 4 {
            &payload[4..]
        } else {
            payload
        };
        let (exchange, message_id, kind) = if ike.get(17) == Some(&0x10) {
            let Ok(h) = ike_model::ikev1::Header::decode(ike) else {
                return;
            };
            (
                ike_model::ikev1::consts::exchange_name(h.exchange).to_string(),
                h.message_id,
                "v1",
            )
        } else {
            let Ok(h) = Header::decode(ike) else {
                return;
            };
            (
                h.exchange.to_string(),
                h.message_id,
                if h.is_response() {
                    "response"
                } else {
                    "request"
                },
            )
        };
        self.by_packet.insert(id, self.rows.len());
        self.rows.push(Row {
            sent: now,
            from: from.to_string(),
            to: to.to_string(),
            exchange,
            message_id,
            kind,
            bytes: ike.len(),
            port,
            received: None,
        });
    }

    /// Notes that packet `id` reached its peer at `now` (the first copy counts).
    pub fn received(&mut self, id: u64, now: SimTime) {
        if let Some(&k) = self.by_packet.get(&id)
            && self.rows[k].received.is_none()
        {
            self.rows[k].received = Some(now);
        }
    }

    /// Writes `messages.csv` whole.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut s = String::from("sent_s,from,to,exchange,message_id,kind,bytes,port,received_s\n");
        for r in &self.rows {
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                secs(r.sent.as_nanos()),
                r.from,
                r.to,
                r.exchange,
                r.message_id,
                r.kind,
                r.bytes,
                r.port,
                r.received.map(|t| secs(t.as_nanos())).unwrap_or_default()
            ));
        }
        sim_core::output::write_atomic(dir.join("messages.csv"), s.as_bytes())
    }
}
