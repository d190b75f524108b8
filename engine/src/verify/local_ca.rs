//! GitLab's `local_ca` attestations (GitLab 19.6+): signed by a per-project CA instead of
//! Fulcio, with no transparency log entry and no timestamp. What can be checked is
//! checked, against CA certificates the user pinned — never against one an API hands
//! over on its own say:
//!
//! * the leaf chains to a pinned project CA, with the code-signing EKU, valid (leaf and
//!   CA) at the run's effective time: nothing signed says when it was signed, so, as
//!   cosign does without a log, the certificate must be valid when it is judged;
//! * the DSSE signature verifies with the leaf's key, and the statement names the
//!   artifact;
//! * the leaf's identity is read like a Fulcio certificate's and must meet the signer
//!   requirements.
//!
//! What cannot be had is said: the report records `local_ca` with the CA's fingerprint,
//! and the claims have no `tlog` and no `signed_at` (which a policy can see).

use rustls_pki_types::{CertificateDer, UnixTime};
use sigstore_types::{SignatureContent, VerificationMaterialContent};
use webpki::{EndEntityCert, KeyUsage};

use crate::claims::{Claims, Platforms};
use crate::error::{Error, Result, Stage};
use crate::evidence::{Artifact, Evidence};
use crate::verify::{SignatureKind, Signer, VerifiedSignature};

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER contents.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Verify a local_ca bundle over `artifact` against the pinned project CAs (DER).
pub fn verify(
    evidence: &Evidence,
    artifact: &Artifact,
    cas: &[Vec<u8>],
    at: jiff::Timestamp,
    signer: &Signer,
    platforms: &Platforms,
) -> Result<VerifiedSignature> {
    let bundle = &evidence.bundle;
    let (SignatureContent::DsseEnvelope(envelope), Some(statement)) = (&bundle.content, &evidence.statement) else {
        return Err(Error::verify(Stage::Bundle, "a local_ca attestation must be a DSSE envelope holding an in-toto statement"));
    };
    // The statement must name this digest itself (no library re-hashes the file here).
    if !statement.matches(artifact.digest()) {
        super::bind_statement(statement, artifact)?;
        return Err(Error::verify(Stage::Artifact, "the statement does not name the artifact's sha256 digest"));
    }
    let (leaf, intermediates): (&[u8], Vec<&[u8]>) = match &bundle.verification_material.content {
        VerificationMaterialContent::Certificate(c) => (c.raw_bytes.as_bytes(), Vec::new()),
        // GitLab's project CA issues the leaf directly: no intermediate from the bundle
        // takes part (none could widen what the pinned CA vouches for).
        VerificationMaterialContent::X509CertificateChain { certificates } => match certificates.as_slice() {
            [leaf] => (leaf.raw_bytes.as_bytes(), Vec::new()),
            _ => return Err(Error::verify(Stage::Bundle, "a local_ca bundle holds its signing certificate alone, without intermediates")),
        },
        _ => return Err(Error::verify(Stage::Bundle, "a local_ca attestation is signed with a certificate, not a bare key")),
    };

    // The chain, at the effective time, to a pinned CA only: each is tried alone, so
    // the report can name the one that issued.
    let leaf_der = CertificateDer::from(leaf);
    let end_entity = EndEntityCert::try_from(&leaf_der)
        .map_err(|e| Error::verify(Stage::Certificate, format!("the signing certificate does not parse: {e}")))?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates.into_iter().map(CertificateDer::from).collect();
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(u64::try_from(at.as_second()).unwrap_or(0)));
    let mut issued_by = None;
    let mut last_error = String::from("no project CA is pinned");
    for der in cas {
        // webpki does not hold a trust anchor to its own validity or CA-ness: vouch does.
        if let Err(why) = ca_valid_at(der, at) {
            last_error = why;
            continue;
        }
        let anchor = match webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())) {
            Ok(anchor) => anchor.to_owned(),
            Err(e) => {
                last_error = format!("a pinned project CA is not a usable certificate: {e:?}");
                continue;
            }
        };
        let anchors = [anchor];
        let verified = end_entity
            .verify_for_usage(
                sigstore_verify::crypto::WEBPKI_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                KeyUsage::required(CODE_SIGNING),
                None,
                None,
            )
            .map(|_| ());
        match verified {
            Ok(()) => {
                issued_by = Some(crate::claims::sha256_hex(der));
                break;
            }
            Err(e) => last_error = format!("{e:?}"),
        }
    }
    let Some(issued_by) = issued_by else {
        return Err(Error::verify(
            Stage::Certificate,
            format!(
                "the signing certificate does not chain to a pinned project CA valid at {} (local_ca has no log entry, so the certificate must be valid when judged; --effective-time moves that): {last_error}",
                crate::claims::rfc3339(at)
            ),
        ));
    };

    // The signature over the envelope, with the leaf's key.
    let info = sigstore_verify::crypto::parse_certificate_info(&sigstore_types::DerCertificate::from_bytes(leaf))
        .map_err(|e| Error::verify(Stage::Certificate, format!("the signing certificate does not parse: {e}")))?;
    let key = sigstore_verify::crypto::VerificationKey::from_spki(&info.public_key)
        .map_err(|e| Error::verify(Stage::Certificate, format!("the signing key is not usable: {e}")))?;
    // The parser has already held the envelope to exactly one signature.
    let (pae, signature) = (envelope.pae(), &envelope.signature);
    key.verify(&pae, &signature.sig).map_err(|e| Error::verify(Stage::Signature, format!("the DSSE signature does not verify: {e}")))?;

    let claims = Claims::from_certificate(leaf, None, None, platforms)?;
    super::check_signer(signer, &claims)?;
    Ok(VerifiedSignature {
        kind: SignatureKind::Dsse,
        bundle_format: evidence.format,
        bundle_media_type: evidence.media_type.clone(),
        claims: Some(claims),
        key_fingerprint_sha256: None,
        predicate_type: Some(statement.predicate_type.clone()),
        provenance: crate::claims::Provenance::from_statement(&statement.predicate_type, &statement.json),
        statement: Some(statement.json.clone()),
        signed_at: None,
        tlog: Vec::new(),
        local_ca: Some(issued_by),
        registry_keyid: None,
        bundle_sha256: evidence.sha256.clone(),
    })
}

