//! Evidence formats: Sigstore bundles v0.1–v0.3, cosign 2.x legacy blob bundles, and
//! the in-toto statements inside DSSE envelopes. Everything is normalised to a
//! [`sigstore_types::Bundle`] so that one verification core judges all of it.

pub mod api;
mod artifact;
pub mod cosign;
pub mod packages;
pub mod statement;

use std::path::Path;

use sigstore_types::{Bundle, MediaType, SignatureContent, VerificationMaterialContent};

use crate::error::{Error, Result};
pub(crate) use artifact::open_file;
pub use artifact::{digest_string, Artifact, ArtifactInput};
pub use statement::InTotoStatement;

/// Sigstore bundles are a few KiB; cap what we parse so a hostile file cannot
/// exhaust memory (large DSSE payloads such as SBOM attestations fit well inside).
pub const MAX_BUNDLE_BYTES: u64 = 32 << 20;

/// Where a bundle came from, as it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BundleFormat {
    /// A Sigstore bundle (`mediaType` application/vnd.dev.sigstore.bundle…).
    Sigstore,
    /// A cosign 2.x `sign-blob --bundle` file, translated into a v0.1 bundle.
    CosignLegacy,
    /// A package registry's signature (npm's `dist.signatures`), not a bundle.
    RegistrySignature,
}

/// A parsed piece of evidence, ready for verification.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub bundle: Bundle,
    pub format: BundleFormat,
    /// The media type as written in the file (cosign bundles: the v0.1 type they map to).
    pub media_type: String,
    /// The in-toto statement of a DSSE bundle, parsed and checked.
    pub statement: Option<InTotoStatement>,
    /// The SHA-256 of the file it was read from (a VSA's `inputAttestations`).
    pub sha256: Option<String>,
}

impl Evidence {
    pub fn is_dsse(&self) -> bool {
        matches!(self.bundle.content, SignatureContent::DsseEnvelope(_))
    }
}

pub fn load_bundle(path: &Path) -> Result<Evidence> {
    let bytes = crate::trust::read_limited(path, "bundle", MAX_BUNDLE_BYTES)?;
    parse_bundle(&bytes)
}

/// Parse a bundle file's bytes: a Sigstore bundle or a cosign legacy bundle.
pub fn parse_bundle(bytes: &[u8]) -> Result<Evidence> {
    let mut evidence = parse_bundle_bytes(bytes)?;
    evidence.sha256 = Some(sigstore_verify::crypto::sha256(bytes).to_hex());
    Ok(evidence)
}

fn parse_bundle_bytes(bytes: &[u8]) -> Result<Evidence> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(Error::BundleFormat(format!("{} bytes is over the {MAX_BUNDLE_BYTES}-byte bundle limit", bytes.len())));
    }
    // A cheap first pass decides the format without building a JSON tree.
    let probe: Probe = match serde_json::from_slice(bytes) {
        Ok(probe) => probe,
        Err(e) if e.is_data() => return Err(Error::BundleFormat("the JSON document is not an object".into())),
        Err(e) => return Err(Error::BundleJson(e.to_string())),
    };
    if probe.message_signature.is_some() && probe.dsse_envelope.is_some() {
        return Err(Error::BundleInconsistent("the bundle holds both a messageSignature and a dsseEnvelope".into()));
    }
    if let Some(media_type) = probe.media_type {
        let media_type = media_type.as_str().ok_or_else(|| Error::BundleFormat("mediaType is not a string".into()))?.to_string();
        if media_type.parse::<MediaType>().is_err() {
            return Err(Error::BundleMediaType(media_type));
        }
        let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| Error::BundleFormat(e.to_string()))?;
        from_bundle(bundle, BundleFormat::Sigstore, media_type)
    } else if probe.base64_signature.is_some() || probe.rekor_bundle.is_some() {
        let value = serde_json::from_slice(bytes).map_err(|e| Error::BundleJson(e.to_string()))?;
        cosign::parse_legacy(value)
    } else {
        Err(Error::BundleFormat("no mediaType (Sigstore bundle) and no base64Signature (cosign bundle)".into()))
    }
}

/// The top-level keys that tell the formats apart.
#[derive(serde::Deserialize)]
struct Probe {
    #[serde(rename = "mediaType")]
    media_type: Option<serde_json::Value>,
    #[serde(rename = "messageSignature")]
    message_signature: Option<serde::de::IgnoredAny>,
    #[serde(rename = "dsseEnvelope")]
    dsse_envelope: Option<serde::de::IgnoredAny>,
    #[serde(rename = "base64Signature")]
    base64_signature: Option<serde::de::IgnoredAny>,
    #[serde(rename = "rekorBundle")]
    rekor_bundle: Option<serde::de::IgnoredAny>,
}

