//! `vouch verify-blob` and `vouch claims` on real bundles: what the user sees on
//! success, on each kind of rejection, and on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
mod common;
use common::{run, scratch, shared_dir};

const GITLAB_ID: &str = "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main";
const BEACON_ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GHA: &str = "https://token.actions.githubusercontent.com";

fn p(rel: &str) -> String {
    shared_dir().join(rel).display().to_string()
}

fn gitlab_bundle() -> String {
    p("real-bundles/gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.sigstore.json")
}

fn gitlab_artifact() -> String {
    p("real-bundles/gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz")
}

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(dir: &std::path::Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

#[test]
fn claims_of_the_real_gitlab_bundle() {
    let r = run(&["claims", "--bundle", &gitlab_bundle(), &gitlab_artifact()]);
    r.assert_code(0);
    let c = r.json();
    assert_eq!(c["issuer"], "https://gitlab.com");
    assert_eq!(c["platform"], "gitlab");
    assert_eq!(c["identity"], json!({"type": "uri", "value": GITLAB_ID}));
    let g = &c["gitlab"];
    assert_eq!(g["instance"], "https://gitlab.com");
    assert_eq!(g["project_path"], "facutuesca/gitlab-oidc-project");
    assert_eq!(g["namespace"], "facutuesca");
    assert_eq!(g["project_id"], "55235664");
    assert_eq!(g["namespace_id"], "12885801");
    assert_eq!(g["ref"], "refs/heads/main");
    assert_eq!(g["ref_type"], "branch");
    assert_eq!(g["ref_name"], "main");
    assert_eq!(g["ci_config_project_path"], "facutuesca/gitlab-oidc-project");
    assert_eq!(g["ci_config_path"], ".gitlab-ci.yml");
    assert_eq!(g["ci_config_ref"], "refs/heads/main");
    assert_eq!(c["runner_environment"], "gitlab-hosted");
    assert_eq!(c["source_repository_identifier"], "55235664");
    assert_eq!(c["source_repository_digest"], "72f7c63b75eb55ea80864962f0e645c93414da34");
    assert_eq!(c["source_repository_visibility_at_signing"], "private");
    assert_eq!(c["extensions"]["1.3.6.1.4.1.57264.1.15"], "55235664");
    assert_eq!(c["tlog"]["kind"], "dsse");
    assert_eq!(c["tlog"]["log_index"], 149945774);
    assert_eq!(c["tlog"]["integrated_time"], "2024-11-19T17:37:00Z");
    assert_eq!(c["signed_at"], "2024-11-19T17:37:00Z");
    assert_eq!(c["certificate"]["not_before"], "2024-11-19T17:36:59Z");
}

#[test]
fn claims_without_the_artifact_use_the_bundles_own_digest() {
    let r = run(&["claims", "--bundle", &gitlab_bundle()]);
    r.assert_code(0).assert_stderr_contains("no artifact given");
    assert_eq!(r.json()["gitlab"]["project_path"], "facutuesca/gitlab-oidc-project");
}

#[test]
fn github_claims_split_source_and_workflow() {
    let r = run(&[
        "claims",
        "--bundle",
        &p("real-bundles/github-npm/sigstore-3.1.0.provenance.sigstore.json"),
        &p("real-bundles/github-npm/sigstore-3.1.0.tgz"),
    ]);
    r.assert_code(0);
    let g = &r.json()["github"];
    assert_eq!(g["repository"], "sigstore/sigstore-js");
    assert_eq!(g["owner"], "sigstore");
    assert_eq!(g["workflow_repository"], "sigstore/sigstore-js");
    assert_eq!(g["workflow_path"], ".github/workflows/release.yml");
    assert_eq!(g["workflow_ref"], "refs/heads/main");
    assert_eq!(g["ref_type"], "branch");
}

#[test]
fn verified_json_output_carries_subject_and_claims() {
    let r = run(&[
        "verify-blob",
        &gitlab_artifact(),
        "--bundle",
        &gitlab_bundle(),
        "--certificate-identity",
        GITLAB_ID,
        "--certificate-oidc-issuer",
        "https://gitlab.com",
        "--format",
        "json",
    ]);
    r.assert_code(0);
    let doc = r.subject();
    assert_eq!(doc["verified"], true);
    assert_eq!(doc["kind"], "blob");
    assert_eq!(doc["signatures"][0]["kind"], "dsse");
    assert_eq!(doc["signatures"][0]["predicate_type"], "https://docs.pypi.org/attestations/publish/v1");
    assert_eq!(doc["signatures"][0]["claims"]["gitlab"]["project_path"], "facutuesca/gitlab-oidc-project");
}

#[test]
fn identity_regexp_is_anchored() {
    let base = ["verify-blob", &gitlab_artifact(), "--bundle", &gitlab_bundle(), "--certificate-oidc-issuer", "https://gitlab.com"];
    let with = |re: &str| {
        let mut args = base.to_vec();
        args.extend(["--certificate-identity-regexp", re]);
        run(&args)
    };
    with(r"https://gitlab\.com/facutuesca/.*//\.gitlab-ci\.yml@refs/heads/main").assert_code(0);
    // Unanchored, this would match (cosign's behaviour): vouch requires the whole value.
    with("facutuesca/gitlab-oidc-project")
        .assert_code(1)
        .assert_stderr_contains("vouch::verify::identity")
        .assert_stderr_contains(GITLAB_ID);
    with(r"https://gitlab\.com/facutuesca/.*").assert_code(0);
    with(r"https://gitlab\.com/acme/.*").assert_code(1);
}

#[test]
fn identity_mismatch_says_what_was_expected_and_seen() {
    let r = run(&[
        "verify-blob",
        &gitlab_artifact(),
        "--bundle",
        &gitlab_bundle(),
        "--certificate-identity",
        "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
    ]);
    r.assert_code(1)
        .assert_stderr_contains("identity mismatch: expected \"https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main\"")
        .assert_stderr_contains(&format!("certificate has \"{GITLAB_ID}\""));
    let r = run(&[
        "verify-blob",
        &gitlab_artifact(),
        "--bundle",
        &gitlab_bundle(),
        "--certificate-identity",
        GITLAB_ID,
        "--certificate-oidc-issuer-regexp",
        "https://gitlab\\.example\\.com",
    ]);
    r.assert_code(1).assert_stderr_contains("vouch::verify::issuer").assert_stderr_contains("certificate has \"https://gitlab.com\"");
}

/// Build what `cosign sign-blob --bundle` writes from a real v0.1 bundle: the same
/// certificate, signature and log entry with its SET.
fn cosign_legacy_from_v01(v01: &Value) -> Value {
    let vm = &v01["verificationMaterial"];
    let cert_der = STANDARD.decode(vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str().unwrap()).unwrap();
    let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", STANDARD.encode(cert_der));
    let entry = &vm["tlogEntries"][0];
    let log_id = STANDARD.decode(entry["logId"]["keyId"].as_str().unwrap()).unwrap();
    let hex: String = log_id.iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "base64Signature": v01["messageSignature"]["signature"],
        "cert": STANDARD.encode(pem),
        "rekorBundle": {
            "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {
                "body": entry["canonicalizedBody"],
                "integratedTime": entry["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
                "logIndex": entry["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
                "logID": hex,
            }
        }
    })
}

