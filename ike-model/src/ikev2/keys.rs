//! IKE SA and CHILD_SA keys (RFC 7296 §2.13-2.18).

use crate::crypto::{EncrAlg, IntegAlg, PrfAlg};

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

/// The seven keys of an IKE SA (RFC 7296 §2.14).
#[derive(Clone, PartialEq, Eq)]
pub struct IkeSaKeys {
    /// Algorithms.
    pub suite: IkeSuite,
    /// Key for deriving CHILD_SA keys and the next SKEYSEED.
    pub sk_d: Vec<u8>,
    /// Integrity key, initiator to responder.
    pub sk_ai: Vec<u8>,
    /// Integrity key, responder to initiator.
    pub sk_ar: Vec<u8>,
    /// Encryption key, initiator to responder.
    pub sk_ei: Vec<u8>,
    /// Encryption key, responder to initiator.
    pub sk_er: Vec<u8>,
    /// AUTH key of the initiator.
    pub sk_pi: Vec<u8>,
    /// AUTH key of the responder.
    pub sk_pr: Vec<u8>,
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

/// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
pub fn derive_ike_keys(
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
    let mut seed = Vec::with_capacity(ni.len() + nr.len() + 16);
    seed.extend_from_slice(ni);
    seed.extend_from_slice(nr);
    seed.extend_from_slice(&spi_i.to_be_bytes());
    seed.extend_from_slice(&spi_r.to_be_bytes());
    let km = suite.prf.prf_plus(skeyseed, &seed, 3 * p + 2 * a + 2 * e);
    let mut at = 0;
    let mut take = |n: usize| {
        let k = km[at..at + n].to_vec();
        at += n;
        k
    };
    IkeSaKeys {
        suite,
        sk_d: take(p),
        sk_ai: take(a),
        sk_ar: take(a),
        sk_ei: take(e),
        sk_er: take(e),
        sk_pi: take(p),
        sk_pr: take(p),
    }
}

/// The four keys of a CHILD_SA (§2.17): taken from KEYMAT in the order encryption then
/// integrity, initiator-to-responder first.
#[derive(Clone, PartialEq, Eq)]
pub struct ChildKeys {
    /// Encryption key, initiator to responder.
    pub encr_i: Vec<u8>,
    /// Integrity key, initiator to responder.
    pub integ_i: Vec<u8>,
    /// Encryption key, responder to initiator.
    pub encr_r: Vec<u8>,
    /// Integrity key, responder to initiator.
    pub integ_r: Vec<u8>,
}

impl std::fmt::Debug for ChildKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChildKeys(..)")
    }
}

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) split into the CHILD_SA's keys.
pub fn child_keys(
    prf: PrfAlg,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    encr_len: usize,
    integ_len: usize,
) -> ChildKeys {
    let mut seed = Vec::new();
    if let Some(g) = g_ir {
        seed.extend_from_slice(g);
    }
    seed.extend_from_slice(ni);
    seed.extend_from_slice(nr);
    let km = prf.prf_plus(sk_d, &seed, 2 * (encr_len + integ_len));
    let (i, r) = km.split_at(encr_len + integ_len);
    ChildKeys {
        encr_i: i[..encr_len].to_vec(),
        integ_i: i[encr_len..].to_vec(),
        encr_r: r[..encr_len].to_vec(),
        integ_r: r[encr_len..].to_vec(),
    }
}
