//! The policy input document (docs/policy-input.schema.json): one per subject.
//!
//! A typed view that borrows the verified signatures; it serializes to the JSON that
//! `vouch explain` shows and, without JSON in between, to the regorus value that
//! policies read (value.rs).

use serde::Serialize;

use super::Context;
use crate::claims::Claims;
use crate::error::Reason;
use crate::verify::{SignatureKind, VerifiedSignature};

/// What is being judged. Serialized as `{"kind", "name", "digest": {"sha256": hex}}`
/// (`sha384`/`sha512` for a subject given by such a digest).
#[derive(Debug, Clone)]
pub struct SubjectInfo {
    /// `image`, `blob`, `digest` or `package`.
    pub kind: &'static str,
    pub name: String,
    /// `sha256`, `sha384` or `sha512`.
    pub algorithm: &'static str,
    pub hex: String,
    /// A package subject's facts (docs/packages.md).
    pub package: Option<PackageFacts>,
    /// What the registry answered inconsistently (not evidence, not in the policy input):
    /// warnings, which fail the subject under `--fail-on-warn` like a policy's.
    pub notes: Vec<Reason>,
}

impl SubjectInfo {
    pub fn new(kind: &'static str, name: String, digest: &sigstore_types::ArtifactDigest) -> Self {
        Self {
            kind,
            name,
            algorithm: digest.algorithm().as_rekor_str(),
            hex: hex::encode(digest.as_bytes()),
            package: None,
            notes: Vec::new(),
        }
    }
}

/// What the policy sees of a package: `input.subject.package`. The registry's own word
/// (publish time, earlier versions' provenance) is marked as such in docs/packages.md.
#[derive(Debug, Clone, Serialize)]
pub struct PackageFacts {
    /// `npm` or `pypi`.
    pub ecosystem: &'static str,
    pub name: String,
    pub version: String,
    /// npm's scope (`@acme`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// npm: the name it is installed as, when a lockfile aliases it (`node_modules/NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_as: Option<String>,
    /// PyPI: the file judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub purl: String,
    pub registry: String,
    /// `verified`, `missing` (the registry signs, but not this), `invalid`, or `none`
    /// (the registry signs nothing).
    pub registry_signature: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Whether a lockfile pinned its digest (and it agreed with the registry's).
    pub locked: bool,
    /// npm: the latest earlier version that had attestations, when this one has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance_before: Option<String>,
    /// Attestations served that did not verify (for the report's counts).
    #[serde(skip)]
    pub invalid_attestations: usize,
}

impl Serialize for SubjectInfo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            kind: &'a str,
            name: &'a str,
            digest: std::collections::BTreeMap<&'a str, &'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            package: Option<&'a PackageFacts>,
        }
        Shape { kind: self.kind, name: &self.name, digest: [(self.algorithm, self.hex.as_str())].into(), package: self.package.as_ref() }
            .serialize(serializer)
    }
}

/// One subject's policy input.
#[derive(Debug, Serialize)]
pub struct Input<'a> {
    pub subject: &'a SubjectInfo,
    pub signatures: Vec<SignatureInput<'a>>,
    /// The DSSE signatures again, statement first.
    pub attestations: Vec<AttestationInput<'a>>,
    pub verification_errors: &'a [Reason],
    pub context: ContextInput<'a>,
}

#[derive(Debug, Serialize)]
pub struct SignatureInput<'a> {
    pub kind: SignatureKind,
    pub bundle_media_type: &'a str,
    pub claims: &'a Option<Claims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_fingerprint_sha256: Option<&'a str>,
    /// A registry signature's key id (npm's `SHA256:…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_keyid: Option<&'a str>,
    /// DSSE only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<Option<&'a serde_json::Value>>,
    /// Whether its signer met the identity requirements and every configured signer
    /// policy: only accepted signatures should count for rules about the subject (age,
    /// provenance); the signer policies themselves judge every signature.
    pub signer_accepted: bool,
}

#[derive(Debug, Serialize)]
pub struct AttestationInput<'a> {
    pub predicate_type: Option<&'a str>,
    pub statement: Option<&'a serde_json::Value>,
    /// SLSA provenance's typed fields (docs/claims.md#provenance); absent for other predicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<&'a crate::claims::Provenance>,
    pub claims: &'a Option<Claims>,
    /// Its signature, by index into `signatures`.
    pub signature: usize,
    /// Whether its signer met the identity requirements and every configured signer
    /// policy; only then does it count.
    pub signer_accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_fingerprint_sha256: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct ContextInput<'a> {
    pub effective_time: String,
    pub shard: &'a str,
}

/// `accepted`: the signatures whose signers the configured signer policies accept; `None`
/// when every verified signature's signer is accepted (it met the identity requirements
/// at verification and no signer policy is configured).
pub fn build_input<'a>(
    subject: &'a SubjectInfo,
    signatures: &'a [VerifiedSignature],
    failures: &'a [Reason],
    context: &'a Context,
    accepted: Option<&std::collections::BTreeSet<usize>>,
) -> Input<'a> {
    let dsse = |s: &VerifiedSignature| s.kind == SignatureKind::Dsse;
    Input {
        subject,
        signatures: signatures
            .iter()
            .enumerate()
            .map(|(i, s)| SignatureInput {
                signer_accepted: accepted.is_none_or(|set| set.contains(&i)),
                kind: s.kind,
                bundle_media_type: &s.bundle_media_type,
                claims: &s.claims,
                key_fingerprint_sha256: s.key_fingerprint_sha256.as_deref(),
                registry_keyid: s.registry_keyid.as_deref(),
                predicate_type: dsse(s).then_some(s.predicate_type.as_deref()),
                statement: dsse(s).then_some(s.statement.as_ref()),
            })
            .collect(),
        attestations: signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| dsse(s))
            .map(|(i, s)| AttestationInput {
                predicate_type: s.predicate_type.as_deref(),
                statement: s.statement.as_ref(),
                provenance: s.provenance.as_ref(),
                claims: &s.claims,
                signature: i,
                signer_accepted: accepted.is_none_or(|set| set.contains(&i)),
                key_fingerprint_sha256: s.key_fingerprint_sha256.as_deref(),
            })
            .collect(),
        verification_errors: failures,
        context: ContextInput { effective_time: crate::claims::rfc3339(context.effective_time), shard: &context.shard },
    }
}
