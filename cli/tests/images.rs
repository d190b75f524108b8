//! `vouch verify-image` against a real registry (Debian's docker-registry on loopback),
//! with images and signatures pushed by the testkit: every format verifies, every way
//! of getting it wrong is rejected with its own reason, and registry faults end in
//! exit 3, never a pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use testkit::image::CosignLayer;
use testkit::registry::{block_on, Descriptor, Registry};
use testkit::{Break, Content, GitLab, VirtualSigstore};
mod common;
use common::{run, run_env, scratch, Run, StormServer, TestRegistry, TokenService};

struct Env {
    _registry: TestRegistry,
    registry: Registry,
    sigstore: VirtualSigstore,
    root: String,
    identity: String,
}

impl Env {
    fn new(name: &str) -> Self {
        let registry = TestRegistry::start(name);
        let sigstore = VirtualSigstore::new().unwrap();
        let dir = scratch(&format!("images-{name}"));
        let root = dir.join("trusted_root.json");
        std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        Env {
            registry: Registry::new(&registry.host),
            _registry: registry,
            sigstore,
            root: root.display().to_string(),
            identity: GitLab::default().san(),
        }
    }

    fn image(&self, repo: &str, tag: &str, seed: &str) -> Descriptor {
        block_on(self.registry.push_image(repo, tag, seed)).unwrap().unwrap()
    }

    fn reference(&self, repo: &str, d: &Descriptor) -> String {
        format!("{}/{repo}@{}", self.registry.host, d.digest)
    }

    fn sig_layer(&mut self, repo: &str, d: &Descriptor, defect: Option<Break>) -> CosignLayer {
        let reference = format!("{}/{repo}", self.registry.host);
        self.sigstore.sign_image(&reference, &d.bytes, GitLab::default().identity(), defect).unwrap()
    }

    fn push_layer(&self, repo: &str, d: &Descriptor, layer: &CosignLayer) {
        block_on(self.registry.push_cosign_layer(repo, &d.digest, layer)).unwrap().unwrap();
    }

    fn verify(&self, reference: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "verify-image",
            reference,
            "--trusted-root",
            &self.root,
            "--certificate-identity",
            &self.identity,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ];
        args.extend(extra);
        run(&args)
    }
}

