//! What vouch asks a registry for each image, seen by a recording proxy in front of a real
//! registry (Debian's docker-registry on loopback), and why nothing it no longer asks can
//! change a decision: tags resolved by HEAD, an image pinned by digest checked alongside
//! its evidence, the referrers API asked once per registry (and a tag that disagrees with
//! it reported), a blob two images share fetched once, and a registry that rate-limits
//! slowed down to rather than retried into a storm.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use testkit::registry::{block_on, Descriptor, Registry};
use testkit::{GitLab, VirtualSigstore};
mod common;
use common::{run, scratch, ProxyOptions, ReferrersApi, RegistryProxy, Run, TestRegistry};

struct Env {
    _registry: TestRegistry,
    upstream: String,
    registry: Registry,
    sigstore: VirtualSigstore,
    dir: std::path::PathBuf,
}

impl Env {
    fn new(name: &str) -> Self {
        let registry = TestRegistry::start(name);
        let sigstore = VirtualSigstore::new().unwrap();
        let dir = scratch(&format!("round-trips-{name}"));
        std::fs::write(dir.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        Env { upstream: registry.host.clone(), registry: Registry::new(&registry.host), _registry: registry, sigstore, dir }
    }

    fn image(&self, tag: &str, seed: &str) -> Descriptor {
        block_on(self.registry.push_image("acme/app", tag, seed)).unwrap().unwrap()
    }

    fn sign(&mut self, d: &Descriptor) {
        let layer = self.sigstore.sign_image(&format!("{}/acme/app", self.upstream), &d.bytes, GitLab::default().identity(), None).unwrap();
        block_on(self.registry.push_cosign_layer("acme/app", &d.digest, &layer)).unwrap().unwrap();
    }

    fn attest(&mut self, d: &Descriptor) {
        let statement = testkit::Content::slsa_v1("https://gitlab.com/acme/app/-/runners/1");
        let layer = self.sigstore.attest_image(&d.bytes, GitLab::default().identity(), statement, None).unwrap();
        block_on(self.registry.push_cosign_layer("acme/app", &d.digest, &layer)).unwrap().unwrap();
    }

    /// `n` images tagged `v0`, `v1`, …, each with `attach` done to it.
    fn images(&mut self, n: usize, seed: &str, attach: fn(&mut Env, &Descriptor)) -> Vec<Descriptor> {
        let images: Vec<Descriptor> = (0..n).map(|i| self.image(&format!("v{i}"), &format!("{seed}-{i}"))).collect();
        for d in &images {
            attach(self, d);
        }
        images
    }

    fn refer(&mut self, d: &Descriptor) {
        let minted = self.sigstore.sign_image_bundle(&d.bytes, GitLab::default().identity(), None).unwrap();
        block_on(self.registry.push_referrer("acme/app", d, minted.json().as_bytes())).unwrap().unwrap();
    }

    /// `vouch check` over these image references, JSON report on stdout.
    fn check(&self, images: &[String]) -> Run {
        self.check_with(images, &[])
    }

    fn check_with(&self, images: &[String], extra: &[&str]) -> Run {
        let subjects: String = images.iter().map(|i| format!("  - image: {i}\n")).collect();
        let manifest = format!(
            "version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - issuer: https://gitlab.com\n    subject: {}\nsubjects:\n{subjects}",
            GitLab::default().san()
        );
        let path = self.dir.join("vouch.yaml");
        std::fs::write(&path, manifest).unwrap();
        let path = path.display().to_string();
        let mut args = vec!["check", &path, "--format", "json"];
        args.extend(extra);
        run(&args)
    }
}

/// `host/acme/app:v0` … `v{n-1}`.
fn tags(host: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{host}/acme/app:v{i}")).collect()
}

fn count(seen: &[String], pred: impl Fn(&str) -> bool) -> usize {
    seen.iter().filter(|s| pred(s)).count()
}

#[test]
fn each_image_costs_only_requests_that_can_change_its_decision() {
    let mut env = Env::new("plan");
    let signed = env.image("1.0", "signed");
    env.image("latest", "signed"); // the same image under a second tag
    env.sign(&signed);
    let attested = env.image("att", "attested");
    env.attest(&attested);
    let referred = env.image("ref", "referred");
    env.refer(&referred);
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions::default());
    let p = &proxy.host;
    let r = env.check(&[
        format!("{p}/acme/app:1.0"),
        format!("{p}/acme/app:latest"),
        format!("{p}/acme/app@{}", attested.digest),
        format!("{p}/acme/app:ref"),
    ]);
    r.assert_code(0);
    assert_eq!(r.json()["summary"]["passed"], 4);
    let seen = proxy.seen();
    let all = seen.join("\n");

