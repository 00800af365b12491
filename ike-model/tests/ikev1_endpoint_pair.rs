//! Two IKEv1 endpoints driven message by message: Main Mode + Quick Mode in nine messages
//! and Aggressive Mode + Quick Mode in six, with strongSwan's sizes; both ends agree on
//! every key; a lost message is recovered by retransmission; a Quick Mode rekey keeps the
//! old SA until its hard lifetime; simultaneous Quick Mode rekeys leave duplicate SAs;
//! tshark decrypts our capture with the ikev1_decryption_table we write.

use std::net::{IpAddr, SocketAddr};

use ike_model::crypto::DhGroup;
use ike_model::events::{Event, ExchangeKind, Outcome};
use ike_model::ikev1::endpoint::{Config1, Endpoint1};
use ike_model::ikev2::protect::Protection;
use ike_model::policy::LifetimePolicy;
use ike_model::policy::lifetime::HardExpiry;
use sim_core::{Duration, RngStreams, Scheduler, SimTime};

const A: &str = "10.99.0.1";
const B: &str = "10.99.0.2";

fn config(addr: &str) -> Config1 {
    Config1 {
        ike_life_s: 72,
        child_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(18),
            rand_time: Duration::ZERO,
            hard: HardExpiry::LifeTime(Duration::from_secs(32)),
            granularity: None,
            ike: false,
        },
        keepalive: Some(Duration::from_secs(20)),
        ..Config1::reference(addr.parse().unwrap(), b"ike-ref-test-psk")
    }
}

/// A command given to an endpoint at a set time.
type Command = Box<dyn FnOnce(&mut Endpoint1, SimTime)>;

enum Ev {
    Deliver(usize, SocketAddr, SocketAddr, Vec<u8>),
    Wake(usize, u64),
    Command(usize, Command),
}

struct Pair {
    eps: [Endpoint1; 2],
    sched: Scheduler<Ev>,
    wire: Vec<(SimTime, usize, Vec<u8>)>,
    events: Vec<(usize, SimTime, Event)>,
    armed: [(Option<SimTime>, u64); 2],
    sent: usize,
    delay: Duration,
}

impl Pair {
    fn new(a: Config1, b: Config1, seed: u64) -> Self {
        let s = RngStreams::new(seed);
        let mut b = Endpoint1::new(b, s.stream("endpoint/B"));
        b.add_tunnel(ike_model::ikev2::endpoint::TunnelConfig::host_to_host(
            0,
            B.parse().unwrap(),
            A.parse().unwrap(),
        ));
        Pair {
            eps: [Endpoint1::new(a, s.stream("endpoint/A")), b],
            sched: Scheduler::new(),
            wire: Vec::new(),
            events: Vec::new(),
            armed: [(None, 0); 2],
            sent: 0,
            delay: Duration::from_millis(2),
        }
    }

    fn at(&mut self, t: SimTime, who: usize, c: impl FnOnce(&mut Endpoint1, SimTime) + 'static) {
        self.sched.schedule_at(t, Ev::Command(who, Box::new(c)));
    }

