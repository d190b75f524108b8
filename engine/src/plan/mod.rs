//! Request → plan. Every command is a plan: `check` of a manifest and/or flags, and the
//! single-subject commands (`verify-blob`, `verify-image`, `explain`, `claims`) a plan of
//! one. Everything that can be wrong with the invocation is found here, before any
//! subject is judged (exit 2): flags, manifest, trusted root, keys, policies, and who
//! decides who may sign.

mod glob;
pub mod manifest;
pub mod packages;
mod shard;

use std::path::{Path, PathBuf};

pub use glob::{bundle_for, expand_glob, MAX_GLOB_SUBJECTS};
pub use manifest::Manifest;
pub use shard::{Shard, MAX_SHARDS};

use crate::decide::Context;
use crate::error::{Code, Error, Result};
use crate::evidence::api::{ApiClient, ApiOptions, LocalCaPins, Source, Tokens};
use crate::evidence::ArtifactInput;
use crate::oci::{Credentials, ImageRef, RegistryClient, RegistryOptions};
use crate::policy::schema::Seg;
use crate::policy::{Policy, PolicyError, PolicyErrorKind};
use crate::report::PlanInfo;
use crate::trust::tuf::Mirror;
use crate::trust::{Trust, TrustChoice};
use crate::verify::identity::IdentityRequirement;
use crate::verify::{require_signer_decision, Signer};

/// What a command asks for, as its flags say it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A manifest (docs/manifest.md); its paths are relative to its folder.
    pub manifest: Option<PathBuf>,
    /// Subjects named by flags, after the manifest's.
    pub subjects: Vec<SubjectRequest>,
    /// Where a `--blob`'s bundle is (`{path}` is the file); default `{path}.sigstore.json`.
    pub bundle_template: Option<String>,
    pub identity: IdentityFlags,
    /// `vouch claims`: verify with any identity (nothing is authorised).
    pub any_signer: bool,
    pub trust: TrustFlags,
    pub policy: Vec<PathBuf>,
    /// RFC 3339; default now.
    pub effective_time: Option<String>,
    pub fail_on_warn: bool,
    /// `I/N`.
    pub shard: Option<String>,
    pub detail: Detail,
    pub registry: RegistryFlags,
    /// Worker threads; default all cores.
    pub jobs: Option<usize>,
    /// Attestation APIs asked for the flag subjects' attestations by digest
    /// (`gitlab:…`, `github:…`; docs/attestations.md).
    pub attestations: Vec<String>,
    /// Files holding the API tokens (`--gitlab-token-file`, `--github-token-file`).
    pub gitlab_token_file: Option<PathBuf>,
    pub github_token_file: Option<PathBuf>,
    /// `INSTANCE=URL`: reach an instance's attestation API at another URL.
    pub attestation_apis: Vec<String>,
    /// GitLab `local_ca` project CAs: `sha256:HEX` pins or PEM files (`--local-ca`).
    pub local_ca: Vec<String>,
    /// Where package subjects are fetched from (`--npm-registry`, `--npmrc`, `--npm-keys`,
    /// `--pypi-index`), over the manifest's `registries:`.
    pub registries: packages::RegistryFlags,
    /// `--only`: which packages of the `--lockfile`s to judge (name globs).
    pub only: Vec<String>,
    /// Waiver files (docs/reviews.md#waivers), and how many days before its expiry a
    /// waiver is a warning (default 14).
    pub waivers: Vec<PathBuf>,
    pub waivers_warn_days: Option<u32>,
    /// Verification summaries to write and to reuse (docs/reviews.md).
    pub vsa: crate::vsa::VsaFlags,
}

/// A subject named by a flag.
#[derive(Debug, Clone)]
pub enum SubjectRequest {
    /// Files matching a glob, each with its bundle at the bundle template.
    Blob(String),
    /// An image in its registry.
    Image { reference: String, platform: Option<String> },
    /// One file (or `sha256:` digest) and its bundle, both named by the user: either
    /// being unreadable is a usage error. No bundle: the evidence comes from
    /// `attestations` sources only.
    File { input: String, bundle: Option<PathBuf> },
    /// A bundle alone: the artifact is the digest it names (`claims`, `explain`).
    Bundle(PathBuf),
    /// `npm:NAME@VERSION` or `pypi:PROJECT==VERSION/FILE` (docs/packages.md).
    Package(String),
    /// Every locked package of a lockfile.
    Lockfile(PathBuf),
}

