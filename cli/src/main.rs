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
use vouch_engine::report;
use vouch_engine::subject::{Artifact, ArtifactInput};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::{self, Signer};
use vouch_engine::Error;

// Policy evaluation allocates many small values per subject; mimalloc halves what
// glibc's malloc costs there (docs/performance.md).
// Counted per thread, so that a policy evaluation's memory is bounded (policy/limits.rs).
#[global_allocator]
static GLOBAL: vouch_engine::policy::limits::CountingAlloc<mimalloc::MiMalloc> =
    vouch_engine::policy::limits::CountingAlloc(mimalloc::MiMalloc);

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
    /// The release gate: verify and judge a batch of images and files, in parallel, with reports for CI.
    Check(CheckArgs),
    /// Work with JSON reports of `vouch check` (merge the shards of a sharded run).
    #[command(subcommand)]
    Report(ReportCommand),
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
    /// A self-managed GitLab instance (its URL, which is its OIDC issuer) whose
    /// certificates get GitLab claims; gitlab.com always does. Repeatable.
    #[arg(long, value_name = "URL")]
    gitlab_instance: Vec<String>,
    /// A GitHub host whose Actions certificates get GitHub claims: a GHE.com tenant
    /// (acme.ghe.com) or a GitHub Enterprise Server host; github.com always does. Repeatable.
    #[arg(long, value_name = "HOST")]
    github_host: Vec<String>,
}

impl TrustArgs {
    fn load(&self) -> Result<Trust, Error> {
        let mut trust = Trust::load(&match (&self.trusted_root, self.staging) {
            (Some(path), _) => TrustSource::File(path.clone()),
            (None, true) => TrustSource::Staging,
            (None, false) => TrustSource::Production,
        })?;
        trust.add_platforms(&self.gitlab_instance, &self.github_host)?;
        Ok(trust)
    }
}

