//! Two IKEv2 endpoints driven step by step over a simulated path (quinn-proto's `Pair`):
//! every datagram is recorded, may be dropped by its send index, and may pass a NAT in
//! front of A; commands run at set times.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use ike_model::crypto::{DhGroup, EncrAlg, IntegAlg, PrfAlg};
use ike_model::events::{Event, ExchangeKind};
use ike_model::ikev2::endpoint::{Endpoint, EndpointConfig, Flavour, RekeyStyle};
use ike_model::ikev2::keys::IkeSuite;
use ike_model::policy::{LifetimePolicy, RetransmitPolicy};
use sim_core::{Duration, RngStreams, Scheduler, SimTime};

pub const A: &str = "10.99.0.1";
pub const B: &str = "10.99.0.2";
pub const PSK: &str = "ike-ref-test-psk";

/// The reference captures' configuration: aes128-sha1-modp2048, ESP aes128-sha1, no MOBIKE.
pub fn config(addr: &str, psk: &str) -> EndpointConfig {
    EndpointConfig {
        addr: addr.parse().unwrap(),
        psk: psk.as_bytes().to_vec(),
        suite: IkeSuite {
            encr: EncrAlg::AesCbc { key_bits: 128 },
            integ: IntegAlg::HmacSha1_96,
            prf: PrfAlg::HmacSha1,
        },
        dh_groups: vec![DhGroup::Modp2048],
        dh_exponent_bits: Some(256),
        modeled: false,
        esp_encr: EncrAlg::AesCbc { key_bits: 128 },
        esp_integ: IntegAlg::HmacSha1_96,
        esp_dh: None,
        retransmit: RetransmitPolicy::strongswan(),
        dpd: None,
        cookie_threshold: None,
        cookie_threshold_ip: None,
        block_threshold: None,
        half_open_limit: None,
        job_load_limit: None,
        window: 1,
        mobike: false,
        force_encap: false,
        flavour: Flavour::StrongSwan,
        ike_lifetime: LifetimePolicy::Infinite,
        child_lifetime: LifetimePolicy::Infinite,
        rekey_style: RekeyStyle::StrongSwan,
        restart_when_childless: false,
        keepalive: None,
    }
}

/// A command given to endpoint `who` at a set time.
pub type Command = Box<dyn FnOnce(&mut Endpoint, SimTime)>;

enum Ev {
    Deliver {
        to: usize,
        from: SocketAddr,
        dst: SocketAddr,
        bytes: Vec<u8>,
    },
    Wake(usize, u64),
    Command(usize, Command),
}

/// One datagram on the wire as sent: time, sender, source, destination, UDP payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub at: SimTime,
    pub sender: usize,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Datagram {
    /// The IKE message (after the non-ESP marker on 4500).
    pub fn ike(&self) -> &[u8] {
        if self.src.port() == 4500 {
            &self.bytes[4..]
        } else {
            &self.bytes
        }
    }
}

pub struct Pair {
    pub eps: [Endpoint; 2],
    pub delay: Duration,
    sched: Scheduler<Ev>,
    pub wire: Vec<Datagram>,
    pub events: Vec<(usize, SimTime, Event)>,
    sent: usize,
    /// A NAT in front of A: A's packets leave from this public address and port + 40000
    /// (500 -> 40500, 4500 -> 44500), and packets to it reach A.
    pub nat: Option<IpAddr>,
    /// One-way delay from B to A when it differs from `delay`.
    pub delay_back: Option<Duration>,
    /// Extra delay for the datagram with this send index (holds it back, reorders).
    pub hold: Vec<(usize, Duration)>,
    /// Each datagram is lost with this probability, drawn from the pair's own stream.
    pub loss: f64,
    loss_rng: sim_core::SimRng,
    in_flight: usize,
    armed: [(Option<SimTime>, u64); 2],
    started: bool,
}

impl Pair {
    /// The reference configuration at both ends, B with `psk_b`.
    pub fn new(psk_b: &str, seed: u64) -> Self {
        Self::with(config(A, PSK), config(B, psk_b), seed)
    }

