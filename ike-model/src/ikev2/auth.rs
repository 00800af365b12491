//! Pre-shared key authentication (RFC 7296 §2.15).

use crate::crypto::PrfAlg;

/// The pad string of RFC 7296 §2.15.
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) with
/// SignedOctets = RealMessage | Nonce of the peer | prf(SK_px, IDx').
///
/// For the initiator: its IKE_SA_INIT request, the responder's nonce, SK_pi and its IDi
/// body; for the responder: its IKE_SA_INIT response, the initiator's nonce, SK_pr, IDr.
pub fn psk_auth(
    prf: PrfAlg,
    psk: &[u8],
    real_message: &[u8],
    peer_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
) -> Vec<u8> {
    let maced_id = prf.prf(sk_p, id_body);
    let key = prf.prf(psk, KEY_PAD);
    prf.prf_parts(&key, &[real_message, peer_nonce, &maced_id])
}
