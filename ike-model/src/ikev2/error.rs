//! Placeholder: error (RFC 7296).
