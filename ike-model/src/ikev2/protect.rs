//! The Encrypted and Authenticated payload (RFC 7296 §3.14): sealing inner payloads into an
//! SK payload and opening one. The ICV covers the message from the first byte of the IKE
//! header to the end of the ciphertext. Messages from the IKE SA's original initiator (the I
//! flag) use SK_ei/SK_ai, the others SK_er/SK_ar.

use super::consts::PayloadType;
use super::error::DecodeError;
use super::header::{HEADER_LEN, Header};
use super::keys::IkeSaKeys;
use super::message::Message;
use super::payload::{GENERIC_HEADER_LEN, Payload, decode_payload_chain, encode_payload_chain};
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
        (keys.sk_ei(), keys.sk_ai())
    } else {
        (keys.sk_er(), keys.sk_ar())
    }
}

/// How SK payloads are protected. `Modeled` is the stand-in of Modeled crypto (DESIGN.md)
/// for runs nobody captures: the same bytes on the wire in number and place, but the
/// "ciphertext" is the padded plaintext and the ICV a keyed 64-bit FNV-1a digest, which costs
/// a small fraction of AES-CBC and HMAC. With a capture the endpoint keeps `Real` so Wireshark
/// can decrypt what it wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protection {
    /// The negotiated cipher and integrity algorithm.
    #[default]
    Real,
    /// Identity cipher and a cheap keyed digest, same lengths.
    Modeled,
}

/// The stand-in ICV of [`Protection::Modeled`]: a keyed 64-bit multiply-rotate digest
/// over 8-byte words of the key and the data (any change to either changes it with
/// overwhelming likelihood), repeated to `len` bytes. The key enters as its seed
/// ([`modeled_icv_seed`]), computed once per key: an IKE SA keeps its two seeds beside its
/// keys, so sealing and opening a message do not read the key bytes (a cache miss per
/// message at a 10^5-tunnel concentrator). The data is taken in four interleaved lanes,
/// each an independent chain of bijective steps (so a change to any one word always
/// changes its lane, and the lanes are folded one after another): one chain was bound by
/// the multiply's latency, and a 1,400-byte ESP packet spent most of its time there.
/// It is appended to `out`, computed over all of `out` (IKE messages and ESP packets put
/// their ICV last).
pub(crate) fn append_modeled_icv(seed: u64, out: &mut Vec<u8>, len: usize) {
    let h = modeled_icv_word(seed, out).to_be_bytes();
    out.extend(h.iter().copied().cycle().take(len));
}

/// Whether `icv` is the stand-in ICV of `data` under the key with `seed` (without
/// building it).
pub(crate) fn modeled_icv_matches(seed: u64, data: &[u8], icv: &[u8]) -> bool {
    let h = modeled_icv_word(seed, data).to_be_bytes();
    icv.iter().zip(h.iter().cycle()).all(|(a, b)| a == b)
}

const ICV_K: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn icv_step(h: u64, w: u64) -> u64 {
    (h.rotate_left(23) ^ w).wrapping_mul(ICV_K)
}

#[inline]
fn icv_word(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// A key's share of the stand-in ICV: its 8-byte words (the last one padded, and each
/// tagged with its length) folded into one word.
pub(crate) fn modeled_icv_seed(key: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ key.len() as u64;
    let mut key_words = key.chunks_exact(8);
    for w in &mut key_words {
        h = icv_step(h, icv_word(w) ^ (8u64 << 56));
    }
    let rest = key_words.remainder();
    if !rest.is_empty() {
        h = icv_step(h, partial_word(rest) ^ ((rest.len() as u64) << 56));
    }
    h
}

/// The 64-bit digest the stand-in ICV repeats.
fn modeled_icv_word(seed: u64, data: &[u8]) -> u64 {
    let h = icv_step(seed, data.len() as u64);
    let mut lanes = [h, h ^ 1, h ^ 2, h ^ 3];
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        for (j, lane) in lanes.iter_mut().enumerate() {
            *lane = icv_step(*lane, icv_word(&b[8 * j..8 * j + 8]));
        }
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        lanes[0] = icv_step(lanes[0], icv_word(w));
    }
    let rest = words.remainder();
    lanes[0] = icv_step(lanes[0], partial_word(rest) ^ rest.len() as u64);
    let mut h = lanes[0];
    for lane in &lanes[1..] {
        h = icv_step(h, *lane);
    }
    h ^ (h >> 29)
}

/// Up to 8 bytes as a little-endian word padded with zeros (shifts, not a call to memcpy for
/// a few bytes).
fn partial_word(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |w, x| (w << 8) | u64::from(*x))
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
    let (inner_next, plain) = encode_payload_chain(inner);
    seal_plain(
        Protection::Real,
        keys,
        header,
        inner_next,
        &plain,
        iv,
        padding,
    )
}

