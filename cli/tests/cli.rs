//! The command line's contract: every code documented with its exit class, the same
//! `--format` on every command (JSON errors included), usage errors with their own
//! codes, and a closed stdout that ends quietly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vouch_engine::{Class, Code};

mod common;
use common::{run, scratch, vouch_bin, Run};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn quickstart(rel: &str) -> String {
    repo("examples/quickstart").join(rel).display().to_string()
}

const QUICKSTART_ID: &str = "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main";

/// docs/cli.md's code table lists every code, with its exit class, and nothing else.
#[test]
fn docs_list_every_code_with_its_exit_class() {
    let doc = std::fs::read_to_string(repo("docs/cli.md")).unwrap();
    for code in Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.class().exit_code());
        assert!(doc.contains(&row), "docs/cli.md lacks the row {row:?} (code, exit class, hint)");
        assert!(!code.hint().is_empty(), "{code} has no hint");
    }
    for line in doc.lines().filter(|l| l.starts_with("| `vouch::")) {
        let name = line.trim_start_matches("| `").split('`').next().unwrap();
        assert!(Code::parse(name).is_some(), "docs/cli.md lists {name}, which vouch does not emit");
    }
    let names: std::collections::HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), Code::ALL.len(), "two codes share a name");
}

/// Each usage error has its own code and exits 2 before anything is judged; the help is
/// about what was wrong (not about identity flags).
#[test]
fn usage_errors_have_their_own_codes_and_exit_2() {
    let dir = scratch("cli-usage");
    let bad_report = dir.join("bad.json");
    std::fs::write(&bad_report, "{\"not\": \"a report\"}").unwrap();
    let bad_report = bad_report.display().to_string();
    let manifest = quickstart("vouch.yaml");
    let bundle = quickstart("artifact-00001.txt.sigstore.json");
    let dir_arg = dir.display().to_string();
    let cases: Vec<(Vec<&str>, Code)> = vec![
        (vec!["check", &manifest, "--shard", "0/2"], Code::UsageShard),
        (vec!["check", &manifest, "--shard", "3/2"], Code::UsageShard),
        (vec!["check", &manifest, "--output", "json"], Code::UsageFormat),
        (vec!["check", &manifest, "--format", "yaml"], Code::UsageFormat),
        (vec!["check"], Code::UsageSubjects),
        (vec!["report", "merge", &bad_report], Code::ReportRead),
        (vec!["explain", "--bundle", &bundle], Code::UsagePolicy),
        (
            vec!["verify-blob", "sha256:abc", "--bundle", &bundle, "--certificate-identity", "x", "--certificate-oidc-issuer", "y"],
            Code::UsageDigest,
        ),
        (vec!["verify-image", "not a reference", "--certificate-identity", "x", "--certificate-oidc-issuer", "y"], Code::UsageImage),
        (vec!["test", &manifest, "--format", "junit"], Code::UsageFormat),
        // A folder is not a file to verify.
        (vec!["verify-blob", &dir_arg, "--bundle", &bundle, "--certificate-identity", "x", "--certificate-oidc-issuer", "y"], Code::Io),
    ];
    for (args, code) in cases {
        let r = run(&args);
        assert_eq!(code.class(), Class::Usage);
        r.assert_code(2).assert_stderr_contains(code.as_str()).assert_stderr_contains(code.hint());
        assert!(!r.stderr.contains("vouch::usage::identity"), "{args:?} is not about identity flags:\n{}", r.stderr);
    }
}

