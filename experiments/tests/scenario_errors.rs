//! Every bad scenario file gets one clear error naming the file, line, field and what was
//! expected; good ones load.

use experiments::scenario::{ScenarioError, parse_scenario};

const GOOD: &str = r#"Scenario(
    duration: "10m",
    peers: {
        "gw-a": (address: "10.99.0.1"),
        "gw-b": (address: "10.99.0.2", preset: Libreswan),
    },
    tunnels: [
        (initiator: "gw-a", responder: "gw-b"),
    ],
)
"#;

fn error_of(src: &str) -> ScenarioError {
    parse_scenario("bad.ron", src).expect_err("must be refused")
}

#[test]
fn a_minimal_scenario_loads_with_defaults() {
    let s = parse_scenario("good.ron", GOOD).unwrap();
    assert_eq!(s.seed, 1);
    assert_eq!(s.peers.len(), 2);
    assert_eq!(s.tunnels[0].start, sim_core::Duration::ZERO);
    assert_eq!(s.network.forward, sim_core::LinkParams::default());
}

#[test]
fn the_bundled_scenarios_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "ron") {
            experiments::scenario::load_scenario(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}

#[test]
fn unknown_field_names_the_field_and_the_line() {
    let src = GOOD.replace(
        r#"(address: "10.99.0.1")"#,
        r#"(address: "10.99.0.1", colour: "red")"#,
    );
    let e = error_of(&src);
    assert_eq!(e.file, "bad.ron");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.field.contains("gw-a"), "{e}");
    assert!(e.message.contains("colour"), "{e}");
    assert!(
        e.message.contains("address"),
        "lists the expected fields: {e}"
    );
}

#[test]
fn wrong_type_says_what_was_expected() {
    let src = GOOD.replace(r#"duration: "10m""#, "duration: true");
    let e = error_of(&src);
    assert_eq!(e.line, 2, "{e}");
    assert_eq!(e.field, "duration");
    assert!(e.message.contains("a duration such as"), "{e}");
}

#[test]
fn negative_duration_is_refused() {
    let src = GOOD.replace(
        r#"(initiator: "gw-a", responder: "gw-b")"#,
        r#"(initiator: "gw-a", responder: "gw-b", start: "-5s")"#,
    );
    let e = error_of(&src);
    assert_eq!(e.line, 8, "{e}");
    assert_eq!(e.field, "tunnels[0].start");
    assert!(e.message.contains("negative duration"), "{e}");
}

#[test]
fn unknown_peer_name_points_at_the_tunnel() {
    let src = GOOD.replace(r#"responder: "gw-b""#, r#"responder: "gw-c""#);
    let e = error_of(&src);
    assert_eq!(e.line, 8, "{e}");
    assert_eq!(e.field, "tunnels[0].responder");
    assert!(e.message.contains("unknown peer \"gw-c\""), "{e}");
    assert!(e.message.contains("gw-a"), "lists the known peers: {e}");
    assert!(e.to_string().starts_with("bad.ron:8:"), "{e}");
}

#[test]
fn out_of_range_values_are_refused_with_their_field() {
    let src = GOOD.replace(
        "duration: \"10m\",",
        "duration: \"10m\",\n    network: (forward: (loss: Bernoulli(p: 1.5))),",
    );
    let e = error_of(&src);
    assert_eq!(e.field, "network.forward");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("1.5"), "{e}");
    let src = GOOD.replace(r#""10.99.0.2", preset"#, r#""10.99.0.1", preset"#);
    let e = error_of(&src);
    assert_eq!(e.field, "peers.gw-b.address");
    assert!(e.message.contains("already used"), "{e}");
}

#[test]
fn syntax_errors_have_a_position() {
    let e = error_of("Scenario(duration: \"10m\",, )");
    assert_eq!(e.line, 1);
    assert!(e.col > 1, "{e}");
}

#[test]
fn optional_fields_are_written_bare() {
    let src = GOOD.replace(
        r#"(address: "10.99.0.1")"#,
        r#"(address: "10.99.0.1", dpd: "5s", retransmit: (timeout: "2s", base: 2.0), window: 5)"#,
    );
    let s = parse_scenario("opt.ron", &src).unwrap();
    let a = &s.peers["gw-a"];
    assert_eq!(a.dpd, Some(sim_core::Duration::from_secs(5)));
    assert_eq!(a.window, Some(5));
    assert_eq!(
        a.retransmit.as_ref().unwrap().tries,
        5,
        "unnamed fields keep strongSwan's"
    );
}

#[test]
fn a_bad_traffic_selector_names_the_tunnel_field_and_the_line() {
    let src = GOOD.replace(
        r#"(initiator: "gw-a", responder: "gw-b"),"#,
        r#"(initiator: "gw-a", responder: "gw-b",
         initiator_ts: ["10.1.0.0/33"]),"#,
    );
    let e = error_of(&src);
    assert_eq!(e.field, "tunnels[0].initiator_ts", "{e}");
    assert_eq!(e.line, 9, "{e}");
    assert!(
        e.message.contains("10.1.0.0/16"),
        "says what was expected: {e}"
    );
}

#[test]
fn an_action_on_a_missing_tunnel_or_a_stranger_is_refused() {
    let with_actions =
        |a: &str| GOOD.replace("    ],\n)", &format!("    ],\n    actions: [{a}],\n)"));
    let e = error_of(&with_actions(r#"(at: "1m", tunnel: 3, do: RekeyChild)"#));
    assert_eq!(e.field, "actions[0].tunnel", "{e}");
    assert!(e.message.contains("from 0 to 0"), "{e}");
    let e = error_of(&with_actions(r#"(at: "1m", peer: "gw-z", do: DeleteIke)"#));
    assert_eq!(e.field, "actions[0].peer", "{e}");
    assert!(e.message.contains("\"gw-a\" or \"gw-b\""), "{e}");
    let e = error_of(&with_actions(r#"(at: "1h", do: DeleteIke)"#));
    assert_eq!(e.field, "actions[0].at", "{e}");
    let e = error_of(&with_actions(r#"(at: "1m", do: Reboot)"#));
    assert!(e.message.contains("CreateChild"), "lists the commands: {e}");
}

#[test]
fn a_job_load_limit_without_a_cpu_is_refused_with_its_line() {
    let src = GOOD.replace(
        r#"(address: "10.99.0.1")"#,
        "(address: \"10.99.0.1\",\n job_load_limit: 50)",
    );
    let e = error_of(&src);
    assert_eq!(e.field, "peers.gw-a.job_load_limit", "{e}");
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("cpu"), "{e}");
    let with_cpu = GOOD.replace(
        r#"(address: "10.99.0.1")"#,
        r#"(address: "10.99.0.1", job_load_limit: 50, cpu: (cores: 2))"#,
    );
    let s = parse_scenario("good.ron", &with_cpu).unwrap();
    assert_eq!(s.peers["gw-a"].job_load_limit, Some(50));
}
