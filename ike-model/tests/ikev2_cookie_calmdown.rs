//! strongSwan keeps demanding COOKIEs for 10 s after the half-open threshold was last
//! reached (its receiver's COOKIE_CALMDOWN_DELAY), so initiators whose retransmissions
//! straddle the change are not answered both ways. A responder with `cookie_threshold: 1`
//! and four initiators: the second, arriving while the first is half-open, gets a COOKIE;
//! one arriving 5 s later, with nothing half-open, still gets one; one arriving 20 s later
//! does not.

mod pair;

use std::net::SocketAddr;

use ike_model::events::{Event, ExchangeKind, Outcome};
use ike_model::ikev2::endpoint::{Endpoint, EndpointConfig};
use pair::{PSK, config};
use sim_core::{Duration, RngStreams, SimTime};

const R: &str = "10.99.0.100";

/// Runs the responder and `starts.len()` initiators over a 10 ms path, each initiator
/// starting at its time; returns each initiator's IKE_SA_INIT outcomes in order.
fn run(starts: &[u64], threshold: u32) -> Vec<Vec<Outcome>> {
    let streams = RngStreams::new(5);
    let rcfg = EndpointConfig {
        cookie_threshold: Some(threshold),
        ..config(R, PSK)
    };
    let mut eps = vec![Endpoint::new(rcfg, streams.stream("r"))];
    for k in 0..starts.len() {
        let addr = format!("10.99.0.{}", k + 1);
        let mut ep = Endpoint::new(config(&addr, PSK), streams.stream(&addr));
        ep.add_peer(R.parse().unwrap(), k as u32);
        eps.push(ep);
    }
    eps[0].set_key_log(false);
    for k in 0..starts.len() {
        eps[0].add_peer(format!("10.99.0.{}", k + 1).parse().unwrap(), k as u32);
    }
    let delay = Duration::from_millis(10);
    // (arrival, to, from, dst, bytes), kept in arrival order.
    let mut wire: Vec<(SimTime, usize, SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
    let mut outcomes = vec![Vec::new(); starts.len()];
    let mut now = SimTime::ZERO;
    let end = SimTime::ZERO + Duration::from_secs(60);
    let mut started = vec![false; starts.len()];
    while now < end {
        // The next thing to happen: a start, an arrival or a timer.
        let mut next = end;
        for (k, s) in starts.iter().enumerate() {
            if !started[k] {
                next = next.min(SimTime::ZERO + Duration::from_millis(*s));
            }
        }
        if let Some(w) = wire.iter().map(|w| w.0).min() {
            next = next.min(w);
        }
        for ep in &eps {
            if let Some(t) = ep.poll_timeout() {
                next = next.min(t);
            }
        }
        now = next;
        for (k, s) in starts.iter().enumerate() {
            if !started[k] && SimTime::ZERO + Duration::from_millis(*s) <= now {
                started[k] = true;
                eps[k + 1].start_tunnel(now, k as u32, R.parse().unwrap());
            }
        }
        while let Some(pos) = wire.iter().position(|w| w.0 <= now) {
            let (_, to, from, dst, bytes) = wire.remove(pos);
            eps[to].handle_datagram(now, from, dst, &bytes);
        }
        for ep in eps.iter_mut() {
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
        }
        for (from_k, ep) in eps.iter_mut().enumerate() {
            while let Some(tx) = ep.poll_transmit() {
                let to = if from_k == 0 {
                    let last = match tx.dst.ip() {
                        std::net::IpAddr::V4(a) => a.octets()[3],
                        _ => unreachable!(),
                    };
                    last as usize
                } else {
                    0
                };
                wire.push((now + delay, to, tx.src, tx.dst, tx.payload));
            }
            while let Some((_, e)) = ep.poll_event() {
                if let Event::ExchangeFinished {
                    kind: ExchangeKind::IkeSaInit,
                    outcome,
                    ..
                } = e
                {
                    outcomes[from_k - 1].push(outcome);
                }
            }
        }
    }
    outcomes
}

#[test]
fn cookies_stay_on_for_ten_seconds_after_the_threshold() {
    let cookie = Outcome::Refused("COOKIE".into());
    let o = run(&[0, 5, 5_000, 20_000], 1);
    assert_eq!(o[0], vec![Outcome::Success], "nothing half-open yet");
    assert_eq!(
        o[1],
        vec![cookie.clone(), Outcome::Success],
        "one half-open"
    );
    assert_eq!(
        o[2],
        vec![cookie.clone(), Outcome::Success],
        "nothing half-open, but within 10 s of the threshold"
    );
    assert_eq!(o[3], vec![Outcome::Success], "calm again");
}
