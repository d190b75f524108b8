//! Typed errors. Every error and every reason a subject failed carries a [`Code`]: a
//! stable name (shown to users, matched by policies and reports), a hint, and the exit
//! class it belongs to. The CLI renders them as miette diagnostics; docs/cli.md lists
//! them all (a test checks that it does).

use std::path::PathBuf;

/// What a caller deciding an exit code does with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The invocation or configuration is wrong: nothing was judged (exit 2).
    Usage,
    /// The evidence was judged and rejected (exit 1).
    Rejected,
    /// Something outside our control failed (network, registry); retrying may help (exit 3).
    Infrastructure,
}

impl Class {
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Rejected => 1,
            Class::Usage => 2,
            Class::Infrastructure => 3,
        }
    }
}

/// The old name of [`Class`].
pub type ErrorKind = Class;

macro_rules! codes {
    ($($variant:ident = $name:literal, $class:ident, $hint:literal;)*) => {
        /// Every diagnostic code vouch emits.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant),* }

        impl Code {
            /// Every code, in the order docs/cli.md lists them.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable name, e.g. `vouch::verify::tlog`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => concat!("vouch::", $name)),* }
            }

            /// A one-line suggestion of what to do about it.
            pub fn hint(self) -> &'static str {
                match self { $(Code::$variant => $hint),* }
            }

            /// The exit class an error with this code belongs to.
            pub fn class(self) -> Class {
                match self { $(Code::$variant => Class::$class),* }
            }
        }
    };
}

