//! Typed errors. Every error has a stable code (shown to users, matched by policies and
//! reports) and a hint; the CLI renders them as miette diagnostics.

use std::path::PathBuf;

/// How an error should be treated by a caller deciding an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user's invocation or configuration is wrong: nothing was judged (exit 2).
    Usage,
    /// The evidence was judged and rejected (exit 1).
    Rejected,
    /// Something outside our control failed (network, registry); retrying may help (exit 3).
    Infrastructure,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is {size} bytes, over the {limit}-byte limit for {what}")]
    TooLarge { path: PathBuf, what: &'static str, size: u64, limit: u64 },

    #[error("trusted root {source_name} is unusable: {reason}")]
    TrustedRoot { source_name: String, reason: String },

    #[error("invalid public key {path}: {reason}")]
    PublicKey { path: PathBuf, reason: String },

    #[error("invalid identity requirement: {0}")]
    IdentityFlag(String),

    #[error("{0}")]
    Platform(String),

    #[error("{0}")]
    Merge(#[from] crate::report::MergeError),

    #[error("invalid artifact digest {input:?}: {reason}")]
    DigestInput { input: String, reason: String },

    #[error("bundle is not valid JSON: {0}")]
    BundleJson(String),

    #[error("not a Sigstore bundle: {0}")]
    BundleFormat(String),

    #[error("unsupported bundle media type {0:?}")]
    BundleMediaType(String),

    #[error("invalid cosign bundle: {0}")]
    CosignBundle(String),

    #[error("bundle fields contradict each other: {0}")]
    BundleInconsistent(String),

    #[error("invalid in-toto statement: {0}")]
    Statement(String),

    #[error("{0}")]
    Verification(#[from] VerifyFailure),

    #[error("identity mismatch: expected {expected}, certificate has {actual}")]
    IdentityMismatch { expected: String, actual: String },

    #[error("issuer mismatch: expected {expected}, certificate has {actual}")]
    IssuerMismatch { expected: String, actual: String },

    #[error("invalid certificate: {0}")]
    Certificate(String),

    #[error("{0}")]
    NeedArtifact(String),

    #[error("{0}")]
    Policy(#[from] crate::policy::PolicyError),

    #[error("{0}")]
    PolicyEval(#[from] crate::policy::EvalError),

    #[error("invalid --effective-time {0:?}: expected RFC 3339, e.g. 2026-01-31T12:00:00Z")]
    EffectiveTime(String),

    #[error("invalid image reference {input:?}: {reason}")]
    ImageReference { input: String, reason: String },

    #[error("{0}")]
    ImageNotFound(String),

    #[error("{0}")]
    Registry(crate::oci::OciError),

    #[error("{0}")]
    Limit(String),

    #[error("{0}")]
    Manifest(crate::policy::PolicyError),

    /// An error reported for several subjects at once (duplicates share their work).
    #[error("{message}")]
    Shared { code: String, message: String, kind: ErrorKind },
}

/// A failed cryptographic or structural check, with the stage that failed.
#[derive(Debug, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct VerifyFailure {
    pub stage: Stage,
    pub message: String,
}

/// The verification stage that failed; part of the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Bundle,
    Certificate,
    Sct,
    Signature,
    Artifact,
    Tlog,
    Timestamp,
    TrustedRoot,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Bundle => "bundle",
            Stage::Certificate => "certificate",
            Stage::Sct => "sct",
            Stage::Signature => "signature",
            Stage::Artifact => "artifact",
            Stage::Tlog => "tlog",
            Stage::Timestamp => "timestamp",
            Stage::TrustedRoot => "trusted-root",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Stage::Bundle => "invalid bundle",
            Stage::Certificate => "certificate verification failed",
            Stage::Sct => "certificate transparency (SCT) verification failed",
            Stage::Signature => "signature verification failed",
            Stage::Artifact => "artifact does not match the bundle",
            Stage::Tlog => "transparency log verification failed",
            Stage::Timestamp => "timestamp verification failed",
            Stage::TrustedRoot => "trusted root rejected",
        };
        f.write_str(text)
    }
}

