//! Compliance reviews: waivers (in force, expiring, expired, not yet in force, unused;
//! hostile and misconfigured forms), honoured alike by `check`, `verify-blob`, `explain`
//! and `vouch test`, reported in every format and summed by `report merge`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use testkit::{GitLab, SignRequest, VirtualSigstore};
mod common;
use common::{run, scratch};

/// Blobs signed on 2026-01-01 by acme/app on main; a gate that wants them signed within
/// 30 days; reviews run on 2026-03-01, when every one of them is too old.
struct Estate {
    dir: PathBuf,
    /// The test Sigstore that signed the blobs (and whose root is trusted_root.json).
    sigstore: Option<VirtualSigstore>,
}

const SIGNED: &str = "2026-01-01T00:00:00Z";
const REVIEW: &str = "2026-03-01T00:00:00Z";

fn policies() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").display().to_string()
}

impl Estate {
    fn new(name: &str, blobs: &[&str]) -> Self {
        Self::signed_at(name, blobs, SIGNED.parse().unwrap())
    }

    /// Signed yesterday: reviewed now (summaries are as old as the time they judged at).
    fn recent(name: &str, blobs: &[&str]) -> Self {
        Self::signed_at(name, blobs, jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24))
    }

    fn signed_at(name: &str, blobs: &[&str], at: jiff::Timestamp) -> Self {
        let dir = scratch(name);
        let mut sigstore = VirtualSigstore::new().unwrap();
        std::fs::write(dir.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        std::fs::create_dir_all(dir.join("dist")).unwrap();
        for b in blobs {
            let text = format!("contents of {b}");
            std::fs::write(dir.join("dist").join(b), &text).unwrap();
            let minted = sigstore.sign(SignRequest::message(text, GitLab::default().identity()).at(at)).unwrap();
            std::fs::write(dir.join("dist").join(format!("{b}.sigstore.json")), minted.json()).unwrap();
        }
        std::fs::write(
            dir.join("gate.yaml"),
            "config:\n  gitlab:\n    projects: [acme/app]\n    refs:\n      branches: [main]\n  signing_age:\n    max_days: 30\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("vouch.yaml"),
            format!(
                "version: 1\ntrusted_root: trusted_root.json\npolicy: [{}, gate.yaml]\nsubjects:\n  - blob: \"dist/*.tar.gz\"\n",
                policies()
            ),
        )
        .unwrap();
        Estate { dir, sigstore: Some(sigstore) }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.join(name), text).unwrap();
        self.path(name)
    }

    fn sha256(&self, blob: &str) -> String {
        testkit::sha256_hex(&std::fs::read(self.dir.join("dist").join(blob)).unwrap())
    }
}

fn waiver(id: &str, applies_to: &str, extra: &str) -> String {
    format!(
        "  - id: {id}\n    package: vouch.signing_age\n    rule: signing_age.too_old\n    applies_to:\n{applies_to}    owner: release-team@acme.example\n    reason: legacy artifacts are re-signed in Q2\n    reference: https://gitlab.com/acme/app/-/issues/42\n{extra}"
    )
}

/// The JSON report validates against docs/report.schema.json.
fn assert_schema_valid(report: &str, scratch: &Path) {
    let file = scratch.join("report-to-validate.json");
    std::fs::write(&file, report).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let out = std::process::Command::new(common::python())
        .arg("-c")
        .arg("import sys, json, jsonschema\njsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))\n")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn subject<'a>(report: &'a serde_json::Value, part: &str) -> &'a serde_json::Value {
    report["subjects"].as_array().unwrap().iter().find(|s| s["name"].as_str().unwrap().contains(part)).unwrap()
}

fn waiver_status<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["waivers"].as_array().unwrap().iter().find(|w| w["id"] == id).unwrap_or_else(|| panic!("no waiver {id} in {report}"))
}