fn codes(r: &Run) -> Vec<String> {
    r.subject()["verification_errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["code"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn every_format_verifies() {
    let mut env = Env::new("formats");
    // cosign .sig
    let img = env.image("acme/sig", "1.0", "sig");
    let layer = env.sig_layer("acme/sig", &img, None);
    env.push_layer("acme/sig", &img, &layer);
    let r = env.verify(&env.reference("acme/sig", &img), &[]);
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"][0]["bundle_media_type"], "application/vnd.dev.cosign.simplesigning.v1+json");
    // ... resolved from its tag: the digest is what is judged, with the tag named.
    let by_tag = env.verify(&format!("{}/acme/sig:1.0", env.registry.host), &[]);
    by_tag.assert_code(0);
    let name = by_tag.subject()["name"].as_str().unwrap().to_string();
    assert!(name.contains(&img.digest) && name.contains("from tag 1.0"), "{name}");

    // cosign .att: the statement reaches the policy input as an attestation.
    let img = env.image("acme/att", "1.0", "att");
    let layer = env
        .sigstore
        .attest_image(&img.bytes, GitLab::default().identity(), Content::slsa_v1("https://gitlab.com/acme/app/-/runners/1"), None)
        .unwrap();
    env.push_layer("acme/att", &img, &layer);
    let r = env.verify(&env.reference("acme/att", &img), &[]);
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"][0]["predicate_type"], "https://slsa.dev/provenance/v1");

    // OCI 1.1 referrer with a Sigstore bundle (tag-schema fallback: registry 2.8 has no
    // referrers API).
    let img = env.image("acme/ref", "1.0", "ref");
    let minted = env.sigstore.sign_image_bundle(&img.bytes, GitLab::default().identity(), None).unwrap();
    block_on(env.registry.push_referrer("acme/ref", &img, minted.json().as_bytes())).unwrap().unwrap();
    let r = env.verify(&env.reference("acme/ref", &img), &[]);
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"][0]["predicate_type"], "https://sigstore.dev/cosign/sign/v1");

    // Multi-arch: the index is judged; --platform judges one manifest.
    let amd = env.image("acme/multi", "amd64", "amd");
    let arm = env.image("acme/multi", "arm64", "arm");
    let index =
        block_on(env.registry.push_index("acme/multi", "1.0", &[("linux", "amd64", &amd), ("linux", "arm64", &arm)])).unwrap().unwrap();
    let layer = env.sig_layer("acme/multi", &index, None);
    env.push_layer("acme/multi", &index, &layer);
    let layer = env.sig_layer("acme/multi", &arm, None);
    env.push_layer("acme/multi", &arm, &layer);
    let tag = format!("{}/acme/multi:1.0", env.registry.host);
    env.verify(&tag, &[]).assert_code(0);
    let r = env.verify(&tag, &["--platform", "linux/arm64"]);
    r.assert_code(0);
    assert_eq!(r.subject()["sha256"], arm.digest.trim_start_matches("sha256:"));
    // amd64's manifest itself is unsigned.
    env.verify(&tag, &["--platform", "linux/amd64"]).assert_code(1).assert_stderr_contains("no signature found");
    env.verify(&tag, &["--platform", "linux/s390x"]).assert_code(1).assert_stderr_contains("vouch::image::not-found");
}

#[test]
fn every_way_of_getting_it_wrong_is_rejected_with_its_reason() {
    let mut env = Env::new("negative");
    let repo = "acme/neg";

    // Wrong identity.
    let img = env.image(repo, "wrong-id", "wrong-id");
    let layer = env.sig_layer(repo, &img, None);
    env.push_layer(repo, &img, &layer);
    let r = run(&[
        "verify-image",
        &env.reference(repo, &img),
        "--trusted-root",
        &env.root,
        "--certificate-identity",
        "https://gitlab.com/acme/other//.gitlab-ci.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
        "--format",
        "json",
    ]);
    r.assert_code(1);
    assert_eq!(codes(&r), ["vouch::verify::identity"]);

    // A signature made for another image, attached to this one.
    let other = env.image(repo, "other", "other");
    let victim = env.image(repo, "victim", "victim");
    let layer = env.sig_layer(repo, &other, None);
    env.push_layer(repo, &victim, &layer);
    let r = env.verify(&env.reference(repo, &victim), &[]);
    r.assert_code(1).assert_stderr_contains(&format!("the signature is for image {}, not {}", other.digest, victim.digest));
    assert_eq!(codes(&r), ["vouch::verify::artifact"]);

    // A tampered payload (same annotations).
    let img = env.image(repo, "tampered", "tampered");
    let mut layer = env.sig_layer(repo, &img, None);
    let text =
        String::from_utf8(layer.blob.clone()).unwrap().replace("cosign container image signature", "cosign container image signaturE");
    layer.blob = text.into_bytes();
    env.push_layer(repo, &img, &layer);
    let r = env.verify(&env.reference(repo, &img), &[]);
    r.assert_code(1);
    assert!(codes(&r)[0].starts_with("vouch::verify::"), "{:?}", codes(&r));

    // Issued by a CA outside the trusted root.
    let img = env.image(repo, "untrusted", "untrusted");
    let layer = env.sig_layer(repo, &img, Some(Break::UntrustedCa));
    env.push_layer(repo, &img, &layer);
    let r = env.verify(&env.reference(repo, &img), &[]);
    r.assert_code(1).assert_stderr_contains("not issued by a certificate authority of the trusted root");

    // A real certificate and SET copied next to a signature they did not make.
    let img = env.image(repo, "copied", "copied");
    let mut layer = env.sig_layer(repo, &img, None);
    let foreign = env.sig_layer(repo, &env.image(repo, "foreign", "foreign"), None);
    layer
        .annotations
        .insert("dev.cosignproject.cosign/signature".into(), foreign.annotations["dev.cosignproject.cosign/signature"].clone());
    env.push_layer(repo, &img, &layer);
    let r = env.verify(&env.reference(repo, &img), &[]);
    r.assert_code(1);
    assert!(codes(&r)[0].starts_with("vouch::verify::"), "{:?}", codes(&r));

    // Unsigned.
    let img = env.image(repo, "unsigned", "unsigned");
    env.verify(&env.reference(repo, &img), &[]).assert_code(1).assert_stderr_contains("no signature found");

    // The tag moved after signing: the tag now names an unsigned image.
    let signed = env.image(repo, "release", "release-1");
    let layer = env.sig_layer(repo, &signed, None);
    env.push_layer(repo, &signed, &layer);
    let tag = format!("{}/{repo}:release", env.registry.host);
    env.verify(&tag, &[]).assert_code(0);
    let moved = env.image(repo, "release", "release-2");
    let r = env.verify(&tag, &[]);
    r.assert_code(1).assert_stderr_contains("no signature found");
    assert_eq!(r.subject()["sha256"], moved.digest.trim_start_matches("sha256:"));
    env.verify(&env.reference(repo, &signed), &[]).assert_code(0);

    // A referrer index entry pointing at a bundle about another image.
    let a = env.image(repo, "ref-a", "ref-a");
    let b = env.image(repo, "ref-b", "ref-b");
    let minted = env.sigstore.sign_image_bundle(&a.bytes, GitLab::default().identity(), None).unwrap();
    let referrer = block_on(env.registry.push_referrer(repo, &a, minted.json().as_bytes())).unwrap().unwrap();
    // List a's referrer in b's tag-schema index.
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"mediaType": referrer.media_type, "digest": referrer.digest, "size": referrer.size, "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}]});
    block_on(env.registry.push_manifest(
        repo,
        &b.digest.replace(':', "-"),
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&index).unwrap(),
    ))
    .unwrap()
    .unwrap();
    let r = env.verify(&env.reference(repo, &b), &[]);
    r.assert_code(1).assert_stderr_contains(&format!("is about {}, not {}", a.digest, b.digest));

    // Not in the registry at all.
    env.verify(&format!("{}/{repo}:nope", env.registry.host), &[]).assert_code(1).assert_stderr_contains("vouch::image::not-found");
}