    /// Endpoints with these configurations; B knows A as tunnel 0.
    pub fn with(a: EndpointConfig, b: EndpointConfig, seed: u64) -> Self {
        let s = RngStreams::new(seed);
        let mut b = Endpoint::new(b, s.stream("endpoint/B"));
        b.add_peer(A.parse().unwrap(), 0);
        Pair {
            eps: [Endpoint::new(a, s.stream("endpoint/A")), b],
            delay: Duration::from_millis(10),
            sched: Scheduler::new(),
            wire: Vec::new(),
            events: Vec::new(),
            sent: 0,
            nat: None,
            delay_back: None,
            hold: Vec::new(),
            loss: 0.0,
            loss_rng: s.stream("pair/loss"),
            in_flight: 0,
            armed: [(None, 0); 2],
            started: false,
        }
    }

    /// Gives endpoint `who` a command at `at`.
    pub fn at(
        &mut self,
        at: SimTime,
        who: usize,
        c: impl FnOnce(&mut Endpoint, SimTime) + 'static,
    ) {
        self.sched.schedule_at(at, Ev::Command(who, Box::new(c)));
    }

    /// Runs until nothing is left, dropping the datagrams whose send index (from 0) is in
    /// `drop`.
    pub fn run(&mut self, drop: &[usize]) {
        self.run_until(SimTime::MAX, drop);
    }

    /// As [`Pair::run`], stopping before the first event after `horizon`. The first call
    /// starts tunnel 0 from A at time zero.
    pub fn run_until(&mut self, horizon: SimTime, drop: &[usize]) {
        if !self.started {
            self.started = true;
            self.eps[0].start_tunnel(SimTime::ZERO, 0, B.parse::<IpAddr>().unwrap());
            self.flush(SimTime::ZERO, drop);
        }
        let mut steps = 0u64;
        while self.sched.peek_time().is_some_and(|t| t <= horizon) {
            let (now, ev) = self.sched.pop().expect("peeked");
            steps += 1;
            assert!(
                steps < 5_000_000,
                "runaway at {now:?}: {:?}",
                &self.events[self.events.len().saturating_sub(30)..]
            );
            match ev {
                Ev::Deliver {
                    to,
                    from,
                    dst,
                    bytes,
                } => {
                    self.in_flight -= 1;
                    self.eps[to].handle_datagram(now, from, dst, &bytes)
                }
                Ev::Wake(i, generation) => {
                    if self.armed[i].1 != generation {
                        continue;
                    }
                    self.armed[i].0 = None;
                    self.eps[i].handle_timeout(now)
                }
                Ev::Command(i, c) => c(&mut self.eps[i], now),
            }
            self.flush(now, drop);
        }
    }

    fn flush(&mut self, now: SimTime, drop: &[usize]) {
        for i in 0..2 {
            while let Some(t) = self.eps[i].poll_transmit() {
                self.wire.push(Datagram {
                    at: now,
                    sender: i,
                    src: t.src,
                    dst: t.dst,
                    bytes: t.payload.clone(),
                });
                let (mut from, mut dst) = (t.src, t.dst);
                if let Some(public) = self.nat {
                    if i == 0 {
                        from = SocketAddr::new(public, 40000 + from.port());
                    } else if dst.ip() == public {
                        dst = SocketAddr::new(A.parse().unwrap(), dst.port() - 40000);
                    }
                }
                let lost = self.loss > 0.0 && {
                    use rand::RngExt;
                    self.loss_rng.random::<f64>() < self.loss
                };
                if !drop.contains(&self.sent) && !lost {
                    let mut delay = if i == 0 {
                        self.delay
                    } else {
                        self.delay_back.unwrap_or(self.delay)
                    };
                    if let Some((_, extra)) = self.hold.iter().find(|(k, _)| *k == self.sent) {
                        delay = delay + *extra;
                    }
                    self.in_flight += 1;
                    self.sched.schedule_at(
                        now + delay,
                        Ev::Deliver {
                            to: 1 - i,
                            from,
                            dst,
                            bytes: t.payload,
                        },
                    );
                }
                self.sent += 1;
            }
            while let Some((t, e)) = self.eps[i].poll_event() {
                self.events.push((i, t, e));
            }
            // One wake-up per endpoint in the queue; a newer one makes the older stale.
            let next = self.eps[i].poll_timeout();
            if next != self.armed[i].0 {
                self.armed[i] = (next, self.armed[i].1 + 1);
                if let Some(t) = next {
                    self.sched.schedule_at(t, Ev::Wake(i, self.armed[i].1));
                }
            }
        }
    }