    // Tags by HEAD: the digest from Docker-Content-Digest, no manifest body.
    for tag in ["1.0", "latest", "ref"] {
        assert_eq!(count(&seen, |s| s == format!("HEAD /v2/acme/app/manifests/{tag}")), 1, "{all}");
        assert_eq!(count(&seen, |s| s == format!("GET /v2/acme/app/manifests/{tag}")), 0, "{all}");
    }
    // The pinned image: its existence asked (HEAD, alongside its evidence), once.
    assert_eq!(count(&seen, |s| s == format!("HEAD /v2/acme/app/manifests/{}", attested.digest)), 1, "{all}");
    // The referrers API asked once for the whole run: this registry has none (404), so
    // every image then asks the tag schema only.
    assert_eq!(count(&seen, |s| s.contains("/referrers/")), 1, "{all}");
    for d in [&signed, &attested, &referred] {
        let tag = d.digest.replace(':', "-");
        let times = if d.digest == signed.digest { 2 } else { 1 }; // two tags, two subjects
        for suffix in [".sig", ".att", ""] {
            assert_eq!(count(&seen, |s| s == format!("GET /v2/acme/app/manifests/{tag}{suffix}")), times, "{suffix}\n{all}");
        }
    }
    // Blobs: the .sig layer the two tags share once, the .att layer, the referrer's bundle.
    assert_eq!(count(&seen, |s| s.starts_with("GET /v2/acme/app/blobs/")), 3, "{all}");
    // And nothing else: 4 resolutions, 4 × 3 evidence manifests, 1 probe, 3 blobs, 1
    // referrer manifest.
    assert_eq!(seen.len(), 4 + 12 + 1 + 3 + 1, "{all}");
}

#[test]
fn a_registry_without_docker_content_digest_gets_a_get() {
    let mut env = Env::new("no-digest-header");
    let d = env.image("1.0", "plain");
    env.sign(&d);
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions { strip_headers: vec!["docker-content-digest"], ..Default::default() });
    let r = env.check(&[format!("{}/acme/app:1.0", proxy.host)]);
    r.assert_code(0);
    // The digest then comes from the bytes, as before HEAD.
    assert_eq!(r.subject()["sha256"], d.digest.trim_start_matches("sha256:"));
    let seen = proxy.seen();
    assert!(seen.iter().any(|s| s == "HEAD /v2/acme/app/manifests/1.0"), "{seen:?}");
    assert!(seen.iter().any(|s| s == "GET /v2/acme/app/manifests/1.0"), "{seen:?}");
}

#[test]
fn a_registry_with_the_referrers_api_is_not_asked_the_tag_schema() {
    let mut env = Env::new("referrers-api");
    let images = env.images(3, "api", Env::refer);
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions { referrers_api: Some(ReferrersApi::Faithful), ..Default::default() });
    let r = env.check(&tags(&proxy.host, 3));
    r.assert_code(0);
    assert_eq!(r.json()["summary"]["passed"], 3);
    let seen = proxy.seen();
    assert_eq!(count(&seen, |s| s.contains("/referrers/")), 3, "{seen:?}");
    // Only the first image's probe asked the tag too.
    let tag_schema = |s: &str| images.iter().any(|d| s == format!("GET /v2/acme/app/manifests/{}", d.digest.replace(':', "-")));
    assert_eq!(count(&seen, tag_schema), 1, "{seen:?}");
}

