//! Untrusted bytes into the IKEv2 decoder: it must return, never panic or run away. When a
//! message decodes, re-encoding and decoding again must give the same message.
#![no_main]

use ike_model::ikev2::message::Message;
use ike_model::ikev2::payload::{decode_payload_chain, encode_payload_chain};
use ike_model::ikev2::consts::PayloadType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        let again = Message::decode(&m.encode()).expect("our own encoding decodes");
        assert_eq!(again.payloads, m.payloads);
    }
    if let Some((&first, rest)) = data.split_first() {
        if let Ok(p) = decode_payload_chain(PayloadType(first), rest) {
            let (_, bytes) = encode_payload_chain(&p);
            let _ = decode_payload_chain(PayloadType(first), &bytes);
        }
    }
});
