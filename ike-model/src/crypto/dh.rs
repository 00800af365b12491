//! MODP Diffie-Hellman groups 1, 2, 5 (RFC 2409 §6, RFC 3526 §2) and 14, 15 (RFC 3526 §3-4).
//!
//! Each prime is p = 2^n - 2^(n-64) - 1 + 2^64 x (floor(2^(n-130) x pi) + k). We compute it
//! from that formula (pi by Machin's series) rather than pasting 3 KB of hex, and the tests
//! check the result against the RFC's published words and for (safe) primality.

use std::sync::OnceLock;

use num_bigint::BigUint;
use rand::Rng;

use super::CryptoError;

/// A MODP group, by its IANA transform ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DhGroup {
    /// Group 1, 768-bit MODP.
    Modp768 = 1,
    /// Group 2, 1024-bit MODP.
    Modp1024 = 2,
    /// Group 5, 1536-bit MODP.
    Modp1536 = 5,
    /// Group 14, 2048-bit MODP.
    Modp2048 = 14,
    /// Group 15, 3072-bit MODP.
    Modp3072 = 15,
}

impl DhGroup {
    /// Every supported group.
    pub const ALL: [DhGroup; 5] = [
        DhGroup::Modp768,
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
    ];

    /// The group with IANA transform ID `id`.
    pub fn from_id(id: u16) -> Option<DhGroup> {
        Self::ALL.into_iter().find(|g| *g as u16 == id)
    }

    /// The IANA transform ID.
    pub fn id(self) -> u16 {
        self as u16
    }

    /// Bits of the prime.
    pub fn bits(self) -> u32 {
        match self {
            DhGroup::Modp768 => 768,
            DhGroup::Modp1024 => 1024,
            DhGroup::Modp1536 => 1536,
            DhGroup::Modp2048 => 2048,
            DhGroup::Modp3072 => 3072,
        }
    }

    /// Bytes of a public value or shared secret (the KE payload's data length).
    pub fn value_len(self) -> usize {
        self.bits() as usize / 8
    }

    /// The RFC's additive constant k.
    fn k(self) -> u64 {
        match self {
            DhGroup::Modp768 => 149_686,
            DhGroup::Modp1024 => 129_093,
            DhGroup::Modp1536 => 741_804,
            DhGroup::Modp2048 => 124_476,
            DhGroup::Modp3072 => 1_690_314,
        }
    }

    /// p - 1 as big-endian bytes of the group's length (the bound of a public value).
    fn prime_minus_one_be(self) -> &'static [u8] {
        static BOUNDS: [OnceLock<Vec<u8>>; 5] = [const { OnceLock::new() }; 5];
        let i = Self::ALL.iter().position(|g| *g == self).expect("listed");
        BOUNDS[i].get_or_init(|| pad_to((self.prime() - 1u32).to_bytes_be(), self.value_len()))
    }

    /// The prime modulus.
    pub fn prime(self) -> &'static BigUint {
        static PRIMES: [OnceLock<BigUint>; 5] = [const { OnceLock::new() }; 5];
        let i = Self::ALL.iter().position(|g| *g == self).expect("listed");
        PRIMES[i].get_or_init(|| {
            let n = self.bits();
            let one = BigUint::from(1u32);
            let pi_part = pi_scaled(n - 130);
            (&one << n) - (&one << (n - 64)) - &one + ((pi_part + self.k()) << 64u32)
        })
    }
}