#[test]
fn waivers_cover_findings_while_in_force_and_say_what_they_did() {
    let e = Estate::new("reviews-waivers", &["a.tar.gz", "b.tar.gz", "c.tar.gz", "d.tar.gz"]);
    let b = e.sha256("b.tar.gz");
    let waivers = e.write(
        "waivers.yaml",
        &format!(
            "waivers:\n{}{}{}{}{}",
            waiver("in-force", "      subjects: [\"*dist/a.tar.gz\"]\n", "    expires_on: 2026-06-01\n"),
            waiver("expiring", &format!("      digests: [\"sha256:{b}\"]\n"), "    expires_on: 2026-03-05\n"),
            waiver("expired", "      subjects: [\"*dist/c.tar.gz\"]\n", "    expires_on: 2026-02-01\n"),
            waiver("not-yet", "      subjects: [\"*dist/d.tar.gz\"]\n", "    effective_on: 2026-04-01\n    expires_on: 2026-06-01\n"),
            waiver("unused", "      subjects: [\"*dist/a.tar.gz\"]\n      projects: [\"acme/other\"]\n", "    expires_on: 2026-06-01\n"),
        ),
    );
    let manifest = e.path("vouch.yaml");
    let check = |format: &str| run(&["check", &manifest, "--effective-time", REVIEW, "--waivers", &waivers, "--format", format]);

    let r = check("json");
    r.assert_code(1);
    assert_schema_valid(&r.stdout, &e.dir);
    let report = r.json();
    // In force: the finding is waived (and says by which waiver), the subject passes.
    let a = subject(&report, "a.tar.gz");
    assert_eq!(a["verdict"], "pass", "{a}");
    assert_eq!(a["waived"][0]["waiver"], "in-force");
    assert_eq!(a["waived"][0]["code"], "signing_age.too_old");
    assert_eq!(a["waived"][0]["owner"], "release-team@acme.example");
    assert_eq!(a["waived"][0]["reference"], "https://gitlab.com/acme/app/-/issues/42");
    assert_eq!(subject(&report, "b.tar.gz")["verdict"], "pass");
    // Expired and not yet in force: ignored, so the finding fails the subject.
    for (name, id, state) in [("c.tar.gz", "expired", "expired"), ("d.tar.gz", "not-yet", "pending")] {
        let s = subject(&report, name);
        assert_eq!(s["verdict"], "fail", "{s}");
        assert!(s.get("waived").is_none(), "{s}");
        assert_eq!(waiver_status(&report, id)["state"], state);
        assert_eq!(waiver_status(&report, id)["matched"], 0);
    }
    assert_eq!(waiver_status(&report, "in-force")["state"], "active");
    assert_eq!(waiver_status(&report, "in-force")["matched"], 1);
    assert_eq!(waiver_status(&report, "expiring")["state"], "expiring");
    assert_eq!(waiver_status(&report, "unused")["matched"], 0);
    assert!(r.stderr.contains("waiver expired expired on 2026-02-01: ignored"), "{}", r.stderr);
    assert!(r.stderr.contains("warning: waiver expiring expires on 2026-03-05"), "{}", r.stderr);
    assert!(r.stderr.contains("waiver not-yet is not in force until 2026-04-01"), "{}", r.stderr);

    // Every format shows the waived finding: never silently dropped.
    let text = check("text");
    assert!(text.stdout.contains("waived deny [signing_age.too_old]"), "{}", text.stdout);
    assert!(text.stdout.contains("(waiver in-force, owner release-team@acme.example, expires 2026-06-01T00:00:00Z"), "{}", text.stdout);
    assert!(text.stdout.contains("unused: vouch.signing_age signing_age.too_old"), "{}", text.stdout);
    assert!(text.stdout.contains("expired: expired (ignored)"), "{}", text.stdout);
    assert!(text.stdout.contains("expiring: expires soon"), "{}", text.stdout);
    let sarif: serde_json::Value = serde_json::from_str(&check("sarif").stdout).unwrap();
    let suppressed: Vec<&serde_json::Value> =
        sarif["runs"][0]["results"].as_array().unwrap().iter().filter(|r| r.get("suppressions").is_some()).collect();
    assert_eq!(suppressed.len(), 2, "{sarif}");
    assert_eq!(suppressed[0]["suppressions"][0]["status"], "accepted");
    assert!(check("junit").stdout.contains("waived deny [signing_age.too_old]"));
    let md = check("markdown").stdout;
    assert!(md.contains("waived `signing_age.too_old`") && md.contains("unused"), "{md}");
    let cq: serde_json::Value = serde_json::from_str(&check("gitlab-codequality").stdout).unwrap();
    assert_eq!(cq.as_array().unwrap().iter().filter(|i| i["severity"] == "info").count(), 2, "{cq}");

    // The single-subject commands honour the same waivers.
    let a_path = e.path("dist/a.tar.gz");
    let bundle = e.path("dist/a.tar.gz.sigstore.json");
    let root = e.path("trusted_root.json");
    let gate = e.path("gate.yaml");
    let policy = policies();
    let common = ["--trusted-root", &root, "--policy", &policy, "--policy", &gate, "--effective-time", REVIEW];
    let mut args = vec!["verify-blob", &a_path, "--bundle", &bundle, "--waivers", &waivers, "--format", "json"];
    args.extend(common);
    let one = run(&args);
    one.assert_code(0);
    assert_eq!(one.subject()["waived"][0]["waiver"], "in-force");
    let mut args = vec!["explain", &a_path, "--bundle", &bundle, "--waivers", &waivers];
    args.extend(common);
    let explained = run(&args);
    explained.assert_code(0);
    assert_eq!(explained.subject()["waived"][0]["waiver"], "in-force");
    // Without the waivers the same subject fails: the waiver is what passed it.
    let mut args = vec!["verify-blob", &a_path, "--bundle", &bundle];
    args.extend(common);
    run(&args).assert_code(1);

    // Shards: each counts what it matched; the merge sums them.
    let mut shards = Vec::new();
    for i in 1..=2 {
        let out = e.path(&format!("shard-{i}.json"));
        run(&[
            "check",
            &manifest,
            "--effective-time",
            REVIEW,
            "--waivers",
            &waivers,
            "--shard",
            &format!("{i}/2"),
            "--output",
            &format!("json={out}"),
            "--quiet",
        ]);
        shards.push(out);
    }
    let merged = run(&["report", "merge", &shards[0], &shards[1], "--format", "json"]);
    merged.assert_code(1);
    let merged = merged.json();
    assert_eq!(waiver_status(&merged, "in-force")["matched"], 1);
    assert_eq!(waiver_status(&merged, "expiring")["matched"], 1);
    assert_eq!(waiver_status(&merged, "unused")["matched"], 0);
}

