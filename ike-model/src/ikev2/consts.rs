//! Placeholder: consts (RFC 7296).
