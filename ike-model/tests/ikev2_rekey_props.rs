//! The rekey invariant, over random lifetimes, jitters, delays and losses: two
//! strongSwan-like peers that rekey CHILD and IKE SAs on their own timers (colliding often,
//! since the responder installs first and jitter may be zero) always settle, once no
//! exchange is going, on one IKE SA and one CHILD_SA pair with the same SPIs on both sides.

mod pair;

use ike_model::ikev2::endpoint::EndpointConfig;
use ike_model::policy::LifetimePolicy;
use ike_model::policy::lifetime::HardExpiry;
use pair::{A, B, PSK, Pair, agree, config};
use proptest::prelude::*;
use sim_core::{Duration, SimTime};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[derive(Clone, Debug)]
struct Life {
    child_rekey: u64,
    child_rand: u64,
    ike_rekey: u64,
    ike_rand: u64,
    granular: bool,
}

fn peer(addr: &str, l: &Life) -> EndpointConfig {
    let g = l.granular.then(|| secs(1));
    EndpointConfig {
        child_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: secs(l.child_rekey),
            rand_time: secs(l.child_rand),
            hard: HardExpiry::LifeTime(secs(l.child_rekey + 90)),
            granularity: g,
            ike: false,
        },
        ike_lifetime: LifetimePolicy::StrongSwan {
            rekey_time: secs(l.ike_rekey),
            rand_time: secs(l.ike_rand),
            hard: HardExpiry::OverTime(secs(90)),
            granularity: g,
            ike: true,
        },
        ..config(addr, PSK)
    }
}

fn life() -> impl Strategy<Value = Life> {
    (20u64..120, 0u64..10, 60u64..400, 0u64..40, any::<bool>()).prop_map(
        |(child_rekey, child_rand, ike_rekey, ike_rand, granular)| Life {
            child_rekey,
            child_rand: child_rand.min(child_rekey / 2),
            ike_rekey,
            ike_rand: ike_rand.min(ike_rekey / 2),
            granular,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn two_strongswan_peers_always_settle_on_one_agreeing_sa_set(
        seed in 0u64..1_000_000,
        a in life(),
        b_same in any::<bool>(),
        b in life(),
        delay_ms in 1u64..300,
        back_ms in 1u64..300,
        loss in prop_oneof![Just(0.0), 0.0f64..0.05],
    ) {
        let b = if b_same { a.clone() } else { b };
        let mut p = Pair::with(peer(A, &a), peer(B, &b), seed);
        p.delay = Duration::from_millis(delay_ms);
        p.delay_back = Some(Duration::from_millis(back_ms));
        p.loss = loss;
        let horizon = SimTime::ZERO + secs(1200);
        let quiet = p.run_until_quiet(horizon, horizon + secs(900));
        prop_assert!(quiet, "never quiet after {horizon:?}");
        prop_assert_eq!(agree(&p), 1);
    }
}