/// A pinned CA certificate must itself be valid at `at`.
fn ca_valid_at(der: &[u8], at: jiff::Timestamp) -> std::result::Result<(), String> {
    use der::Decode as _;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| format!("a pinned project CA does not parse: {e}"))?;
    let fingerprint = crate::claims::sha256_hex(der);
    // A CA: basicConstraints cA, and keyUsage keyCertSign.
    let ext = |oid: &str| {
        cert.tbs_certificate.extensions.iter().flatten().find(|e| e.extn_id.to_string() == oid).map(|e| e.extn_value.as_bytes().to_vec())
    };
    let is_ca = ext("2.5.29.19").and_then(|v| x509_cert::ext::pkix::BasicConstraints::from_der(&v).ok()).is_some_and(|b| b.ca);
    let signs_certs = ext("2.5.29.15").and_then(|v| x509_cert::ext::pkix::KeyUsage::from_der(&v).ok()).is_some_and(|k| k.key_cert_sign());
    if !is_ca || !signs_certs {
        return Err(format!("the pinned certificate sha256:{fingerprint} is not a CA (basicConstraints cA and keyUsage keyCertSign)"));
    }
    let validity = &cert.tbs_certificate.validity;
    let secs = |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    let (from, until) = (secs(validity.not_before), secs(validity.not_after));
    if at.as_second() < from || at.as_second() > until {
        let when = |s: i64| jiff::Timestamp::from_second(s).map(crate::claims::rfc3339).unwrap_or_default();
        return Err(format!(
            "the pinned project CA sha256:{fingerprint} is valid from {} until {}, not at {}",
            when(from),
            when(until),
            crate::claims::rfc3339(at)
        ));
    }
    Ok(())
}
