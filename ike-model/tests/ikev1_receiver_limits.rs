//! strongSwan's receiver screens a first Main or Aggressive Mode message as it does
//! IKE_SA_INIT (`block_threshold`, `init_limit_half_open`, `init_limit_job_load`; IKEv1 has
//! no COOKIE), and a responder's ISAKMP SA that is not established 30 s after the first
//! message is deleted (`half_open_timeout`), so it stops counting as half-open.

use std::net::SocketAddr;

use ike_model::ikev1::endpoint::{Config1, Endpoint1};
use ike_model::ikev2::endpoint::TunnelConfig;
use sim_core::{Duration, RngStreams, SimTime};

const R: &str = "10.99.0.100";
const PSK: &[u8] = b"ike-ref-test-psk";

fn addr(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 500)
}

/// A responder with `cfg` and initiators at 10.99.0.k (k = 1..=n), tunnel k - 1 each.
fn endpoints(cfg: Config1, n: usize) -> (Endpoint1, Vec<Endpoint1>) {
    let streams = RngStreams::new(3);
    let mut r = Endpoint1::new(cfg, streams.stream("r"));
    let mut inits = Vec::new();
    for k in 0..n {
        let a = format!("10.99.0.{}", k + 1);
        r.add_tunnel(TunnelConfig::host_to_host(
            k as u32,
            R.parse().unwrap(),
            a.parse().unwrap(),
        ));
        let mut ep = Endpoint1::new(
            Config1::reference(a.parse().unwrap(), PSK),
            streams.stream(&a),
        );
        ep.add_tunnel(TunnelConfig::host_to_host(
            k as u32,
            a.parse().unwrap(),
            R.parse().unwrap(),
        ));
        inits.push(ep);
    }
    (r, inits)
}

/// Initiator `k`'s first Main Mode message, sent now.
fn main_mode_1(i: &mut Endpoint1, k: usize, now: SimTime) -> Vec<u8> {
    i.start_tunnel(now, k as u32, R.parse().unwrap(), false);
    i.poll_transmit().expect("Main Mode 1").2
}

fn live(ep: &Endpoint1) -> usize {
    ep.isakmp_sas().len()
}

#[test]
fn a_half_open_responder_sa_is_deleted_after_30_s_and_stops_counting() {
    let cfg = Config1 {
        half_open_limit: Some(1),
        ..Config1::reference(R.parse().unwrap(), PSK)
    };
    let (mut r, mut inits) = endpoints(cfg, 2);
    let t0 = SimTime::ZERO;
    let mm1 = main_mode_1(&mut inits[0], 0, t0);
    r.handle_datagram(t0, addr("10.99.0.1"), addr(R), &mm1);
    assert!(r.poll_transmit().is_some(), "Main Mode 2");
    assert_eq!(live(&r), 1);
    // A second initiator meets the limit while the first SA is half-open.
    let other = main_mode_1(&mut inits[1], 1, t0);
    r.handle_datagram(t0, addr("10.99.0.2"), addr(R), &other);
    assert!(r.poll_transmit().is_none(), "dropped silently");
    assert_eq!(r.dropped["half-open limit (init_limit_half_open)"], 1);
    // The first initiator never sends Main Mode 3: 30 s later its SA is gone.
    let due = r.poll_timeout().expect("the half-open timeout");
    assert_eq!(due, t0 + Duration::from_secs(30));
    r.handle_timeout(due);
    assert_eq!(live(&r), 0);
    // Now the second gets in.
    r.handle_datagram(due, addr("10.99.0.2"), addr(R), &other);
    assert!(r.poll_transmit().is_some());
    assert_eq!(live(&r), 1);
}

#[test]
fn first_messages_are_screened_on_arrival_by_address_and_load() {
    let cfg = Config1 {
        block_threshold: Some(1),
        job_load_limit: Some(5),
        ..Config1::reference(R.parse().unwrap(), PSK)
    };
    let (mut r, mut inits) = endpoints(cfg, 2);
    r.set_screening_on_arrival(true);
    let t0 = SimTime::ZERO;
    let mm1 = main_mode_1(&mut inits[0], 0, t0);
    let from = addr("10.99.0.1");
    assert!(
        !r.screen_datagram(t0, from, addr(R), &mm1, 6),
        "load above the limit"
    );
    assert_eq!(r.dropped["job load limit (init_limit_job_load)"], 1);
    assert!(r.screen_datagram(t0, from, addr(R), &mm1, 5));
    r.handle_datagram(t0, from, addr(R), &mm1);
    let mm2 = r.poll_transmit().expect("Main Mode 2").2;
    // A repeat of Main Mode 1 belongs to the SA now and is not screened; a new Main Mode
    // from the same address meets block_threshold (one half-open SA there).
    assert!(r.screen_datagram(t0, from, addr(R), &mm1, 100));
    let mut again = Endpoint1::new(
        Config1::reference("10.99.0.1".parse().unwrap(), PSK),
        RngStreams::new(4).stream("again"),
    );
    again.add_tunnel(TunnelConfig::host_to_host(
        0,
        "10.99.0.1".parse().unwrap(),
        R.parse().unwrap(),
    ));
    let second = main_mode_1(&mut again, 0, t0);
    assert!(!r.screen_datagram(t0, from, addr(R), &second, 0));
    assert_eq!(r.dropped["per-IP half-open limit (block_threshold)"], 1);
    // Another address is not blocked, and answers are never screened.
    let other = main_mode_1(&mut inits[1], 1, t0);
    assert!(r.screen_datagram(t0, addr("10.99.0.2"), addr(R), &other, 0));
    assert!(inits[0].screen_datagram(t0, addr(R), from, &mm2, 100));
}
