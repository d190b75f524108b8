//! `vouch check`: subjects → results, in parallel. Blobs are hashed and images fetched
//! first (fetches with bounded concurrency on tokio), then every distinct piece of work
//! is verified and judged once on rayon, one policy engine per worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, ErrorKind};
use crate::evidence;
use crate::judge::{Judge, Judgement, Reason, Verdict};
use crate::oci::{self, Discovery, ImageRef, RegistryClient};
use crate::policy::{Context, Finding, Policy, SubjectInfo};
use crate::subject::{Artifact, ArtifactInput};
use crate::trust::Trust;
use crate::verify::Signer;

/// A glob that expands to more files than this is a mistake (or an attack).
pub const MAX_GLOB_SUBJECTS: usize = 100_000;

/// The most shards a plan may have (`--shard I/N`, N ≤ this).
pub const MAX_SHARDS: u64 = 10_000;

/// `I/N`: this run judges the subjects whose digest falls in shard I of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub total: u64,
}

impl Shard {
    pub fn parse(s: &str) -> Option<Self> {
        let (i, n) = s.split_once('/')?;
        let (index, total) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
        ((1..=MAX_SHARDS).contains(&total) && (1..=total).contains(&index)).then_some(Shard { index, total })
    }

    pub fn all() -> Self {
        Shard { index: 1, total: 1 }
    }

