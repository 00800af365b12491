//! Placeholder: keys (RFC 7296).