/// Every command takes `--format json`: a report (or the claims document, or the test
/// report), and for an error the error as JSON, with the same exit code.
#[test]
fn every_command_speaks_json_errors_included() {
    let dir = scratch("cli-json");
    let (artifact, bundle, root) =
        (quickstart("artifact-00001.txt"), quickstart("artifact-00001.txt.sigstore.json"), quickstart("trusted_root.json"));
    let identity = ["--certificate-identity", QUICKSTART_ID, "--certificate-oidc-issuer", "https://gitlab.com"];
    let json = |r: &Run| -> serde_json::Value {
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", r.stdout, r.stderr))
    };

    let mut blob = vec!["verify-blob", &artifact, "--bundle", &bundle, "--trusted-root", &root, "--format", "json"];
    blob.extend(identity);
    let r = run(&blob);
    r.assert_code(0);
    let doc = json(&r);
    assert_eq!((doc["version"].as_u64(), doc["summary"]["passed"].as_u64()), (Some(3), Some(1)));
    assert_eq!(doc["subjects"][0]["signatures"][0]["claims"]["gitlab"]["project_path"], "acme/app");

    let shard = dir.join("shard.json").display().to_string();
    let r = run(&["check", &quickstart("vouch.yaml"), "--format", "json", "--output", &format!("json={shard}")]);
    r.assert_code(0);
    assert_eq!(json(&r)["summary"]["subjects"], 3);
    let r = run(&["report", "merge", &shard, "--format", "json"]);
    r.assert_code(0);
    assert_eq!(json(&r)["summary"]["passed"], 3);
    // `claims` authorises nobody: its report is not a gate's and never merges.
    let claimed = dir.join("claims.json").display().to_string();
    run(&["claims", "--bundle", &bundle, &artifact, "--trusted-root", &root, "--output", &format!("json={claimed}")]).assert_code(0);
    run(&["report", "merge", &claimed])
        .assert_code(2)
        .assert_stderr_contains("vouch::report::merge")
        .assert_stderr_contains("any identity");

    let r = run(&["claims", "--bundle", &bundle, &artifact, "--trusted-root", &root, "--format", "json"]);
    r.assert_code(0);
    assert_eq!(json(&r)["gitlab"]["project_path"], "acme/app");
    // The same subject as a report, in any other format.
    let r = run(&["claims", "--bundle", &bundle, &artifact, "--trusted-root", &root, "--format", "junit"]);
    r.assert_code(0).assert_stdout_contains("<testsuites");

    let mut explain = vec!["explain", "--bundle", &bundle, &artifact, "--trusted-root", &root];
    let policies = repo("policies").display().to_string();
    explain.extend(["--policy", &policies]);
    explain.extend(identity);
    let r = run(&explain);
    r.assert_code(0);
    assert!(json(&r)["subjects"][0]["input"]["signatures"].is_array(), "{}", r.stdout);

    let r = run(&["test", &policies, "--format", "json"]);
    r.assert_code(0);
    assert!(json(&r)["tests"].as_array().is_some_and(|t| !t.is_empty()));

    // An error, as JSON on stdout and as a diagnostic on stderr, with its exit code.
    let r = run(&["check", &quickstart("vouch.yaml"), "--shard", "0/2", "--format", "json"]);
    r.assert_code(2).assert_stderr_contains("vouch::usage::shard");
    let e = &json(&r)["error"];
    assert_eq!((e["code"].as_str(), e["class"].as_str(), e["exit_code"].as_u64()), (Some("vouch::usage::shard"), Some("usage"), Some(2)));
    let r = run(&[
        "verify-blob",
        &artifact,
        "--bundle",
        &bundle,
        "--trusted-root",
        &dir.join("nope.json").display().to_string(),
        "--format",
        "json",
    ]);
    r.assert_code(2);
    assert_eq!(json(&r)["error"]["code"], "vouch::io");

    // A registry that cannot be asked: a report whose one subject was not judged (exit 3).
    let mut image = vec!["verify-image", "127.0.0.1:9/acme/app:1.0", "--registry-timeout", "1", "--format", "json"];
    image.extend(identity);
    let r = run(&image);
    r.assert_code(3);
    let doc = json(&r);
    assert_eq!(
        (doc["subjects"][0]["verdict"].as_str(), doc["subjects"][0]["reasons"][0]["code"].as_str()),
        (Some("error"), Some("vouch::registry::unreachable"))
    );
}

/// `vouch … | head`: the reader goes away; vouch ends quietly, writes its files, and
/// exits with the verdict.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = scratch("cli-pipe");
    let (artifact, bundle, root) =
        (quickstart("artifact-00001.txt"), quickstart("artifact-00001.txt.sigstore.json"), quickstart("trusted_root.json"));
    let junit = dir.join("r.xml");
    let junit_arg = format!("junit={}", junit.display());
    let manifest = quickstart("vouch.yaml");
    let cases: Vec<Vec<&str>> = vec![
        vec!["check", "--format", "json", "--output", &junit_arg, &manifest],
        vec!["check", &manifest],
        vec!["claims", "--bundle", &bundle, &artifact, "--trusted-root", &root],
        vec![
            "verify-blob",
            &artifact,
            "--bundle",
            &bundle,
            "--trusted-root",
            &root,
            "--certificate-identity",
            QUICKSTART_ID,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ],
    ];
    for args in cases {
        let mut child =
            Command::new(vouch_bin()).args(&args).env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Close the read end before vouch writes: its first write meets a broken pipe.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}:\n{stderr}");
        assert_eq!(status.code(), Some(0), "{args:?}: the verdict, not a crash:\n{stderr}");
    }
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testsuites"), "files are still written");
}

/// Conventions: completions for every shell, man pages, examples in `--help`, and the
/// `VOUCH_*` variables for the common flags.
#[test]
fn completions_man_pages_help_and_environment() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(&["completion", shell]);
        r.assert_code(0).assert_stdout_contains("verify-blob");
    }
    run(&["completion", "tcsh"]).assert_code(2);
    let dir = scratch("cli-man");
    run(&["man", &dir.display().to_string()]).assert_code(0);
    for page in ["vouch.1", "vouch-check.1", "vouch-verify-blob.1", "vouch-policy-list.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    for command in ["verify-blob", "verify-image", "check", "claims", "explain", "test"] {
        run(&[command, "--help"]).assert_code(0).assert_stdout_contains("Example");
    }

    let (artifact, bundle) = (quickstart("artifact-00001.txt"), quickstart("artifact-00001.txt.sigstore.json"));
    let gate = dir.join("gate.yaml");
    std::fs::write(&gate, "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n").unwrap();
    let policies = format!("builtin,{}", gate.display());
    let env = [("VOUCH_FORMAT", "json"), ("VOUCH_POLICY", policies.as_str()), ("VOUCH_TRUSTED_ROOT", &quickstart("trusted_root.json"))];
    let r = common::run_env(&["verify-blob", &artifact, "--bundle", &bundle], &env);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(doc["subjects"][0]["verdict"], "pass", "{doc}");
    assert!(doc["subjects"][0]["decision"].is_object(), "the policies of VOUCH_POLICY judged: {doc}");
    // A flag wins over its variable.
    common::run_env(&["verify-blob", &artifact, "--bundle", &bundle, "--format", "text"], &env)
        .assert_code(0)
        .assert_stdout_contains("PASS");
}
