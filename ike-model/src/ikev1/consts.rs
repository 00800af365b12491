//! IKEv1 / ISAKMP registry values (RFC 2407, 2408, 3947, 3706) used by the codec.

/// Exchange types (RFC 2408 §3.1, RFC 2409).
pub mod exchange {
    /// Identity Protection (Main Mode).
    pub const MAIN_MODE: u8 = 2;
    /// Aggressive Mode.
    pub const AGGRESSIVE: u8 = 4;
    /// Informational.
    pub const INFORMATIONAL: u8 = 5;
    /// Quick Mode.
    pub const QUICK_MODE: u8 = 32;
}

/// Payload types (RFC 2408 §3.1, RFC 3947).
pub mod payload {
    /// No next payload.
    pub const NONE: u8 = 0;
    /// Security Association.
    pub const SA: u8 = 1;
    /// Proposal.
    pub const PROPOSAL: u8 = 2;
    /// Transform.
    pub const TRANSFORM: u8 = 3;
    /// Key Exchange.
    pub const KE: u8 = 4;
    /// Identification.
    pub const ID: u8 = 5;
    /// Certificate.
    pub const CERT: u8 = 6;
    /// Certificate Request.
    pub const CERT_REQ: u8 = 7;
    /// Hash.
    pub const HASH: u8 = 8;
    /// Signature.
    pub const SIG: u8 = 9;
    /// Nonce.
    pub const NONCE: u8 = 10;
    /// Notification.
    pub const N: u8 = 11;
    /// Delete.
    pub const D: u8 = 12;
    /// Vendor ID.
    pub const VID: u8 = 13;
    /// NAT Discovery (RFC 3947).
    pub const NAT_D: u8 = 20;
    /// NAT Original Address (RFC 3947).
    pub const NAT_OA: u8 = 21;
}

/// Header flags (RFC 2408 §3.1).
pub mod flags {
    /// Encryption: the payloads after the header are encrypted.
    pub const ENCRYPTION: u8 = 0x01;
    /// Commit.
    pub const COMMIT: u8 = 0x02;
    /// Authentication only.
    pub const AUTH_ONLY: u8 = 0x04;
}

/// Notify message types used here (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706).
pub mod notify {
    /// RESPONDER-LIFETIME.
    pub const RESPONDER_LIFETIME: u16 = 24576;
    /// INITIAL-CONTACT.
    pub const INITIAL_CONTACT: u16 = 24578;
    /// R-U-THERE (DPD).
    pub const R_U_THERE: u16 = 36136;
    /// R-U-THERE-ACK (DPD).
    pub const R_U_THERE_ACK: u16 = 36137;
}

/// Protocol IDs (RFC 2407 §4.4.1).
pub mod protocol {
    /// ISAKMP.
    pub const ISAKMP: u8 = 1;
    /// IPsec AH.
    pub const AH: u8 = 2;
    /// IPsec ESP.
    pub const ESP: u8 = 3;
}

/// Wireshark's name of a payload type, as in the reference dumps.
pub fn payload_name(ty: u8) -> &'static str {
    match ty {
        payload::SA => "Security Association",
        payload::PROPOSAL => "Proposal",
        payload::TRANSFORM => "Transform",
        payload::KE => "Key Exchange",
        payload::ID => "Identification",
        payload::CERT => "Certificate",
        payload::CERT_REQ => "Certificate Request",
        payload::HASH => "Hash",
        payload::SIG => "Signature",
        payload::NONCE => "Nonce",
        payload::N => "Notification",
        payload::D => "Delete",
        payload::VID => "Vendor ID",
        payload::NAT_D => "NAT-D (RFC 3947)",
        payload::NAT_OA => "NAT-OA (RFC 3947)",
        _ => "Unknown",
    }
}

/// The name of an exchange type as our outputs write it.
pub fn exchange_name(ex: u8) -> &'static str {
    match ex {
        exchange::MAIN_MODE => "MAIN_MODE",
        exchange::AGGRESSIVE => "AGGRESSIVE",
        exchange::INFORMATIONAL => "INFORMATIONAL_V1",
        exchange::QUICK_MODE => "QUICK_MODE",
        _ => "UNKNOWN_V1",
    }
}