/// A Fulcio chain is a leaf and one or two CAs.
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// Bundles carry one log entry (sometimes two during log migrations).
pub const MAX_TLOG_ENTRIES: usize = 10;
pub const MAX_RFC3161_TIMESTAMPS: usize = 10;
/// An in-toto statement (even an SBOM) fits in this.
pub const MAX_DSSE_PAYLOAD_BYTES: usize = 16 << 20;

fn check_limits(bundle: &Bundle) -> Result<()> {
    let over = |what: &str, n: usize, limit: usize| Error::BundleFormat(format!("the bundle has {n} {what}, over the limit of {limit}"));
    if let VerificationMaterialContent::X509CertificateChain { certificates } = &bundle.verification_material.content {
        if certificates.len() > MAX_CHAIN_CERTIFICATES {
            return Err(over("certificates in its chain", certificates.len(), MAX_CHAIN_CERTIFICATES));
        }
    }
    let entries = bundle.verification_material.tlog_entries.len();
    if entries > MAX_TLOG_ENTRIES {
        return Err(over("transparency log entries", entries, MAX_TLOG_ENTRIES));
    }
    let stamps = bundle.verification_material.timestamp_verification_data.rfc3161_timestamps.len();
    if stamps > MAX_RFC3161_TIMESTAMPS {
        return Err(over("RFC 3161 timestamps", stamps, MAX_RFC3161_TIMESTAMPS));
    }
    if let SignatureContent::DsseEnvelope(envelope) = &bundle.content {
        if envelope.payload.as_bytes().len() > MAX_DSSE_PAYLOAD_BYTES {
            return Err(Error::BundleFormat(format!(
                "the DSSE payload is {} bytes, over the limit of {MAX_DSSE_PAYLOAD_BYTES}",
                envelope.payload.as_bytes().len()
            )));
        }
    }
    Ok(())
}

/// Structural checks that the library leaves to us, then the statement of a DSSE bundle.
pub(crate) fn from_bundle(bundle: Bundle, format: BundleFormat, media_type: String) -> Result<Evidence> {
    check_limits(&bundle)?;
    check_media_type_shape(&bundle)?;
    let statement = match &bundle.content {
        SignatureContent::DsseEnvelope(envelope) => Some(InTotoStatement::from_envelope(envelope)?),
        _ => None,
    };
    Ok(Evidence { bundle, format, media_type, statement, sha256: None })
}

/// The media type is not signed, so a rewritten one must not select weaker checks:
/// the shape of the material has to match the version it claims.
fn check_media_type_shape(bundle: &Bundle) -> Result<()> {
    let version = bundle.media_type();
    let single_certificate = matches!(bundle.verification_material.content, VerificationMaterialContent::Certificate(_));
    let rekor_v2 =
        bundle.verification_material.tlog_entries.iter().any(|e| e.kind_version == sigstore_types::KindVersion::HashedRekordV002);
    match version {
        MediaType::Bundle0_1 | MediaType::Bundle0_2 if single_certificate => Err(Error::BundleInconsistent(format!(
            "media type {version} claims an older bundle, but the material is a v0.3 single certificate"
        ))),
        MediaType::Bundle0_1 if rekor_v2 => {
            Err(Error::BundleInconsistent("a v0.1 bundle cannot hold a Rekor v2 (hashedrekord 0.0.2) entry".into()))
        }
        _ => Ok(()),
    }
}

impl Evidence {
    /// The artifact sha256 the bundle itself names (message digest, hashedrekord body,
    /// or the first sha256 statement subject). Used only when no artifact is given.
    pub fn claimed_sha256(&self) -> Option<sigstore_types::Sha256Hash> {
        use sigstore_types::HashAlgorithm;
        if let Some(statement) = &self.statement {
            return statement.subjects.iter().find_map(|s| s.sha256);
        }
        if let SignatureContent::MessageSignature(m) = &self.bundle.content {
            if let Some(d) = m.message_digest.as_ref().filter(|d| d.algorithm == HashAlgorithm::Sha2256) {
                return sigstore_types::Sha256Hash::try_from(d.digest.as_bytes()).ok();
            }
        }
        let entry = self.bundle.verification_material.tlog_entries.first()?;
        let body: serde_json::Value = serde_json::from_slice(entry.canonicalized_body.as_bytes()).ok()?;
        let hex = body.pointer("/spec/data/hash/value")?.as_str()?;
        sigstore_types::Sha256Hash::from_hex(hex).ok()
    }
}
