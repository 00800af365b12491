//! strongSwan's receiver thread screens each IKE_SA_INIT request as it arrives, before it
//! queues a job for a worker (`drop_ike_sa_init`): the COOKIE, `block_threshold`,
//! `init_limit_half_open` and `init_limit_job_load`. A driver with a CPU queue calls
//! `Endpoint::screen_datagram` on arrival; these tests check that the COOKIE answer is made
//! there, that the limits see the state at arrival (not when the job runs), and that the
//! job-load limit counts the jobs waiting.

mod pair;

use std::net::SocketAddr;

use ike_model::ikev2::consts::NotifyType;
use ike_model::ikev2::endpoint::{Endpoint, EndpointConfig, IKE_PORT};
use ike_model::ikev2::message::Message;
use ike_model::ikev2::payload::Payload;
use pair::{PSK, config};
use sim_core::{RngStreams, SimTime};

const R: &str = "10.99.0.100";

fn addr(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), IKE_PORT)
}

/// A responder with `cfg`'s limits that screens on arrival, and initiators at 10.99.0.k
/// (k = 1..=n), each with tunnel k - 1 to it.
fn endpoints(cfg: EndpointConfig, n: usize) -> (Endpoint, Vec<Endpoint>) {
    let streams = RngStreams::new(9);
    let mut r = Endpoint::new(cfg, streams.stream("r"));
    r.set_screening_on_arrival(true);
    let mut inits = Vec::new();
    for k in 0..n {
        let a = format!("10.99.0.{}", k + 1);
        r.add_peer(a.parse().unwrap(), k as u32);
        let mut ep = Endpoint::new(config(&a, PSK), streams.stream(&a));
        ep.add_peer(R.parse().unwrap(), k as u32);
        inits.push(ep);
    }
    (r, inits)
}

/// Initiator `k` starts its tunnel now: its IKE_SA_INIT request.
fn start(i: &mut Endpoint, k: usize, now: SimTime) -> Vec<u8> {
    i.start_tunnel(now, k as u32, R.parse().unwrap());
    i.poll_transmit().expect("IKE_SA_INIT request").payload
}

fn notify_types(bytes: &[u8]) -> Vec<NotifyType> {
    Message::decode(bytes)
        .unwrap()
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) => Some(n.ty),
            _ => None,
        })
        .collect()
}

#[test]
fn the_cookie_is_answered_on_arrival_and_not_asked_again() {
    let cfg = EndpointConfig {
        cookie_threshold: Some(0),
        ..config(R, PSK)
    };
    let (mut r, mut inits) = endpoints(cfg, 1);
    let now = SimTime::ZERO;
    let req = start(&mut inits[0], 0, now);
    assert!(!r.screen_datagram(now, addr("10.99.0.1"), addr(R), &req, 0));
    let cookie = r.poll_transmit().expect("COOKIE answered by the receiver");
    assert_eq!(notify_types(&cookie.payload), vec![NotifyType::COOKIE]);
    assert!(r.ike_sas().is_empty(), "stateless");
    // The initiator repeats its request with the cookie; it passes and is answered.
    inits[0].handle_datagram(now, addr(R), addr("10.99.0.1"), &cookie.payload);
    let again = inits[0]
        .poll_transmit()
        .expect("request with the cookie")
        .payload;
    assert!(r.screen_datagram(now, addr("10.99.0.1"), addr(R), &again, 0));
    assert!(r.poll_transmit().is_none());
    r.handle_datagram(now, addr("10.99.0.1"), addr(R), &again);
    let answer = r.poll_transmit().expect("IKE_SA_INIT response").payload;
    assert!(!notify_types(&answer).contains(&NotifyType::COOKIE));
    assert_eq!(r.ike_sas().len(), 1);
}

/// Two requests arrive while no IKE SA is half-open; both jobs wait. With
/// `init_limit_half_open = 1` both passed the receiver, so both are answered, as in
/// strongSwan; a third, arriving once the first two are half-open, is dropped.
#[test]
fn the_half_open_limit_sees_the_sad_as_it_was_on_arrival() {
    let cfg = EndpointConfig {
        half_open_limit: Some(1),
        ..config(R, PSK)
    };
    let (mut r, mut inits) = endpoints(cfg, 3);
    let now = SimTime::ZERO;
    let reqs: Vec<Vec<u8>> = (0..3).map(|k| start(&mut inits[k], k, now)).collect();
    for (k, req) in reqs.iter().enumerate().take(2) {
        let from = addr(&format!("10.99.0.{}", k + 1));
        assert!(r.screen_datagram(now, from, addr(R), req, k), "request {k}");
    }
    for (k, req) in reqs.iter().enumerate().take(2) {
        r.handle_datagram(now, addr(&format!("10.99.0.{}", k + 1)), addr(R), req);
        assert!(r.poll_transmit().is_some(), "request {k} answered");
    }
    assert_eq!(r.ike_sas().len(), 2);
    assert!(!r.screen_datagram(now, addr("10.99.0.3"), addr(R), &reqs[2], 0));
    assert_eq!(r.dropped["half-open limit (init_limit_half_open)"], 1);
    assert!(r.poll_transmit().is_none(), "dropped silently");
}

#[test]
fn the_job_load_limit_drops_new_ike_sas_only_above_it() {
    let cfg = EndpointConfig {
        job_load_limit: Some(2),
        ..config(R, PSK)
    };
    let (mut r, mut inits) = endpoints(cfg, 2);
    let now = SimTime::ZERO;
    let req = start(&mut inits[0], 0, now);
    let from = addr("10.99.0.1");
    // strongSwan drops when the jobs waiting exceed the limit.
    assert!(!r.screen_datagram(now, from, addr(R), &req, 3));
    assert_eq!(r.dropped["job load limit (init_limit_job_load)"], 1);
    assert!(r.poll_transmit().is_none(), "dropped silently");
    assert!(r.screen_datagram(now, from, addr(R), &req, 2));
    // The response of an exchange, and a retransmitted request of an IKE SA that exists,
    // are not screened, however long the queue.
    r.handle_datagram(now, from, addr(R), &req);
    let answer = r.poll_transmit().expect("IKE_SA_INIT response").payload;
    assert!(r.screen_datagram(now, from, addr(R), &req, 100));
    assert!(inits[0].screen_datagram(now, addr(R), from, &answer, 100));
    assert_eq!(r.dropped_total(), 1);
    // Without the limit nothing is dropped at any load.
    let (mut free, mut others) = endpoints(config(R, PSK), 2);
    let req2 = start(&mut others[1], 1, now);
    assert!(free.screen_datagram(now, addr("10.99.0.2"), addr(R), &req2, 10_000));
}
