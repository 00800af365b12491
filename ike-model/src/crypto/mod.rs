//! Cryptographic primitives IKE uses in `Real` mode: MODP Diffie-Hellman (RFC 2409, RFC
//! 3526), the HMAC PRFs and prf+ (RFC 7296 §2.13), AES-CBC (RFC 3602) and HMAC integrity
//! (RFC 2404, RFC 4868). Randomness always comes from the caller.

pub mod cipher;
pub mod dh;
pub mod integ;
pub mod prf;
pub mod stand_in;

pub use cipher::EncrAlg;
pub use dh::{DhGroup, DhPrivate};
pub use integ::IntegAlg;
pub use prf::PrfAlg;

/// A cryptographic operation could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A key, IV or input has the wrong length.
    #[error("wrong length for {what}: {len}")]
    Length {
        /// What had the wrong length.
        what: &'static str,
        /// The length given.
        len: usize,
    },
    /// The peer's DH public value is out of range (RFC 2631 §2.1.5: 1 < y < p-1).
    #[error("invalid Diffie-Hellman public value")]
    BadPublicValue,
    /// The integrity check value did not verify.
    #[error("ICV mismatch")]
    IcvMismatch,
    /// The decrypted padding is inconsistent.
    #[error("bad padding")]
    BadPadding,
    /// A transform this implementation does not support.
    #[error("unsupported {0}")]
    Unsupported(String),
}
