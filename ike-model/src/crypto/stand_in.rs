//! Stand-in bytes for `Modeled` crypto (DESIGN.md's two modes): a modeled DH public value
//! and shared secret, and modeled SKEYSEED and prf+ output, have the real lengths and
//! depend on every input byte, but cost a multiply per 8 bytes instead of SHA compressions.
//! A 10^5-tunnel day rekeys 6 x 10^5 IKE SAs, and SHA-1/SHA-256 over 256-byte DH values and
//! prf+ was 7 % of it. Nothing here is a cryptographic hash: Modeled runs need only that
//! two ends with the same inputs agree and that different inputs differ.

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// Two independent multiply-rotate chains over 64-bit words.
struct Chains {
    a: u64,
    b: u64,
}

impl Chains {
    fn new() -> Self {
        Chains {
            a: 0xcbf2_9ce4_8422_2325,
            b: 0x8422_2325_cbf2_9ce4,
        }
    }

    fn word(&mut self, w: u64) {
        let step = |h: u64, k: u64| (h.rotate_left(23) ^ w).wrapping_mul(k);
        self.a = step(self.a, K0);
        self.b = step(self.b, K1);
    }

    /// One part: its length, then its bytes as little-endian words, the last one padded
    /// with zeros.
    fn part(&mut self, p: &[u8]) {
        self.joined(&[p]);
    }

    /// The concatenation of `parts` as one part (the same words as [`Chains::part`] of the
    /// joined bytes), without joining them. A partial word is gathered in a register:
    /// copying it through a byte buffer called memcpy and memset for every part.
    fn joined(&mut self, parts: &[&[u8]]) {
        self.word(parts.iter().map(|p| p.len() as u64).sum());
        let (mut acc, mut filled) = (0u64, 0usize);
        for p in parts {
            let mut p = *p;
            while filled > 0 && !p.is_empty() {
                acc |= u64::from(p[0]) << (8 * filled);
                filled += 1;
                p = &p[1..];
                if filled == 8 {
                    self.word(acc);
                    (acc, filled) = (0, 0);
                }
            }
            if p.is_empty() {
                continue;
            }
            let mut words = p.chunks_exact(8);
            for w in &mut words {
                self.word(u64::from_le_bytes(w.try_into().expect("8 bytes")));
            }
            let rest = words.remainder();
            for (k, b) in rest.iter().enumerate() {
                acc |= u64::from(*b) << (8 * k);
            }
            filled = rest.len();
        }
        if filled > 0 {
            self.word(acc);
        }
    }

    fn finish(self) -> (u64, u64) {
        (self.a ^ (self.a >> 29), self.b ^ (self.b >> 31))
    }
}

/// A 128-bit digest of `label` and `parts` (each part's length is mixed in first, so
/// `["ab", "c"]` and `["a", "bc"]` differ), then of `tail` joined into one part.
fn digest(label: &[u8], parts: &[&[u8]], tail: Option<&[&[u8]]>) -> (u64, u64) {
    let mut c = Chains::new();
    c.part(label);
    for p in parts {
        c.part(p);
    }
    if let Some(t) = tail {
        c.joined(t);
    }
    c.finish()
}

/// SplitMix64's output function (a bijection of `z`).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` stand-in bytes determined by `label` and `parts`.
pub fn bytes(label: &[u8], parts: &[&[u8]], len: usize) -> Vec<u8> {
    expand(digest(label, parts, None), len)
}

/// [`bytes`] of `label`, `parts` and the concatenation of `tail` as one more part, without
/// concatenating it (an IKEv1 PRF over a message's worth of inputs).
pub fn bytes_joined(label: &[u8], parts: &[&[u8]], tail: &[&[u8]], len: usize) -> Vec<u8> {
    expand(digest(label, parts, Some(tail)), len)
}

/// `len` bytes grown from a digest.
fn expand((a, b): (u64, u64), len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.next_multiple_of(8));
    let mut i = 0u64;
    while out.len() < len {
        let w = mix(a.wrapping_add(i.wrapping_mul(K0))) ^ mix(b ^ i);
        out.extend_from_slice(&w.to_le_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_determinism() {
        for len in [0, 1, 7, 8, 20, 132, 256] {
            let x = bytes(b"l", &[b"abc", b"d"], len);
            assert_eq!(x.len(), len);
            assert_eq!(x, bytes(b"l", &[b"abc", b"d"], len));
        }
    }

    #[test]
    fn every_input_byte_and_the_split_matter() {
        let base: Vec<u8> = (0..77u8).collect();
        let reference = bytes(b"l", &[&base], 32);
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i] ^= 1;
            assert_ne!(bytes(b"l", &[&changed], 32), reference, "byte {i}");
        }
        assert_ne!(bytes(b"m", &[&base], 32), reference, "label");
        assert_ne!(
            bytes(b"l", &[&base[..10], &base[10..]], 32),
            reference,
            "split"
        );
        // A trailing zero byte is not the same input as none.
        assert_ne!(bytes(b"l", &[&[1, 0]], 32), bytes(b"l", &[&[1]], 32));
    }

    /// The joined tail is the same input as its concatenation passed as one part, however
    /// it is split (across word boundaries, with empty pieces, or not at all).
    #[test]
    fn a_joined_tail_equals_its_concatenation() {
        let data: Vec<u8> = (0..53u8).map(|x| x.wrapping_mul(37)).collect();
        for len in [0, 1, 7, 8, 9, 16, 20, 53] {
            let whole = &data[..len];
            let reference = bytes(b"l", &[b"key", whole], 24);
            for a in 0..=len {
                for b in a..=len {
                    let split = [&whole[..a], &whole[a..b], &[][..], &whole[b..]];
                    assert_eq!(
                        bytes_joined(b"l", &[b"key"], &split, 24),
                        reference,
                        "len {len} split at {a}, {b}"
                    );
                }
            }
        }
        assert_ne!(
            bytes_joined(b"l", &[], &[b"ab", b"c"], 16),
            bytes(b"l", &[b"ab", b"c"], 16),
            "joined is one part, not two"
        );
    }

    /// Known answers (computed with the first implementation, which joined the parts and
    /// padded the last word in a byte buffer): Modeled runs must not change when the
    /// digest is made faster.
    #[test]
    fn known_answers() {
        let data: Vec<u8> = (0..37u8)
            .map(|x| x.wrapping_mul(91).wrapping_add(5))
            .collect();
        assert_eq!(
            bytes(b"a", &[&data], 24),
            [
                47, 254, 193, 196, 179, 132, 184, 70, 108, 186, 131, 69, 117, 147, 89, 143, 241,
                92, 41, 45, 168, 249, 38, 51
            ]
        );
        let parts = [&data[..3], &data[3..20], &data[..0], &data[20..]];
        assert_eq!(
            bytes(b"label-x", &parts, 24),
            [
                48, 101, 207, 85, 192, 131, 159, 224, 51, 170, 196, 52, 66, 194, 78, 208, 57, 69,
                119, 92, 52, 77, 87, 64
            ]
        );
        assert_eq!(bytes(b"", &[], 8), [252, 213, 249, 219, 99, 8, 25, 213]);
    }

    #[test]
    fn a_longer_output_extends_a_shorter_one() {
        let long = bytes(b"l", &[b"x"], 100);
        assert_eq!(&long[..40], &bytes(b"l", &[b"x"], 40)[..]);
        // Not a repeating pattern.
        assert_ne!(&long[..8], &long[8..16]);
    }
}
