//! IKEv1 keys, IVs and hashes (RFC 2409 §5, §5.5, Appendix B) for pre-shared keys:
//! SKEYID = prf(pre-shared-key, Ni_b | Nr_b); SKEYID_d, _a, _e chained from it; the
//! encryption key expanded from SKEYID_e when it is too short; the Phase 1 IV from the
//! hash of both DH public values, Phase 2 and Informational IVs from the last Phase 1
//! ciphertext block and the message ID, and CBC chaining from message to message.
//!
//! With `Modeled` protection (DESIGN.md's Modeled crypto) the PRF, the hash and the cipher
//! are stand-ins of the same lengths ([`Prf1`], [`encrypt_as`], [`decrypt_as`]): SHA-1 was
//! half of the instructions of an IKEv1 bench day with only DH modeled.

use sha1::{Digest, Sha1};

use crate::crypto::{CryptoError, EncrAlg, PrfAlg, stand_in};
use crate::ikev2::protect::Protection;

/// The PRF and hash that an IKEv1 SA computes its keys, IVs and HASH payloads with: the
/// real ones, or with `Modeled` protection stand-in bytes of the same lengths from the same
/// input bytes (both ends agree, and a wrong PSK or a changed payload still gives another
/// value). A bare [`PrfAlg`] converts to its real computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prf1 {
    /// The negotiated PRF; its hash is the negotiated hash.
    pub alg: PrfAlg,
    /// Real or Modeled.
    pub protection: Protection,
}

impl From<PrfAlg> for Prf1 {
    fn from(alg: PrfAlg) -> Self {
        Prf1 {
            alg,
            protection: Protection::Real,
        }
    }
}

impl Prf1 {
    /// prf(key, the parts concatenated).
    pub fn prf_parts(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self.protection {
            Protection::Real => self.alg.prf_parts(key, parts),
            // Over the concatenation, as the real PRF: how a caller splits its input into
            // parts must not matter.
            Protection::Modeled => stand_in::bytes_joined(
                b"ikesim/modeled-ikev1-prf",
                &[key],
                parts,
                self.alg.output_len(),
            ),
        }
    }

    /// prf(key, data).
    pub fn prf(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        self.prf_parts(key, &[data])
    }

    /// The negotiated hash over the parts concatenated (SHA-1 with HMAC-SHA1, SHA-256
    /// with HMAC-SHA256).
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        match (self.protection, self.alg) {
            (Protection::Modeled, alg) => {
                stand_in::bytes_joined(b"ikesim/modeled-ikev1-hash", &[], parts, alg.output_len())
            }
            (Protection::Real, PrfAlg::HmacSha1) => {
                let mut h = Sha1::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
            (Protection::Real, PrfAlg::HmacSha256) => {
                let mut h = sha2::Sha256::new();
                for p in parts {
                    sha2::Digest::update(&mut h, p);
                }
                h.finalize().to_vec()
            }
        }
    }
}

/// SKEYID for pre-shared key authentication.
pub fn skeyid_psk(prf: impl Into<Prf1>, psk: &[u8], ni_b: &[u8], nr_b: &[u8]) -> Vec<u8> {
    let prf = prf.into();
    prf.prf_parts(psk, &[ni_b, nr_b])
}

/// A Phase 1 key: a PRF output (20 or 32 bytes) or an AES key, kept inline.
pub type KeyBytes = smallvec::SmallVec<[u8; 32]>;

/// The Phase 1 keying material. Inline (no allocation): every Quick Mode and Informational
/// message copies SKEYID_a out of it (copying five vectors was 2 % of the IKEv1 bench, and
/// sharing them behind one allocation per ISAKMP SA cost 4 MB at 10^4 tunnels).
#[derive(PartialEq, Eq)]
pub struct Phase1Keys {
    /// SKEYID.
    pub skeyid: KeyBytes,
    /// SKEYID_d: keying material for Phase 2 SAs.
    pub skeyid_d: KeyBytes,
    /// SKEYID_a: authenticates ISAKMP messages (the HASH payloads of Phase 2).
    pub skeyid_a: KeyBytes,
    /// SKEYID_e: the source of the encryption key.
    pub skeyid_e: KeyBytes,
    /// The encryption key Ka.
    pub ka: KeyBytes,
}

