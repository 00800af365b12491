//! Pseudorandom functions (RFC 7296 §3.3.2) and prf+ (RFC 7296 §2.13).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// A PRF, by IANA transform ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrfAlg {
    /// PRF_HMAC_SHA1 (2).
    HmacSha1,
    /// PRF_HMAC_SHA2_256 (5).
    HmacSha256,
}

impl PrfAlg {
    /// The PRF with transform ID `id`.
    pub fn from_id(id: u16) -> Option<PrfAlg> {
        match id {
            2 => Some(PrfAlg::HmacSha1),
            5 => Some(PrfAlg::HmacSha256),
            _ => None,
        }
    }

    /// IANA transform ID.
    pub fn id(self) -> u16 {
        match self {
            PrfAlg::HmacSha1 => 2,
            PrfAlg::HmacSha256 => 5,
        }
    }

    /// Output length in bytes (also the preferred key length, RFC 7296 §2.13).
    pub fn output_len(self) -> usize {
        match self {
            PrfAlg::HmacSha1 => 20,
            PrfAlg::HmacSha256 => 32,
        }
    }

    /// prf(key, data): HMAC, which takes any key length.
    pub fn prf(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        self.prf_parts(key, &[data])
    }

    /// prf(key, a | b | ...), without building the concatenation.
    pub fn prf_parts(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            PrfAlg::HmacSha1 => {
                let mut m =
                    <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }
            PrfAlg::HmacSha256 => {
                let mut m =
                    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// prf+(key, seed) truncated to `len` bytes: T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n).
    /// The keyed HMAC state is computed once and copied for each block.
    pub fn prf_plus(self, key: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
        match self {
            PrfAlg::HmacSha1 => prf_plus_with(
                <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key"),
                seed,
                len,
            ),
            PrfAlg::HmacSha256 => prf_plus_with(
                <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key"),
                seed,
                len,
            ),
        }
    }
}

/// prf+ (RFC 7296 §2.13) with an already keyed MAC.
fn prf_plus_with<M: Mac + Clone>(keyed: M, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(len + 64);
    let mut n = 1u8;
    let mut last = 0usize;
    while out.len() < len {
        let mut m = keyed.clone();
        m.update(&out[last..]);
        m.update(seed);
        m.update(&[n]);
        last = out.len();
        out.extend_from_slice(&m.finalize().into_bytes());
        n = n.wrapping_add(1);
    }
    out.truncate(len);
    out
}
