//! Every public sigstore-conformance case and real CI bundle in ../shared, through the
//! binary, with the semantics of ../shared/tools/sigstore-cases: exit 0 = verified,
//! anything else = rejected, compared with the expected outcome.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::Path;

mod common;
use common::{run_in, shared_dir};

struct Case {
    name: String,
    expect_pass: bool,
    dir: std::path::PathBuf,
    args: Vec<String>,
}

fn tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

#[allow(clippy::too_many_arguments)]
fn case(name: String, expected: &str, dir: &Path, bundle: &str, input: &str, identity: &str, issuer: &str, key: &str, tr: &str) -> Case {
    let mut args = vec!["verify-blob".to_string(), "--bundle".into(), dir.join(bundle).display().to_string()];
    if !key.is_empty() && key != "-" {
        args.extend(["--key".into(), dir.join(key).display().to_string()]);
    } else {
        args.extend(["--certificate-identity".into(), identity.into(), "--certificate-oidc-issuer".into(), issuer.into()]);
    }
    if !(tr.is_empty() || tr == "-" || tr.ends_with("production-trusted_root.json")) {
        args.extend(["--trusted-root".into(), dir.join(tr).display().to_string()]);
    }
    let input = if input.starts_with("sha256:") { input.to_string() } else { dir.join(input).display().to_string() };
    args.push(input);
    Case { name, expect_pass: expected == "pass", dir: dir.to_path_buf(), args }
}

fn all_cases() -> Vec<Case> {
    let shared = shared_dir();
    let mut cases = Vec::new();
    let d = shared.join("conformance-assets");
    for r in tsv(&d.join("cases.tsv")) {
        // case expected bundle artifact digest mode identity issuer key trusted_root
        cases.push(case(format!("{} [file]", r[0]), &r[1], &d, &r[2], &r[3], &r[6], &r[7], &r[8], &r[9]));
        cases.push(case(format!("{} [digest]", r[0]), &r[1], &d, &r[2], &r[4], &r[6], &r[7], &r[8], &r[9]));
    }
    let d = shared.join("real-bundles");
    for r in tsv(&d.join("cases.tsv")) {
        // case expected bundle artifact identity issuer key trusted_root
        cases.push(case(r[0].clone(), &r[1], &d, &r[2], &r[3], &r[4], &r[5], &r[6], &r[7]));
    }
    let d = shared.join("real-bundles/cpython-release-tracker");
    for r in tsv(&d.join("cases.tsv")) {
        // version artifact digest identity issuer
        cases.push(case(
            format!("cpython {}", r[0]),
            "pass",
            &d,
            &format!("bundles/{}.sigstore.json", r[1]),
            &r[2],
            &r[3],
            &r[4],
            "-",
            "-",
        ));
    }
    cases
}

#[test]
fn every_public_case_is_judged_as_expected() {
    let cases = all_cases();
    assert_eq!(cases.len(), 236, "the shared case list changed");
    let mut misses = Vec::new();
    for case in &cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let run = run_in(Some(&case.dir), &args);
        let passed = run.code == 0;
        if passed != case.expect_pass {
            misses.push(format!(
                "{}: expected {}, got exit {}\n{}",
                case.name,
                if case.expect_pass { "pass" } else { "fail" },
                run.code,
                run.stderr
            ));
        }
        if !passed {
            // A rejection is a diagnostic with a code, never a bare error.
            assert!(run.stderr.contains("vouch::"), "{}: no diagnostic code:\n{}", case.name, run.stderr);
        }
    }
    println!("{} passed, {} failed", cases.len() - misses.len(), misses.len());
    assert!(misses.is_empty(), "{} of {} cases misjudged:\n{}", misses.len(), cases.len(), misses.join("\n"));
}
