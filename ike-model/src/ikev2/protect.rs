//! Placeholder: protect (RFC 7296).
