//! Pre-shared key authentication (RFC 7296 §2.15).

use crate::crypto::{PrfAlg, stand_in};
use crate::ikev2::protect::Protection;

/// The pad string of RFC 7296 §2.15.
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// What an AUTH payload signs besides the key (RFC 7296 §2.15): for the initiator its
/// IKE_SA_INIT request, the responder's nonce, SK_pi and its IDi body; for the responder
/// its IKE_SA_INIT response, the initiator's nonce, SK_pr and its IDr body.
#[derive(Clone, Copy, Debug)]
pub struct SignedOctets<'a> {
    /// Our IKE_SA_INIT message as sent.
    pub real_message: &'a [u8],
    /// The peer's nonce.
    pub peer_nonce: &'a [u8],
    /// SK_pi or SK_pr.
    pub sk_p: &'a [u8],
    /// The body of our ID payload.
    pub id_body: &'a [u8],
}

/// `AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)` with
/// SignedOctets = RealMessage | Nonce of the peer | prf(SK_px, IDx').
pub fn psk_auth(prf: PrfAlg, psk: &[u8], o: &SignedOctets) -> Vec<u8> {
    let maced_id = prf.prf(o.sk_p, o.id_body);
    let key = prf.prf(psk, KEY_PAD);
    prf.prf_parts(&key, &[o.real_message, o.peer_nonce, &maced_id])
}

/// AUTH as [`psk_auth`] computes it, or with `Modeled` protection stand-in bytes of the
/// PRF's length from the same inputs. A Modeled run's SK_p keys are stand-ins already, so
/// the real PRF would only cost time (four HMACs over the IKE_SA_INIT message per side and
/// tunnel, 5 % of a 10^3-tunnel bench day); a wrong PSK or ID still gives another value,
/// so AUTHENTICATION_FAILED happens where it would.
pub fn psk_auth_as(protection: Protection, prf: PrfAlg, psk: &[u8], o: &SignedOctets) -> Vec<u8> {
    match protection {
        Protection::Real => psk_auth(prf, psk, o),
        Protection::Modeled => stand_in::bytes(
            b"ikesim/modeled-psk-auth",
            &[psk, o.real_message, o.peer_nonce, o.sk_p, o.id_body],
            prf.output_len(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUTS: [&[u8]; 5] = [b"secret", b"init message", b"nonce", b"sk_p", b"id"];

    fn octets(inputs: [&[u8]; 5]) -> SignedOctets<'_> {
        let [_, real_message, peer_nonce, sk_p, id_body] = inputs;
        SignedOctets {
            real_message,
            peer_nonce,
            sk_p,
            id_body,
        }
    }

    fn auth(protection: Protection, inputs: [&[u8]; 5]) -> Vec<u8> {
        psk_auth_as(protection, PrfAlg::HmacSha1, inputs[0], &octets(inputs))
    }

    #[test]
    fn real_protection_computes_the_rfc_value() {
        assert_eq!(
            auth(Protection::Real, INPUTS),
            psk_auth(PrfAlg::HmacSha1, INPUTS[0], &octets(INPUTS))
        );
    }

    #[test]
    fn modeled_auth_has_the_prf_length_and_depends_on_every_input() {
        let reference = auth(Protection::Modeled, INPUTS);
        assert_eq!(reference.len(), PrfAlg::HmacSha1.output_len());
        assert_eq!(auth(Protection::Modeled, INPUTS), reference);
        assert_ne!(auth(Protection::Real, INPUTS), reference);
        for i in 0..INPUTS.len() {
            let mut changed = INPUTS;
            changed[i] = b"other";
            assert_ne!(auth(Protection::Modeled, changed), reference, "input {i}");
        }
    }
}