impl Error {
    pub(crate) fn verify(stage: Stage, message: impl Into<String>) -> Self {
        Error::Verification(VerifyFailure { stage, message: message.into() })
    }

    /// Stable diagnostic code, e.g. `vouch::verify::tlog`.
    pub fn code(&self) -> String {
        let code = match self {
            Error::Io { .. } => "io",
            Error::TooLarge { .. } => "limit::size",
            Error::TrustedRoot { .. } => "trust::root",
            Error::PublicKey { .. } => "trust::key",
            Error::IdentityFlag(_) => "usage::identity",
            Error::DigestInput { .. } => "usage::digest",
            Error::Platform(_) => "usage::platform",
            Error::Merge(_) => "report::merge",
            Error::BundleJson(_) => "bundle::json",
            Error::BundleFormat(_) => "bundle::format",
            Error::BundleMediaType(_) => "bundle::media-type",
            Error::CosignBundle(_) => "bundle::cosign",
            Error::BundleInconsistent(_) => "bundle::inconsistent",
            Error::Statement(_) => "bundle::statement",
            Error::Verification(f) => return format!("vouch::verify::{}", f.stage.as_str()),
            Error::IdentityMismatch { .. } => "verify::identity",
            Error::IssuerMismatch { .. } => "verify::issuer",
            Error::Certificate(_) => "claims::certificate",
            Error::NeedArtifact(_) => "usage::artifact",
            Error::Policy(e) => return e.code().to_string(),
            Error::PolicyEval(_) => "policy::eval",
            Error::EffectiveTime(_) => "usage::effective-time",
            Error::ImageReference { .. } => "usage::image",
            Error::ImageNotFound(_) => "image::not-found",
            Error::Registry(e) => match e.kind {
                crate::oci::OciErrorKind::NotFound => "registry::not-found",
                crate::oci::OciErrorKind::Unauthorized => "registry::unauthorized",
                crate::oci::OciErrorKind::Unreachable => "registry::unreachable",
                crate::oci::OciErrorKind::RateLimited => "registry::rate-limited",
                crate::oci::OciErrorKind::Server => "registry::server",
                crate::oci::OciErrorKind::Invalid => "registry::invalid",
            },
            Error::Limit(_) => "limit::count",
            Error::Manifest(_) => "manifest",
            Error::Shared { code, .. } => return code.clone(),
        };
        format!("vouch::{code}")
    }

