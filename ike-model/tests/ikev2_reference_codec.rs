//! Our IKEv2 decoder against 42 real messages between two strongSwan 5.9.8 daemons
//! (testdata/strongswan/ikev2-rekey): every message decodes, its header and payload list equal
//! what Wireshark's dissector recorded in dump.json, and re-encoding gives the same bytes.

mod common;

use ike_model::ikev2::error::DecodeError;
use ike_model::ikev2::message::Message;
use ike_model::ikev2::payload::Payload;

#[test]
fn every_reference_message_decodes_to_what_wireshark_saw_and_re_encodes_exactly() {
    let msgs = common::datagrams("ikev2-rekey");
    let dump = common::dump("ikev2-rekey");
    assert_eq!(msgs.len(), dump.len());
    assert_eq!(msgs.len(), 42);
    for (bytes, entry) in msgs.iter().zip(&dump) {
        let frame = &entry["frame"];
        let m = Message::decode(bytes).unwrap_or_else(|e| panic!("frame {frame}: {e}"));
        let h = &m.header;
        assert_eq!(format!("{:016x}", h.spi_i), entry["ispi"], "frame {frame}");
        assert_eq!(format!("{:016x}", h.spi_r), entry["rspi"], "frame {frame}");
        assert_eq!(
            format!("{} ({})", h.exchange, h.exchange.0),
            entry["exchange"],
            "frame {frame}"
        );
        assert_eq!(
            format!("0x{:08x}", h.message_id),
            entry["msgid"],
            "frame {frame}"
        );
        assert_eq!(
            format!("0x{:02x}", h.flags),
            entry["flags"],
            "frame {frame}"
        );
        assert_eq!(h.length as u64, entry["ike_length"], "frame {frame}");
        let expected = common::expected_payloads(entry);
        if m.is_protected() {
            assert_eq!(
                m.payloads.len(),
                1,
                "frame {frame}: SK is the only outer payload"
            );
            assert_eq!(
                common::describe(&m.payloads[0]),
                expected[0],
                "frame {frame}"
            );
        } else {
            let got: Vec<_> = m.payloads.iter().map(common::describe).collect();
            assert_eq!(got, expected, "frame {frame}");
        }
        assert!(m.encode() == *bytes, "frame {frame}: re-encoding differs");
    }
}

#[test]
fn ikev1_messages_are_refused_as_the_wrong_version() {
    for case in ["ikev1-main-rekey", "ikev1-aggressive"] {
        for bytes in common::datagrams(case) {
            assert_eq!(
                Message::decode(&bytes),
                Err(DecodeError::UnsupportedVersion(1))
            );
        }
    }
}

#[test]
fn the_first_ike_sa_init_carries_the_reference_proposal() {
    let msgs = common::datagrams("ikev2-rekey");
    let m = Message::decode(&msgs[0]).unwrap();
    let Payload::Sa(sa) = &m.payloads[0] else {
        panic!("SA first")
    };
    let aes = &sa.proposals[0].transforms[0];
    assert_eq!(aes.key_length(), Some(128), "aes128");
    let summary: Vec<String> = m.payloads.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        summary,
        [
            "SA[IKE (1):-]",
            "KE[2048 bit MODP group]",
            "Nonce",
            "N(NAT_DETECTION_SOURCE_IP)",
            "N(NAT_DETECTION_DESTINATION_IP)",
            "N(IKEV2_FRAGMENTATION_SUPPORTED)",
            "N(SIGNATURE_HASH_ALGORITHMS)",
            "N(REDIRECT_SUPPORTED)"
        ]
    );
}
