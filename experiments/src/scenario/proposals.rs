//! Proposals in strongSwan's syntax (`aes128-sha1-modp2048`, ESP `aes128-sha1`), turned
//! into the algorithms ike-model negotiates. Unknown tokens are errors naming the token.

use ike_model::crypto::{DhGroup, EncrAlg, IntegAlg, PrfAlg};
use ike_model::ikev2::keys::IkeSuite;

/// The IKE proposal peers use when a scenario names none: the reference captures' own.
pub const DEFAULT_IKE: &str = "aes128-sha1-modp2048";
/// The ESP proposal peers use when a scenario names none (no PFS).
pub const DEFAULT_ESP: &str = "aes128-sha1";

fn encr(t: &str) -> Option<EncrAlg> {
    match t {
        "aes128" | "aes" => Some(EncrAlg::AesCbc { key_bits: 128 }),
        "aes192" => Some(EncrAlg::AesCbc { key_bits: 192 }),
        "aes256" => Some(EncrAlg::AesCbc { key_bits: 256 }),
        _ => None,
    }
}

fn integ(t: &str) -> Option<(IntegAlg, PrfAlg)> {
    match t {
        "sha1" | "sha" => Some((IntegAlg::HmacSha1_96, PrfAlg::HmacSha1)),
        "sha256" | "sha2_256" => Some((IntegAlg::HmacSha256_128, PrfAlg::HmacSha256)),
        _ => None,
    }
}

fn dh(t: &str) -> Option<DhGroup> {
    match t {
        "modp768" => Some(DhGroup::Modp768),
        "modp1024" => Some(DhGroup::Modp1024),
        "modp1536" => Some(DhGroup::Modp1536),
        "modp2048" => Some(DhGroup::Modp2048),
        "modp3072" => Some(DhGroup::Modp3072),
        _ => None,
    }
}

const KNOWN: &str =
    "aes128/aes192/aes256, sha1/sha256, modp768/modp1024/modp1536/modp2048/modp3072";

/// An IKE proposal: encryption, integrity (its HMAC is also the PRF), then one or more DH
/// groups in preference order (`aes128-sha1-modp2048-modp1024`); the first is the KE guess.
pub fn parse_ike(s: &str) -> Result<(IkeSuite, Vec<DhGroup>), String> {
    let shape =
        || format!("IKE proposal \"{s}\" must be ENCR-INTEG-DH[-DH...], e.g. \"{DEFAULT_IKE}\"");
    let t: Vec<&str> = s.split('-').collect();
    let [e, i, groups @ ..] = &t[..] else {
        return Err(shape());
    };
    if groups.is_empty() {
        return Err(shape());
    }
    let unknown = |x: &str| format!("unknown algorithm \"{x}\" in \"{s}\"; known: {KNOWN}");
    let encr = encr(e).ok_or_else(|| unknown(e))?;
    let (integ, prf) = integ(i).ok_or_else(|| unknown(i))?;
    let groups = groups
        .iter()
        .map(|g| dh(g).ok_or_else(|| unknown(g)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((IkeSuite { encr, integ, prf }, groups))
}

/// An ESP proposal: encryption, integrity, and a DH group for PFS on rekey if given.
pub fn parse_esp(s: &str) -> Result<(EncrAlg, IntegAlg, Option<DhGroup>), String> {
    let t: Vec<&str> = s.split('-').collect();
    let (e, i, g) = match t[..] {
        [e, i] => (e, i, None),
        [e, i, g] => (e, i, Some(g)),
        _ => {
            return Err(format!(
                "ESP proposal \"{s}\" must be ENCR-INTEG[-DH], e.g. \"{DEFAULT_ESP}\""
            ));
        }
    };
    let encr =
        encr(e).ok_or_else(|| format!("unknown algorithm \"{e}\" in \"{s}\"; known: {KNOWN}"))?;
    let (integ, _) =
        integ(i).ok_or_else(|| format!("unknown algorithm \"{i}\" in \"{s}\"; known: {KNOWN}"))?;
    let pfs = match g {
        Some(g) => Some(
            dh(g).ok_or_else(|| format!("unknown algorithm \"{g}\" in \"{s}\"; known: {KNOWN}"))?,
        ),
        None => None,
    };
    Ok((encr, integ, pfs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongswan_proposal_strings_parse() {
        let (s, g) = parse_ike("aes256-sha256-modp3072").unwrap();
        assert_eq!(g, vec![DhGroup::Modp3072]);
        assert_eq!(
            parse_ike("aes128-sha1-modp1024-modp2048").unwrap().1,
            vec![DhGroup::Modp1024, DhGroup::Modp2048]
        );
        assert_eq!(s.encr, EncrAlg::AesCbc { key_bits: 256 });
        assert_eq!(
            (s.integ, s.prf),
            (IntegAlg::HmacSha256_128, PrfAlg::HmacSha256)
        );
        assert_eq!(parse_esp("aes128-sha1").unwrap().2, None);
        assert_eq!(
            parse_esp("aes128-sha1-modp1024").unwrap().2,
            Some(DhGroup::Modp1024)
        );
        assert!(
            parse_ike("aes128-md5-modp2048")
                .unwrap_err()
                .contains("\"md5\"")
        );
        assert!(parse_ike("aes128-sha1").is_err());
    }
}
