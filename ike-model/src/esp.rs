//! ESP packets (RFC 4303) with AES-CBC and HMAC integrity, as the data plane sends them:
//! SPI | sequence number | IV | encrypted (payload | padding 1, 2, 3... | pad length | next
//! header) | ICV. Real bytes, so Wireshark decrypts them with the `esp_sa` table a run writes;
//! or, for Modeled crypto runs whose packets nobody decrypts, the same layout and lengths
//! with the payload left in clear and a stand-in ICV ([`Protection::Modeled`], as for IKE):
//! AES-CBC and HMAC were about two thirds of a traffic run's time.

use crate::crypto::{CryptoError, EncrAlg, IntegAlg};
pub use crate::ikev2::protect::Protection;
use crate::ikev2::protect::{append_modeled_icv, modeled_icv_matches, modeled_icv_seed};

/// Key bytes, inline: up to 32 (AES-256, HMAC-SHA-256) without a heap allocation, so the
/// data plane can take an SA's keys for every packet without allocating.
pub type KeyBytes = smallvec::SmallVec<[u8; 32]>;

/// The keys of one direction of a CHILD_SA / IPsec SA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EspKeys {
    /// Encryption algorithm.
    pub encr: EncrAlg,
    /// Encryption key.
    pub encr_key: KeyBytes,
    /// Integrity algorithm.
    pub integ: IntegAlg,
    /// Integrity key.
    pub integ_key: KeyBytes,
}

/// Why an ESP packet was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EspError {
    /// Shorter than header, IV and ICV, or not a whole number of blocks.
    #[error("malformed ESP packet")]
    Malformed,
    /// The ICV did not verify.
    #[error("ESP integrity check failed")]
    Integrity,
    /// A crypto primitive refused its input.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// An opened ESP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// SPI.
    pub spi: u32,
    /// Sequence number.
    pub seq: u32,
    /// Next header (4 = IPv4).
    pub next_header: u8,
    /// The protected payload (an inner IP packet).
    pub payload: Vec<u8>,
}

/// The SPI of an ESP packet (its first four bytes).
pub fn spi_of(packet: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(packet.get(..4)?.try_into().ok()?))
}

/// Builds an ESP packet carrying `payload` with `iv` (one block).
pub fn seal(
    keys: &EspKeys,
    spi: u32,
    seq: u32,
    iv: &[u8],
    next_header: u8,
    payload: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    seal_as(Protection::Real, keys, spi, seq, iv, next_header, payload)
}

