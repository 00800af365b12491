//! One-line descriptions of endpoint events and IKE messages for trace.log.

use ike_model::events::Event;
use ike_model::ikev2::endpoint::NATT_PORT;
use ike_model::ikev2::header::Header;

/// One trace line for an endpoint event.
pub(crate) fn describe(e: &Event) -> String {
    match e {
        Event::ExchangeFinished {
            kind,
            purpose,
            outcome,
            retransmissions,
            ..
        } => format!(
            "{kind} ({purpose}) {outcome}, latency {}, {retransmissions} retransmissions",
            e.latency().unwrap_or_default()
        ),
        Event::Sa {
            kind,
            spi,
            change,
            reason,
            ..
        } => format!("{kind} SA {spi} {change} ({reason})"),
        Event::State {
            kind, spi, state, ..
        } => format!("{kind} SA {spi} state {state}"),
        Event::Dropped { reason, .. } => format!("dropped a datagram: {reason}"),
        Event::Collision {
            kind,
            resolution,
            extra_exchanges,
            ..
        } => format!("{kind} SA rekey collision: {resolution} ({extra_exchanges} extra exchanges)"),
    }
}

/// One trace line for an IKE message we send: exchange, request or response, message ID,
/// size, and the port (4500 after the float).
pub(crate) fn describe_message(port: u16, payload: &[u8]) -> String {
    let ike = if port == NATT_PORT && payload.len() >= 4 {
        &payload[4..]
    } else {
        payload
    };
    if is_ikev1(ike)
        && let Ok(h) = ike_model::ikev1::Header::decode(ike)
    {
        return format!(
            "send {} #{:08x}{} ({} bytes, port {port})",
            ike_model::ikev1::consts::exchange_name(h.exchange),
            h.message_id,
            if h.encrypted() { " encrypted" } else { "" },
            ike.len()
        );
    }
    match Header::decode(ike) {
        Ok(h) => format!(
            "send {} {} #{} ({} bytes, port {port})",
            h.exchange,
            if h.is_response() {
                "response"
            } else {
                "request"
            },
            h.message_id,
            ike.len()
        ),
        Err(_) => format!("send {} bytes", payload.len()),
    }
}

/// IKEv1 messages carry version 1.0 in the byte where IKEv2 has 2.0.
pub(crate) fn is_ikev1(payload: &[u8]) -> bool {
    payload.get(17) == Some(&0x10)
}
