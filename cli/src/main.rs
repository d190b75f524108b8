//! The `vouch` binary: parses arguments, calls the engine, renders results.
//! Exit codes: 0 passed, 1 rejected or denied, 2 usage or configuration error (nothing
//! was judged), 3 infrastructure error.

mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vouch_engine::evidence;
use vouch_engine::identity::IdentityRequirement;
use vouch_engine::judge::{Judge, Verdict};
use vouch_engine::oci::{self, Credentials, ImageRef, RegistryClient, RegistryOptions};
use vouch_engine::policy::{self, Context, Policy};
use vouch_engine::subject::{Artifact, ArtifactInput};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::{self, Signer};
use vouch_engine::Error;

#[derive(Parser)]
#[command(name = "vouch", version, about = "Verify Sigstore signatures and judge them with policies", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a file (or a sha256: digest) against a Sigstore or cosign bundle, and judge it with policies.
    VerifyBlob(VerifyBlobArgs),
    /// Verify a container image's signatures and attestations in its registry, and judge them.
    VerifyImage(VerifyImageArgs),
    /// Print the claims document a policy would see for a bundle's signer.
    Claims(ClaimsArgs),
    /// Show the policy input for a bundle and every deny/warn with the rule that produced it.
    Explain(ExplainArgs),
    /// Run the test_* rules of policies, like `opa test`.
    Test(TestArgs),
}

#[derive(Args)]
struct TrustArgs {
    /// Sigstore TrustedRoot JSON for a private instance (or a ClientTrustConfig).
    #[arg(long, value_name = "FILE", conflicts_with = "staging")]
    trusted_root: Option<PathBuf>,
    /// Use the embedded Sigstore staging root instead of production.
    #[arg(long)]
    staging: bool,
}

impl TrustArgs {
    fn load(&self) -> Result<Trust, Error> {
        Trust::load(&match (&self.trusted_root, self.staging) {
            (Some(path), _) => TrustSource::File(path.clone()),
            (None, true) => TrustSource::Staging,
            (None, false) => TrustSource::Production,
        })
    }
}

#[derive(Args)]
struct IdentityArgs {
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
}

impl IdentityArgs {
    /// Identity flags, a key, or — when a policy decides who may sign — neither.
    fn signer(&self, policy_given: bool) -> Result<Signer, Error> {
        let any_identity_flag = self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
            || self.certificate_oidc_issuer_regexp.is_some();
        match &self.key {
            Some(_) if any_identity_flag => Err(Error::IdentityFlag(
                "--key verifies a key-signed bundle; it cannot be combined with certificate identity flags".into(),
            )),
            Some(path) => Signer::public_key_from_pem_file(path),
            None if !any_identity_flag && policy_given => Ok(Signer::AnyIdentity),
            None => Ok(Signer::Keyless(IdentityRequirement::from_flags(
                self.certificate_identity.as_deref(),
                self.certificate_identity_regexp.as_deref(),
                self.certificate_oidc_issuer.as_deref(),
                self.certificate_oidc_issuer_regexp.as_deref(),
            )?)),
        }
    }
}

#[derive(Args)]
struct PolicyArgs {
    /// A directory (or file) of Rego policies and JSON/YAML data; repeatable.
    #[arg(long, value_name = "DIR")]
    policy: Vec<PathBuf>,
    /// The time policies see as time.now_ns() (RFC 3339), for reproducible re-runs; default now.
    #[arg(long, value_name = "RFC3339")]
    effective_time: Option<String>,
}

impl PolicyArgs {
    fn load(&self) -> Result<(Option<Policy>, Context), Error> {
        let effective_time = policy::effective_time(self.effective_time.as_deref())?;
        let policy = if self.policy.is_empty() { None } else { Some(Policy::load(&self.policy, effective_time)?) };
        Ok((policy, Context { effective_time, shard: "1/1".into() }))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Args)]
