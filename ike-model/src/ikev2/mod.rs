//! IKEv2 (RFC 7296): wire codecs, key derivation and message protection.

// Wire format (RFC 7296 §3).
pub mod consts;
pub mod endpoint;
pub mod error;
pub mod header;
pub mod message;
pub mod payload;

// Keys and protection (RFC 7296 §2.13-2.17, §2.23, §3.14).
pub mod auth;
pub mod keylog;
pub mod keys;
pub mod natd;
pub mod protect;
