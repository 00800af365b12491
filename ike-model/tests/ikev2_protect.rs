//! SK payload protection: open(seal(x)) == x, tampering is caught, and Wireshark's dissector
//! decrypts and verifies what we seal using the decryption-table line we write.

use std::net::IpAddr;

use ike_model::crypto::{DhGroup, DhPrivate, EncrAlg, IntegAlg, PrfAlg};
use ike_model::ikev2::consts::*;
use ike_model::ikev2::header::{FLAG_INITIATOR, FLAG_RESPONSE, Header};
use ike_model::ikev2::keylog::decryption_table_line;
use ike_model::ikev2::keys::{IkeSaKeys, IkeSuite, derive_ike_keys, skeyseed};
use ike_model::ikev2::message::Message;
use ike_model::ikev2::payload::*;
use ike_model::ikev2::protect::{
    OpenError, Protection, open, open_as, padding_len, seal, seal_plain,
};
use proptest::prelude::*;
use rand::Rng;

fn suite(i: u8) -> IkeSuite {
    match i % 3 {
        0 => IkeSuite {
            encr: EncrAlg::AesCbc { key_bits: 128 },
            integ: IntegAlg::HmacSha1_96,
            prf: PrfAlg::HmacSha1,
        },
        1 => IkeSuite {
            encr: EncrAlg::AesCbc { key_bits: 256 },
            integ: IntegAlg::HmacSha256_128,
            prf: PrfAlg::HmacSha256,
        },
        _ => IkeSuite {
            encr: EncrAlg::AesCbc { key_bits: 192 },
            integ: IntegAlg::HmacSha1_96,
            prf: PrfAlg::HmacSha256,
        },
    }
}

fn keys(s: IkeSuite, seed: &[u8], spi_i: u64, spi_r: u64) -> IkeSaKeys {
    let sk = skeyseed(s.prf, b"nonce-i", b"nonce-r", seed);
    derive_ike_keys(s, &sk, b"nonce-i", b"nonce-r", spi_i, spi_r)
}

fn header(spi_i: u64, spi_r: u64, ex: ExchangeType, flags: u8, message_id: u32) -> Header {
    Header {
        spi_i,
        spi_r,
        next_payload: PayloadType::NONE,
        major: 2,
        minor: 0,
        exchange: ex,
        flags,
        message_id,
        length: 0,
    }
}

proptest! {
    #[test]
    fn open_of_seal_is_identity_and_any_flipped_bit_is_refused(
        s in 0u8..3, seed in proptest::collection::vec(any::<u8>(), 1..64),
        spi_i in any::<u64>(), spi_r in any::<u64>(), initiator in any::<bool>(),
        nonce in proptest::collection::vec(any::<u8>(), 0..200), iv in any::<[u8; 16]>(),
        flip in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let k = keys(suite(s), &seed, spi_i, spi_r);
        let inner = vec![
            Payload::Notify(NotifyPayload::new(NotifyType::REKEY_SA, vec![1, 2, 3])),
            Payload::Nonce(nonce.clone()),
        ];
        let flags = if initiator { FLAG_INITIATOR } else { FLAG_RESPONSE };
        let h = header(spi_i, spi_r, ExchangeType::CREATE_CHILD_SA, flags, 7);
        let plain_len = {
            let (_, b) = encode_payload_chain(&inner);
            b.len()
        };
        let pad = vec![0u8; padding_len(plain_len, 16)];
        let bytes = seal(&k, &h, &inner, &iv, &pad).unwrap();
        let opened = open(&k, &bytes).unwrap();
        prop_assert_eq!(&opened.inner, &inner);
        prop_assert_eq!(opened.iv.as_slice(), &iv[..]);
        // Any single flipped bit is caught (by the header/length checks or the ICV).
        let mut bad = bytes.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(open(&k, &bad).is_err());
    }

    #[test]
    fn modeled_protection_has_real_lengths_round_trips_and_catches_flipped_bits(
        s in 0u8..3, seed in proptest::collection::vec(any::<u8>(), 1..64),
        initiator in any::<bool>(),
        nonce in proptest::collection::vec(any::<u8>(), 0..200), iv in any::<[u8; 16]>(),
        flip in any::<prop::sample::Index>(), bit in 0u8..8,
    ) {
        let k = keys(suite(s), &seed, 11, 22);
        let inner = vec![Payload::Nonce(nonce)];
        let flags = if initiator { FLAG_INITIATOR } else { FLAG_RESPONSE };
        let h = header(11, 22, ExchangeType::INFORMATIONAL, flags, 3);
        let (next, plain) = encode_payload_chain(&inner);
        let pad = vec![5u8; padding_len(plain.len(), 16)];
        let real = seal(&k, &h, &inner, &iv, &pad).unwrap();
        let modeled =
            seal_plain(Protection::Modeled, &k, &h, next, &plain, &iv, &pad).unwrap();
        // Same length, same header and IV; only the sealed part differs.
        prop_assert_eq!(real.len(), modeled.len());
        prop_assert_eq!(&real[..32], &modeled[..32]);
        prop_assert_ne!(&real, &modeled);
        let opened = open_as(Protection::Modeled, &k, &modeled).unwrap();
        prop_assert_eq!(&opened.inner, &inner);
        prop_assert_eq!(opened.padding.as_slice(), &pad[..]);
        // Each mode refuses the other's messages (the ICVs differ).
        prop_assert!(open(&k, &modeled).is_err());
        prop_assert!(open_as(Protection::Modeled, &k, &real).is_err());
        let mut bad = modeled.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(open_as(Protection::Modeled, &k, &bad).is_err());
    }
}

