//! Rekeying and rekey collisions (RFC 7296 §2.8, §2.8.1, §2.8.2, §2.25), driven message by
//! message between two endpoints: which SAs remain on each side, who sent which DELETE and
//! which notifies were sent. The cases are those of REFERENCE.md's IKEv2 sections.

mod pair;

use ike_model::events::{Event, ExchangeKind, Outcome, SaKind, SaRef};
use ike_model::ikev2::consts::{NotifyType, ProtocolId};
use ike_model::ikev2::endpoint::{ChildState, EndpointConfig, IkeState, RekeyStyle};
use ike_model::ikev2::header::Header;
use ike_model::ikev2::payload::Payload;
use ike_model::ikev2::protect::open;
use ike_model::policy::LifetimePolicy;
use ike_model::policy::lifetime::HardExpiry;
use pair::{A, B, PSK, Pair, agree, config};
use sim_core::{Duration, SimTime};

const T: SimTime = SimTime(1_000_000_000);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every message from index `from` on, decrypted with the current IKE SA's keys:
/// (sender, response?, exchange, inner payloads).
fn decrypted(p: &Pair, from: usize) -> Vec<(usize, bool, String, Vec<Payload>)> {
    let keys = p.eps[0].ike_sas()[0].keys.clone().unwrap();
    let (si, sr) = (p.eps[0].ike_sas()[0].spi_i, p.eps[0].ike_sas()[0].spi_r);
    p.wire[from..]
        .iter()
        .filter_map(|d| {
            let h = Header::decode(d.ike()).ok()?;
            if (h.spi_i, h.spi_r) != (si, sr) {
                return None;
            }
            let o = open(&keys, d.ike()).ok()?;
            Some((d.sender, h.is_response(), h.exchange.to_string(), o.inner))
        })
        .collect()
}

