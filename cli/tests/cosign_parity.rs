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

/// The file's digest by coreutils (`sha256sum`, `sha384sum`, `sha512sum`): an
/// independent implementation.
fn hex_digest(tool: &str, path: &Path) -> String {
    let out = std::process::Command::new(tool).arg(path).output().unwrap_or_else(|e| panic!("{tool} (coreutils): {e}"));
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn sha384_and_sha512_digests_are_digests_not_file_names() {
    let shared = common::shared_dir();
    let (tgz, provenance) = (
        shared.join("real-bundles/github-npm/sigstore-3.1.0.tgz"),
        shared.join("real-bundles/github-npm/sigstore-3.1.0.provenance.sigstore.json").display().to_string(),
    );
    let npm = |digest: &str| {
        run(&[
            "verify-blob",
            digest,
            "--bundle",
            &provenance,
            "--certificate-identity",
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--format",
            "json",
        ])
    };
    // npm provenance names the tarball by sha512: its sha512 is enough.
    let sha512 = hex_digest("sha512sum", &tgz);
    let r = npm(&format!("sha512:{sha512}"));
    r.assert_code(0);
    let subject = r.subject();
    assert_eq!(subject["name"], format!("sha512:{sha512}"));
    assert_eq!(subject["sha512"], sha512.as_str());
    assert!(subject.get("sha256").is_none(), "{subject}");
    // Its sha256 is not: the statement does not name it, and the user is told what would do.
    let r = npm(&format!("sha256:{}", hex_digest("sha256sum", &tgz)));
    r.assert_code(1).assert_stderr_contains("vouch::verify::artifact").assert_stderr_contains("pass the file or its sha512: digest");
    // A wrong sha512 is a mismatch, not a pass.
    npm(&format!("sha512:{}", "0".repeat(128))).assert_code(1).assert_stderr_contains("vouch::verify::artifact");

    // A message signature's log entry records the sha256: a sha384:/sha512: digest of the
    // right file cannot stand in for it, and says so.
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let artifact = quickstart.join("artifact-00001.txt");
    let (bundle, root) = (quickstart.join("artifact-00001.txt.sigstore.json"), quickstart.join("trusted_root.json"));
    let message = |digest: &str| {
        run(&[
            "verify-blob",
            digest,
            "--bundle",
            &bundle.display().to_string(),
            "--trusted-root",
            &root.display().to_string(),
            "--certificate-identity",
            "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
        ])
    };
    message(&format!("sha256:{}", hex_digest("sha256sum", &artifact))).assert_code(0);
    for digest in [format!("sha384:{}", hex_digest("sha384sum", &artifact)), format!("sha512:{}", hex_digest("sha512sum", &artifact))] {
        message(&digest)
            .assert_code(1)
            .assert_stderr_contains("vouch::verify::artifact")
            .assert_stderr_contains("pass the file, or the digest the bundle records");
    }
    // The wrong length for its algorithm is a usage error, never a file name.
    message(&format!("sha384:{}", hex_digest("sha256sum", &artifact))).assert_code(2).assert_stderr_contains("vouch::usage::digest");

    // In a manifest, a digest subject may carry a name: reports and the policy show it.
    let dir = scratch("cosign-digest-name");
    let manifest = dir.join("vouch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "version: 1\nidentities:\n  - issuer: https://token.actions.githubusercontent.com\n    subject: https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main\nsubjects:\n  - digest: sha512:{sha512}\n    name: sigstore-3.1.0.tgz\n    bundle: {provenance}\n"
        ),
    )
    .unwrap();
    let r = run(&["check", &manifest.display().to_string(), "--format", "json"]);
    r.assert_code(0);
    let report = r.json();
    assert_eq!(report["subjects"][0]["name"], "sigstore-3.1.0.tgz");
    assert_eq!(report["subjects"][0]["sha512"], sha512.as_str());
    // A name on a blob is refused: a blob is named by its path.
    std::fs::write(
        &manifest,
        "version: 1\nidentities:\n  - issuer: https://gitlab.com\n    subject: x\nsubjects:\n  - blob: a.txt\n    name: other\n",
    )
    .unwrap();
    run(&["check", &manifest.display().to_string()]).assert_code(2).assert_stderr_contains("only a digest subject takes a name");
}
