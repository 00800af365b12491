//! Wireshark's `ikev2_decryption_table`: one line per IKE SA so a capture opens decrypted.
//! For a rekeyed IKE SA the line carries the new SA's SPIs with the new SA's keys.

use super::keys::IkeSaKeys;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `SPIi,SPIr,SK_ei,SK_er,"<encr>",SK_ai,SK_ar,"<integ>"` in bare lowercase hex.
pub fn decryption_table_line(spi_i: u64, spi_r: u64, keys: &IkeSaKeys) -> String {
    format!(
        "{:016x},{:016x},{},{},\"{}\",{},{},\"{}\"",
        spi_i,
        spi_r,
        hex(keys.sk_ei()),
        hex(keys.sk_er()),
        keys.suite.encr.wireshark_name(),
        hex(keys.sk_ai()),
        hex(keys.sk_ar()),
        keys.suite.integ.wireshark_name()
    )
}

/// Why a decryption-table line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad ikev2_decryption_table line: {0}")]
pub struct KeylogError(pub String);

/// Reads one `ikev2_decryption_table` line back into (SPIi, SPIr, keys). Only the
/// protection keys are in the table: `sk_d`, `sk_pi` and `sk_pr` come back empty and the PRF
/// is set to HMAC-SHA1; the result serves `protect::open`, nothing else.
pub fn parse_decryption_table_line(line: &str) -> Result<(u64, u64, IkeSaKeys), KeylogError> {
    use crate::crypto::{EncrAlg, IntegAlg, PrfAlg};
    let bad = |why: &str| KeylogError(format!("{why}: {line}"));
    let f: Vec<&str> = line
        .trim()
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .collect();
    if f.len() != 8 {
        return Err(bad("expected 8 comma-separated fields"));
    }
    let spi = |s: &str| u64::from_str_radix(s, 16).map_err(|_| bad("SPI is not 16 hex digits"));
    let key = |s: &str| hex::decode(s).map_err(|_| bad("key is not hex"));
    let encr = match f[4] {
        "AES-CBC-128 [RFC3602]" => EncrAlg::AesCbc { key_bits: 128 },
        "AES-CBC-192 [RFC3602]" => EncrAlg::AesCbc { key_bits: 192 },
        "AES-CBC-256 [RFC3602]" => EncrAlg::AesCbc { key_bits: 256 },
        _ => return Err(bad("unsupported encryption algorithm")),
    };
    let integ = match f[7] {
        "HMAC_SHA1_96 [RFC2404]" => IntegAlg::HmacSha1_96,
        "HMAC_SHA2_256_128 [RFC4868]" => IntegAlg::HmacSha256_128,
        _ => return Err(bad("unsupported integrity algorithm")),
    };
    let (sk_ai, sk_ar, sk_ei, sk_er) = (key(f[5])?, key(f[6])?, key(f[2])?, key(f[3])?);
    if [&sk_ei, &sk_er].iter().any(|k| k.len() != encr.key_len())
        || [&sk_ai, &sk_ar].iter().any(|k| k.len() != integ.key_len())
    {
        return Err(bad("key length does not match the algorithm"));
    }
    let keys = IkeSaKeys::from_parts(
        super::keys::IkeSuite {
            encr,
            integ,
            prf: PrfAlg::HmacSha1,
        },
        [&[], &sk_ai, &sk_ar, &sk_ei, &sk_er, &[], &[]],
    );
    Ok((spi(f[0])?, spi(f[1])?, keys))
}