struct VerifyBlobArgs {
    /// The artifact: a file path, or sha256:<hex> when only its digest is at hand.
    #[arg(value_name = "FILE|sha256:HEX")]
    input: String,
    /// The bundle: a Sigstore bundle (v0.1–v0.3) or a cosign `sign-blob --bundle` file.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Fail when a policy warns.
    #[arg(long)]
    fail_on_warn: bool,
    /// `json` prints the result with the signer's claims and the policy decision on stdout.
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
}

#[derive(Args)]
struct RegistryArgs {
    /// A registry (host:port) that may be reached over plain HTTP (loopback ones always may); repeatable.
    #[arg(long, value_name = "HOST")]
    insecure_registry: Vec<String>,
    /// Seconds one registry request may take.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    registry_timeout: u64,
}

impl RegistryArgs {
    fn client(&self) -> Result<RegistryClient, Error> {
        RegistryClient::new(RegistryOptions {
            insecure_registries: self.insecure_registry.clone(),
            timeout: std::time::Duration::from_secs(self.registry_timeout.max(1)),
            credentials: Credentials::from_env(),
            ..RegistryOptions::default()
        })
        .map_err(Error::Registry)
    }
}

#[derive(Args)]
struct VerifyImageArgs {
    /// The image: REGISTRY/REPOSITORY:TAG (resolved to a digest once) or REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Judge the manifest for this platform (os/arch[/variant]) out of a multi-arch index,
    /// instead of the index itself.
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Fail when a policy warns.
    #[arg(long)]
    fail_on_warn: bool,
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
}

#[derive(Args)]
struct ClaimsArgs {
    /// The artifact; without it the bundle's own digest is used (the signature,
    /// certificate and log entry are still verified, the artifact is not).
    #[arg(value_name = "FILE|sha256:HEX")]
    input: Option<String>,
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
}

#[derive(Args)]
struct ExplainArgs {
    /// The artifact; without it the bundle's own digest is used.
    #[arg(value_name = "FILE|sha256:HEX")]
    input: Option<String>,
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    policy: PolicyArgs,
}

#[derive(Args)]
struct TestArgs {
    /// Policy directories (policies, *_test.rego files and data).
    #[arg(value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// Print coverage per file, and the lines not covered.
    #[arg(long)]
    coverage: bool,
    /// Fail unless at least this percentage of policy lines is covered.
    #[arg(long, value_name = "PERCENT")]
    threshold: Option<f64>,
    /// The time tests see as time.now_ns() (RFC 3339); default now.
    #[arg(long, value_name = "RFC3339")]
    effective_time: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
}

fn main() -> ExitCode {
    render::install_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::VerifyBlob(args) => verify_blob(args),
        Command::VerifyImage(args) => verify_image(args),
        Command::Claims(args) => claims(args),
        Command::Explain(args) => explain(args),
        Command::Test(args) => test(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            render::diagnostic(&error);
            render::exit_code(&error)
        }
    }
}

/// The artifact named on the command line, or the digest the bundle names itself.
fn artifact_for(input: Option<&str>, bundle: &Result<evidence::Evidence, Error>) -> Result<Artifact, Error> {
    let input = match input {
        Some(input) => ArtifactInput::parse(input)?,
        None => {
            let digest = bundle.as_ref().ok().and_then(|e| e.claimed_sha256()).ok_or_else(|| {
                Error::NeedArtifact("the bundle names no sha256 digest of its artifact (an attestation with sha512 subjects?)".into())
            })?;
            eprintln!("note: no artifact given: verifying the bundle against the sha256 it names ({})", digest.to_hex());
            ArtifactInput::Digest(digest)
        }
    };
    Artifact::open(input)
}

