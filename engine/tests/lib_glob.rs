//! `data.vouch.lib.glob_match` has fast paths (literal patterns, `PREFIX*`) beside
//! regorus's glob.match; all of them must give globset's answer (literal separators),
//! under the VM and under the interpreter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::json;
use vouch_engine::policy::Policy;

const PATTERNS: &[&str] = &[
    "acme/app",
    "acme/*",
    "acme/**",
    "acme/**/app",
    "*",
    "**",
    "v*",
    "v1.*",
    "release/*",
    "release/**",
    "acme/app-?",
    "acme/{app,lib}",
    "acme/[a-c]*",
    "a*b",
    "acme/",
    "",
    "*/app",
    "acme/app*",
    "acme\\*",
    ".gitlab-ci.yml",
    "ci/*.yml",
    "refs/heads/*",
];

const VALUES: &[&str] = &[
    "acme/app",
    "acme/lib",
    "acme/app-1",
    "acme/app-10",
    "acme/",
    "acme",
    "acme/group/app",
    "acme/group/sub/app",
    "evil/acme/app",
    "v1.2.3",
    "v1",
    "v",
    "vx/y",
    "release/2.0",
    "release/2.0/hotfix",
    "a*b",
    "ab",
    "axxb",
    "a/b",
    "",
    "*",
    "acme/*",
    ".gitlab-ci.yml",
    "ci/release.yml",
    "ci/sub/release.yml",
    "refs/heads/main",
    "acme/bpp",
];

#[test]
fn lib_glob_match_agrees_with_globset() {
    let policy_text = "package vouch.t\nimport data.vouch.lib\ndeny contains json.marshal([p, v]) if {\n  some [p, v] in input.pairs\n  lib.glob_match(p, v)\n}\n";
    let time = "2026-01-01T00:00:00Z".parse().expect("time");
    let mut policy = Policy::from_texts(vec![(PathBuf::from("t.rego"), policy_text.to_string())], time).expect("loads");
    let pairs: Vec<(&str, &str)> = PATTERNS.iter().flat_map(|p| VALUES.iter().map(move |v| (*p, *v))).collect();
    let input = json!({"pairs": pairs.iter().map(|(p, v)| json!([p, v])).collect::<Vec<_>>()});

    let expected: BTreeSet<String> = pairs
        .iter()
        .filter(|(p, v)| {
            globset::GlobBuilder::new(p).literal_separator(true).build().map(|g| g.compile_matcher().is_match(v)).unwrap_or(false)
        })
        .map(|(p, v)| json!([p, v]).to_string())
        .collect();
    let matched = |d: vouch_engine::policy::Decision| -> BTreeSet<String> { d.deny.into_iter().map(|f| f.msg).collect() };

    let by_interpreter_err = policy.evaluate_with_interpreter(&input);
    assert!(by_interpreter_err.is_ok(), "{by_interpreter_err:?}");
    let by_vm = policy.evaluate_with_vm(&input).expect("the VM decides");
    let by_interpreter = policy.evaluate_with_interpreter(&input).expect("evaluates");
    assert_eq!(matched(by_vm), expected, "VM vs globset");
    assert_eq!(matched(by_interpreter), expected, "interpreter vs globset");
    assert!(expected.len() > 40, "{} matches", expected.len());
}