codes! {
    Io = "io", Usage, "check that the file exists and is readable";
    UsageTooLarge = "usage::too-large", Usage, "a trusted root, key, manifest or report this large is not one vouch or Sigstore writes; check the path";
    UsageIdentity = "usage::identity", Usage, "keyless verification needs --certificate-identity (or --certificate-identity-regexp) and --certificate-oidc-issuer (or --certificate-oidc-issuer-regexp); key-based needs --key";
    UsageDigest = "usage::digest", Usage, "write a digest as sha256:<64 hex digits>";
    UsageArtifact = "usage::artifact", Usage, "pass the artifact file as the first argument";
    UsagePlatform = "usage::platform", Usage, "--gitlab-instance takes an https:// URL (https://gitlab.example.com); --github-host a host name (acme.ghe.com, github.example.com)";
    UsageEffectiveTime = "usage::effective-time", Usage, "write the time as RFC 3339 in UTC, e.g. 2026-01-31T12:00:00Z";
    UsageImage = "usage::image", Usage, "write an image as REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST";
    UsageShard = "usage::shard", Usage, "write --shard I/N with 1 <= I <= N <= 10000, e.g. --shard \"$CI_NODE_INDEX/$CI_NODE_TOTAL\"";
    UsageFormat = "usage::format", Usage, "formats: text, json, junit, sarif, markdown, gitlab-codequality, html; --format F for stdout, --output F=PATH for a file";
    UsageSubjects = "usage::subjects", Usage, "give a manifest, or subjects as flags (--image REF, --blob GLOB, --package npm:NAME@VERSION, --lockfile FILE)";
    UsagePolicy = "usage::policy", Usage, "pass the policies to explain with --policy DIR";
    UsageAttestations = "usage::attestations", Usage, "write an attestation source as gitlab:https://INSTANCE/GROUP/PROJECT (or gitlab:GROUP/PROJECT on gitlab.com, or a project id) or github:OWNER[/REPO] (github:https://HOST/OWNER[/REPO] for GHE); see docs/attestations.md";
    UsagePackage = "usage::package", Usage, "write a package as npm:NAME@VERSION (npm:@scope/name@1.2.3) or pypi:PROJECT==VERSION/FILENAME; registries are https:// URLs (http on loopback only); see docs/packages.md";
    PackageLockfile = "package::lockfile", Usage, "give a package-lock.json / npm-shrinkwrap.json (lockfileVersion 2 or 3) or a requirements.txt whose every requirement is NAME==VERSION with --hash=sha256:…";
    TrustRoot = "trust::root", Usage, "pass a Sigstore TrustedRoot JSON (trusted_root.json) with --trusted-root, or omit it to use the embedded production root (--staging for staging)";
    TrustTufSetup = "trust::tuf-setup", Usage, "pin a private mirror's first root (--root FILE or --root-checksum SHA256; the manifest's `tuf:`), or run `vouch trust update` first (without --offline)";
    TrustKey = "trust::key", Usage, "pass a PEM-encoded public key (-----BEGIN PUBLIC KEY-----)";
    Manifest = "manifest", Usage, "see docs/manifest.md for the manifest's keys";
    PolicyIo = "policy::io", Usage, "check the --policy path";
    PolicyParse = "policy::parse", Usage, "policies are Rego v1: rules need `if`, sets use `contains` (see docs/policies.md)";
    PolicyCompile = "policy::compile", Usage, "fix the rule; `vouch test DIR` runs the policy's tests";
    PolicyData = "policy::data", Usage, "data files must be JSON (.json) or YAML (.yaml, .yml) documents whose top level is an object";
    PolicyPackage = "policy::package", Usage, "vouch evaluates `deny` and `warn` in packages under `vouch.` (e.g. `package vouch.release`)";
    PolicySchema = "policy::schema", Usage, "a config.schema.json is JSON Schema of the subset in docs/policies.md#configuration-schemas, beside the .rego of one vouch.* package";
    PolicyConfig = "policy::config", Usage, "fix the configuration; the keys each bundled package takes are in docs/policies.md";
    PolicyNoSignerDecision = "policy::no-signer-decision", Usage, "say who may sign: identity flags (--certificate-identity/-regexp with --certificate-oidc-issuer/-regexp), --key, `identities` in the manifest, or configure a package that judges signers (config.gitlab or config.github; config.ecosystems for npm and PyPI packages)";
    PolicyNondeterministic = "policy::nondeterministic", Usage, "a gate must give the same answer for the same input: use input.context.effective_time / time.now_ns() (the effective time) instead, and no randomness or network";
    PolicyUnconfigured = "policy::unconfigured", Usage, "configure the package (its keys are in docs/policies.md), or do not load it";
    ReportMerge = "report::merge", Usage, "give `vouch report merge` the JSON report of every shard of one run (--shard 1/N … N/N), each exactly once";
    ReportRead = "report::read", Usage, "give the JSON reports `vouch check --output json=PATH` wrote, with this version of vouch (to `vouch report merge`, `vouch report diff` or --previous-report)";
    RegistryUnauthorized = "registry::unauthorized", Usage, "give credentials: VOUCH_REGISTRY_USERNAME/VOUCH_REGISTRY_PASSWORD, CI_REGISTRY_USER/CI_REGISTRY_PASSWORD (GitLab CI, for $CI_REGISTRY), or `docker login` (config.json in $DOCKER_CONFIG or ~/.docker)";
    AttestUnauthorized = "attest::unauthorized", Usage, "give the API a token that can read the project: GITLAB_TOKEN (for $GITLAB_HOST, default gitlab.com) or CI_JOB_TOKEN (for $CI_SERVER_URL), GITHUB_TOKEN; or --gitlab-token-file / --github-token-file";
    UsageVsa = "usage::vsa", Usage, "write verification summaries with --vsa DIR and --vsa-key PRIVATE.pem or --vsa-keyless (SIGSTORE_ID_TOKEN); reuse them with --reuse-vsa DIR --vsa-signer key:PUBLIC.pem or --vsa-signer IDENTITY --vsa-signer-issuer ISSUER (docs/reviews.md)";
    WaiverConfig = "waiver::config", Usage, "fix the waiver file (docs/reviews.md#waivers): each waiver needs id, package, rule, applies_to, owner, reason and expires_on, and may only waive a loaded package's findings";
    PackageUnauthorized = "package::unauthorized", Usage, "give the registry a token: //HOST/PATH/:_authToken=… in the .npmrc passed with --npmrc (${NPM_TOKEN} is read from the environment)";
    BundleJson = "bundle::json", Rejected, "pass a Sigstore bundle (cosign sign-blob --bundle, *.sigstore.json) or a cosign bundle ({\"base64Signature\",\"cert\",\"rekorBundle\"})";
    BundleFormat = "bundle::format", Rejected, "pass a Sigstore bundle (cosign sign-blob --bundle, *.sigstore.json) or a cosign bundle ({\"base64Signature\",\"cert\",\"rekorBundle\"})";
    BundleMediaType = "bundle::media-type", Rejected, "vouch reads Sigstore bundles v0.1, v0.2 and v0.3";
    BundleCosign = "bundle::cosign", Rejected, "re-create the bundle with `cosign sign-blob --bundle`; a cosign bundle needs base64Signature, cert and rekorBundle";
    BundleInconsistent = "bundle::inconsistent", Rejected, "the bundle has been modified or assembled from parts of different signatures; do not trust it";
    BundleStatement = "bundle::statement", Rejected, "the DSSE payload must be an in-toto statement (v0.1 or v1) whose subjects name the artifact";
    LimitSize = "limit::size", Rejected, "evidence this large is not something Sigstore produces; do not trust it";
    LimitCount = "limit::count", Rejected, "this is more evidence than any signing process writes; the image may be under attack";
    VerifyBundle = "verify::bundle", Rejected, "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)";
    VerifyCertificate = "verify::certificate", Rejected, "the signing certificate does not chain to the trusted root at signing time; check --trusted-root / --staging";
    VerifySct = "verify::sct", Rejected, "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)";
    VerifySignature = "verify::signature", Rejected, "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)";
    VerifyArtifact = "verify::artifact", Rejected, "check that you are verifying the file (or digest) this bundle was made for";
    VerifyTlog = "verify::tlog", Rejected, "the transparency log evidence does not verify against the trusted root; the bundle may be tampered with or from another Sigstore instance";
    VerifyTimestamp = "verify::timestamp", Rejected, "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)";
    VerifyTrustedRoot = "verify::trusted-root", Rejected, "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)";
    VerifyIdentity = "verify::identity", Rejected, "check --certificate-identity / --certificate-identity-regexp against the identity printed by `vouch claims`";
    VerifyIssuer = "verify::issuer", Rejected, "check --certificate-oidc-issuer against the issuer printed by `vouch claims` (self-managed GitLab has its own issuer)";
    VerifyNone = "verify::none", Rejected, "sign it (cosign sign / cosign sign-blob --bundle), or check that you are looking at the right artifact";
    TrustTuf = "trust::tuf", Rejected, "the TUF repository's metadata did not verify (bad signature, threshold not met, rollback, expired, or a target that does not match); the cache was not changed: check the mirror, and do not trust what it serves";
    ClaimsCertificate = "claims::certificate", Rejected, "the signing certificate is malformed; do not trust this bundle";
    PolicyEval = "policy::eval", Rejected, "a rule errored for this subject, so the subject fails; `vouch explain` shows the input it saw";
    PolicyNoAcceptedSigner = "policy::no-accepted-signer", Rejected, "the configured signer policies accepted none of the signatures; `vouch explain` shows each policy's `accepted` set and its findings";
    PolicyDeny = "policy::deny", Rejected, "a policy denied the subject; the reason's code is the rule's own (or PACKAGE.deny); `vouch explain` shows the rule";
    PolicyWarn = "policy::warn", Rejected, "a policy warned and --fail-on-warn makes that a failure";
    ImageNotFound = "image::not-found", Rejected, "check the reference; nothing was verified";
    RegistryNotFound = "registry::not-found", Rejected, "the registry does not have what the image's manifest names; nothing was verified";
    RegistryInvalid = "registry::invalid", Rejected, "the registry's answer breaks the OCI protocol (wrong digest, too large, not JSON); do not trust this image";
    AttestNotFound = "attest::not-found", Rejected, "check the project path or id (gitlab:https://INSTANCE/GROUP/PROJECT), that the token may read it, and that its Attestations API is on (GitLab 18.7+)";
    AttestInvalid = "attest::invalid", Rejected, "the attestation API's answer contradicts itself or the signed bundle (another digest, another predicate type, not JSON); do not trust it";
    AttestLocalCa = "attest::local-ca", Rejected, "GitLab's local_ca attestations are signed by the project's own CA: pin the CAs you trust for that project with --local-ca gitlab:INSTANCE/PROJECT=sha256:FINGERPRINT (or =FILE; `local_ca:` in a manifest); see docs/attestations.md#gitlab-local_ca";
    AttestOrigin = "attest::origin", Rejected, "the API served an attestation signed for another project or owner than the one asked; do not trust it, and check the source you named";
    PackageNotFound = "package::not-found", Rejected, "the registry does not have this package version (or file); check the name, version and registry (--npm-registry, .npmrc scopes, --pypi-index)";
    PackageInvalid = "package::invalid", Rejected, "the registry's answer contradicts itself or breaks its protocol (not JSON, missing fields, another package's data); do not trust it";
    PackageIntegrity = "package::integrity", Rejected, "the lockfile's digest and the registry's differ: the package was republished or the lockfile was edited; regenerate the lockfile from a registry you trust and compare";
    PackageSignature = "package::signature", Rejected, "the registry signature does not verify (unknown key, a key expired when the version was published, or a bad signature): do not install it";
    PackageSignatureMissing = "package::signature-missing", Rejected, "the registry signs its packages but not this one: it may come from a mirror that rewrote it; do not install it";
    PackageAttestation = "package::attestation", Rejected, "the attestation is for another package, version or file than the one it was served for; do not trust it";
    PackagePublisher = "package::publisher", Rejected, "the attestation's signer is not the Trusted Publisher the index lists for it; do not trust it";
    PackageUnjudgeable = "package::unjudgeable", Rejected, "a git, file or URL dependency has no registry signature or provenance to judge: publish it to a registry, or leave it out of the lockfile subjects";
    CheckNoMatch = "check::no-match", Rejected, "check the glob (it is relative to the manifest's folder) and that the build wrote its files";
    CheckGlob = "check::glob", Rejected, "write a glob: *, ?, [..], {a,b} and ** for folders";
    TrustTufUnreachable = "trust::tuf-unreachable", Infrastructure, "the TUF mirror could not be reached; the last good cache is kept, retry later (or verify with --offline)";
    RegistryUnreachable = "registry::unreachable", Infrastructure, "the registry could not be asked; nothing was judged for this image, and retrying later may help";
    RegistryRateLimited = "registry::rate-limited", Infrastructure, "the registry could not be asked; nothing was judged for this image, and retrying later may help";
    RegistryServer = "registry::server", Infrastructure, "the registry could not be asked; nothing was judged for this image, and retrying later may help";
    AttestUnreachable = "attest::unreachable", Infrastructure, "the attestation API could not be asked; nothing was judged for this subject, and retrying later may help";
    AttestRateLimited = "attest::rate-limited", Infrastructure, "the attestation API kept rate-limiting (429, or GitHub's x-ratelimit-remaining: 0); use a token (higher limits) or retry later";
    AttestServer = "attest::server", Infrastructure, "the attestation API kept failing (5xx); nothing was judged for this subject, and retrying later may help";
    VsaSign = "vsa::sign", Infrastructure, "the summaries could not be signed (Fulcio or Rekor unreachable, the token refused); the report was written; retry, or sign with --vsa-key";
    PackageUnreachable = "package::unreachable", Infrastructure, "the package registry could not be asked; nothing was judged for this package, and retrying later may help";
    PackageRateLimited = "package::rate-limited", Infrastructure, "the package registry kept rate-limiting (429); retry later, or use a token";
    PackageServer = "package::server", Infrastructure, "the package registry kept failing (5xx); nothing was judged for this package, and retrying later may help";
    Runtime = "runtime", Infrastructure, "the machine refused threads or sockets for the registry client; nothing was judged, retrying may help";
}