/// floor(pi x 2^bits), by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239) in fixed point
/// with 64 guard bits.
fn pi_scaled(bits: u32) -> BigUint {
    let guard = 64;
    let one = BigUint::from(1u32) << (bits + guard);
    // atan(1/x) = sum_k (-1)^k / ((2k+1) x^(2k+1))
    let atan_inv = |x: u32| -> (BigUint, BigUint) {
        let (mut pos, mut neg) = (BigUint::from(0u32), BigUint::from(0u32));
        let x2 = BigUint::from(x * x);
        let mut power = &one / x; // 1 / x^(2k+1), scaled
        let mut k = 0u32;
        while power > BigUint::from(0u32) {
            let term = &power / (2 * k + 1);
            if k.is_multiple_of(2) {
                pos += term;
            } else {
                neg += term;
            }
            power /= &x2;
            k += 1;
        }
        (pos, neg)
    };
    let (p5, n5) = atan_inv(5);
    let (p239, n239) = atan_inv(239);
    let pi = (p5 * 16u32 + n239 * 4u32) - (n5 * 16u32 + p239 * 4u32);
    pi >> guard
}

/// A private Diffie-Hellman value and its public value.
#[derive(Clone)]
pub struct DhPrivate {
    group: DhGroup,
    x: BigUint,
    public: Vec<u8>,
    /// `Modeled` crypto: the public value is stand-in bytes and the "shared secret" a hash
    /// of both public values, so no modular exponentiation runs (DESIGN.md's two modes).
    modeled: bool,
}

impl std::fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhPrivate({:?})", self.group)
    }
}

thread_local! {
    /// Modular exponentiations done (or, in Modeled mode, stood in for) on this thread, by
    /// group: what a CPU model charges. A run lives on one thread, so the count is exact.
    static DH_OPS: std::cell::RefCell<[u64; 16]> = const { std::cell::RefCell::new([0; 16]) };
}

fn slot(group: DhGroup) -> usize {
    DhGroup::ALL.iter().position(|g| *g == group).unwrap_or(15)
}

fn count_op(group: DhGroup) {
    DH_OPS.with(|c| c.borrow_mut()[slot(group)] += 1);
}

/// Diffie-Hellman operations (key generations and shared secrets) this thread has done so
/// far, per group.
pub fn dh_ops() -> Vec<(DhGroup, u64)> {
    DH_OPS.with(|c| {
        let c = c.borrow();
        DhGroup::ALL.iter().map(|g| (*g, c[slot(*g)])).collect()
    })
}

/// Left-pads `v` to `len` bytes.
fn pad_to(v: Vec<u8>, len: usize) -> Vec<u8> {
    if v.len() >= len {
        return v;
    }
    let mut out = vec![0u8; len - v.len()];
    out.extend_from_slice(&v);
    out
}

impl DhPrivate {
    /// Draws a private exponent of `exponent_bits` bits (`None`: as many as the prime, which
    /// is strongSwan's default with `dh_exponent_ansi_x9_42 = yes`) and computes g^x mod p.
    pub fn generate<R: Rng + ?Sized>(
        group: DhGroup,
        exponent_bits: Option<u32>,
        rng: &mut R,
    ) -> Self {
        let p = group.prime();
        let bits = exponent_bits
            .unwrap_or(group.bits())
            .clamp(16, group.bits());
        let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
        rng.fill_bytes(&mut bytes);
        let extra = bytes.len() as u32 * 8 - bits;
        bytes[0] &= 0xff >> extra;
        // Keep 1 < x < p - 1.
        let two = BigUint::from(2u32);
        let x = BigUint::from_bytes_be(&bytes) % (p - 3u32) + two;
        Self::from_exponent(group, x)
    }

    /// Like [`DhPrivate::generate`], or with `modeled` its stand-in: the same random
    /// draws (so a run's other random numbers do not change), a public value of the right
    /// length made by hashing the exponent, and no modular exponentiation.
    pub fn generate_with<R: Rng + ?Sized>(
        group: DhGroup,
        exponent_bits: Option<u32>,
        modeled: bool,
        rng: &mut R,
    ) -> Self {
        count_op(group);
        if !modeled {
            return Self::generate(group, exponent_bits, rng);
        }
        let bits = exponent_bits
            .unwrap_or(group.bits())
            .clamp(16, group.bits());
        let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
        rng.fill_bytes(&mut bytes);
        let mut public = super::stand_in::bytes(
            b"ikesim/modeled-dh/public",
            &[&group.id().to_be_bytes(), &bytes],
            group.value_len(),
        );
        // Below p - 1 and above 1, so the peer's range check accepts it.
        public[0] &= 0x7f;
        public[group.value_len() - 1] |= 2;
        DhPrivate {
            group,
            // Never used: a modeled shared secret is made from the public values.
            x: BigUint::default(),
            public,
            modeled: true,
        }
    }