/// [`seal`], protected as `protection` says: `Modeled` gives a packet of the same length
/// whose payload is not encrypted and whose ICV is a stand-in.
pub fn seal_as(
    protection: Protection,
    keys: &EspKeys,
    spi: u32,
    seq: u32,
    iv: &[u8],
    next_header: u8,
    payload: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let block = keys.encr.block_len();
    let pad = (block - (payload.len() + 2) % block) % block;
    let mut plain = payload.to_vec();
    plain.extend(1..=pad as u8);
    plain.push(pad as u8);
    plain.push(next_header);
    let mut out = Vec::with_capacity(8 + iv.len() + plain.len() + keys.integ.icv_len());
    out.extend_from_slice(&spi.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(iv);
    match protection {
        Protection::Real => {
            out.extend(keys.encr.encrypt(&keys.encr_key, iv, &plain)?);
            let icv = keys.integ.icv(&keys.integ_key, &out);
            out.extend(icv);
        }
        Protection::Modeled => {
            out.extend_from_slice(&plain);
            append_modeled_icv(
                modeled_icv_seed(&keys.integ_key),
                &mut out,
                keys.integ.icv_len(),
            );
        }
    }
    Ok(out)
}

/// Verifies and decrypts an ESP packet.
pub fn open(keys: &EspKeys, packet: &[u8]) -> Result<Opened, EspError> {
    open_as(Protection::Real, keys, packet)
}

/// [`open`] for a packet protected as `protection` says.
pub fn open_as(protection: Protection, keys: &EspKeys, packet: &[u8]) -> Result<Opened, EspError> {
    let block = keys.encr.block_len();
    let icv_len = keys.integ.icv_len();
    if packet.len() < 8 + block + block + icv_len {
        return Err(EspError::Malformed);
    }
    let (data, icv) = packet.split_at(packet.len() - icv_len);
    match protection {
        Protection::Real => keys
            .integ
            .verify(&keys.integ_key, data, icv)
            .map_err(|_| EspError::Integrity)?,
        Protection::Modeled => {
            if !modeled_icv_matches(modeled_icv_seed(&keys.integ_key), data, icv) {
                return Err(EspError::Integrity);
            }
        }
    }
    let cipher = &data[8 + block..];
    if !cipher.len().is_multiple_of(block) {
        return Err(EspError::Malformed);
    }
    let plain: std::borrow::Cow<[u8]> = match protection {
        Protection::Real => keys
            .encr
            .decrypt(&keys.encr_key, &data[8..8 + block], cipher)?
            .into(),
        Protection::Modeled => cipher.into(),
    };
    let next_header = plain[plain.len() - 1];
    let pad = usize::from(plain[plain.len() - 2]);
    if pad + 2 > plain.len() {
        return Err(EspError::Malformed);
    }
    Ok(Opened {
        spi: u32::from_be_bytes(data[..4].try_into().expect("4 bytes")),
        seq: u32::from_be_bytes(data[4..8].try_into().expect("4 bytes")),
        next_header,
        payload: plain[..plain.len() - 2 - pad].to_vec(),
    })
}

/// A line of Wireshark's `esp_sa` table for one direction.
pub fn esp_sa_line(
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    spi: u32,
    keys: &EspKeys,
) -> String {
    let family = if src.is_ipv4() { "IPv4" } else { "IPv6" };
    let encr = match keys.encr {
        EncrAlg::AesCbc { .. } => "AES-CBC [RFC3602]",
    };
    let integ = match keys.integ {
        IntegAlg::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
        IntegAlg::HmacSha256_128 => "HMAC-SHA-256-128 [RFC4868]",
    };
    format!(
        "\"{family}\",\"{src}\",\"{dst}\",\"0x{spi:08x}\",\"{encr}\",\"0x{}\",\"{integ}\",\"0x{}\"",
        hex::encode(&keys.encr_key),
        hex::encode(&keys.integ_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> EspKeys {
        EspKeys {
            encr: EncrAlg::AesCbc { key_bits: 128 },
            encr_key: KeyBytes::from_slice(&[3; 16]),
            integ: IntegAlg::HmacSha1_96,
            integ_key: KeyBytes::from_slice(&[5; 20]),
        }
    }

    #[test]
    fn seal_and_open_round_trip_and_a_flipped_bit_is_refused() {
        for len in [0usize, 1, 13, 14, 100] {
            let payload: Vec<u8> = (0..len as u8).collect();
            let p = seal(&keys(), 0xc1234567, 7, &[9; 16], 4, &payload).unwrap();
            assert_eq!((p.len() - 8 - 16 - 12) % 16, 0);
            let o = open(&keys(), &p).unwrap();
            assert_eq!((o.spi, o.seq, o.next_header), (0xc1234567, 7, 4));
            assert_eq!(o.payload, payload);
            let mut bad = p.clone();
            bad[30] ^= 1;
            assert_eq!(open(&keys(), &bad), Err(EspError::Integrity));
        }
        assert_eq!(open(&keys(), &[0; 20]), Err(EspError::Malformed));
    }

    /// Modeled ESP has Real ESP's layout and length, round-trips, refuses a flipped bit or
    /// another key, and is not taken for Real ESP (nor the other way round).
    #[test]
    fn modeled_packets_have_real_lengths_and_still_check_integrity() {
        let m = Protection::Modeled;
        for len in [0usize, 1, 13, 14, 100, 1400] {
            let payload: Vec<u8> = (0..len).map(|k| k as u8).collect();
            let real = seal(&keys(), 0xc1234567, 7, &[9; 16], 4, &payload).unwrap();
            let p = seal_as(m, &keys(), 0xc1234567, 7, &[9; 16], 4, &payload).unwrap();
            assert_eq!(p.len(), real.len(), "{len}");
            assert_eq!(p[..24], real[..24], "SPI, sequence number and IV as Real");
            let o = open_as(m, &keys(), &p).unwrap();
            assert_eq!((o.spi, o.seq, o.next_header), (0xc1234567, 7, 4));
            assert_eq!(o.payload, payload);
            // Every byte, so each of the digest's lanes and its tail words are covered.
            for at in 0..p.len() {
                let mut bad = p.clone();
                bad[at] ^= 1;
                assert_eq!(open_as(m, &keys(), &bad), Err(EspError::Integrity), "{at}");
            }
            let mut other = keys();
            other.integ_key[0] ^= 1;
            assert_eq!(open_as(m, &other, &p), Err(EspError::Integrity));
            assert_eq!(open(&keys(), &p), Err(EspError::Integrity));
            assert_eq!(open_as(m, &keys(), &real), Err(EspError::Integrity));
        }
    }
}
