//! Our IKEv2 crypto against a real strongSwan 5.9.8 run (testdata/strongswan/ikev2-rekey):
//! from the DH secrets in charon's log and the nonces and SPIs on the wire we derive the
//! logged SKEYSEED and all seven SK_* keys of the initial and of both rekeyed IKE SAs; every
//! protected message's ICV verifies and it decrypts to the payloads Wireshark listed; sealing
//! the recovered plaintext reproduces every message byte for byte; our PSK AUTH and NAT-D
//! hashes equal those on the wire.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;

use ike_model::crypto::{EncrAlg, IntegAlg, PrfAlg};
use ike_model::ikev2::auth::{SignedOctets, psk_auth};
use ike_model::ikev2::consts::{ExchangeType, NotifyType, ProtocolId};
use ike_model::ikev2::keylog::decryption_table_line;
use ike_model::ikev2::keys::{
    IkeSaKeys, IkeSuite, child_keys, derive_ike_keys, skeyseed, skeyseed_rekey,
};
use ike_model::ikev2::message::Message;
use ike_model::ikev2::natd::natd_hash;
use ike_model::ikev2::payload::Payload;
use ike_model::ikev2::protect::{open, seal};

const SUITE: IkeSuite = IkeSuite {
    encr: EncrAlg::AesCbc { key_bits: 128 },
    integ: IntegAlg::HmacSha1_96,
    prf: PrfAlg::HmacSha1,
};

/// Every `<label> => N bytes @ addr` hex dump in a charon log, in order.
fn log_dumps(file: &str) -> Vec<(String, Vec<u8>)> {
    let text =
        std::fs::read_to_string(format!("{}/{file}", common::case_dir("ikev2-rekey"))).unwrap();
    let mut out: Vec<(String, Vec<u8>, usize)> = Vec::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("> ") else {
            continue;
        };
        if let Some((label, tail)) = rest.split_once(" => ")
            && tail.contains(" bytes @ ")
            && let Some(n) = tail.split(' ').next().and_then(|n| n.parse::<usize>().ok())
        {
            out.push((label.trim().to_string(), Vec::with_capacity(n), n));
            continue;
        }
        // A dump line: "  16: 4A A4 28 18   J.(." (offset, hex bytes, ASCII).
        let Some((off, hexpart)) = rest.trim_start().split_once(": ") else {
            continue;
        };
        if !off.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Some((_, bytes, want)) = out.last_mut() {
            for tok in hexpart.split(' ').take_while(|s| s.len() == 2) {
                if bytes.len() < *want {
                    bytes.push(u8::from_str_radix(tok, 16).unwrap());
                }
            }
        }
    }
    out.into_iter().map(|(l, b, _)| (l, b)).collect()
}

fn all(dumps: &[(String, Vec<u8>)], label: &str) -> Vec<Vec<u8>> {
    dumps
        .iter()
        .filter(|(l, _)| l == label)
        .map(|(_, b)| b.clone())
        .collect()
}

fn nonce(payloads: &[Payload]) -> Vec<u8> {
    payloads
        .iter()
        .find_map(|p| {
            if let Payload::Nonce(n) = p {
                Some(n.clone())
            } else {
                None
            }
        })
        .unwrap()
}

fn ike_spi(payloads: &[Payload]) -> Option<u64> {
    payloads.iter().find_map(|p| match p {
        Payload::Sa(sa)
            if sa.proposals[0].protocol == ProtocolId::IKE && sa.proposals[0].spi.len() == 8 =>
        {
            Some(u64::from_be_bytes(
                sa.proposals[0].spi.as_slice().try_into().unwrap(),
            ))
        }
        _ => None,
    })
}

fn esp_spi(payloads: &[Payload]) -> Option<Vec<u8>> {
    payloads.iter().find_map(|p| match p {
        Payload::Sa(sa) if sa.proposals[0].protocol == ProtocolId::ESP => {
            Some(sa.proposals[0].spi.to_vec())
        }
        _ => None,
    })
}

/// The ESP SAs Wireshark used: SPI (hex) -> (encryption key, integrity key).
fn esp_table() -> HashMap<String, (Vec<u8>, Vec<u8>)> {
    let text = std::fs::read_to_string(format!(
        "{}/wireshark-profile/esp_sa",
        common::case_dir("ikev2-rekey")
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(|s| s.trim_matches('"')).collect();
            let key = |s: &str| hex::decode(s.trim_start_matches("0x")).unwrap();
            (
                f[3].trim_start_matches("0x").to_string(),
                (key(f[5]), key(f[7])),
            )
        })
        .collect()
}

