//! The verification pipeline: sigstore-verify does the cryptography (chain, SCT, SET,
//! inclusion proof, checkpoint, TSA, signature, log body ↔ bundle consistency), our
//! [`checks`] bind the remaining reported fields, then the signer is matched and the
//! claims document built. Any error is a failed verification: nothing here fails open.

mod checks;
pub mod identity;
pub mod local_ca;

use std::path::Path;

use sigstore_types::{DerPublicKey, HashAlgorithm, VerificationMaterialContent};
use sigstore_verify::{Policy, PublicKeyVerificationPolicy, VerificationPolicy};

use crate::claims::{Claims, TlogFacts};
use crate::error::{Error, Result, Stage};
use crate::evidence::{digest_string, Artifact};
use crate::evidence::{BundleFormat, Evidence, InTotoStatement};
use crate::trust::Trust;
use crate::verify::identity::IdentityRequirement;

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A Fulcio certificate whose identity and issuer match.
    Keyless(IdentityRequirement),
    /// A Fulcio certificate matching any one of these (a manifest's `identities`).
    AnyOf(Vec<IdentityRequirement>),
    /// A managed key (e.g. npm's registry attestation key).
    PublicKey(DerPublicKey),
    /// Any identity the trusted root's CA issued to: the cryptography is verified and
    /// the caller must authorise the claims (`vouch claims`, policies).
    AnyIdentity,
}

impl Signer {
    pub fn public_key_from_pem_file(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::PublicKey { path: path.to_path_buf(), reason };
        let pem = crate::trust::read_limited(path, "public key", 1 << 20)?;
        let pem = String::from_utf8(pem).map_err(|_| bad("not PEM text".into()))?;
        let key = DerPublicKey::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
        sigstore_verify::crypto::KeyAlgorithm::from_spki(&key).map_err(|e| bad(e.to_string()))?;
        Ok(Signer::PublicKey(key))
    }
}