// By hand: SmallVec's derived clone copies byte by byte; `from_slice` copies at once.
impl Clone for Phase1Keys {
    fn clone(&self) -> Self {
        Phase1Keys {
            skeyid: KeyBytes::from_slice(&self.skeyid),
            skeyid_d: KeyBytes::from_slice(&self.skeyid_d),
            skeyid_a: KeyBytes::from_slice(&self.skeyid_a),
            skeyid_e: KeyBytes::from_slice(&self.skeyid_e),
            ka: KeyBytes::from_slice(&self.ka),
        }
    }
}

impl std::fmt::Debug for Phase1Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phase1Keys(..)")
    }
}

/// Derives SKEYID_d, _a, _e and Ka (RFC 2409 §5, Appendix B).
pub fn derive_phase1(
    prf: impl Into<Prf1>,
    encr: EncrAlg,
    skeyid: Vec<u8>,
    gxy: &[u8],
    icookie: u64,
    rcookie: u64,
) -> Phase1Keys {
    let prf = prf.into();
    let (ci, cr) = (icookie.to_be_bytes(), rcookie.to_be_bytes());
    let d = prf.prf_parts(&skeyid, &[gxy, &ci, &cr, &[0]]);
    let a = prf.prf_parts(&skeyid, &[&d, gxy, &ci, &cr, &[1]]);
    let e = prf.prf_parts(&skeyid, &[&a, gxy, &ci, &cr, &[2]]);
    let ka = expand_key(prf, &e, encr.key_len());
    Phase1Keys {
        skeyid: KeyBytes::from_slice(&skeyid),
        skeyid_d: KeyBytes::from_slice(&d),
        skeyid_a: KeyBytes::from_slice(&a),
        skeyid_e: KeyBytes::from_slice(&e),
        ka: KeyBytes::from_slice(&ka),
    }
}

/// Ka from SKEYID_e: its first bytes, or K1 | K2 | ... with K1 = prf(SKEYID_e, 0) and
/// Kn = prf(SKEYID_e, Kn-1) when it is too short (RFC 2409 Appendix B).
pub fn expand_key(prf: impl Into<Prf1>, skeyid_e: &[u8], len: usize) -> Vec<u8> {
    let prf = prf.into();
    if skeyid_e.len() >= len {
        return skeyid_e[..len].to_vec();
    }
    let mut out = Vec::new();
    let mut k = prf.prf(skeyid_e, &[0]);
    while out.len() < len {
        out.extend_from_slice(&k);
        k = prf.prf(skeyid_e, &k);
    }
    out.truncate(len);
    out
}

/// The negotiated hash over `parts` (see [`Prf1::hash`]).
pub fn hash(prf: impl Into<Prf1>, parts: &[&[u8]]) -> Vec<u8> {
    prf.into().hash(parts)
}

/// The Phase 1 IV: hash(g^xi | g^xr), cut to the cipher's block.
pub fn phase1_iv(prf: impl Into<Prf1>, encr: EncrAlg, gxi: &[u8], gxr: &[u8]) -> Vec<u8> {
    hash(prf, &[gxi, gxr])[..encr.block_len()].to_vec()
}

/// The first IV of a Phase 2 or Informational exchange: hash(last Phase 1 ciphertext block
/// | message ID), cut to the block.
pub fn phase2_iv(
    prf: impl Into<Prf1>,
    encr: EncrAlg,
    last_phase1_block: &[u8],
    message_id: u32,
) -> Vec<u8> {
    hash(prf, &[last_phase1_block, &message_id.to_be_bytes()])[..encr.block_len()].to_vec()
}

/// Decrypts an encrypted body; returns the plaintext (with its padding) and the IV for the
/// next message of the exchange (the last ciphertext block).
pub fn decrypt(
    encr: EncrAlg,
    ka: &[u8],
    iv: &[u8],
    body: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    decrypt_as(Protection::Real, encr, ka, iv, body)
}

/// Pads `plain` with zeros to the block, adding a whole block when it is already aligned
/// (as strongSwan does), and encrypts it; returns the ciphertext and the next IV.
pub fn encrypt(
    encr: EncrAlg,
    ka: &[u8],
    iv: &[u8],
    plain: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    encrypt_as(Protection::Real, encr, ka, iv, plain)
}

