//! A scenario peer's settings turned into the endpoints' configurations: the IKEv2
//! endpoint's (presets, proposals in strongSwan syntax, lifetimes, retransmission, limits)
//! and the IKEv1 endpoint's.

use anyhow::Result;
use ike_model::ikev1::endpoint::Config1;
use ike_model::ikev2::endpoint::{EndpointConfig, Flavour, RekeyStyle};
use ike_model::policy::{LifetimePolicy, RetransmitPolicy};

use crate::scenario::Scenario;
use crate::scenario::model::Preset;
use crate::scenario::proposals::{DEFAULT_ESP, DEFAULT_IKE, parse_esp, parse_ike};

/// The IKEv2 endpoint configuration of peer `name`.
pub(crate) fn endpoint_config(s: &Scenario, name: &str) -> Result<EndpointConfig> {
    let p = &s.peers[name];
    let ike = p
        .ike_proposals
        .as_ref()
        .and_then(|v| v.first())
        .map_or(DEFAULT_IKE, String::as_str);
    let esp = p
        .esp_proposals
        .as_ref()
        .and_then(|v| v.first())
        .map_or(DEFAULT_ESP, String::as_str);
    let (suite, dh_groups) = parse_ike(ike).map_err(anyhow::Error::msg)?;
    let (esp_encr, esp_integ, esp_dh) = parse_esp(esp).map_err(anyhow::Error::msg)?;
    let retransmit = p.retransmit.clone().unwrap_or(match p.preset {
        Preset::StrongSwan | Preset::Srx => RetransmitPolicy::strongswan(),
        Preset::Libreswan => RetransmitPolicy::libreswan(),
        Preset::Cisco => RetransmitPolicy::cisco(),
    });
    Ok(EndpointConfig {
        addr: p.address,
        psk: p
            .psk
            .clone()
            .unwrap_or_else(|| "ike-ref-test-psk".into())
            .into_bytes(),
        suite,
        dh_groups,
        dh_exponent_bits: None,
        modeled: s.crypto == crate::scenario::model::CryptoMode::Modeled,
        esp_encr,
        esp_integ,
        retransmit,
        esp_dh,
        dpd: p.dpd,
        cookie_threshold: p.cookie_threshold,
        cookie_threshold_ip: p.cookie_threshold_ip,
        block_threshold: p.block_threshold,
        half_open_limit: p.half_open_limit,
        job_load_limit: p.job_load_limit,
        window: p.window.unwrap_or(1),
        keepalive: match p.keepalive {
            Some(d) if d == sim_core::Duration::ZERO => None,
            Some(d) => Some(d),
            None => Some(sim_core::Duration::from_secs(20)),
        },
        mobike: p.mobike.unwrap_or(p.preset == Preset::StrongSwan),
        force_encap: p.encap,
        flavour: match p.preset {
            Preset::Srx => Flavour::Srx,
            Preset::StrongSwan | Preset::Libreswan | Preset::Cisco => Flavour::StrongSwan,
        },
        ike_lifetime: p.ike_lifetime.clone().unwrap_or_else(|| match p.preset {
            Preset::StrongSwan => LifetimePolicy::strongswan_ike(),
            Preset::Libreswan => LifetimePolicy::libreswan(),
            Preset::Srx => LifetimePolicy::srx(28_800),
            Preset::Cisco => LifetimePolicy::srx(86_400),
        }),
        child_lifetime: p.child_lifetime.clone().unwrap_or_else(|| match p.preset {
            Preset::StrongSwan => LifetimePolicy::strongswan_child(),
            Preset::Libreswan => LifetimePolicy::libreswan(),
            Preset::Srx | Preset::Cisco => LifetimePolicy::srx(3_600),
        }),
        rekey_style: match p.preset {
            Preset::Libreswan => RekeyStyle::Libreswan,
            Preset::StrongSwan | Preset::Srx | Preset::Cisco => RekeyStyle::StrongSwan,
        },
        restart_when_childless: p.preset == Preset::Srx,
    })
}

/// The IKEv1 configuration of peer `name` (same proposals, PSK and policies as IKEv2).
pub(crate) fn config_v1(s: &Scenario, name: &str) -> Result<Config1> {
    let v2 = endpoint_config(s, name)?;
    let seconds = |p: &LifetimePolicy| -> u32 {
        match p {
            LifetimePolicy::StrongSwan {
                rekey_time, hard, ..
            } => match hard {
                ike_model::policy::HardExpiry::LifeTime(l) => l.as_secs_f64() as u32,
                ike_model::policy::HardExpiry::OverTime(o) => {
                    (*rekey_time + *o).as_secs_f64() as u32
                }
            },
            LifetimePolicy::Libreswan { lifetime, .. } => lifetime.as_secs_f64() as u32,
            LifetimePolicy::Infinite => 0,
        }
    };
    Ok(Config1 {
        addr: v2.addr,
        psk: v2.psk,
        encr: v2.suite.encr,
        dh_groups: v2.dh_groups,
        dh_exponent_bits: v2.dh_exponent_bits,
        modeled: v2.modeled,
        esp_encr: v2.esp_encr,
        esp_integ: v2.esp_integ,
        pfs: v2.esp_dh,
        retransmit: v2.retransmit,
        ike_life_s: seconds(&v2.ike_lifetime),
        ike_lifetime: v2.ike_lifetime,
        child_lifetime: v2.child_lifetime,
        dpd: v2.dpd,
        dpd_timeout: sim_core::Duration::from_secs(150),
        lifetimes: s.peers[name].ikev1_lifetimes,
        force_encap: v2.force_encap,
        keepalive: v2.keepalive,
        block_threshold: v2.block_threshold,
        half_open_limit: v2.half_open_limit,
        job_load_limit: v2.job_load_limit,
    })
}
