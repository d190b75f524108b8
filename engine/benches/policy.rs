//! Policy evaluations per second for the bundled GitLab policy, per core and on all
//! cores (one engine clone per rayon worker), on the real GitLab bundle's claims.
//!
//!     cargo bench -p vouch-engine --bench policy

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vouch_engine::evidence;
use vouch_engine::policy::{build_input, Context, Policy, SubjectInfo};
use vouch_engine::subject::{Artifact, ArtifactInput};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::{self, Signer};

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
    let subject = SubjectInfo { kind: "blob", name: artifact.name(), sha256: artifact.sha256().to_hex() };
    let input = build_input(&subject, &[signature], &[], &context);

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
    let conversion = {
        let t = Instant::now();
        for _ in 0..2000 {
            std::hint::black_box(regorus::Value::from(input.clone()));
        }
        t.elapsed().as_secs_f64() * 1e6 / 2000.0
    };
    let budget = Duration::from_secs(std::env::var("VOUCH_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));

    let mut one = policy.clone();
    let decision = one.evaluate(&input).expect("evaluates");
    assert!(decision.deny.is_empty(), "{decision:?}");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        std::hint::black_box(one.evaluate(&input).expect("evaluates"));
        n += 1;
    }
    let per_core = n as f64 / start.elapsed().as_secs_f64();

    let threads = rayon::current_num_threads();
    let batch = 2_000usize;
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < budget {
        (0..batch).into_par_iter().for_each_init(|| policy.clone(), |p, _| {
            std::hint::black_box(p.evaluate(&input).expect("evaluates"));
        });
        done += batch;
    }
    let all = done as f64 / start.elapsed().as_secs_f64();
    println!("bundled GitLab policy (9 rules + helpers) on the real GitLab bundle's claims:");
    println!("  1 core:      {per_core:>8.0} evaluations/s ({:.1} µs each)", 1e6 / per_core);
    println!("  {threads} threads:   {all:>8.0} evaluations/s (one engine clone per worker)");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        std::hint::black_box(library.evaluate(&input).expect("evaluates"));
        n += 1;
    }
    let whole = n as f64 / start.elapsed().as_secs_f64();
    println!("the whole bundled library (GitLab configured, the other packages idle), 1 core: {whole:.0} evaluations/s ({:.1} µs each)", 1e6 / whole);
    println!("of which converting the input document to regorus values: {conversion:.1} µs");
}