/// [`seal`] for inner payloads already encoded (`plain`, whose first payload is
/// `inner_next`), protected as `protection` says. The message is written into one buffer of
/// its final size (header, SK payload header, IV, ciphertext, ICV), so an endpoint can encode
/// its payloads into a scratch buffer it keeps and pay one allocation per message.
pub fn seal_plain(
    protection: Protection,
    keys: &IkeSaKeys,
    header: &Header,
    inner_next: PayloadType,
    plain: &[u8],
    iv: &[u8],
    padding: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let encr = keys.suite.encr;
    let integ = keys.suite.integ;
    let need = padding_len(plain.len(), encr.block_len());
    if padding.len() != need {
        return Err(CryptoError::Length {
            what: "padding",
            len: padding.len(),
        });
    }
    let icv_len = integ.icv_len();
    let body_len = iv.len() + plain.len() + need + 1 + icv_len;
    let sk_len = GENERIC_HEADER_LEN + body_len;
    let total = HEADER_LEN + sk_len;
    let sk_len = u16::try_from(sk_len).map_err(|_| CryptoError::Length {
        what: "SK payload",
        len: sk_len,
    })?;
    let mut out = Vec::with_capacity(total);
    let mut h = *header;
    h.next_payload = PayloadType::SK;
    h.length = total as u32;
    h.encode(&mut out);
    out.extend_from_slice(&[inner_next.0, 0]);
    out.extend_from_slice(&sk_len.to_be_bytes());
    out.extend_from_slice(iv);
    let ct_start = out.len();
    out.extend_from_slice(plain);
    out.extend_from_slice(padding);
    out.push(need as u8);
    match protection {
        Protection::Real => {
            let (ek, ak) = keys_for(keys, header.is_initiator());
            let ct = encr.encrypt(ek, iv, &out[ct_start..])?;
            out.truncate(ct_start);
            out.extend_from_slice(&ct);
            let icv = integ.icv(ak, &out);
            out.extend_from_slice(&icv);
        }
        Protection::Modeled => {
            append_modeled_icv(keys.icv_seed(header.is_initiator()), &mut out, icv_len)
        }
    }
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// What an opened message held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The outer message (its last payload is the SK payload).
    pub message: Message,
    /// The decrypted inner payloads.
    pub inner: Vec<Payload>,
    /// The IV that was used (inline: one block).
    pub iv: smallvec::SmallVec<[u8; 16]>,
    /// The padding bytes (without the pad-length byte; inline up to a block).
    pub padding: smallvec::SmallVec<[u8; 16]>,
}

/// Verifies the ICV of a protected message, decrypts its SK payload and decodes the inner
/// payloads.
pub fn open(keys: &IkeSaKeys, bytes: &[u8]) -> Result<Opened, OpenError> {
    open_as(Protection::Real, keys, bytes)
}

/// [`open`] for a message protected as `protection` says.
pub fn open_as(
    protection: Protection,
    keys: &IkeSaKeys,
    bytes: &[u8],
) -> Result<Opened, OpenError> {
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
    let from_initiator = message.header.is_initiator();
    let n = bytes.len() - icv;
    let iv = &body[..b];
    let sealed = &body[b..body.len() - icv];
    let plain: std::borrow::Cow<[u8]> = match protection {
        Protection::Real => {
            let (ek, ak) = keys_for(keys, from_initiator);
            integ.verify(ak, &bytes[..n], &bytes[n..])?;
            encr.decrypt(ek, iv, sealed)?.into()
        }
        Protection::Modeled => {
            let seed = keys.icv_seed(from_initiator);
            if !modeled_icv_matches(seed, &bytes[..n], &bytes[n..]) {
                return Err(CryptoError::IcvMismatch.into());
            }
            sealed.into()
        }
    };
    let pad = usize::from(*plain.last().expect("at least one block"));
    if pad + 1 > plain.len() {
        return Err(CryptoError::BadPadding.into());
    }
    let inner_len = plain.len() - pad - 1;
    let inner = decode_payload_chain(*inner_next, &plain[..inner_len])?;
    let (iv, padding) = (
        smallvec::SmallVec::from_slice(iv),
        smallvec::SmallVec::from_slice(&plain[inner_len..plain.len() - 1]),
    );
    Ok(Opened {
        inner,
        iv,
        padding,
        message,
    })
}

/// The first inner payload type of a protected message, without opening it.
pub fn inner_first(message: &Message) -> Option<PayloadType> {
    match message.payloads.last() {
        Some(Payload::Encrypted { inner_next, .. }) => Some(*inner_next),
        _ => None,
    }
}