/// [`decrypt`], or with `Modeled` protection the identity cipher: the body is the padded
/// plaintext, and the next IV is its last block, as CBC's would be.
pub fn decrypt_as(
    protection: Protection,
    encr: EncrAlg,
    ka: &[u8],
    iv: &[u8],
    body: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let block = encr.block_len();
    if body.is_empty() || !body.len().is_multiple_of(block) {
        return Err(CryptoError::Length {
            what: "IKEv1 encrypted body",
            len: body.len(),
        });
    }
    let plain = match protection {
        Protection::Real => encr.decrypt(ka, iv, body)?,
        Protection::Modeled => body.to_vec(),
    };
    Ok((plain, body[body.len() - block..].to_vec()))
}

/// [`encrypt`], or with `Modeled` protection the identity cipher over the same padding.
pub fn encrypt_as(
    protection: Protection,
    encr: EncrAlg,
    ka: &[u8],
    iv: &[u8],
    plain: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let block = encr.block_len();
    let mut p = plain.to_vec();
    let pad = block - p.len() % block;
    p.extend(std::iter::repeat_n(0u8, pad));
    let c = match protection {
        Protection::Real => encr.encrypt(ka, iv, &p)?,
        Protection::Modeled => p,
    };
    let next = c[c.len() - block..].to_vec();
    Ok((c, next))
}

/// HASH_I (or HASH_R with the arguments swapped as RFC 2409 §5 says):
/// prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
#[allow(clippy::too_many_arguments)]
pub fn phase1_hash(
    prf: impl Into<Prf1>,
    skeyid: &[u8],
    gx_own: &[u8],
    gx_peer: &[u8],
    cky_own: u64,
    cky_peer: u64,
    sai_b: &[u8],
    id_b: &[u8],
) -> Vec<u8> {
    let prf = prf.into();
    prf.prf_parts(
        skeyid,
        &[
            gx_own,
            gx_peer,
            &cky_own.to_be_bytes(),
            &cky_peer.to_be_bytes(),
            sai_b,
            id_b,
        ],
    )
}

/// HASH(1) of Quick Mode and of Informational exchanges: prf(SKEYID_a, M-ID | the
/// payloads after HASH, with their generic headers).
pub fn hash1(prf: impl Into<Prf1>, skeyid_a: &[u8], message_id: u32, rest: &[u8]) -> Vec<u8> {
    let prf = prf.into();
    prf.prf_parts(skeyid_a, &[&message_id.to_be_bytes(), rest])
}

/// HASH(2) of Quick Mode: prf(SKEYID_a, M-ID | Ni_b | the payloads after HASH).
pub fn hash2(
    prf: impl Into<Prf1>,
    skeyid_a: &[u8],
    message_id: u32,
    ni_b: &[u8],
    rest: &[u8],
) -> Vec<u8> {
    let prf = prf.into();
    prf.prf_parts(skeyid_a, &[&message_id.to_be_bytes(), ni_b, rest])
}

/// HASH(3) of Quick Mode: prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
pub fn hash3(
    prf: impl Into<Prf1>,
    skeyid_a: &[u8],
    message_id: u32,
    ni_b: &[u8],
    nr_b: &[u8],
) -> Vec<u8> {
    let prf = prf.into();
    prf.prf_parts(skeyid_a, &[&[0], &message_id.to_be_bytes(), ni_b, nr_b])
}

