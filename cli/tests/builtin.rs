//! The bundled library is part of the binary: outside the checkout, with nothing but the
//! binary, `--policy builtin` judges the quickstart; `builtin:NAME` is one package and
//! must be configured; `vouch policy list/show` print what is bundled.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::Path;

mod common;
use common::{command, finish, scratch, vouch_bin, Run};

/// Run a copy of the binary in `dir`, which holds nothing of the source tree.
fn run_alone(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = command(&dir.join("vouch"), args);
    cmd.current_dir(dir);
    finish(cmd)
}

#[test]
fn the_bundled_library_travels_with_the_binary() {
    let dir = scratch("builtin-alone");
    std::fs::copy(vouch_bin(), dir.join("vouch")).unwrap();
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    for entry in std::fs::read_dir(&quickstart).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("gate.yaml"), "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n").unwrap();
    let strict = "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {tags: [\"v*\"]}\n";
    std::fs::write(dir.join("tags-only.yaml"), strict).unwrap();

    run_alone(&dir, &["check", "vouch.yaml", "--policy", "builtin", "--policy", "gate.yaml"])
        .assert_code(0)
        .assert_stdout_contains("3 subjects: 3 passed");
    // The policy judges: main is not a release tag.
    run_alone(&dir, &["check", "vouch.yaml", "--policy", "builtin:gitlab", "--policy", "tags-only.yaml"])
        .assert_code(1)
        .assert_stdout_contains("gitlab.ref");
    // In a manifest too.
    let manifest = std::fs::read_to_string(dir.join("vouch.yaml")).unwrap().replace("subjects:", "policy: [builtin, gate.yaml]\nsubjects:");
    std::fs::write(dir.join("with-policy.yaml"), manifest).unwrap();
    run_alone(&dir, &["check", "with-policy.yaml"]).assert_code(0);

    // One package by name must be configured; an unknown name is refused.
    run_alone(&dir, &["check", "vouch.yaml", "--policy", "builtin:signing_age"])
        .assert_code(2)
        .assert_stderr_contains("vouch::policy::unconfigured")
        .assert_stderr_contains("builtin:signing_age");
    run_alone(&dir, &["check", "vouch.yaml", "--policy", "builtin:gitlb"])
        .assert_code(2)
        .assert_stderr_contains("vouch::policy::io")
        .assert_stderr_contains("attestations, ecosystems, github, gitlab, provenance, signing_age");

    // What is bundled, and its tests.
    let list = run_alone(&dir, &["policy", "list", "--format", "json"]);
    list.assert_code(0);
    let names: Vec<String> = list.json().as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["attestations", "ecosystems", "github", "gitlab", "provenance", "signing_age"]);
    assert_eq!(list.json()[1]["judges_signer"], true);
    assert_eq!(list.json()[3]["judges_signer"], true);
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/gitlab/gitlab.rego")).unwrap();
    run_alone(&dir, &["policy", "show", "gitlab"]).assert_code(0).assert_stdout_contains(&source);
    run_alone(&dir, &["test", "builtin"]).assert_code(0).assert_stdout_contains(" passed, 0 failed");
}
