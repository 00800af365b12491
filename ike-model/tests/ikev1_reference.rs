//! Known answers from two real strongSwan 5.9 daemons speaking IKEv1 (Main Mode with Quick
//! Mode rekeys and a re-authentication; Aggressive Mode): every message decodes and
//! re-encodes to the same bytes; SKEYID, SKEYID_d/a/e, Ka and the initial IV equal those in
//! charon's log; every encrypted message decrypts with IVs we derive ourselves, its payloads
//! and padding equal Wireshark's dump, and every HASH payload (HASH_I, HASH_R, Quick Mode
//! HASH(1)-(3), Informational HASH(1)) verifies.

mod common;

use std::collections::BTreeMap;

use ike_model::crypto::{EncrAlg, PrfAlg};
use ike_model::ikev1::consts::{exchange, payload};
use ike_model::ikev1::crypto::{
    Phase1Keys, decrypt, derive_phase1, hash1, hash2, hash3, phase1_hash, phase1_iv, phase2_iv,
    skeyid_psk,
};
use ike_model::ikev1::sa::SaPayload;
use ike_model::ikev1::{Header, RawPayload, decode_chain, encode_chain};

const PSK: &[u8] = b"ike-ref-test-psk";
const PRF: PrfAlg = PrfAlg::HmacSha1;
const ENCR: EncrAlg = EncrAlg::AesCbc { key_bits: 128 };
const CASES: [&str; 2] = ["ikev1-main-rekey", "ikev1-aggressive"];

/// The `n`-th hex dump called `name` in charon-A.log.
fn logged(case: &str, name: &str, n: usize) -> Vec<u8> {
    let log = std::fs::read_to_string(format!("{}/charon-A.log", common::case_dir(case))).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let marker = format!("] {name} => ");
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(&marker) || l.ends_with(&format!("> {name} => ")))
        .map(|(i, _)| i)
        .chain(
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l.split_once("> ")
                        .is_some_and(|(_, r)| r.starts_with(&format!("{name} => ")))
                })
                .map(|(i, _)| i),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let i = starts[n];
    let len: usize = lines[i]
        .split(" => ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut out = Vec::new();
    for l in &lines[i + 1..] {
        if out.len() >= len {
            break;
        }
        let (_, dump) = l.split_once(": ").unwrap();
        let hex = dump.split("  ").next().unwrap();
        out.extend(hex.split(' ').map(|h| u8::from_str_radix(h, 16).unwrap()));
    }
    out.truncate(len);
    out
}

/// Ka by initiator cookie, from the Wireshark table strongSwan wrote.
fn table(case: &str) -> BTreeMap<u64, Vec<u8>> {
    let t = std::fs::read_to_string(format!(
        "{}/wireshark-profile/ikev1_decryption_table",
        common::case_dir(case)
    ))
    .unwrap();
    t.lines()
        .map(|l| {
            let (c, k) = l.split_once(',').unwrap();
            (
                u64::from_str_radix(c, 16).unwrap(),
                hex::decode(k.trim()).unwrap(),
            )
        })
        .collect()
}

fn names(payloads: &[RawPayload]) -> Vec<(String, usize)> {
    payloads
        .iter()
        .map(|p| {
            (
                ike_model::ikev1::consts::payload_name(p.ty).to_string(),
                p.wire_len(),
            )
        })
        .collect()
}

