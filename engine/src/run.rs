//! Plan → report. This shard's subjects only; files hashed and images fetched first (the
//! only I/O: fetches with bounded concurrency on the one tokio runtime, built here and
//! only when there are images), then every distinct piece of work is verified and
//! decided once on rayon, one policy engine per worker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::decide::{Decider, SubjectInfo};
use crate::error::{Error, Reason};
use crate::evidence::{self, Artifact, ArtifactInput};
use crate::oci::{self, Discovery, ImageRef};
use crate::plan::{Plan, SubjectPlan, Target};
use crate::policy::Policy;
use crate::report::{Report, SubjectResult};

/// Called with (done, total) as work items finish (the CLI draws a progress bar).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Judge every subject of the plan (this shard's), in the order listed.
pub fn run(plan: &Plan, progress: Option<Progress<'_>>) -> Report {
    let results = match rayon::ThreadPoolBuilder::new().num_threads(plan.jobs).build() {
        Ok(pool) => pool.install(|| run_in_pool(plan, progress)),
        Err(_) => run_in_pool(plan, progress),
    };
    Report::new(results, crate::claims::rfc3339_of(plan.context.effective_time), plan.shard.to_string(), plan.info.clone())
}

/// What to verify, once per distinct (artifact, evidence, signer, policy).
enum Work {
    Blob { artifact: Artifact, kind: &'static str, bundles: Vec<PathBuf>, signer: usize, policy: usize },
    Image { discovery: Box<Discovery>, signer: usize, policy: usize },
}

fn run_in_pool(plan: &Plan, progress: Option<Progress<'_>>) -> Vec<SubjectResult> {
    // 0. This shard's subjects only, by their plan ids (before any file is read).
    let subjects: Vec<&SubjectPlan> = plan.subjects.iter().filter(|s| plan.shard.contains(s.id())).collect();

    // 1. Resolve images (the only network I/O) and hash files, each subject to a digest.
    let images: Vec<(usize, ImageRef, Option<String>)> = subjects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.target {
            Target::Image { reference, platform } => ImageRef::parse(reference).ok().map(|r| (i, r, platform.clone())),
            _ => None,
        })
        .collect();
    let mut discoveries = discover_all(plan, images);
    let prepared: Vec<Prepared> = subjects.par_iter().map(|s| prepare(s)).collect();
    let prepared: Vec<Prepared> = prepared
        .into_iter()
        .zip(&subjects)
        .enumerate()
        .map(|(i, (p, s))| match &s.target {
            Target::Image { reference, .. } => match discoveries.remove(&i) {
                Some(Ok(d)) => Prepared::Work(Work::Image { discovery: Box::new(d), signer: s.signer, policy: s.policy }),
                Some(Err(e)) => Prepared::Done(SubjectResult::failed("image", reference.clone(), None, &e)),
                None => Prepared::Done(SubjectResult::failed(
                    "image",
                    reference.clone(),
                    None,
                    &ImageRef::parse(reference).err().unwrap_or(Error::ImageNotFound(reference.clone())),
                )),
            },
            _ => p,
        })
        .collect();

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
        .map(|(slot, s)| {
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
            .map(|artifact| Work::Blob { artifact, kind: "blob", bundles: bundles.clone(), signer, policy })
            .map_err(|e| SubjectResult::failed("blob", path.display().to_string(), None, &e)),
        Target::Digest { input, bundles, name } => ArtifactInput::parse(input)
            .and_then(Artifact::open)
            .map(|artifact| Work::Blob {
                artifact: artifact.labelled(name.clone()),
                kind: "digest",
                bundles: bundles.clone(),
                signer,
                policy,
            })
            .map_err(|e| SubjectResult::failed("digest", name.clone().unwrap_or_else(|| input.clone()), None, &e)),
        Target::Image { reference, .. } => {
            Err(SubjectResult::failed("image", reference.clone(), None, &Error::ImageNotFound(reference.clone())))
        }
    };
    match result {
        Ok(work) => Prepared::Work(work),
        Err(done) => Prepared::Done(done),
    }
}

/// Every image's evidence, fetched concurrently on the run's one tokio runtime.
fn discover_all(plan: &Plan, images: Vec<(usize, ImageRef, Option<String>)>) -> HashMap<usize, Result<Discovery, Error>> {
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
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            fail_all(&mut out, images, Error::Runtime(e.to_string()));
            return out;
        }
    };
    let concurrency = (plan.jobs * 8).clamp(4, 64);
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

fn judge(plan: &Plan, work: &Work, policies: &mut [Option<Policy>]) -> SubjectResult {
    let decider = Decider { context: &plan.context, fail_on_warn: plan.fail_on_warn, detail: plan.detail };
    let (signer, policy) = match work {
        Work::Blob { signer, policy, .. } | Work::Image { signer, policy, .. } => (*signer, *policy),
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
        Work::Blob { artifact, kind, bundles, .. } => {
            let results = bundles
                .iter()
                .map(|b| evidence::load_bundle(b).and_then(|e| crate::verify::verify(&plan.trust, artifact, &e, signer)))
                .collect();
            let info = SubjectInfo::new(kind, artifact.name(), artifact.digest());
            decider.decide(info, results, policy)
        }
        Work::Image { discovery, .. } => {
            let subject = &discovery.subject;
            let results = discovery
                .evidence
                .iter()
                .map(|found| match found {
                    Ok(f) => oci::verify_found(&plan.trust, subject, f, signer),
                    Err(e) => Err(e.shared()),
                })
                .collect();
            let info = SubjectInfo::new("image", subject.name(), &subject.sha256().into());
            decider.decide(info, results, policy)
        }
    }
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
            format!("file {} {bundles:?} {signer} {policy}", crate::evidence::digest_string(artifact.digest()))
        }
        Work::Image { discovery, signer, policy } => {
            let r = &discovery.subject.reference;
            format!("image {}/{} {} {signer} {policy}", r.registry, r.repository, discovery.subject.sha256().to_hex())
        }
    }
}
