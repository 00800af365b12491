//! Why bytes are not a valid IKEv2 message. Decoding never panics: every problem is one of
//! these, and the endpoint maps it to what RFC 7296 says a peer does (drop, or
//! INVALID_SYNTAX / UNSUPPORTED_CRITICAL_PAYLOAD).

use thiserror::Error;

use crate::wire::Truncated;

/// A decode failure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Ran out of bytes.
    #[error(transparent)]
    Truncated(#[from] Truncated),
    /// Major version is not 2 (RFC 7296 §3.1: answer INVALID_MAJOR_VERSION or drop).
    #[error("unsupported IKE major version {0}")]
    UnsupportedVersion(u8),
    /// The header's length field disagrees with the datagram.
    #[error("IKE header says {header} bytes but the datagram has {actual}")]
    LengthMismatch {
        /// Length in the header.
        header: usize,
        /// Bytes received.
        actual: usize,
    },
    /// A payload or substructure length is impossible.
    #[error("bad length {len} in {what}")]
    BadLength {
        /// What was being decoded.
        what: &'static str,
        /// The length found.
        len: usize,
    },
    /// An unknown payload had the critical bit set (RFC 7296 §2.5).
    #[error("unsupported critical payload type {0}")]
    UnknownCriticalPayload(u8),
    /// More payloads or substructures than any real message carries.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// A field holds a value the structure cannot have.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// Bytes after the payload chain ended, or an SK payload that is not the last.
    #[error("{0}")]
    Trailing(&'static str),
}
