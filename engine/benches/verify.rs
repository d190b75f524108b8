//! Throughput of offline verification: vouch's engine (parse, verify, our checks,
//! claims) against the same loop over sigstore-verify alone, the ceiling.
//!
//!     cargo bench -p vouch-engine --bench verify
//!
//! Input: the 81 real CPython release bundles and the public GitLab/GitHub bundles in
//! `$VOUCH_SHARED` (default ../shared), held in memory and verified by digest, so the
//! numbers measure verification, not disk. See docs/performance.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use vouch_engine::evidence;
use vouch_engine::evidence::{Artifact, ArtifactInput};
use vouch_engine::trust::{Trust, TrustSource};
use vouch_engine::verify::identity::IdentityRequirement;
use vouch_engine::verify::{self, Signer};

struct Case {
    bundle: Vec<u8>,
    digest: sigstore_types::Sha256Hash,
    identity: String,
    issuer: String,
}

fn shared() -> PathBuf {
    std::env::var_os("VOUCH_SHARED").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn load_cases() -> Vec<Case> {
    let dir = shared().join("real-bundles/cpython-release-tracker");
    let tsv = std::fs::read_to_string(dir.join("cases.tsv"))
        .unwrap_or_else(|e| panic!("{}: {e}; set VOUCH_SHARED to the folder with real-bundles/", dir.display()));
    tsv.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            Case {
                bundle: std::fs::read(dir.join(format!("bundles/{}.sigstore.json", f[1]))).unwrap(),
                digest: sigstore_types::Sha256Hash::from_hex(f[2].trim_start_matches("sha256:")).unwrap(),
                identity: f[3].to_string(),
                issuer: f[4].to_string(),
            }
        })
        .collect()
}

/// Run `f` over all cases repeatedly for about `budget`; returns bundles per second.
fn measure(cases: &[Case], budget: Duration, parallel: bool, f: &(dyn Fn(&Case) + Sync)) -> f64 {
    // Warm up.
    cases.iter().for_each(f);
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < budget {
        if parallel {
            cases.par_iter().for_each(f);
        } else {
            cases.iter().for_each(f);
        }
        done += cases.len();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

// The allocator of the vouch binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` passes --bench; ignore the harness flags.
    let cases = load_cases();
    let budget = Duration::from_secs(std::env::var("VOUCH_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3));
    let trust = Trust::load(&TrustSource::Production).expect("production root");
    let root = trust.root().clone();
    let library = sigstore_verify::Verifier::new(&root).expect("verifier");
    let signers: Vec<Signer> = cases
        .iter()
        .map(|c| Signer::Keyless(IdentityRequirement::from_flags(Some(&c.identity), None, Some(&c.issuer), None).unwrap()))
        .collect();
    let index = |c: &Case| (c as *const Case as usize - cases.as_ptr() as usize) / std::mem::size_of::<Case>();

    let ceiling = |c: &Case| {
        let bundle = sigstore_types::Bundle::from_json(std::str::from_utf8(&c.bundle).unwrap()).unwrap();
        let policy = sigstore_verify::VerificationPolicy::new(c.identity.as_str(), c.issuer.as_str());
        library.verify(c.digest, &bundle, &policy).expect("library verifies");
    };
    let vouch = |c: &Case| {
        let evidence = evidence::parse_bundle(&c.bundle).unwrap();
        let artifact = Artifact::open(ArtifactInput::Digest(c.digest.into())).unwrap();
        let signature = verify::verify(&trust, &artifact, &evidence, &signers[index(c)]).expect("vouch verifies");
        std::hint::black_box(signature);
    };

    let threads = rayon::current_num_threads();
    println!("{} real CPython release bundles, {budget:?} per measurement, {threads} threads", cases.len());
    println!("{:<44} {:>12} {:>12}", "", "1 thread", format!("{threads} threads"));
    let lib1 = measure(&cases, budget, false, &ceiling);
    let libn = measure(&cases, budget, true, &ceiling);
    println!("{:<44} {:>10.0}/s {:>10.0}/s", "sigstore-verify alone (parse + verify)", lib1, libn);
    let v1 = measure(&cases, budget, false, &vouch);
    let vn = measure(&cases, budget, true, &vouch);
    println!("{:<44} {:>10.0}/s {:>10.0}/s", "vouch engine (parse + verify + checks + claims)", v1, vn);
    println!("{:<44} {:>11.0}% {:>11.0}%", "vouch / ceiling", 100.0 * v1 / lib1, 100.0 * vn / libn);

    // One `vouch verify-blob` process, start to exit.
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/vouch");
    if bin.exists() {
        let dir = shared().join("real-bundles/gitlab-pypi");
        let args = [
            "verify-blob",
            "gitlab_oidc_project-0.0.3.tar.gz",
            "--bundle",
            "gitlab_oidc_project-0.0.3.tar.gz.publish.sigstore.json",
            "--certificate-identity",
            "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
        ];
        let runs = 50;
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let status =
                    std::process::Command::new(&bin).args(args).current_dir(&dir).stderr(std::process::Stdio::null()).status().unwrap();
                assert!(status.success());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "one `vouch verify-blob` call (real GitLab bundle): median {:.1} ms, min {:.1} ms over {runs} runs",
            times[runs / 2],
            times[0]
        );
    } else {
        println!("one `vouch verify-blob` call: not measured, build target/release/vouch first (cargo build --release)");
    }
}
