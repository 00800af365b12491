//! Reading a scenario file: RON syntax and types first (with the field path from
//! `serde_path_to_error` and the position from RON), then the checks that need the whole
//! scenario (peer names, address clashes, policy ranges). Every error names the file, the
//! line and column, the field, and what was expected.

use std::fmt;
use std::path::Path;

use super::model::{Scenario, Shape};

/// A scenario that could not be used, and exactly where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (as given on the command line).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// The field, as a path such as `peers.gw-a.retransmit.timeout` or `tunnels[0].initiator`.
    pub field: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if !self.field.is_empty() && self.field != "." {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Reads and checks the scenario file at `path`.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let name = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: name.clone(),
        line: 0,
        col: 0,
        field: String::new(),
        message: format!("cannot read the file: {e}"),
    })?;
    let mut s = parse_scenario(&name, &src)?;
    resolve_topology_file(path, &mut s)?;
    resolve_cost_files(path, &src, &mut s)?;
    Ok(s)
}

/// Reads each peer's `cpu.costs_file` (relative to the scenario file) into its `costs`.
fn resolve_cost_files(
    scenario_path: &Path,
    scenario_src: &str,
    s: &mut Scenario,
) -> Result<(), ScenarioError> {
    for (name, peer) in s.peers.iter_mut() {
        let Some(cpu) = peer.cpu.as_mut() else {
            continue;
        };
        let Some(rel) = cpu.costs_file.take() else {
            continue;
        };
        let field = format!("peers.{name}.cpu.costs_file");
        let (line, col) = locate(scenario_src, &field, Some(rel.clone()).as_deref());
        let at = |message: String| ScenarioError {
            file: scenario_path.display().to_string(),
            line,
            col,
            field: field.clone(),
            message,
        };
        if cpu.costs != crate::scenario::model::CostTable::default() {
            return Err(at("give `costs` or `costs_file`, not both".into()));
        }
        let path = scenario_path.parent().unwrap_or(Path::new(".")).join(&rel);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            at(format!(
                "cannot read the cost table {}: {e} (`ikesim calibrate --out FILE` writes one)",
                path.display()
            ))
        })?;
        cpu.costs = parse_ron(&path.display().to_string(), &text, "cost table")?;
    }
    Ok(())
}

/// Parses and checks scenario text; `file` only names it in errors.
pub fn parse_scenario(file: &str, src: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = parse_ron(file, src, "scenario")?;
    let err = |(field, needle, message): (String, Option<String>, String)| {
        let (line, col) = locate(src, &field, needle.as_deref());
        ScenarioError {
            file: file.to_string(),
            line,
            col,
            field,
            message,
        }
    };
    check(&scenario).map_err(err)?;
    super::expand::expand(&scenario).map_err(|(f, m)| err((f, None, m)))?;
    Ok(scenario)
}

/// Reads RON text into `T` with the field path and position of the first error; `what`
/// names the document in the message about trailing text.
fn parse_ron<T: serde::de::DeserializeOwned>(
    file: &str,
    src: &str,
    what: &str,
) -> Result<T, ScenarioError> {
    let err = |line: usize, col: usize, field: String, message: String| ScenarioError {
        file: file.to_string(),
        line,
        col,
        field,
        message,
    };
    // Optional fields are written bare (`dpd: "5s"`, not `dpd: Some("5s")`).
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut de = ron::Deserializer::from_str_with_options(src, &options).map_err(|e| {
        err(
            e.span.start.line,
            e.span.start.col,
            String::new(),
            e.code.to_string(),
        )
    })?;
    let value: T = match serde_path_to_error::deserialize(&mut de) {
        Ok(s) => s,
        Err(e) => {
            let field = e.path().to_string();
            let spanned = de.span_error(e.into_inner());
            return Err(err(
                spanned.span.start.line,
                spanned.span.start.col,
                field,
                spanned.code.to_string(),
            ));
        }
    };
    if let Err(e) = de.end() {
        let spanned = de.span_error(e);
        return Err(err(
            spanned.span.start.line,
            spanned.span.start.col,
            String::new(),
            format!("{} (text after the end of the {what})", spanned.code),
        ));
    }
    Ok(value)
}

/// Reads the topology file a scenario at `scenario_path` names (relative to the scenario's
/// folder) and puts the graph in its place.
fn resolve_topology_file(scenario_path: &Path, s: &mut Scenario) -> Result<(), ScenarioError> {
    let Shape::File(rel) = &s.network.shape else {
        return Ok(());
    };
    let path = scenario_path.parent().unwrap_or(Path::new(".")).join(rel);
    let name = path.display().to_string();
    let src = std::fs::read_to_string(&path).map_err(|e| ScenarioError {
        file: scenario_path.display().to_string(),
        line: 0,
        col: 0,
        field: "network.shape".into(),
        message: format!("cannot read the topology file {name}: {e}"),
    })?;
    let graph: topologies::GraphSpec = parse_ron(&name, &src, "topology")?;
    s.network.shape = Shape::Graph(graph);
    check_graph(s).map_err(|(field, _, message)| ScenarioError {
        file: name,
        line: 0,
        col: 0,
        field,
        message,
    })
}

