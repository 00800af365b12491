//! Placeholder: auth (RFC 7296).