    /// A one-line suggestion of what to do about it.
    pub fn hint(&self) -> String {
        match self {
            Error::Io { what, .. } => format!("check that the {what} exists and is readable"),
            Error::TooLarge { what, .. } => format!("a {what} this large is not something Sigstore produces; check the path"),
            Error::TrustedRoot { .. } => "pass a Sigstore TrustedRoot JSON (trusted_root.json) with --trusted-root, or omit it to use the embedded production root (--staging for staging)".into(),
            Error::PublicKey { .. } => "pass a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)".into(),
            Error::IdentityFlag(_) => "keyless verification needs --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp); key-based needs --key".into(),
            Error::DigestInput { .. } => "write a digest as sha256:<64 hex digits>".into(),
            Error::Merge(_) => "give `vouch report merge` the JSON report of every shard of one run (--shard 1/N … N/N), each exactly once".into(),
            Error::Platform(_) => "--gitlab-instance takes an https:// URL (https://gitlab.example.com); --github-host a host name (acme.ghe.com, github.example.com)".into(),
            Error::BundleJson(_) | Error::BundleFormat(_) => "pass a Sigstore bundle (cosign sign-blob --bundle, *.sigstore.json) or a cosign bundle ({\"base64Signature\",\"cert\",\"rekorBundle\"})".into(),
            Error::BundleMediaType(_) => "vouch reads Sigstore bundles v0.1, v0.2 and v0.3".into(),
            Error::CosignBundle(_) => "re-create the bundle with `cosign sign-blob --bundle`; a cosign bundle needs base64Signature, cert and rekorBundle".into(),
            Error::BundleInconsistent(_) => "the bundle has been modified or assembled from parts of different signatures; do not trust it".into(),
            Error::Statement(_) => "the DSSE payload must be an in-toto statement (v0.1 or v1) whose subjects name the artifact".into(),
            Error::Verification(f) => match f.stage {
                Stage::Artifact => "check that you are verifying the file (or digest) this bundle was made for".into(),
                Stage::Certificate => "the signing certificate does not chain to the trusted root at signing time; check --trusted-root / --staging".into(),
                Stage::Tlog => "the transparency log evidence does not verify against the trusted root; the bundle may be tampered with or from another Sigstore instance".into(),
                _ => "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)".into(),
            },
            Error::IdentityMismatch { .. } => "check --certificate-identity / --certificate-identity-regexp against the identity printed by `vouch claims`".into(),
            Error::IssuerMismatch { .. } => "check --certificate-oidc-issuer against the issuer printed by `vouch claims` (self-managed GitLab has its own issuer)".into(),
            Error::Certificate(_) => "the signing certificate is malformed; do not trust this bundle".into(),
            Error::NeedArtifact(_) => "pass the artifact file as the first argument".into(),
            Error::Policy(e) => e.hint().into(),
            Error::PolicyEval(_) => "a rule errored for this subject, so the subject fails; `vouch explain` shows the input it saw".into(),
            Error::EffectiveTime(_) => "write the time as RFC 3339 in UTC, e.g. 2026-01-31T12:00:00Z".into(),
            Error::ImageReference { .. } => "write an image as REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST".into(),
            Error::ImageNotFound(_) => "check the reference; nothing was verified".into(),
            Error::Registry(e) if e.is_infrastructure() => "the registry could not be asked; nothing was judged for this image, and retrying later may help".into(),
            Error::Registry(e) if e.kind == crate::oci::OciErrorKind::Unauthorized => "give credentials: VOUCH_REGISTRY_USERNAME/VOUCH_REGISTRY_PASSWORD, CI_REGISTRY_USER/CI_REGISTRY_PASSWORD (GitLab CI, for $CI_REGISTRY), or `docker login` (config.json in $DOCKER_CONFIG or ~/.docker)".into(),
            Error::Registry(_) => "the registry's answer breaks the OCI protocol (wrong digest, too large, not JSON); do not trust this image".into(),
            Error::Limit(_) => "this is more evidence than any signing process writes; the image may be under attack".into(),
            Error::Manifest(_) => "see docs/manifest.md for the manifest's keys".into(),
            Error::Shared { .. } => "see docs/cli.md for the codes".into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Shared { kind, .. } => *kind,
            Error::Io { .. }
            | Error::TrustedRoot { .. }
            | Error::PublicKey { .. }
            | Error::IdentityFlag(_)
            | Error::DigestInput { .. }
            | Error::Platform(_)
            | Error::Merge(_)
            | Error::NeedArtifact(_)
            | Error::Policy(_)
            | Error::EffectiveTime(_)
            | Error::Manifest(_) => ErrorKind::Usage,
            Error::TooLarge { what, .. } if *what == "artifact" => ErrorKind::Usage,
            Error::ImageReference { .. } => ErrorKind::Usage,
            Error::Registry(e) if e.is_infrastructure() => ErrorKind::Infrastructure,
            // Missing or wrong credentials are configuration: nothing was judged.
            Error::Registry(e) if e.kind == crate::oci::OciErrorKind::Unauthorized => ErrorKind::Usage,
            _ => ErrorKind::Rejected,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
