//! Placeholder: message (RFC 7296).
