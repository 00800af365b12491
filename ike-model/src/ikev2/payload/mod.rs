//! Placeholder: IKEv2 payloads (RFC 7296 §3.2-3.16).
