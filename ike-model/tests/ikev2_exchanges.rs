//! The exchanges after IKE_AUTH, driven between two endpoints: an additional CHILD_SA, a
//! CHILD_SA rekey, DELETE of CHILD and IKE SAs (sizes against strongSwan's reference
//! capture), traffic selector narrowing, the request window, NAT detection and the float to
//! UDP 4500, INITIAL_CONTACT, and what happens to bad messages.

mod pair;

use ike_model::crypto::DhGroup;
use ike_model::events::{Event, ExchangeKind, Outcome, SaChange, SaKind, SaRef};
use ike_model::ikev2::endpoint::{ChildState, Endpoint, Flavour, IkeState, TunnelConfig};
use ike_model::ikev2::payload::TrafficSelector;
use pair::{A, B, PSK, Pair, config};
use sim_core::{RngStreams, SimTime};

const T1: SimTime = SimTime(1_000_000_000);

fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// Asserts both ends hold the same CHILD_SAs (crossed SPIs, equal keys), in the same order.
fn children_agree(p: &Pair) -> usize {
    let (a, b) = (&p.eps[0].ike_sas()[0], &p.eps[1].ike_sas()[0]);
    assert_eq!(a.children.len(), b.children.len());
    for (ca, cb) in a.children.iter().zip(&b.children) {
        assert_eq!((ca.spi_in, ca.spi_out), (cb.spi_out, cb.spi_in));
        assert!(ca.keys == cb.keys, "KEYMAT agrees");
        assert_eq!((&ca.ts_local, &ca.ts_remote), (&cb.ts_remote, &cb.ts_local));
        assert_eq!(
            (ca.state, cb.state),
            (ChildState::Installed, ChildState::Installed)
        );
    }
    a.children.len()
}

fn rows(p: &Pair, from: usize) -> Vec<(usize, &'static str, bool, usize)> {
    p.exchanges_from(from)
        .into_iter()
        .map(|(s, x, r, _, len)| {
            let x: &'static str = match x.as_str() {
                "CREATE_CHILD_SA" => "CREATE_CHILD_SA",
                "INFORMATIONAL" => "INFORMATIONAL",
                "IKE_AUTH" => "IKE_AUTH",
                "IKE_SA_INIT" => "IKE_SA_INIT",
                _ => "?",
            };
            (s, x, r, len)
        })
        .collect()
}

#[test]
fn an_additional_child_sa_takes_one_round_trip_and_both_ends_agree() {
    let mut p = Pair::new(PSK, 21);
    p.at(T1, 0, |ep, now| ep.create_child(now, 0).unwrap());
    p.run(&[]);
    // No REKEY_SA: 12 bytes fewer inside than strongSwan's rekey request (220), which the
    // padding turns into 16 on the wire.
    assert_eq!(
        rows(&p, 4),
        vec![
            (0, "CREATE_CHILD_SA", false, 204),
            (1, "CREATE_CHILD_SA", true, 204)
        ]
    );
    assert_eq!(
        p.exchanges_from(4)[0].3,
        2,
        "message ID 2 after IKE_AUTH's 1"
    );
    assert_eq!(children_agree(&p), 2);
    let cc = p.finished(0, ExchangeKind::CreateChildSa);
    assert!(
        matches!(cc[0], Event::ExchangeFinished { outcome: Outcome::Success, started, ended, .. }
            if *started == T1 && *ended == T1 + p.delay * 2)
    );
}

