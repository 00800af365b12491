//! Stand-in bytes for `Modeled` crypto (DESIGN.md's two modes): a modeled DH public value
//! and shared secret, and modeled SKEYSEED and prf+ output, have the real lengths and
//! depend on every input byte, but cost a multiply per 8 bytes instead of SHA compressions.
//! A 10^5-tunnel day rekeys 6 x 10^5 IKE SAs, and SHA-1/SHA-256 over 256-byte DH values and
//! prf+ was 7 % of it. Nothing here is a cryptographic hash: Modeled runs need only that
//! two ends with the same inputs agree and that different inputs differ.

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xc2b2_ae3d_27d4_eb4f;

/// A 128-bit digest of `label` and `parts` (each part's length is mixed in first, so
/// `["ab", "c"]` and `["a", "bc"]` differ): two independent multiply-rotate chains.
fn digest(label: &[u8], parts: &[&[u8]]) -> (u64, u64) {
    let step = |h: u64, w: u64, k: u64| (h.rotate_left(23) ^ w).wrapping_mul(k);
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64);
    for p in std::iter::once(label).chain(parts.iter().copied()) {
        a = step(a, p.len() as u64, K0);
        b = step(b, p.len() as u64, K1);
        let mut words = p.chunks_exact(8);
        for w in &mut words {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            a = step(a, w, K0);
            b = step(b, w, K1);
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            let w = u64::from_le_bytes(last);
            a = step(a, w, K0);
            b = step(b, w, K1);
        }
    }
    (a ^ (a >> 29), b ^ (b >> 31))
}

/// SplitMix64's output function (a bijection of `z`).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` stand-in bytes determined by `label` and `parts`.
pub fn bytes(label: &[u8], parts: &[&[u8]], len: usize) -> Vec<u8> {
    let (a, b) = digest(label, parts);
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

    #[test]
    fn a_longer_output_extends_a_shorter_one() {
        let long = bytes(b"l", &[b"x"], 100);
        assert_eq!(&long[..40], &bytes(b"l", &[b"x"], 40)[..]);
        // Not a repeating pattern.
        assert_ne!(&long[..8], &long[8..16]);
    }
}
