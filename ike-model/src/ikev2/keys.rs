//! IKE SA and CHILD_SA keys (RFC 7296 §2.13-2.18).

use std::cell::OnceCell;

use crate::crypto::{EncrAlg, IntegAlg, PrfAlg, stand_in};
use crate::ikev2::protect::{Protection, modeled_icv_seed};

/// The algorithms of an IKE SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IkeSuite {
    /// Encryption.
    pub encr: EncrAlg,
    /// Integrity.
    pub integ: IntegAlg,
    /// PRF.
    pub prf: PrfAlg,
}

/// The seven keys of an IKE SA (RFC 7296 §2.14), kept as prf+ produced them, one after the
/// other in one allocation: a concentrator holds 10^5 of these, and seven separate buffers
/// cost seven allocations per IKE SA and up to seven cache misses per message.
#[derive(Clone, PartialEq, Eq)]
pub struct IkeSaKeys {
    /// Algorithms.
    pub suite: IkeSuite,
    /// SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr.
    km: Box<[u8]>,
    /// Where each key ends in `km`.
    ends: [u16; 7],
    /// The stand-in ICV seeds of SK_ai and SK_ar (Modeled protection reads these, not the
    /// keys: one cache line fewer per message).
    icv_seeds: [u64; 2],
}

impl IkeSaKeys {
    /// The keys from their parts, in the order SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi,
    /// SK_pr (a key may be empty where a source does not give it, as in Wireshark's table).
    pub fn from_parts(suite: IkeSuite, parts: [&[u8]; 7]) -> Self {
        let mut km = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u16; 7];
        for (end, part) in ends.iter_mut().zip(parts) {
            km.extend_from_slice(part);
            *end = u16::try_from(km.len()).expect("IKE keys are short");
        }
        IkeSaKeys::new(suite, km.into_boxed_slice(), ends)
    }

    fn new(suite: IkeSuite, km: Box<[u8]>, ends: [u16; 7]) -> Self {
        let mut keys = IkeSaKeys {
            suite,
            km,
            ends,
            icv_seeds: [0; 2],
        };
        keys.icv_seeds = [
            modeled_icv_seed(keys.sk_ai()),
            modeled_icv_seed(keys.sk_ar()),
        ];
        keys
    }

    /// The stand-in ICV seed of the integrity key of messages from the initiator
    /// (`from_initiator`) or from the responder.
    pub(crate) fn icv_seed(&self, from_initiator: bool) -> u64 {
        self.icv_seeds[usize::from(!from_initiator)]
    }

    fn part(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.km[usize::from(start)..usize::from(self.ends[k])]
    }

    /// Key for deriving CHILD_SA keys and the next SKEYSEED.
    pub fn sk_d(&self) -> &[u8] {
        self.part(0)
    }
    /// Integrity key, initiator to responder.
    pub fn sk_ai(&self) -> &[u8] {
        self.part(1)
    }
    /// Integrity key, responder to initiator.
    pub fn sk_ar(&self) -> &[u8] {
        self.part(2)
    }
    /// Encryption key, initiator to responder.
    pub fn sk_ei(&self) -> &[u8] {
        self.part(3)
    }
    /// Encryption key, responder to initiator.
    pub fn sk_er(&self) -> &[u8] {
        self.part(4)
    }
    /// AUTH key of the initiator.
    pub fn sk_pi(&self) -> &[u8] {
        self.part(5)
    }
    /// AUTH key of the responder.
    pub fn sk_pr(&self) -> &[u8] {
        self.part(6)
    }
}

impl std::fmt::Debug for IkeSaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IkeSaKeys({:?})", self.suite)
    }
}

/// SKEYSEED = prf(Ni | Nr, g^ir) for a new IKE SA (§2.14; HMAC PRFs take the whole nonces).
pub fn skeyseed(prf: PrfAlg, ni: &[u8], nr: &[u8], g_ir: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(ni.len() + nr.len());
    key.extend_from_slice(ni);
    key.extend_from_slice(nr);
    prf.prf(&key, g_ir)
}

/// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) for a rekeyed IKE SA (§2.18).
pub fn skeyseed_rekey(prf: PrfAlg, old_sk_d: &[u8], g_ir: &[u8], ni: &[u8], nr: &[u8]) -> Vec<u8> {
    prf.prf_parts(old_sk_d, &[g_ir, ni, nr])
}

