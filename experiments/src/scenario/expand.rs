//! Expanding a generated shape's template peer into its many peers and tunnels, so the
//! runner sees an ordinary list. `branch` with `branches: 3` and address 198.18.0.1 becomes
//! `branch-1`, `branch-2`, `branch-3` at 198.18.0.1, .2 and .3; a tunnel from `branch` to
//! `hub` becomes three tunnels, numbered in that order; filters and NATs named after the
//! template apply to each peer (NAT public addresses count up like the peers').

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::model::{Scenario, Shape, TunnelSpec};

/// A problem found while expanding: (field path, message).
pub type ExpandError = (String, String);

/// The template peer, how many peers it stands for, and the peer(s) that are not made from
/// it (hub, gateway), for the generated shapes; `None` for the others.
pub fn template_of(shape: &Shape) -> Option<(&str, u32, Option<&str>)> {
    match shape {
        Shape::HubAndSpoke {
            hub,
            branch,
            branches,
            ..
        } => Some((branch, *branches, Some(hub))),
        Shape::FullMesh { site, sites } => Some((site, *sites, None)),
        Shape::RemoteAccess {
            gateway,
            client,
            clients,
            ..
        } => Some((client, *clients, Some(gateway))),
        _ => None,
    }
}

/// `base` plus `k`, or `None` past the end of the address space.
pub fn offset_addr(base: IpAddr, k: u32) -> Option<IpAddr> {
    match base {
        IpAddr::V4(a) => u32::from(a)
            .checked_add(k)
            .map(|x| IpAddr::from(x.to_be_bytes())),
        IpAddr::V6(a) => u128::from(a)
            .checked_add(u128::from(k))
            .map(|x| IpAddr::from(x.to_be_bytes())),
    }
}

/// The name of the `k`-th (1-based) peer made from `template`, zero-padded to `width`.
fn instance(template: &str, k: u32, width: usize) -> String {
    format!("{template}-{k:0width$}")
}

/// The scenario with its template expanded (unchanged for shapes without one).
pub fn expand(s: &Scenario) -> Result<Scenario, ExpandError> {
    let Some((template, count, other)) = template_of(&s.network.shape) else {
        return Ok(s.clone());
    };
    let shape_field = "network.shape".to_string();
    let Some(tpl) = s.peers.get(template) else {
        return Err((
            shape_field,
            format!("template peer \"{template}\" is not among the peers"),
        ));
    };
    if count == 0 {
        return Err((
            shape_field,
            "needs at least one peer made from the template".into(),
        ));
    }
    let mut expected: BTreeSet<&str> = BTreeSet::from([template]);
    if let Some(o) = other {
        if o == template {
            return Err((
                shape_field,
                format!("\"{o}\" cannot be both the template and the hub"),
            ));
        }
        expected.insert(o);
    }
    let have: BTreeSet<&str> = s.peers.keys().map(String::as_str).collect();
    if have != expected {
        return Err((
            "peers".into(),
            format!("this shape's peers are exactly {expected:?}, found {have:?}"),
        ));
    }
    let width = count.to_string().len();
    let mut out = s.clone();
    out.peers.remove(template);
    let mut names = Vec::with_capacity(count as usize);
    for k in 1..=count {
        let name = instance(template, k, width);
        let mut p = tpl.clone();
        p.address = offset_addr(tpl.address, k - 1).ok_or_else(|| {
            (
                format!("peers.{template}.address"),
                format!(
                    "{count} peers from {} run past the end of the address space",
                    tpl.address
                ),
            )
        })?;
        out.peers.insert(name.clone(), p);
        names.push(name);
    }
    let mut used = BTreeSet::new();
    for (n, p) in &out.peers {
        if !used.insert(p.address) {
            return Err((
                format!("peers.{n}.address"),
                format!(
                    "address {} is used twice after expanding \"{template}\"",
                    p.address
                ),
            ));
        }
    }
    let mut tunnels = Vec::new();
    for t in &s.tunnels {
        let (i, r) = (t.initiator == template, t.responder == template);
        let with = |a: &str, b: &str| TunnelSpec {
            initiator: a.to_string(),
            responder: b.to_string(),
            ..t.clone()
        };
        match (i, r) {
            (true, true) => {
                for a in 0..names.len() {
                    for b in a + 1..names.len() {
                        tunnels.push(with(&names[a], &names[b]));
                    }
                }
            }
            (true, false) => tunnels.extend(names.iter().map(|n| with(n, &t.responder))),
            (false, true) => tunnels.extend(names.iter().map(|n| with(&t.initiator, n))),
            (false, false) => tunnels.push(t.clone()),
        }
    }
    out.tunnels = tunnels;
    if let Some(rules) = out.network.filters.remove(template) {
        for n in &names {
            out.network
                .filters
                .entry(n.clone())
                .or_insert_with(|| rules.clone());
        }
    }
    if let Some(nat) = out.network.nat.remove(template) {
        for (k, n) in names.iter().enumerate() {
            let mut x = nat.clone();
            x.public = offset_addr(nat.public, k as u32).ok_or_else(|| {
                (
                    format!("network.nat.{template}.public"),
                    "the NAT addresses run past the end of the address space".to_string(),
                )
            })?;
            out.network.nat.insert(n.clone(), x);
        }
    }
    for (what, who) in out
        .network
        .filters
        .keys()
        .map(|w| ("filters", w))
        .chain(out.network.nat.keys().map(|w| ("nat", w)))
    {
        if !out.peers.contains_key(who) {
            return Err((
                format!("network.{what}.{who}"),
                format!(
                    "unknown peer \"{who}\"; expected \"{template}\" (all of them), one of \"{}\" ... \"{}\", or another peer",
                    names[0],
                    names[names.len() - 1]
                ),
            ));
        }
    }
    super::load::check_actions(&out)?;
    Ok(out)
}