/// The GitLab instances and GitHub hosts a policy's configuration names are platforms too.
fn add_policy_platforms(trust: &mut Trust, policy: Option<&Policy>) -> Result<(), Error> {
    if let Some(policy) = policy {
        let (gitlab, github) = policy.platform_config();
        trust.add_platforms(&gitlab, &github)?;
    }
    Ok(())
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
    /// The signer the flags name (identity flags or a key), or none.
    fn signer(&self) -> Result<Option<Signer>, Error> {
        let any_identity_flag = self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
            || self.certificate_oidc_issuer_regexp.is_some();
        match &self.key {
            Some(_) if any_identity_flag => {
                Err(Error::IdentityFlag("--key verifies a key-signed bundle; it cannot be combined with certificate identity flags".into()))
            }
            Some(path) => Signer::public_key_from_pem_file(path).map(Some),
            None if !any_identity_flag => Ok(None),
            None => Ok(Some(Signer::Keyless(IdentityRequirement::from_flags(
                self.certificate_identity.as_deref(),
                self.certificate_identity_regexp.as_deref(),
                self.certificate_oidc_issuer.as_deref(),
                self.certificate_oidc_issuer_regexp.as_deref(),
            )?))),
        }
    }

    /// The flags' signer, or the policy's signer judges; refused when neither decides.
    fn decide(&self, policy: Option<&Policy>) -> Result<Signer, Error> {
        verify::require_signer_decision(self.signer()?, policy)
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
    /// Fail a subject when a policy warns.
    #[arg(long)]
    fail_on_warn: bool,
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
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
}

#[derive(Args)]
struct CheckArgs {
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
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The report on stdout: text, json, junit, sarif, markdown, gitlab-codequality.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: String,
    /// Also write a report to a file: FORMAT=PATH (e.g. junit=vouch.xml); repeatable.
    #[arg(long, value_name = "FORMAT=PATH")]
    output: Vec<String>,
    /// Worker threads for verification and policy evaluation (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Judge only shard I of N (by digest), e.g. --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL".
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// No progress bar (there is none anyway when stderr is not a terminal).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Merge the JSON reports of a sharded run into one report.
    Merge(MergeArgs),
}

#[derive(Args)]
struct MergeArgs {
    #[arg(value_name = "REPORT.json", required = true)]
    reports: Vec<PathBuf>,
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: String,
    #[arg(long, value_name = "FORMAT=PATH")]
    output: Vec<String>,
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
        Command::Check(args) => check(args),
        Command::Report(ReportCommand::Merge(args)) => report_merge(args),
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
    let input = ArtifactInput::parse(&args.input)?;
    let mut trust = args.trust.load()?;
    let (policy, context) = args.policy.load()?;
    let signer = args.identity.decide(policy.as_ref())?;
    add_policy_platforms(&mut trust, policy.as_ref())?;
    // A bundle that cannot be read is a usage error; one that reads but is not valid
    // evidence is a rejection.
    let bundle = match evidence::load_bundle(&args.bundle) {
        Err(e @ Error::Io { .. }) => return Err(e),
        other => other,
    };
    let artifact = Artifact::open(input)?;
    let mut judge = Judge { trust: &trust, signer: &signer, policy, context, fail_on_warn: args.policy.fail_on_warn, explain: false };
    let judgement = judge.judge(&artifact, kind_of(&artifact), vec![bundle]);
    render::judgement(args.output == OutputFormat::Json, &judgement);
    Ok(if judgement.verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn verify_image(args: VerifyImageArgs) -> Result<ExitCode, Error> {
    let image = ImageRef::parse(&args.image)?;
    let mut trust = args.trust.load()?;
    let (policy, context) = args.policy.load()?;
    let signer = args.identity.decide(policy.as_ref())?;
    add_policy_platforms(&mut trust, policy.as_ref())?;
    let client = args.registry.client()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::Io {
        path: "tokio runtime".into(),
        what: "runtime",
        source: e,
    })?;
    // Nothing could be judged when the registry cannot be asked: exit 3, not a pass.
    let discovery = runtime.block_on(oci::discover(&client, &image, args.platform.as_deref()))?;
    let oci::Discovery { subject, evidence } = discovery;
    let results = evidence.into_iter().map(|found| found.and_then(|f| oci::verify_found(&trust, &subject, &f, &signer))).collect();
    let info = policy::SubjectInfo { kind: "image", name: subject.name(), sha256: subject.sha256().to_hex() };
    let mut judge = Judge { trust: &trust, signer: &signer, policy, context, fail_on_warn: args.policy.fail_on_warn, explain: false };
    let judgement = judge.judge_results(info, results);
    render::judgement(args.output == OutputFormat::Json, &judgement);
    Ok(if judgement.verdict == Verdict::Pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn outputs(format: &str, outputs: &[String]) -> Result<(report::Format, Vec<(report::Format, PathBuf)>), Error> {
    let usage = |m: String| Error::IdentityFlag(m);
    let stdout = format.parse::<report::Format>().map_err(usage)?;
    let files = outputs
        .iter()
        .map(|o| {
            let (f, p) = o.split_once('=').ok_or_else(|| usage(format!("--output {o:?}: write FORMAT=PATH, e.g. junit=vouch.xml")))?;
            Ok((f.parse::<report::Format>().map_err(usage)?, PathBuf::from(p)))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((stdout, files))
}

fn write_reports(r: &report::Report, stdout: report::Format, files: &[(report::Format, PathBuf)]) -> Result<(), Error> {
    print!("{}", report::render(r, stdout));
    for (format, path) in files {
        std::fs::write(path, report::render(r, *format)).map_err(|source| Error::Io { path: path.clone(), what: "report", source })?;
    }
    Ok(())
}

fn check(args: CheckArgs) -> Result<ExitCode, Error> {
    use vouch_engine::batch::{plan, Batch, PlanRequest, Shard};
    use vouch_engine::manifest::Manifest;
    let (stdout_format, files) = outputs(&args.format, &args.output)?;
    let shard = match &args.shard {
        Some(s) => Shard::parse(s).ok_or_else(|| Error::IdentityFlag(format!("--shard {s:?}: write I/N with 1 <= I <= N, e.g. 2/4")))?,
        None => Shard::all(),
    };
    let manifest = args.manifest.as_deref().map(Manifest::load).transpose()?;
    let manifest_sha256 =
        manifest.as_ref().and_then(|m| m.source.as_ref()).map(|(_, text)| vouch_engine::claims::sha256_hex(text.as_bytes()));
    let base = args
        .manifest
        .as_deref()
        .and_then(|m| m.parent())
        .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() })
        .unwrap_or_else(|| PathBuf::from("."));
    if manifest.is_none() && args.image.is_empty() && args.blob.is_empty() {
        return Err(Error::IdentityFlag("nothing to check: give a manifest, or --image / --blob".into()));
    }

    // Trust, policy and signers: flags over the manifest.
    let mut trust = match (&args.trust.trusted_root, args.trust.staging, manifest.as_ref().and_then(|m| m.trusted_root.as_ref())) {
        (None, false, Some(root)) => {
            let mut trust = Trust::load(&TrustSource::File(base.join(root)))?;
            trust.add_platforms(&args.trust.gitlab_instance, &args.trust.github_host)?;
            trust
        }
        _ => args.trust.load()?,
    };
    if let Some(m) = &manifest {
        trust.add_platforms(&m.platforms.gitlab, &m.platforms.github)?;
    }
    let mut policy_dirs: Vec<PathBuf> = manifest.as_ref().map(|m| m.policy.iter().map(|p| base.join(p)).collect()).unwrap_or_default();
    policy_dirs.extend(args.policy.policy.iter().cloned());
    let effective_time = policy::effective_time(args.policy.effective_time.as_deref())?;
    let base_policy = if policy_dirs.is_empty() { None } else { Some(Policy::load(&policy_dirs, effective_time)?) };
    add_policy_platforms(&mut trust, base_policy.as_ref())?;
    let flag_signer = args.identity.signer()?;
    for image in &args.image {
        ImageRef::parse(image)?;
    }
    let planned = plan(PlanRequest {
        manifest: manifest.as_ref(),
        base: &base,
        blobs: &args.blob,
        images: &args.image,
        bundle_template: &args.bundle_template,
        flag_signer,
        policy: base_policy.as_ref(),
    })?;
    // Instances named in per-subject configuration are platforms too.
    for policy in planned.policies.iter().flatten() {
        add_policy_platforms(&mut trust, Some(policy))?;
    }
    // The registry client (TLS roots, credentials) only when there are images to fetch.
    let has_images = planned.subjects.iter().any(|s| matches!(s.target, vouch_engine::batch::Target::Image { .. }));
    let client = if has_images { Some(args.registry.client()?) } else { None };
    let setup = vouch_engine::batch::PlanSetup { manifest_sha256, trust_sha256: trust.digest(), fail_on_warn: args.policy.fail_on_warn };
    let plan_info = planned.info(&setup, shard);
    let bar = render::progress_bar(args.quiet);
    let progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let batch = Batch {
        trust: &trust,
        signers: planned.signers,
        policies: planned.policies,
        context: Context { effective_time, shard: shard.to_string() },
        shard,
        fail_on_warn: args.policy.fail_on_warn,
        jobs: args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        registry: client.as_ref(),
        progress: Some(&progress),
    };
    if plan_info.assigned.is_empty() {
        eprintln!(
            "note: shard {shard} was assigned none of the plan's {} subjects; `vouch report merge` checks the whole plan",
            plan_info.subjects
        );
    }
    let results = batch.run(planned.subjects);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report::Report::new(results, vouch_engine::claims::rfc3339_of(effective_time), shard.to_string(), plan_info);
    write_reports(&report, stdout_format, &files)?;
    if stdout_format != report::Format::Text {
        let m = &report.summary;
        eprintln!("{} subjects: {} passed, {} failed, {} not judged", m.subjects, m.passed, m.failed, m.errors);
    }
    Ok(ExitCode::from(report.exit_code()))
}

fn report_merge(args: MergeArgs) -> Result<ExitCode, Error> {
    let (stdout_format, files) = outputs(&args.format, &args.output)?;
    let mut reports = Vec::new();
    for path in &args.reports {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.clone(), what: "report", source })?;
        reports.push(report::Report::from_json(&bytes).map_err(|m| Error::Merge(report::MergeError(format!("{}: {m}", path.display()))))?);
    }
    let merged = report::Report::merge(reports)?;
    write_reports(&merged, stdout_format, &files)?;
    Ok(ExitCode::from(merged.exit_code()))
}

fn kind_of(artifact: &Artifact) -> &'static str {
    if artifact.path().is_some() {
        "blob"
    } else {
        "digest"
    }
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
    let mut trust = args.trust.load()?;
    let (policy, context) = args.policy.load()?;
    let signer = args.identity.decide(policy.as_ref())?;
    add_policy_platforms(&mut trust, policy.as_ref())?;
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