#[test]
fn the_wrong_direction_keys_fail_the_icv() {
    let k = keys(suite(0), b"secret", 1, 2);
    let inner = vec![Payload::Delete(DeletePayload {
        protocol: ProtocolId::IKE,
        spi_size: 0,
        spis: Default::default(),
    })];
    let h = header(1, 2, ExchangeType::INFORMATIONAL, FLAG_INITIATOR, 1);
    let mut bytes = seal(&k, &h, &inner, &[7; 16], &[0; 7]).unwrap();
    bytes[19] = FLAG_RESPONSE; // claim to be from the responder: SK_ar is used and fails
    assert!(matches!(open(&k, &bytes), Err(OpenError::Crypto(_))));
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn tshark_decrypts_and_verifies_what_we_seal() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipping");
        return;
    }
    let mut rng = sim_core::RngStreams::new(3).stream("tshark-test");
    let (spi_i, spi_r) = (0x1122334455667788u64, 0x99aabbccddeeff00u64);
    let dh_i = DhPrivate::generate(DhGroup::Modp2048, Some(256), &mut rng);
    let dh_r = DhPrivate::generate(DhGroup::Modp2048, Some(256), &mut rng);
    let mut ni = vec![0u8; 32];
    let mut nr = vec![0u8; 32];
    rng.fill_bytes(&mut ni);
    rng.fill_bytes(&mut nr);
    let proposal = SaPayload {
        proposals: vec![Proposal {
            num: 1,
            protocol: ProtocolId::IKE,
            spi: Default::default(),
            transforms: vec![
                Transform::with_key_length(TransformType::ENCR, transform::ENCR_AES_CBC, 128),
                Transform::new(TransformType::INTEG, transform::AUTH_HMAC_SHA1_96),
                Transform::new(TransformType::PRF, transform::PRF_HMAC_SHA1),
                Transform::new(TransformType::DH, 14),
            ],
        }],
    };
    let init = |sp_r, flags, dh: &DhPrivate, n: &[u8]| {
        Message {
            header: header(spi_i, sp_r, ExchangeType::IKE_SA_INIT, flags, 0),
            payloads: vec![
                Payload::Sa(proposal.clone()),
                Payload::Ke(KePayload {
                    group: 14,
                    data: dh.public().to_vec(),
                }),
                Payload::Nonce(n.to_vec()),
            ],
        }
        .encode()
    };
    let m1 = init(0, FLAG_INITIATOR, &dh_i, &ni);
    let m2 = init(spi_r, FLAG_RESPONSE, &dh_r, &nr);
    let s = suite(0);
    let g_ir = dh_i.shared_secret(dh_r.public()).unwrap();
    let k = derive_ike_keys(s, &skeyseed(s.prf, &ni, &nr, &g_ir), &ni, &nr, spi_i, spi_r);
    let delete = vec![Payload::Delete(DeletePayload {
        protocol: ProtocolId::ESP,
        spi_size: 4,
        spis: [SpiBytes::from_slice(&[0xc8, 0xf2, 0x7a, 0xb0])]
            .into_iter()
            .collect(),
    })];
    let m3 = seal(
        &k,
        &header(spi_i, spi_r, ExchangeType::INFORMATIONAL, FLAG_INITIATOR, 1),
        &delete,
        &[1; 16],
        &[0; 3],
    )
    .unwrap();
    let m4 = seal(
        &k,
        &header(spi_i, spi_r, ExchangeType::INFORMATIONAL, FLAG_RESPONSE, 1),
        &[],
        &[2; 16],
        &[0; 15],
    )
    .unwrap();

    let dir = std::env::temp_dir().join(format!("ikesim-tshark-ikev2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut sink = sim_core::pcap::PcapSink::create(dir.join("ike.pcap")).unwrap();
    for (i, (m, from_a)) in [(m1, true), (m2, false), (m3, true), (m4, false)]
        .into_iter()
        .enumerate()
    {
        let (s, d) = if from_a {
            ("10.99.0.1", "10.99.0.2")
        } else {
            ("10.99.0.2", "10.99.0.1")
        };
        sink.write(
            sim_core::SimTime(i as u64 * 1_000_000),
            &sim_core::Packet::udp(ip(s), 500, ip(d), 500, m),
        )
        .unwrap();
    }
    sink.finish().unwrap();
    let line = decryption_table_line(spi_i, spi_r, &k);
    std::fs::write(dir.join("ikev2_decryption_table"), format!("{line}\n")).unwrap();
    let out = std::process::Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &dir)
        .arg("-r")
        .arg(dir.join("ike.pcap"))
        .arg("-V")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("incorrect"), "{text}");
    assert_eq!(
        text.matches("[correct]").count(),
        2,
        "both ICVs verify:\n{text}"
    );
    assert!(
        text.contains("Delete (42)"),
        "the decrypted Delete payload is shown:\n{text}"
    );
    assert!(text.contains("c8f27ab0"), "with its SPI:\n{text}");
    std::fs::remove_dir_all(dir).unwrap();
}