/// Quick Mode KEYMAT for one direction's SPI: prf+(SKEYID_d, [g(qm)^xy |] protocol | SPI |
/// Ni_b | Nr_b) with IKEv1's chaining (K1 = prf(SKEYID_d, seed), Kn = prf(SKEYID_d, Kn-1 |
/// seed)), `len` bytes (RFC 2409 §5.5).
#[allow(clippy::too_many_arguments)]
pub fn keymat(
    prf: impl Into<Prf1>,
    skeyid_d: &[u8],
    gxy_qm: Option<&[u8]>,
    protocol: u8,
    spi: u32,
    ni_b: &[u8],
    nr_b: &[u8],
    len: usize,
) -> Vec<u8> {
    let prf = prf.into();
    let mut seed = Vec::with_capacity(gxy_qm.map_or(0, <[u8]>::len) + 5 + ni_b.len() + nr_b.len());
    if let Some(g) = gxy_qm {
        seed.extend_from_slice(g);
    }
    seed.push(protocol);
    seed.extend_from_slice(&spi.to_be_bytes());
    seed.extend_from_slice(ni_b);
    seed.extend_from_slice(nr_b);
    // Whole PRF outputs, as the loop appends them: the IPsec SA keeps this vector.
    let mut out = Vec::with_capacity(len.div_ceil(prf.alg.output_len()) * prf.alg.output_len());
    let mut k: Vec<u8> = Vec::new();
    while out.len() < len {
        k = prf.prf_parts(skeyid_d, &[&k, &seed]);
        out.extend_from_slice(&k);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_skeyid_e_is_expanded_by_chaining_the_prf() {
        let e = [7u8; 20];
        let ka = expand_key(PrfAlg::HmacSha1, &e, 32);
        let k1 = PrfAlg::HmacSha1.prf(&e, &[0]);
        let k2 = PrfAlg::HmacSha1.prf(&e, &k1);
        assert_eq!(&ka[..20], &k1[..]);
        assert_eq!(&ka[20..], &k2[..12]);
        assert_eq!(expand_key(PrfAlg::HmacSha1, &e, 16), e[..16].to_vec());
    }

    #[test]
    fn encryption_pads_with_zeros_adding_a_block_when_aligned_and_chains_the_iv() {
        let encr = EncrAlg::AesCbc { key_bits: 128 };
        let (key, iv) = ([1u8; 16], [2u8; 16]);
        for len in [1usize, 15, 16, 17, 32] {
            let plain = vec![0xabu8; len];
            let (c, next) = encrypt(encr, &key, &iv, &plain).unwrap();
            assert_eq!(c.len(), (len / 16 + 1) * 16, "{len}");
            assert_eq!(next, c[c.len() - 16..].to_vec());
            let (p, next2) = decrypt(encr, &key, &iv, &c).unwrap();
            assert_eq!(&p[..len], &plain[..]);
            assert!(p[len..].iter().all(|b| *b == 0));
            assert_eq!(next, next2);
        }
        assert!(decrypt(encr, &key, &iv, &[0u8; 15]).is_err());
    }

    /// Modeled values depend on the bytes, not on how a caller splits them into parts, as
    /// the real PRF and hash do; and the Modeled cipher pads and chains as CBC does.
    #[test]
    fn modeled_stand_ins_ignore_the_split_and_keep_the_lengths() {
        let m = Prf1 {
            alg: PrfAlg::HmacSha1,
            protection: Protection::Modeled,
        };
        assert_eq!(
            m.prf_parts(b"k", &[b"ab", b"c"]),
            m.prf_parts(b"k", &[b"abc"])
        );
        assert_eq!(m.hash(&[b"a", b"bc"]), m.hash(&[b"abc"]));
        assert_ne!(m.hash(&[b"abc"]), m.hash(&[b"abd"]));
        assert_ne!(m.prf(b"k", b"abc"), m.prf(b"l", b"abc"));
        assert_eq!(m.prf(b"k", b"abc").len(), 20);
        assert_ne!(m.prf(b"k", b"abc"), PrfAlg::HmacSha1.prf(b"k", b"abc"));
        let encr = EncrAlg::AesCbc { key_bits: 128 };
        let (key, iv) = ([1u8; 16], [2u8; 16]);
        for len in [1usize, 16, 17] {
            let plain = vec![0xabu8; len];
            let real = encrypt(encr, &key, &iv, &plain).unwrap();
            let (c, next) = encrypt_as(Protection::Modeled, encr, &key, &iv, &plain).unwrap();
            assert_eq!(c.len(), real.0.len(), "{len}");
            assert_eq!(&c[..len], &plain[..]);
            assert_eq!(next, c[c.len() - 16..].to_vec());
            let (p, next2) = decrypt_as(Protection::Modeled, encr, &key, &iv, &c).unwrap();
            assert_eq!((p, next2), (c.clone(), next));
        }
        assert!(decrypt_as(Protection::Modeled, encr, &key, &iv, &[0u8; 15]).is_err());
    }
}