#[test]
fn a_waiver_never_covers_a_failed_verification_or_an_unaccepted_signer() {
    let e = Estate::new("reviews-waivers-verification", &["a.tar.gz"]);
    std::fs::write(e.dir.join("dist/tampered.tar.gz"), "other contents").unwrap();
    std::fs::copy(e.dir.join("dist/a.tar.gz.sigstore.json"), e.dir.join("dist/tampered.tar.gz.sigstore.json")).unwrap();
    let waivers =
        e.write("waivers.yaml", &format!("waivers:\n{}", waiver("all", "      subjects: [\"*\"]\n", "    expires_on: 2026-06-01\n")));
    let r = run(&["check", &e.path("vouch.yaml"), "--effective-time", REVIEW, "--waivers", &waivers, "--format", "json"]);
    r.assert_code(1);
    let report = r.json();
    assert_eq!(subject(&report, "a.tar.gz")["verdict"], "pass");
    // `subjects` also matches the subject as the manifest lists it (relative to it).
    let listed = e.write(
        "listed.yaml",
        &format!("waivers:\n{}", waiver("listed", "      subjects: [\"dist/a.tar.gz\"]\n", "    expires_on: 2026-06-01\n")),
    );
    let r = run(&["check", &e.path("vouch.yaml"), "--effective-time", REVIEW, "--waivers", &listed, "--format", "json"]);
    assert_eq!(subject(&r.json(), "a.tar.gz")["waived"][0]["waiver"], "listed");
    let tampered = subject(&report, "tampered.tar.gz");
    assert_eq!(tampered["verdict"], "fail");
    assert!(tampered.get("waived").is_none(), "{tampered}");

    // Its own codes, the signer judges, and packages that are not loaded: refused up front.
    let refused = |body: &str, says: &str| {
        let file = e.write("bad-waivers.yaml", body);
        let r = run(&["check", &e.path("vouch.yaml"), "--effective-time", REVIEW, "--waivers", &file]);
        r.assert_code(2);
        assert!(r.stderr.contains("waiver::config"), "{}", r.stderr);
        assert!(r.stderr.contains(says), "wanted {says:?} in {}", r.stderr);
    };
    let good = waiver("w", "      subjects: [\"*\"]\n", "    expires_on: 2026-06-01\n");
    let list = |w: String| format!("waivers:\n{w}");
    refused(&list(good.replace("signing_age.too_old", "vouch::verify::signature")), "never a failed verification");
    refused(&list(good.replace("vouch.signing_age", "vouch.gitlab").replace("signing_age.too_old", "gitlab.ref")), "cannot admit a signer");
    refused(&list(good.replace("vouch.signing_age", "vouch.nonesuch")), "is not loaded");
    refused(&format!("waivers:\n{}", good.replace("    expires_on: 2026-06-01\n", "")), "expires_on");
    refused(&format!("waivers:\n{}", good.replace("2026-06-01", "next summer")), "write YYYY-MM-DD");
    refused(&format!("waivers:\n{}", good.replace("      subjects: [\"*\"]\n", "")), "applies_to names nothing");
    refused(&format!("waivers:\n{}", good.replace("owner: release-team@acme.example", "owner: \"\"")), "owner is empty");
    refused(&format!("waivers:\n{good}{good}"), "is used twice");
    refused(&format!("waivers:\n{good}    approved: yes\n"), "unknown field");
    refused(&format!("waivers:\n{}", good.replace("subjects: [\"*\"]", "digests: [\"sha256:abc\"]")), "64 lowercase hex");
    refused(&format!("waivers:\n{}", good.replace("    expires_on", "    effective_on: 2026-07-01\n    expires_on")), "not before");
    // A judge configured only in one subject's data is still a judge.
    e.write("age.yaml", "config:\n  signing_age:\n    max_days: 30\n");
    let per_subject = e.write(
        "per-subject.yaml",
        &format!(
            "version: 1\ntrusted_root: trusted_root.json\npolicy: [{}, age.yaml]\nidentities:\n  - {{issuer: https://gitlab.com, subject: \"{}\"}}\nsubjects:\n  - blob: \"dist/a.tar.gz\"\n    data: {{config: {{gitlab: {{projects: [acme/app], refs: {{branches: [main]}}}}}}}}\n",
            policies(),
            GitLab::default().san()
        ),
    );
    let judge =
        e.write("judge-waiver.yaml", &list(good.replace("vouch.signing_age", "vouch.gitlab").replace("signing_age.too_old", "gitlab.ref")));
    let r = run(&["check", &per_subject, "--effective-time", REVIEW, "--waivers", &judge]);
    r.assert_code(2);
    r.assert_stderr_contains("configured in a subject's data");
    refused("waivers: []\n", "waivers is empty");
    // Waivers with no policy at all waive nothing: refused too.
    let file = e.write("ok.yaml", &format!("waivers:\n{good}"));
    let root = e.path("trusted_root.json");
    let r = run(&[
        "verify-blob",
        &e.path("dist/a.tar.gz"),
        "--bundle",
        &e.path("dist/a.tar.gz.sigstore.json"),
        "--trusted-root",
        &root,
        "--certificate-identity",
        "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
        "--waivers",
        &file,
    ]);
    r.assert_code(2);
    r.assert_stderr_contains("no policy is loaded");

    // `vouch test` checks waivers against the policies it tests.
    let t = run(&["test", &policies(), "--waivers", &file, "--effective-time", REVIEW]);
    t.assert_code(0);
    t.assert_stderr_contains("1 waivers checked");
    let bad = e.write("bad-test.yaml", &format!("waivers:\n{}", good.replace("vouch.signing_age", "vouch.nonesuch")));
    run(&["test", &policies(), "--waivers", &bad]).assert_code(2);
}