    /// Whether nothing is in flight and neither endpoint has an exchange going.
    pub fn quiet(&self) -> bool {
        self.in_flight == 0 && self.eps.iter().all(|e| e.is_idle())
    }

    /// Runs past `horizon` until the pair is quiet (or `limit` is reached); returns whether
    /// it got quiet.
    pub fn run_until_quiet(&mut self, horizon: SimTime, limit: SimTime) -> bool {
        self.run_until(horizon, &[]);
        while !self.quiet() {
            let Some(t) = self.sched.peek_time() else {
                return self.quiet();
            };
            if t > limit {
                return false;
            }
            self.run_until(t, &[]);
        }
        true
    }

    /// The exchanges of `kind` that endpoint `who` initiated and finished.
    pub fn finished(&self, who: usize, kind: ExchangeKind) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|(w, _, e)| {
                *w == who && matches!(e, Event::ExchangeFinished { kind: k, .. } if *k == kind)
            })
            .map(|(_, _, e)| e)
            .collect()
    }

    /// The IKE messages on the wire from index `from` on, as
    /// (sender, exchange, response?, message ID, length).
    pub fn exchanges_from(&self, from: usize) -> Vec<(usize, String, bool, u32, usize)> {
        self.wire[from..]
            .iter()
            .map(|d| {
                let h = ike_model::ikev2::header::Header::decode(d.ike()).unwrap();
                (
                    d.sender,
                    h.exchange.to_string(),
                    h.is_response(),
                    h.message_id,
                    d.ike().len(),
                )
            })
            .collect()
    }

    /// The state names endpoint `who` reported, in order.
    pub fn states(&self, who: usize) -> Vec<(String, &'static str)> {
        self.events
            .iter()
            .filter(|(w, _, _)| *w == who)
            .filter_map(|(_, _, e)| match e {
                Event::State { kind, state, .. } => Some((kind.to_string(), *state)),
                _ => None,
            })
            .collect()
    }
}

/// After everything settled: one IKE SA per side with equal SPIs, and the same CHILD_SA
/// pairs (crossed SPIs, equal keys) on both sides. Returns the number of CHILD_SAs.
pub fn agree(p: &Pair) -> usize {
    assert!(p.quiet(), "exchanges still going");
    let (a, b) = (p.eps[0].ike_sas(), p.eps[1].ike_sas());
    assert_eq!((a.len(), b.len()), (1, 1), "one IKE SA per side");
    assert_eq!((a[0].spi_i, a[0].spi_r), (b[0].spi_i, b[0].spi_r));
    assert!(a[0].keys == b[0].keys);
    let mut ca: Vec<(u32, u32)> = a[0]
        .children
        .iter()
        .map(|c| (c.spi_in, c.spi_out))
        .collect();
    let mut cb: Vec<(u32, u32)> = b[0]
        .children
        .iter()
        .map(|c| (c.spi_out, c.spi_in))
        .collect();
    ca.sort();
    cb.sort();
    assert_eq!(ca, cb, "both sides hold the same CHILD_SA pairs");
    for c in &a[0].children {
        let other = b[0]
            .children
            .iter()
            .find(|o| o.spi_out == c.spi_in)
            .unwrap();
        assert!(c.keys == other.keys);
    }
    ca.len()
}
