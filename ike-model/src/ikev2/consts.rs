//! IKEv2 registries (RFC 7296 §3 and the IANA "IKEv2 Parameters"): exchange types, payload
//! types, protocol IDs, transforms, notify types, ID and TS types, AUTH methods. Each is a
//! newtype over the wire value so unknown values survive a decode/encode round trip; `name()`
//! gives the IANA name of a known value.

/// Defines a wire-value newtype with named constants and a `name()` lookup.
macro_rules! registry {
    ($(#[$m:meta])* $ty:ident($int:ty) { $($(#[$cm:meta])* $c:ident = $v:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub $int);

        impl $ty {
            $($(#[$cm])* pub const $c: $ty = $ty($v);)+

            /// The IANA name, if the value is known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($c)),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({})", stringify!($ty), self.0),
                }
            }
        }
    };
}

registry! {
    /// Exchange type (RFC 7296 §3.1).
    ExchangeType(u8) {
        /// IKE_SA_INIT.
        IKE_SA_INIT = 34,
        /// IKE_AUTH.
        IKE_AUTH = 35,
        /// CREATE_CHILD_SA.
        CREATE_CHILD_SA = 36,
        /// INFORMATIONAL.
        INFORMATIONAL = 37,
    }
}

registry! {
    /// Payload type (RFC 7296 §3.2).
    PayloadType(u8) {
        /// No next payload.
        NONE = 0,
        /// Security Association.
        SA = 33,
        /// Key Exchange.
        KE = 34,
        /// Identification - Initiator.
        IDI = 35,
        /// Identification - Responder.
        IDR = 36,
        /// Certificate.
        CERT = 37,
        /// Certificate Request.
        CERTREQ = 38,
        /// Authentication.
        AUTH = 39,
        /// Nonce.
        NONCE = 40,
        /// Notify.
        N = 41,
        /// Delete.
        D = 42,
        /// Vendor ID.
        V = 43,
        /// Traffic Selector - Initiator.
        TSI = 44,
        /// Traffic Selector - Responder.
        TSR = 45,
        /// Encrypted and Authenticated.
        SK = 46,
        /// Configuration.
        CP = 47,
        /// Extensible Authentication.
        EAP = 48,
        /// Encrypted and Authenticated Fragment (RFC 7383).
        SKF = 53,
    }
}

registry! {
    /// Protocol ID in proposals, notifies and deletes (RFC 7296 §3.3.1).
    ProtocolId(u8) {
        /// IKE.
        IKE = 1,
        /// AH.
        AH = 2,
        /// ESP.
        ESP = 3,
    }
}

registry! {
    /// Transform type (RFC 7296 §3.3.2).
    TransformType(u8) {
        /// Encryption algorithm.
        ENCR = 1,
        /// Pseudorandom function.
        PRF = 2,
        /// Integrity algorithm.
        INTEG = 3,
        /// Diffie-Hellman group (Key Exchange Method).
        DH = 4,
        /// Extended sequence numbers.
        ESN = 5,
    }
}

/// Transform IDs by type (RFC 7296 §3.3.2, IANA).
pub mod transform {
    /// ENCR_AES_CBC (key length attribute 128/192/256).
    pub const ENCR_AES_CBC: u16 = 12;
    /// ENCR_3DES.
    pub const ENCR_3DES: u16 = 3;
    /// PRF_HMAC_SHA1.
    pub const PRF_HMAC_SHA1: u16 = 2;
    /// PRF_HMAC_SHA2_256.
    pub const PRF_HMAC_SHA2_256: u16 = 5;
    /// AUTH_HMAC_SHA1_96.
    pub const AUTH_HMAC_SHA1_96: u16 = 2;
    /// AUTH_HMAC_SHA2_256_128.
    pub const AUTH_HMAC_SHA2_256_128: u16 = 12;
    /// No extended sequence numbers.
    pub const ESN_NO: u16 = 0;
    /// Extended sequence numbers.
    pub const ESN_YES: u16 = 1;
    /// Transform attribute type: Key Length (TV).
    pub const ATTR_KEY_LENGTH: u16 = 14;

    /// A human name for a transform, as Wireshark shows it.
    pub fn name(ty: u8, id: u16) -> String {
        let known = match (ty, id) {
            (1, 12) => "ENCR_AES_CBC",
            (1, 3) => "ENCR_3DES",
            (1, 20) => "ENCR_AES_GCM_16",
            (2, 2) => "PRF_HMAC_SHA1",
            (2, 5) => "PRF_HMAC_SHA2_256",
            (2, 6) => "PRF_HMAC_SHA2_384",
            (3, 2) => "AUTH_HMAC_SHA1_96",
            (3, 12) => "AUTH_HMAC_SHA2_256_128",
            (4, 1) => "768 bit MODP group",
            (4, 2) => "1024 bit MODP group",
            (4, 5) => "1536 bit MODP group",
            (4, 14) => "2048 bit MODP group",
            (4, 15) => "3072 bit MODP group",
            (4, 16) => "4096 bit MODP group",
            (4, 19) => "256-bit random ECP group",
            (4, 31) => "Curve25519",
            (5, 0) => "No Extended Sequence Numbers",
            (5, 1) => "Extended Sequence Numbers",
            _ => return format!("transform {ty}/{id}"),
        };
        known.to_string()
    }
}

registry! {
    /// Notify message type (RFC 7296 §3.10.1 and IANA): errors below 16384, status above.
    NotifyType(u16) {
        /// UNSUPPORTED_CRITICAL_PAYLOAD.
        UNSUPPORTED_CRITICAL_PAYLOAD = 1,
        /// INVALID_IKE_SPI.
        INVALID_IKE_SPI = 4,
        /// INVALID_MAJOR_VERSION.
        INVALID_MAJOR_VERSION = 5,
        /// INVALID_SYNTAX.
        INVALID_SYNTAX = 7,
        /// INVALID_MESSAGE_ID.
        INVALID_MESSAGE_ID = 9,
        /// INVALID_SPI.
        INVALID_SPI = 11,
        /// NO_PROPOSAL_CHOSEN.
        NO_PROPOSAL_CHOSEN = 14,
        /// INVALID_KE_PAYLOAD.
        INVALID_KE_PAYLOAD = 17,
        /// AUTHENTICATION_FAILED.
        AUTHENTICATION_FAILED = 24,
        /// SINGLE_PAIR_REQUIRED.
        SINGLE_PAIR_REQUIRED = 34,
        /// NO_ADDITIONAL_SAS.
        NO_ADDITIONAL_SAS = 35,
        /// INTERNAL_ADDRESS_FAILURE.
        INTERNAL_ADDRESS_FAILURE = 36,
        /// FAILED_CP_REQUIRED.
        FAILED_CP_REQUIRED = 37,
        /// TS_UNACCEPTABLE.
        TS_UNACCEPTABLE = 38,
        /// INVALID_SELECTORS.
        INVALID_SELECTORS = 39,
        /// TEMPORARY_FAILURE.
        TEMPORARY_FAILURE = 43,
        /// CHILD_SA_NOT_FOUND.
        CHILD_SA_NOT_FOUND = 44,
        /// INITIAL_CONTACT.
        INITIAL_CONTACT = 16384,
        /// SET_WINDOW_SIZE.
        SET_WINDOW_SIZE = 16385,
        /// ADDITIONAL_TS_POSSIBLE.
        ADDITIONAL_TS_POSSIBLE = 16386,
        /// IPCOMP_SUPPORTED.
        IPCOMP_SUPPORTED = 16387,
        /// NAT_DETECTION_SOURCE_IP.
        NAT_DETECTION_SOURCE_IP = 16388,
        /// NAT_DETECTION_DESTINATION_IP.
        NAT_DETECTION_DESTINATION_IP = 16389,
        /// COOKIE.
        COOKIE = 16390,
        /// USE_TRANSPORT_MODE.
        USE_TRANSPORT_MODE = 16391,
        /// HTTP_CERT_LOOKUP_SUPPORTED.
        HTTP_CERT_LOOKUP_SUPPORTED = 16392,
        /// REKEY_SA.
        REKEY_SA = 16393,
        /// ESP_TFC_PADDING_NOT_SUPPORTED.
        ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
        /// NON_FIRST_FRAGMENTS_ALSO.
        NON_FIRST_FRAGMENTS_ALSO = 16395,
        /// MOBIKE_SUPPORTED.
        MOBIKE_SUPPORTED = 16396,
        /// ADDITIONAL_IP4_ADDRESS.
        ADDITIONAL_IP4_ADDRESS = 16397,
        /// NO_ADDITIONAL_ADDRESSES.
        NO_ADDITIONAL_ADDRESSES = 16399,
        /// REDIRECT_SUPPORTED.
        REDIRECT_SUPPORTED = 16406,
        /// MULTIPLE_AUTH_SUPPORTED.
        MULTIPLE_AUTH_SUPPORTED = 16404,
        /// EAP_ONLY_AUTHENTICATION.
        EAP_ONLY_AUTHENTICATION = 16417,
        /// IKEV2_MESSAGE_ID_SYNC_SUPPORTED.
        IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420,
        /// IKEV2_FRAGMENTATION_SUPPORTED.
        IKEV2_FRAGMENTATION_SUPPORTED = 16430,
        /// SIGNATURE_HASH_ALGORITHMS.
        SIGNATURE_HASH_ALGORITHMS = 16431,
        /// CHILDLESS_IKEV2_SUPPORTED.
        CHILDLESS_IKEV2_SUPPORTED = 16418,
    }
}

impl NotifyType {
    /// Whether this is an error notify (types below 16384, RFC 7296 §3.10.1).
    pub fn is_error(self) -> bool {
        self.0 < 16384
    }
}

registry! {
    /// Identification type (RFC 7296 §3.5).
    IdType(u8) {
        /// ID_IPV4_ADDR.
        ID_IPV4_ADDR = 1,
        /// ID_FQDN.
        ID_FQDN = 2,
        /// ID_RFC822_ADDR.
        ID_RFC822_ADDR = 3,
        /// ID_IPV6_ADDR.
        ID_IPV6_ADDR = 5,
        /// ID_DER_ASN1_DN.
        ID_DER_ASN1_DN = 9,
        /// ID_KEY_ID.
        ID_KEY_ID = 11,
    }
}

registry! {
    /// Authentication method (RFC 7296 §3.8).
    AuthMethod(u8) {
        /// RSA Digital Signature.
        RSA_SIG = 1,
        /// Shared Key Message Integrity Code.
        PSK = 2,
        /// DSS Digital Signature.
        DSS_SIG = 3,
        /// Digital Signature (RFC 7427).
        DIGITAL_SIGNATURE = 14,
    }
}

registry! {
    /// Traffic selector type (RFC 7296 §3.13.1).
    TsType(u8) {
        /// TS_IPV4_ADDR_RANGE.
        TS_IPV4_ADDR_RANGE = 7,
        /// TS_IPV6_ADDR_RANGE.
        TS_IPV6_ADDR_RANGE = 8,
    }
}
