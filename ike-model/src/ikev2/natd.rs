//! Placeholder: natd (RFC 7296).