fn verify_blob(args: VerifyBlobArgs) -> Result<ExitCode, Error> {
    // Everything that can be wrong with the invocation is found before any subject is
    // judged: flags, trusted root, policy.
    let signer = args.identity.signer(!args.policy.policy.is_empty())?;
    let input = ArtifactInput::parse(&args.input)?;
    let trust = args.trust.load()?;
    let (policy, context) = args.policy.load()?;
    // A bundle that cannot be read is a usage error; one that reads but is not valid
    // evidence is a rejection.
    let bundle = match evidence::load_bundle(&args.bundle) {
        Err(e @ Error::Io { .. }) => return Err(e),
        other => other,
    };
    let artifact = Artifact::open(input)?;
    let mut judge = Judge { trust: &trust, signer: &signer, policy, context, fail_on_warn: args.fail_on_warn, explain: false };
    let judgement = judge.judge(&artifact, kind_of(&artifact), vec![bundle]);
    render::judgement(args.output == OutputFormat::Json, &judgement);
    Ok(if judgement.verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn verify_image(args: VerifyImageArgs) -> Result<ExitCode, Error> {
    let signer = args.identity.signer(!args.policy.policy.is_empty())?;
    let image = ImageRef::parse(&args.image)?;
    let trust = args.trust.load()?;
    let (policy, context) = args.policy.load()?;
    let client = args.registry.client()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io { path: "tokio runtime".into(), what: "runtime", source: e })?;
    // Nothing could be judged when the registry cannot be asked: exit 3, not a pass.
    let discovery = runtime.block_on(oci::discover(&client, &image, args.platform.as_deref()))?;
    let oci::Discovery { subject, evidence } = discovery;
    let results = evidence.into_iter().map(|found| found.and_then(|f| oci::verify_found(&trust, &subject, &f, &signer))).collect();
    let info = policy::SubjectInfo { kind: "image", name: subject.name(), sha256: subject.sha256().to_hex() };
    let mut judge = Judge { trust: &trust, signer: &signer, policy, context, fail_on_warn: args.fail_on_warn, explain: false };
    let judgement = judge.judge_results(info, results);
    render::judgement(args.output == OutputFormat::Json, &judgement);
    Ok(if judgement.verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn kind_of(artifact: &Artifact) -> &'static str {
    if artifact.path().is_some() { "blob" } else { "digest" }
}

fn claims(args: ClaimsArgs) -> Result<ExitCode, Error> {
    let trust = args.trust.load()?;
    let bundle = evidence::load_bundle(&args.bundle);
    let artifact = artifact_for(args.input.as_deref(), &bundle)?;
    let signature = verify::verify(&trust, &artifact, &bundle?, &Signer::AnyIdentity)?;
    render::claims(&signature);
    Ok(ExitCode::SUCCESS)
}

fn explain(args: ExplainArgs) -> Result<ExitCode, Error> {
    if args.policy.policy.is_empty() {
        return Err(Error::IdentityFlag("explain needs --policy DIR".into()));
    }
    let signer = args.identity.signer(true)?;
    let trust = args.trust.load()?;
    let (policy, context) = args.policy.load()?;
    let bundle = evidence::load_bundle(&args.bundle);
    let artifact = artifact_for(args.input.as_deref(), &bundle)?;
    let mut judge = Judge { trust: &trust, signer: &signer, policy, context, fail_on_warn: false, explain: true };
    let judgement = judge.judge(&artifact, kind_of(&artifact), vec![bundle]);
    render::explain(&judgement);
    Ok(if judgement.verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn test(args: TestArgs) -> Result<ExitCode, Error> {
    let effective_time = policy::effective_time(args.effective_time.as_deref())?;
    let report = policy::run_tests(&args.dirs, effective_time)?;
    render::test_report(args.output == OutputFormat::Json, args.coverage, &report);
    let below = args.threshold.is_some_and(|t| report.coverage_percent < t);
    if below {
        eprintln!("coverage {:.1}% is below the threshold {:.1}%", report.coverage_percent, args.threshold.unwrap_or_default());
    }
    Ok(if report.failed() == 0 && !below && !report.tests.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
