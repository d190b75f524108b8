//! The committed quickstart example verifies, as the README's first command says, and
//! only under its own trusted root.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::Path;

mod common;
use common::{run, sigstore_python_verify};

#[test]
fn quickstart_subjects_verify_under_their_root_only() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let root = dir.join("trusted_root.json").display().to_string();
    let tsv = std::fs::read_to_string(dir.join("subjects.tsv")).unwrap();
    let mut n = 0;
    for line in tsv.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (artifact, bundle) = (dir.join(f[0]).display().to_string(), dir.join(f[1]).display().to_string());
        let args = ["verify-blob", &artifact, "--bundle", &bundle, "--certificate-identity", f[2], "--certificate-oidc-issuer", f[3]];
        let mut with_root = args.to_vec();
        with_root.extend(["--trusted-root", &root]);
        run(&with_root).assert_code(0).assert_stderr_contains("Verified OK");
        run(&args).assert_code(1);
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn quickstart_check_passes() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart/vouch.yaml");
    let r = run(&["check", &manifest.display().to_string()]);
    r.assert_code(0);
    assert!(r.stdout.contains("3 subjects: 3 passed, 0 failed"), "{}", r.stdout);
}

#[test]
fn readme_first_command_is_the_quickstart() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let first_block: String = readme.split("```").nth(1).unwrap_or_default().to_string();
    assert!(
        first_block.contains("check examples/quickstart/vouch.yaml"),
        "the README's first command must run vouch check on examples/quickstart:\n{first_block}"
    );
    assert!(first_block.contains("scripts/test"), "the README's first lines must give the test command:\n{first_block}");
}

#[test]
fn sigstore_python_verifies_the_quickstart() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let root: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("trusted_root.json")).unwrap()).unwrap();
    let config = testkit::client_trust_config(root);
    let scratch = common::scratch("quickstart-python");
    let tc = scratch.join("trust_config.json");
    std::fs::write(&tc, serde_json::to_vec(&config).unwrap()).unwrap();
    let tsv = std::fs::read_to_string(dir.join("subjects.tsv")).unwrap();
    let f: Vec<&str> = tsv.lines().next().unwrap().split('\t').collect();
    let (ok, out) = sigstore_python_verify(&tc, &dir.join(f[1]), &dir.join(f[0]), f[2], f[3]);
    assert!(ok, "{out}");
}