/// SKEYSEED as [`skeyseed`] gives it, or with `Modeled` protection stand-in bytes of the
/// PRF's length from the same inputs (no capture will be decrypted with these keys).
pub fn skeyseed_as(
    protection: Protection,
    prf: PrfAlg,
    ni: &[u8],
    nr: &[u8],
    g_ir: &[u8],
) -> Vec<u8> {
    match protection {
        Protection::Real => skeyseed(prf, ni, nr, g_ir),
        Protection::Modeled => stand_in::bytes(
            b"ikesim/modeled-skeyseed",
            &[ni, nr, g_ir],
            prf.output_len(),
        ),
    }
}

/// The rekeyed SKEYSEED as [`skeyseed_rekey`] gives it, or its stand-in (see
/// [`skeyseed_as`]).
pub fn skeyseed_rekey_as(
    protection: Protection,
    prf: PrfAlg,
    old_sk_d: &[u8],
    g_ir: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Vec<u8> {
    match protection {
        Protection::Real => skeyseed_rekey(prf, old_sk_d, g_ir, ni, nr),
        Protection::Modeled => stand_in::bytes(
            b"ikesim/modeled-skeyseed-rekey",
            &[old_sk_d, g_ir, ni, nr],
            prf.output_len(),
        ),
    }
}

/// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
pub fn derive_ike_keys(
    suite: IkeSuite,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> IkeSaKeys {
    derive_ike_keys_as(Protection::Real, suite, skeyseed, ni, nr, spi_i, spi_r)
}

/// The keys as [`derive_ike_keys`] gives them, or with `Modeled` protection stand-in bytes
/// of the same lengths from the same inputs instead of prf+.
pub fn derive_ike_keys_as(
    protection: Protection,
    suite: IkeSuite,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> IkeSaKeys {
    let p = suite.prf.output_len();
    let a = suite.integ.key_len();
    let e = suite.encr.key_len();
    let (spi_i, spi_r) = (spi_i.to_be_bytes(), spi_r.to_be_bytes());
    let n = 3 * p + 2 * a + 2 * e;
    let km = match protection {
        Protection::Real => {
            let mut seed = Vec::with_capacity(ni.len() + nr.len() + 16);
            for part in [ni, nr, &spi_i, &spi_r] {
                seed.extend_from_slice(part);
            }
            suite.prf.prf_plus(skeyseed, &seed, n)
        }
        Protection::Modeled => stand_in::bytes(
            b"ikesim/modeled-prf+",
            &[skeyseed, ni, nr, &spi_i, &spi_r],
            n,
        ),
    };
    let mut ends = [0u16; 7];
    let mut at = 0;
    for (end, n) in ends.iter_mut().zip([p, a, a, e, e, p, p]) {
        at += n;
        *end = u16::try_from(at).expect("IKE keys are short");
    }
    IkeSaKeys::new(suite, km.into_boxed_slice(), ends)
}

/// The four keys of a CHILD_SA (§2.17): KEYMAT in the order encryption then integrity,
/// initiator-to-responder first. KEYMAT is computed the first time a key is asked for:
/// a CHILD_SA that never carries traffic (a concentrator's day without traffic rekeys
/// 10^5 of them every hour) never pays for prf+, and every key is the one prf+ gives.
#[derive(Clone)]
pub struct ChildKeys {
    prf: PrfAlg,
    /// SK_d, then prf+'s seed: [g^ir (new) |] Ni | Nr.
    inputs: Box<[u8]>,
    sk_d_len: u8,
    km: OnceCell<Box<[u8]>>,
    encr_len: u8,
    integ_len: u8,
}

impl ChildKeys {
    /// KEYMAT, computed on first use.
    fn km(&self) -> &[u8] {
        self.km.get_or_init(|| {
            let (sk_d, seed) = self.inputs.split_at(usize::from(self.sk_d_len));
            let n = 2 * (usize::from(self.encr_len) + usize::from(self.integ_len));
            self.prf.prf_plus(sk_d, seed, n).into_boxed_slice()
        })
    }
    fn split(&self) -> (&[u8], &[u8], &[u8], &[u8]) {
        let (e, a) = (usize::from(self.encr_len), usize::from(self.integ_len));
        let (i, r) = self.km().split_at(e + a);
        (&i[..e], &i[e..], &r[..e], &r[e..])
    }
    /// Encryption key, initiator to responder.
    pub fn encr_i(&self) -> &[u8] {
        self.split().0
    }
    /// Integrity key, initiator to responder.
    pub fn integ_i(&self) -> &[u8] {
        self.split().1
    }
    /// Encryption key, responder to initiator.
    pub fn encr_r(&self) -> &[u8] {
        self.split().2
    }
    /// Integrity key, responder to initiator.
    pub fn integ_r(&self) -> &[u8] {
        self.split().3
    }
    /// Whether KEYMAT has been computed (a key was asked for).
    pub fn derived(&self) -> bool {
        self.km.get().is_some()
    }
}

impl PartialEq for ChildKeys {
    fn eq(&self, other: &Self) -> bool {
        self.km() == other.km() && self.encr_len == other.encr_len
    }
}

impl Eq for ChildKeys {}

impl std::fmt::Debug for ChildKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChildKeys(..)")
    }
}

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) split into the CHILD_SA's keys (computed
/// when a key is first asked for).
pub fn child_keys(
    prf: PrfAlg,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    encr_len: usize,
    integ_len: usize,
) -> ChildKeys {
    let g = g_ir.unwrap_or_default();
    let mut inputs = Vec::with_capacity(sk_d.len() + g.len() + ni.len() + nr.len());
    for part in [sk_d, g, ni, nr] {
        inputs.extend_from_slice(part);
    }
    ChildKeys {
        prf,
        inputs: inputs.into_boxed_slice(),
        sk_d_len: u8::try_from(sk_d.len()).expect("SK_d is a PRF key"),
        km: OnceCell::new(),
        encr_len: u8::try_from(encr_len).expect("ESP keys are short"),
        integ_len: u8::try_from(integ_len).expect("ESP keys are short"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_keys_are_computed_on_first_use_and_split_keymat_in_order() {
        let (sk_d, g, ni, nr) = ([7u8; 20], [1u8; 8], [2u8; 32], [3u8; 32]);
        let k = child_keys(PrfAlg::HmacSha1, &sk_d, Some(&g), &ni, &nr, 16, 20);
        assert!(!k.derived(), "nothing computed before a key is asked for");
        let seed: Vec<u8> = [&g[..], &ni, &nr].concat();
        let km = PrfAlg::HmacSha1.prf_plus(&sk_d, &seed, 72);
        assert_eq!(k.encr_i(), &km[..16]);
        assert!(k.derived());
        assert_eq!(k.integ_i(), &km[16..36]);
        assert_eq!(k.encr_r(), &km[36..52]);
        assert_eq!(k.integ_r(), &km[52..]);
        // Without g^ir (no PFS) the seed is Ni | Nr only.
        let plain = child_keys(PrfAlg::HmacSha1, &sk_d, None, &ni, &nr, 16, 20);
        let km = PrfAlg::HmacSha1.prf_plus(&sk_d, &[&ni[..], &nr].concat(), 72);
        assert_eq!(plain.integ_r(), &km[52..]);
        assert_ne!(plain, k);
        assert_eq!(plain.clone(), plain);
    }

    /// The stand-in ICV seeds an IKE SA keeps are those of its own SK_ai and SK_ar, in
    /// direction order, and a seed changes with any byte or the length of its key.
    #[test]
    fn icv_seeds_are_those_of_the_integrity_keys_in_direction_order() {
        let suite = IkeSuite {
            encr: EncrAlg::AesCbc { key_bits: 128 },
            integ: IntegAlg::HmacSha1_96,
            prf: PrfAlg::HmacSha1,
        };
        let k = derive_ike_keys(suite, &[9; 20], &[1; 32], &[2; 32], 3, 4);
        assert_eq!(k.icv_seed(true), modeled_icv_seed(k.sk_ai()));
        assert_eq!(k.icv_seed(false), modeled_icv_seed(k.sk_ar()));
        assert_ne!(k.icv_seed(true), k.icv_seed(false));
        let key = [0x5au8; 20];
        let base = modeled_icv_seed(&key);
        for i in 0..key.len() {
            let mut other = key;
            other[i] ^= 0x80;
            assert_ne!(modeled_icv_seed(&other), base, "byte {i}");
        }
        assert_ne!(modeled_icv_seed(&key[..19]), base, "length");
        assert_ne!(
            modeled_icv_seed(&[0; 8]),
            modeled_icv_seed(&[0; 9]),
            "zero padding"
        );
    }
}
