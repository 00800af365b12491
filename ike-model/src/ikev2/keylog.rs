//! Placeholder: keylog (RFC 7296).