#[test]
fn a_referrers_api_and_tag_that_disagree_are_reported_and_both_used() {
    let mut env = Env::new("referrers-disagree");
    let d = env.image("1.0", "disagree");
    env.refer(&d);
    // A registry whose API lists nothing, while the tag written before it lists a bundle.
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions { referrers_api: Some(ReferrersApi::Empty), ..Default::default() });
    let r = env.check(&[format!("{}/acme/app:1.0", proxy.host)]);
    // The tag's bundle is still found and verified ...
    r.assert_code(0);
    let subject = r.subject();
    assert_eq!(subject["signers"].as_array().map(Vec::len), Some(1), "{subject}");
    // ... and the difference is in the report, as a warning on the subject.
    let warnings = subject["warnings"].to_string();
    assert!(warnings.contains("registry::invalid") && warnings.contains("lists different referrers"), "{warnings}");
    assert!(warnings.contains("only the tag: sha256:"), "{warnings}");
    // With --fail-on-warn, as a policy's warning would, it fails the image.
    let r = env.check_with(&[format!("{}/acme/app:1.0", proxy.host)], &["--fail-on-warn"]);
    r.assert_code(1);
    let reasons = r.subject()["reasons"].to_string();
    assert!(reasons.contains("registry::invalid") && reasons.contains("warning (--fail-on-warn)"), "{reasons}");
}

#[test]
fn a_registry_that_rate_limits_is_slowed_down_to_not_stormed() {
    let mut env = Env::new("rate-limit");
    env.images(24, "limit", Env::sign);
    // At most 3 requests at once; the rest are answered 429 (no Retry-After).
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions { max_in_flight: Some(3), ..Default::default() });
    let r = env.check(&tags(&proxy.host, 24));
    r.assert_code(0);
    assert_eq!(r.json()["summary"]["passed"], 24);
    let rejected = proxy.rejected.load(std::sync::atomic::Ordering::SeqCst);
    let seen = proxy.seen().len();
    assert!(rejected > 0, "the proxy never refused: the test shows nothing");
    // Backed off, not stormed: refusals stay a fraction of what was asked.
    assert!(rejected * 2 < seen, "{rejected} of {seen} requests refused");
}

#[test]
fn a_missing_first_image_does_not_decide_how_its_registry_serves_referrers() {
    let mut env = Env::new("referrers-missing-first");
    let images = env.images(2, "missing-first", Env::refer);
    // A registry with the API, which answers 404 for a repository that does not exist.
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions { referrers_api: Some(ReferrersApi::Faithful), ..Default::default() });
    let p = &proxy.host;
    let missing = format!("{p}/acme/nothing-here@sha256:{}", "0".repeat(64));
    let mut refs = vec![missing];
    refs.extend(images.iter().map(|d| format!("{p}/acme/app@{}", d.digest)));
    let r = env.check(&refs);
    r.assert_code(1);
    let report = r.json();
    assert_eq!(report["summary"]["passed"], 2, "{report}");
    // The missing image's 404 from the API said nothing: both others still asked the API.
    let seen = proxy.seen();
    for d in &images {
        assert!(seen.iter().any(|s| s == &format!("GET /v2/acme/app/referrers/{}", d.digest)), "{seen:?}");
    }
}

#[test]
fn a_registry_without_head_is_asked_with_get() {
    let mut env = Env::new("no-head");
    let d = env.image("1.0", "no-head");
    env.sign(&d);
    let proxy = RegistryProxy::with(&env.upstream, ProxyOptions { no_head: true, ..Default::default() });
    let r = env.check(&[format!("{}/acme/app:1.0", proxy.host), format!("{}/acme/app@{}", proxy.host, d.digest)]);
    r.assert_code(0);
    assert_eq!(r.json()["summary"]["passed"], 2);
    let seen = proxy.seen();
    assert!(seen.iter().any(|s| s == "GET /v2/acme/app/manifests/1.0"), "{seen:?}");
    assert!(seen.iter().any(|s| s == &format!("GET /v2/acme/app/manifests/{}", d.digest)), "{seen:?}");
}