/// cosign's identity flags, or a key.
#[derive(Debug, Clone, Default)]
pub struct IdentityFlags {
    pub identity: Option<String>,
    pub identity_regexp: Option<String>,
    pub issuer: Option<String>,
    pub issuer_regexp: Option<String>,
    pub key: Option<PathBuf>,
    /// cosign's `--certificate-github-workflow-{trigger,sha,name,repository,ref}`.
    pub github_workflow: [Option<String>; 5],
}

impl IdentityFlags {
    /// The signer the flags name (identity flags or a key), or none.
    pub fn signer(&self) -> Result<Option<Signer>> {
        let any_identity_flag =
            self.identity.is_some() || self.identity_regexp.is_some() || self.issuer.is_some() || self.issuer_regexp.is_some();
        let workflow = {
            let [t, s, n, r, g] = &self.github_workflow;
            crate::verify::identity::WorkflowClaim::all(t.as_deref(), s.as_deref(), n.as_deref(), r.as_deref(), g.as_deref())
        };
        if !workflow.is_empty() && (self.key.is_some() || !any_identity_flag) {
            return Err(Error::IdentityFlag(
                "--certificate-github-workflow-* checks a keyless certificate: give them with the identity and issuer flags".into(),
            ));
        }
        match &self.key {
            Some(_) if any_identity_flag => {
                Err(Error::IdentityFlag("--key verifies a key-signed bundle; it cannot be combined with certificate identity flags".into()))
            }
            Some(path) => Signer::public_key_from_pem_file(path).map(Some),
            None if !any_identity_flag => Ok(None),
            None => Ok(Some(Signer::Keyless(IdentityRequirement {
                github_workflow: workflow,
                ..IdentityRequirement::from_flags(
                    self.identity.as_deref(),
                    self.identity_regexp.as_deref(),
                    self.issuer.as_deref(),
                    self.issuer_regexp.as_deref(),
                )?
            }))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TrustFlags {
    pub trusted_root: Option<PathBuf>,
    pub staging: bool,
    pub gitlab_instances: Vec<String>,
    pub github_hosts: Vec<String>,
    /// A private Sigstore's TUF mirror (`--tuf-mirror`).
    pub tuf_mirror: Option<Mirror>,
    /// Never fetch trust over the network.
    pub offline: bool,
    /// The TUF cache folder (default: the user's cache folder).
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RegistryFlags {
    pub insecure: Vec<String>,
    pub timeout: std::time::Duration,
}

impl Default for RegistryFlags {
    fn default() -> Self {
        RegistryFlags { insecure: Vec::new(), timeout: std::time::Duration::from_secs(30) }
    }
}

/// How much of each subject's judgement the report keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Who signed, in brief, and the claims of failed subjects: a batch's memory is its
    /// results (`check`).
    #[default]
    Summary,
    /// Every verified signature with its claims, every failed piece of evidence, the
    /// policy's findings (the single-subject commands).
    Full,
    /// Full, plus the policy input and the rule behind each finding (`explain`).
    Explain,
}

/// One subject as listed (after glob expansion).
#[derive(Debug, Clone)]
pub struct SubjectPlan {
    pub target: Target,
    /// Index into [`Plan::signers`].
    pub signer: usize,
    /// Index into [`Plan::policies`].
    pub policy: usize,
    /// Attestation APIs asked for this subject's attestations by its digest.
    pub sources: Vec<Source>,
    /// [`SubjectPlan::id`], set by [`build`].
    id: String,
}

impl SubjectPlan {
    fn new(target: Target, signer: usize, policy: usize) -> Self {
        SubjectPlan { target, signer, policy, sources: Vec::new(), id: String::new() }
    }

    /// The subject as the plan lists it, the same in every shard job of one pipeline
    /// wherever the job checked the files out (paths relative to the manifest):
    /// `blob:PATH`, `image:REF[#PLATFORM]`, `digest:DIGEST BUNDLE`.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn listed_id(&self, base: &Path) -> String {
        match &self.target {
            Target::Blob { path, .. } => format!("blob:{}", listed(path, base)),
            Target::Digest { input, bundles, .. } => {
                format!("digest:{input} {}", bundles.iter().map(|b| listed(b, base)).collect::<Vec<_>>().join(" "))
            }
            Target::Image { reference, platform: Some(p) } => format!("image:{reference}#{p}"),
            Target::Image { reference, platform: None } => format!("image:{reference}"),
            Target::Package(spec) => spec.id(),
            Target::Invalid { kind: "package", name, .. } => name.clone(),
            Target::Invalid { kind, name, .. } => format!("{kind}:{name}"),
        }
    }
}

/// A path as the manifest lists it: relative to the manifest's folder.
fn listed(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

#[derive(Debug, Clone)]
pub enum Target {
    Blob {
        path: PathBuf,
        bundles: Vec<PathBuf>,
    },
    Digest {
        input: String,
        bundles: Vec<PathBuf>,
        /// The manifest's `name` for it (reports and the policy input show it).
        name: Option<String>,
    },
    Image {
        reference: String,
        platform: Option<String>,
    },
    /// A package (npm) or a release file (PyPI) in its registry.
    Package(packages::PackageSpec),
    /// Could not even be listed (a glob that matched nothing, a bad pattern).
    Invalid {
        kind: &'static str,
        name: String,
        code: Code,
        message: String,
    },
}

/// A request made checkable: the trust, signers, policies and subjects a run judges.
pub struct Plan {
    pub trust: Trust,
    pub signers: Vec<Signer>,
    pub policies: Vec<Option<Policy>>,
    pub subjects: Vec<SubjectPlan>,
    /// The manifest's folder: paths in the plan are relative to it.
    pub base: PathBuf,
    pub context: Context,
    pub shard: Shard,
    pub fail_on_warn: bool,
    pub detail: Detail,
    pub jobs: usize,
    /// Only when there are images to fetch (TLS roots, credentials).
    pub registry: Option<RegistryClient>,
    /// Only when subjects take attestations from APIs or packages from registries.
    pub api: Option<ApiClient>,
    /// Where package subjects come from.
    pub registries: packages::Registries,
    /// Where instances' APIs are reached (`--attestations-api`), part of the setup.
    pub api_endpoints: Vec<String>,
    /// The project CAs GitLab `local_ca` attestations may chain to.
    pub local_ca: LocalCaPins,
    /// What the report records of the plan ([`Plan::info`]).
    pub info: PlanInfo,
    /// Things the user should know that are not errors (shown on stderr).
    pub notes: Vec<String>,
    /// Accepted policy findings, in force or not at the effective time.
    pub waivers: crate::decide::waivers::Waivers,
    /// Summaries to write after the run, and to reuse instead of verifying.
    pub summaries_out: Option<crate::vsa::SummariesOut>,
    pub summaries_in: Option<crate::vsa::SummariesIn>,
    /// Each (signer, policy) slot pair's summary policy digest, computed once
    /// ([`crate::vsa::policy_digest`]: hashing every policy source per subject would cost
    /// more than the summary it checks).
    pub(crate) summary_digests: std::sync::OnceLock<std::collections::HashMap<(usize, usize), String>>,
}

/// Build the plan of a request. Every subject must have someone who decides who may
/// sign — identities or a policy — or nothing is judged.
pub fn build(req: &Request) -> Result<Plan> {
    let mut notes = Vec::new();
    let shard = match &req.shard {
        Some(s) => Shard::parse(s).ok_or_else(|| {
            Error::usage(Code::UsageShard, format!("--shard {s:?}: write I/N with 1 <= I <= N <= {MAX_SHARDS}, e.g. 2/4"))
        })?,
        None => Shard::all(),
    };
    let manifest = req.manifest.as_deref().map(Manifest::load).transpose()?;
    if manifest.is_none() && req.subjects.is_empty() {
        return Err(Error::usage(Code::UsageSubjects, "nothing to check: give a manifest, or --image / --blob / --package / --lockfile"));
    }
    let base = req
        .manifest
        .as_deref()
        .and_then(Path::parent)
        .map(|p| if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() })
        .unwrap_or_else(|| PathBuf::from("."));

    // Trust: the flags over the manifest's root; platforms from flags, manifest and policy.
    if let Some(m) = manifest.as_ref().filter(|m| m.trusted_root.is_some() && m.tuf.is_some()) {
        return Err(Error::usage(
            Code::Manifest,
            format!(
                "{}: give `trusted_root` (a file) or `tuf` (a mirror), not both",
                m.source.as_ref().map_or("the manifest".into(), |(p, _)| p.display().to_string())
            ),
        ));
    }
    // The flags over the manifest: a file, else a TUF mirror (named, or Sigstore's own).
    let manifest_tuf = manifest.as_ref().and_then(|m| m.tuf.as_ref()).map(|t| Mirror {
        root: t.root.as_ref().map(|r| base.join(r)),
        root_checksum: t.root_checksum.clone(),
        ..Mirror::new(&t.mirror)
    });
    let tuf = |mirror: Mirror| TrustChoice::Tuf { mirror, offline: req.trust.offline, cache: req.trust.cache.clone() };
    let choice = match (
        &req.trust.trusted_root,
        &req.trust.tuf_mirror,
        req.trust.staging,
        manifest.as_ref().and_then(|m| m.trusted_root.as_ref()),
    ) {
        (Some(path), _, _, _) => TrustChoice::File(path.clone()),
        (None, Some(mirror), _, _) => tuf(mirror.clone()),
        (None, None, true, _) => tuf(Mirror::staging()),
        (None, None, false, Some(root)) => TrustChoice::File(base.join(root)),
        (None, None, false, None) => tuf(manifest_tuf.unwrap_or_else(Mirror::production)),
    };
    let (mut trust, trust_notes) = crate::trust::resolve(&choice, jiff::Timestamp::now())?;
    notes.extend(trust_notes.iter().cloned());
    let trust_info = crate::report::TrustInfo {
        source: trust.source().to_string(),
        sha256: trust.root_sha256().to_string(),
        warnings: trust_notes.iter().map(|n| n.trim_start_matches("warning: ").to_string()).collect(),
    };
    trust.add_platforms(&req.trust.gitlab_instances, &req.trust.github_hosts)?;
    if let Some(m) = &manifest {
        trust.add_platforms(&m.platforms.gitlab, &m.platforms.github)?;
    }

    // Policy: the manifest's, then the flags'.
    let effective_time = crate::policy::effective_time(req.effective_time.as_deref())?;
    let in_manifest = |p: &PathBuf| if crate::policy::builtin::is_builtin(p) { p.clone() } else { base.join(p) };
    let mut policy_dirs: Vec<PathBuf> = manifest.as_ref().map(|m| m.policy.iter().map(in_manifest).collect()).unwrap_or_default();
    policy_dirs.extend(req.policy.iter().cloned());
    let policy = if policy_dirs.is_empty() { None } else { Some(Policy::load(&policy_dirs, effective_time)?) };
    // Waivers: the manifest's (relative to it), then the flags'.
    let mut waiver_files: Vec<PathBuf> = manifest.as_ref().map(|m| m.waivers.iter().map(|w| base.join(w)).collect()).unwrap_or_default();
    waiver_files.extend(req.waivers.iter().cloned());
    let waivers = crate::decide::waivers::Waivers::load(
        &waiver_files,
        policy.as_ref(),
        effective_time,
        req.waivers_warn_days.unwrap_or(crate::decide::waivers::DEFAULT_WARN_DAYS),
    )?;
    notes.extend(waivers.notes());
    let (summaries_out, summaries_in) = req.vsa.resolve()?;
    if summaries_out.is_some() && effective_time > jiff::Timestamp::now() + crate::vsa::CLOCK_SKEW {
        return Err(Error::usage(
            Code::UsageVsa,
            format!(
                "--vsa: --effective-time {} is in the future: a summary of a verdict about a time that has not come would never be reused; leave --effective-time out, or give one that has passed",
                crate::claims::rfc3339_of(effective_time)
            ),
        ));
    }

    let flag_signer = if req.any_signer { Some(Signer::AnyIdentity) } else { req.identity.signer()? };
    let (signers, policies, subjects) =
        list_subjects(&req.subjects, req, manifest.as_ref(), &base, flag_signer, policy.as_ref(), &mut notes)?;
    waivers.check_judges(&policies)?;
    // Instances named in any policy's configuration are platforms too.
    for policy in policies.iter().flatten() {
        let (gitlab, github) = policy.platform_config();
        trust.add_platforms(&gitlab, &github)?;
    }
    let registry = if subjects.iter().any(|s| matches!(s.target, Target::Image { .. })) {
        Some(
            RegistryClient::new(RegistryOptions {
                insecure_registries: req.registry.insecure.clone(),
                timeout: req.registry.timeout.max(std::time::Duration::from_secs(1)),
                credentials: Credentials::from_env(),
                ..RegistryOptions::default()
            })
            .map_err(Error::Registry)?,
        )
    } else {
        None
    };
    let subjects_have_sources = subjects.iter().any(|s| !s.sources.is_empty());
    let has_packages = subjects.iter().any(|s| matches!(s.target, Target::Package(_)));
    let registries = if has_packages {
        if signers.iter().any(|s| matches!(s, Signer::PublicKey(_))) {
            return Err(Error::usage(
                Code::UsagePackage,
                "--key does not apply to packages: registry keys come from the registry (/-/npm/v1/keys) or --npm-keys, provenance is keyless",
            ));
        }
        packages::RegistryFlags::resolve(
            &req.registries,
            manifest.as_ref().and_then(|m| m.registries.as_ref()).map(|r| r.flags(&base)).as_ref(),
        )?
    } else {
        packages::Registries::default()
    };
    // Pins from the manifest (paths relative to it), then the flags'.
    let mut local_ca = LocalCaPins::default();
    for pin in manifest.as_ref().map(|m| m.local_ca.as_slice()).unwrap_or_default() {
        local_ca.add(pin, &base)?;
    }
    for pin in &req.local_ca {
        local_ca.add(pin, Path::new("."))?;
    }
    if registries.npm_keys.is_some() && registries.npm_scopes.iter().any(|(_, url)| *url != registries.npm) {
        notes.push(format!(
            "--npm-keys pins the keys of {} only: the scope registries of the .npmrc are checked with the keys they serve",
            registries.npm
        ));
    }
    let api = if subjects_have_sources || has_packages {
        let mut tokens = Tokens::from_env();
        if let Some(path) = &req.gitlab_token_file {
            tokens = tokens.with_file("gitlab", path)?;
        }
        if let Some(path) = &req.github_token_file {
            tokens = tokens.with_file("github", path)?;
        }
        let endpoints = req.attestation_apis.iter().map(|e| crate::evidence::api::parse_endpoint(e)).collect::<Result<Vec<_>>>()?;
        let options =
            ApiOptions { timeout: req.registry.timeout.max(std::time::Duration::from_secs(1)), tokens, endpoints, ..ApiOptions::default() };
        Some(ApiClient::new(options).map_err(Error::Attest)?)
    } else {
        None
    };
    let manifest_sha256 = manifest.as_ref().and_then(|m| m.source.as_ref()).map(|(_, text)| crate::claims::sha256_hex(text.as_bytes()));
    let mut plan = Plan {
        trust,
        signers,
        policies,
        subjects,
        base,
        context: Context { effective_time, shard: shard.to_string() },
        shard,
        fail_on_warn: req.fail_on_warn,
        detail: req.detail,
        jobs: req.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1),
        registry,
        api,
        registries,
        api_endpoints: if subjects_have_sources { req.attestation_apis.clone() } else { Vec::new() },
        local_ca,
        info: PlanInfo::default(),
        notes,
        waivers,
        summaries_out,
        summaries_in,
        summary_digests: std::sync::OnceLock::new(),
    };
    plan.info = PlanInfo { trust: Some(trust_info), ..plan.info(manifest_sha256, !req.any_signer) };
    if plan.info.assigned.is_empty() {
        plan.notes.push(format!(
            "shard {shard} was assigned none of the plan's {} subjects; `vouch report merge` checks the whole plan",
            plan.info.subjects
        ));
    }
    Ok(plan)
}

type Listed = (Vec<Signer>, Vec<Option<Policy>>, Vec<SubjectPlan>);

/// The manifest's subjects, then the flags', with the signers and policy variants they
/// refer to by index.
fn list_subjects(
    flags: &[SubjectRequest],
    req: &Request,
    manifest: Option<&Manifest>,
    base: &Path,
    flag_signer: Option<Signer>,
    policy: Option<&Policy>,
    notes: &mut Vec<String>,
) -> Result<Listed> {
    let default_signer = match (flag_signer, manifest.map(|m| &m.identities)) {
        (Some(signer), _) => Some(signer),
        (None, Some(specs)) if !specs.is_empty() => Some(Signer::AnyOf(specs.iter().map(|s| s.requirement()).collect::<Result<_, _>>()?)),
        _ => None,
    };
    // Slot 0: the run's own signer and policy (or, when they decide nothing, a
    // placeholder no subject may use: every subject is checked below).
    let base_signer = require_signer_decision(default_signer.clone(), policy);
    let mut signers = vec![base_signer.as_ref().ok().cloned().unwrap_or(Signer::AnyIdentity)];
    let mut policies = vec![policy.cloned()];
    let mut subjects = Vec::new();
    // A blob's bundle is at the template, unless its evidence comes only from
    // attestation APIs (no template given).
    let add_blob = |pattern: &str, template: Option<&str>, signer: usize, policy: usize, subjects: &mut Vec<SubjectPlan>| {
        let invalid = |code, message| Target::Invalid { kind: "blob", name: pattern.to_string(), code, message };
        match expand_glob(base, pattern) {
            Ok(paths) if paths.is_empty() => {
                subjects.push(SubjectPlan::new(invalid(Code::CheckNoMatch, format!("no file matches {pattern:?}")), signer, policy))
            }
            Ok(paths) => subjects.extend(paths.into_iter().map(|path| {
                let bundles = template.map(|t| bundle_for(t, &path, base)).into_iter().collect();
                SubjectPlan::new(Target::Blob { bundles, path }, signer, policy)
            })),
            Err(message) => subjects.push(SubjectPlan::new(invalid(Code::CheckGlob, message), signer, policy)),
        }
    };
    let parse_sources = |list: &[String]| list.iter().map(|s| Source::parse(s)).collect::<Result<Vec<_>>>();
    let manifest_sources = parse_sources(manifest.map(|m| m.attestations.as_slice()).unwrap_or_default())?;
    let flag_sources = parse_sources(&req.attestations)?;
    let source = manifest.and_then(|m| m.source.as_ref());
    for (i, s) in manifest.map(|m| m.subjects.as_slice()).unwrap_or_default().iter().enumerate() {
        let policy_slot = match &s.data {
            Some(data) => {
                let base_policy = policy.ok_or_else(|| {
                    Error::Manifest(PolicyError::new(
                        PolicyErrorKind::Config,
                        format!("subjects[{i}] has `data`, but no policy is loaded to read it"),
                    ))
                })?;
                let at = [Seg::Key("subjects".into()), Seg::Index(i), Seg::Key("data".into())];
                let origin = source.map(|(path, text)| (path.as_path(), text.as_str(), &at[..]));
                policies.push(Some(base_policy.with_data(data, origin)?));
                policies.len() - 1
            }
            None => 0,
        };
        if let Some(Some(p)) = policies.get(policy_slot) {
            p.require_named_configured().map_err(Error::Policy)?;
        }
        let signer = match &s.identities {
            Some(specs) => {
                signers.push(Signer::AnyOf(specs.iter().map(|i| i.requirement()).collect::<Result<_, _>>()?));
                signers.len() - 1
            }
            None if policy_slot != 0 => {
                signers.push(require_signer_decision(default_signer.clone(), policies.get(policy_slot).and_then(Option::as_ref))?);
                signers.len() - 1
            }
            None => {
                base_signer.as_ref().map_err(again)?;
                0
            }
        };
        let sources = match &s.attestations {
            Some(list) => parse_sources(list)?,
            None => manifest_sources.clone(),
        };
        let first = subjects.len();
        if let Some(pattern) = &s.blob {
            let template = s.bundle.as_deref().or(sources.is_empty().then_some("{path}.sigstore.json"));
            add_blob(pattern, template, signer, policy_slot, &mut subjects);
        } else if let Some(image) = &s.image {
            subjects.push(SubjectPlan::new(Target::Image { reference: image.clone(), platform: s.platform.clone() }, signer, policy_slot));
        } else if let Some(digest) = &s.digest {
            let bundles = s.bundle.iter().map(|b| base.join(b)).collect();
            subjects.push(SubjectPlan::new(Target::Digest { input: digest.clone(), bundles, name: s.name.clone() }, signer, policy_slot));
        } else if let Some(package) = &s.package {
            subjects.push(SubjectPlan::new(Target::Package(packages::PackageSpec::parse(package)?), signer, policy_slot));
        } else if let Some(lockfile) = &s.lockfile {
            add_lockfile(&base.join(lockfile), s.only.as_deref(), signer, policy_slot, &mut subjects, notes)?;
        }
        for subject in subjects.iter_mut().skip(first) {
            if !matches!(subject.target, Target::Package(_) | Target::Invalid { kind: "package", .. }) {
                subject.sources = sources.clone();
            }
        }
    }
    if !flags.is_empty() {
        base_signer.as_ref().map_err(again)?;
    }
    if !req.only.is_empty() && !flags.iter().any(|f| matches!(f, SubjectRequest::Lockfile(_))) {
        return Err(Error::usage(
            Code::PackageLockfile,
            "--only selects the packages of a --lockfile: give one (in a manifest, write only: under the lockfile)",
        ));
    }
    let template = req.bundle_template.as_deref().unwrap_or("{path}.sigstore.json");
    let first = subjects.len();
    for subject in flags {
        match subject {
            SubjectRequest::Blob(pattern) => add_blob(pattern, Some(template), 0, 0, &mut subjects),
            SubjectRequest::Image { reference, platform } => {
                ImageRef::parse(reference)?;
                subjects.push(SubjectPlan::new(Target::Image { reference: reference.clone(), platform: platform.clone() }, 0, 0));
            }
            // `-`: the artifact on stdin, judged by its sha256 (as cosign reads it).
            SubjectRequest::File { input, bundle } if input == "-" => {
                let stdin = std::io::stdin().lock();
                let digest = sigstore_verify::crypto::sha256_reader(stdin).map_err(|source| Error::Io {
                    path: PathBuf::from("-"),
                    what: "artifact (stdin)",
                    source,
                })?;
                notes.push(format!("the artifact is stdin: judged by its sha256 ({})", digest.to_hex()));
                subjects.push(SubjectPlan::new(
                    named_file(&format!("sha256:{}", digest.to_hex()), bundle.as_deref(), &flag_sources)?,
                    0,
                    0,
                ));
            }
            SubjectRequest::File { input, bundle } => {
                subjects.push(SubjectPlan::new(named_file(input, bundle.as_deref(), &flag_sources)?, 0, 0));
            }
            SubjectRequest::Bundle(bundle) => {
                let digest = digest_named_by(bundle)?;
                notes.push(format!("no artifact given: verifying the bundle against the sha256 it names ({digest})"));
                subjects.push(SubjectPlan::new(named_file(&digest, Some(bundle), &flag_sources)?, 0, 0));
            }
            SubjectRequest::Package(spec) => subjects.push(SubjectPlan::new(Target::Package(packages::PackageSpec::parse(spec)?), 0, 0)),
            SubjectRequest::Lockfile(path) => {
                add_lockfile(path, (!req.only.is_empty()).then_some(req.only.as_slice()), 0, 0, &mut subjects, notes)?
            }
        }
    }
    for subject in subjects.iter_mut().skip(first) {
        if !matches!(subject.target, Target::Package(_) | Target::Invalid { kind: "package", .. }) {
            subject.sources = flag_sources.clone();
        }
    }
    for s in &mut subjects {
        s.id = s.listed_id(base);
        // The attestation APIs look subjects up by sha256: another digest is a subject
        // that could never be judged on what its sources hold.
        if let Target::Digest { input, .. } = &s.target {
            if !s.sources.is_empty() && !input.to_ascii_lowercase().starts_with("sha256:") {
                return Err(Error::usage(
                    Code::UsageAttestations,
                    format!("{input}: attestation APIs look attestations up by sha256; give the file or its sha256: digest"),
                ));
            }
        }
    }
    Ok((signers, policies, subjects))
}

/// Every locked package of a lockfile as a subject (those matching `only`, when given);
/// what cannot be judged (git and URL dependencies) is a subject that fails.
fn add_lockfile(
    path: &Path,
    only: Option<&[String]>,
    signer: usize,
    policy: usize,
    subjects: &mut Vec<SubjectPlan>,
    notes: &mut Vec<String>,
) -> Result<()> {
    let locked = packages::read_lockfile(path)?;
    // `*` crosses the `/` of a scoped name: "*" means every package. PyPI names are
    // matched against the patterns normalized (PEP 503).
    let build = |globs: &[String], normalize: bool| -> Result<globset::GlobSet> {
        let mut set = globset::GlobSetBuilder::new();
        for g in globs {
            let pattern = if normalize { packages::normalize_pypi(g) } else { g.clone() };
            let glob = globset::GlobBuilder::new(&pattern)
                .literal_separator(false)
                .build()
                .map_err(|e| Error::usage(Code::PackageLockfile, format!("{}: only: {g:?}: {e}", path.display())))?;
            set.add(glob);
        }
        set.build().map_err(|e| Error::usage(Code::PackageLockfile, format!("{}: only: {e}", path.display())))
    };
    let only = match only {
        Some(globs) => Some((build(globs, false)?, build(globs, true)?)),
        None => None,
    };
    let before = subjects.len();
    notes.extend(locked.notes);
    let mut left_out = 0;
    for spec in locked.packages {
        if only.as_ref().is_none_or(|(set, normalized)| spec.selected_by(set, normalized)) {
            subjects.push(SubjectPlan::new(Target::Package(spec), signer, policy));
        } else {
            left_out += 1;
        }
    }
    for u in locked.unjudgeable {
        if only.as_ref().is_none_or(|(set, _)| u.names.iter().any(|n| set.is_match(n) || set.is_match(format!("npm:{n}")))) {
            subjects.push(SubjectPlan::new(
                Target::Invalid { kind: "package", name: u.id, code: Code::PackageUnjudgeable, message: u.message },
                signer,
                policy,
            ));
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        notes.push(format!("{}: `only` left out {left_out} of its packages", path.display()));
    }
    if subjects.len() == before {
        return Err(Error::usage(
            Code::PackageLockfile,
            format!(
                "{}: no package {}: a gate that judges nothing cannot pass",
                path.display(),
                if only.is_some() { "matches `only`" } else { "is locked in it" }
            ),
        ));
    }
    Ok(())
}

/// The same planning error again, for each subject it concerns (policy errors keep
/// their location).
fn again(e: &Error) -> Error {
    match e {
        Error::Policy(p) => Error::Policy(p.clone()),
        other => other.shared(),
    }
}

/// A file (or digest) and bundle the user named: both must be readable (a bundle that
/// reads but is not valid evidence is a rejection, later). Without a bundle, the
/// evidence must come from attestation sources.
fn named_file(input: &str, bundle: Option<&Path>, sources: &[Source]) -> Result<Target> {
    if bundle.is_none() && sources.is_empty() {
        return Err(Error::usage(
            Code::UsageAttestations,
            "nothing to verify with: give --bundle FILE, or --attestations SOURCE to fetch the attestations by digest",
        ));
    }
    let readable = |path: &Path, what| {
        let io = |source| Error::Io { path: path.to_path_buf(), what, source };
        match std::fs::metadata(path).map_err(io)? {
            m if m.is_file() => std::fs::File::open(path).map(drop).map_err(io),
            _ => Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file"))),
        }
    };
    let bundles: Vec<PathBuf> = bundle.map(Path::to_path_buf).into_iter().collect();
    let target = match ArtifactInput::parse(input)? {
        ArtifactInput::Digest(_) => Target::Digest { input: input.to_string(), bundles, name: None },
        ArtifactInput::File(path) => {
            readable(&path, "artifact")?;
            Target::Blob { path, bundles }
        }
    };
    if let Some(bundle) = bundle {
        readable(bundle, "bundle")?;
    }
    Ok(target)
}

/// `sha256:HEX` of the artifact a bundle names itself.
fn digest_named_by(bundle: &Path) -> Result<String> {
    let evidence = match crate::evidence::load_bundle(bundle) {
        Err(e @ (Error::Io { .. } | Error::TooLarge { .. })) => return Err(e),
        other => other,
    };
    evidence.ok().and_then(|e| e.claimed_sha256()).map(|d| format!("sha256:{}", d.to_hex())).ok_or_else(|| {
        Error::NeedArtifact("the bundle names no sha256 digest of its artifact (an attestation with sha512 subjects?)".into())
    })
}

impl Plan {
    /// What a shard's report records of the plan, so that `report merge` can check that
    /// it was given every shard of one plan exactly once. `setup_sha256` covers what the
    /// verdicts depend on beside the subject ids (manifest, trusted root and platforms,
    /// every signer and policy variant, fail-on-warn, N, each subject's bundles, signer
    /// and policy); the plan's id covers it and the sorted ids of all subjects, so that a
    /// merge can recompute it from the shards' `assigned` lists.
    fn info(&self, manifest_sha256: Option<String>, judges_signers: bool) -> PlanInfo {
        let ids: Vec<String> = self.subjects.iter().map(|s| s.id.clone()).collect();
        let assigned: Vec<String> = ids.iter().filter(|id| self.shard.contains(id)).cloned().collect();
        let policy_digests: Vec<Option<String>> = self.policies.iter().map(|p| p.as_ref().map(Policy::digest)).collect();
        let policy_sha256 = policy_digests.first().cloned().flatten();
        let mut text = format!(
            "vouch-plan-setup-v1\nmanifest {}\ntrust {}\nfail-on-warn {}\nshards {}\n",
            manifest_sha256.as_deref().unwrap_or("-"),
            self.trust.digest(),
            self.fail_on_warn,
            self.shard.total
        );
        for signer in &self.signers {
            text.push_str(&format!("signer {signer:?}\n"));
        }
        for digest in &policy_digests {
            text.push_str(&format!("policy {}\n", digest.as_deref().unwrap_or("-")));
        }
        for s in &self.subjects {
            let bundles = match &s.target {
                Target::Blob { bundles, .. } | Target::Digest { bundles, .. } => {
                    bundles.iter().map(|b| listed(b, &self.base)).collect::<Vec<_>>().join(" ")
                }
                _ => String::new(),
            };
            let sources = s.sources.iter().map(Source::name).collect::<Vec<_>>().join(" ");
            let bundles = match &s.target {
                Target::Package(spec) => format!("{bundles}locked {}", spec.locked.as_deref().unwrap_or("-")),
                _ => bundles,
            };
            text.push_str(&format!("subject {:?} bundles {bundles:?} sources {sources:?} signer {} policy {}\n", s.id, s.signer, s.policy));
        }
        for endpoint in &self.api_endpoints {
            text.push_str(&format!("attestations-api {endpoint}\n"));
        }
        text.push_str(&format!("local-ca {}\n", self.local_ca.describe()));
        if let Some(waivers) = self.waivers.digest() {
            text.push_str(&format!("waivers {waivers}\n"));
        }
        if self.subjects.iter().any(|s| matches!(s.target, Target::Package(_))) {
            text.push_str(&format!("registries {}\n", self.registries.describe()));
        }
        let setup_sha256 = sigstore_verify::crypto::sha256(text.as_bytes()).to_hex();
        PlanInfo {
            id: PlanInfo::id_of(&setup_sha256, ids.clone()),
            setup_sha256,
            manifest_sha256,
            policy_sha256,
            subjects: ids.len(),
            shard_total: self.shard.total,
            assigned,
            judges_signers,
            trust: None,
        }
    }
}
