//! The private test Sigstore: everything it mints verifies with vouch under its own
//! trusted root and is rejected under the production root; every broken-evidence knob
//! is rejected with its own reason; and sigstore-python, an independent verifier,
//! agrees on both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use testkit::{Break, CertIdentity, Content, ExtValue, Format, GitHub, GitLab, Minted, San, SignRequest, VirtualSigstore};
mod common;
use common::{run, scratch, sigstore_python_verify, Run};

struct Instance {
    sigstore: VirtualSigstore,
    dir: PathBuf,
    root: String,
    trust_config: PathBuf,
    n: usize,
}

struct Written {
    artifact: String,
    bundle: String,
    identity: String,
    issuer: String,
}

impl Instance {
    fn new(name: &str) -> Self {
        let sigstore = VirtualSigstore::new().expect("test sigstore");
        let dir = scratch(name);
        let root = dir.join("trusted_root.json");
        std::fs::write(&root, serde_json::to_vec_pretty(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        let trust_config = dir.join("trust_config.json");
        std::fs::write(&trust_config, serde_json::to_vec_pretty(&sigstore.client_trust_config().unwrap()).unwrap()).unwrap();
        Instance { sigstore, dir, root: root.display().to_string(), trust_config, n: 0 }
    }

    fn mint(&mut self, request: SignRequest) -> Written {
        self.n += 1;
        let artifact = self.dir.join(format!("artifact-{}.txt", self.n));
        std::fs::write(&artifact, &request.artifact).unwrap();
        let minted: Minted = self.sigstore.sign(request).expect("mint");
        let bundle = self.dir.join(format!("artifact-{}.bundle.json", self.n));
        std::fs::write(&bundle, minted.json()).unwrap();
        Written {
            artifact: artifact.display().to_string(),
            bundle: bundle.display().to_string(),
            identity: minted.identity,
            issuer: minted.issuer,
        }
    }

    fn verify(&self, w: &Written, root: Option<&str>) -> Run {
        let mut args = vec![
            "verify-blob",
            &w.artifact,
            "--bundle",
            &w.bundle,
            "--certificate-identity",
            &w.identity,
            "--certificate-oidc-issuer",
            &w.issuer,
            "--format",
            "json",
        ];
        if let Some(root) = root {
            args.extend(["--trusted-root", root]);
        }
        run(&args)
    }

    fn claims(&self, w: &Written) -> serde_json::Value {
        self.claims_with(w, &[])
    }

    fn claims_with(&self, w: &Written, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["claims", "--bundle", &w.bundle, &w.artifact, "--trusted-root", &self.root];
        args.extend(extra);
        let r = run(&args);
        r.assert_code(0);
        r.json()
    }

    fn python(&self, w: &Written) -> (bool, String) {
        sigstore_python_verify(&self.trust_config, Path::new(&w.bundle), Path::new(&w.artifact), &w.identity, &w.issuer)
    }
}

fn gitlab() -> CertIdentity {
    GitLab::default().identity()
}

fn dsse() -> Content {
    Content::slsa_v1("https://gitlab.com/acme/app/-/runners/1")
}

#[test]
fn everything_minted_verifies_under_its_root_and_not_under_production() {
    let mut inst = Instance::new("testkit-formats");
    let requests = [
        ("v0.3 message", SignRequest::message("hello v0.3", gitlab())),
        ("v0.3 dsse", SignRequest::dsse("hello dsse", gitlab(), dsse())),
        ("v0.3 dsse slsa v0.2", SignRequest::dsse("hello v0.2", gitlab(), Content::gitlab_slsa_v02(&GitLab::default()))),
        ("v0.1 message", SignRequest::message("hello v0.1", gitlab()).format(Format::V01)),
        ("v0.1 dsse", SignRequest::dsse("hello v0.1 dsse", gitlab(), dsse()).format(Format::V01)),
        ("cosign legacy", SignRequest::message("hello cosign", gitlab()).format(Format::CosignLegacy)),
        ("github", SignRequest::message("hello github", GitHub::default().identity())),
        ("email", SignRequest::message("hello email", CertIdentity::email("dev@example.com", "https://accounts.google.com"))),
    ];
    for (what, request) in requests {
        let w = inst.mint(request);
        let ok = inst.verify(&w, Some(&inst.root));
        assert_eq!(ok.code, 0, "{what}: {}", ok.stderr);
        let doc = ok.subject();
        assert_eq!(doc["verified"], true, "{what}");
        let prod = inst.verify(&w, None);
        assert_eq!(prod.code, 1, "{what} verified under the production root: {}", prod.stderr);
        assert!(prod.stderr.contains("vouch::verify::"), "{what}: {}", prod.stderr);
    }
}

#[test]
fn sigstore_python_accepts_what_testkit_mints() {
    let mut inst = Instance::new("testkit-python");
    for (what, request) in [
        ("v0.3 message, GitLab", SignRequest::message("independent message", gitlab())),
        ("v0.3 DSSE, GitLab", SignRequest::dsse("independent dsse", gitlab(), dsse())),
        ("v0.1 message, GitHub", SignRequest::message("independent github", GitHub::default().identity()).format(Format::V01)),
    ] {
        let w = inst.mint(request);
        let (ok, out) = inst.python(&w);
        assert!(ok, "sigstore-python rejected {what}:\n{out}");
        inst.verify(&w, Some(&inst.root)).assert_code(0);
    }
}

/// What vouch says for each knob: the code and a part of the message.
fn expected(defect: Break) -> (&'static str, &'static str) {
    match defect {
        Break::ExpiredCertificate => ("vouch::verify::certificate", "the certificate had expired when it was used"),
        Break::SignedBeforeValidity => ("vouch::verify::certificate", "the certificate was not yet valid when it was used"),
        Break::WrongKey => ("vouch::verify::signature", "signature verification failed"),
        Break::TamperedSet => ("vouch::verify::tlog", "invalid inclusion promise: SET verification failed"),
        Break::WrongInclusionProof => ("vouch::verify::tlog", "invalid inclusion proof"),
        Break::UntrustedCa => ("vouch::verify::certificate", "not issued by a certificate authority of the trusted root"),
        Break::SubjectDigestMismatch => ("vouch::verify::artifact", "does not match"),
        Break::MissingSct => ("vouch::verify::sct", "certificate is missing SCT extension"),
    }
}

#[test]
fn every_broken_evidence_knob_is_rejected_with_its_reason() {
    let mut inst = Instance::new("testkit-knobs");
    for defect in Break::ALL {
        for (what, request) in [
            ("message", SignRequest::message(format!("knob {defect:?}"), gitlab())),
            ("dsse", SignRequest::dsse(format!("knob dsse {defect:?}"), gitlab(), dsse())),
        ] {
            let w = inst.mint(request.defect(defect));
            let r = inst.verify(&w, Some(&inst.root));
            let (code, text) = expected(defect);
            assert_eq!(r.code, 1, "{defect:?} {what} was not rejected:\n{}", r.stdout);
            assert!(
                r.stderr.contains(code) && r.stderr.contains(text),
                "{defect:?} {what}: expected {code} / {text:?}, got:\n{}",
                r.stderr
            );
            assert_eq!(r.subject()["verified"], false);
        }
    }
}

#[test]
fn sigstore_python_rejects_every_knob() {
    let mut inst = Instance::new("testkit-python-knobs");
    for defect in Break::ALL {
        for request in [
            SignRequest::message(format!("py knob {defect:?}"), gitlab()),
            SignRequest::dsse(format!("py knob dsse {defect:?}"), gitlab(), dsse()),
        ] {
            let w = inst.mint(request.defect(defect));
            let (ok, out) = inst.python(&w);
            assert!(!ok, "sigstore-python accepted {defect:?}:\n{out}");
        }
    }
}

#[test]
fn gitlab_claims_from_minted_certificates() {
    let mut inst = Instance::new("testkit-gitlab");
    // A merge request from a fork: the pipeline and its config run in acme/app, the
    // code (project claims) comes from the fork.
    let fork = GitLab {
        source_project: Some("mallory/app-fork".into()),
        git_ref: "refs/merge-requests/7/head".into(),
        pipeline_source: "merge_request_event".into(),
        ..GitLab::default()
    };
    let w = inst.mint(SignRequest::message("fork mr", fork.identity()));
    let c = inst.claims(&w);
    let g = &c["gitlab"];
    assert_eq!(g["ci_config_project_path"], "acme/app");
    assert_eq!(g["project_path"], "mallory/app-fork");
    assert_eq!(g["namespace"], "mallory");
    assert_eq!(g["ref_type"], "other");
    assert_eq!(g["pipeline_source"], "merge_request_event");

    // A self-managed instance, a nested group, a config in a subfolder, a tag.
    let sm = GitLab {
        instance: "https://gitlab.example.com".into(),
        project: "platform/team/app".into(),
        ci_config_path: "ci/release.yml".into(),
        git_ref: "refs/tags/v1.2.3".into(),
        runner_environment: "self-hosted".into(),
        ..GitLab::default()
    };
    let w = inst.mint(SignRequest::message("self-managed", sm.identity()));
    // An instance vouch was not told about gets no CI claims, whatever its SAN says.
    let c = inst.claims(&w);
    assert_eq!(c["issuer"], "https://gitlab.example.com");
    assert!(c.get("platform").is_none() && c.get("gitlab").is_none(), "{c}");
    let c = inst.claims_with(&w, &["--gitlab-instance", "https://gitlab.example.com/"]);
    assert_eq!(c["issuer"], "https://gitlab.example.com");
    assert_eq!(c["platform"], "gitlab");
    let g = &c["gitlab"];
    assert_eq!(g["instance"], "https://gitlab.example.com");
    assert_eq!(g["project_path"], "platform/team/app");
    assert_eq!(g["namespace"], "platform/team");
    assert_eq!(g["ci_config_path"], "ci/release.yml");
    assert_eq!(g["ref_type"], "tag");
    assert_eq!(g["ref_name"], "v1.2.3");
    assert_eq!(c["runner_environment"], "self-hosted");
}

#[test]
fn github_reusable_workflow_claims() {
    let mut inst = Instance::new("testkit-github");
    let gh =
        GitHub { workflow_repository: Some("org/shared-workflows".into()), workflow_ref: Some("refs/tags/v1".into()), ..GitHub::default() };
    let w = inst.mint(SignRequest::message("reusable", gh.identity()));
    let c = inst.claims(&w);
    let g = &c["github"];
    assert_eq!(c["platform"], "github");
    assert_eq!(g["repository"], "org/app");
    assert_eq!(g["owner"], "org");
    assert_eq!(g["workflow_repository"], "org/shared-workflows");
    assert_eq!(g["workflow_path"], ".github/workflows/release.yml");
    assert_eq!(g["workflow_ref"], "refs/tags/v1");
    assert_eq!(g["ref"], "refs/heads/main");
}

#[test]
fn san_kinds_and_malformed_extensions() {
    let mut inst = Instance::new("testkit-san");
    let other =
        CertIdentity { san: San::OtherName("octocat".into()), ..CertIdentity::email("x@example.com", "https://github.com/login/oauth") };
    let w = inst.mint(SignRequest::message("othername", other));
    let c = inst.claims(&w);
    assert_eq!(c["identity"], serde_json::json!({"type": "other_name", "value": "octocat"}));
    inst.verify(&w, Some(&inst.root)).assert_code(0);

    // A certificate the CA signed, with a claim that is not a DER UTF8String.
    let garbage = gitlab().with_extension(12, ExtValue::Bytes(vec![0xff, 0x00, 0x13]));
    let w = inst.mint(SignRequest::message("garbage", garbage));
    inst.verify(&w, Some(&inst.root))
        .assert_code(1)
        .assert_stderr_contains("vouch::claims::certificate")
        .assert_stderr_contains("1.3.6.1.4.1.57264.1.12 is not a DER UTF8String");
    // A v1 issuer only (no .8): the issuer falls back to .1.
    let v1 = gitlab().without_extension(8);
    let w = inst.mint(SignRequest::message("v1 issuer", v1));
    let c = inst.claims(&w);
    assert_eq!(c["issuer"], "https://gitlab.com");
}

#[test]
fn image_signature_and_attestation_layers_are_valid_evidence() {
    use base64::Engine as _;
    use testkit::image;
    let mut inst = Instance::new("testkit-image");
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
    let digest = format!("sha256:{}", testkit::sha256_hex(manifest));

    // .sig: the simple-signing payload names the manifest digest, and the annotations
    // carry a verifiable cosign bundle.
    let layer = inst.sigstore.sign_image("registry.example/acme/app", manifest, gitlab(), None).unwrap();
    assert_eq!(layer.media_type, image::SIMPLE_SIGNING_MEDIA_TYPE);
    let payload: serde_json::Value = serde_json::from_slice(&layer.blob).unwrap();
    assert_eq!(payload["critical"]["image"]["docker-manifest-digest"], digest.as_str());
    assert!(layer.annotations[image::CHAIN_ANNOTATION].matches("BEGIN CERTIFICATE").count() == 2);
    let payload_path = inst.dir.join("payload.json");
    std::fs::write(&payload_path, &layer.blob).unwrap();
    let bundle_path = inst.dir.join("sig.cosign.bundle");
    std::fs::write(&bundle_path, serde_json::to_vec(&image::signature_layer_as_cosign_bundle(&layer).unwrap()).unwrap()).unwrap();
    run(&[
        "verify-blob",
        &payload_path.display().to_string(),
        "--bundle",
        &bundle_path.display().to_string(),
        "--trusted-root",
        &inst.root,
        "--certificate-identity",
        &layer.identity,
        "--certificate-oidc-issuer",
        &layer.issuer,
    ])
    .assert_code(0);

    // .att: a DSSE envelope whose statement names the manifest digest; with its log entry
    // as a v0.1 bundle it verifies against the digest.
    let layer = inst.sigstore.attest_image(manifest, gitlab(), dsse(), None).unwrap();
    assert_eq!(layer.media_type, image::DSSE_MEDIA_TYPE);
    let envelope: serde_json::Value = serde_json::from_slice(&layer.blob).unwrap();
    let rekor: serde_json::Value = serde_json::from_str(&layer.annotations[image::BUNDLE_ANNOTATION]).unwrap();
    let cert_pem = &layer.annotations[image::CERTIFICATE_ANNOTATION];
    let cert_b64: String = cert_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let log_id = hex_to_bytes(rekor["Payload"]["logID"].as_str().unwrap());
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": cert_b64}]},
            "tlogEntries": [{
                "logIndex": rekor["Payload"]["logIndex"].to_string(),
                "logId": {"keyId": base64::engine::general_purpose::STANDARD.encode(log_id)},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": rekor["Payload"]["integratedTime"].to_string(),
                "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
                "canonicalizedBody": rekor["Payload"]["body"]
            }]
        },
        "dsseEnvelope": envelope
    });
    let bundle_path = inst.dir.join("att.sigstore.json");
    std::fs::write(&bundle_path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    run(&[
        "verify-blob",
        &digest,
        "--bundle",
        &bundle_path.display().to_string(),
        "--trusted-root",
        &inst.root,
        "--certificate-identity",
        &layer.identity,
        "--certificate-oidc-issuer",
        &layer.issuer,
    ])
    .assert_code(0);
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}