    /// Whether the subject with this plan id ([`SubjectPlan::id`]) is this shard's: by the
    /// id as listed, never by a digest resolved at run time (a tag that moves between
    /// two shard jobs must not make its image fall between them). The same id listed
    /// twice lands in the same shard.
    pub fn contains(&self, id: &str) -> bool {
        let hash = sigstore_verify::crypto::sha256(id.as_bytes());
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(hash.as_bytes().get(..8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(prefix) % self.total == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

/// One subject as listed (after glob expansion).
#[derive(Debug, Clone)]
pub struct SubjectPlan {
    pub target: Target,
    /// Index into [`Batch::signers`].
    pub signer: usize,
    /// Index into [`Batch::policies`].
    pub policy: usize,
    /// [`SubjectPlan::id`], set by [`plan`].
    id: String,
}

impl SubjectPlan {
    fn new(target: Target, signer: usize, policy: usize) -> Self {
        SubjectPlan { target, signer, policy, id: String::new() }
    }

    /// The subject as the plan lists it, the same in every shard job of one pipeline
    /// wherever the job checked the files out (paths relative to the manifest):
    /// `blob:PATH`, `image:REF[#PLATFORM]`, `digest:DIGEST BUNDLE`.
    pub fn id(&self) -> String {
        self.id.clone()
    }

    fn listed_id(&self, base: &Path) -> String {
        match &self.target {
            Target::Blob { path, .. } => format!("blob:{}", listed(path, base)),
            Target::Digest { input, bundles } => {
                format!("digest:{input} {}", bundles.iter().map(|b| listed(b, base)).collect::<Vec<_>>().join(" "))
            }
            Target::Image { reference, platform: Some(p) } => format!("image:{reference}#{p}"),
            Target::Image { reference, platform: None } => format!("image:{reference}"),
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
    },
    Image {
        reference: String,
        platform: Option<String>,
    },
    /// Could not even be listed (a glob that matched nothing, a bad pattern).
    Invalid {
        kind: &'static str,
        name: String,
        code: String,
        message: String,
    },
}

/// Expand a `blob` glob (relative to `base`) into files, sorted.
pub fn expand_glob(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob {pattern:?}: {e}"))?
        .compile_matcher();
    // Walk from the longest literal prefix directory of the pattern.
    let literal: Vec<&str> = pattern.split('/').take_while(|part| !part.contains(['*', '?', '[', '{'])).collect();
    let is_literal_file = literal.len() == pattern.split('/').count();
    if is_literal_file {
        let path = base.join(pattern);
        return Ok(if path.is_file() { vec![path] } else { Vec::new() });
    }
    let root = base.join(literal.join("/"));
    let mut out = Vec::new();
    // Symbolic links are followed (build outputs are often links, Bazel's always);
    // each directory is read once, so a link cycle ends.
    let mut seen_dirs = std::collections::HashSet::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        if let Ok(real) = std::fs::canonicalize(&dir) {
            if !seen_dirs.insert(real) {
                continue;
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(mut file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_symlink() {
                let Ok(target) = std::fs::metadata(&path) else {
                    continue;
                };
                file_type = target.file_type();
            }
            if file_type.is_dir() {
                stack.push(path);
            } else if file_type.is_file() {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                if glob.is_match(rel) {
                    out.push(path);
                    if out.len() > MAX_GLOB_SUBJECTS {
                        return Err(format!("{pattern:?} matches more than {MAX_GLOB_SUBJECTS} files"));
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `{path}` in a bundle template is the artifact's path as listed.
pub fn bundle_for(template: &str, artifact: &Path, base: &Path) -> PathBuf {
    let shown = artifact.strip_prefix(base).unwrap_or(artifact).display().to_string();
    let bundle = template.replace("{path}", &shown);
    base.join(bundle)
}

/// What to plan a batch from: a manifest and/or subjects and identities given as flags.
pub struct PlanRequest<'a> {
    pub manifest: Option<&'a crate::manifest::Manifest>,
    /// The manifest's directory: paths and globs are relative to it.
    pub base: &'a Path,
    pub blobs: &'a [String],
    pub images: &'a [String],
    /// Where a flag blob's bundle is (`{path}` is the file).
    pub bundle_template: &'a str,
    /// Signers from flags; they replace the manifest's identities.
    pub flag_signer: Option<Signer>,
    pub policy: Option<&'a Policy>,
}

/// The subjects, and the signers and policy variants they refer to by index.
pub struct Planned {
    pub signers: Vec<Signer>,
    pub policies: Vec<Option<Policy>>,
    pub subjects: Vec<SubjectPlan>,
    /// The manifest's folder: paths in the plan are relative to it.
    pub base: PathBuf,
}

/// What else a plan's verdicts depend on, beside its subjects: shards of one plan must
/// agree on all of it.
pub struct PlanSetup {
    pub manifest_sha256: Option<String>,
    /// [`Trust::digest`].
    pub trust_sha256: String,
    pub fail_on_warn: bool,
}

impl Planned {
    /// What a shard's report records of the plan, so that `report merge` can check that
    /// it was given every shard of one plan exactly once. `setup_sha256` covers what the
    /// verdicts depend on beside the subject ids (manifest, trusted root and platforms,
    /// every signer and policy variant, fail-on-warn, N, each subject's bundles, signer
    /// and policy); the plan's id covers it and the sorted ids of all subjects, so that a
    /// merge can recompute it from the shards' `assigned` lists.
    pub fn info(&self, setup: &PlanSetup, shard: Shard) -> crate::report::PlanInfo {
        let ids: Vec<String> = self.subjects.iter().map(SubjectPlan::id).collect();
        let assigned: Vec<String> = ids.iter().filter(|id| shard.contains(id)).cloned().collect();
        let policy_digests: Vec<Option<String>> = self.policies.iter().map(|p| p.as_ref().map(Policy::digest)).collect();
        let policy_sha256 = policy_digests.first().cloned().flatten();
        let mut text = format!(
            "vouch-plan-setup-v1\nmanifest {}\ntrust {}\nfail-on-warn {}\nshards {}\n",
            setup.manifest_sha256.as_deref().unwrap_or("-"),
            setup.trust_sha256,
            setup.fail_on_warn,
            shard.total
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
            text.push_str(&format!("subject {:?} bundles {bundles:?} signer {} policy {}\n", s.id(), s.signer, s.policy));
        }
        let setup_sha256 = sigstore_verify::crypto::sha256(text.as_bytes()).to_hex();
        crate::report::PlanInfo {
            id: crate::report::PlanInfo::id_of(&setup_sha256, ids.clone()),
            setup_sha256,
            manifest_sha256: setup.manifest_sha256.clone(),
            policy_sha256,
            subjects: ids.len(),
            shard_total: shard.total,
            assigned,
        }
    }
}

/// Expand a request into subjects. Every subject must have someone who decides who may
/// sign — identities or a policy — or nothing is judged.
pub fn plan(req: PlanRequest<'_>) -> Result<Planned, Error> {
    use crate::verify::require_signer_decision;
    let default_signer = match (req.flag_signer, req.manifest.map(|m| &m.identities)) {
        (Some(signer), _) => Some(signer),
        (None, Some(specs)) if !specs.is_empty() => Some(Signer::AnyOf(specs.iter().map(|s| s.requirement()).collect::<Result<_, _>>()?)),
        _ => None,
    };
    // Slot 0: the run's own signer and policy (or, when they decide nothing, a
    // placeholder no subject may use: every subject is checked below).
    let base_signer = require_signer_decision(default_signer.clone(), req.policy);
    let mut signers = vec![base_signer.as_ref().ok().cloned().unwrap_or(Signer::AnyIdentity)];
    let mut policies = vec![req.policy.cloned()];
    let mut subjects = Vec::new();
    let base = req.base;
    let add_blob =
        |pattern: &str, template: &str, signer: usize, policy: usize, subjects: &mut Vec<SubjectPlan>| match expand_glob(base, pattern) {
            Ok(paths) if paths.is_empty() => subjects.push(SubjectPlan::new(
                Target::Invalid {
                    kind: "blob",
                    name: pattern.to_string(),
                    code: "vouch::check::no-match".into(),
                    message: format!("no file matches {pattern:?}"),
                },
                signer,
                policy,
            )),
            Ok(paths) => subjects.extend(
                paths
                    .into_iter()
                    .map(|path| SubjectPlan::new(Target::Blob { bundles: vec![bundle_for(template, &path, base)], path }, signer, policy)),
            ),
            Err(message) => subjects.push(SubjectPlan::new(
                Target::Invalid { kind: "blob", name: pattern.to_string(), code: "vouch::check::glob".into(), message },
                signer,
                policy,
            )),
        };
    let source = req.manifest.and_then(|m| m.source.as_ref());
    for (i, s) in req.manifest.map(|m| m.subjects.as_slice()).unwrap_or_default().iter().enumerate() {
        let policy = match &s.data {
            Some(data) => {
                let base_policy = req.policy.ok_or_else(|| {
                    Error::Manifest(crate::policy::PolicyError::new(
                        crate::policy::PolicyErrorKind::Config,
                        format!("subjects[{i}] has `data`, but no policy is loaded to read it"),
                    ))
                })?;
                let at = [
                    crate::policy::schema::Seg::Key("subjects".into()),
                    crate::policy::schema::Seg::Index(i),
                    crate::policy::schema::Seg::Key("data".into()),
                ];
                let origin = source.map(|(path, text)| (path.as_path(), text.as_str(), &at[..]));
                policies.push(Some(base_policy.with_data(data, origin)?));
                policies.len() - 1
            }
            None => 0,
        };
        if let Some(Some(p)) = policies.get(policy) {
            p.require_named_configured().map_err(Error::Policy)?;
        }
        let signer = match &s.identities {
            Some(specs) => {
                signers.push(Signer::AnyOf(specs.iter().map(|i| i.requirement()).collect::<Result<_, _>>()?));
                signers.len() - 1
            }
            None if policy != 0 => {
                signers.push(require_signer_decision(default_signer.clone(), policies[policy].as_ref())?);
                signers.len() - 1
            }
            None => {
                base_signer.as_ref().map_err(again)?;
                0
            }
        };
        if let Some(pattern) = &s.blob {
            add_blob(pattern, s.bundle.as_deref().unwrap_or("{path}.sigstore.json"), signer, policy, &mut subjects);
        } else if let Some(image) = &s.image {
            subjects.push(SubjectPlan::new(Target::Image { reference: image.clone(), platform: s.platform.clone() }, signer, policy));
        } else if let Some(digest) = &s.digest {
            let bundles = vec![base.join(s.bundle.as_deref().unwrap_or_default())];
            subjects.push(SubjectPlan::new(Target::Digest { input: digest.clone(), bundles }, signer, policy));
        }
    }
    if !req.blobs.is_empty() || !req.images.is_empty() {
        base_signer.as_ref().map_err(again)?;
    }
    for pattern in req.blobs {
        add_blob(pattern, req.bundle_template, 0, 0, &mut subjects);
    }
    for image in req.images {
        subjects.push(SubjectPlan::new(Target::Image { reference: image.clone(), platform: None }, 0, 0));
    }
    for s in &mut subjects {
        s.id = s.listed_id(base);
    }
    Ok(Planned { signers, policies, subjects, base: base.to_path_buf() })
}

/// Everything that stays the same across subjects.
pub struct Batch<'a> {
    pub trust: &'a Trust,
    pub signers: Vec<Signer>,
    pub policies: Vec<Option<Policy>>,
    pub context: Context,
    pub shard: Shard,
    pub fail_on_warn: bool,
    pub jobs: usize,
    pub registry: Option<&'a RegistryClient>,
    /// Called with (done, total) as work items finish (the CLI draws a progress bar).
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectVerdict {
    Pass,
    Fail,
    /// Not judged: the registry or network failed (retrying may help).
    Error,
}

/// Who signed, in brief (the full claims are kept only for failed subjects).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SignerSummary {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
}

/// One subject's result: small, so that a batch's memory is its results.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SubjectResult {
    /// The subject's plan id ([`SubjectPlan::id`]): what `report merge` checks off.
    #[serde(default)]
    pub id: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub verdict: SubjectVerdict,
    pub reasons: Vec<Reason>,
    pub signers: Vec<SignerSummary>,
    pub warnings: Vec<Finding>,
    /// The claims that decided, for failed subjects.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub claims: Vec<serde_json::Value>,
}

impl SubjectResult {
    fn from_judgement(kind: &str, j: Judgement) -> Self {
        let failed = j.verdict == Verdict::Fail;
        SubjectResult {
            id: String::new(),
            kind: kind.to_string(),
            name: j.subject.name.clone(),
            sha256: Some(j.subject.sha256.clone()),
            verdict: if failed { SubjectVerdict::Fail } else { SubjectVerdict::Pass },
            reasons: j.reasons,
            signers: j
                .signatures
                .iter()
                .map(|s| SignerSummary {
                    kind: format!("{:?}", s.kind).to_lowercase(),
                    identity: s
                        .claims
                        .as_ref()
                        .and_then(|c| c.identity.as_ref().map(|i| i.value.clone()))
                        .or_else(|| s.key_fingerprint_sha256.as_ref().map(|k| format!("key sha256:{k}"))),
                    issuer: s.claims.as_ref().and_then(|c| c.issuer.clone()),
                    predicate_type: s.predicate_type.clone(),
                })
                .collect(),
            warnings: j.policy.map(|p| p.warn).unwrap_or_default(),
            claims: if failed { j.signatures.iter().filter_map(|s| serde_json::to_value(&s.claims).ok()).collect() } else { Vec::new() },
        }
    }

    fn failed(kind: &str, name: String, sha256: Option<String>, error: &Error) -> Self {
        let verdict = if error.kind() == ErrorKind::Infrastructure { SubjectVerdict::Error } else { SubjectVerdict::Fail };
        SubjectResult {
            id: String::new(),
            kind: kind.into(),
            name,
            sha256,
            verdict,
            reasons: vec![Reason { code: error.code(), message: error.to_string() }],
            signers: Vec::new(),
            warnings: Vec::new(),
            claims: Vec::new(),
        }
    }
}

/// What to verify, once per distinct (artifact, evidence, signer, policy).
enum Work {
    Blob { artifact: Artifact, kind: &'static str, bundles: Vec<PathBuf>, signer: usize, policy: usize },
    Image { discovery: Box<Discovery>, signer: usize, policy: usize },
}

impl<'a> Batch<'a> {
    /// Judge every subject; results in the order listed.
    pub fn run(&self, subjects: Vec<SubjectPlan>) -> Vec<SubjectResult> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(self.jobs.max(1)).build();
        match pool {
            Ok(pool) => pool.install(|| self.run_in_pool(subjects)),
            Err(_) => self.run_in_pool(subjects),
        }
    }

    #[allow(clippy::result_large_err)] // a subject that fails before verification is its result
    fn run_in_pool(&self, subjects: Vec<SubjectPlan>) -> Vec<SubjectResult> {
        // 0. This shard's subjects only, by their plan ids (before any file is read).
        let subjects: Vec<(String, SubjectPlan)> =
            subjects.into_iter().map(|s| (s.id(), s)).filter(|(id, _)| self.shard.contains(id)).collect();
        let ids: Vec<String> = subjects.iter().map(|(id, _)| id.clone()).collect();
        let subjects: Vec<SubjectPlan> = subjects.into_iter().map(|(_, s)| s).collect();
        // 1. Hash files and resolve images (the only I/O), each subject to a digest.
        let images: Vec<(usize, ImageRef, Option<String>)> = subjects
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.target {
                Target::Image { reference, platform } => ImageRef::parse(reference).ok().map(|r| (i, r, platform.clone())),
                _ => None,
            })
            .collect();
        let mut discoveries: HashMap<usize, Result<Discovery, Error>> = self.discover_all(images);

        let prepared: Vec<Result<Work, SubjectResult>> = subjects
            .par_iter()
            .enumerate()
            .map(|(_, s)| match &s.target {
                Target::Invalid { kind, name, code, message } => Err(SubjectResult {
                    id: String::new(),
                    kind: kind.to_string(),
                    name: name.clone(),
                    sha256: None,
                    verdict: SubjectVerdict::Fail,
                    reasons: vec![Reason { code: code.clone(), message: message.clone() }],
                    signers: vec![],
                    warnings: vec![],
                    claims: vec![],
                }),
                Target::Blob { path, bundles } => Artifact::open(ArtifactInput::File(path.clone()))
                    .map(|artifact| Work::Blob { artifact, kind: "blob", bundles: bundles.clone(), signer: s.signer, policy: s.policy })
                    .map_err(|e| SubjectResult::failed("blob", path.display().to_string(), None, &e)),
                Target::Digest { input, bundles } => ArtifactInput::parse(input)
                    .and_then(Artifact::open)
                    .map(|artifact| Work::Blob { artifact, kind: "digest", bundles: bundles.clone(), signer: s.signer, policy: s.policy })
                    .map_err(|e| SubjectResult::failed("digest", input.clone(), None, &e)),
                // Filled in from the discoveries below.
                Target::Image { reference, .. } => {
                    Err(SubjectResult::failed("image", reference.clone(), None, &Error::ImageNotFound(reference.clone())))
                }
            })
            .collect();
        let mut prepared: Vec<Result<Work, SubjectResult>> = prepared;
        for (i, s) in subjects.iter().enumerate() {
            if let Target::Image { reference, .. } = &s.target {
                prepared[i] = match discoveries.remove(&i) {
                    Some(Ok(d)) => Ok(Work::Image { discovery: Box::new(d), signer: s.signer, policy: s.policy }),
                    Some(Err(e)) => Err(SubjectResult::failed("image", reference.clone(), None, &e)),
                    None => Err(SubjectResult::failed(
                        "image",
                        reference.clone(),
                        None,
                        &ImageRef::parse(reference).err().unwrap_or(Error::ImageNotFound(reference.clone())),
                    )),
                };
            }
        }

        // 2. Each distinct piece of work once.
        // Per subject: the shared slot, and its own kind and name.
        let mut order: Vec<Option<(usize, &'static str, String)>> = Vec::with_capacity(prepared.len());
        let mut unique: Vec<Work> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut direct: HashMap<usize, SubjectResult> = HashMap::new();
        for (i, p) in prepared.into_iter().enumerate() {
            match p {
                Err(result) => {
                    direct.insert(i, result);
                    order.push(None);
                }
                Ok(work) => {
                    let key = work_key(&work);
                    let (kind, name) = work_name(&work);
                    let slot = *seen.entry(key).or_insert_with(|| {
                        unique.push(work);
                        unique.len() - 1
                    });
                    order.push(Some((slot, kind, name)));
                }
            }
        }

        // 3. Verify and judge, one policy clone per worker thread (rayon's map_init would
        // clone once per split, which costs more than the evaluation).
        let workers: Vec<std::sync::Mutex<Vec<Option<Policy>>>> =
            (0..rayon::current_num_threads().max(1)).map(|_| std::sync::Mutex::new(self.policies.clone())).collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let total = unique.len();
        let results: Vec<SubjectResult> = unique
            .par_iter()
            .map(|work| {
                let slot = rayon::current_thread_index().unwrap_or(0) % workers.len();
                let mut policies = workers[slot].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let result = self.judge(work, &mut policies);
                if let Some(progress) = self.progress {
                    progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
                }
                result
            })
            .collect();

        let mut out = Vec::new();
        for (i, (slot, id)) in order.into_iter().zip(ids).enumerate() {
            let result = match slot {
                Some((slot, kind, name)) => {
                    let mut result = results[slot].clone();
                    result.kind = kind.to_string();
                    result.name = name;
                    Some(result)
                }
                None => direct.remove(&i),
            };
            if let Some(mut result) = result {
                result.id = id;
                out.push(result);
            }
        }
        out
    }

    fn discover_all(&self, images: Vec<(usize, ImageRef, Option<String>)>) -> HashMap<usize, Result<Discovery, Error>> {
        let mut out = HashMap::new();
        if images.is_empty() {
            return out;
        }
        let Some(client) = self.registry else {
            for (i, r, _) in images {
                out.insert(i, Err(Error::ImageNotFound(format!("{r}: no registry client"))));
            }
            return out;
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                for (i, r, _) in images {
                    out.insert(i, Err(Error::ImageNotFound(format!("{r}: cannot start the async runtime: {e}"))));
                }
                return out;
            }
        };
        let concurrency = (self.jobs * 8).clamp(4, 64);
        runtime.block_on(async {
            use futures_util::StreamExt as _;
            let results: Vec<(usize, Result<Discovery, Error>)> = futures_util::stream::iter(images)
                .map(|(i, r, platform)| async move { (i, oci::discover(client, &r, platform.as_deref()).await) })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            out.extend(results);
        });
        out
    }

    fn judge(&self, work: &Work, policies: &mut [Option<Policy>]) -> SubjectResult {
        let (signer, policy_idx) = match work {
            Work::Blob { signer, policy, .. } | Work::Image { signer, policy, .. } => (*signer, *policy),
        };
        let mut judge = Judge {
            trust: self.trust,
            signer: &self.signers[signer],
            policy: policies[policy_idx].take(),
            context: self.context.clone(),
            fail_on_warn: self.fail_on_warn,
            explain: false,
        };
        let result = match work {
            Work::Blob { artifact, kind, bundles, .. } => {
                let evidence = bundles.iter().map(|b| evidence::load_bundle(b)).collect();
                SubjectResult::from_judgement(kind, judge.judge(artifact, kind, evidence))
            }
            Work::Image { discovery, .. } => {
                let subject = &discovery.subject;
                let results = discovery
                    .evidence
                    .iter()
                    .map(|found| match found {
                        Ok(f) => oci::verify_found(self.trust, subject, f, &self.signers[signer]),
                        Err(e) => Err(clone_error(e)),
                    })
                    .collect();
                let info = SubjectInfo { kind: "image", name: subject.name(), sha256: subject.sha256().to_hex() };
                SubjectResult::from_judgement("image", judge.judge_results(info, results))
            }
        };
        policies[policy_idx] = judge.policy.take();
        result
    }
}

/// The same planning error again, for each subject it concerns.
fn again(e: &Error) -> Error {
    match e {
        Error::Policy(p) => Error::Policy(p.clone()),
        other => clone_error(other),
    }
}

/// Evidence errors are shared between duplicate subjects: keep code and message.
fn clone_error(e: &Error) -> Error {
    Error::Shared { code: e.code(), message: e.to_string(), kind: e.kind() }
}

/// A subject's own kind and name (duplicates share a judgement, not a name).
fn work_name(work: &Work) -> (&'static str, String) {
    match work {
        Work::Blob { artifact, kind, .. } => (kind, artifact.name()),
        Work::Image { discovery, .. } => ("image", discovery.subject.name()),
    }
}

fn work_key(work: &Work) -> String {
    match work {
        Work::Blob { artifact, bundles, signer, policy, .. } => {
            format!("file {} {bundles:?} {signer} {policy}", artifact.sha256().to_hex())
        }
        Work::Image { discovery, signer, policy } => {
            format!("image {} {} {signer} {policy}", discovery.subject.reference.repository, discovery.subject.sha256().to_hex())
        }
    }
}