#[test]
fn cosign_legacy_bundles_verify_with_the_same_strength() {
    let dir = scratch("cosign-legacy");
    let v01 = read_json(&p("conformance-assets/bundle-verify/happy-path-v0.1/bundle.sigstore.json"));
    let legacy = cosign_legacy_from_v01(&v01);
    let artifact = p("conformance-assets/a.txt");
    let verify = |bundle: &Value, name: &str| {
        let path = write(&dir, name, serde_json::to_vec(bundle).unwrap());
        run(&[
            "verify-blob",
            &artifact,
            "--bundle",
            &path,
            "--certificate-identity",
            BEACON_ID,
            "--certificate-oidc-issuer",
            GHA,
            "--format",
            "json",
        ])
    };
    let ok = verify(&legacy, "ok.bundle");
    ok.assert_code(0);
    assert_eq!(ok.subject()["signatures"][0]["bundle_format"], "cosign-legacy");

    let mut tampered = legacy.clone();
    tampered["rekorBundle"]["Payload"]["integratedTime"] = json!(legacy["rekorBundle"]["Payload"]["integratedTime"].as_i64().unwrap() + 1);
    verify(&tampered, "time.bundle").assert_code(1).assert_stderr_contains("vouch::verify::tlog");

    let mut tampered = legacy.clone();
    tampered["rekorBundle"]["Payload"]["logIndex"] = json!(1);
    verify(&tampered, "index.bundle").assert_code(1).assert_stderr_contains("vouch::verify::tlog");

    let mut no_log = legacy.clone();
    no_log.as_object_mut().unwrap().remove("rekorBundle");
    verify(&no_log, "nolog.bundle").assert_code(1).assert_stderr_contains("vouch::bundle::cosign");

    // A signature from another bundle next to this certificate and SET.
    let other = read_json(&p("conformance-assets/bundle-verify/signature-mismatch_fail/bundle.sigstore.json"));
    let mut foreign = legacy.clone();
    foreign["base64Signature"] = other["messageSignature"]["signature"].clone();
    verify(&foreign, "foreign.bundle").assert_code(1);

    let wrong = run(&[
        "verify-blob",
        &artifact,
        "--bundle",
        &write(&dir, "ok2.bundle", serde_json::to_vec(&legacy).unwrap()),
        "--certificate-identity",
        GITLAB_ID,
        "--certificate-oidc-issuer",
        GHA,
    ]);
    wrong.assert_code(1).assert_stderr_contains("identity mismatch");
}

