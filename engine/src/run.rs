//! Plan → report. This shard's subjects only; files hashed, then images resolved and
//! attestations fetched from APIs by digest (the only network I/O: bounded concurrency
//! on the one tokio runtime, built here and only when there is something to fetch, each
//! (source, digest) asked once), then every distinct piece of work is verified and
//! decided once on rayon, one policy engine per worker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::decide::{Decider, SubjectInfo};
use crate::error::{Error, Reason};
use crate::evidence::api::{self, ApiBundle, Source};
use crate::evidence::packages::{FetchedPackage, PackageBundle, RegistrySignature};
use crate::evidence::{self, Artifact, ArtifactInput};
use crate::oci::{self, Discovery, ImageRef};
use crate::plan::packages::{Ecosystem, PackageSpec};
use crate::plan::{Plan, SubjectPlan, Target};
use crate::policy::Policy;
use crate::report::{Report, SubjectResult};
use crate::verify::VerifiedSignature;
use crate::vsa::Reuse;

/// Called with (done, total) as work items finish (the CLI draws a progress bar).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Judge every subject of the plan (this shard's), in the order listed.
pub fn run(plan: &Plan, progress: Option<Progress<'_>>) -> Report {
    let results = match rayon::ThreadPoolBuilder::new().num_threads(plan.jobs).build() {
        Ok(pool) => pool.install(|| run_in_pool(plan, progress)),
        Err(_) => run_in_pool(plan, progress),
    };
    let mut report =
        Report::new(results, crate::claims::rfc3339_of(plan.context.effective_time), plan.shard.to_string(), plan.info.clone());
    report.waivers = plan.waivers.statuses();
    report
}

/// What to verify, once per distinct (artifact, evidence, signer, policy).
enum Work {
    Blob { artifact: Artifact, kind: &'static str, bundles: Vec<PathBuf>, fetched: Fetched, signer: usize, policy: usize },
    Image { discovery: Box<Discovery>, fetched: Fetched, signer: usize, policy: usize },
    Package { package: Box<FetchedPackage>, fetched: Fetched, signer: usize, policy: usize },
}

/// A subject's attestation sources, and what they served: each bundle, or a source
/// whose answer was refused (a failed piece of evidence).
struct Fetched {
    sources: Vec<Source>,
    /// Shared by every subject of the same digest (bundles can be large).
    bundles: Vec<Result<std::sync::Arc<ApiBundle>, Error>>,
}

impl Work {
    fn fetched(&self) -> &Fetched {
        match self {
            Work::Blob { fetched, .. } | Work::Image { fetched, .. } | Work::Package { fetched, .. } => fetched,
        }
    }