    /// A private value with a given exponent (for known-answer tests).
    pub fn from_exponent(group: DhGroup, x: BigUint) -> Self {
        let public = pad_to(
            BigUint::from(2u32).modpow(&x, group.prime()).to_bytes_be(),
            group.value_len(),
        );
        DhPrivate {
            group,
            x,
            public,
            modeled: false,
        }
    }

    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// g^x mod p, padded to the group length: the KE payload's data.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The shared secret g^xy mod p, padded to the group length, from the peer's public
    /// value; refuses values outside 1 < y < p - 1.
    pub fn shared_secret(&self, peer: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if peer.len() != self.group.value_len() {
            return Err(CryptoError::Length {
                what: "DH public value",
                len: peer.len(),
            });
        }
        if self.modeled {
            // The same range check on the big-endian bytes (equal lengths compare as
            // numbers), without converting to a BigUint.
            let above_one =
                peer[..peer.len() - 1].iter().any(|b| *b != 0) || peer[peer.len() - 1] > 1;
            if !above_one || peer >= self.group.prime_minus_one_be() {
                return Err(CryptoError::BadPublicValue);
            }
            count_op(self.group);
            // Both ends hash the same two values, in a fixed order.
            let (a, b) = if self.public.as_slice() <= peer {
                (self.public.as_slice(), peer)
            } else {
                (peer, self.public.as_slice())
            };
            return Ok(super::stand_in::bytes(
                b"ikesim/modeled-dh/shared",
                &[a, b],
                self.group.value_len(),
            ));
        }
        let p = self.group.prime();
        let y = BigUint::from_bytes_be(peer);
        if y <= BigUint::from(1u32) || y >= p - 1u32 {
            return Err(CryptoError::BadPublicValue);
        }
        count_op(self.group);
        Ok(pad_to(
            y.modpow(&self.x, p).to_bytes_be(),
            self.group.value_len(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn modeled_values_agree_and_keep_the_range_check() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let g = DhGroup::Modp2048;
        let a = DhPrivate::generate_with(g, None, true, &mut rng);
        let b = DhPrivate::generate_with(g, None, true, &mut rng);
        assert_eq!(a.public().len(), g.value_len());
        assert_ne!(a.public(), b.public());
        let (sa, sb) = (
            a.shared_secret(b.public()).unwrap(),
            b.shared_secret(a.public()).unwrap(),
        );
        assert_eq!(sa, sb);
        assert_eq!(sa.len(), g.value_len());
        // A real public value is accepted too; 0, 1, p - 1 and p are refused, as in Real.
        let real = DhPrivate::generate(g, Some(64), &mut rng);
        assert!(a.shared_secret(real.public()).is_ok());
        let p = g.prime();
        for bad in [
            BigUint::from(0u32),
            BigUint::from(1u32),
            p - 1u32,
            p.clone(),
        ] {
            let v = pad_to(bad.to_bytes_be(), g.value_len());
            assert_eq!(
                a.shared_secret(&v),
                Err(CryptoError::BadPublicValue),
                "{bad:x}"
            );
            assert_eq!(real.shared_secret(&v), Err(CryptoError::BadPublicValue));
        }
        let two = pad_to(vec![2], g.value_len());
        assert!(a.shared_secret(&two).is_ok());
        assert!(
            a.shared_secret(&pad_to((p - 2u32).to_bytes_be(), g.value_len()))
                .is_ok()
        );
    }
}