#[test]
fn a_child_rekey_has_the_reference_sizes_and_the_initiator_deletes_the_old_sa() {
    let mut p = Pair::new(PSK, 22);
    p.at(T1, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    let old = p.events.iter().find_map(|(w, _, e)| match e {
        Event::Sa {
            kind: SaKind::Child,
            change: SaChange::Installed,
            spi,
            ..
        } if *w == 0 => Some(*spi),
        _ => None,
    });
    // strongSwan: CREATE_CHILD_SA 220/204, then INFORMATIONAL with D 76/76 (REFERENCE.md).
    assert_eq!(
        rows(&p, 4),
        vec![
            (0, "CREATE_CHILD_SA", false, 220),
            (1, "CREATE_CHILD_SA", true, 204),
            (0, "INFORMATIONAL", false, 76),
            (1, "INFORMATIONAL", true, 76)
        ]
    );
    assert_eq!(children_agree(&p), 1);
    let now_spi = SaRef::Child(p.eps[0].ike_sas()[0].children[0].spi_in);
    assert_ne!(Some(now_spi), old, "the survivor is the new SA");
    // The responder switched on the DELETE: its old SA went at 3d, not at the rekey.
    let b_deleted: Vec<SimTime> = p
        .events
        .iter()
        .filter(|(w, _, e)| {
            *w == 1
                && matches!(
                    e,
                    Event::Sa {
                        kind: SaKind::Child,
                        change: SaChange::Deleted,
                        ..
                    }
                )
        })
        .map(|(_, t, _)| *t)
        .collect();
    assert_eq!(b_deleted, vec![T1 + p.delay * 3]);
    assert_eq!(
        p.states(0)
            .into_iter()
            .filter(|(k, _)| k == "child")
            .map(|(_, s)| s)
            .collect::<Vec<_>>(),
        vec!["INSTALLED", "REKEYING", "INSTALLED", "REKEYED", "DELETING"]
    );
}

#[test]
fn a_rekey_with_pfs_carries_ke_and_mismatched_pfs_is_refused() {
    let pfs = |addr| ike_model::ikev2::endpoint::EndpointConfig {
        esp_dh: Some(DhGroup::Modp2048),
        ..config(addr, PSK)
    };
    let mut p = Pair::with(pfs(A), pfs(B), 23);
    p.at(T1, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    // 220 + KE (8 + 256) + the DH transform (8), padded: 492 and 476.
    let sizes: Vec<usize> = rows(&p, 4).iter().map(|r| r.3).collect();
    assert_eq!(sizes, vec![492, 476, 76, 76]);
    assert_eq!(children_agree(&p), 1);

    // PFS on A only: B answers NO_PROPOSAL_CHOSEN and A keeps its old CHILD_SA.
    let mut p = Pair::with(pfs(A), config(B, PSK), 24);
    p.at(T1, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    let cc = p.finished(0, ExchangeKind::CreateChildSa);
    assert!(
        matches!(cc[0], Event::ExchangeFinished { outcome: Outcome::Refused(n), .. } if n == "NO_PROPOSAL_CHOSEN")
    );
    assert_eq!(children_agree(&p), 1);
}

#[test]
fn deleting_a_child_and_then_the_ike_sa() {
    let mut p = Pair::new(PSK, 25);
    p.at(T1, 0, |ep, now| ep.delete_child(now, 0).unwrap());
    p.at(secs(2), 1, |ep, now| ep.delete_ike(now, 0).unwrap());
    p.run(&[]);
    // The responder of the tunnel deletes the IKE SA: its message ID 0 and the R flag off.
    assert_eq!(
        rows(&p, 4),
        vec![
            (0, "INFORMATIONAL", false, 76),
            (1, "INFORMATIONAL", true, 76),
            (1, "INFORMATIONAL", false, 76),
            (0, "INFORMATIONAL", true, 76)
        ]
    );
    assert_eq!(p.exchanges_from(4)[2].3, 0);
    assert!(p.eps[0].ike_sas().is_empty() && p.eps[1].ike_sas().is_empty());
    for who in 0..2 {
        let ike_deleted = p.events.iter().any(|(w, _, e)| {
            *w == who
                && matches!(
                    e,
                    Event::Sa {
                        kind: SaKind::Ike,
                        change: SaChange::Deleted,
                        ..
                    }
                )
        });
        assert!(ike_deleted);
    }
    // Commands on a tunnel without an IKE SA are refused, not panics.
    assert!(p.eps[0].delete_ike(secs(3), 0).is_err());
    assert!(p.eps[0].rekey_child(secs(3), 0).is_err());
}

fn range(a: &str, b: &str) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: a.parse().unwrap(),
        end: b.parse().unwrap(),
    }
}

fn with_selectors(seed: u64, a_local: TrafficSelector, b_local_for_a: TrafficSelector) -> Pair {
    let s = RngStreams::new(seed);
    let mut p = Pair::new(PSK, seed);
    let mut a = Endpoint::new(config(A, PSK), s.stream("endpoint/A"));
    a.add_tunnel(TunnelConfig {
        tunnel: 0,
        peer: B.parse().unwrap(),
        local_ts: smallvec::smallvec![a_local],
        remote_ts: smallvec::smallvec![range("10.2.0.0", "10.2.255.255")],
    });
    let mut b = Endpoint::new(config(B, PSK), s.stream("endpoint/B"));
    b.add_tunnel(TunnelConfig {
        tunnel: 0,
        peer: A.parse().unwrap(),
        local_ts: smallvec::smallvec![range("10.2.0.0", "10.2.255.255")],
        remote_ts: smallvec::smallvec![b_local_for_a],
    });
    p.eps = [a, b];
    p
}

#[test]
fn the_responder_narrows_traffic_selectors_and_refuses_disjoint_ones() {
    let mut p = with_selectors(
        26,
        range("10.1.0.0", "10.1.255.255"),
        range("10.1.2.0", "10.1.2.255"),
    );
    p.run(&[]);
    assert_eq!(children_agree(&p), 1);
    let c = &p.eps[0].ike_sas()[0].children[0];
    assert_eq!(c.ts_local.to_vec(), vec![range("10.1.2.0", "10.1.2.255")]);
    assert_eq!(
        c.ts_remote.to_vec(),
        vec![range("10.2.0.0", "10.2.255.255")]
    );

    let mut p = with_selectors(
        27,
        range("10.1.0.0", "10.1.255.255"),
        range("10.7.0.0", "10.7.0.255"),
    );
    p.run(&[]);
    let auth = p.finished(0, ExchangeKind::IkeAuth);
    assert!(
        matches!(auth[0], Event::ExchangeFinished { outcome: Outcome::Refused(n), .. } if n == "TS_UNACCEPTABLE")
    );
    // The IKE SA stands without a CHILD_SA (RFC 7296 §1.2), as strongSwan keeps it.
    for ep in &p.eps {
        assert_eq!(ep.ike_sas()[0].state, IkeState::Established);
        assert!(ep.ike_sas()[0].children.is_empty());
    }
}

#[test]
fn a_larger_window_lets_requests_overlap_and_window_one_serialises_them() {
    let run = |window: u32, seed| {
        let cfg = |addr| ike_model::ikev2::endpoint::EndpointConfig {
            window,
            ..config(addr, PSK)
        };
        let mut p = Pair::with(cfg(A), cfg(B), seed);
        p.at(T1, 0, |ep, now| {
            for _ in 0..3 {
                ep.create_child(now, 0).unwrap();
            }
        });
        p.run(&[]);
        assert_eq!(children_agree(&p), 4);
        let ends: Vec<SimTime> = p
            .finished(0, ExchangeKind::CreateChildSa)
            .iter()
            .map(|e| match e {
                Event::ExchangeFinished { ended, .. } => *ended,
                _ => unreachable!(),
            })
            .collect();
        (p.eps[0].ike_sas()[0].send_window, ends, p.delay)
    };
    let (w, ends, d) = run(4, 28);
    assert_eq!(w, 4, "SET_WINDOW_SIZE from the peer");
    assert_eq!(
        ends,
        vec![T1 + d * 2; 3],
        "three requests in flight at once"
    );
    let (w, ends, d) = run(1, 29);
    assert_eq!(w, 1);
    assert_eq!(ends, vec![T1 + d * 2, T1 + d * 4, T1 + d * 6]);
}

#[test]
fn without_nat_or_mobike_ike_stays_on_500_and_mobike_floats_to_4500() {
    let mut p = Pair::new(PSK, 30);
    p.run(&[]);
    assert!(
        p.wire
            .iter()
            .all(|d| d.src.port() == 500 && d.dst.port() == 500)
    );

    let mob = |addr| ike_model::ikev2::endpoint::EndpointConfig {
        mobike: true,
        ..config(addr, PSK)
    };
    let mut p = Pair::with(mob(A), mob(B), 31);
    p.at(T1, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    let ports: Vec<u16> = p.wire.iter().map(|d| d.src.port()).collect();
    assert_eq!(ports, vec![500, 500, 4500, 4500, 4500, 4500, 4500, 4500]);
    for d in &p.wire[2..] {
        assert_eq!(&d.bytes[..4], &[0, 0, 0, 0], "non-ESP marker");
        assert_eq!(d.dst.port(), 4500);
    }
    // MOBIKE_SUPPORTED (8) in the request; MOBIKE_SUPPORTED and NO_ADDITIONAL_ADDRESSES
    // (16) in the response.
    let auth: Vec<usize> = p.wire[2..4].iter().map(|d| d.ike().len()).collect();
    assert_eq!(auth, vec![268, 220]);
    assert_eq!(children_agree(&p), 1);
    let a = &p.eps[0].ike_sas()[0];
    assert!(!a.nat_here && !a.nat_there, "no NAT was seen");
}

#[test]
fn a_nat_in_front_of_the_initiator_is_detected_and_both_float() {
    let mut p = Pair::new(PSK, 32);
    p.nat = Some("192.0.2.7".parse().unwrap());
    p.at(T1, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    let (a, b) = (&p.eps[0].ike_sas()[0], &p.eps[1].ike_sas()[0]);
    assert!(a.nat_here && !a.nat_there);
    assert!(!b.nat_here && b.nat_there);
    assert_eq!(a.local.port(), 4500);
    assert_eq!(
        b.peer,
        "192.0.2.7:44500".parse().unwrap(),
        "B answers the NAT's mapping"
    );
    assert!(p.wire[2..].iter().all(|d| d.src.port() == 4500));
    assert_eq!(children_agree(&p), 1);
}

#[test]
fn forced_encapsulation_fakes_a_nat() {
    let enc = ike_model::ikev2::endpoint::EndpointConfig {
        force_encap: true,
        ..config(A, PSK)
    };
    let mut p = Pair::with(enc, config(B, PSK), 33);
    p.run(&[]);
    let (a, b) = (&p.eps[0].ike_sas()[0], &p.eps[1].ike_sas()[0]);
    assert!(a.nat_here, "encap = yes counts as a NAT here");
    assert!(b.nat_there, "the fake NAT-D makes B see one");
    assert_eq!((a.local.port(), b.local.port()), (4500, 4500));
}

#[test]
fn initial_contact_from_a_restarted_peer_clears_its_old_ike_sa() {
    let mut p = Pair::new(PSK, 34);
    p.run(&[]);
    let old = p.eps[1].ike_sas()[0].spi_i;
    // A reboots: a fresh endpoint with the same address sets the tunnel up again.
    p.eps[0] = Endpoint::new(config(A, PSK), RngStreams::new(99).stream("endpoint/A"));
    p.at(secs(5), 0, |ep, now| {
        ep.start_tunnel(now, 0, B.parse().unwrap())
    });
    p.run(&[]);
    let b = p.eps[1].ike_sas();
    assert_eq!(b.len(), 1, "the stale IKE SA is gone");
    assert_ne!(b[0].spi_i, old);
    let cleared = p.events.iter().any(
        |(w, _, e)| *w == 1 && matches!(e, Event::Sa { kind: SaKind::Ike, reason, .. } if *reason == "INITIAL_CONTACT"),
    );
    assert!(cleared);
}

#[test]
fn an_srx_like_peer_sets_up_with_a_strongswan_like_one() {
    let srx = ike_model::ikev2::endpoint::EndpointConfig {
        flavour: Flavour::Srx,
        ..config(A, PSK)
    };
    let mut p = Pair::with(srx, config(B, PSK), 35);
    p.run(&[]);
    let sizes: Vec<usize> = p.wire.iter().map(|d| d.bytes.len()).collect();
    // The SRX leaves out SIGNATURE_HASH_ALGORITHMS (14) and REDIRECT_SUPPORTED (8) in
    // IKE_SA_INIT; IDr, ESP_TFC_PADDING_NOT_SUPPORTED and strongSwan's three IKE_AUTH notifies
    // (12 + 8 + 24 = 44 bytes, 48 on the wire after padding) in IKE_AUTH.
    assert_eq!(sizes, vec![462 - 22, 470, 252 - 48, 204]);
    assert_eq!(children_agree(&p), 1);
}

#[test]
fn bad_messages_are_dropped_counted_and_reported() {
    let mut p = Pair::new(PSK, 36);
    p.run(&[]);
    let sa = &p.eps[1].ike_sas()[0];
    let (spi_i, spi_r) = (sa.spi_i, sa.spi_r);
    let auth = p.wire[2].bytes.clone();
    let mut unknown = auth.clone();
    unknown[0] ^= 0xff; // SPIi no one has
    let from: std::net::SocketAddr = "10.99.0.1:500".parse().unwrap();
    let to: std::net::SocketAddr = "10.99.0.2:500".parse().unwrap();
    let b = &mut p.eps[1];
    // Message ID 1 was answered: the retransmission gets the cached response.
    b.handle_datagram(secs(9), from, to, &auth);
    assert!(b.poll_transmit().is_some());
    let mut next = auth.clone();
    next[18] = 37; // INFORMATIONAL
    next[20..24].copy_from_slice(&2u32.to_be_bytes()); // message ID 2, ICV now wrong
    b.handle_datagram(secs(9), from, to, &next);
    b.handle_datagram(secs(9), from, to, &unknown);
    b.handle_datagram(secs(9), from, to, &[1, 2, 3]);
    assert!(b.poll_transmit().is_none(), "nothing answered");
    let reasons: Vec<(&str, u64)> = b.dropped.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        reasons,
        vec![
            ("integrity check failed", 1),
            ("no IKE SA with these SPIs", 1),
            ("undecodable IKE header", 1),
        ]
    );
    let sa = &b.ike_sas()[0];
    assert_eq!(
        (sa.spi_i, sa.spi_r, sa.state),
        (spi_i, spi_r, IkeState::Established)
    );
}