fn dumped(entry: &serde_json::Value) -> Vec<(String, usize)> {
    entry["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["len"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

fn body(payloads: &[RawPayload], ty: u8) -> Vec<u8> {
    payloads.iter().find(|p| p.ty == ty).unwrap().body.clone()
}

#[test]
fn every_ikev1_message_decodes_and_re_encodes_to_the_same_bytes() {
    for case in CASES {
        let dump = common::dump(case);
        let msgs = common::datagrams(case);
        assert_eq!(msgs.len(), dump.len());
        for (m, d) in msgs.iter().zip(&dump) {
            let h = Header::decode(m).unwrap();
            assert_eq!(h.encode()[..], m[..28]);
            if h.encrypted() {
                continue;
            }
            let (payloads, used) = decode_chain(h.next_payload, &m[28..]).unwrap();
            assert_eq!(used, m.len() - 28);
            assert_eq!(names(&payloads), dumped(d), "{case} frame {}", d["frame"]);
            let (first, bytes) = encode_chain(&payloads);
            assert_eq!(first, h.next_payload);
            assert_eq!(bytes, m[28..]);
            for p in payloads.iter().filter(|p| p.ty == payload::SA) {
                let sa = SaPayload::decode(&p.body).unwrap();
                assert_eq!(sa.encode(), p.body, "SA payload round trip");
                assert_eq!(sa.doi, 1);
            }
        }
    }
}

#[test]
fn phase1_keys_and_iv_equal_charons() {
    let case = "ikev1-main-rekey";
    let msgs = common::datagrams(case);
    let (kei, ni) = {
        let h = Header::decode(&msgs[2]).unwrap();
        let (p, _) = decode_chain(h.next_payload, &msgs[2][28..]).unwrap();
        (body(&p, payload::KE), body(&p, payload::NONCE))
    };
    let (ker, nr) = {
        let h = Header::decode(&msgs[3]).unwrap();
        let (p, _) = decode_chain(h.next_payload, &msgs[3][28..]).unwrap();
        (body(&p, payload::KE), body(&p, payload::NONCE))
    };
    let h = Header::decode(&msgs[0]).unwrap();
    let hr = Header::decode(&msgs[1]).unwrap();
    let skeyid = skeyid_psk(PRF, PSK, &ni, &nr);
    assert_eq!(skeyid, logged(case, "SKEYID", 0));
    let gxy = logged(case, "shared Diffie Hellman secret", 0);
    let k = derive_phase1(PRF, ENCR, skeyid, &gxy, h.icookie, hr.rcookie);
    assert_eq!(&k.skeyid_d[..], logged(case, "SKEYID_d", 0));
    assert_eq!(&k.skeyid_a[..], logged(case, "SKEYID_a", 0));
    assert_eq!(&k.skeyid_e[..], logged(case, "SKEYID_e", 0));
    assert_eq!(&k.ka[..], logged(case, "encryption key Ka", 0));
    assert_eq!(&k.ka[..], table(case)[&h.icookie]);
    assert_eq!(
        phase1_iv(PRF, ENCR, &kei, &ker),
        logged(case, "initial IV", 0)
    );
}

/// A Phase 2 or Informational exchange: (next IV, Ni_b, Nr_b).
type Exchange = (Vec<u8>, Vec<u8>, Vec<u8>);

/// What a Phase 1 leaves for the messages after it.
#[derive(Default)]
struct IsakmpSa {
    sai_b: Vec<u8>,
    gxi: Vec<u8>,
    gxr: Vec<u8>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    idi: Vec<u8>,
    idr: Vec<u8>,
    rcookie: u64,
    iv: Vec<u8>,
    last_p1: Vec<u8>,
    keys: Option<Phase1Keys>,
    /// Per message ID: next IV and the Quick Mode nonces seen.
    exchanges: BTreeMap<u32, Exchange>,
    /// Per message ID: the ESP SPIs proposed by the initiator and the responder.
    spis: BTreeMap<u32, Vec<u32>>,
}

/// ESP keys by SPI (hex, lowercase, no 0x): (encryption key, integrity key), from the
/// `esp_sa` table strongSwan wrote.
fn esp_keys(case: &str) -> BTreeMap<String, (String, String)> {
    let t = std::fs::read_to_string(format!(
        "{}/wireshark-profile/esp_sa",
        common::case_dir(case)
    ))
    .unwrap();
    t.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(|x| x.trim_matches('"')).collect();
            (
                f[3].trim_start_matches("0x").to_string(),
                (
                    f[5].trim_start_matches("0x").to_string(),
                    f[7].trim_start_matches("0x").to_string(),
                ),
            )
        })
        .collect()
}

fn hash_of(p: &[RawPayload]) -> Vec<u8> {
    assert_eq!(p[0].ty, payload::HASH, "HASH comes first");
    p[0].body.clone()
}

