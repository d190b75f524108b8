//! Registry faults behind a fault-injecting proxy in front of the real registry: each ends
//! in a clear error for the subject, exit 3 when nothing could be judged, no hang, no pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::time::{Duration, Instant};

use testkit::registry::{block_on, Registry};
use testkit::{GitLab, VirtualSigstore};
mod common;
use common::{run, scratch, Fault, FaultProxy, TestRegistry};

#[test]
fn faults_never_pass_and_never_hang() {
    let registry = TestRegistry::start("faults");
    let mut sigstore = VirtualSigstore::new().unwrap();
    let dir = scratch("faults");
    let root = dir.join("trusted_root.json");
    std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let reg = Registry::new(&registry.host);
    let img = block_on(reg.push_image("acme/app", "1.0", "faults")).unwrap().unwrap();
    let layer = sigstore.sign_image(&format!("{}/acme/app", registry.host), &img.bytes, GitLab::default().identity(), None).unwrap();
    block_on(reg.push_cosign_layer("acme/app", &img.digest, &layer)).unwrap().unwrap();
    let san = GitLab::default().san();
    let root = root.display().to_string();
    let verify = |host: &str| {
        let reference = format!("{host}/acme/app@{}", img.digest);
        let started = Instant::now();
        let r = run(&[
            "verify-image",
            &reference,
            "--trusted-root",
            &root,
            "--certificate-identity",
            &san,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--registry-timeout",
            "2",
        ]);
        (r, started.elapsed())
    };
    // Through a well-behaved path it verifies (the control).
    verify(&registry.host).0.assert_code(0);

    // Stalls past the timeout: retried, then exit 3, in bounded time.
    let proxy = FaultProxy::start(&registry.host, Fault::Stall);
    let (r, took) = verify(&proxy.host);
    r.assert_code(3).assert_stderr_contains("vouch::registry::unreachable").assert_stderr_contains("timed out");
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // Connections closed without an answer.
    let proxy = FaultProxy::start(&registry.host, Fault::Reset);
    verify(&proxy.host).0.assert_code(3).assert_stderr_contains("vouch::registry::unreachable");

    // Bodies cut short.
    let proxy = FaultProxy::start(&registry.host, Fault::Truncate);
    verify(&proxy.host).0.assert_code(3).assert_stderr_contains("vouch::registry::");

    // Blobs whose content does not match their digest: the evidence is refused, not
    // retried into a pass.
    let proxy = FaultProxy::start(&registry.host, Fault::CorruptBlobs);
    verify(&proxy.host).0.assert_code(1).assert_stderr_contains("vouch::registry::invalid").assert_stderr_contains("hashes to");

    // In a batch, a faulty registry is one subject's error; the others are judged.
    let proxy = FaultProxy::start(&registry.host, Fault::Stall);
    let blob = dir.join("blob.txt");
    std::fs::write(&blob, "blob").unwrap();
    let minted = sigstore.sign(testkit::SignRequest::message("blob", GitLab::default().identity())).unwrap();
    std::fs::write(dir.join("blob.txt.sigstore.json"), minted.json()).unwrap();
    let r = run(&[
        "check",
        "--blob",
        &blob.display().to_string(),
        "--image",
        &format!("{}/acme/app@{}", proxy.host, img.digest),
        "--trusted-root",
        &root,
        "--certificate-identity",
        &san,
        "--certificate-oidc-issuer",
        "https://gitlab.com",
        "--registry-timeout",
        "2",
    ]);
    r.assert_code(1);
    assert!(r.stdout.contains("2 subjects: 1 passed, 0 failed, 1 not judged"), "{}", r.stdout);
}
