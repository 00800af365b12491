//! Placeholder: header (RFC 7296).
