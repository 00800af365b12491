//! Shared by the tests that check us against the real strongSwan captures in
//! `testdata/strongswan/`: reading the capture and dump.json, and describing a payload list
//! in dump.json's form so the two compare as JSON values.
#![allow(dead_code)]

use ike_model::ikev2::consts::transform;
use ike_model::ikev2::payload::Payload;
use serde_json::{Value, json};

/// The folder of one reference case.
pub fn case_dir(case: &str) -> String {
    format!(
        "{}/../testdata/strongswan/{case}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The UDP payloads of a reference capture, in order.
pub fn datagrams(case: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(format!("{}/capture.pcap", case_dir(case))).unwrap();
    let c = sim_core::pcap_read::read_capture(&bytes[..]).unwrap();
    assert!(c.malformed.is_empty());
    c.datagrams.into_iter().map(|d| d.payload).collect()
}

/// dump.json of a reference case.
pub fn dump(case: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{}/dump.json", case_dir(case))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn named(name: &str, v: impl std::fmt::Display) -> String {
    format!("{name} ({v})")
}

/// One payload as dump.json describes it (without the "name" key): type, len and the
/// type-specific details.
pub fn describe(p: &Payload) -> Value {
    let len = ike_model::ikev2::payload::encoded_len(p);
    let mut v = json!({"type": p.ty().0, "len": len});
    let o = v.as_object_mut().unwrap();
    match p {
        Payload::Sa(sa) => {
            let props: Vec<Value> = sa
                .proposals
                .iter()
                .map(|pr| {
                    json!({
                        "proto": named(pr.protocol.name().unwrap_or("?"), pr.protocol.0),
                        "spi": if pr.spi.is_empty() { Value::Null } else { json!(hex(&pr.spi)) },
                        "transforms": pr.transforms.iter()
                            .map(|t| named(&transform::name(t.ty.0, t.id), t.id))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            o.insert("proposals".into(), json!(props));
        }
        Payload::Ke(k) => {
            o.insert(
                "dh_group".into(),
                json!(named(&transform::name(4, k.group), k.group)),
            );
        }
        Payload::Nonce(n) => {
            o.insert("nonce_len".into(), json!(n.len()));
        }
        Payload::Notify(n) => {
            o.insert(
                "notify".into(),
                json!(named(n.ty.name().unwrap_or("?"), n.ty.0)),
            );
            if !n.spi.is_empty() {
                o.insert("spi".into(), json!(hex(&n.spi)));
            }
        }
        Payload::Delete(d) => {
            o.insert(
                "protoid".into(),
                json!(named(d.protocol.name().unwrap_or("?"), d.protocol.0)),
            );
            o.insert(
                "spis".into(),
                json!(d.spis.iter().map(|s| hex(s)).collect::<Vec<_>>()),
            );
        }
        _ => {}
    }
    v
}

/// dump.json's payload entries without their "name" key.
pub fn expected_payloads(entry: &Value) -> Vec<Value> {
    entry["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("name");
            p
        })
        .collect()
}
