//! Property tests of the IKEv2 codec: decode(encode(m)) == m for generated messages of every
//! payload kind, and decoding random or mutated bytes returns, never panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ike_model::ikev2::consts::*;
use ike_model::ikev2::header::Header;
use ike_model::ikev2::message::Message;
use ike_model::ikev2::payload::*;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (0u16..0x7fff, any::<u16>()).prop_map(|(ty, value)| Attribute::Tv { ty, value }),
        (0u16..0x7fff, bytes(8)).prop_map(|(ty, value)| Attribute::Tlv { ty, value }),
    ]
}

fn sa() -> impl Strategy<Value = SaPayload> {
    let transform = (
        1u8..6,
        any::<u16>(),
        proptest::collection::vec(attribute(), 0..3),
    )
        .prop_map(|(t, id, attributes)| Transform {
            ty: TransformType(t),
            id,
            attributes: attributes.into(),
        });
    let proposal = (
        1u8..10,
        1u8..4,
        prop_oneof![Just(0usize), Just(4), Just(8)],
        proptest::collection::vec(transform, 0..6),
    )
        .prop_flat_map(|(num, proto, spi_len, transforms)| {
            proptest::collection::vec(any::<u8>(), spi_len).prop_map(move |spi| Proposal {
                num,
                protocol: ProtocolId(proto),
                spi: spi.into(),
                transforms: transforms.clone(),
            })
        });
    proptest::collection::vec(proposal, 1..4).prop_map(|proposals| SaPayload { proposals })
}

fn ip() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        (any::<u32>(), any::<u32>())
            .prop_map(|(a, b)| (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)))),
        (any::<u128>(), any::<u128>())
            .prop_map(|(a, b)| (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)))),
    ]
}

fn ts() -> impl Strategy<Value = TsPayload> {
    proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u16>(), ip()), 0..4).prop_map(|v| {
        TsPayload {
            selectors: v
                .into_iter()
                .map(
                    |(ip_protocol, start_port, end_port, (start, end))| TrafficSelector {
                        ip_protocol,
                        start_port,
                        end_port,
                        start,
                        end: match (start, end) {
                            (IpAddr::V4(_), e @ IpAddr::V4(_))
                            | (IpAddr::V6(_), e @ IpAddr::V6(_)) => e,
                            _ => start,
                        },
                    },
                )
                .collect(),
        }
    })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        sa().prop_map(Payload::Sa),
        (any::<u16>(), bytes(300)).prop_map(|(group, data)| Payload::Ke(KePayload { group, data })),
        (any::<u8>(), bytes(40)).prop_map(|(t, data)| Payload::IdI(IdPayload {
            id_type: IdType(t),
            data
        })),
        (any::<u8>(), bytes(40)).prop_map(|(t, data)| Payload::IdR(IdPayload {
            id_type: IdType(t),
            data
        })),
        (any::<u8>(), bytes(60))
            .prop_map(|(encoding, data)| Payload::Cert(CertPayload { encoding, data })),
        (any::<u8>(), bytes(60))
            .prop_map(|(encoding, data)| Payload::CertReq(CertPayload { encoding, data })),
        (any::<u8>(), bytes(40)).prop_map(|(m, data)| Payload::Auth(AuthPayload {
            method: AuthMethod(m),
            data
        })),
        bytes(64).prop_map(Payload::Nonce),
        (
            any::<u8>(),
            prop_oneof![Just(0usize), Just(4), Just(8)],
            any::<u16>(),
            bytes(40)
        )
            .prop_flat_map(|(p, n, t, data)| proptest::collection::vec(any::<u8>(), n)
                .prop_map(move |spi| {
                    Payload::Notify(NotifyPayload {
                        protocol: ProtocolId(p),
                        spi,
                        ty: NotifyType(t),
                        data: data.clone(),
                    })
                })),
        (any::<u8>(), 0u8..9, 0usize..4).prop_flat_map(|(p, size, n)| {
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), size as usize), n)
                .prop_map(move |spis| {
                    Payload::Delete(DeletePayload {
                        protocol: ProtocolId(p),
                        spi_size: size,
                        spis: spis.into_iter().map(SpiBytes::from_vec).collect(),
                    })
                })
        }),
        bytes(32).prop_map(Payload::VendorId),
        ts().prop_map(Payload::TsI),
        ts().prop_map(Payload::TsR),
        (49u8..=255, bytes(20)).prop_map(|(t, body)| Payload::Unknown {
            ty: PayloadType(t),
            critical: false,
            body
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        any::<u64>(),
        any::<u64>(),
        34u8..38,
        prop_oneof![Just(0x08u8), Just(0x20), Just(0x28), Just(0)],
        any::<u32>(),
        proptest::collection::vec(payload(), 0..8),
        proptest::option::of((1u8..50, bytes(80))),
    )
        .prop_map(|(spi_i, spi_r, ex, flags, message_id, mut payloads, sk)| {
            if let Some((inner, body)) = sk {
                payloads.push(Payload::Encrypted {
                    inner_next: PayloadType(inner),
                    body,
                });
            }
            let mut m = Message {
                header: Header {
                    spi_i,
                    spi_r,
                    next_payload: PayloadType::NONE,
                    major: 2,
                    minor: 0,
                    exchange: ExchangeType(ex),
                    flags,
                    message_id,
                    length: 0,
                },
                payloads,
            };
            // encode() fills in next_payload and length; make the model agree.
            let bytes = m.encode();
            m.header.next_payload = PayloadType(bytes[16]);
            m.header.length = bytes.len() as u32;
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_of_encode_is_identity(m in message()) {
        let bytes = m.encode();
        prop_assert_eq!(Message::decode(&bytes), Ok(m));
    }

    #[test]
    fn decoding_random_bytes_never_panics(b in bytes(600)) {
        let _ = Message::decode(&b);
        let _ = decode_payload_chain(PayloadType(b.first().copied().unwrap_or(33)), &b);
    }

    #[test]
    fn decoding_mutated_messages_never_panics(m in message(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let mut bytes = m.encode();
        for (i, v) in flips {
            let k = i.index(bytes.len());
            bytes[k] = v;
        }
        let _ = Message::decode(&bytes);
        let n = cut.index(bytes.len() + 1);
        let _ = Message::decode(&bytes[..n]);
    }
}

#[test]
fn an_unknown_critical_payload_is_refused() {
    let mut bytes = Message {
        header: Header {
            spi_i: 1,
            spi_r: 0,
            next_payload: PayloadType::NONE,
            major: 2,
            minor: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: 0x08,
            message_id: 0,
            length: 0,
        },
        payloads: vec![Payload::Unknown {
            ty: PayloadType(200),
            critical: true,
            body: vec![1, 2],
        }],
    }
    .encode();
    assert_eq!(
        Message::decode(&bytes),
        Err(ike_model::ikev2::error::DecodeError::UnknownCriticalPayload(200))
    );
    bytes[29] = 0; // clear the critical bit: now it is skipped and kept
    assert!(matches!(
        Message::decode(&bytes).unwrap().payloads[0],
        Payload::Unknown {
            critical: false,
            ..
        }
    ));
}