fn nonce(inner: &[Payload]) -> Vec<u8> {
    inner
        .iter()
        .find_map(|p| match p {
            Payload::Nonce(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap()
}

fn esp_spi(inner: &[Payload]) -> Option<u32> {
    inner.iter().find_map(|p| match p {
        Payload::Sa(sa) => Some(u32::from_be_bytes(
            sa.proposals[0].spi.as_slice().try_into().ok()?,
        )),
        _ => None,
    })
}

fn deleted_spis(inner: &[Payload]) -> Vec<u32> {
    inner
        .iter()
        .filter_map(|p| match p {
            Payload::Delete(d) if d.protocol == ProtocolId::ESP => Some(
                d.spis
                    .iter()
                    .map(|s| u32::from_be_bytes(s.as_slice().try_into().unwrap()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

fn notifies(inner: &[Payload]) -> Vec<NotifyType> {
    inner
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n.ty),
            _ => None,
        })
        .collect()
}

fn collisions(p: &Pair) -> Vec<(usize, SaKind, &'static str)> {
    p.events
        .iter()
        .filter_map(|(w, _, e)| match e {
            Event::Collision {
                kind, resolution, ..
            } => Some((*w, *kind, *resolution)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_ike_sa_rekey_has_the_reference_sizes_moves_the_children_and_restarts_message_ids() {
    let mut p = Pair::new(PSK, 41);
    p.at(T, 0, |ep, now| ep.rekey_ike(now, 0).unwrap());
    p.at(T + ms(500), 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    let child_before = p.events.iter().find_map(|(w, _, e)| match e {
        Event::Sa {
            kind: SaKind::Child,
            spi,
            ..
        } if *w == 0 => Some(*spi),
        _ => None,
    });
    let rows = p.exchanges_from(4);
    let shape: Vec<(usize, &str, bool, u32, usize)> = rows
        .iter()
        .map(|(s, x, r, id, len)| (*s, x.as_str(), *r, *id, *len))
        .collect();
    // strongSwan: CREATE_CHILD_SA 428/428 on the old SA (IDs 2), DELETE of the old IKE SA
    // 76/76 (IDs 3), then the CHILD_SA rekey on the new SA starts again at message ID 0.
    assert_eq!(
        shape,
        vec![
            (0, "CREATE_CHILD_SA", false, 2, 428),
            (1, "CREATE_CHILD_SA", true, 2, 428),
            (0, "INFORMATIONAL", false, 3, 76),
            (1, "INFORMATIONAL", true, 3, 76),
            (0, "CREATE_CHILD_SA", false, 0, 220),
            (1, "CREATE_CHILD_SA", true, 0, 204),
            (0, "INFORMATIONAL", false, 1, 76),
            (1, "INFORMATIONAL", true, 1, 76),
        ]
    );
    assert_eq!(agree(&p), 1);
    assert_ne!(
        Some(SaRef::Child(p.eps[0].ike_sas()[0].children[0].spi_in)),
        child_before
    );
    // Both IKE SAs are in the key log, each under its own SPIs.
    assert_eq!(p.eps[0].key_log.len(), 2);
    assert_ne!(p.eps[0].key_log[0][..33], p.eps[0].key_log[1][..33]);
    assert_eq!(p.eps[0].key_log, p.eps[1].key_log);
}

#[test]
fn simultaneous_child_rekeys_keep_the_sa_of_the_exchange_with_the_highest_low_nonce() {
    let mut outcomes = [0, 0];
    for seed in 50..58 {
        let mut p = Pair::new(PSK, seed);
        p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
        p.at(T, 1, |ep, now| ep.rekey_child(now, 0).unwrap());
        p.run(&[]);
        assert_eq!(agree(&p), 1, "seed {seed}");
        let m = decrypted(&p, 4);
        let req = |who: usize| {
            m.iter()
                .find(|x| x.0 == who && !x.1 && x.2 == "CREATE_CHILD_SA")
                .unwrap()
        };
        let resp = |who: usize| {
            m.iter()
                .find(|x| x.0 == who && x.1 && x.2 == "CREATE_CHILD_SA")
                .unwrap()
        };
        // Exchange X is initiated by X and answered by the other side.
        let low = |x: usize| nonce(&req(x).3).min(nonce(&resp(1 - x).3));
        let loser = if low(0) < low(1) { 0 } else { 1 };
        let winner = 1 - loser;
        outcomes[loser] += 1;
        // The survivor is the winning exchange's SA: its initiator's inbound SPI from its
        // request, the other side's from its response.
        let survivor = &p.eps[winner].ike_sas()[0].children[0];
        assert_eq!(survivor.spi_in, esp_spi(&req(winner).3).unwrap());
        assert_eq!(survivor.spi_out, esp_spi(&resp(loser).3).unwrap());
        // DELETEs: the loser deletes the SA its exchange made, the winner the old SA.
        let deletes: Vec<(usize, Vec<u32>)> = m
            .iter()
            .filter(|x| !x.1 && x.2 == "INFORMATIONAL")
            .map(|x| (x.0, deleted_spis(&x.3)))
            .collect();
        assert_eq!(deletes.len(), 2, "seed {seed}: {deletes:?}");
        let by = |w: usize| deletes.iter().find(|d| d.0 == w).unwrap().1.clone();
        assert_eq!(by(loser), vec![esp_spi(&req(loser).3).unwrap()]);
        assert_ne!(by(winner), vec![esp_spi(&req(winner).3).unwrap()]);
        assert_eq!(
            collisions(&p),
            vec![(loser, SaKind::Child, "nonce rule: deleted our redundant SA")]
        );
        // Both rekey requests were answered normally: no error notify anywhere.
        assert!(
            m.iter()
                .all(|x| notifies(&x.3).iter().all(|n| !n.is_error()))
        );
    }
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "both sides lost sometimes: {outcomes:?}"
    );
}

#[test]
fn a_rekey_reaching_a_peer_that_already_rekeyed_gets_temporary_failure_and_is_not_retried() {
    let mut p = Pair::new(PSK, 60);
    // B rekeys at T; A at T + 5 ms, its request held 15 ms so it reaches B at T + 30 ms,
    // after B's rekey completed (T + 20 ms) and B's DELETE of the old SA left.
    p.at(T, 1, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.at(T + ms(5), 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.hold = vec![(5, ms(15))];
    p.run(&[]);
    assert_eq!(agree(&p), 1);
    let m = decrypted(&p, 4);
    let refused: Vec<(usize, Vec<NotifyType>)> = m
        .iter()
        .filter(|x| x.1 && x.2 == "CREATE_CHILD_SA" && !notifies(&x.3).is_empty())
        .map(|x| (x.0, notifies(&x.3)))
        .filter(|(_, n)| n.iter().any(|t| t.is_error()))
        .collect();
    assert_eq!(refused, vec![(1, vec![NotifyType::TEMPORARY_FAILURE])]);
    // A's old SA went with B's DELETE, so A does not retry.
    assert_eq!(
        collisions(&p),
        vec![(0, SaKind::Child, "TEMPORARY_FAILURE: SA already gone")]
    );
    assert_eq!(p.finished(0, ExchangeKind::CreateChildSa).len(), 1);
}

#[test]
fn a_rekey_held_until_after_the_peers_delete_gets_child_sa_not_found() {
    let mut p = Pair::new(PSK, 61);
    // A's request is held 100 ms: B's rekey and its DELETE of the old SA are both done.
    p.at(T, 1, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.at(T + ms(5), 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.hold = vec![(5, ms(100))];
    p.run(&[]);
    assert_eq!(agree(&p), 1);
    let m = decrypted(&p, 4);
    let not_found = m
        .iter()
        .any(|x| x.0 == 1 && x.1 && notifies(&x.3).contains(&NotifyType::CHILD_SA_NOT_FOUND));
    assert!(not_found);
    // The SA named is gone at A as well (B's DELETE came first): nothing to recreate.
    let creates = m
        .iter()
        .filter(|x| !x.1 && x.2 == "CREATE_CHILD_SA")
        .count();
    assert_eq!(creates, 2);
}

fn short_child_life(addr: &str, life_s: u64) -> EndpointConfig {
    EndpointConfig {
        child_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: Duration::from_secs(life_s * 10),
            rand_time: Duration::ZERO,
            hard: HardExpiry::LifeTime(Duration::from_secs(life_s)),
            granularity: None,
            ike: false,
        },
        ..config(addr, PSK)
    }
}

#[test]
fn a_rekey_for_an_sa_the_peer_just_expired_gets_child_sa_not_found_and_a_fresh_child() {
    // B's CHILD_SA expires hard at 20 s after install; its DELETE is held back 1 s, and
    // A's rekey request arrives in between.
    let mut p = Pair::with(config(A, PSK), short_child_life(B, 20), 62);
    let expiry = SimTime::ZERO + ms(30) + Duration::from_secs(20);
    p.at(expiry + ms(1), 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.hold = vec![(4, Duration::from_secs(1))];
    p.run_until(SimTime(25_000_000_000), &[]);
    let m = decrypted(&p, 4);
    let order: Vec<(usize, bool, String, Vec<NotifyType>)> = m
        .iter()
        .map(|x| (x.0, x.1, x.2.clone(), notifies(&x.3)))
        .collect();
    assert_eq!(order[0].0, 1, "B's DELETE is sent first (held on the wire)");
    assert_eq!(
        (order[1].0, order[2].0, order[2].3.clone()),
        (0, 1, vec![NotifyType::CHILD_SA_NOT_FOUND])
    );
    // A drops the SA and creates a fresh one without REKEY_SA.
    let fresh = m.iter().find(|x| {
        x.0 == 0
            && !x.1
            && x.2 == "CREATE_CHILD_SA"
            && !notifies(&x.3).contains(&NotifyType::REKEY_SA)
    });
    assert!(fresh.is_some(), "{order:?}");
    assert!(collisions(&p).contains(&(0, SaKind::Child, "CHILD_SA_NOT_FOUND: recreated")));
    assert_eq!(agree(&p), 1);
}

#[test]
fn a_child_rekey_crossing_an_ike_rekey_is_refused_both_ways_and_retried() {
    let mut p = Pair::new(PSK, 63);
    p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.at(T, 1, |ep, now| ep.rekey_ike(now, 0).unwrap());
    p.run(&[]);
    let cc: Vec<(usize, String)> = p
        .events
        .iter()
        .filter_map(|(w, _, e)| match e {
            Event::ExchangeFinished {
                kind: ExchangeKind::CreateChildSa,
                outcome,
                ..
            } => Some((*w, outcome.to_string())),
            _ => None,
        })
        .collect();
    // Each request met the other's exchange: TEMPORARY_FAILURE both ways, then each side
    // retried 6-15 s later, one after the other.
    assert_eq!(
        cc[..2]
            .iter()
            .filter(|(_, o)| o == "refused:TEMPORARY_FAILURE")
            .count(),
        2
    );
    assert!(cc[2..].iter().all(|(_, o)| o == "success"), "{cc:?}");
    let retries: Vec<SimTime> = p
        .events
        .iter()
        .filter_map(|(_, _, e)| match e {
            Event::ExchangeFinished {
                kind: ExchangeKind::CreateChildSa,
                started,
                outcome: Outcome::Success,
                ..
            } => Some(*started),
            _ => None,
        })
        .collect();
    assert!(
        retries
            .iter()
            .all(|t| *t >= T + Duration::from_secs(6) && *t <= T + Duration::from_secs(16))
    );
    assert_eq!(agree(&p), 1);
    assert_eq!(
        collisions(&p)
            .iter()
            .filter(|c| c.2 == "TEMPORARY_FAILURE: retry later")
            .count(),
        2
    );
}

#[test]
fn simultaneous_ike_rekeys_leave_one_ike_sa_with_the_children() {
    let mut outcomes = [0, 0];
    for seed in 70..76 {
        let mut p = Pair::new(PSK, seed);
        p.at(T, 0, |ep, now| ep.create_child(now, 0).unwrap());
        p.at(T + Duration::from_secs(1), 0, |ep, now| {
            ep.rekey_ike(now, 0).unwrap()
        });
        p.at(T + Duration::from_secs(1), 1, |ep, now| {
            ep.rekey_ike(now, 0).unwrap()
        });
        p.run(&[]);
        assert_eq!(
            agree(&p),
            2,
            "seed {seed}: both CHILD_SAs moved to the survivor"
        );
        let c = collisions(&p);
        assert_eq!(c.len(), 1, "seed {seed}: {c:?}");
        assert_eq!(
            (c[0].1, c[0].2),
            (SaKind::Ike, "nonce rule: deleted our redundant SA")
        );
        outcomes[c[0].0] += 1;
        assert_eq!(p.eps[0].ike_sas()[0].state, IkeState::Established);
        // Three IKE SAs were keyed (the old and two new) and the survivor is one of them.
        assert_eq!(p.eps[0].key_log.len(), 3);
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn a_rekey_crossing_a_delete_of_the_same_sa_leaves_nothing_behind() {
    let mut p = Pair::new(PSK, 64);
    p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.at(T, 1, |ep, now| ep.delete_child(now, 0).unwrap());
    p.run(&[]);
    assert_eq!(
        agree(&p),
        0,
        "the delete wins; no CHILD_SA is left or recreated"
    );
    let cc = p.finished(0, ExchangeKind::CreateChildSa);
    assert!(
        matches!(cc[0], Event::ExchangeFinished { outcome: Outcome::Refused(n), .. } if n == "TEMPORARY_FAILURE")
    );
    assert_eq!(
        collisions(&p),
        vec![(0, SaKind::Child, "TEMPORARY_FAILURE: SA already gone")]
    );
}

#[test]
fn hard_expiry_during_a_rekey_deletes_the_old_sa_once() {
    // A's CHILD_SA expires hard at 20 s; A starts a rekey 10 ms before, over a 100 ms path.
    let mut p = Pair::with(short_child_life(A, 20), config(B, PSK), 65);
    p.delay = ms(100);
    let installed = SimTime::ZERO + ms(400);
    p.at(
        installed + (Duration::from_secs(20) - ms(10)),
        0,
        |ep, now| ep.rekey_child(now, 0).unwrap(),
    );
    p.run_until(installed + Duration::from_secs(30), &[]);
    assert_eq!(agree(&p), 1);
    let m = decrypted(&p, 4);
    let deletes: Vec<(usize, Vec<u32>)> = m
        .iter()
        .filter(|x| !x.1 && x.2 == "INFORMATIONAL")
        .map(|x| (x.0, deleted_spis(&x.3)))
        .collect();
    assert_eq!(deletes.len(), 1, "one DELETE of the old SA: {deletes:?}");
    assert_eq!(deletes[0].0, 0);
}

#[test]
fn a_lost_rekey_response_is_recovered_from_the_responders_cache() {
    let mut p = Pair::new(PSK, 66);
    p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[5]); // the CREATE_CHILD_SA response
    assert_eq!(agree(&p), 1);
    let cc = p.finished(0, ExchangeKind::CreateChildSa);
    assert!(matches!(
        cc[0],
        Event::ExchangeFinished {
            retransmissions: 1,
            outcome: Outcome::Success,
            ..
        }
    ));
    assert!(
        p.wire[5].bytes == p.wire[7].bytes,
        "the cached response, byte for byte"
    );
}

fn libreswan(addr: &str) -> EndpointConfig {
    EndpointConfig {
        rekey_style: RekeyStyle::Libreswan,
        ..config(addr, PSK)
    }
}

#[test]
fn libreswan_like_peers_keep_both_sas_of_a_collision_and_expire_the_old_one_after_1s() {
    let mut p = Pair::with(libreswan(A), libreswan(B), 67);
    p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.at(T, 1, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    assert_eq!(agree(&p), 2, "no nonce rule: both new CHILD_SAs stay");
    assert!(collisions(&p).is_empty());
    let deletes: Vec<SimTime> = p
        .events
        .iter()
        .filter_map(|(_, _, e)| match e {
            Event::ExchangeFinished {
                kind: ExchangeKind::Informational,
                started,
                ..
            } => Some(*started),
            _ => None,
        })
        .collect();
    assert!(!deletes.is_empty());
    assert!(
        deletes
            .iter()
            .all(|t| *t == T + ms(20) + Duration::from_secs(1)),
        "{deletes:?}"
    );
}

#[test]
fn a_mixed_strongswan_libreswan_pair_settles_with_agreeing_sas() {
    for seed in 80..84 {
        let mut p = Pair::with(config(A, PSK), libreswan(B), seed);
        p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
        p.at(T, 1, |ep, now| ep.rekey_child(now, 0).unwrap());
        p.run(&[]);
        let n = agree(&p);
        assert!((1..=2).contains(&n), "seed {seed}: {n}");
        assert!(
            p.eps[0].ike_sas()[0]
                .children
                .iter()
                .all(|c| c.state == ChildState::Installed)
        );
    }
}

#[test]
fn traffic_switches_on_the_response_and_on_the_delete_and_old_inbound_spis_linger_5s() {
    let mut p = Pair::new(PSK, 90);
    p.at(T, 0, |ep, now| ep.rekey_child(now, 0).unwrap());
    p.run(&[]);
    let d = p.delay;
    let rows = |change: ike_model::events::SaChange| -> Vec<(usize, SimTime, SaRef)> {
        p.events
            .iter()
            .filter_map(|(w, t, e)| match e {
                Event::Sa {
                    kind: SaKind::Child,
                    change: c,
                    spi,
                    ..
                } if *c == change && *t > T => Some((*w, *t, *spi)),
                _ => None,
            })
            .collect()
    };
    let switched = rows(ike_model::events::SaChange::Outbound);
    // The initiator on the response (T + 2d), the responder when the DELETE came (T + 3d).
    assert_eq!(
        switched
            .iter()
            .map(|(w, t, _)| (*w, *t))
            .collect::<Vec<_>>(),
        vec![(0, T + d * 2), (1, T + d * 3)]
    );
    for (w, _, spi) in &switched {
        let new = &p.eps[*w].ike_sas()[0].children[0];
        assert_eq!(*spi, SaRef::Child(new.spi_in));
        assert_eq!(p.eps[*w].outbound_spi(0), Some(new.spi_out));
    }
    let deleted = rows(ike_model::events::SaChange::Deleted);
    let gone = rows(ike_model::events::SaChange::InboundRemoved);
    assert_eq!(deleted.len(), 2);
    for (w, t, spi) in &deleted {
        assert!(
            gone.contains(&(*w, *t + Duration::from_secs(5), *spi)),
            "{gone:?}"
        );
    }
    assert_eq!(
        p.eps[0].inbound_spis().len(),
        1,
        "only the new SA after the linger"
    );
}

#[test]
fn an_ike_rekey_with_the_wrong_ke_is_answered_invalid_ke_and_retried_with_the_group_asked_for() {
    use ike_model::crypto::DhGroup;
    // A prefers MODP-3072, B MODP-2048: the setup settles on 2048 (B chose, after one
    // INVALID_KE). When B rekeys the IKE SA with a 2048 KE, A picks its own first choice,
    // 3072, and asks for it.
    let a = EndpointConfig {
        dh_groups: vec![DhGroup::Modp3072, DhGroup::Modp2048],
        ..config(A, PSK)
    };
    let b = EndpointConfig {
        dh_groups: vec![DhGroup::Modp2048, DhGroup::Modp3072],
        ..config(B, PSK)
    };
    let mut p = Pair::with(a, b, 91);
    p.at(T, 1, |ep, now| ep.rekey_ike(now, 0).unwrap());
    p.run(&[]);
    let rk: Vec<String> = p
        .finished(1, ExchangeKind::CreateChildSa)
        .iter()
        .map(|e| match e {
            Event::ExchangeFinished { outcome, .. } => outcome.to_string(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(rk, vec!["refused:INVALID_KE_PAYLOAD", "success"]);
    assert_eq!(agree(&p), 1);
    // The retry carried a 3072-bit KE: 384 bytes instead of 256.
    let sizes: Vec<usize> = p
        .exchanges_from(6)
        .iter()
        .filter(|r| r.1 == "CREATE_CHILD_SA")
        .map(|r| r.4)
        .collect();
    // The refusal is a lone N(INVALID_KE_PAYLOAD, 14) in SK: 28 + 4 + 16 + 16 + 12.
    assert_eq!(sizes[1], 76, "{sizes:?}");
    assert_eq!(sizes[2] - sizes[0], 128, "{sizes:?}");
}
