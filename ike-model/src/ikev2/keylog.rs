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
        hex(&keys.sk_ei),
        hex(&keys.sk_er),
        keys.suite.encr.wireshark_name(),
        hex(&keys.sk_ai),
        hex(&keys.sk_ar),
        keys.suite.integ.wireshark_name()
    )
}