#[test]
fn report_diff_says_what_changed_between_reviews() {
    let e = Estate::new("reviews-diff", &["a.tar.gz", "b.tar.gz", "c.tar.gz"]);
    let manifest = e.path("vouch.yaml");
    let old = e.path("old.json");
    run(&["check", &manifest, "--effective-time", "2026-01-10T00:00:00Z", "--output", &format!("json={old}"), "--quiet"]).assert_code(0);
    // Since then: c removed, d added, b re-signed by another project (same contents), a
    // waiver started for a, and the clock moved past the 30 days.
    std::fs::remove_file(e.dir.join("dist/c.tar.gz")).unwrap();
    let mut sigstore = VirtualSigstore::new().unwrap();
    std::fs::write(e.dir.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    for (b, gl) in [
        ("a.tar.gz", GitLab::default()),
        ("b.tar.gz", GitLab { project: "acme/other".into(), ..GitLab::default() }),
        ("d.tar.gz", GitLab::default()),
    ] {
        let text = format!("contents of {b}");
        std::fs::write(e.dir.join("dist").join(b), &text).unwrap();
        let minted = sigstore.sign(SignRequest::message(text, gl.identity()).at(SIGNED.parse().unwrap())).unwrap();
        std::fs::write(e.dir.join("dist").join(format!("{b}.sigstore.json")), minted.json()).unwrap();
    }
    let waivers = e.write(
        "waivers.yaml",
        &format!("waivers:\n{}", waiver("legacy-a", "      subjects: [\"*dist/a.tar.gz\"]\n", "    expires_on: 2026-06-01\n")),
    );
    let new = e.path("new.json");
    run(&["check", &manifest, "--effective-time", REVIEW, "--waivers", &waivers, "--output", &format!("json={new}"), "--quiet"])
        .assert_code(1);

    let d = run(&["report", "diff", &old, &new, "--format", "json"]);
    d.assert_code(0);
    let d = d.json();
    let names = |key: &str| d[key].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(names("added").iter().any(|n| n.ends_with("d.tar.gz")), "{d}");
    assert!(names("removed").iter().any(|n| n.ends_with("c.tar.gz")), "{d}");
    let b = d["verdict_changes"].as_array().unwrap().iter().find(|c| c["name"].as_str().unwrap().ends_with("b.tar.gz")).unwrap();
    assert_eq!((b["from"].as_str(), b["to"].as_str()), (Some("pass"), Some("fail")));
    assert!(d["new_findings"].as_array().unwrap().iter().any(|f| f["name"].as_str().unwrap().ends_with("b.tar.gz")), "{d}");
    let signer = &d["signer_changes"][0];
    assert!(signer["before"][0].as_str().unwrap().contains("project acme/app"), "{d}");
    assert!(signer["after"][0].as_str().unwrap().contains("project acme/other"), "{d}");
    assert_eq!(d["waivers"]["started"][0], "legacy-a");
    assert_eq!(d["old"]["passed"], 3);

    let text = run(&["report", "diff", &old, &new]).stdout;
    assert!(text.contains("signer changed") && text.contains("waiver legacy-a started") && text.contains("pass -> fail"), "{text}");
    let md = run(&["report", "diff", &old, &new, "--format", "markdown"]).stdout;
    assert!(md.contains("| signer |") && md.contains("| waiver started | `legacy-a` |"), "{md}");
    // A finding that came under a waiver is "waived now", not "resolved"; a waiver edited
    // under the same id is "changed".
    let bare = e.path("bare.json");
    run(&["check", &manifest, "--effective-time", REVIEW, "--output", &format!("json={bare}"), "--quiet"]).assert_code(1);
    let d = run(&["report", "diff", &bare, &new, "--format", "json"]).json();
    assert!(d["newly_waived"][0]["name"].as_str().unwrap().ends_with("a.tar.gz"), "{d}");
    assert!(!d["resolved_findings"].as_array().unwrap().iter().any(|f| f["name"].as_str().unwrap().ends_with("a.tar.gz")), "{d}");
    let d = run(&["report", "diff", &new, &bare, "--format", "json"]).json();
    assert!(d["no_longer_waived"][0]["name"].as_str().unwrap().ends_with("a.tar.gz"), "{d}");
    let edited = e.write("waivers.yaml", &std::fs::read_to_string(&waivers).unwrap().replace("2026-06-01", "2026-09-01"));
    let newer = e.path("newer.json");
    run(&["check", &manifest, "--effective-time", REVIEW, "--waivers", &edited, "--output", &format!("json={newer}"), "--quiet"]);
    let d = run(&["report", "diff", &new, &newer, "--format", "json"]).json();
    assert_eq!(d["waivers"]["changed"][0], "legacy-a", "{d}");

    let same = run(&["report", "diff", &new, &new]).stdout;
    assert!(same.contains("no changes"), "{same}");
    // Not a report, or a format diff does not write: exit 2.
    run(&["report", "diff", &old, &e.path("waivers.yaml")]).assert_code(2);
    run(&["report", "diff", &old, &new, "--format", "sarif"]).assert_code(2);
}

/// A summary file's statement (key-signed or keyless: the DSSE payload).
fn statement_of(path: &Path) -> serde_json::Value {
    use base64::Engine as _;
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD.decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn summaries(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".vsa.sigstore.json"))
        .collect();
    files.sort();
    files
}