#[test]
fn registry_faults_are_exit_3_never_a_pass() {
    // Down: nothing listens.
    let host = format!("127.0.0.1:{}", common::free_port());
    let r = run(&[
        "verify-image",
        &format!("{host}/acme/app:1.0"),
        "--certificate-identity",
        "x",
        "--certificate-oidc-issuer",
        "y",
        "--registry-timeout",
        "2",
    ]);
    r.assert_code(3).assert_stderr_contains("vouch::registry::unreachable").assert_stderr_contains("retrying later may help");

    // Answering 429 to everything: bounded retries, then exit 3.
    let storm = StormServer::start("429 Too Many Requests", "Retry-After: 0\r\n");
    let r =
        run(&["verify-image", &format!("{}/acme/app:1.0", storm.host), "--certificate-identity", "x", "--certificate-oidc-issuer", "y"]);
    r.assert_code(3)
        .assert_stderr_contains("vouch::registry::rate-limited")
        .assert_stderr_contains("answered 429 Too Many Requests for")
        .assert_stderr_contains("/v2/acme/app/manifests/1.0 4 times");
    assert_eq!(storm.requests.load(std::sync::atomic::Ordering::Relaxed), 4);

    // 503s likewise.
    let storm = StormServer::start("503 Service Unavailable", "");
    run(&["verify-image", &format!("{}/acme/app:1.0", storm.host), "--certificate-identity", "x", "--certificate-oidc-issuer", "y"])
        .assert_code(3)
        .assert_stderr_contains("vouch::registry::server");

    // Plain HTTP is only for loopback or --insecure-registry.
    let r = run(&[
        "verify-image",
        "registry.invalid/acme/app:1.0",
        "--certificate-identity",
        "x",
        "--certificate-oidc-issuer",
        "y",
        "--registry-timeout",
        "2",
    ]);
    r.assert_code(3).assert_stderr_contains("https://registry.invalid/v2/");
    run(&["verify-image", "Not A Reference", "--certificate-identity", "x", "--certificate-oidc-issuer", "y"])
        .assert_code(2)
        .assert_stderr_contains("vouch::usage::image");
}

#[test]
fn credentials_from_vouch_gitlab_and_docker_config() {
    let server = TestRegistry::start_with_auth("auth", "ci-bot", "s3cret");
    let registry = Registry::with_basic_auth(&server.host, "ci-bot", "s3cret");
    let mut sigstore = VirtualSigstore::new().unwrap();
    let dir = scratch("images-auth");
    let root = dir.join("trusted_root.json");
    std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let img = block_on(registry.push_image("acme/private", "1.0", "private")).unwrap().unwrap();
    let layer = sigstore.sign_image(&format!("{}/acme/private", server.host), &img.bytes, GitLab::default().identity(), None).unwrap();
    block_on(registry.push_cosign_layer("acme/private", &img.digest, &layer)).unwrap().unwrap();
    let reference = format!("{}/acme/private@{}", server.host, img.digest);
    let san = GitLab::default().san();
    let root = root.display().to_string();
    let args = [
        "verify-image",
        reference.as_str(),
        "--trusted-root",
        root.as_str(),
        "--certificate-identity",
        san.as_str(),
        "--certificate-oidc-issuer",
        "https://gitlab.com",
    ];

    run_env(&args, &[])
        .assert_code(2)
        .assert_stderr_contains("vouch::registry::unauthorized")
        .assert_stderr_contains("requires credentials");
    run_env(&args, &[("VOUCH_REGISTRY_USERNAME", "ci-bot"), ("VOUCH_REGISTRY_PASSWORD", "s3cret")]).assert_code(0);
    run_env(&args, &[("VOUCH_REGISTRY_USERNAME", "ci-bot"), ("VOUCH_REGISTRY_PASSWORD", "wrong")])
        .assert_code(2)
        .assert_stderr_contains("refused access");
    run_env(&args, &[("CI_REGISTRY", &server.host), ("CI_REGISTRY_USER", "ci-bot"), ("CI_REGISTRY_PASSWORD", "s3cret")]).assert_code(0);
    // CI credentials are for $CI_REGISTRY only.
    run_env(&args, &[("CI_REGISTRY", "registry.gitlab.com"), ("CI_REGISTRY_USER", "ci-bot"), ("CI_REGISTRY_PASSWORD", "s3cret")])
        .assert_code(2);
    let docker = dir.join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("ci-bot:s3cret");
    std::fs::write(docker.join("config.json"), format!("{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}", server.host)).unwrap();
    run_env(&args, &[("DOCKER_CONFIG", &docker.display().to_string())]).assert_code(0);
}

