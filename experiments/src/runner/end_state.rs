//! What the peers hold when a run ends: their SADs as notes in `trace.log` (what
//! `swanctl --list-sas` would show) and the duplicate SAs counted in `summary.json`.

use std::collections::BTreeMap;

use ike_model::events::SaRef;
use ike_model::ikev2::endpoint::{ChildState, IkeState};
use serde_json::json;
use sim_core::trace::TraceEvent;
use sim_core::{SimTime, Trace};

use super::Peer;

/// One `sad` note per live IKE SA and ISAKMP SA of every peer, with its CHILD_SAs / IPsec
/// SAs, at `end`.
pub(super) fn dump_sads(peers: &[Peer], trace: &mut Trace, end: SimTime) {
    for p in peers {
        for sa in p.ep.ike_sas().iter().filter(|s| s.state != IkeState::Dead) {
            let children: Vec<String> = sa
                .children
                .iter()
                .map(|c| {
                    format!(
                        "{:08x}_i {:08x}_o {}{}",
                        c.spi_in,
                        c.spi_out,
                        c.state.name(),
                        if c.outbound { " (outbound)" } else { "" }
                    )
                })
                .collect();
            let text = format!(
                "tunnel {}: IKE SA {} {} {} <-> {}; CHILD_SAs: {}",
                sa.tunnel,
                sa.sa_ref(),
                sa.state.name(),
                sa.local,
                sa.peer,
                joined_or_none(&children)
            );
            sad_note(trace, end, p, text);
        }
    }
    for p in peers {
        for sa in p.v1.iter().flat_map(|v1| v1.isakmp_sas()) {
            let children: Vec<String> = sa
                .ipsec
                .iter()
                .map(|c| {
                    format!(
                        "{:08x}_i {:08x}_o{}",
                        c.spi_in,
                        c.spi_out,
                        if c.rekeyed { " (rekeyed)" } else { "" }
                    )
                })
                .collect();
            let text = format!(
                "tunnel {}: ISAKMP SA {} {}; IPsec SAs: {}",
                sa.tunnel,
                SaRef::Ike(sa.icookie, sa.rcookie),
                sa.state,
                joined_or_none(&children)
            );
            sad_note(trace, end, p, text);
        }
    }
}

/// A `sad` note of peer `p` at `end`.
fn sad_note(trace: &mut Trace, end: SimTime, p: &Peer, text: String) {
    trace.emit(end, || TraceEvent::Note {
        node: Some(p.node),
        category: "sad".into(),
        text,
    });
}

/// `items` joined by commas, or "none".
fn joined_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// SAs beyond one per tunnel and peer at the end of the run: (IKE SAs, CHILD_SAs).
pub(super) fn duplicates(peers: &[Peer], tunnels: usize) -> serde_json::Value {
    // One pass over each peer's SADs: (IKE SAs, live CHILD_SAs) per tunnel.
    let (mut ike, mut child) = (0usize, 0usize);
    for p in peers {
        let mut v2: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for s in p.ep.ike_sas() {
            if (s.tunnel as usize) < tunnels && s.state == IkeState::Established {
                let e = v2.entry(s.tunnel).or_default();
                e.0 += 1;
                e.1 += s
                    .children
                    .iter()
                    .filter(|c| c.state == ChildState::Installed)
                    .count();
            }
        }
        // IKEv1: IPsec SAs not yet replaced (a rekeyed one waits for its hard lifetime).
        let mut v1: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
        for s in p.v1.iter().flat_map(|v1| v1.isakmp_sas()) {
            if (s.tunnel as usize) < tunnels && s.established {
                let e = v1.entry(s.tunnel).or_default();
                e.0 += 1;
                e.1 += s.ipsec.iter().filter(|c| !c.rekeyed).count();
            }
        }
        for (n_ike, n_child) in v2.values().chain(v1.values()) {
            ike += n_ike.saturating_sub(1);
            child += n_child.saturating_sub(1);
        }
    }
    json!({ "ike": ike, "child": child })
}