    fn fetched_mut(&mut self) -> &mut Fetched {
        match self {
            Work::Blob { fetched, .. } | Work::Image { fetched, .. } | Work::Package { fetched, .. } => fetched,
        }
    }
}

impl Fetched {
    fn of(sources: &[Source]) -> Self {
        Fetched { sources: sources.to_vec(), bundles: Vec::new() }
    }
}

fn run_in_pool(plan: &Plan, progress: Option<Progress<'_>>) -> Vec<SubjectResult> {
    // 0. This shard's subjects only, by their plan ids (before any file is read).
    let subjects: Vec<&SubjectPlan> = plan.subjects.iter().filter(|s| plan.shard.contains(s.id())).collect();

    // 0b. Images pinned by digest with a verification summary: nothing to fetch. (Per
    // subject: passed by its summary, or why its summaries were refused.)
    let mut passed_by_summary: HashMap<usize, SubjectResult> = HashMap::new();
    let mut refused_summaries: HashMap<usize, crate::vsa::SummaryUse> = HashMap::new();
    if let Some(summaries) = &plan.summaries_in {
        for (i, s) in subjects.iter().enumerate() {
            let Target::Image { reference, platform: None } = &s.target else { continue };
            let Some((r, digest)) = ImageRef::parse(reference).ok().and_then(|r| r.digest.clone().map(|d| (r, d))) else { continue };
            match summaries.reuse(plan, s, "image", &r.with_reference(&digest), &digest) {
                Some(Reuse::Passed(result)) => {
                    passed_by_summary.insert(i, *result);
                }
                Some(Reuse::Refused(why)) => {
                    refused_summaries.insert(i, why);
                }
                None => {}
            }
        }
    }
    let reused_images: std::collections::HashSet<usize> = passed_by_summary.keys().copied().collect();
    let reused = |i: &usize| reused_images.contains(i);

    // 1. Resolve images (the only network I/O) and hash files, each subject to a digest.
    let images: Vec<(usize, ImageRef, Option<String>)> = subjects
        .iter()
        .enumerate()
        .filter(|(i, _)| !reused(i))
        .filter_map(|(i, s)| match &s.target {
            Target::Image { reference, platform } => ImageRef::parse(reference).ok().map(|r| (i, r, platform.clone())),
            _ => None,
        })
        .collect();
    let packages: Vec<(usize, PackageSpec)> = subjects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.target {
            Target::Package(spec) => Some((i, spec.clone())),
            _ => None,
        })
        .collect();
    let sourced = subjects.iter().any(|s| !s.sources.is_empty());
    let runtime = if images.is_empty() && !sourced && packages.is_empty() { None } else { Some(runtime()) };
    let mut discoveries = discover_all(plan, runtime.as_ref(), images);
    let mut fetched_packages = fetch_packages(plan, runtime.as_ref(), packages);
    let prepared: Vec<Prepared> = subjects.par_iter().map(|s| prepare(s)).collect();
    let prepared: Vec<Prepared> = prepared
        .into_iter()
        .zip(&subjects)
        .enumerate()
        .map(|(i, (p, s))| match &s.target {
            _ if reused(&i) => match passed_by_summary.remove(&i) {
                Some(result) => Prepared::Done(result),
                None => p,
            },
            Target::Image { reference, .. } => match discoveries.remove(&i) {
                Some(Ok(d)) => Prepared::Work(Work::Image {
                    discovery: Box::new(d),
                    fetched: Fetched::of(&s.sources),
                    signer: s.signer,
                    policy: s.policy,
                }),
                Some(Err(e)) => Prepared::Done(SubjectResult::failed("image", reference.clone(), None, &e)),
                None => Prepared::Done(SubjectResult::failed(
                    "image",
                    reference.clone(),
                    None,
                    &ImageRef::parse(reference).err().unwrap_or(Error::ImageNotFound(reference.clone())),
                )),
            },
            Target::Package(spec) => match fetched_packages.remove(&i) {
                Some(Ok(package)) => Prepared::Work(Work::Package {
                    package: Box::new(package),
                    fetched: Fetched::of(&[]),
                    signer: s.signer,
                    policy: s.policy,
                }),
                Some(Err(e)) => Prepared::Done(SubjectResult::failed("package", spec.id(), None, &e)),
                None => {
                    Prepared::Done(SubjectResult::failed("package", spec.id(), None, &Error::Runtime("the package was not fetched".into())))
                }
            },
            _ => p,
        })
        .collect();
    // 1b. Files and digests, now hashed, and images, now resolved: their summaries.
    let prepared: Vec<Prepared> = match &plan.summaries_in {
        None => prepared,
        Some(summaries) => prepared
            .into_par_iter()
            .zip(subjects.par_iter())
            .enumerate()
            .map(|(i, (p, s))| {
                let Prepared::Work(work) = &p else { return (i, p, None) };
                let digest = match work {
                    Work::Blob { artifact, .. } => crate::evidence::digest_string(artifact.digest()),
                    Work::Image { discovery, .. } => format!("sha256:{}", discovery.subject.sha256().to_hex()),
                    Work::Package { package, .. } => crate::evidence::digest_string(&package.digest),
                };
                let (kind, name) = work_name(work);
                match summaries.reuse(plan, s, kind, &name, &digest) {
                    Some(Reuse::Passed(result)) => (i, Prepared::Done(*result), None),
                    Some(Reuse::Refused(why)) => (i, p, Some(why)),
                    None => (i, p, None),
                }
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(i, p, refused)| {
                if let Some(why) = refused {
                    refused_summaries.insert(i, why);
                }
                p
            })
            .collect(),
    };
    let prepared = if sourced { fetch_all(plan, runtime.as_ref(), prepared) } else { prepared };

    // 2. Each distinct piece of work once; per subject its shared slot and its own name.
    let mut order: Vec<Prepared<(usize, &'static str, String)>> = Vec::with_capacity(prepared.len());
    let mut unique: Vec<Work> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for p in prepared {
        order.push(match p {
            Prepared::Work(work) => {
                let (kind, name) = work_name(&work);
                let slot = *seen.entry(work_key(&work)).or_insert_with(|| {
                    unique.push(work);
                    unique.len() - 1
                });
                Prepared::Work((slot, kind, name))
            }
            Prepared::Done(result) => Prepared::Done(result),
        });
    }

    // 3. Verify and decide, one policy clone per worker thread (rayon's map_init would
    // clone once per split, which costs more than the evaluation).
    let workers: Vec<Mutex<Vec<Option<Policy>>>> =
        (0..rayon::current_num_threads().max(1)).map(|_| Mutex::new(plan.policies.clone())).collect();
    let done = AtomicUsize::new(0);
    let total = unique.len();
    let results: Vec<SubjectResult> = unique
        .par_iter()
        .map(|work| {
            let slot = rayon::current_thread_index().unwrap_or(0) % workers.len();
            let result = match workers.get(slot) {
                Some(worker) => {
                    let mut policies = worker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    judge(plan, work, &mut policies)
                }
                None => judge(plan, work, &mut plan.policies.clone()),
            };
            if let Some(progress) = progress {
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            }
            result
        })
        .collect();

    order
        .into_iter()
        .zip(subjects)
        .enumerate()
        .map(|(i, (slot, s))| {
            let mut result = match slot {
                Prepared::Work((slot, kind, name)) => match results.get(slot) {
                    Some(shared) => {
                        let mut result = shared.clone();
                        result.kind = kind.to_string();
                        result.name = name;
                        result
                    }
                    None => SubjectResult::not_verified(kind, name, None, Reason::new(crate::Code::VerifyNone, "not judged")),
                },
                Prepared::Done(result) => result,
            };
            result.id = s.id().to_string();
            // A summary that was refused: verified in full, and the result says why.
            if result.summary.is_none() {
                result.summary = refused_summaries.remove(&i).map(Box::new);
            }
            // By the subject's own name: a shared result was decided under another's.
            plan.waivers.apply(&mut result);
            result
        })
        .collect()
}

/// Work to do, or a subject already decided (it failed before verification).
#[allow(clippy::large_enum_variant)] // one per subject, briefly; boxing would allocate per failure
enum Prepared<W = Work> {
    Work(W),
    Done(SubjectResult),
}

/// A subject's artifact, hashed (images are filled in from the discoveries).
fn prepare(s: &SubjectPlan) -> Prepared {
    let (signer, policy) = (s.signer, s.policy);
    let result = match &s.target {
        Target::Invalid { kind, name, code, message } => {
            return Prepared::Done(SubjectResult::not_verified(kind, name.clone(), None, Reason::new(*code, message.clone())))
        }
        Target::Blob { path, bundles } => Artifact::open(ArtifactInput::File(path.clone()))
            .map(|artifact| Work::Blob {
                artifact,
                kind: "blob",
                bundles: bundles.clone(),
                fetched: Fetched::of(&s.sources),
                signer,
                policy,
            })
            .map_err(|e| SubjectResult::failed("blob", path.display().to_string(), None, &e)),
        Target::Digest { input, bundles, name } => ArtifactInput::parse(input)
            .and_then(Artifact::open)
            .map(|artifact| Work::Blob {
                artifact: artifact.labelled(name.clone()),
                kind: "digest",
                bundles: bundles.clone(),
                fetched: Fetched::of(&s.sources),
                signer,
                policy,
            })
            .map_err(|e| SubjectResult::failed("digest", name.clone().unwrap_or_else(|| input.clone()), None, &e)),
        Target::Image { reference, .. } => {
            Err(SubjectResult::failed("image", reference.clone(), None, &Error::ImageNotFound(reference.clone())))
        }
        // Filled in from what the registries served.
        Target::Package(spec) => Err(SubjectResult::failed("package", spec.id(), None, &Error::Runtime("not fetched".into()))),
    };
    match result {
        Ok(work) => Prepared::Work(work),
        Err(done) => Prepared::Done(done),
    }
}

/// The run's one tokio runtime, for registries and attestation APIs.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| Error::Runtime(e.to_string()))
}

/// Every image's evidence, fetched concurrently on the run's one tokio runtime.
fn discover_all(
    plan: &Plan,
    runtime: Option<&Result<tokio::runtime::Runtime, Error>>,
    images: Vec<(usize, ImageRef, Option<String>)>,
) -> HashMap<usize, Result<Discovery, Error>> {
    let mut out = HashMap::new();
    if images.is_empty() {
        return out;
    }
    let fail_all = |out: &mut HashMap<_, _>, images: Vec<(usize, ImageRef, Option<String>)>, e: Error| {
        for (i, _, _) in images {
            out.insert(i, Err(e.shared()));
        }
    };
    let Some(client) = plan.registry.as_ref() else {
        fail_all(&mut out, images, Error::Runtime("no registry client was set up for this plan".into()));
        return out;
    };
    let runtime = match runtime {
        Some(Ok(rt)) => rt,
        Some(Err(e)) => {
            fail_all(&mut out, images, e.shared());
            return out;
        }
        None => {
            fail_all(&mut out, images, Error::Runtime("no runtime was started for the registry client".into()));
            return out;
        }
    };
    runtime.block_on(async {
        use futures_util::StreamExt as _;
        let results: Vec<(usize, Result<Discovery, Error>)> = futures_util::stream::iter(images)
            .map(|(i, r, platform)| async move { (i, oci::discover(client, &r, platform.as_deref()).await) })
            .buffer_unordered(oci::IMAGES_AT_ONCE)
            .collect()
            .await;
        out.extend(results);
    });
    out
}

fn judge(plan: &Plan, work: &Work, policies: &mut [Option<Policy>]) -> SubjectResult {
    let decider = Decider { context: &plan.context, fail_on_warn: plan.fail_on_warn, detail: plan.detail };
    let (signer, policy) = match work {
        Work::Blob { signer, policy, .. } | Work::Image { signer, policy, .. } | Work::Package { signer, policy, .. } => (*signer, *policy),
    };
    let Some(signer) = plan.signers.get(signer) else {
        return SubjectResult::not_verified("blob", String::new(), None, Reason::new(crate::Code::VerifyNone, "no signer in the plan"));
    };
    // A subject's policy slot is always in the plan; if it were not, judging without the
    // policy would pass on signatures alone.
    let policy = match policies.get_mut(policy) {
        Some(slot) => slot.as_mut(),
        None => {
            return SubjectResult::not_verified("blob", String::new(), None, Reason::new(crate::Code::PolicyEval, "no policy in the plan"))
        }
    };
    match work {
        Work::Blob { artifact, kind, bundles, fetched, .. } => {
            let results = bundles
                .iter()
                .map(|b| evidence::load_bundle(b).and_then(|e| crate::verify::verify(&plan.trust, artifact, &e, signer)))
                .chain(fetched.bundles.iter().map(|f| verify_fetched(plan, artifact, f, signer)))
                .collect();
            let info = SubjectInfo::new(kind, artifact.name(), artifact.digest());
            decider.decide(info, results, policy)
        }
        Work::Image { discovery, fetched, .. } => {
            let subject = &discovery.subject;
            let image_artifact = Artifact::open(ArtifactInput::Digest(subject.sha256().into()));
            let results = discovery
                .evidence
                .iter()
                .map(|found| match found {
                    Ok(f) => oci::verify_found(&plan.trust, subject, f, signer),
                    Err(e) => Err(e.shared()),
                })
                .chain(fetched.bundles.iter().map(|f| match &image_artifact {
                    Ok(artifact) => verify_fetched(plan, artifact, f, signer),
                    Err(e) => Err(e.shared()),
                }))
                .collect();
            let info = SubjectInfo {
                notes: discovery.notes.iter().map(Reason::of).collect(),
                ..SubjectInfo::new("image", subject.name(), &subject.sha256().into())
            };
            decider.decide(info, results, policy)
        }
        Work::Package { package, .. } => judge_package(plan, package, signer, &decider, policy),
    }
}

/// A package: the registry's signature, then each attestation it served, verified over
/// the package's digest and bound to its name (and, on PyPI, to its Trusted Publisher).
fn judge_package(
    plan: &Plan,
    package: &FetchedPackage,
    signer: &crate::verify::Signer,
    decider: &Decider<'_>,
    policy: Option<&mut Policy>,
) -> SubjectResult {
    let (_, name) = package_name(package);
    let refuse = |code, message: String| Error::Attest(crate::evidence::api::ApiError { code, message });
    let mut results = Vec::new();
    match &package.signature {
        RegistrySignature::Verified { keyid, key_sha256 } => results.push(Ok(VerifiedSignature::registry(keyid, key_sha256))),
        RegistrySignature::Missing => results.push(Err(refuse(
            crate::Code::PackageSignatureMissing,
            format!("{}: the registry publishes signing keys, but this version has no registry signature", package.registry),
        ))),
        RegistrySignature::Invalid(why) => results.push(Err(refuse(crate::Code::PackageSignature, format!("registry signature: {why}")))),
        RegistrySignature::Unsigned => {}
    }
    let mut invalid = 0;
    match Artifact::open(ArtifactInput::Digest(package.digest.clone())) {
        Ok(artifact) => {
            for bundle in &package.attestations {
                let result =
                    bundle.as_ref().map_err(Error::shared).and_then(|b| verify_package_bundle(plan, package, &artifact, b, signer));
                invalid += usize::from(result.is_err());
                results.push(result);
            }
        }
        Err(e) => results.push(Err(e)),
    }
    // Identity flags name who must have built it: the registry's signature alone is not that.
    if matches!(signer, crate::verify::Signer::Keyless(_) | crate::verify::Signer::AnyOf(_))
        && !results.iter().any(|r| r.as_ref().is_ok_and(|s| s.claims.is_some()))
    {
        results.push(Err(Error::Shared {
            code: crate::Code::VerifyNone,
            message: "no provenance from the required identity (the registry's signature says who published, not who built)".into(),
        }));
    }
    let spec = &package.spec;
    let mut info = SubjectInfo::new("package", name, &package.digest);
    info.package = Some(crate::decide::PackageFacts {
        ecosystem: spec.ecosystem.as_str(),
        name: spec.name.clone(),
        version: spec.version.clone(),
        scope: spec.scope().map(str::to_string),
        installed_as: spec.installed_as.clone(),
        file: package.file.clone(),
        purl: match spec.ecosystem {
            Ecosystem::Npm => crate::evidence::packages::npm_purls(&spec.name, &spec.version)[1].clone(),
            Ecosystem::Pypi => format!("pkg:pypi/{}@{}", spec.name, spec.version),
        },
        registry: package.registry.clone(),
        registry_signature: package.signature.as_str(),
        published_at: package.published_at.clone(),
        locked: spec.locked.is_some(),
        provenance_before: package.provenance_before.clone(),
        invalid_attestations: invalid,
    });
    decider.decide(info, results, policy)
}

/// An attestation a registry served for a package.
fn verify_package_bundle(
    plan: &Plan,
    package: &FetchedPackage,
    artifact: &Artifact,
    bundle: &PackageBundle,
    signer: &crate::verify::Signer,
) -> Result<VerifiedSignature, Error> {
    use crate::evidence::packages as pkg;
    let refuse =
        |code, message: String| Error::Attest(crate::evidence::api::ApiError { code, message: format!("{}: {message}", bundle.url) });
    let evidence = evidence::parse_bundle(&bundle.bytes)?;
    let Some(statement) = &evidence.statement else {
        return Err(refuse(crate::Code::PackageAttestation, "not an attestation (no in-toto statement)".into()));
    };
    if let Some(listed) = bundle.listed_predicate_type.as_deref().filter(|l| *l != statement.predicate_type) {
        return Err(refuse(
            crate::Code::PackageInvalid,
            format!("listed as {listed}, the signed statement says {}", statement.predicate_type),
        ));
    }
    pkg::check_subject(package, statement)?;
    if package.spec.ecosystem == Ecosystem::Npm && statement.predicate_type == pkg::NPM_PUBLISH_PREDICATE {
        // npm's publish attestation is the registry's, signed with its key.
        pkg::check_publish_predicate(package, &statement.json)?;
        let hint = match &evidence.bundle.verification_material.content {
            sigstore_types::VerificationMaterialContent::PublicKey(k) => k.hint.clone(),
            _ => return Err(refuse(crate::Code::PackageAttestation, "a publish attestation not signed by the registry's key".into())),
        };
        let key = package.keys.iter().find(|k| k.keyid == hint).ok_or_else(|| {
            refuse(
                crate::Code::PackageAttestation,
                format!("the publish attestation names key {hint:?}, which is not one of the registry's keys"),
            )
        })?;
        let mut verified = crate::verify::verify(&plan.trust, artifact, &evidence, &crate::verify::Signer::PublicKey(key.key.clone()))?;
        // A rotated-out key signs nothing after it expired (by the log's signed time).
        let signed = verified.signed_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if let Some(expires) = key.expires {
            match signed {
                Some(signed) if signed < expires => {}
                Some(signed) => {
                    return Err(refuse(
                        crate::Code::PackageAttestation,
                        format!("the publish attestation was signed at {signed} by key {hint}, which expired at {expires}"),
                    ))
                }
                None => {
                    return Err(refuse(
                        crate::Code::PackageAttestation,
                        format!(
                            "key {hint} expired at {expires}, and the publish attestation has no verified signing time to check it against"
                        ),
                    ))
                }
            }
        }
        verified.registry_keyid = Some(hint);
        return Ok(verified);
    }
    let verified = crate::verify::verify(&plan.trust, artifact, &evidence, signer)?;
    if let Some(publisher) = &bundle.publisher {
        pkg::check_publisher(publisher, verified.claims.as_ref())?;
    }
    Ok(verified)
}

/// A package's kind and name in reports: its id, with a locked PyPI file's name.
fn package_name(package: &FetchedPackage) -> (&'static str, String) {
    let spec = &package.spec;
    let name = match (spec.ecosystem, &package.file) {
        (Ecosystem::Pypi, Some(file)) => format!("pypi:{}=={}/{file}", spec.name, spec.version),
        _ => spec.id(),
    };
    ("package", name)
}

/// Every package subject's registry answers, fetched concurrently on the run's runtime
/// (each packument and key set once, at most `PER_HOST` requests at once per host).
fn fetch_packages(
    plan: &Plan,
    runtime: Option<&Result<tokio::runtime::Runtime, Error>>,
    packages: Vec<(usize, PackageSpec)>,
) -> HashMap<usize, Result<FetchedPackage, Error>> {
    let mut out = HashMap::new();
    if packages.is_empty() {
        return out;
    }
    let (runtime, client) = match (runtime, plan.api.as_ref()) {
        (Some(Ok(rt)), Some(client)) => (rt, client),
        (Some(Err(e)), _) => {
            out.extend(packages.into_iter().map(|(i, _)| (i, Err(e.shared()))));
            return out;
        }
        _ => {
            out.extend(packages.into_iter().map(|(i, _)| (i, Err(Error::Runtime("no registry client was set up for this plan".into())))));
            return out;
        }
    };
    let cache = crate::evidence::packages::Cache::default();
    let concurrency = (plan.jobs * 16).clamp(8, 128);
    runtime.block_on(async {
        use futures_util::StreamExt as _;
        let (cache, registries, at) = (&cache, &plan.registries, plan.context.effective_time);
        let results: Vec<(usize, Result<FetchedPackage, Error>)> = futures_util::stream::iter(packages)
            .map(|(i, spec)| async move {
                (i, crate::evidence::packages::fetch(client, registries, cache, &spec, at).await.map_err(Error::Attest))
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        out.extend(results);
    });
    out
}

/// A subject's own kind and name (duplicates share a judgement, not a name).
fn work_name(work: &Work) -> (&'static str, String) {
    match work {
        Work::Blob { artifact, kind, .. } => (kind, artifact.name()),
        Work::Image { discovery, .. } => ("image", discovery.subject.name()),
        Work::Package { package, .. } => package_name(package),
    }
}

fn work_key(work: &Work) -> String {
    let names = |f: &Fetched| f.sources.iter().map(Source::name).collect::<Vec<_>>();
    match work {
        Work::Blob { artifact, bundles, fetched, signer, policy, .. } => {
            format!("file {} {bundles:?} {:?} {signer} {policy}", crate::evidence::digest_string(artifact.digest()), names(fetched))
        }
        Work::Image { discovery, fetched, signer, policy } => {
            let r = &discovery.subject.reference;
            format!("image {}/{} {} {:?} {signer} {policy}", r.registry, r.repository, discovery.subject.sha256().to_hex(), names(fetched))
        }
        Work::Package { package, signer, policy, .. } => {
            format!("package {} {} {signer} {policy}", package.spec.id(), crate::evidence::digest_string(&package.digest))
        }
    }
}

/// A bundle an attestation API served, verified like any other, then held to what the
/// listing said of it and to the project or owner it was asked of.
fn verify_fetched(
    plan: &Plan,
    artifact: &Artifact,
    fetched: &Result<std::sync::Arc<ApiBundle>, Error>,
    signer: &crate::verify::Signer,
) -> Result<crate::verify::VerifiedSignature, Error> {
    let bundle = fetched.as_ref().map_err(Error::shared)?;
    let evidence = evidence::parse_bundle(&bundle.bytes)?;
    api::check_listing(bundle, evidence.statement.as_ref().map(|s| s.predicate_type.as_str()))?;
    api::check_signing_method(bundle)?;
    let verified = if bundle.signing_method.as_deref() == Some("local_ca") {
        let cas = plan.local_ca.trusted(bundle)?;
        crate::verify::local_ca::verify(&evidence, artifact, &cas, plan.context.effective_time, signer, plan.trust.platforms())?
    } else {
        crate::verify::verify(&plan.trust, artifact, &evidence, signer)?
    };
    api::check_origin(bundle, verified.claims.as_ref())?;
    Ok(verified)
}

/// What a source served for a digest, shared by every subject of that digest.
type Answer = Result<Vec<std::sync::Arc<ApiBundle>>, Error>;

/// Ask every attestation source once per digest (concurrently, on the run's runtime),
/// and hand each subject what its sources served. A source that could not be asked
/// (network, rate limit, credentials) leaves its subject not judged: the missing
/// evidence could have changed the decision.
fn fetch_all(plan: &Plan, runtime: Option<&Result<tokio::runtime::Runtime, Error>>, prepared: Vec<Prepared>) -> Vec<Prepared> {
    use std::collections::BTreeSet;
    let digest_of = |work: &Work| -> Result<String, String> {
        match work {
            Work::Blob { artifact, .. } => match artifact.digest().algorithm() {
                sigstore_types::HashAlgorithm::Sha2256 => Ok(hex::encode(artifact.digest().as_bytes())),
                _ => Err(format!(
                    "attestation APIs look attestations up by sha256; {} is another digest: give the file or its sha256: digest",
                    evidence::digest_string(artifact.digest())
                )),
            },
            Work::Image { discovery, .. } => Ok(discovery.subject.sha256().to_hex()),
            Work::Package { package, .. } => Ok(hex::encode(package.digest.as_bytes())),
        }
    };
    let mut wanted: BTreeSet<(Source, String)> = BTreeSet::new();
    for p in &prepared {
        if let Prepared::Work(work) = p {
            if let Ok(hex) = digest_of(work) {
                wanted.extend(work.fetched().sources.iter().map(|s| (s.clone(), hex.clone())));
            }
        }
    }
    let mut answers: HashMap<(Source, String), Answer> = HashMap::new();
    match (runtime, plan.api.as_ref()) {
        (Some(Ok(rt)), Some(client)) => {
            let concurrency = (plan.jobs * 8).clamp(4, 64);
            rt.block_on(async {
                use futures_util::StreamExt as _;
                let results: Vec<_> = futures_util::stream::iter(wanted)
                    .map(|key| async move {
                        let answer = client
                            .fetch(&key.0, &key.1)
                            .await
                            .map(|v| v.into_iter().map(std::sync::Arc::new).collect())
                            .map_err(Error::Attest);
                        (key, answer)
                    })
                    .buffer_unordered(concurrency)
                    .collect()
                    .await;
                answers.extend(results);
            });
        }
        (Some(Err(e)), _) => answers.extend(wanted.into_iter().map(|k| (k, Err(e.shared())))),
        _ => answers.extend(wanted.into_iter().map(|k| (k, Err(Error::Runtime("no attestation client was set up for this plan".into()))))),
    }
    prepared
        .into_iter()
        .map(|p| {
            let Prepared::Work(mut work) = p else { return p };
            let (kind, name) = work_name(&work);
            let hex = match digest_of(&work) {
                Ok(hex) => hex,
                Err(message) => {
                    let f = work.fetched_mut();
                    let n = f.sources.len();
                    f.bundles.extend((0..n).map(|_| Err(Error::usage(crate::Code::UsageAttestations, message.clone()))));
                    return Prepared::Work(work);
                }
            };
            let f = work.fetched_mut();
            for source in f.sources.clone() {
                match answers.get(&(source, hex.clone())) {
                    Some(Ok(bundles)) => f.bundles.extend(bundles.iter().cloned().map(Ok)),
                    Some(Err(e)) if e.code().class() != crate::Class::Rejected => {
                        return Prepared::Done(SubjectResult::failed(kind, name, None, e));
                    }
                    Some(Err(e)) => f.bundles.push(Err(e.shared())),
                    None => f.bundles.push(Err(Error::Runtime("the attestation source was not asked".into()))),
                }
            }
            Prepared::Work(work)
        })
        .collect()
}