/// Who may sign, for a run: the signer from identity flags, a key or a manifest's
/// identities, or — only when a configured policy package judges signers (e.g.
/// `config.gitlab`) — any identity, left to that package. Anything else is refused
/// before a subject is judged: loading policies that judge nothing must not pass anyone.
pub fn require_signer_decision(signer: Option<Signer>, policy: Option<&crate::policy::Policy>) -> Result<Signer> {
    use crate::policy::{PolicyError, PolicyErrorKind};
    if let Some(policy) = policy {
        policy.require_named_configured().map_err(Error::Policy)?;
    }
    if let Some(signer) = signer {
        return Ok(signer);
    }
    let Some(policy) = policy else {
        return Err(Error::Policy(PolicyError::new(
            PolicyErrorKind::NoSignerDecision,
            "nothing decides who may sign: no identity requirement and no policy",
        )));
    };
    if !policy.signer_judges().is_empty() {
        return Ok(Signer::AnyIdentity);
    }
    let unconfigured: Vec<String> = policy
        .package_info()
        .iter()
        .filter(|p| p.judges_signer)
        .map(|p| format!("{} (needs config.{})", p.name, p.config.join(".")))
        .collect();
    let loaded = policy.packages().join(", ");
    Err(Error::Policy(PolicyError::new(
        PolicyErrorKind::NoSignerDecision,
        format!(
            "nothing decides who may sign: no identity requirement, and no configured policy package judges signers (loaded: {}{})",
            if loaded.is_empty() { "none".to_string() } else { loaded },
            if unconfigured.is_empty() { String::new() } else { format!("; unconfigured signer judges: {}", unconfigured.join(", ")) }
        ),
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureKind {
    Message,
    Dsse,
    /// A package registry's signature over the package (npm's `dist.signatures`).
    Registry,
}

/// A signature that verified, with everything a report or policy may use.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifiedSignature {
    pub kind: SignatureKind,
    pub bundle_format: BundleFormat,
    pub bundle_media_type: String,
    /// The signer's claims; `None` for key-based signatures (no certificate).
    pub claims: Option<Claims>,
    /// Key-based signatures only: the SHA-256 of the verifying key (SPKI DER).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_fingerprint_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<serde_json::Value>,
    /// SLSA provenance's typed fields, for a statement that is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::claims::Provenance>,
    /// When the signature existed, from verified evidence (SET or RFC 3161 timestamp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    pub tlog: Vec<TlogFacts>,
    /// GitLab `local_ca` attestations: the SHA-256 of the pinned project CA that issued
    /// the signing certificate (no transparency log, no signed time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_ca: Option<String>,
    /// A registry signature's key id (npm's `SHA256:…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_keyid: Option<String>,
    /// The SHA-256 of the bundle file it came from, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_sha256: Option<String>,
}

impl VerifiedSignature {
    /// A package registry's signature that verified with its key `keyid`.
    pub fn registry(keyid: &str, key_sha256: &str) -> Self {
        VerifiedSignature {
            kind: SignatureKind::Registry,
            bundle_format: BundleFormat::RegistrySignature,
            bundle_media_type: "application/vnd.npm.registry-signature".into(),
            claims: None,
            key_fingerprint_sha256: Some(key_sha256.to_string()),
            predicate_type: None,
            statement: None,
            provenance: None,
            signed_at: None,
            tlog: Vec::new(),
            local_ca: None,
            registry_keyid: Some(keyid.to_string()),
            bundle_sha256: None,
        }
    }
}

/// Verify one piece of evidence over one artifact.
pub fn verify(trust: &Trust, artifact: &Artifact, evidence: &Evidence, signer: &Signer) -> Result<VerifiedSignature> {
    let bundle = &evidence.bundle;
    checks::check_tlog_entries(bundle, trust.rekor_keys())?;
    checks::check_timestamp_certificates(bundle, trust.tsa_certificates())?;
    checks::check_chain_has_no_root(bundle, trust.ca_chains())?;
    if let Some(statement) = &evidence.statement {
        bind_statement(statement, artifact)?;
    }

    let result = match signer {
        Signer::PublicKey(key) => {
            if !matches!(bundle.verification_material.content, VerificationMaterialContent::PublicKey(_)) {
                return Err(Error::verify(
                    Stage::Bundle,
                    "--key was given but the bundle is signed with a certificate (keyless); use the identity flags",
                ));
            }
            run_library(trust, artifact, evidence, &PublicKeyVerificationPolicy::new(key.clone()))?
        }
        Signer::Keyless(_) | Signer::AnyOf(_) | Signer::AnyIdentity => {
            if matches!(bundle.verification_material.content, VerificationMaterialContent::PublicKey(_)) {
                return Err(Error::verify(
                    Stage::Bundle,
                    "the bundle is signed with a managed key, not a certificate; verify it with --key",
                ));
            }
            // Identity is matched below on our own parse of the SAN (which also
            // covers otherName SANs the library does not read).
            run_library(trust, artifact, evidence, &VerificationPolicy::any_identity())?
        }
    };

    let signed_at = result.verified_timestamps().iter().min().map(|t| crate::claims::rfc3339(*t));
    let tlog = bundle.verification_material.tlog_entries.iter().map(TlogFacts::from_entry).collect::<Vec<_>>();

    let (claims, key_fingerprint_sha256) = match signer {
        Signer::PublicKey(key) => (None, Some(sigstore_verify::crypto::sha256(key.as_bytes()).to_hex())),
        Signer::Keyless(_) | Signer::AnyOf(_) | Signer::AnyIdentity => {
            let cert = bundle.signing_certificate().ok_or_else(|| Error::verify(Stage::Bundle, "bundle has no signing certificate"))?;
            let claims = Claims::from_certificate(cert.as_bytes(), signed_at.clone(), tlog.first().cloned(), trust.platforms())?;
            check_signer(signer, &claims)?;
            (Some(claims), None)
        }
    };

    let (kind, predicate_type, statement) = match &evidence.statement {
        Some(s) => (SignatureKind::Dsse, Some(s.predicate_type.clone()), Some(s.json.clone())),
        None => (SignatureKind::Message, None, None),
    };
    let provenance = evidence.statement.as_ref().and_then(|s| crate::claims::Provenance::from_statement(&s.predicate_type, &s.json));
    Ok(VerifiedSignature {
        kind,
        bundle_format: evidence.format,
        bundle_media_type: evidence.media_type.clone(),
        claims,
        key_fingerprint_sha256,
        predicate_type,
        statement,
        provenance,
        signed_at,
        tlog,
        local_ca: None,
        registry_keyid: None,
        bundle_sha256: evidence.sha256.clone(),
    })
}

/// The certificate's identity against who must have signed.
pub(crate) fn check_signer(signer: &Signer, claims: &Claims) -> Result<()> {
    let (identity, issuer) = (claims.identity.as_ref().map(|i| i.value.as_str()), claims.issuer.as_deref());
    match signer {
        Signer::Keyless(requirement) => {
            requirement.check(identity, issuer)?;
            requirement.check_workflow(&claims.extensions)?;
        }
        Signer::AnyOf(requirements) => {
            let mut first_error = None;
            if !requirements.iter().any(|r| match r.check(identity, issuer) {
                Ok(()) => true,
                Err(e) => {
                    first_error.get_or_insert(e);
                    false
                }
            }) {
                return Err(match (requirements.len(), first_error) {
                    (1, Some(e)) => e,
                    _ => Error::IdentityMismatch {
                        expected: format!(
                            "one of {} identities ({})",
                            requirements.len(),
                            requirements.iter().map(|r| format!("{} from {}", r.identity, r.issuer)).collect::<Vec<_>>().join("; ")
                        ),
                        actual: format!("{:?} from {:?}", identity.unwrap_or("none"), issuer.unwrap_or("none")),
                    },
                });
            }
        }
        Signer::PublicKey(_) => {
            return Err(Error::verify(Stage::Bundle, "--key verifies a key-signed bundle; this one is signed with a certificate"))
        }
        Signer::AnyIdentity => {}
    }
    Ok(())
}

/// A DSSE statement must name the artifact. Checked here as well as in the library so
/// the user is told which digests the statement does name.
pub(crate) fn bind_statement(statement: &InTotoStatement, artifact: &Artifact) -> Result<()> {
    if statement.matches(artifact.digest()) || (artifact.path().is_some() && statement.has_sha512_subject()) {
        // sha512-only statements are bound by the library, which hashes the file.
        return Ok(());
    }
    let named = statement
        .subjects
        .iter()
        .map(|s| {
            let digest = s
                .sha256
                .map(|d| format!("sha256:{}", d.to_hex()))
                .or(s.sha512.map(|d| format!("sha512:{}", d.to_hex())))
                .unwrap_or_else(|| "no sha256/sha512 digest".into());
            if s.name.is_empty() {
                digest
            } else {
                format!("{} ({digest})", s.name)
            }
        })
        .take(5)
        .collect::<Vec<_>>()
        .join(", ");
    let why = match (artifact.path(), artifact.digest().algorithm()) {
        (Some(_), _) => "",
        (None, HashAlgorithm::Sha2256) if !statement.has_sha256_subject() => {
            " (the statement names only sha512 digests; pass the file or its sha512: digest)"
        }
        (None, HashAlgorithm::Sha2512) if !statement.has_sha512_subject() => {
            " (the statement names only sha256 digests; pass the file or its sha256: digest)"
        }
        (None, HashAlgorithm::Sha2384) => " (in-toto statements name sha256 or sha512 digests; pass the file or one of those)",
        _ => "",
    };
    Err(Error::verify(
        Stage::Artifact,
        format!("the attestation's subjects do not include {}{why}; it names {named}", digest_string(artifact.digest())),
    ))
}

/// Call sigstore-verify with the cheapest artifact form that suffices: the digest we
/// already have, or, when the bundle needs another digest (sha512 subjects, P-384
/// keys) or the raw bytes (Ed25519), the file again as a stream.
fn run_library(
    trust: &Trust,
    artifact: &Artifact,
    evidence: &Evidence,
    policy: &(impl Policy + ?Sized),
) -> Result<sigstore_verify::VerificationResult> {
    let verifier = trust.verifier();
    let needs_stream = artifact.path().is_some() && evidence.statement.as_ref().is_some_and(|s| !s.has_sha256_subject());
    let first = if needs_stream { None } else { Some(verifier.verify(artifact.digest().clone(), &evidence.bundle, policy)) };
    let result = match (first, artifact.path()) {
        (Some(Err(sigstore_verify::Error::UnsupportedArtifact(_))), Some(path)) | (None, Some(path)) => {
            let file = crate::evidence::open_file(path)?;
            verifier.verify_reader(std::io::BufReader::new(file), &evidence.bundle, policy)
        }
        // A bare digest the bundle cannot be checked against: a message signature's log
        // entry records the artifact's sha256, so `sha384:`/`sha512:` cannot stand in.
        (Some(Err(sigstore_verify::Error::UnsupportedArtifact(why))), None) => {
            return Err(Error::verify(
                Stage::Artifact,
                format!(
                    "this bundle cannot be checked against {}: {why}; pass the file, or the digest the bundle records",
                    digest_string(artifact.digest())
                ),
            ))
        }
        (Some(result), _) => result,
        (None, None) => return Err(Error::verify(Stage::Artifact, "no artifact digest to verify against")),
    };
    result.map_err(map_library_error)
}

fn map_library_error(e: sigstore_verify::Error) -> Error {
    use sigstore_verify::Error as E;
    let stage = match &e {
        E::IdentityMismatch { .. } | E::IssuerMismatch { .. } => Stage::Certificate,
        E::SignatureInvalid(_) => Stage::Signature,
        E::ArtifactMismatch(_) | E::UnsupportedArtifact(_) | E::ArtifactRead(_) => Stage::Artifact,
        E::Certificate(sigstore_verify::CertificateError::Sct(_)) => Stage::Sct,
        E::Certificate(_) | E::TrustedCertificate(_) => Stage::Certificate,
        E::TransparencyLog(_) => Stage::Tlog,
        E::Timestamp(_) => Stage::Timestamp,
        E::InvalidTrustRoot(_) | E::TrustRoot(_) => Stage::TrustedRoot,
        _ => Stage::Bundle,
    };
    let message = match stage {
        Stage::Certificate => humanize_chain_error(&e.to_string()),
        _ => e.to_string(),
    };
    Error::verify(stage, message)
}

/// webpki's chain errors are Rust debug output; say what they mean, with times in RFC 3339.
fn humanize_chain_error(message: &str) -> String {
    let times: Vec<String> = message
        .split("UnixTime(")
        .skip(1)
        .filter_map(|rest| rest.split(')').next()?.parse::<i64>().ok())
        .filter_map(|secs| jiff::Timestamp::from_second(secs).ok())
        .map(crate::claims::rfc3339)
        .collect();
    let text = if let (true, [at, until]) = (message.contains("CertExpired"), times.as_slice()) {
        format!("the certificate had expired when it was used: signed at {at}, valid until {until}")
    } else if let (true, [at, from]) = (message.contains("CertNotValidYet"), times.as_slice()) {
        format!("the certificate was not yet valid when it was used: signed at {at}, valid from {from}")
    } else if message.contains("UnknownIssuer") {
        "the certificate was not issued by a certificate authority of the trusted root".to_string()
    } else {
        return message.to_string();
    };
    format!("{text} ({message})")
}

#[cfg(test)]
mod tests {
    #[test]
    fn chain_errors_read_as_sentences() {
        let m = super::humanize_chain_error(
            "certificate chain validation failed: CertExpired { time: UnixTime(1700000600), not_after: UnixTime(1700000000) }",
        );
        assert!(
            m.starts_with("the certificate had expired when it was used: signed at 2023-11-14T22:23:20Z, valid until 2023-11-14T22:13:20Z"),
            "{m}"
        );
        assert_eq!(super::humanize_chain_error("something else"), "something else");
    }
}
