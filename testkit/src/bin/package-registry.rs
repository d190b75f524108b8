//! A loopback npm registry for benchmarks (scripts/bench-packages): N minted packages,
//! each signed by a testkit registry key, every Kth with SLSA provenance from the testkit
//! Sigstore, real gzipped tarballs (so `npm ci` can install them). Writes into DIR:
//! package.json, package-lock.json (lockfileVersion 3), trusted_root.json, gate.yaml and
//! curl.conf (the requests `vouch check` makes, for a minimal concurrent client), prints
//! `READY URL`, and serves until stdin closes.
//!
//!     package-registry --dir DIR --count 1000 [--provenance-every 10]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::json;
use testkit::packages::{NpmVersion, PackageRegistry, RegistryKey};
use testkit::{Content, GitLab, SignRequest, VirtualSigstore};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Every Kth package has provenance (0: none).
    #[arg(long, default_value_t = 10)]
    provenance_every: usize,
}

/// A real npm tarball: package/package.json, gzipped (by tar and gzip).
fn tarball(work: &Path, name: &str, version: &str) -> Vec<u8> {
    let dir = work.join("pkg");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("package")).unwrap();
    std::fs::write(dir.join("package/package.json"), json!({"name": name, "version": version}).to_string()).unwrap();
    let tar = std::process::Command::new("tar")
        .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-cf", "-", "-C"])
        .arg(&dir)
        .arg("package")
        .output()
        .expect("tar");
    assert!(tar.status.success());
    let mut gzip = std::process::Command::new("gzip")
        .arg("-nc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    gzip.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    let out = gzip.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir).unwrap();
    let work = args.dir.join(".work");
    std::fs::create_dir_all(&work).unwrap();
    let mut sigstore = VirtualSigstore::new().unwrap();
    let key = RegistryKey::new("SHA256:bench-registry");
    let registry = PackageRegistry::start();
    registry.with(|s| s.keys = Some(json!({"keys": [key.entry()]})));
    let url = registry.url.clone();
    let gl = GitLab::default();

    let mut versions = Vec::new();
    let mut requests = Vec::new();
    for i in 0..args.count {
        let name = if i % 3 == 0 { format!("@bench/pkg-{i}") } else { format!("pkg-{i}") };
        let bytes = tarball(&work, &name, "1.0.0");
        let mut v = NpmVersion::new(&name, "1.0.0", bytes.clone(), "2026-01-10T10:00:00.000Z").signed(&key);
        if args.provenance_every > 0 && i % args.provenance_every == 0 {
            let purl = format!("pkg:npm/{}@1.0.0", name.replacen('@', "%40", 1));
            requests.push(SignRequest::dsse(bytes, gl.identity(), Content::gitlab_slsa_v1(&gl)).name(&purl).sha512());
            v.attestations = Some(Vec::new());
        }
        versions.push(v);
    }
    let mut minted = sigstore.sign_many(requests).unwrap().into_iter();
    let mut lock = serde_json::Map::new();
    let mut deps = serde_json::Map::new();
    let mut curl = String::new();
    curl.push_str(&format!("url = \"{url}/-/npm/v1/keys\"\noutput = \"/dev/null\"\n"));
    for mut v in versions {
        if let Some(list) = v.attestations.as_mut() {
            list.push(("https://slsa.dev/provenance/v1".into(), minted.next().unwrap().bundle));
            curl.push_str(&format!("url = \"{url}/-/npm/v1/attestations/{}@1.0.0\"\noutput = \"/dev/null\"\n", v.name.replace('/', "%2f")));
        }
        curl.push_str(&format!("url = \"{url}/{}\"\noutput = \"/dev/null\"\n", v.name.replace('/', "%2f")));
        let file = format!("{}-1.0.0.tgz", v.name.rsplit('/').next().unwrap());
        lock.insert(
            format!("node_modules/{}", v.name),
            json!({"version": "1.0.0", "resolved": format!("{url}/{}/-/{file}", v.name), "integrity": v.integrity}),
        );
        deps.insert(v.name.clone(), json!("1.0.0"));
        registry.add_npm(v);
    }
    let mut root = json!({"name": "bench-app", "version": "1.0.0", "dependencies": deps});
    std::fs::write(args.dir.join("package.json"), serde_json::to_string_pretty(&root).unwrap()).unwrap();
    root["lockfileVersion"] = json!(3);
    root["requires"] = json!(true);
    lock.insert("".into(), json!({"name": "bench-app", "version": "1.0.0", "dependencies": root["dependencies"].clone()}));
    let lockfile = json!({"name": "bench-app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": lock});
    std::fs::write(args.dir.join("package-lock.json"), serde_json::to_string_pretty(&lockfile).unwrap()).unwrap();
    std::fs::write(args.dir.join("trusted_root.json"), sigstore.trusted_root().unwrap().to_string()).unwrap();
    std::fs::write(
        args.dir.join("gate.yaml"),
        "config:\n  ecosystems:\n    provenance:\n      required: [\"@bench/*\"]\n      exceptions: [{package: \"@bench/*\", reason: bench}]\n    publishers:\n      - packages: [\"@bench/*\"]\n        gitlab: {projects: [acme/app], refs: {branches: [main]}}\n",
    )
    .unwrap();
    std::fs::write(args.dir.join("curl.conf"), curl).unwrap();
    let _ = std::fs::remove_dir_all(&work);
    println!("READY {url}");
    std::io::stdout().flush().unwrap();
    // Serve until the caller closes stdin.
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        if line.is_err() {
            break;
        }
    }
    eprintln!("served {} requests", registry.requests());
}