#[test]
fn rewritten_media_type_cannot_downgrade_checks() {
    let dir = scratch("media-type");
    let artifact = p("conformance-assets/a.txt");
    let v03 = read_json(&p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"));
    let verify = |bundle: &Value, name: &str| {
        let path = write(&dir, name, serde_json::to_vec(bundle).unwrap());
        run(&["verify-blob", &artifact, "--bundle", &path, "--certificate-identity", BEACON_ID, "--certificate-oidc-issuer", GHA])
    };
    // v0.3 without its inclusion proof: rejected.
    let mut no_proof = v03.clone();
    no_proof["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap().remove("inclusionProof");
    verify(&no_proof, "noproof.json").assert_code(1);
    // ...and relabelled v0.1 (which may lack a proof): the v0.3 material gives it away.
    let mut relabelled = no_proof.clone();
    relabelled["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    verify(&relabelled, "relabelled.json").assert_code(1).assert_stderr_contains("vouch::bundle::inconsistent");
    let mut relabelled = no_proof;
    relabelled["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    verify(&relabelled, "relabelled2.json").assert_code(1);
}

#[test]
fn checkpoint_must_be_signed_by_the_log_the_entry_names() {
    let dir = scratch("log-id");
    let artifact = p("conformance-assets/a.txt");
    let mut v03 = read_json(&p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"));
    // Another trusted production log's ID: the SET then fails, and the checkpoint is
    // not signed by that log either.
    let entry = &mut v03["verificationMaterial"]["tlogEntries"][0];
    entry["logId"]["keyId"] = json!(STANDARD.encode([0x11u8; 32]));
    let path = write(&dir, "bundle.json", serde_json::to_vec(&v03).unwrap());
    run(&["verify-blob", &artifact, "--bundle", &path, "--certificate-identity", BEACON_ID, "--certificate-oidc-issuer", GHA])
        .assert_code(1)
        .assert_stderr_contains("vouch::verify::tlog");

    // Without the SET, only the checkpoint could bind the log ID: naming the other
    // trusted production log (log2025-1) must be caught by vouch's own check.
    let mut v03 = read_json(&p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"));
    let entry = v03["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap();
    entry.remove("inclusionPromise");
    entry.insert("logId".into(), json!({"keyId": "zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A="}));
    let path = write(&dir, "other-log.json", serde_json::to_vec(&v03).unwrap());
    run(&["verify-blob", &artifact, "--bundle", &path, "--certificate-identity", BEACON_ID, "--certificate-oidc-issuer", GHA])
        .assert_code(1)
        .assert_stderr_contains("the checkpoint is not signed by log cf119915");
}

#[test]
fn bad_input_gets_a_diagnostic_with_code_and_hint() {
    let dir = scratch("bad-input");
    let artifact = p("conformance-assets/a.txt");
    let good = std::fs::read_to_string(p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json")).unwrap();
    let truncated = write(&dir, "truncated.json", &good[..good.len() / 2]);
    let not_json = write(&dir, "notjson.json", "this is not json");
    let not_bundle = write(&dir, "array.json", "[1,2,3]");
    let id = ["--certificate-identity", BEACON_ID, "--certificate-oidc-issuer", GHA];
    let verify = |bundle: &str, extra: &[&str]| {
        let mut args = vec!["verify-blob", artifact.as_str(), "--bundle", bundle];
        args.extend(id);
        args.extend(extra);
        run(&args)
    };
    for (bundle, code) in [(&truncated, "vouch::bundle::json"), (&not_json, "vouch::bundle::json"), (&not_bundle, "vouch::bundle::format")]
    {
        verify(bundle, &[]).assert_code(1).assert_stderr_contains(code).assert_stderr_contains("help:");
    }
    verify(&dir.join("missing.json").display().to_string(), &[]).assert_code(2).assert_stderr_contains("vouch::io");
    let bad_root = write(&dir, "root.json", "{not json");
    verify(&p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"), &["--trusted-root", &bad_root])
        .assert_code(2)
        .assert_stderr_contains("vouch::trust::root");
    let wrong_root = write(&dir, "root2.json", r#"{"mediaType": "something else"}"#);
    verify(&p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json"), &["--trusted-root", &wrong_root]).assert_code(2);

    let bundle = p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    run(&["verify-blob", &artifact, "--bundle", &bundle, "--certificate-identity", "", "--certificate-oidc-issuer", GHA])
        .assert_code(2)
        .assert_stderr_contains("vouch::usage::identity");
    run(&["verify-blob", &artifact, "--bundle", &bundle, "--certificate-identity", BEACON_ID])
        .assert_code(2)
        .assert_stderr_contains("missing --certificate-oidc-issuer");
    run(&["verify-blob", &artifact, "--bundle", &bundle, "--certificate-identity-regexp", "(unclosed", "--certificate-oidc-issuer", GHA])
        .assert_code(2)
        .assert_stderr_contains("not a valid regular expression");
    run(&["verify-blob", "sha256:1234", "--bundle", &bundle, "--certificate-identity", BEACON_ID, "--certificate-oidc-issuer", GHA])
        .assert_code(2)
        .assert_stderr_contains("vouch::usage::digest");
    run(&[
        "verify-blob",
        &dir.join("nope.txt").display().to_string(),
        "--bundle",
        &bundle,
        "--certificate-identity",
        BEACON_ID,
        "--certificate-oidc-issuer",
        GHA,
    ])
    .assert_code(2)
    .assert_stderr_contains("vouch::io");
    let bad_key = write(&dir, "key.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    run(&["verify-blob", &artifact, "--bundle", &bundle, "--key", &bad_key]).assert_code(2).assert_stderr_contains("vouch::trust::key");
}

#[test]
fn key_and_certificate_modes_do_not_mix() {
    let bundle = p("conformance-assets/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    let key = p("real-bundles/github-npm/npm-publish-attestation-key.pub");
    run(&["verify-blob", &p("conformance-assets/a.txt"), "--bundle", &bundle, "--key", &key])
        .assert_code(1)
        .assert_stderr_contains("signed with a certificate");
    let npm = p("real-bundles/github-npm/sigstore-1.3.0.publish.sigstore.json");
    run(&[
        "verify-blob",
        &p("real-bundles/github-npm/sigstore-1.3.0.tgz"),
        "--bundle",
        &npm,
        "--certificate-identity",
        BEACON_ID,
        "--certificate-oidc-issuer",
        GHA,
    ])
    .assert_code(1)
    .assert_stderr_contains("verify it with --key");
}

#[test]
fn staging_flag_uses_the_embedded_staging_root() {
    let args = |extra: &[&str]| {
        let mut a = vec![
            "verify-blob".to_string(),
            p("real-bundles/github-pypi/rfc8785-0.1.2-py3-none-any.whl"),
            "--bundle".into(),
            p("real-bundles/github-pypi/rfc8785-0.1.2-py3-none-any.whl.sigstore"),
            "--certificate-identity".into(),
            "william@yossarian.net".into(),
            "--certificate-oidc-issuer".into(),
            "https://github.com/login/oauth".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run_args = |a: Vec<String>| run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    run_args(args(&["--staging"])).assert_code(0);
    run_args(args(&[])).assert_code(1);
    run_args(args(&["--staging", "--trusted-root", "x.json"])).assert_code(2);
}