/// The whole-scenario checks of the loader, for a scenario built another way (a sweep's
/// job): `field: message` of the first problem.
pub fn validate(s: &Scenario) -> Result<(), String> {
    check(s).map_err(|(field, _, msg)| format!("{field}: {msg}"))
}

/// Whole-scenario checks. An error is (field path, text to point at, message).
fn check(s: &Scenario) -> Result<(), (String, Option<String>, String)> {
    let fail = |field: String, needle: Option<String>, msg: String| Err((field, needle, msg));
    if s.duration == sim_core::Duration::ZERO {
        return fail(
            "duration".into(),
            None,
            "must be longer than zero, e.g. \"10m\"".into(),
        );
    }
    if s.network.shape == Shape::TwoSite && s.peers.len() != 2 {
        return fail(
            "peers".into(),
            None,
            format!(
                "the two-site network needs exactly 2 peers, found {}",
                s.peers.len()
            ),
        );
    }
    let mut seen = Vec::new();
    for (name, p) in &s.peers {
        if let Some(other) = seen.iter().find(|(_, a)| *a == p.address) {
            let (o, _): &(&String, std::net::IpAddr) = other;
            return fail(
                format!("peers.{name}.address"),
                Some(p.address.to_string()),
                format!("address {} is already used by peer \"{o}\"", p.address),
            );
        }
        seen.push((name, p.address));
        let policy_checks = [
            ("retransmit", p.retransmit.as_ref().map(|r| r.validate())),
            (
                "ike_lifetime",
                p.ike_lifetime.as_ref().map(|l| l.validate()),
            ),
            (
                "child_lifetime",
                p.child_lifetime.as_ref().map(|l| l.validate()),
            ),
        ];
        for (what, res) in policy_checks {
            if let Some(Err(m)) = res {
                return fail(format!("peers.{name}.{what}"), None, m);
            }
        }
        for (what, list, parse) in [
            ("ike_proposals", &p.ike_proposals, 0),
            ("esp_proposals", &p.esp_proposals, 1),
        ] {
            for prop in list.iter().flatten() {
                let r = if parse == 0 {
                    super::proposals::parse_ike(prop).map(|_| ())
                } else {
                    super::proposals::parse_esp(prop).map(|_| ())
                };
                if let Err(m) = r {
                    return fail(
                        format!("peers.{name}.{what}"),
                        Some(format!("\"{prop}\"")),
                        m,
                    );
                }
            }
        }
        if p.job_load_limit.is_some() && p.cpu.is_none() {
            return fail(
                format!("peers.{name}.job_load_limit"),
                Some("job_load_limit".into()),
                "counts IKE datagrams waiting for a core: give the peer a cpu, e.g. \
                 cpu: (cores: 2)"
                    .into(),
            );
        }
        if p.window == Some(0) {
            return fail(
                format!("peers.{name}.window"),
                None,
                "window must be at least 1".into(),
            );
        }
    }
    if s.tunnels.is_empty() {
        return fail(
            "tunnels".into(),
            None,
            "no tunnels: add at least one (initiator: ..., responder: ...)".into(),
        );
    }
    let names: Vec<&str> = s.peers.keys().map(String::as_str).collect();
    for (i, t) in s.tunnels.iter().enumerate() {
        for (role, who) in [("initiator", &t.initiator), ("responder", &t.responder)] {
            if !s.peers.contains_key(who) {
                return fail(
                    format!("tunnels[{i}].{role}"),
                    Some(format!("\"{who}\"")),
                    format!("unknown peer \"{who}\"; expected one of {names:?}"),
                );
            }
        }
        let mesh_template = matches!(&s.network.shape, super::model::Shape::FullMesh { site, .. } if *site == t.initiator);
        if t.initiator == t.responder && !mesh_template {
            return fail(
                format!("tunnels[{i}].responder"),
                Some(format!("\"{}\"", t.responder)),
                "a tunnel needs two different peers".into(),
            );
        }
    }
    for (i, t) in s.tunnels.iter().enumerate() {
        for (what, list) in [
            ("initiator_ts", &t.initiator_ts),
            ("responder_ts", &t.responder_ts),
        ] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                return fail(
                    format!("tunnels[{i}].{what}"),
                    None,
                    "an empty list leaves nothing to protect; leave the field out for host-to-host"
                        .into(),
                );
            }
            for ts in list.iter().flatten() {
                if let Err(m) = super::selectors::parse_ts(ts) {
                    return fail(format!("tunnels[{i}].{what}"), Some(format!("\"{ts}\"")), m);
                }
            }
        }
    }
    if super::expand::template_of(&s.network.shape).is_none() {
        check_actions(s).map_err(|(f, m)| (f, None, m))?;
    }
    check_graph(s)?;
    for (name, params) in [
        ("forward", Some(&s.network.forward)),
        ("reverse", s.network.reverse.as_ref()),
    ] {
        if let Some(Err(e)) = params.map(|p| p.validate()) {
            return fail(format!("network.{name}"), None, e.0);
        }
    }
    // With a template, keys may also name the peers made from it (checked on expansion).
    let generated = super::expand::template_of(&s.network.shape).is_some();
    for (what, who) in s
        .network
        .filters
        .keys()
        .map(|w| ("filters", w))
        .chain(s.network.nat.keys().map(|w| ("nat", w)))
    {
        if !generated && !s.peers.contains_key(who) {
            return fail(
                format!("network.{what}.{who}"),
                Some(format!("\"{who}\"")),
                format!("unknown peer \"{who}\"; expected one of {names:?}"),
            );
        }
    }
    Ok(())
}