fn summary_of(dir: &Path, blob: &str, e: &Estate) -> PathBuf {
    let digest = e.sha256(blob);
    summaries(dir).into_iter().find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("sha256-{digest}."))).unwrap()
}

const FRESH: &str = "2026-01-10T00:00:00Z";

#[test]
fn summaries_signed_with_a_key_pass_unchanged_subjects_and_nothing_else() {
    let fresh = jiff::Timestamp::now().to_string();
    let e = Estate::recent("reviews-vsa-key", &["a.tar.gz", "b.tar.gz", "c.tar.gz"]);
    let (private, public) = testkit::key::Key::p256_pem_pair().unwrap();
    let (_, stranger) = testkit::key::Key::p256_pem_pair().unwrap();
    let key = e.write("vsa.key", &private);
    let public = e.write("vsa.pub", &public);
    let stranger = e.write("stranger.pub", &stranger);
    let manifest = e.path("vouch.yaml");
    let dir = e.dir.join("vsa");
    let vsa = dir.display().to_string();

    // Out: one summary per subject, PASSED, naming the policy and the bundle that verified.
    let first = run(&["check", &manifest, "--effective-time", fresh.as_str(), "--vsa", &vsa, "--vsa-key", &key]);
    first.assert_code(0);
    first.assert_stderr_contains("wrote 3 verification summaries");
    assert_eq!(summaries(&dir).len(), 3);
    let st = statement_of(&summary_of(&dir, "a.tar.gz", &e));
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://slsa.dev/verification_summary/v1");
    assert_eq!(st["subject"][0]["digest"]["sha256"], e.sha256("a.tar.gz"));
    let p = &st["predicate"];
    assert_eq!(p["verifier"]["id"], "https://github.com/vouch-dev/vouch");
    assert_eq!(p["verificationResult"], "PASSED");
    assert_eq!(p["verifiedLevels"][0], "VOUCH_POLICY_PASSED");
    assert!(p["resourceUri"].as_str().unwrap().starts_with("file:") && p["resourceUri"].as_str().unwrap().ends_with("dist/a.tar.gz"));
    assert_eq!(p["policy"]["digest"]["sha256"].as_str().unwrap().len(), 64);
    let bundle = std::fs::read(e.dir.join("dist/a.tar.gz.sigstore.json")).unwrap();
    assert_eq!(p["inputAttestations"][0]["digest"]["sha256"], testkit::sha256_hex(&bundle));
    assert!(p["timeVerified"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());

    // In: every unchanged subject passes by its summary, without verification.
    let accepted = format!("key:{public}");
    let reuse = |extra: &[&str]| {
        let mut args =
            vec!["check", manifest.as_str(), "--effective-time", fresh.as_str(), "--reuse-vsa", vsa.as_str(), "--format", "json"];
        args.extend(extra);
        if !extra.contains(&"--vsa-signer") {
            args.extend(["--vsa-signer", accepted.as_str()]);
        }
        run(&args)
    };
    let r = reuse(&[]);
    r.assert_code(0);
    r.assert_stderr_contains("3 of 3 subjects passed by a verification summary");
    assert_schema_valid(&r.stdout, &e.dir);
    let report = r.json();
    for s in report["subjects"].as_array().unwrap() {
        assert_eq!(s["summary"]["used"], true, "{s}");
        assert_eq!(s["signers"][0]["kind"], "summary");
    }
    let text =
        run(&["check", &manifest, "--effective-time", fresh.as_str(), "--reuse-vsa", &vsa, "--vsa-signer", &format!("key:{public}")]);
    assert!(text.stdout.contains("verified by summary (signed by key "), "{}", text.stdout);
    // Re-writing summaries for subjects that passed by one would extend them unverified.
    let again = run(&[
        "check",
        &manifest,
        "--effective-time",
        fresh.as_str(),
        "--reuse-vsa",
        &vsa,
        "--vsa-signer",
        &format!("key:{public}"),
        "--vsa",
        &vsa,
        "--vsa-key",
        &key,
    ]);
    again.assert_stderr_contains("wrote 0 verification summaries");

    // A changed digest has no summary: verified in full.
    std::fs::write(e.dir.join("dist/c.tar.gz"), "new contents of c").unwrap();
    let report = reuse(&[]).json();
    let c = subject(&report, "c.tar.gz");
    assert!(c.get("summary").is_none(), "{c}");
    assert_eq!(c["verdict"], "fail", "{c}"); // its old bundle no longer matches
    assert_eq!(subject(&report, "a.tar.gz")["summary"]["used"], true);

    // A tampered summary: refused, and the subject verified in full.
    let a_file = summary_of(&dir, "a.tar.gz", &e);
    let original = std::fs::read_to_string(&a_file).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_str(&original).unwrap();
    let mut st = statement_of(&a_file);
    st["predicate"]["timeVerified"] = serde_json::json!("2099-01-01T00:00:00Z");
    {
        use base64::Engine as _;
        bundle["dsseEnvelope"]["payload"] = serde_json::json!(base64::engine::general_purpose::STANDARD.encode(st.to_string()));
    }
    std::fs::write(&a_file, bundle.to_string()).unwrap();
    let refused = reuse(&[]);
    assert_schema_valid(&refused.stdout, &e.dir);
    let report = refused.json();
    let a = subject(&report, "a.tar.gz");
    assert_eq!(a["summary"]["used"], false, "{a}");
    assert!(a["summary"]["rejected"].as_str().unwrap().contains("does not verify"), "{a}");
    assert_eq!(a["verdict"], "pass", "{a}");
    assert!(a["signers"][0]["identity"].as_str().unwrap().contains("acme/app"), "verified in full: {a}");
    std::fs::write(&a_file, &original).unwrap();

    // An unaccepted signer, a changed policy, a summary older than allowed: all refused.
    let b_rejected = |report: serde_json::Value| subject(&report, "b.tar.gz")["summary"]["rejected"].as_str().unwrap_or("").to_string();
    let stranger_arg = format!("key:{stranger}");
    assert!(b_rejected(reuse(&["--vsa-signer", &stranger_arg]).json()).contains("--vsa-signer does not accept"));
    assert!(b_rejected(reuse(&["--vsa-max-age", "0s"]).json()).contains("older than --vsa-max-age"));
    assert!(b_rejected(reuse(&["--fail-on-warn"]).json()).contains("the policy changed"));
    let gate = std::fs::read_to_string(e.dir.join("gate.yaml")).unwrap();
    e.write("gate.yaml", &gate.replace("branches: [main]", "branches: [main, release]"));
    assert!(b_rejected(reuse(&[]).json()).contains("the policy changed"));
    e.write("gate.yaml", &gate);

    // A summary judged at an earlier effective time (a re-run of an old pipeline) is as
    // old as that time, whenever it was signed.
    std::fs::write(e.dir.join("dist/c.tar.gz"), "contents of c.tar.gz").unwrap();
    let past = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(12)).to_string();
    let old_dir = e.dir.join("vsa-past").display().to_string();
    run(&["check", &manifest, "--effective-time", &past, "--vsa", &old_dir, "--vsa-key", &key]).assert_code(0);
    let r = run(&["check", &manifest, "--reuse-vsa", &old_dir, "--vsa-signer", &accepted, "--vsa-max-age", "6h", "--format", "json"]);
    assert!(b_rejected(r.json()).contains("older than --vsa-max-age (judged at"), "{}", r.stdout);
    let r = run(&["check", &manifest, "--reuse-vsa", &old_dir, "--vsa-signer", &accepted, "--vsa-max-age", "24h", "--format", "json"]);
    assert_eq!(subject(&r.json(), "b.tar.gz")["summary"]["used"], true);

    // A FAILED summary is never reused: the subject is verified (and fails) again. (c's
    // contents no longer match its bundle.)
    std::fs::write(e.dir.join("dist/c.tar.gz"), "tampered contents of c").unwrap();
    run(&["check", &manifest, "--vsa", &vsa, "--vsa-key", &key]).assert_code(1);
    let st = statement_of(&summary_of(&dir, "c.tar.gz", &e));
    assert_eq!(st["predicate"]["verificationResult"], "FAILED");
    assert_eq!(st["predicate"]["verifiedLevels"][0], "FAILED");
    let r = run(&["check", &manifest, "--reuse-vsa", &vsa, "--vsa-signer", &accepted, "--format", "json"]);
    r.assert_code(1);
    let report = r.json();
    assert!(subject(&report, "c.tar.gz")["summary"]["rejected"].as_str().unwrap().contains("its result is FAILED"), "{report}");
    // A run judging an earlier time than a summary's verifies in full (a time rule may
    // fail then), and summaries about a future time are refused up front.
    let earlier = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2)).to_string();
    let r = run(&["check", &manifest, "--effective-time", &earlier, "--reuse-vsa", &vsa, "--vsa-signer", &accepted, "--format", "json"]);
    assert!(b_rejected(r.json()).contains("before the summary's effective time"));
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    let r = run(&["check", &manifest, "--effective-time", &future, "--vsa", &vsa, "--vsa-key", &key]);
    r.assert_code(2);
    r.assert_stderr_contains("in the future");

    // Settings vouch cannot act on: exit 2 before anything is judged.
    let refused = |args: &[&str], says: &str| {
        let mut all = vec!["check", manifest.as_str()];
        all.extend(args);
        let r = run(&all);
        r.assert_code(2);
        assert!(r.stderr.contains(says), "wanted {says:?} in {}", r.stderr);
    };
    refused(&["--vsa", &vsa], "needs a signer");
    refused(&["--vsa", &vsa, "--vsa-key", &public], "this is a public key");
    refused(&["--vsa", &vsa, "--vsa-key", &manifest], "no -----BEGIN PRIVATE KEY----- block");
    refused(&["--reuse-vsa", &e.path("no-such-folder"), "--vsa-signer", &accepted], "create it empty for a first run");
    refused(&["--vsa", &vsa, "--vsa-key", &key, "--vsa-keyless"], "not both");
    refused(&["--vsa-key", &key], "give --vsa DIR");
    refused(&["--reuse-vsa", &vsa], "needs --vsa-signer");
    refused(
        &["--reuse-vsa", &vsa, "--vsa-signer", "https://gitlab.com/acme/review//.gitlab-ci.yml@refs/heads/main"],
        "needs --vsa-signer-issuer",
    );
    refused(&["--reuse-vsa", &vsa, "--vsa-signer", &format!("key:{public}"), "--vsa-max-age", "a week"], "--vsa-max-age");
    refused(&["--vsa-signer", &format!("key:{public}")], "are for --reuse-vsa");
    refused(&["--vsa", &vsa, "--vsa-keyless", "--vsa-fulcio-url", "http://fulcio.example.com"], "SIGSTORE_ID_TOKEN");
}

