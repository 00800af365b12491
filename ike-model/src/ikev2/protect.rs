//! The Encrypted and Authenticated payload (RFC 7296 §3.14): sealing inner payloads into an
//! SK payload and opening one. The ICV covers the message from the first byte of the IKE
//! header to the end of the ciphertext. Messages from the IKE SA's original initiator (the I
//! flag) use SK_ei/SK_ai, the others SK_er/SK_ar.

use super::consts::PayloadType;
use super::error::DecodeError;
use super::header::Header;
use super::keys::IkeSaKeys;
use super::message::Message;
use super::payload::{Payload, decode_payload_chain, encode_payload_chain};
use crate::crypto::CryptoError;

/// Why a protected message could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The outer message or the decrypted inner payloads do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// ICV mismatch, bad padding or a wrong length.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The message has no SK payload.
    #[error("message is not protected")]
    NotProtected,
}

/// Bytes of padding strongSwan adds: the least making `plain + pad + 1` a multiple of the
/// block size.
pub fn padding_len(plain_len: usize, block: usize) -> usize {
    (block - (plain_len + 1) % block) % block
}

fn keys_for(keys: &IkeSaKeys, from_initiator: bool) -> (&[u8], &[u8]) {
    if from_initiator {
        (&keys.sk_ei, &keys.sk_ai)
    } else {
        (&keys.sk_er, &keys.sk_ar)
    }
}

/// Builds a protected message: `header` (its I flag chooses the keys) followed by one SK
/// payload holding `inner`. `iv` must be one block and `padding` exactly
/// [`padding_len`] bytes (the endpoint draws both from its random stream).
pub fn seal(
    keys: &IkeSaKeys,
    header: &Header,
    inner: &[Payload],
    iv: &[u8],
    padding: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let encr = keys.suite.encr;
    let integ = keys.suite.integ;
    let (inner_next, mut plain) = encode_payload_chain(inner);
    let need = padding_len(plain.len(), encr.block_len());
    if padding.len() != need {
        return Err(CryptoError::Length {
            what: "padding",
            len: padding.len(),
        });
    }
    plain.extend_from_slice(padding);
    plain.push(need as u8);
    let (ek, ak) = keys_for(keys, header.is_initiator());
    let ct = encr.encrypt(ek, iv, &plain)?;
    let mut body = Vec::with_capacity(iv.len() + ct.len() + integ.icv_len());
    body.extend_from_slice(iv);
    body.extend_from_slice(&ct);
    body.resize(body.len() + integ.icv_len(), 0);
    let mut bytes = Message {
        header: *header,
        payloads: vec![Payload::Encrypted { inner_next, body }],
    }
    .encode();
    let n = bytes.len() - integ.icv_len();
    let icv = integ.icv(ak, &bytes[..n]);
    bytes[n..].copy_from_slice(&icv);
    Ok(bytes)
}

/// What an opened message held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The outer message (its last payload is the SK payload).
    pub message: Message,
    /// The decrypted inner payloads.
    pub inner: Vec<Payload>,
    /// The IV that was used.
    pub iv: Vec<u8>,
    /// The padding bytes (without the pad-length byte).
    pub padding: Vec<u8>,
}

/// Verifies the ICV of a protected message, decrypts its SK payload and decodes the inner
/// payloads.
pub fn open(keys: &IkeSaKeys, bytes: &[u8]) -> Result<Opened, OpenError> {
    let message = Message::decode(bytes)?;
    let Some(Payload::Encrypted { inner_next, body }) = message.payloads.last() else {
        return Err(OpenError::NotProtected);
    };
    let encr = keys.suite.encr;
    let integ = keys.suite.integ;
    let (b, icv) = (encr.block_len(), integ.icv_len());
    if body.len() < b + icv || (body.len() - b - icv) % b != 0 || body.len() == b + icv {
        return Err(CryptoError::Length {
            what: "SK payload",
            len: body.len(),
        }
        .into());
    }
    let (ek, ak) = keys_for(keys, message.header.is_initiator());
    let n = bytes.len() - icv;
    integ.verify(ak, &bytes[..n], &bytes[n..])?;
    let iv = &body[..b];
    let plain = encr.decrypt(ek, iv, &body[b..body.len() - icv])?;
    let pad = usize::from(*plain.last().expect("at least one block"));
    if pad + 1 > plain.len() {
        return Err(CryptoError::BadPadding.into());
    }
    let inner_len = plain.len() - pad - 1;
    let inner = decode_payload_chain(*inner_next, &plain[..inner_len])?;
    Ok(Opened {
        inner,
        iv: iv.to_vec(),
        padding: plain[inner_len..plain.len() - 1].to_vec(),
        message: message.clone(),
    })
}

/// The first inner payload type of a protected message, without opening it.
pub fn inner_first(message: &Message) -> Option<PayloadType> {
    match message.payloads.last() {
        Some(Payload::Encrypted { inner_next, .. }) => Some(*inner_next),
        _ => None,
    }
}