/// Checks the actions against the (expanded) tunnel list: (field path, message).
pub(crate) fn check_actions(s: &Scenario) -> Result<(), (String, String)> {
    for (i, a) in s.actions.iter().enumerate() {
        let Some(t) = s.tunnels.get(a.tunnel) else {
            return Err((
                format!("actions[{i}].tunnel"),
                format!(
                    "no tunnel {}; tunnels are numbered from 0 to {}",
                    a.tunnel,
                    s.tunnels.len() - 1
                ),
            ));
        };
        if let Some(who) = &a.peer
            && *who != t.initiator
            && *who != t.responder
        {
            return Err((
                format!("actions[{i}].peer"),
                format!(
                    "\"{who}\" is not an end of tunnel {}; expected \"{}\" or \"{}\"",
                    a.tunnel, t.initiator, t.responder
                ),
            ));
        }
        if a.at > s.duration {
            return Err((
                format!("actions[{i}].at"),
                "after the end of the run (duration)".into(),
            ));
        }
    }
    Ok(())
}

/// The checks of a hand-written graph: every peer has a node, filters and NATs belong on
/// the graph's nodes.
fn check_graph(s: &Scenario) -> Result<(), (String, Option<String>, String)> {
    let Shape::Graph(g) = &s.network.shape else {
        return Ok(());
    };
    if !s.network.filters.is_empty() || !s.network.nat.is_empty() {
        return Err((
            "network.filters".into(),
            None,
            "with a graph, put filter rules on its nodes (`filter: [...]`); NATs come with the built-in shapes".into(),
        ));
    }
    for p in s.peers.keys() {
        if !g.nodes.iter().any(|n| &n.name == p) {
            return Err((
                "network.shape".into(),
                Some(format!("\"{p}\"")),
                format!("peer \"{p}\" has no node of that name in the graph"),
            ));
        }
    }
    Ok(())
}

/// Finds where to point for a field path: the `needle` text after the path's first key,
/// else the last key of the path, else the start of the file. Returns 1-based (line, col).
fn locate(src: &str, field: &str, needle: Option<&str>) -> (usize, usize) {
    let keys: Vec<&str> = field
        .split(['.', '['])
        .map(|k| k.trim_end_matches(']'))
        .filter(|k| !k.is_empty() && !k.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let section = keys.first().and_then(|k| find_key(src, k, 0)).unwrap_or(0);
    let mut at = None;
    if let Some(n) = needle {
        // The n-th element of a list: skip earlier occurrences is not attempted; the first
        // occurrence inside the section is the best pointer a reader needs.
        at = src[section..].find(n).map(|i| section + i);
    }
    if at.is_none() {
        let mut from = section;
        for k in keys.iter().skip(1) {
            if let Some(i) = find_key(src, k, from) {
                from = i;
            }
        }
        at = Some(from);
    }
    let at = at.unwrap_or(0);
    let line = src[..at].matches('\n').count() + 1;
    let col = at - src[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The byte offset of `key` used as a field name (`key:` or `"key":`) at or after `from`.
fn find_key(src: &str, key: &str, from: usize) -> Option<usize> {
    let mut start = from;
    while let Some(i) = src[start..].find(key) {
        let pos = start + i;
        let after = src[pos + key.len()..].trim_start_matches('"').trim_start();
        let before_ok = pos == 0
            || !src[..pos]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if before_ok && after.starts_with(':') {
            return Some(if src[..pos].ends_with('"') {
                pos - 1
            } else {
                pos
            });
        }
        start = pos + key.len();
    }
    None
}