    fn run(&mut self, aggressive: bool, until: SimTime, drop: &[usize]) {
        if self.sent == 0 {
            self.eps[0].start_tunnel(SimTime::ZERO, 0, B.parse::<IpAddr>().unwrap(), aggressive);
            self.flush(SimTime::ZERO, drop);
        }
        while self.sched.peek_time().is_some_and(|t| t <= until) {
            let (now, ev) = self.sched.pop().unwrap();
            match ev {
                Ev::Deliver(to, from, dst, b) => self.eps[to].handle_datagram(now, from, dst, &b),
                Ev::Wake(i, g) => {
                    if self.armed[i].1 != g {
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
            while let Some((src, dst, b)) = self.eps[i].poll_transmit() {
                self.wire.push((now, i, b.clone()));
                if !drop.contains(&self.sent) {
                    self.sched
                        .schedule_at(now + self.delay, Ev::Deliver(1 - i, src, dst, b));
                }
                self.sent += 1;
            }
            while let Some((t, e)) = self.eps[i].poll_event() {
                self.events.push((i, t, e));
            }
            let next = self.eps[i].poll_timeout();
            if next != self.armed[i].0 {
                self.armed[i] = (next, self.armed[i].1 + 1);
                if let Some(t) = next {
                    self.sched.schedule_at(t, Ev::Wake(i, self.armed[i].1));
                }
            }
        }
    }

    fn sizes(&self) -> Vec<usize> {
        self.wire.iter().map(|w| w.2.len()).collect()
    }

    /// The IPsec SAs of each side agree: crossed SPIs and equal keys.
    fn ipsec_pairs(&self) -> usize {
        let (a, b) = (&self.eps[0].isakmp_sas()[0], &self.eps[1].isakmp_sas()[0]);
        assert_eq!(a.ipsec.len(), b.ipsec.len());
        for c in &a.ipsec {
            let d = b
                .ipsec
                .iter()
                .find(|d| d.spi_in == c.spi_out)
                .expect("peer has the pair");
            assert_eq!(d.spi_out, c.spi_in);
            assert!(
                c.keys_in == d.keys_out && c.keys_out == d.keys_in,
                "KEYMAT agrees"
            );
            assert!(c.keys_in != c.keys_out, "each direction has its own keys");
        }
        a.ipsec.len()
    }
}

fn t(ms: u64) -> SimTime {
    SimTime(ms * 1_000_000)
}

#[test]
fn main_mode_and_quick_mode_take_nine_messages_of_strongswans_sizes() {
    let mut p = Pair::new(config(A), config(B), 1);
    p.run(false, t(1000), &[]);
    // REFERENCE.md: Main Mode 180, 160, 372, 372, 108, 76; Quick Mode 172, 172, 60.
    assert_eq!(p.sizes(), vec![180, 160, 372, 372, 108, 76, 172, 172, 60]);
    let senders: Vec<usize> = p.wire.iter().map(|w| w.1).collect();
    assert_eq!(senders, vec![0, 1, 0, 1, 0, 1, 0, 1, 0]);
    let (a, b) = (&p.eps[0].isakmp_sas()[0], &p.eps[1].isakmp_sas()[0]);
    assert!(a.keys == b.keys, "Phase 1 keys agree");
    assert_eq!(p.ipsec_pairs(), 1);
    assert_eq!(p.eps[0].key_log, p.eps[1].key_log);
    let states: Vec<&str> = p
        .events
        .iter()
        .filter(|(w, _, _)| *w == 0)
        .filter_map(|(_, _, e)| match e {
            Event::State { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            "IKE_I_MM1",
            "IKE_I_MM2",
            "IKE_I_MM3",
            "IKE_I_MM4",
            "IKE_I_MM5",
            "IKE_I_MM6",
            "IKE_P1_COMPLETE",
            "QM_IDLE",
            "IKE_QM_I_QM1",
            "IKE_QM_PHASE2_COMPLETE",
            "QM_IDLE"
        ]
    );
    let mm: Vec<&Event> = p
        .events
        .iter()
        .filter(|(w, _, e)| {
            *w == 0
                && matches!(
                    e,
                    Event::ExchangeFinished {
                        kind: ExchangeKind::MainMode,
                        ..
                    }
                )
        })
        .map(|(_, _, e)| e)
        .collect();
    assert!(
        matches!(mm[0], Event::ExchangeFinished { outcome: Outcome::Success, started, ended, .. } if *ended - *started == p.delay * 6)
    );
}

#[test]
fn modeled_protection_sends_the_same_messages_and_still_checks_the_psk() {
    let run = |psk_b: &[u8], protection| {
        let b = Config1 {
            psk: psk_b.to_vec(),
            ..config(B)
        };
        let mut p = Pair::new(config(A), b, 1);
        for ep in &mut p.eps {
            ep.set_protection(protection);
        }
        // Main Mode, Quick Mode, a Quick Mode rekey at 18 s and a DELETE at 32 s.
        p.run(false, t(40_000), &[]);
        p
    };
    let good = b"ike-ref-test-psk";
    let (real, modeled) = (run(good, Protection::Real), run(good, Protection::Modeled));
    let flow = |p: &Pair| -> Vec<(SimTime, usize, usize)> {
        p.wire.iter().map(|w| (w.0, w.1, w.2.len())).collect()
    };
    assert!(real.wire.len() > 12, "{} messages", real.wire.len());
    assert_eq!(flow(&modeled), flow(&real), "same times, senders and sizes");
    assert!(
        real.wire
            .iter()
            .zip(&modeled.wire)
            .skip(4)
            .all(|(r, m)| r.2 != m.2),
        "from MM5 on the bytes are stand-ins"
    );
    assert_eq!(modeled.ipsec_pairs(), real.ipsec_pairs());
    let (a, b) = (
        &modeled.eps[0].isakmp_sas()[0],
        &modeled.eps[1].isakmp_sas()[0],
    );
    assert!(a.keys == b.keys, "Modeled Phase 1 keys agree");
    for protection in [Protection::Real, Protection::Modeled] {
        let wrong = run(b"not-the-psk", protection);
        assert!(
            wrong
                .eps
                .iter()
                .all(|e| e.isakmp_sas().iter().all(|s| !s.established)),
            "{protection:?}: a wrong PSK establishes nothing"
        );
    }
}

#[test]
fn aggressive_mode_and_quick_mode_take_six_messages_of_strongswans_sizes() {
    let mut p = Pair::new(config(A), config(B), 2);
    p.run(true, t(1000), &[]);
    // REFERENCE.md: Aggressive Mode 488, 540, 108; Quick Mode 172, 172, 60.
    assert_eq!(p.sizes(), vec![488, 540, 108, 172, 172, 60]);
    assert_eq!(p.ipsec_pairs(), 1);
    assert!(p.eps[1].isakmp_sas()[0].established);
}

#[test]
fn a_lost_main_mode_6_is_recovered_by_retransmitting_main_mode_5() {
    let mut p = Pair::new(config(A), config(B), 3);
    p.run(false, t(10_000), &[5]);
    let s = p.sizes();
    assert_eq!(&s[..7], &[180, 160, 372, 372, 108, 76, 108]);
    assert!(p.wire[4].2 == p.wire[6].2, "the same MM5 again");
    assert!(p.wire[5].2 == p.wire[7].2, "the responder resends its MM6");
    assert_eq!(p.wire[6].0, t(4 + 4_000 + 4), "after strongSwan's 4 s");
    assert_eq!(p.ipsec_pairs(), 1);
}

#[test]
fn a_quick_mode_rekey_keeps_the_old_sa_until_its_hard_lifetime() {
    // Rekey at 18 s, hard lifetime 32 s at A; B never rekeys (rekey_time = 0), as in the
    // reference capture's configuration.
    let passive = || Config1 {
        child_lifetime: LifetimePolicy::Infinite,
        ..config(B)
    };
    let mut p = Pair::new(config(A), passive(), 4);
    p.run(false, t(25_000), &[]);
    assert_eq!(
        p.ipsec_pairs(),
        2,
        "old and new both installed between 18 and 32 s"
    );
    let qm: Vec<(SimTime, usize)> = p.wire.iter().skip(9).map(|w| (w.0, w.2.len())).collect();
    assert_eq!(
        qm.iter().map(|q| q.1).collect::<Vec<_>>(),
        vec![172, 172, 60]
    );
    assert_eq!(
        qm[0].0,
        t(16 + 18_000),
        "18 s after A installed the first SA (on QM2)"
    );
    for ep in &p.eps {
        assert_eq!(
            ep.isakmp_sas()[0].exchanges_in_flight(),
            0,
            "both Quick Modes are over and forgotten at both ends"
        );
    }
    let mut p = Pair::new(config(A), passive(), 4);
    p.run(false, t(40_000), &[]);
    // The old SAs expired at 32 s and were deleted with a one-way Informational (76 bytes).
    let infos: Vec<usize> = p
        .wire
        .iter()
        .filter(|w| w.2[18] == 5)
        .map(|w| w.2.len())
        .collect();
    assert_eq!(infos, vec![76], "one DELETE, at the old SA's hard lifetime");
    assert_eq!(
        p.ipsec_pairs(),
        2,
        "the second rekey (at 36 s) left two again"
    );
}

#[test]
fn the_responder_takes_a_quick_mode_for_an_installed_sa_as_its_rekey() {
    // Both ends rekey on their own timers, B 2 s after A. IKEv1 has no "rekey of" marker:
    // like strongSwan, B takes A's Quick Mode as the rekey of its installed SA and does not
    // rekey that SA again. Without that, every SA was rekeyed by both ends and the SAs
    // doubled every lifetime (77 per tunnel after six hours at a 1,000-branch hub).
    let later = Config1 {
        child_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(20),
            rand_time: Duration::ZERO,
            hard: HardExpiry::LifeTime(Duration::from_secs(32)),
            granularity: None,
            ike: false,
        },
        ..config(B)
    };
    let mut p = Pair::new(config(A), later, 6);
    for until in (10..=200).step_by(10) {
        p.run(false, t(until * 1000), &[]);
        assert!(
            p.ipsec_pairs() <= 2,
            "at {until} s: {} IPsec SA pairs",
            p.ipsec_pairs()
        );
    }
    let rekeys = |who: usize| {
        p.events
            .iter()
            .filter(|(i, _, e)| {
                *i == who
                    && matches!(
                        e,
                        Event::ExchangeFinished {
                            kind: ExchangeKind::QuickMode,
                            purpose: ike_model::events::Purpose::RekeyChild,
                            outcome: Outcome::Success,
                            ..
                        }
                    )
            })
            .count()
    };
    // A rekeys every 18 s (at 18, 36, ..., 198 s); B's 20 s timer never comes first.
    assert_eq!(rekeys(0), 11);
    assert_eq!(rekeys(1), 0);
}

#[test]
fn simultaneous_quick_mode_rekeys_leave_duplicate_ipsec_sas() {
    let infinite = |addr| Config1 {
        child_lifetime: LifetimePolicy::Infinite,
        ..config(addr)
    };
    let mut p = Pair::new(infinite(A), infinite(B), 5);
    p.at(t(1000), 0, |ep, now| assert!(ep.rekey_child(now, 0)));
    p.at(t(1000), 1, |ep, now| assert!(ep.rekey_child(now, 0)));
    p.run(false, t(5000), &[]);
    // No collision rule in IKEv1: both Quick Modes complete; the first SA plus two new ones.
    assert_eq!(p.ipsec_pairs(), 3);
}

#[test]
fn tshark_decrypts_our_ikev1_capture() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipping");
        return;
    }
    let mut p = Pair::new(config(A), config(B), 6);
    p.run(false, t(1000), &[]);
    let dir = std::env::temp_dir().join(format!("ikesim-v1-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut sink = sim_core::pcap::PcapSink::create(dir.join("v1.pcap")).unwrap();
    for (at, who, bytes) in &p.wire {
        let (s, d) = if *who == 0 { (A, B) } else { (B, A) };
        sink.write(
            *at,
            &sim_core::Packet::udp(
                s.parse().unwrap(),
                500,
                d.parse().unwrap(),
                500,
                bytes.clone(),
            ),
        )
        .unwrap();
    }
    sink.finish().unwrap();
    std::fs::write(
        dir.join("ikev1_decryption_table"),
        p.eps[0].key_log.join("\n") + "\n",
    )
    .unwrap();
    let out = std::process::Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &dir)
        .arg("-r")
        .arg(dir.join("v1.pcap"))
        .arg("-V")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Malformed"), "{text}");
    // Decrypted: the IDs of MM5/MM6 and the Quick Mode SAs and IDs are shown.
    assert!(text.contains("ID_IPV4_ADDR: 10.99.0.1"), "{text}");
    assert_eq!(
        text.matches("Payload: Hash (8)").count(),
        5,
        "MM5, MM6, QM1-3 decrypted"
    );
    assert!(text.contains("IPSEC_ESP"), "Quick Mode SA decrypted");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn dpd_probes_an_idle_peer_and_declares_a_vanished_one_dead_after_the_timeout() {
    let quiet = |addr| Config1 {
        child_lifetime: LifetimePolicy::Infinite,
        dpd: Some(Duration::from_secs(10)),
        ..config(addr)
    };
    let mut p = Pair::new(
        quiet(A),
        Config1 {
            dpd: None,
            ..quiet(B)
        },
        7,
    );
    p.run(false, t(25_000), &[]);
    // R-U-THERE / R-U-THERE-ACK: HASH(1) 24 + N with 16-byte SPI and 4-byte sequence 32,
    // padded to 64: 92 bytes each, 10 s after the last message from the peer.
    let dpd: Vec<(SimTime, usize, usize)> = p
        .wire
        .iter()
        .skip(9)
        .map(|w| (w.0, w.1, w.2.len()))
        .collect();
    assert_eq!(dpd[0], (t(16 + 10_000), 0, 92), "{dpd:?}");
    assert_eq!(dpd[1], (t(18 + 10_000), 1, 92));
    assert_eq!(
        dpd[2].0,
        t(20 + 20_000),
        "the next probe 10 s after the ACK"
    );
    let ok = p
        .events
        .iter()
        .filter(|(w, _, e)| {
            *w == 0
                && matches!(
                    e,
                    Event::ExchangeFinished {
                        outcome: Outcome::Success,
                        purpose: ike_model::events::Purpose::Dpd,
                        ..
                    }
                )
        })
        .count();
    assert_eq!(ok, 2);

    // The peer vanishes after the setup: probes every 10 s, dead after 150 s.
    let mut p = Pair::new(
        quiet(A),
        Config1 {
            dpd: None,
            ..quiet(B)
        },
        8,
    );
    p.run(false, t(200_000), &(9..1000).collect::<Vec<_>>());
    let probes: Vec<SimTime> = p.wire.iter().skip(9).map(|w| w.0).collect();
    assert_eq!(probes.len(), 15, "{probes:?}");
    assert!(p.eps[0].isakmp_sas().is_empty(), "declared dead");
    let dead = p.events.iter().find_map(|(w, at, e)| match e {
        Event::ExchangeFinished {
            outcome: Outcome::Timeout,
            ..
        } if *w == 0 => Some(*at),
        _ => None,
    });
    assert_eq!(dead, Some(t(16 + 10_000 + 150_000)));
}

#[test]
fn quick_mode_with_pfs_carries_ke_and_both_ends_agree() {
    let pfs = |addr| Config1 {
        pfs: Some(DhGroup::Modp2048),
        ..config(addr)
    };
    let mut p = Pair::new(pfs(A), pfs(B), 9);
    p.run(false, t(1000), &[]);
    // KE (4 + 256) and the Group-Description attribute (4) in QM1 and QM2: 136 + 264 = 400
    // bytes of payloads, a multiple of 16, so strongSwan's padding adds a whole block: 416.
    assert_eq!(p.sizes()[6..], [28 + 416, 28 + 416, 60]);
    assert_eq!(p.ipsec_pairs(), 1);
}

#[test]
fn re_authentication_is_a_new_main_mode_whose_sa_adopts_the_ipsec_sas() {
    let a = Config1 {
        child_lifetime: LifetimePolicy::Infinite,
        ike_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(60),
            rand_time: Duration::ZERO,
            hard: HardExpiry::OverTime(Duration::from_secs(12)),
            granularity: None,
            ike: true,
        },
        ..config(A)
    };
    let b = Config1 {
        child_lifetime: LifetimePolicy::Infinite,
        ..config(B)
    };
    let mut p = Pair::new(a, b, 10);
    let first = {
        p.run(false, t(1000), &[]);
        p.eps[0].isakmp_sas()[0].icookie
    };
    p.run(false, t(80_000), &[]);
    let later: Vec<(usize, u8, usize)> = p
        .wire
        .iter()
        .skip(9)
        .map(|w| (w.1, w.2[18], w.2.len()))
        .collect();
    // A new Main Mode at 60 s (new cookies), then the old ISAKMP SA deleted 10 s later with
    // a one-way Informational of 92 bytes; no new Quick Mode.
    assert_eq!(
        later,
        vec![
            (0, 2, 180),
            (1, 2, 160),
            (0, 2, 372),
            (1, 2, 372),
            (0, 2, 76),
            (1, 2, 76),
            (0, 5, 92)
        ]
    );
    assert_eq!(p.wire[9].0, t(12 + 60_000));
    assert_eq!(
        p.wire[15].0,
        t(12 + 60_000 + 12 + 10_000),
        "10 s after the new Main Mode"
    );
    for ep in &p.eps {
        let sas = ep.isakmp_sas();
        assert_eq!(sas.len(), 1, "only the new ISAKMP SA is left");
        assert_ne!(sas[0].icookie, first);
        assert_eq!(sas[0].ipsec.len(), 1, "it holds the IPsec SA");
    }
}

#[test]
fn a_shorter_responder_lifetime_is_announced_and_used_by_both() {
    let b = Config1 {
        child_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(100),
            rand_time: Duration::ZERO,
            hard: HardExpiry::LifeTime(Duration::from_secs(20)),
            granularity: None,
            ike: false,
        },
        ..config(B)
    };
    let a = Config1 {
        child_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(100),
            rand_time: Duration::ZERO,
            hard: HardExpiry::LifeTime(Duration::from_secs(32)),
            granularity: None,
            ike: false,
        },
        ..config(A)
    };
    let mut p = Pair::new(a, b, 11);
    p.run(false, t(1000), &[]);
    // QM2 carries N(RESPONDER-LIFETIME) (24 bytes): 160 bytes of payloads, padded to 176.
    assert_eq!(p.sizes()[6..], [172, 28 + 176, 60]);
    for ep in &p.eps {
        let c = &ep.isakmp_sas()[0].ipsec[0];
        let left = c.expire_at.unwrap().as_nanos() / 1_000_000;
        assert!(
            (20_000..20_100).contains(&left),
            "both expire after 20 s: {left} ms"
        );
    }
}
