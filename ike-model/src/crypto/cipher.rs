//! AES-CBC (RFC 3602) without padding: IKE pads its own plaintext.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use super::CryptoError;

/// AES block size.
pub const BLOCK: usize = 16;

/// An encryption algorithm with its key length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncrAlg {
    /// ENCR_AES_CBC (12) with a 128, 192 or 256-bit key.
    AesCbc {
        /// Key length in bits.
        key_bits: u16,
    },
}

impl EncrAlg {
    /// The algorithm for transform ID `id` with key length attribute `key_bits`.
    pub fn from_id(id: u16, key_bits: Option<u16>) -> Option<EncrAlg> {
        match (id, key_bits) {
            (12, Some(k @ (128 | 192 | 256))) => Some(EncrAlg::AesCbc { key_bits: k }),
            _ => None,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            EncrAlg::AesCbc { key_bits } => usize::from(key_bits) / 8,
        }
    }

    /// Block (and IV) length in bytes.
    pub fn block_len(self) -> usize {
        BLOCK
    }

    /// The name Wireshark's IKEv2 decryption table uses.
    pub fn wireshark_name(self) -> &'static str {
        match self {
            EncrAlg::AesCbc { key_bits: 128 } => "AES-CBC-128 [RFC3602]",
            EncrAlg::AesCbc { key_bits: 192 } => "AES-CBC-192 [RFC3602]",
            EncrAlg::AesCbc { .. } => "AES-CBC-256 [RFC3602]",
        }
    }

    fn check(self, key: &[u8], iv: &[u8], data: &[u8]) -> Result<(), CryptoError> {
        if key.len() != self.key_len() {
            return Err(CryptoError::Length {
                what: "key",
                len: key.len(),
            });
        }
        if iv.len() != BLOCK {
            return Err(CryptoError::Length {
                what: "IV",
                len: iv.len(),
            });
        }
        if !data.len().is_multiple_of(BLOCK) {
            return Err(CryptoError::Length {
                what: "CBC input",
                len: data.len(),
            });
        }
        Ok(())
    }

    /// Encrypts whole blocks.
    pub fn encrypt(self, key: &[u8], iv: &[u8], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.check(key, iv, plain)?;
        let bad = |_| CryptoError::Length {
            what: "key",
            len: key.len(),
        };
        Ok(match key.len() {
            16 => cbc::Encryptor::<Aes128>::new_from_slices(key, iv)
                .map_err(bad)?
                .encrypt_padded_vec::<NoPadding>(plain),
            24 => cbc::Encryptor::<Aes192>::new_from_slices(key, iv)
                .map_err(bad)?
                .encrypt_padded_vec::<NoPadding>(plain),
            _ => cbc::Encryptor::<Aes256>::new_from_slices(key, iv)
                .map_err(bad)?
                .encrypt_padded_vec::<NoPadding>(plain),
        })
    }

    /// Decrypts whole blocks.
    pub fn decrypt(self, key: &[u8], iv: &[u8], cipher: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.check(key, iv, cipher)?;
        let bad = |_| CryptoError::Length {
            what: "key",
            len: key.len(),
        };
        let r = match key.len() {
            16 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
                .map_err(bad)?
                .decrypt_padded_vec::<NoPadding>(cipher),
            24 => cbc::Decryptor::<Aes192>::new_from_slices(key, iv)
                .map_err(bad)?
                .decrypt_padded_vec::<NoPadding>(cipher),
            _ => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
                .map_err(bad)?
                .decrypt_padded_vec::<NoPadding>(cipher),
        };
        r.map_err(|_| CryptoError::BadPadding)
    }
}