#[test]
fn every_encrypted_message_decrypts_and_every_hash_verifies() {
    for case in CASES {
        let dump = common::dump(case);
        let msgs = common::datagrams(case);
        let ka_table = table(case);
        let mut sas: BTreeMap<u64, IsakmpSa> = BTreeMap::new();
        let mut order: Vec<u64> = Vec::new();
        let (mut decrypted, mut verified, mut keymats) = (0, 0, 0);
        for (m, d) in msgs.iter().zip(&dump) {
            let h = Header::decode(m).unwrap();
            if !sas.contains_key(&h.icookie) {
                order.push(h.icookie);
            }
            let n_sa = order.iter().position(|c| *c == h.icookie).unwrap();
            let sa = sas.entry(h.icookie).or_default();
            if h.rcookie != 0 {
                sa.rcookie = h.rcookie;
            }
            let from_initiator = d["dir"] == "A->B";
            let phase1 = h.exchange == exchange::MAIN_MODE || h.exchange == exchange::AGGRESSIVE;
            let payloads = if h.encrypted() {
                let ka = &ka_table[&h.icookie];
                let iv = if phase1 {
                    if sa.iv.is_empty() {
                        sa.iv = phase1_iv(PRF, ENCR, &sa.gxi, &sa.gxr);
                    }
                    sa.iv.clone()
                } else {
                    sa.exchanges
                        .entry(h.message_id)
                        .or_insert_with(|| {
                            (
                                phase2_iv(PRF, ENCR, &sa.last_p1, h.message_id),
                                vec![],
                                vec![],
                            )
                        })
                        .0
                        .clone()
                };
                let (plain, next) = decrypt(ENCR, ka, &iv, &m[28..h.length as usize]).unwrap();
                if phase1 {
                    sa.iv = next.clone();
                    sa.last_p1 = next;
                } else {
                    sa.exchanges.get_mut(&h.message_id).unwrap().0 = next;
                }
                let (p, used) = decode_chain(h.next_payload, &plain).unwrap();
                assert_eq!(
                    plain.len() - used,
                    d["v1_trailing_padding"].as_u64().unwrap() as usize,
                    "{case} frame {}: padding",
                    d["frame"]
                );
                assert!(plain[used..].iter().all(|b| *b == 0), "zero padding");
                decrypted += 1;
                p
            } else {
                decode_chain(h.next_payload, &m[28..]).unwrap().0
            };
            assert_eq!(names(&payloads), dumped(d), "{case} frame {}", d["frame"]);
            // Collect what the hashes cover.
            for p in &payloads {
                match (p.ty, from_initiator) {
                    (payload::SA, true) if phase1 => sa.sai_b = p.body.clone(),
                    (payload::KE, true) if phase1 => sa.gxi = p.body.clone(),
                    (payload::KE, false) if phase1 => sa.gxr = p.body.clone(),
                    (payload::NONCE, true) if phase1 => sa.ni = p.body.clone(),
                    (payload::NONCE, false) if phase1 => sa.nr = p.body.clone(),
                    (payload::ID, true) if phase1 => sa.idi = p.body.clone(),
                    (payload::ID, false) if phase1 => sa.idr = p.body.clone(),
                    _ => {}
                }
            }
            if phase1 && sa.keys.is_none() && !sa.nr.is_empty() && !sa.gxr.is_empty() {
                let skeyid = skeyid_psk(PRF, PSK, &sa.ni, &sa.nr);
                let gxy = logged(case, "shared Diffie Hellman secret", n_sa);
                let keys = derive_phase1(PRF, ENCR, skeyid, &gxy, h.icookie, sa.rcookie);
                assert_eq!(&keys.ka[..], ka_table[&h.icookie]);
                sa.keys = Some(keys);
            }
            let Some(keys) = sa.keys.clone() else {
                continue;
            };
            if let Some(hp) = payloads.iter().find(|p| p.ty == payload::HASH)
                && phase1
            {
                // HASH_I from the initiator, HASH_R from the responder (RFC 2409 §5).
                let want = if from_initiator {
                    phase1_hash(
                        PRF,
                        &keys.skeyid,
                        &sa.gxi,
                        &sa.gxr,
                        h.icookie,
                        sa.rcookie,
                        &sa.sai_b,
                        &sa.idi,
                    )
                } else {
                    phase1_hash(
                        PRF,
                        &keys.skeyid,
                        &sa.gxr,
                        &sa.gxi,
                        sa.rcookie,
                        h.icookie,
                        &sa.sai_b,
                        &sa.idr,
                    )
                };
                assert_eq!(hp.body, want, "{case} frame {}", d["frame"]);
                verified += 1;
            }
            if phase1 {
                continue;
            }
            if let Some(p) = payloads.iter().find(|p| p.ty == payload::SA) {
                let spi = SaPayload::decode(&p.body).unwrap().proposals[0].spi.clone();
                sa.spis
                    .entry(h.message_id)
                    .or_default()
                    .push(u32::from_be_bytes(spi.try_into().unwrap()));
            }
            let rest = encode_chain(&payloads[1..]).1;
            let got = hash_of(&payloads);
            let x = sa.exchanges.get_mut(&h.message_id).unwrap();
            let want = if h.exchange == exchange::INFORMATIONAL {
                hash1(PRF, &keys.skeyid_a, h.message_id, &rest)
            } else if payloads.len() == 1 {
                hash3(PRF, &keys.skeyid_a, h.message_id, &x.1, &x.2)
            } else if from_initiator {
                x.1 = body(&payloads, payload::NONCE);
                hash1(PRF, &keys.skeyid_a, h.message_id, &rest)
            } else {
                x.2 = body(&payloads, payload::NONCE);
                hash2(PRF, &keys.skeyid_a, h.message_id, &x.1, &rest)
            };
            assert_eq!(got, want, "{case} frame {}", d["frame"]);
            verified += 1;
            if h.exchange == exchange::QUICK_MODE && payloads.len() == 1 {
                // HASH(3) ends the exchange: both SAs' KEYMAT (RFC 2409 §5.5) must give the
                // keys strongSwan installed: AES-128 first, then HMAC-SHA1.
                let esp = esp_keys(case);
                for spi in &sa.spis[&h.message_id] {
                    let km = ike_model::ikev1::crypto::keymat(
                        PRF,
                        &keys.skeyid_d,
                        None,
                        3,
                        *spi,
                        &x.1,
                        &x.2,
                        36,
                    );
                    let (ek, ik) = &esp[&format!("{spi:08x}")];
                    assert_eq!(hex::encode(&km[..16]), *ek, "{case} SPI {spi:08x}");
                    assert_eq!(hex::encode(&km[16..]), *ik, "{case} SPI {spi:08x}");
                    keymats += 1;
                }
            }
        }
        assert!(keymats >= 2, "{case}: {keymats} KEYMATs checked");
        let encrypted = dump.iter().filter(|d| d["decrypted"] == true).count();
        assert_eq!(decrypted, encrypted, "{case}");
        assert!(
            verified >= encrypted,
            "{case}: {verified} hashes for {encrypted} messages"
        );
    }
}

mod robustness {
    use ike_model::ikev1::sa::SaPayload;
    use ike_model::ikev1::{Header, decode_chain};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Random bytes and mutated reference messages give errors, never panics.
        #[test]
        fn random_and_mutated_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            frame in 0usize..29,
            flip in 0usize..400,
            cut in 0usize..400,
        ) {
            let _ = Header::decode(&bytes);
            let _ = decode_chain(bytes.first().copied().unwrap_or(1), &bytes);
            let _ = SaPayload::decode(&bytes);
            let msgs = super::common::datagrams("ikev1-main-rekey");
            let mut m = msgs[frame % msgs.len()].clone();
            let i = flip % m.len();
            m[i] ^= 0x5a;
            m.truncate(cut.max(1).min(m.len()));
            if let Ok(h) = Header::decode(&m) {
                let end = (h.length as usize).min(m.len());
                if let Ok((p, _)) = decode_chain(h.next_payload, &m[28..end]) {
                    for x in p.iter().filter(|x| x.ty == 1) {
                        let _ = SaPayload::decode(&x.body);
                    }
                }
            }
        }
    }
}
