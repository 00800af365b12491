//! The payloads of IKE_SA_INIT and IKE_AUTH as a strongSwan-like peer sends them (RFC 7296
//! §1.2), including strongSwan's default notifies, so that our message sizes equal those of
//! the reference captures (462/470 and 252/204 bytes for MODP-2048 and AES-128/SHA-1).

use std::net::IpAddr;

use super::Flavour;
use crate::crypto::{DhGroup, EncrAlg, IntegAlg};
use crate::ikev2::consts::{NotifyType, ProtocolId, TransformType, transform};
use crate::ikev2::keys::IkeSuite;
use crate::ikev2::natd::natd_hash;
use crate::ikev2::payload::{NotifyPayload, Payload, Proposal, SaPayload, SpiBytes, Transform};

/// SIGNATURE_HASH_ALGORITHMS data strongSwan sends: SHA2-256, SHA2-384, SHA2-512 (RFC 7427).
const SIG_HASHES: [u8; 6] = [0, 2, 0, 3, 0, 4];

fn encr_transform(e: EncrAlg) -> Transform {
    match e {
        EncrAlg::AesCbc { key_bits } => {
            Transform::with_key_length(TransformType::ENCR, transform::ENCR_AES_CBC, key_bits)
        }
    }
}

/// The IKE proposal: one proposal with ENCR, INTEG, PRF and the DH groups in preference
/// order (a responder's answer carries only the chosen group).
pub fn ike_proposal(suite: IkeSuite, groups: &[DhGroup], spi: Vec<u8>) -> SaPayload {
    let mut transforms = vec![
        encr_transform(suite.encr),
        Transform::new(TransformType::INTEG, suite.integ.id()),
        Transform::new(TransformType::PRF, suite.prf.id()),
    ];
    transforms.extend(
        groups
            .iter()
            .map(|g| Transform::new(TransformType::DH, g.id())),
    );
    SaPayload {
        proposals: vec![Proposal {
            num: 1,
            protocol: ProtocolId::IKE,
            spi: spi.into(),
            transforms,
        }],
    }
}

/// The DH group to use with a peer's SA payload: the first of `ours` that one of its
/// proposals offers alongside exactly our ENCR, INTEG and PRF (RFC 7296 §2.7).
pub fn negotiate(suite: IkeSuite, ours: &[DhGroup], sa: &SaPayload) -> Option<DhGroup> {
    let base = ike_proposal(suite, &[], vec![])
        .proposals
        .remove(0)
        .transforms;
    sa.proposals.iter().find_map(|p| {
        let (dh, rest): (Vec<&Transform>, Vec<&Transform>) =
            p.transforms.iter().partition(|t| t.ty == TransformType::DH);
        let same = p.protocol == ProtocolId::IKE
            && rest.len() == base.len()
            && base.iter().all(|b| rest.contains(&b));
        if !same {
            return None;
        }
        ours.iter()
            .copied()
            .find(|g| dh.iter().any(|t| t.id == g.id()))
    })
}

/// The ESP proposal of a CHILD_SA: ENCR, INTEG, the PFS group if any, ESN off, with our
/// inbound SPI. IKE_AUTH carries no KE, so its proposal has no DH group (strongSwan strips
/// it there).
pub fn esp_proposal(encr: EncrAlg, integ: IntegAlg, dh: Option<DhGroup>, spi: u32) -> SaPayload {
    SaPayload {
        proposals: vec![Proposal {
            num: 1,
            protocol: ProtocolId::ESP,
            spi: SpiBytes::from_slice(&spi.to_be_bytes()),
            transforms: esp_transforms(encr, integ, dh).into_vec(),
        }],
    }
}

/// The transforms of [`esp_proposal`], inline (the responder compares each offer with them).
fn esp_transforms(
    encr: EncrAlg,
    integ: IntegAlg,
    dh: Option<DhGroup>,
) -> smallvec::SmallVec<[Transform; 4]> {
    let mut transforms = smallvec::smallvec![
        encr_transform(encr),
        Transform::new(TransformType::INTEG, integ.id()),
    ];
    if let Some(g) = dh {
        transforms.push(Transform::new(TransformType::DH, g.id()));
    }
    transforms.push(Transform::new(TransformType::ESN, transform::ESN_NO));
    transforms
}

/// Whether a peer's ESP SA payload offers exactly our transforms (with `dh` as the PFS
/// group, or no DH transform when `None`); returns the peer's inbound SPI of the first
/// proposal that does (RFC 7296 §2.7, §3.3.6).
pub fn esp_accept(
    encr: EncrAlg,
    integ: IntegAlg,
    dh: Option<DhGroup>,
    sa: &SaPayload,
) -> Option<u32> {
    let ours = esp_transforms(encr, integ, dh);
    sa.proposals.iter().find_map(|p| {
        let spi: [u8; 4] = p.spi.as_slice().try_into().ok()?;
        // Every transform of ours offered, and no transform type we lack (a DH group
        // when we have no PFS is a mismatch).
        let same = p.protocol == ProtocolId::ESP
            && ours.iter().all(|t| p.transforms.contains(t))
            && p.transforms
                .iter()
                .all(|t| ours.iter().any(|o| o.ty == t.ty));
        same.then(|| u32::from_be_bytes(spi))
    })
}

fn notify(ty: NotifyType, data: Vec<u8>) -> Payload {
    Payload::Notify(NotifyPayload::new(ty, data))
}

/// The notifies after KE and Nonce in IKE_SA_INIT: NAT-D for both ends (the source hash
/// replaced by `fake_source` for strongSwan's `encap = yes`), then the flavour's capability
/// notifies (a strongSwan responder adds CHILDLESS and MULTIPLE_AUTH support).
pub fn sa_init_notifies(
    flavour: Flavour,
    spi_i: u64,
    spi_r: u64,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    responder: bool,
    fake_source: Option<Vec<u8>>,
) -> Vec<Payload> {
    let source = fake_source.unwrap_or_else(|| natd_hash(spi_i, spi_r, src.0, src.1).to_vec());
    let mut v = vec![
        notify(NotifyType::NAT_DETECTION_SOURCE_IP, source),
        notify(
            NotifyType::NAT_DETECTION_DESTINATION_IP,
            natd_hash(spi_i, spi_r, dst.0, dst.1).to_vec(),
        ),
        notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![]),
    ];
    if flavour == Flavour::Srx {
        return v;
    }
    v.push(notify(
        NotifyType::SIGNATURE_HASH_ALGORITHMS,
        SIG_HASHES.to_vec(),
    ));
    if responder {
        v.push(notify(NotifyType::CHILDLESS_IKEV2_SUPPORTED, vec![]));
        v.push(notify(NotifyType::MULTIPLE_AUTH_SUPPORTED, vec![]));
    } else {
        v.push(notify(NotifyType::REDIRECT_SUPPORTED, vec![]));
    }
    v
}

/// A notify with no data.
pub fn flag(ty: NotifyType) -> Payload {
    notify(ty, vec![])
}