fn check_keys(k: &IkeSaKeys, dumps: &[(String, Vec<u8>)], i: usize) {
    for (label, ours) in [
        ("Sk_d secret", k.sk_d()),
        ("Sk_ai secret", k.sk_ai()),
        ("Sk_ar secret", k.sk_ar()),
        ("Sk_ei secret", k.sk_ei()),
        ("Sk_er secret", k.sk_er()),
        ("Sk_pi secret", k.sk_pi()),
        ("Sk_pr secret", k.sk_pr()),
    ] {
        assert_eq!(ours, &all(dumps, label)[i], "IKE SA #{i}: {label}");
    }
}

#[test]
fn keys_icvs_plaintexts_auth_and_natd_match_the_strongswan_run() {
    let a_log = log_dumps("charon-A.log");
    let secrets = all(&a_log, "shared Diffie Hellman secret");
    let seeds = all(&a_log, "SKEYSEED");
    assert_eq!(secrets.len(), 3, "initial IKE SA and two IKE rekeys");
    let msgs = common::datagrams("ikev2-rekey");
    let dump = common::dump("ikev2-rekey");

    // The initial IKE SA, from IKE_SA_INIT.
    let init_req = Message::decode(&msgs[0]).unwrap();
    let init_resp = Message::decode(&msgs[1]).unwrap();
    let (ni, nr) = (nonce(&init_req.payloads), nonce(&init_resp.payloads));
    let (spi_i, spi_r) = (init_resp.header.spi_i, init_resp.header.spi_r);
    let seed = skeyseed(PrfAlg::HmacSha1, &ni, &nr, &secrets[0]);
    assert_eq!(seed, seeds[0], "SKEYSEED of the initial IKE SA");
    let keys = derive_ike_keys(SUITE, &seed, &ni, &nr, spi_i, spi_r);
    check_keys(&keys, &a_log, 0);
    let mut sas: HashMap<(u64, u64), IkeSaKeys> = HashMap::from([((spi_i, spi_r), keys.clone())]);
    let mut table = vec![decryption_table_line(spi_i, spi_r, &keys)];

    // NAT-D hashes in both IKE_SA_INIT messages.
    let a: IpAddr = "10.99.0.1".parse().unwrap();
    let b: IpAddr = "10.99.0.2".parse().unwrap();
    for (m, src, dst) in [(&init_req, a, b), (&init_resp, b, a)] {
        let spi_r = m.header.spi_r;
        for p in &m.payloads {
            if let Payload::Notify(n) = p {
                let ip = match n.ty {
                    NotifyType::NAT_DETECTION_SOURCE_IP => src,
                    NotifyType::NAT_DETECTION_DESTINATION_IP => dst,
                    _ => continue,
                };
                assert_eq!(
                    n.data,
                    natd_hash(m.header.spi_i, spi_r, ip, 500),
                    "{}",
                    n.ty
                );
            }
        }
    }

    // Walk every protected message: open it with its IKE SA's keys, compare with Wireshark,
    // reseal it, and derive each rekeyed IKE SA when its CREATE_CHILD_SA completes.
    let mut pending_rekey: Option<(Vec<u8>, u64, bool)> = None; // (Ni, new SPIi, sent by A)
    let esp = esp_table();
    let mut pending_child: Option<(Vec<u8>, Vec<u8>)> = None; // (Ni, initiator's inbound SPI)
    let mut child_sas_checked = 0;
    let mut rekeys = 0;
    let mut auth_checked = 0;
    for (i, bytes) in msgs.iter().enumerate().skip(2) {
        let frame = i + 1;
        let outer = Message::decode(bytes).unwrap();
        let keys = sas
            .get(&(outer.header.spi_i, outer.header.spi_r))
            .unwrap_or_else(|| panic!("frame {frame}: no keys for its SPIs"))
            .clone();
        let opened = open(&keys, bytes).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        let got: Vec<_> = opened.inner.iter().map(common::describe).collect();
        assert_eq!(
            got,
            common::expected_payloads(&dump[i])[1..].to_vec(),
            "frame {frame}: inner payloads"
        );
        let resealed = seal(
            &keys,
            &outer.header,
            &opened.inner,
            &opened.iv,
            &opened.padding,
        )
        .unwrap();
        assert!(resealed == *bytes, "frame {frame}: resealing differs");

        if outer.header.exchange == ExchangeType::IKE_AUTH {
            let (first, peer_nonce, sk_p) = if outer.header.is_response() {
                (&msgs[1], &ni, keys.sk_pr())
            } else {
                (&msgs[0], &nr, keys.sk_pi())
            };
            let id = opened.inner.iter().find_map(|p| match p {
                Payload::IdI(id) if !outer.header.is_response() => Some(id),
                Payload::IdR(id) if outer.header.is_response() => Some(id),
                _ => None,
            });
            let auth = opened.inner.iter().find_map(|p| {
                if let Payload::Auth(a) = p {
                    Some(a)
                } else {
                    None
                }
            });
            let ours = psk_auth(
                PrfAlg::HmacSha1,
                b"ike-ref-test-psk",
                &SignedOctets {
                    real_message: first,
                    peer_nonce,
                    sk_p,
                    id_body: &id.unwrap().body_bytes(),
                },
            );
            assert_eq!(ours, auth.unwrap().data, "frame {frame}: PSK AUTH");
            auth_checked += 1;
        }

        // CHILD_SA keys (§2.17, no PFS here): KEYMAT = prf+(SK_d, Ni | Nr), initiator's
        // keys first; packets towards the responder carry the responder's SPI.
        if let Some(spi) = esp_spi(&opened.inner) {
            let in_auth = outer.header.exchange == ExchangeType::IKE_AUTH;
            if !outer.header.is_response() {
                let n = if in_auth {
                    ni.clone()
                } else {
                    nonce(&opened.inner)
                };
                pending_child = Some((n, spi));
            } else {
                let (cni, spi_of_initiator) = pending_child.take().expect("child request first");
                let cnr = if in_auth {
                    nr.clone()
                } else {
                    nonce(&opened.inner)
                };
                let ck = child_keys(PrfAlg::HmacSha1, keys.sk_d(), None, &cni, &cnr, 16, 20);
                assert_eq!(
                    esp[&hex::encode(&spi)],
                    (ck.encr_i().to_vec(), ck.integ_i().to_vec()),
                    "frame {frame}: keys towards the responder"
                );
                assert_eq!(
                    esp[&hex::encode(&spi_of_initiator)],
                    (ck.encr_r().to_vec(), ck.integ_r().to_vec()),
                    "frame {frame}: keys towards the initiator"
                );
                child_sas_checked += 2;
            }
        }

        let is_ike_rekey = outer.header.exchange == ExchangeType::CREATE_CHILD_SA
            && opened.inner.iter().any(|p| matches!(p, Payload::Ke(_)))
            && ike_spi(&opened.inner).is_some();
        if !is_ike_rekey {
            continue;
        }
        if !outer.header.is_response() {
            let from_a = dump[i]["dir"] == "A->B";
            pending_rekey = Some((
                nonce(&opened.inner),
                ike_spi(&opened.inner).unwrap(),
                from_a,
            ));
        } else {
            let (rni, new_i, _) = pending_rekey.take().expect("request before response");
            let rnr = nonce(&opened.inner);
            let new_r = ike_spi(&opened.inner).unwrap();
            rekeys += 1;
            let seed = skeyseed_rekey(PrfAlg::HmacSha1, keys.sk_d(), &secrets[rekeys], &rni, &rnr);
            assert_eq!(seed, seeds[rekeys], "SKEYSEED of rekeyed IKE SA #{rekeys}");
            let new_keys = derive_ike_keys(SUITE, &seed, &rni, &rnr, new_i, new_r);
            check_keys(&new_keys, &a_log, rekeys);
            table.push(decryption_table_line(new_i, new_r, &new_keys));
            sas.insert((new_i, new_r), new_keys);
        }
    }
    assert_eq!(rekeys, 2);
    assert_eq!(
        child_sas_checked,
        esp.len(),
        "every ESP SA in the table was derived"
    );
    assert_eq!(auth_checked, 2);

    // Our key log equals the table Wireshark used to decrypt this capture.
    let reference = std::fs::read_to_string(format!(
        "{}/wireshark-profile/ikev2_decryption_table",
        common::case_dir("ikev2-rekey")
    ))
    .unwrap();
    let reference: Vec<&str> = reference.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(table, reference);
}
