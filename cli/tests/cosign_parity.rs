//! cosign's flags where vouch takes them: the five `--certificate-github-workflow-*`
//! checks against the certificate's extensions, and `-` for the artifact on stdin.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::Path;

use testkit::{GitHub, SignRequest, VirtualSigstore, GITHUB_ISSUER};

mod common;
use common::{run, scratch};

#[test]
fn github_workflow_flags_check_the_certificate() {
    let dir = scratch("cosign-gh");
    let mut sigstore = VirtualSigstore::new().unwrap();
    let root = dir.join("trusted_root.json");
    std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let gh = GitHub::default();
    let minted = sigstore.sign(SignRequest::message("release", gh.identity())).unwrap();
    let (artifact, bundle) = (dir.join("release.txt"), dir.join("release.txt.sigstore.json"));
    std::fs::write(&artifact, "release").unwrap();
    std::fs::write(&bundle, minted.json()).unwrap();
    let (artifact, bundle, root, san) =
        (artifact.display().to_string(), bundle.display().to_string(), root.display().to_string(), gh.san());
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify-blob",
            &artifact,
            "--bundle",
            &bundle,
            "--trusted-root",
            &root,
            "--certificate-identity",
            &san,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
        ];
        args.extend(extra);
        run(&args)
    };
    verify(&[
        "--certificate-github-workflow-trigger",
        "push",
        "--certificate-github-workflow-sha",
        &gh.sha,
        "--certificate-github-workflow-repository",
        "org/app",
        "--certificate-github-workflow-ref",
        "refs/heads/main",
    ])
    .assert_code(0);
    for (flag, wrong) in [
        ("--certificate-github-workflow-trigger", "pull_request_target"),
        ("--certificate-github-workflow-sha", "0000000000000000000000000000000000000000"),
        ("--certificate-github-workflow-repository", "org/app-fork"),
        ("--certificate-github-workflow-ref", "refs/heads/feature"),
        // The minted certificate carries no workflow name (.4): nothing to match is a mismatch.
        ("--certificate-github-workflow-name", "release"),
    ] {
        verify(&[flag, wrong]).assert_code(1).assert_stderr_contains("vouch::verify::identity").assert_stderr_contains(flag);
    }
    // They refine a keyless identity; alone, or with --key, they are a usage error.
    run(&["verify-blob", &artifact, "--bundle", &bundle, "--trusted-root", &root, "--certificate-github-workflow-ref", "refs/heads/main"])
        .assert_code(2)
        .assert_stderr_contains("vouch::usage::identity");
}

#[test]
fn the_artifact_may_come_on_stdin() {
    use std::io::Write as _;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let (bundle, root) = (dir.join("artifact-00001.txt.sigstore.json"), dir.join("trusted_root.json"));
    let verify = |stdin: &[u8]| {
        let mut child = std::process::Command::new(common::vouch_bin())
            .args(["verify-blob", "-", "--bundle", &bundle.display().to_string(), "--trusted-root", &root.display().to_string()])
            .args([
                "--certificate-identity",
                "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main",
                "--certificate-oidc-issuer",
                "https://gitlab.com",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = verify(&std::fs::read(dir.join("artifact-00001.txt")).unwrap());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("the artifact is stdin"), "{err}");
    let (code, err) = verify(b"something else");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("vouch::verify::artifact"), "{err}");
}