#[test]
fn keyless_summaries_through_the_test_fulcio_and_rekor_verify_with_vouch_and_sigstore_python() {
    let fresh = jiff::Timestamp::now().to_string();
    let mut e = Estate::recent("reviews-vsa-keyless", &["a.tar.gz", "b.tar.gz"]);
    let sigstore = e.sigstore.take().unwrap();
    let trust_config = e.write("trust_config.json", &sigstore.client_trust_config().unwrap().to_string());
    let server = testkit::signing::SigningServer::start(sigstore);
    let reviewer = GitLab { project: "acme/review".into(), ..GitLab::default() };
    let token = e.write("token.jwt", &testkit::signing::oidc_token(testkit::signing::gitlab_claims(&reviewer)));
    let manifest = e.path("vouch.yaml");
    let dir = e.dir.join("vsa");
    let vsa = dir.display().to_string();
    let r = run(&[
        "check",
        &manifest,
        "--effective-time",
        fresh.as_str(),
        "--vsa",
        &vsa,
        "--vsa-keyless",
        "--vsa-identity-token",
        &token,
        "--vsa-fulcio-url",
        &server.url,
        "--vsa-rekor-url",
        &server.url,
    ]);
    r.assert_code(0);
    r.assert_stderr_contains("wrote 2 verification summaries");
    assert_eq!(server.issued.lock().unwrap().iter().filter(|l| l.starts_with("/api/v2/signingCert 201")).count(), 2);

    // sigstore-python verifies each as what it is: a DSSE bundle over the blob, signed by the reviewer.
    for blob in ["a.tar.gz", "b.tar.gz"] {
        let (ok, out) = common::sigstore_python_verify(
            Path::new(&trust_config),
            &summary_of(&dir, blob, &e),
            &e.dir.join("dist").join(blob),
            &reviewer.san(),
            "https://gitlab.com",
        );
        assert!(ok, "sigstore-python: {out}");
        // And by vouch itself, as any DSSE bundle over the blob.
        let root = e.path("trusted_root.json");
        let standalone = run(&[
            "verify-blob",
            &e.dir.join("dist").join(blob).display().to_string(),
            "--bundle",
            &summary_of(&dir, blob, &e).display().to_string(),
            "--trusted-root",
            &root,
            "--certificate-identity",
            &reviewer.san(),
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ]);
        standalone.assert_code(0);
        assert_eq!(standalone.subject()["signers"][0]["predicate_type"], "https://slsa.dev/verification_summary/v1");
    }

    // vouch reuses them from the accepted identity only.
    let reuse = |identity: &str| {
        run(&[
            "check",
            &manifest,
            "--effective-time",
            fresh.as_str(),
            "--reuse-vsa",
            &vsa,
            "--vsa-signer",
            identity,
            "--vsa-signer-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ])
    };
    let ok = reuse(&reviewer.san());
    ok.assert_code(0);
    let report = ok.json();
    let a = subject(&report, "a.tar.gz");
    assert_eq!(a["summary"]["used"], true, "{a}");
    assert_eq!(a["summary"]["signer"], reviewer.san());
    let other = GitLab { project: "acme/app".into(), ..GitLab::default() }.san();
    let report = reuse(&other).json();
    let a = subject(&report, "a.tar.gz");
    assert_eq!(a["summary"]["used"], false);
    assert!(a["summary"]["rejected"].as_str().unwrap().contains("accepted signer"), "{a}");

    // An expired token is refused before anything is judged.
    let expired = e.write(
        "expired.jwt",
        &testkit::signing::oidc_token(serde_json::json!({"iss": "https://gitlab.com", "sub": "x", "exp": 1_700_000_000})),
    );
    let r = run(&[
        "check",
        &manifest,
        "--vsa",
        &vsa,
        "--vsa-keyless",
        "--vsa-identity-token",
        &expired,
        "--vsa-fulcio-url",
        &server.url,
        "--vsa-rekor-url",
        &server.url,
    ]);
    r.assert_code(2);
    r.assert_stderr_contains("expired");
    // Fulcio unreachable: the verdicts are reported, the summaries are not signed: exit 3.
    let nowhere = format!("http://127.0.0.1:{}", common::free_port());
    let r = run(&[
        "check",
        &manifest,
        "--effective-time",
        fresh.as_str(),
        "--vsa",
        &vsa,
        "--vsa-keyless",
        "--vsa-identity-token",
        &token,
        "--vsa-fulcio-url",
        &nowhere,
        "--vsa-rekor-url",
        &nowhere,
    ]);
    r.assert_code(3);
    r.assert_stderr_contains("vsa::sign");
    assert!(r.stdout.contains("PASS"), "{}", r.stdout);
}

#[test]
fn the_html_report_is_one_self_contained_page_that_renders_without_errors() {
    let e = Estate::new("reviews-html", &["a.tar.gz", "b.tar.gz", "c.tar.gz"]);
    std::fs::write(e.dir.join("dist/tampered.tar.gz"), "other <b>contents</b>").unwrap();
    std::fs::copy(e.dir.join("dist/a.tar.gz.sigstore.json"), e.dir.join("dist/tampered.tar.gz.sigstore.json")).unwrap();
    let manifest = e.path("vouch.yaml");
    let old = e.path("old.json");
    run(&["check", &manifest, "--effective-time", FRESH, "--output", &format!("json={old}"), "--quiet"]);
    let waivers = e.write(
        "waivers.yaml",
        &format!(
            "waivers:\n{}{}",
            waiver("legacy-a", "      subjects: [\"*dist/a.tar.gz\"]\n", "    expires_on: 2026-06-01\n"),
            waiver("soon-b", "      subjects: [\"*dist/b.tar.gz\"]\n", "    expires_on: 2026-03-03\n")
        ),
    );
    let page = e.dir.join("review.html");
    let r = run(&[
        "check",
        &manifest,
        "--effective-time",
        REVIEW,
        "--waivers",
        &waivers,
        "--previous-report",
        &old,
        "--output",
        &format!("html={}", page.display()),
        "--quiet",
    ]);
    r.assert_code(1);
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: nothing is loaded from anywhere; the one script is allowed by its hash.
    for needle in [" src=", " href=", "<link", "@import", "url("] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    assert!(html.contains("script-src 'sha256-"), "no CSP");
    // Its text, parsed as HTML: every section, every subject, the waivers and the changes.
    let parsed = std::process::Command::new(common::python())
        .arg("-c")
        .arg(
            r#"
import sys, json
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.ids=[]; self.rows=[]; self.text=[]; self.in_tbody=False; self.table=None; self.svgs=0
    def handle_starttag(self, tag, attrs):
        a=dict(attrs)
        if 'id' in a: self.ids.append(a['id'])
        if tag=='table': self.table=a.get('class')
        if tag=='tr' and self.table=='subjects' and 'data-verdict' in a: self.rows.append(a['data-verdict'])
        if tag=='svg': self.svgs+=1
    def handle_data(self, d): self.text.append(d)
p=P(); p.feed(open(sys.argv[1]).read())
print(json.dumps({"ids":p.ids,"rows":p.rows,"svgs":p.svgs,"text":" ".join(p.text)}))
"#,
        )
        .arg(&page)
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    for id in ["summary", "signers", "age", "waivers", "changes", "subjects", "q", "verdict"] {
        assert!(doc["ids"].as_array().unwrap().iter().any(|i| i == id), "no #{id}: {doc}");
    }
    assert_eq!(doc["rows"].as_array().unwrap().len(), 4);
    assert!(doc["svgs"].as_u64().unwrap() >= 2);
    let text = doc["text"].as_str().unwrap();
    for needle in [
        "legacy-a",
        "soon-b",
        "release-team@acme.example",
        "waived:",
        "Signed too long ago",
        "re-sign or rebuild",
        "new finding",
        "tampered.tar.gz",
        "acme/app",
    ] {
        assert!(text.contains(needle), "{needle:?} not in the page's text");
    }
    assert!(!html.contains("<b>contents</b>"), "a file's contents or name must never become markup");

    // In a browser: the script ran under the page's CSP, and nothing was logged as an error.
    let (dom, log) = common::chromium_render(&page, None);
    assert!(dom.contains("data-ready=\"1\""), "the page's script did not run:\n{log}");
    for bad in ["Uncaught", "Refused to", "ERROR:CONSOLE", "\"Error"] {
        assert!(!log.contains(bad), "{bad} in the browser's log:\n{log}");
    }
    // Screenshots, wide and phone-sized (scripts/review-screenshot puts one in the docs).
    for (name, width) in [("review.png", 1280), ("review-phone.png", 390)] {
        let png = e.dir.join(name);
        common::chromium_render(&page, Some((&png, width)));
        let bytes = std::fs::read(&png).unwrap_or_else(|_| panic!("no screenshot {name}"));
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{name}: {} bytes", bytes.len());
        // scripts/review-screenshot: the docs' pictures are this test's.
        if let Some(dir) = std::env::var_os("VOUCH_SCREENSHOT_DIR") {
            std::fs::write(Path::new(&dir).join(name), &bytes).unwrap();
        }
    }
    // A previous report that is not one, or that no output would show: exit 2 before
    // anything is judged.
    run(&["check", &manifest, "--previous-report", &waivers, "--format", "html"]).assert_code(2);
    run(&["check", &manifest, "--previous-report", &old, "--format", "json"]).assert_code(2).assert_stderr_contains("HTML report");
}

#[test]
fn waiver_files_validate_against_their_published_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let e = Estate::new("reviews-waiver-schema", &[]);
    let ours = e.write("waivers.yaml", &format!("waivers:\n{}", waiver("w", "      subjects: [\"*\"]\n", "    expires_on: 2026-06-01\n")));
    let bad = e.write("bad.yaml", &format!("waivers:\n{}", waiver("w", "      subjects: [\"*\"]\n", "")));
    // YAML 1.2 as vouch reads it: an unquoted date is a string (PyYAML's BaseLoader; its
    // safe loader would make it a date, YAML 1.1's timestamp).
    let validate = |file: &str| {
        std::process::Command::new(common::python())
            .arg("-c")
            .arg("import sys, json, yaml, jsonschema\njsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(yaml.load(open(sys.argv[2]), Loader=yaml.BaseLoader))\n")
            .arg(root.join("docs/waivers.schema.json"))
            .arg(file)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(validate(&ours));
    assert!(validate(&root.join("examples/gitlab-scheduled-review/review/waivers.yaml").display().to_string()));
    assert!(!validate(&bad), "a waiver without expires_on must not validate");
}
