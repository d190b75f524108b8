//! Policy evaluations per second for the bundled GitLab policy, per core and on all
//! cores (one engine clone per rayon worker), on the real GitLab bundle's claims.
//!
//!     cargo bench -p vouch-engine --bench policy

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vouch_engine::decide::{build_input, Context, SubjectInfo};
use vouch_engine::evidence;
use vouch_engine::evidence::{Artifact, ArtifactInput};
use vouch_engine::policy::Policy;
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::{self, Signer};

// The allocator of the vouch binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = std::env::var_os("VOUCH_SHARED").map(PathBuf::from).unwrap_or_else(|| root.join("../shared"));
    let dir = shared.join("real-bundles/gitlab-pypi");
    let trust = Trust::load(&TrustSource::Production).expect("root");
    let evidence = evidence::load_bundle(&dir.join("gitlab_oidc_project-0.0.3.tar.gz.publish.sigstore.json")).expect("bundle");
    let artifact = Artifact::open(ArtifactInput::File(dir.join("gitlab_oidc_project-0.0.3.tar.gz"))).expect("artifact");
    let signature = verify::verify(&trust, &artifact, &evidence, &Signer::AnyIdentity).expect("verifies");
    let now = jiff::Timestamp::now();
    let context = Context { effective_time: now, shard: "1/1".into() };
    let subject = SubjectInfo::new("blob", artifact.name(), artifact.digest());

    // The example gate's configuration, with the observed project allowed so that every
    // rule runs to the end.
    let scratch = std::env::temp_dir().join(format!("vouch-bench-policy-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(
        scratch.join("config.yaml"),
        "config:\n  gitlab:\n    projects: [\"facutuesca/*\"]\n    project_ids: [\"55235664\"]\n    ci_config_paths: [.gitlab-ci.yml]\n    refs:\n      branches: [main]\n      tags: [\"v*\"]\n      semver_tags: true\n",
    )
    .unwrap();
    let policy = Policy::load(&[root.join("policies/gitlab"), scratch.clone()], now).expect("policy loads");
    let mut library = Policy::load(&[root.join("policies"), scratch.clone()], now).expect("library loads");
    let _ = std::fs::remove_dir_all(&scratch);
    let budget = Duration::from_secs(std::env::var("VOUCH_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));
    let rate = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            f();
            n += 1;
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let show = |label: &str, per_s: f64| println!("  {label:<58} {per_s:>8.0} /s ({:.1} µs each)", 1e6 / per_s);

    let signatures = [signature];
    let building = rate(&mut || {
        std::hint::black_box(
            vouch_engine::policy::value::to_value(&build_input(&subject, &signatures, &[], &context, None)).expect("input"),
        );
    });
    let input = build_input(&subject, &signatures, &[], &context, None);
    let mut vm = policy.clone();
    let mut interpreter = policy.clone();
    assert!(vm.compiled(), "the GitLab policy compiles for the VM");
    let decision = vm.evaluate(&input).expect("evaluates");
    assert!(decision.deny.is_empty(), "{decision:?}");
    assert!(vm.evaluate_with_vm(&input).is_some(), "the VM decides this input itself");
    println!("bundled GitLab policy on the real GitLab bundle's claims, 1 core (input built once):");
    show(
        "VM (what `vouch check` runs)",
        rate(&mut || {
            std::hint::black_box(vm.evaluate(&input).expect("evaluates"));
        }),
    );
    show(
        "interpreter (explain, vouch test, fallback)",
        rate(&mut || {
            std::hint::black_box(interpreter.evaluate_with_interpreter(&input).expect("evaluates"));
        }),
    );
    show("building the input document (typed view -> regorus values)", building);

    let threads = rayon::current_num_threads();
    let batch = 2_000usize;
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < budget {
        // One clone per thread, as `vouch check` keeps one per worker.
        (0..threads).into_par_iter().for_each(|_| {
            let mut p = policy.clone();
            for _ in 0..batch / threads {
                std::hint::black_box(p.evaluate(&input).expect("evaluates"));
            }
        });
        done += batch / threads * threads;
    }
    show(&format!("VM on {threads} threads (one policy clone per worker)"), done as f64 / start.elapsed().as_secs_f64());

    println!("the whole bundled library (GitLab configured, the other packages idle), 1 core:");
    let mut whole_vm = library.clone();
    show(
        "VM",
        rate(&mut || {
            std::hint::black_box(whole_vm.evaluate(&input).expect("evaluates"));
        }),
    );
    show(
        "interpreter",
        rate(&mut || {
            std::hint::black_box(library.evaluate_with_interpreter(&input).expect("evaluates"));
        }),
    );
}