impl Code {
    /// The code with this name (`vouch::…`), if vouch has one.
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a subject failed (or a piece of its evidence did not verify): a [`Code`], and for
/// policy findings the rule's own code (`gitlab.ref`, or `PACKAGE.deny`), which is what
/// reports show as the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: Code,
    pub rule_code: Option<String>,
    pub message: String,
    /// A policy finding's `title` and `solution` (what the rule checks, how to fix it).
    pub title: Option<String>,
    pub solution: Option<String>,
    /// A policy finding's package and `term` (what waivers match; not reported).
    pub package: Option<String>,
    pub term: Option<String>,
}

impl Reason {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Reason { code, rule_code: None, message: message.into(), title: None, solution: None, package: None, term: None }
    }

    pub fn of(error: &Error) -> Self {
        Reason::new(error.code(), error.to_string())
    }

    /// A policy finding that fails the subject.
    pub fn finding(code: Code, rule_code: String, message: String) -> Self {
        Reason { code, rule_code: Some(rule_code), message, title: None, solution: None, package: None, term: None }
    }

    /// The policy package (and term) a finding came from.
    pub fn from_package(mut self, package: &str, term: Option<String>) -> Self {
        self.package = Some(package.to_string());
        self.term = term;
        self
    }

    /// With the rule's title and solution, for reports people act on.
    pub fn with_help(mut self, title: Option<String>, solution: Option<String>) -> Self {
        self.title = title;
        self.solution = solution;
        self
    }

    /// The code reports show: the rule's own for findings, else vouch's.
    pub fn shown_code(&self) -> &str {
        self.rule_code.as_deref().unwrap_or(self.code.as_str())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Reason", 4)?;
        st.serialize_field("code", self.shown_code())?;
        st.serialize_field("message", &self.message)?;
        if let Some(title) = &self.title {
            st.serialize_field("title", title)?;
        }
        if let Some(solution) = &self.solution {
            st.serialize_field("solution", solution)?;
        }
        st.end()
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Shape {
            code: String,
            message: String,
            #[serde(default)]
            title: Option<String>,
            #[serde(default)]
            solution: Option<String>,
        }
        let Shape { code, message, title, solution } = Shape::deserialize(d)?;
        Ok(match Code::parse(&code) {
            Some(code) => Reason::new(code, message),
            None => Reason::finding(Code::PolicyDeny, code, message),
        }
        .with_help(title, solution))
    }
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

    /// Any other invocation that cannot be run, with its own code.
    #[error("{message}")]
    Usage { code: Code, message: String },

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
    Tuf(crate::trust::tuf::TufError),

    /// An attestation API's failure, or an answer it gave that cannot be trusted.
    #[error("{0}")]
    Attest(crate::evidence::api::ApiError),

    #[error("cannot start the registry client's runtime: {0}")]
    Runtime(String),

    #[error("{0}")]
    Limit(String),

    #[error("{0}")]
    Manifest(crate::policy::PolicyError),

    /// An error reported for several subjects at once (duplicates share their work).
    #[error("{message}")]
    Shared { code: Code, message: String },
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

