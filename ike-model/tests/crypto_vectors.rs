//! Known answers for the primitives: RFC 2202 (HMAC-SHA1), RFC 4231 (HMAC-SHA-256),
//! RFC 3602 (AES-CBC-128), the MODP primes of RFC 2409 / RFC 3526, and DH agreement.

use ike_model::crypto::{DhGroup, DhPrivate, EncrAlg, IntegAlg, PrfAlg};
use num_bigint::BigUint;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn rfc2202_hmac_sha1() {
    let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b617318655057264e28bc0b6fb378c8ef146be00",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        ),
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
        ),
        (
            (1..=25).collect(),
            vec![0xcd; 50],
            "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
        ),
        (
            vec![0x0c; 20],
            b"Test With Truncation".to_vec(),
            "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
        ),
        (
            vec![0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112",
        ),
        (
            vec![0xaa; 80],
            b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".to_vec(),
            "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
        ),
    ];
    for (i, (key, data, digest)) in cases.iter().enumerate() {
        assert_eq!(PrfAlg::HmacSha1.prf(key, data), h(digest), "case {}", i + 1);
    }
    // Case 5 truncated to 96 bits is HMAC-SHA1-96 (RFC 2404).
    assert_eq!(
        IntegAlg::HmacSha1_96.icv(&cases[4].0, &cases[4].1),
        h("4c1a03424b55e07fe7f27be1")
    );
}

#[test]
fn rfc4231_hmac_sha256() {
    assert_eq!(
        PrfAlg::HmacSha256.prf(&[0x0b; 20], b"Hi There"),
        h("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
    assert_eq!(
        PrfAlg::HmacSha256.prf(b"Jefe", b"what do ya want for nothing?"),
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    assert_eq!(
        IntegAlg::HmacSha256_128.icv(b"Jefe", b"what do ya want for nothing?"),
        h("5bdcc146bf60754e6a042426089575c7")
    );
}

#[test]
fn rfc3602_aes_cbc_128() {
    let aes = EncrAlg::AesCbc { key_bits: 128 };
    let cases = [
        (
            "06a9214036b8a15b512e03d534120006",
            "3dafba429d9eb430b422da802c9fac41",
            hex::encode("Single block msg"),
            "e353779c1079aeb82708942dbe77181a",
        ),
        (
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f".to_string(),
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        ),
        (
            "6c3ea0477630ce21a2ce334aa746c2cd",
            "c782dc4c098c66cbd9cd27d825682c81",
            hex::encode("This is a 48-byte message (exactly 3 AES blocks)"),
            "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5021c19216bad525c8579695d83ba2684",
        ),
        (
            "56e47a38c5598974bc46903dba290349",
            "8ce82eefbea0da3c44699ed7db51b7d9",
            (0xa0..=0xdfu8)
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55",
        ),
    ];
    for (i, (k, iv, p, c)) in cases.iter().enumerate() {
        let ct = aes.encrypt(&h(k), &h(iv), &h(p)).unwrap();
        assert_eq!(ct, h(c), "case {}", i + 1);
        assert_eq!(
            aes.decrypt(&h(k), &h(iv), &ct).unwrap(),
            h(p),
            "case {}",
            i + 1
        );
    }
    assert!(
        aes.encrypt(&h(cases[0].0), &h(cases[0].1), &[0; 15])
            .is_err(),
        "partial block"
    );
}

/// Miller-Rabin with fixed bases; enough to tell the RFC primes from anything else.
fn probably_prime(n: &BigUint) -> bool {
    let one = BigUint::from(1u32);
    let n1 = n - &one;
    let s = n1.trailing_zeros().unwrap();
    let d = &n1 >> s;
    'bases: for a in [2u32, 3, 5, 7, 11, 13, 17, 19] {
        let mut x = BigUint::from(a).modpow(&d, n);
        if x == one || x == n1 {
            continue;
        }
        for _ in 1..s {
            x = x.modpow(&BigUint::from(2u32), n);
            if x == n1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

#[test]
fn modp_primes_are_the_rfc_safe_primes() {
    let tails = [
        (DhGroup::Modp768, "A63A3620FFFFFFFFFFFFFFFF"),
        (DhGroup::Modp1024, "49286651ECE65381FFFFFFFFFFFFFFFF"),
        (DhGroup::Modp1536, "CA237327FFFFFFFFFFFFFFFF"),
        (DhGroup::Modp2048, "15728E5A8AACAA68FFFFFFFFFFFFFFFF"),
        (DhGroup::Modp3072, "A93AD2CAFFFFFFFFFFFFFFFF"),
    ];
    for (g, tail) in tails {
        let p = g.prime();
        assert_eq!(p.bits(), u64::from(g.bits()), "{g:?}");
        let hexp = p.to_str_radix(16).to_uppercase();
        assert!(
            hexp.starts_with("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"),
            "{g:?}"
        );
        assert!(
            hexp.ends_with(tail),
            "{g:?}: ...{}",
            &hexp[hexp.len() - 32..]
        );
        assert!(probably_prime(p), "{g:?} prime");
        assert!(probably_prime(&(p >> 1u32)), "{g:?} is a safe prime");
        assert_eq!(DhGroup::from_id(g.id()), Some(g));
    }
}

#[test]
fn two_parties_agree_on_the_shared_secret_and_bad_values_are_refused() {
    let mut rng = sim_core::RngStreams::new(9).stream("dh-test");
    for g in DhGroup::ALL {
        let a = DhPrivate::generate(g, Some(256), &mut rng);
        let b = DhPrivate::generate(g, None, &mut rng);
        assert_eq!(a.public().len(), g.value_len());
        let s1 = a.shared_secret(b.public()).unwrap();
        let s2 = b.shared_secret(a.public()).unwrap();
        assert_eq!(s1, s2, "{g:?}");
        assert_eq!(s1.len(), g.value_len());
        let one = {
            let mut v = vec![0u8; g.value_len()];
            *v.last_mut().unwrap() = 1;
            v
        };
        assert!(a.shared_secret(&one).is_err(), "y = 1 is refused");
        assert!(
            a.shared_secret(&[0xff; 8]).is_err(),
            "wrong length is refused"
        );
    }
}

#[test]
fn prf_plus_concatenates_numbered_blocks() {
    // prf+(K, S) = T1 | T2 with T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02).
    let (k, s) = (b"key".as_slice(), b"seed".as_slice());
    let t1 = PrfAlg::HmacSha1.prf(k, b"seed\x01");
    let mut in2 = t1.clone();
    in2.extend_from_slice(b"seed\x02");
    let t2 = PrfAlg::HmacSha1.prf(k, &in2);
    let out = PrfAlg::HmacSha1.prf_plus(k, s, 30);
    assert_eq!(out[..20], t1[..]);
    assert_eq!(out[20..], t2[..10]);
}
