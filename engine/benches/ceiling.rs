//! The ceiling for `vouch check`: sigstore-verify alone over the bundles of a `mint`
//! directory, from memory, on all cores — no policy, no I/O, no claims.
//!
//!     VOUCH_BENCH_DIR=DIR cargo bench -p vouch-engine --bench ceiling

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::time::Instant;

use rayon::prelude::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let Ok(dir) = std::env::var("VOUCH_BENCH_DIR") else {
        println!("ceiling: set VOUCH_BENCH_DIR to a directory written by `mint` (scripts/bench-check does)");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let tsv = std::fs::read_to_string(dir.join("subjects.tsv")).expect("subjects.tsv");
    let cases: Vec<(Vec<u8>, sigstore_types::Sha256Hash, String, String)> = tsv
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let artifact = std::fs::read(dir.join(f[0])).unwrap();
            (std::fs::read(dir.join(f[1])).unwrap(), sigstore_verify::crypto::sha256(&artifact), f[2].to_string(), f[3].to_string())
        })
        .collect();
    let root = sigstore_trust_root::TrustedRoot::from_file(dir.join("trusted_root.json")).expect("trusted root");
    let verifier = sigstore_verify::Verifier::new(&root).expect("verifier");
    let verify = |(bundle, digest, identity, issuer): &(Vec<u8>, sigstore_types::Sha256Hash, String, String)| {
        let bundle = sigstore_types::Bundle::from_json(std::str::from_utf8(bundle).unwrap()).unwrap();
        let policy = sigstore_verify::VerificationPolicy::new(identity.as_str(), issuer.as_str());
        verifier.verify(*digest, &bundle, &policy).expect("verifies");
    };
    cases.par_iter().take(200).for_each(verify);
    // Best of three passes, as scripts/bench-check times `vouch check`.
    let rates: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            cases.par_iter().for_each(verify);
            cases.len() as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    let rate = rates.iter().copied().fold(0.0, f64::max);
    let runs = rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
    println!(
        "ceiling: sigstore-verify alone, {} bundles on {} threads: {rate:.0} bundles/s (best of {runs})",
        cases.len(),
        rayon::current_num_threads()
    );
}
