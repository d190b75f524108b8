//! The command line, and its conversion to the engine's [`Request`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use vouch_engine::plan::{Detail, IdentityFlags, RegistryFlags, Request, SubjectRequest, TrustFlags};

#[derive(Parser)]
#[command(name = "vouch", version, about = "Verify Sigstore signatures and judge them with policies", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub out: Output,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// Verify a file (or a sha256: digest) against a Sigstore or cosign bundle, and judge it with policies.
    #[command(
        after_help = "Examples:\n  vouch verify-blob dist/app.tgz --bundle dist/app.tgz.sigstore.json \\\n    --certificate-identity 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main' --certificate-oidc-issuer https://gitlab.com\n  vouch verify-blob dist/app.tgz --bundle dist/app.tgz.sigstore.json --policy builtin --policy gate.yaml"
    )]
    VerifyBlob(VerifyBlob),
    /// Verify a container image's signatures and attestations in its registry, and judge them.
    #[command(after_help = "Example:\n  vouch verify-image registry.gitlab.com/acme/app:1.2.3 --policy builtin --policy gate.yaml")]
    VerifyImage(VerifyImage),
    /// The release gate: verify and judge a batch of images and files, in parallel, with reports for CI.
    #[command(
        after_help = "Examples:\n  vouch check vouch.yaml --output junit=vouch.xml --output gitlab-codequality=gl-code-quality.json\n  vouch check --blob 'dist/*.tgz' --policy builtin --policy gate.yaml --shard \"$CI_NODE_INDEX/$CI_NODE_TOTAL\""
    )]
    Check(Check),
    /// Work with JSON reports of `vouch check` (merge the shards of a sharded run).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the claims document a policy would see for a bundle's signer.
    #[command(after_help = "Example:\n  vouch claims --bundle dist/app.tgz.sigstore.json dist/app.tgz")]
    Claims(Claims),
    /// Show the policy input for a bundle and every deny/warn with the rule that produced it.
    #[command(
        after_help = "Example:\n  vouch explain --bundle dist/app.tgz.sigstore.json dist/app.tgz --policy builtin --policy gate.yaml --format text"
    )]
    Explain(Explain),
    /// Run the test_* rules of policies, like `opa test`.
    #[command(after_help = "Example:\n  vouch test builtin my-policies/ --coverage --threshold 90")]
    Test(Test),
    /// The bundled policy library (`--policy builtin`, `--policy builtin:NAME`).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Keep the trusted root fresh through TUF: fetch it into the cache, or show what a run would use.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Print a shell completion script: vouch completion bash > /etc/bash_completion.d/vouch
    Completion {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write man pages (vouch.1 and one per command) into a folder.
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Fetch the mirror's trusted_root.json (and signing_config) through TUF into the cache, and print what changed.
    #[command(
        after_help = "Examples:\n  vouch trust update\n  vouch trust update --mirror https://tuf.sigstore.example.com --root root.json\n  vouch trust update --mirror https://tuf.sigstore.example.com --root-checksum 5f1c…"
    )]
    Update(TrustUpdate),
    /// Print the trusted root a run would use: its source, TUF versions and expiry, and each key's validity window.
    #[command(after_help = "Examples:\n  vouch trust show\n  vouch trust show --offline --format json")]
    Show(TrustShow),
}