impl Stage {
    fn code(self) -> Code {
        match self {
            Stage::Bundle => Code::VerifyBundle,
            Stage::Certificate => Code::VerifyCertificate,
            Stage::Sct => Code::VerifySct,
            Stage::Signature => Code::VerifySignature,
            Stage::Artifact => Code::VerifyArtifact,
            Stage::Tlog => Code::VerifyTlog,
            Stage::Timestamp => Code::VerifyTimestamp,
            Stage::TrustedRoot => Code::VerifyTrustedRoot,
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

    pub fn usage(code: Code, message: impl Into<String>) -> Self {
        Error::Usage { code, message: message.into() }
    }

    /// Its stable diagnostic code.
    pub fn code(&self) -> Code {
        match self {
            Error::Io { .. } => Code::Io,
            // Evidence over its limit is rejected; a configuration file over its limit is
            // a usage error.
            Error::TooLarge { what, .. } if *what == "bundle" => Code::LimitSize,
            Error::TooLarge { .. } => Code::UsageTooLarge,
            Error::TrustedRoot { .. } => Code::TrustRoot,
            Error::PublicKey { .. } => Code::TrustKey,
            Error::IdentityFlag(_) => Code::UsageIdentity,
            Error::Usage { code, .. } => *code,
            Error::DigestInput { .. } => Code::UsageDigest,
            Error::Platform(_) => Code::UsagePlatform,
            Error::Merge(_) => Code::ReportMerge,
            Error::BundleJson(_) => Code::BundleJson,
            Error::BundleFormat(_) => Code::BundleFormat,
            Error::BundleMediaType(_) => Code::BundleMediaType,
            Error::CosignBundle(_) => Code::BundleCosign,
            Error::BundleInconsistent(_) => Code::BundleInconsistent,
            Error::Statement(_) => Code::BundleStatement,
            Error::Verification(f) => f.stage.code(),
            Error::IdentityMismatch { .. } => Code::VerifyIdentity,
            Error::IssuerMismatch { .. } => Code::VerifyIssuer,
            Error::Certificate(_) => Code::ClaimsCertificate,
            Error::NeedArtifact(_) => Code::UsageArtifact,
            Error::Policy(e) => e.code(),
            Error::PolicyEval(_) => Code::PolicyEval,
            Error::EffectiveTime(_) => Code::UsageEffectiveTime,
            Error::ImageReference { .. } => Code::UsageImage,
            Error::ImageNotFound(_) => Code::ImageNotFound,
            Error::Registry(e) => e.kind.code(),
            Error::Tuf(e) => match e.fault {
                crate::trust::tuf::Fault::Network => Code::TrustTufUnreachable,
                crate::trust::tuf::Fault::Rejected => Code::TrustTuf,
                crate::trust::tuf::Fault::Setup => Code::TrustTufSetup,
            },
            Error::Attest(e) => e.code,
            Error::Runtime(_) => Code::Runtime,
            Error::Limit(_) => Code::LimitCount,
            Error::Manifest(_) => Code::Manifest,
            Error::Shared { code, .. } => *code,
        }
    }

    /// A one-line suggestion of what to do about it.
    pub fn hint(&self) -> &'static str {
        self.code().hint()
    }

    /// Its exit class: always its code's.
    pub fn kind(&self) -> Class {
        self.code().class()
    }

    /// The same code and message, for each subject an error concerns (duplicates share
    /// their work, planning errors repeat).
    pub fn shared(&self) -> Error {
        Error::Shared { code: self.code(), message: self.to_string() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
