//! cosign's flags where vouch takes them: the five `--certificate-github-workflow-*`
//! checks against the certificate's extensions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

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