#[derive(Args)]
pub struct TrustUpdate {
    /// The TUF mirror (default: Sigstore's public-good one, or staging with --staging).
    #[arg(long, value_name = "URL", env = "VOUCH_TUF_MIRROR")]
    pub mirror: Option<String>,
    /// The mirror's first root, pinned (embedded for Sigstore's public instances).
    #[arg(long, value_name = "FILE", requires = "mirror")]
    pub root: Option<PathBuf>,
    /// The SHA-256 of the first root (of --root, or else of the mirror's 1.root.json).
    #[arg(long, value_name = "SHA256", requires = "mirror")]
    pub root_checksum: Option<String>,
    /// Sigstore's staging instance.
    #[arg(long, conflicts_with = "mirror")]
    pub staging: bool,
    /// The TUF cache folder (default: $XDG_CACHE_HOME/vouch, or ~/.cache/vouch).
    #[arg(long, value_name = "DIR", env = "VOUCH_CACHE_DIR")]
    pub cache: Option<PathBuf>,
    /// Seconds to wait for the mirror before giving up (exit 3).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

impl TrustUpdate {
    pub fn mirror(&self) -> vouch_engine::trust::tuf::Mirror {
        use vouch_engine::trust::tuf::Mirror;
        match &self.mirror {
            Some(url) => Mirror { root: self.root.clone(), root_checksum: self.root_checksum.clone(), ..Mirror::new(url) },
            None if self.staging => Mirror::staging(),
            None => Mirror::production(),
        }
    }
}

#[derive(Args)]
pub struct TrustShow {
    #[command(flatten)]
    pub trust: Trust,
}

impl TrustShow {
    pub fn flags(&self) -> TrustFlags {
        self.trust.flags()
    }
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// List the bundled packages, what configures them and their keys.
    List,
    /// Print a bundled package's Rego and configuration schema.
    Show {
        /// gitlab, github, signing_age, attestations, provenance or ecosystems.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// The same on every command.
#[derive(Args)]
pub struct Output {
    /// On stdout: text, json, junit, sarif, markdown, gitlab-codequality or html.
    #[arg(long, value_name = "FORMAT", global = true, env = "VOUCH_FORMAT")]
    pub format: Option<String>,
    /// Also write the report to a file: FORMAT=PATH (e.g. junit=vouch.xml); repeatable.
    #[arg(long, value_name = "FORMAT=PATH", global = true)]
    pub output: Vec<String>,
    /// The HTML report also shows what changed since this earlier JSON report.
    #[arg(long, value_name = "REPORT.json", global = true)]
    pub previous_report: Option<PathBuf>,
}

#[derive(Args)]
pub struct Trust {
    /// Sigstore TrustedRoot JSON for a private instance (or a ClientTrustConfig).
    #[arg(long, value_name = "FILE", conflicts_with = "staging", env = "VOUCH_TRUSTED_ROOT")]
    trusted_root: Option<PathBuf>,
    /// Use the embedded Sigstore staging root instead of production.
    #[arg(long)]
    staging: bool,
    /// A self-managed GitLab (its URL, which is its OIDC issuer) whose certificates get GitLab claims; repeatable.
    #[arg(long, value_name = "URL")]
    gitlab_instance: Vec<String>,
    /// A GHE.com tenant or GitHub Enterprise Server host whose Actions certificates get GitHub claims; repeatable.
    #[arg(long, value_name = "HOST")]
    github_host: Vec<String>,
    #[command(flatten)]
    tuf: Tuf,
}

/// Where a TUF-distributed trusted root comes from (docs/verification.md#where-trust-comes-from).
#[derive(Args, Clone)]
pub struct Tuf {
    /// The TUF mirror of a private Sigstore (default: Sigstore's public-good one, or staging with --staging).
    #[arg(long, value_name = "URL", env = "VOUCH_TUF_MIRROR", conflicts_with = "trusted_root")]
    tuf_mirror: Option<String>,
    /// The mirror's first root, pinned (Sigstore's public instances have theirs embedded).
    #[arg(long, value_name = "FILE", requires = "tuf_mirror")]
    tuf_root: Option<PathBuf>,
    /// The SHA-256 of the mirror's first root (of --tuf-root, or else of the mirror's 1.root.json).
    #[arg(long, value_name = "SHA256", requires = "tuf_mirror")]
    tuf_root_checksum: Option<String>,
    /// Never touch the network for trust: use the TUF cache even when it has expired (with a warning).
    #[arg(long, env = "VOUCH_OFFLINE", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    offline: Option<bool>,
    /// The TUF cache folder (default: $XDG_CACHE_HOME/vouch, or ~/.cache/vouch).
    #[arg(long, value_name = "DIR", env = "VOUCH_CACHE_DIR")]
    cache: Option<PathBuf>,
}

impl Tuf {
    fn mirror(&self) -> Option<vouch_engine::trust::tuf::Mirror> {
        self.tuf_mirror.as_deref().map(|url| vouch_engine::trust::tuf::Mirror {
            root: self.tuf_root.clone(),
            root_checksum: self.tuf_root_checksum.clone(),
            ..vouch_engine::trust::tuf::Mirror::new(url)
        })
    }
}

#[derive(Args)]
pub struct Identity {
    /// The exact certificate identity (SAN) the signer must have.
    #[arg(long, value_name = "ID")]
    certificate_identity: Option<String>,
    /// A regular expression the whole identity must match (always anchored).
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_identity")]
    certificate_identity_regexp: Option<String>,
    /// The exact OIDC issuer, e.g. https://gitlab.com or https://token.actions.githubusercontent.com.
    #[arg(long, value_name = "URL")]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the whole issuer must match (always anchored).
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_oidc_issuer")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Verify a key-signed bundle with this PEM public key instead of an identity.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// The GitHub event that triggered the signing workflow (certificate extension .2), e.g. push.
    #[arg(long, value_name = "EVENT")]
    certificate_github_workflow_trigger: Option<String>,
    /// The commit the signing workflow ran on (.3).
    #[arg(long, value_name = "SHA")]
    certificate_github_workflow_sha: Option<String>,
    /// The signing workflow's name (.4).
    #[arg(long, value_name = "NAME")]
    certificate_github_workflow_name: Option<String>,
    /// The repository of the signing workflow, OWNER/REPO (.5).
    #[arg(long, value_name = "OWNER/REPO")]
    certificate_github_workflow_repository: Option<String>,
    /// The git ref the signing workflow ran on (.6), e.g. refs/heads/main.
    #[arg(long, value_name = "REF")]
    certificate_github_workflow_ref: Option<String>,
}

#[derive(Args)]
pub struct Policy {
    /// A directory (or file) of Rego policies and JSON/YAML data; repeatable.
    #[arg(long, value_name = "DIR", env = "VOUCH_POLICY", value_delimiter = ',')]
    pub policy: Vec<PathBuf>,
    /// The time policies see as time.now_ns() (RFC 3339), for reproducible re-runs; default now.
    #[arg(long, value_name = "RFC3339")]
    effective_time: Option<String>,
    /// Fail a subject when a policy warns.
    #[arg(long)]
    fail_on_warn: bool,
    /// A waiver file: accepted policy findings with an owner, a reason and an expiry (docs/reviews.md); repeatable.
    #[arg(long, value_name = "FILE")]
    waivers: Vec<PathBuf>,
    /// Warn about waivers that expire within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    waivers_warn_days: u32,
}

#[derive(Args)]
pub struct Registry {
    /// A registry (host:port) that may be reached over plain HTTP (loopback ones always may); repeatable.
    #[arg(long, value_name = "HOST")]
    insecure_registry: Vec<String>,
    /// Seconds one registry request may take.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    registry_timeout: u64,
}

/// Attestations fetched from where they live (docs/attestations.md).
#[derive(Args)]
pub struct Attestations {
    /// Also fetch the subject's attestations by its sha256 from an API: gitlab:https://INSTANCE/GROUP/PROJECT
    /// (gitlab:GROUP/PROJECT on gitlab.com, or a project id), github:OWNER[/REPO] (github:https://HOST/OWNER[/REPO]); repeatable.
    #[arg(long, value_name = "SOURCE")]
    attestations: Vec<String>,
    /// A file holding the GitLab token for the gitlab: sources (default: GITLAB_TOKEN, or CI_JOB_TOKEN for $CI_SERVER_URL).
    #[arg(long, value_name = "FILE")]
    gitlab_token_file: Option<PathBuf>,
    /// A file holding the GitHub token for the github: sources (default: GITHUB_TOKEN).
    #[arg(long, value_name = "FILE")]
    github_token_file: Option<PathBuf>,
    /// Reach an instance's attestation API at another URL (a proxy or mirror): INSTANCE=API_ROOT, e.g.
    /// https://gitlab.com=https://gitlab-proxy.internal/api/v4; repeatable.
    #[arg(long, value_name = "INSTANCE=URL", env = "VOUCH_ATTESTATIONS_API", value_delimiter = ',')]
    attestations_api: Vec<String>,
    /// A GitLab project CA that a source's local_ca attestations may chain to: SOURCE=sha256:FINGERPRINT or SOURCE=FILE (PEM); repeatable.
    #[arg(long, value_name = "SOURCE=sha256:HEX|FILE")]
    local_ca: Vec<String>,
}

/// Where package subjects are fetched from (docs/packages.md).
#[derive(Args)]
pub struct Packages {
    /// npm's registry (default https://registry.npmjs.org, or the .npmrc's registry=).
    #[arg(long, value_name = "URL", env = "VOUCH_NPM_REGISTRY")]
    npm_registry: Option<String>,
    /// An .npmrc: registry=, @scope:registry=, //HOST/PATH/:_authToken=${TOKEN}.
    #[arg(long, value_name = "FILE")]
    npmrc: Option<PathBuf>,
    /// Pin the npm registry's signing keys (the JSON of /-/npm/v1/keys) instead of fetching them.
    #[arg(long, value_name = "FILE")]
    npm_keys: Option<PathBuf>,
    /// The PyPI index whose JSON and Integrity APIs are asked (default https://pypi.org).
    #[arg(long, value_name = "URL", env = "VOUCH_PYPI_INDEX")]
    pypi_index: Option<String>,
}

impl Packages {
    fn flags(&self) -> vouch_engine::plan::packages::RegistryFlags {
        vouch_engine::plan::packages::RegistryFlags {
            npm_registry: self.npm_registry.clone(),
            npmrc: self.npmrc.clone(),
            npm_keys: self.npm_keys.clone(),
            pypi_index: self.pypi_index.clone(),
        }
    }
}

/// Verification summaries (SLSA VSA v1) out and in (docs/reviews.md).
#[derive(Args)]
pub struct Summaries {
    /// Write a signed verification summary (SLSA VSA v1) per judged subject into DIR.
    #[arg(long, value_name = "DIR")]
    vsa: Option<PathBuf>,
    /// Sign the summaries with this PKCS#8 ECDSA P-256 private key (PEM).
    #[arg(long, value_name = "FILE")]
    vsa_key: Option<PathBuf>,
    /// Sign the summaries keyless: a Fulcio certificate for the job's OIDC token (SIGSTORE_ID_TOKEN), logged in Rekor.
    #[arg(long)]
    vsa_keyless: bool,
    /// The OIDC token for --vsa-keyless, from a file (default: SIGSTORE_ID_TOKEN).
    #[arg(long, value_name = "FILE")]
    vsa_identity_token: Option<PathBuf>,
    /// Fulcio for --vsa-keyless (default https://fulcio.sigstore.dev).
    #[arg(long, value_name = "URL")]
    vsa_fulcio_url: Option<String>,
    /// Rekor for --vsa-keyless (default https://rekor.sigstore.dev).
    #[arg(long, value_name = "URL")]
    vsa_rekor_url: Option<String>,
    /// Pass subjects that have a valid PASSED summary in DIR (same digest, policy, trusted root; accepted signer; young enough) without verifying them again.
    #[arg(long, value_name = "DIR")]
    reuse_vsa: Option<PathBuf>,
    /// How old a reused summary may be (s, m, h, d), measured from now.
    #[arg(long, value_name = "AGE", default_value = None)]
    vsa_max_age: Option<String>,
    /// Who may sign a reused summary: key:PUBLIC.pem, or an exact identity (with --vsa-signer-issuer); repeatable.
    #[arg(long, value_name = "key:FILE|IDENTITY")]
    vsa_signer: Vec<String>,
    /// The OIDC issuer of the keyless --vsa-signer identities.
    #[arg(long, value_name = "URL")]
    vsa_signer_issuer: Option<String>,
}

impl Summaries {
    fn flags(&self) -> vouch_engine::vsa::VsaFlags {
        vouch_engine::vsa::VsaFlags {
            out: self.vsa.clone(),
            key: self.vsa_key.clone(),
            keyless: self.vsa_keyless,
            identity_token: self.vsa_identity_token.clone(),
            fulcio_url: self.vsa_fulcio_url.clone(),
            rekor_url: self.vsa_rekor_url.clone(),
            reuse: self.reuse_vsa.clone(),
            max_age: self.vsa_max_age.clone(),
            signers: self.vsa_signer.clone(),
            signer_issuer: self.vsa_signer_issuer.clone(),
        }
    }
}

/// What every command that judges a signer takes.
#[derive(Args)]
pub struct Judging {
    #[command(flatten)]
    identity: Identity,
    #[command(flatten)]
    trust: Trust,
    #[command(flatten)]
    pub policy: Policy,
    #[command(flatten)]
    attestations: Attestations,
}

#[derive(Args)]
pub struct VerifyBlob {
    /// The artifact: a file path, `-` for stdin, or sha256:<hex> when only its digest is at hand.
    #[arg(value_name = "FILE|-|sha256:HEX")]
    input: String,
    /// A Sigstore bundle (v0.1–v0.3) or a cosign `sign-blob --bundle` file (or --attestations).
    #[arg(long, value_name = "FILE", required_unless_present = "attestations")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    pub j: Judging,
}

#[derive(Args)]
pub struct VerifyImage {
    /// REGISTRY/REPOSITORY:TAG (resolved to a digest once) or REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Judge this platform's manifest (os/arch[/variant]) of a multi-arch index instead of the index.
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    #[command(flatten)]
    pub j: Judging,
    #[command(flatten)]
    registry: Registry,
}

#[derive(Args)]
pub struct Check {
    /// A manifest (YAML) listing the subjects; see docs/manifest.md.
    #[arg(value_name = "MANIFEST")]
    manifest: Option<PathBuf>,
    /// An image to judge (besides or instead of a manifest); repeatable.
    #[arg(long, value_name = "REF")]
    image: Vec<String>,
    /// Files to judge, as a glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    blob: Vec<String>,
    /// Where a --blob's bundle is; {path} is the file.
    #[arg(long, value_name = "TEMPLATE", default_value = "{path}.sigstore.json")]
    bundle_template: String,
    /// A package in its registry: npm:NAME@VERSION or pypi:PROJECT==VERSION/FILENAME; repeatable.
    #[arg(long, value_name = "SPEC")]
    package: Vec<String>,
    /// Every package locked in a lockfile: package-lock.json / npm-shrinkwrap.json (v2, v3) or a requirements.txt with --hash; repeatable.
    #[arg(long, value_name = "FILE")]
    lockfile: Vec<PathBuf>,
    /// Judge only these packages of the --lockfiles (name globs: "@acme/*", "npm:*", "pypi:acme-*"); repeatable.
    #[arg(long, value_name = "GLOB", requires = "lockfile")]
    only: Vec<String>,
    #[command(flatten)]
    packages: Packages,
    #[command(flatten)]
    summaries: Summaries,
    #[command(flatten)]
    pub j: Judging,
    #[command(flatten)]
    registry: Registry,
    /// Worker threads for verification and policy evaluation (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Judge only shard I of N (by each subject as listed), e.g. --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL".
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// No progress bar (there is none anyway when stderr is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of a sharded run into one report.
    Merge(Merge),
    /// What changed between two reviews: subjects added or removed, verdicts, digests, findings, signers, waivers.
    #[command(after_help = "Example:\n  vouch report diff last-week.json report.json --format markdown")]
    Diff(Diff),
}

#[derive(Args)]
pub struct Diff {
    /// The earlier JSON report.
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The later JSON report.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
}

#[derive(Args)]
pub struct Merge {
    #[arg(value_name = "REPORT.json", required = true)]
    pub reports: Vec<PathBuf>,
}

#[derive(Args)]
pub struct Claims {
    /// The artifact; without it the bundle's own digest is used (the signature,
    /// certificate and log entry are still verified, the artifact is not).
    #[arg(value_name = "FILE|sha256:HEX")]
    input: Option<String>,
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: Trust,
}

#[derive(Args)]
pub struct Explain {
    /// The artifact; without it the bundle's own digest is used.
    #[arg(value_name = "FILE|sha256:HEX")]
    input: Option<String>,
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    pub j: Judging,
}

#[derive(Args)]
pub struct Test {
    /// Policy directories (policies, *_test.rego files and data).
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Print coverage per file, and the lines not covered.
    #[arg(long)]
    pub coverage: bool,
    /// Fail unless at least this percentage of policy lines is covered.
    #[arg(long, value_name = "PERCENT")]
    pub threshold: Option<f64>,
    /// The time tests see as time.now_ns() (RFC 3339); default now.
    #[arg(long, value_name = "RFC3339")]
    pub effective_time: Option<String>,
    /// Check waiver files against these policies (their packages) at the effective time; repeatable.
    #[arg(long, value_name = "FILE")]
    pub waivers: Vec<PathBuf>,
    /// Warn about waivers that expire within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub waivers_warn_days: u32,
}

impl Judging {
    /// A request for these subjects with these identity, trust and policy flags.
    fn request(&self, subjects: Vec<SubjectRequest>, detail: Detail) -> Request {
        let (i, t, p) = (&self.identity, &self.trust, &self.policy);
        Request {
            subjects,
            identity: IdentityFlags {
                identity: i.certificate_identity.clone(),
                identity_regexp: i.certificate_identity_regexp.clone(),
                issuer: i.certificate_oidc_issuer.clone(),
                issuer_regexp: i.certificate_oidc_issuer_regexp.clone(),
                key: i.key.clone(),
                github_workflow: [
                    i.certificate_github_workflow_trigger.clone(),
                    i.certificate_github_workflow_sha.clone(),
                    i.certificate_github_workflow_name.clone(),
                    i.certificate_github_workflow_repository.clone(),
                    i.certificate_github_workflow_ref.clone(),
                ],
            },
            trust: t.flags(),
            policy: p.policy.clone(),
            effective_time: p.effective_time.clone(),
            fail_on_warn: p.fail_on_warn && detail != Detail::Explain,
            waivers: p.waivers.clone(),
            waivers_warn_days: Some(p.waivers_warn_days),
            detail,
            attestations: self.attestations.attestations.clone(),
            gitlab_token_file: self.attestations.gitlab_token_file.clone(),
            github_token_file: self.attestations.github_token_file.clone(),
            attestation_apis: self.attestations.attestations_api.clone(),
            local_ca: self.attestations.local_ca.clone(),
            ..Request::default()
        }
    }
}

impl Trust {
    fn flags(&self) -> TrustFlags {
        let (gitlab_instances, github_hosts) = (self.gitlab_instance.clone(), self.github_host.clone());
        TrustFlags {
            trusted_root: self.trusted_root.clone(),
            staging: self.staging,
            gitlab_instances,
            github_hosts,
            tuf_mirror: self.tuf.mirror(),
            offline: self.tuf.offline.unwrap_or(false),
            cache: self.tuf.cache.clone(),
        }
    }
}

impl Registry {
    fn flags(&self) -> RegistryFlags {
        RegistryFlags { insecure: self.insecure_registry.clone(), timeout: std::time::Duration::from_secs(self.registry_timeout) }
    }
}

/// A file and its bundle, or the bundle alone (the artifact is the digest it names).
fn file_or_bundle(input: &Option<String>, bundle: &std::path::Path) -> SubjectRequest {
    match input {
        Some(input) => SubjectRequest::File { input: input.clone(), bundle: Some(bundle.to_path_buf()) },
        None => SubjectRequest::Bundle(bundle.to_path_buf()),
    }
}

impl VerifyBlob {
    pub fn request(&self) -> Request {
        self.j.request(vec![SubjectRequest::File { input: self.input.clone(), bundle: self.bundle.clone() }], Detail::Full)
    }
}

impl VerifyImage {
    pub fn request(&self) -> Request {
        let image = SubjectRequest::Image { reference: self.image.clone(), platform: self.platform.clone() };
        Request { registry: self.registry.flags(), ..self.j.request(vec![image], Detail::Full) }
    }
}

impl Check {
    pub fn request(&self) -> Request {
        let images = self.image.iter().map(|r| SubjectRequest::Image { reference: r.clone(), platform: None });
        let packages = self.package.iter().map(|p| SubjectRequest::Package(p.clone()));
        let lockfiles = self.lockfile.iter().map(|p| SubjectRequest::Lockfile(p.clone()));
        let subjects = self.blob.iter().map(|g| SubjectRequest::Blob(g.clone())).chain(images).chain(packages).chain(lockfiles).collect();
        Request {
            manifest: self.manifest.clone(),
            registries: self.packages.flags(),
            vsa: self.summaries.flags(),
            only: self.only.clone(),
            bundle_template: Some(self.bundle_template.clone()),
            registry: self.registry.flags(),
            shard: self.shard.clone(),
            jobs: self.jobs,
            ..self.j.request(subjects, Detail::Summary)
        }
    }
}

impl Claims {
    pub fn request(&self) -> Request {
        let subjects = vec![file_or_bundle(&self.input, &self.bundle)];
        Request { subjects, any_signer: true, trust: self.trust.flags(), detail: Detail::Full, ..Request::default() }
    }
}

impl Explain {
    pub fn request(&self) -> Request {
        self.j.request(vec![file_or_bundle(&self.input, &self.bundle)], Detail::Explain)
    }
}