/// GitLab's container registry authenticates with the Bearer token flow: a 401 names a
/// token realm, the client asks it for a token with its credentials.
#[test]
fn bearer_token_flow_against_a_token_auth_registry() {
    let tokens = TokenService::start("gitlab-ci-token", "job-token");
    let server = TestRegistry::start_with_tokens("tokens", &tokens);
    let push = Registry::with_authorization(&server.host, &format!("Bearer {}", tokens.token("gitlab-ci-token", "acme/app")));
    let mut sigstore = VirtualSigstore::new().unwrap();
    let dir = scratch("images-tokens");
    let root = dir.join("trusted_root.json");
    std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let img = block_on(push.push_image("acme/app", "1.0", "tokens")).unwrap().unwrap();
    let layer = sigstore.sign_image(&format!("{}/acme/app", server.host), &img.bytes, GitLab::default().identity(), None).unwrap();
    block_on(push.push_cosign_layer("acme/app", &img.digest, &layer)).unwrap().unwrap();
    let reference = format!("{}/acme/app:1.0", server.host);
    let san = GitLab::default().san();
    let root = root.display().to_string();
    let args = [
        "verify-image",
        reference.as_str(),
        "--trusted-root",
        root.as_str(),
        "--certificate-identity",
        san.as_str(),
        "--certificate-oidc-issuer",
        "https://gitlab.com",
    ];
    run_env(&args, &[("CI_REGISTRY", &server.host), ("CI_REGISTRY_USER", "gitlab-ci-token"), ("CI_REGISTRY_PASSWORD", "job-token")])
        .assert_code(0);
    run_env(&args, &[("CI_REGISTRY", &server.host), ("CI_REGISTRY_USER", "gitlab-ci-token"), ("CI_REGISTRY_PASSWORD", "wrong")])
        .assert_code(2)
        .assert_stderr_contains("vouch::registry::unauthorized");
    run_env(&args, &[]).assert_code(2);
}

/// An image whose only evidence is in GitLab's Attestations API (by its manifest digest),
/// verified with `verify-image --attestations`.
#[test]
fn attestations_of_an_image_from_gitlabs_api() {
    use testkit::attest_api::{AttestationApi, GitLabAttestation};
    let mut env = Env::new("api");
    let img = env.image("acme/api", "1.0", "api");
    let gl = GitLab::default();
    let minted = env.sigstore.sign(testkit::SignRequest::dsse(img.bytes.clone(), gl.identity(), Content::gitlab_slsa_v1(&gl))).unwrap();
    let api = AttestationApi::start();
    api.with(|s| {
        s.gitlab.push(GitLabAttestation {
            project: "acme/app".into(),
            project_id: 55235664,
            digest: img.digest.trim_start_matches("sha256:").into(),
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            signing_method: Some("sigstore".into()),
            status: "success".into(),
            bundle: minted.bundle.clone(),
        })
    });
    let reference = format!("{}/acme/api:1.0", env.registry.host);
    // Without the API, nothing in the registry signs it.
    env.verify(&reference, &[]).assert_code(1);
    let endpoints = api.endpoints();
    let r = env.verify(&reference, &["--attestations", "gitlab:acme/app", "--attestations-api", &endpoints]);
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"][0]["provenance"]["build_platform"], "gitlab", "{}", r.stdout);
    assert!(api.with(|s| s.log.iter().any(|(p, _)| p.contains(img.digest.trim_start_matches("sha256:")))), "asked by the resolved digest");
}
