//! Integrity algorithms: HMAC-SHA1-96 (RFC 2404) and HMAC-SHA2-256-128 (RFC 4868).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use super::CryptoError;

/// An integrity algorithm, by IANA transform ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegAlg {
    /// AUTH_HMAC_SHA1_96 (2).
    HmacSha1_96,
    /// AUTH_HMAC_SHA2_256_128 (12).
    HmacSha256_128,
}

impl IntegAlg {
    /// The algorithm with transform ID `id`.
    pub fn from_id(id: u16) -> Option<IntegAlg> {
        match id {
            2 => Some(IntegAlg::HmacSha1_96),
            12 => Some(IntegAlg::HmacSha256_128),
            _ => None,
        }
    }

    /// IANA transform ID.
    pub fn id(self) -> u16 {
        match self {
            IntegAlg::HmacSha1_96 => 2,
            IntegAlg::HmacSha256_128 => 12,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            IntegAlg::HmacSha1_96 => 20,
            IntegAlg::HmacSha256_128 => 32,
        }
    }

    /// ICV length in bytes.
    pub fn icv_len(self) -> usize {
        match self {
            IntegAlg::HmacSha1_96 => 12,
            IntegAlg::HmacSha256_128 => 16,
        }
    }

    /// The name Wireshark's IKEv2 decryption table uses.
    pub fn wireshark_name(self) -> &'static str {
        match self {
            IntegAlg::HmacSha1_96 => "HMAC_SHA1_96 [RFC2404]",
            IntegAlg::HmacSha256_128 => "HMAC_SHA2_256_128 [RFC4868]",
        }
    }

    /// The truncated MAC of `data`.
    pub fn icv(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let full = match self {
            IntegAlg::HmacSha1_96 => {
                let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            IntegAlg::HmacSha256_128 => {
                let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        };
        full[..self.icv_len()].to_vec()
    }

    /// Checks `icv` over `data` in constant time.
    pub fn verify(self, key: &[u8], data: &[u8], icv: &[u8]) -> Result<(), CryptoError> {
        let want = self.icv(key, data);
        if want.len() != icv.len() {
            return Err(CryptoError::IcvMismatch);
        }
        let diff = want.iter().zip(icv).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            Ok(())
        } else {
            Err(CryptoError::IcvMismatch)
        }
    }
}
