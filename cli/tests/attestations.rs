//! Attestations from where they live: GitLab's and GitHub's attestation APIs, served on
//! loopback by testkit::attest_api as their docs describe them (listing by digest,
//! pagination, download, tokens, 401/404/429/5xx), holding testkit-minted provenance and
//! the real bundles of ../shared/real-bundles. Each hostile answer must fail the subject
//! with its own code; each infrastructure fault must leave it not judged (exit 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use testkit::attest_api::{AttestationApi, GitHubAttestation, GitLabAttestation};
use testkit::{Break, Content, GitHub, GitLab, SignRequest, VirtualSigstore};

mod common;
use common::{command, finish, scratch, shared_dir, vouch_bin, Run};

const V1: &str = "https://slsa.dev/provenance/v1";

/// A minted instance, its trusted root, an artifact, and the API server.
struct Lab {
    dir: PathBuf,
    sigstore: VirtualSigstore,
    api: AttestationApi,
    root: String,
    artifact: String,
    hex: String,
}

impl Lab {
    fn new(name: &str) -> Self {
        let dir = scratch(&format!("attest-{name}"));
        let sigstore = VirtualSigstore::new().unwrap();
        std::fs::write(dir.join("trusted_root.json"), sigstore.trusted_root().unwrap().to_string()).unwrap();
        std::fs::write(dir.join("app.tgz"), b"app 1.0").unwrap();
        Lab {
            root: dir.join("trusted_root.json").display().to_string(),
            artifact: dir.join("app.tgz").display().to_string(),
            hex: testkit::sha256_hex(b"app 1.0"),
            dir,
            sigstore,
            api: AttestationApi::start(),
        }
    }

    fn mint(&mut self, request: SignRequest) -> Value {
        self.sigstore.sign(request).unwrap().bundle
    }

    fn gitlab(&self, project: &str, predicate_type: &str, method: Option<&str>, bundle: Value) -> GitLabAttestation {
        GitLabAttestation {
            project: project.into(),
            project_id: 55235664,
            digest: self.hex.clone(),
            predicate_type: predicate_type.into(),
            signing_method: method.map(str::to_string),
            status: "success".into(),
            bundle,
        }
    }

    /// vouch with the API endpoints pointed here, the lab's trust and the given args.
    fn vouch(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let endpoints = self.api.endpoints();
        let mut all = vec!["--attestations-api", endpoints.as_str(), "--trusted-root", self.root.as_str()];
        all.splice(0..0, args.iter().copied());
        let mut cmd = command(&vouch_bin(), &all);
        for var in [
            "GITLAB_TOKEN",
            "VOUCH_GITLAB_TOKEN",
            "CI_JOB_TOKEN",
            "CI_SERVER_URL",
            "GITLAB_HOST",
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "VOUCH_GITHUB_TOKEN",
            "GH_HOST",
            "GH_ENTERPRISE_TOKEN",
            "VOUCH_ATTESTATIONS_API",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        finish(cmd)
    }

    fn verify_gitlab(&self, source: &str, env: &[(&str, &str)]) -> Run {
        let gl = GitLab::default();
        self.vouch(
            &[
                "verify-blob",
                &self.artifact,
                "--attestations",
                source,
                "--certificate-identity",
                &gl.san(),
                "--certificate-oidc-issuer",
                "https://gitlab.com",
                "--format",
                "json",
            ],
            env,
        )
    }
}

fn reasons(r: &Run) -> String {
    r.subject()["reasons"].to_string() + &r.subject()["verification_errors"].to_string()
}

#[test]
fn gitlab_provenance_by_digest_end_to_end() {
    let mut lab = Lab::new("gitlab");
    let gl = GitLab::default();
    let bundle = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), gl.identity(), Content::gitlab_slsa_v1(&gl)).name("app.tgz"));
    let record = lab.gitlab("acme/app", V1, Some("sigstore"), bundle);
    lab.api.with(|s| s.gitlab.push(record.clone()));

    // By path and by id, the attestation verifies and its provenance is typed.
    let r = lab.verify_gitlab("gitlab:https://gitlab.com/acme/app", &[]);
    r.assert_code(0);
    let p = &r.subject()["signatures"][0]["provenance"];
    assert_eq!(p["build_platform"], "gitlab", "{p}");
    assert_eq!(p["source"]["repository"], "acme/app");
    assert_eq!(p["source"]["ref"], "refs/heads/main");
    assert_eq!(p["source"]["commit"], gl.commit_sha);
    assert_eq!(p["runner"]["executor"], "docker+machine");
    assert_eq!(p["gitlab"]["job_id"], gl.job_id.to_string());
    assert_eq!(p["gitlab"]["ref_protected"], true);
    lab.verify_gitlab("gitlab:https://gitlab.com/55235664", &[]).assert_code(0);
    // The download went to the instance that was named, built from the iid: never to the
    // download_url the listing offered.
    assert!(lab.api.with(|s| s.log.iter().any(|(p, _)| p == "/api/v4/projects/acme%2Fapp/attestations/1/download")));

    // Pagination: three pages of one each, all fetched.
    lab.api.with(|s| {
        s.gitlab.push(record.clone());
        s.gitlab.push(record.clone());
        s.page_size = 1;
    });
    let r = lab.verify_gitlab("gitlab:acme/app", &[]);
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"].as_array().unwrap().len(), 3, "{}", r.stdout);
    lab.api.with(|s| s.page_size = 100);

    // Tokens: refused without one (exit 2, not judged); GITLAB_TOKEN goes to gitlab.com's
    // API; CI_JOB_TOKEN only to $CI_SERVER_URL.
    lab.api.with(|s| s.token = Some("glpat-secret".into()));
    let r = lab.verify_gitlab("gitlab:acme/app", &[]);
    r.assert_code(2);
    assert!(reasons(&r).contains("vouch::attest::unauthorized"), "{}", r.stdout);
    lab.verify_gitlab("gitlab:acme/app", &[("GITLAB_TOKEN", "glpat-secret")]).assert_code(0);
    lab.verify_gitlab("gitlab:acme/app", &[("CI_JOB_TOKEN", "glpat-secret"), ("CI_SERVER_URL", "https://gitlab.com")]).assert_code(0);
    lab.verify_gitlab("gitlab:acme/app", &[("CI_JOB_TOKEN", "glpat-secret"), ("CI_SERVER_URL", "https://gitlab.example.com")])
        .assert_code(2);
    let token_file = lab.dir.join("token");
    std::fs::write(&token_file, "glpat-secret\n").unwrap();
    let mut args = vec!["--gitlab-token-file", token_file.to_str().unwrap()];
    args.splice(
        0..0,
        [
            "verify-blob",
            lab.artifact.as_str(),
            "--attestations",
            "gitlab:acme/app",
            "--certificate-identity-regexp",
            ".*",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
        ],
    );
    lab.vouch(&args, &[]).assert_code(0);
    // The file's token goes to $GITLAB_HOST (gitlab.com) only, never to another instance a
    // manifest or flag names.
    let other_api = format!("https://gitlab.other.example={}/api/v4", lab.api.url);
    let before = lab.api.with(|s| s.log.len());
    lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "gitlab:https://gitlab.other.example/acme/app",
            "--attestations-api",
            &other_api,
            "--gitlab-token-file",
            token_file.to_str().unwrap(),
            "--certificate-identity-regexp",
            ".*",
            "--certificate-oidc-issuer-regexp",
            ".*",
        ],
        &[("GITLAB_TOKEN", "glpat-secret")],
    )
    .assert_code(2);
    assert!(lab.api.with(|s| s.log[before..].iter().all(|(_, auth)| auth.is_none())), "a token went to another instance");
    lab.api.with(|s| s.token = None);

    // Rate limits are waited out (Retry-After); a storm is exit 3, as are 5xx and a
    // server that is not there.
    lab.api.with(|s| s.rate_limit = 2);
    lab.verify_gitlab("gitlab:acme/app", &[]).assert_code(0);
    lab.api.with(|s| s.rate_limit = 1000);
    let r = lab.verify_gitlab("gitlab:acme/app", &[]);
    r.assert_code(3);
    assert!(reasons(&r).contains("vouch::attest::rate-limited"), "{}", r.stdout);
    lab.api.with(|s| (s.rate_limit, s.server_errors) = (0, 1000));
    let r = lab.verify_gitlab("gitlab:acme/app", &[]);
    r.assert_code(3);
    assert!(reasons(&r).contains("vouch::attest::server"), "{}", r.stdout);
    lab.api.with(|s| s.server_errors = 0);
    let down = format!("https://gitlab.com=http://127.0.0.1:{}/api/v4", common::free_port());
    let gl_san = gl.san();
    let mut cmd = command(
        &vouch_bin(),
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "gitlab:acme/app",
            "--attestations-api",
            &down,
            "--trusted-root",
            &lab.root,
            "--certificate-identity",
            &gl_san,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
        ],
    );
    cmd.env_remove("GITLAB_TOKEN");
    finish(cmd).assert_code(3).assert_stdout_contains("vouch::attest::unreachable");

    // A project the instance does not have: 404, a rejection that says what to check.
    let r = lab.verify_gitlab("gitlab:acme/nothing", &[]);
    r.assert_code(1);
    assert!(reasons(&r).contains("vouch::attest::not-found"), "{}", r.stdout);

    // A self-managed instance: its own issuer, named as a platform, its API on loopback.
    let sm = GitLab { instance: "https://gitlab.example.com".into(), ..GitLab::default() };
    let sm_bundle = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), sm.identity(), Content::gitlab_slsa_v1(&sm)));
    let sm_record = lab.gitlab("acme/app", V1, Some("sigstore"), sm_bundle);
    lab.api.with(|s| s.gitlab = vec![sm_record]);
    let sm_api = format!("https://gitlab.example.com={}/api/v4", lab.api.url);
    let sm_san = sm.san();
    let r = lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "gitlab:https://gitlab.example.com/acme/app",
            "--attestations-api",
            &sm_api,
            "--gitlab-instance",
            "https://gitlab.example.com",
            "--certificate-identity",
            &sm_san,
            "--certificate-oidc-issuer",
            "https://gitlab.example.com",
            "--format",
            "json",
        ],
        &[],
    );
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"][0]["claims"]["gitlab"]["instance"], "https://gitlab.example.com");
    // The same attestation asked of gitlab.com's API is another instance's: refused.
    let r = lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "gitlab:https://gitlab.com/acme/app",
            "--gitlab-instance",
            "https://gitlab.example.com",
            "--certificate-identity",
            &sm_san,
            "--certificate-oidc-issuer",
            "https://gitlab.example.com",
            "--format",
            "json",
        ],
        &[],
    );
    r.assert_code(1);
    assert!(reasons(&r).contains("vouch::attest::origin"), "{}", r.stdout);
    lab.api.with(|s| s.gitlab = vec![record.clone()]);

    // No attestation for this digest, and no other evidence: nothing verified.
    std::fs::write(lab.dir.join("other.tgz"), b"other").unwrap();
    let other = lab.dir.join("other.tgz").display().to_string();
    let r = lab.vouch(
        &[
            "verify-blob",
            &other,
            "--attestations",
            "gitlab:acme/app",
            "--certificate-identity",
            &gl_san,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
        ],
        &[],
    );
    r.assert_code(1).assert_stdout_contains("vouch::verify::none");
}

#[test]
fn hostile_or_mistaken_answers_fail_with_their_reason() {
    let mut lab = Lab::new("hostile");
    let gl = GitLab::default();
    let good = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), gl.identity(), Content::gitlab_slsa_v1(&gl)));
    let elsewhere = lab.mint(SignRequest::dsse(b"something else".to_vec(), gl.identity(), Content::gitlab_slsa_v1(&gl)));
    let evil = GitLab { project: "evil/app".into(), ..GitLab::default() };
    let evil_bundle = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), evil.identity(), Content::gitlab_slsa_v1(&evil)));
    let rogue = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), gl.identity(), Content::gitlab_slsa_v1(&gl)).defect(Break::UntrustedCa));
    let borrower = GitLab { source_project: Some("evil/x".into()), ..GitLab::default() };
    let borrowed_config = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), borrower.identity(), Content::gitlab_slsa_v1(&borrower)));
    let cases: Vec<(&str, GitLabAttestation, bool, &str)> = vec![
        // Provenance for another artifact, listed under ours.
        ("another digest in the statement", lab.gitlab("acme/app", V1, Some("sigstore"), elsewhere), false, "vouch::verify::artifact"),
        // The listing itself names another digest than the one asked.
        (
            "the listing names another digest",
            GitLabAttestation { digest: "ab".repeat(32), ..lab.gitlab("acme/app", V1, None, good.clone()) },
            true,
            "vouch::attest::invalid",
        ),
        // The listing lies about the predicate type.
        (
            "a lying predicate type",
            lab.gitlab("acme/app", "https://spdx.dev/Document", Some("sigstore"), good.clone()),
            false,
            "vouch::attest::invalid",
        ),
        // Another project's attestation, served under acme/app.
        ("another project", lab.gitlab("acme/app", V1, Some("sigstore"), evil_bundle.clone()), false, "vouch::attest::origin"),
        // Signed by a project CA (local_ca): not verified by vouch yet, and said so.
        ("a local_ca attestation", lab.gitlab("acme/app", V1, Some("local_ca"), good.clone()), false, "vouch::attest::local-ca"),
        // A bundle from a CA outside the trusted root, presented as a sigstore one.
        ("an untrusted CA presented as sigstore", lab.gitlab("acme/app", V1, Some("sigstore"), rogue), false, "vouch::verify::certificate"),
        ("a method GitLab does not have", lab.gitlab("acme/app", V1, Some("magic"), good.clone()), false, "vouch::attest::invalid"),
        // Another project whose CI config is acme/app's file: the SAN names acme/app, the
        // certificate's source project is evil/x.
        (
            "another project running acme/app's CI config",
            lab.gitlab("acme/app", V1, Some("sigstore"), borrowed_config),
            false,
            "vouch::attest::origin",
        ),
    ];
    for (what, record, list_any_digest, code) in cases {
        lab.api.with(|s| (s.gitlab, s.list_any_digest) = (vec![record], list_any_digest));
        let r = lab.vouch(
            &[
                "verify-blob",
                &lab.artifact,
                "--attestations",
                "gitlab:acme/app",
                "--certificate-identity-regexp",
                "https://gitlab.com/.*",
                "--certificate-oidc-issuer",
                "https://gitlab.com",
                "--format",
                "json",
            ],
            &[],
        );
        assert_eq!(r.code, 1, "{what}: {}\n{}", r.stdout, r.stderr);
        let why = reasons(&r);
        assert!(why.contains(code), "{what}: expected {code} in {why}");
    }
    lab.api.with(|s| s.list_any_digest = false);

    // A good attestation beside a hostile one still verifies; the hostile one is listed.
    let (a, b) = (lab.gitlab("acme/app", V1, Some("sigstore"), good.clone()), lab.gitlab("acme/app", V1, Some("sigstore"), evil_bundle));
    lab.api.with(|s| s.gitlab = vec![a, b]);
    let r = lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "gitlab:acme/app",
            "--certificate-identity-regexp",
            "https://gitlab.com/.*",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ],
        &[],
    );
    r.assert_code(0);
    assert!(r.subject()["verification_errors"].to_string().contains("vouch::attest::origin"), "{}", r.stdout);

    // Sources that cannot be asked are refused before anything is judged.
    for bad in ["gitlab:http://gitlab.example.com/acme/app", "gitlab:https://gitlab.com/app", "github:a/b/c", "npm:x"] {
        let r = lab.vouch(
            &[
                "verify-blob",
                &lab.artifact,
                "--attestations",
                bad,
                "--certificate-identity-regexp",
                ".*",
                "--certificate-oidc-issuer-regexp",
                ".*",
            ],
            &[],
        );
        r.assert_code(2).assert_stderr_contains("vouch::usage::attestations");
    }
    // A sha512 subject cannot be looked up by sha256: refused before anything is judged.
    let sha512 = format!("sha512:{}", "ab".repeat(64));
    let r = lab.vouch(
        &[
            "verify-blob",
            &sha512,
            "--attestations",
            "gitlab:acme/app",
            "--certificate-identity-regexp",
            ".*",
            "--certificate-oidc-issuer-regexp",
            ".*",
        ],
        &[],
    );
    r.assert_code(2).assert_stderr_contains("vouch::usage::attestations").assert_stderr_contains("sha256");
    // Without a bundle or a source, verify-blob has nothing to verify with.
    let r =
        lab.vouch(&["verify-blob", &lab.artifact, "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp", ".*"], &[]);
    r.assert_code(2);
}

#[test]
fn github_attestations_by_repository_and_owner() {
    let mut lab = Lab::new("github");
    let gh = GitHub::default();
    let bundle = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), gh.identity(), Content::github_slsa_v1(&gh)));
    let record = GitHubAttestation {
        owner: "org".into(),
        repo: "app".into(),
        repository_id: gh.repository_id,
        digest: lab.hex.clone(),
        bundle,
        by_url: false,
    };
    lab.api.with(|s| {
        s.github.push(record.clone());
        s.github.push(GitHubAttestation { by_url: true, ..record.clone() });
        s.page_size = 1;
        s.github_rate_limit = 1;
    });
    let identity = gh.san();
    for source in ["github:org/app", "github:org", "github:https://github.com/org/app"] {
        let r = lab.vouch(
            &[
                "verify-blob",
                &lab.artifact,
                "--attestations",
                source,
                "--certificate-identity",
                &identity,
                "--certificate-oidc-issuer",
                testkit::GITHUB_ISSUER,
                "--format",
                "json",
            ],
            &[("GITHUB_TOKEN", "ghp-x")],
        );
        r.assert_code(0);
        assert_eq!(r.subject()["signatures"].as_array().unwrap().len(), 2, "{source}: inline and by bundle_url, over two pages");
        let p = &r.subject()["signatures"][0]["provenance"];
        assert_eq!(p["build_platform"], "github");
        assert_eq!(p["source"]["repository"], "org/app");
        assert_eq!(p["runner"]["environment"], "github-hosted");
        assert_eq!(p["github"]["workflow_path"], ".github/workflows/release.yml");
    }
    assert!(lab.api.with(|s| s.log.iter().any(|(_, auth)| auth.as_deref() == Some("ghp-x"))), "GITHUB_TOKEN was not sent");

    // Another repository's attestation, listed under org/app; a repository id that
    // disagrees with the certificate.
    let other = GitHub { repository: "org/other".into(), ..GitHub::default() };
    let other_bundle = lab.mint(SignRequest::dsse(b"app 1.0".to_vec(), other.identity(), Content::github_slsa_v1(&other)));
    for record in [GitHubAttestation { bundle: other_bundle, ..record.clone() }, GitHubAttestation { repository_id: 1, ..record.clone() }] {
        lab.api.with(|s| s.github = vec![record]);
        let r = lab.vouch(
            &[
                "verify-blob",
                &lab.artifact,
                "--attestations",
                "github:org/app",
                "--certificate-identity-regexp",
                "https://github.com/org/.*",
                "--certificate-oidc-issuer",
                testkit::GITHUB_ISSUER,
                "--format",
                "json",
            ],
            &[],
        );
        r.assert_code(1);
        assert!(reasons(&r).contains("vouch::attest::origin"), "{}", r.stdout);
    }
    // An owner that is a user is asked at /users/ when /orgs/ does not know it.
    lab.api.with(|s| (s.github, s.users) = (vec![record.clone()], vec!["org".into()]));
    lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "github:org",
            "--certificate-identity",
            &identity,
            "--certificate-oidc-issuer",
            testkit::GITHUB_ISSUER,
        ],
        &[],
    )
    .assert_code(0);
    assert!(lab.api.with(|s| s.log.iter().any(|(p, _)| p.starts_with("/api/v3/users/org/attestations/"))));
    lab.api.with(|s| s.users.clear());

    // GitHub answers 404 when it holds nothing for the digest: nothing verified.
    lab.api.with(|s| s.github.clear());
    lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "github:org/app",
            "--certificate-identity",
            &identity,
            "--certificate-oidc-issuer",
            testkit::GITHUB_ISSUER,
        ],
        &[],
    )
    .assert_code(1)
    .assert_stdout_contains("vouch::verify::none");
}

#[test]
fn real_bundles_through_the_apis() {
    // The real gitlab.com attestation (PyPI publish, facutuesca/gitlab-oidc-project) and
    // real GitHub SLSA provenance (pypi-attestations), served by the loopback APIs and
    // verified against Sigstore's production root.
    let real = |rel: &str| shared_dir().join("real-bundles").join(rel);
    let json = |p: &Path| serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap();
    let hex = |p: &Path| testkit::sha256_hex(&std::fs::read(p).unwrap());
    let api = AttestationApi::start();
    let gitlab_artifact = real("gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz");
    let github_artifact = real("github-pypi/pypi_attestations-0.0.19.tar.gz");
    api.with(|s| {
        s.gitlab.push(GitLabAttestation {
            project: "facutuesca/gitlab-oidc-project".into(),
            project_id: 55235664,
            digest: hex(&gitlab_artifact),
            predicate_type: "https://docs.pypi.org/attestations/publish/v1".into(),
            signing_method: Some("sigstore".into()),
            status: "success".into(),
            bundle: json(&real("gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.sigstore.json")),
        });
        s.github.push(GitHubAttestation {
            owner: "trailofbits".into(),
            repo: "pypi-attestations".into(),
            repository_id: 772247423,
            digest: hex(&github_artifact),
            bundle: json(&real("github-pypi/pypi_attestations-0.0.19.tar.gz.slsa.sigstore.json")),
            by_url: false,
        });
    });
    let endpoints = api.endpoints();
    let gitlab_artifact = gitlab_artifact.display().to_string();
    let r = finish(command(
        &vouch_bin(),
        &[
            "verify-blob",
            &gitlab_artifact,
            "--attestations",
            "gitlab:https://gitlab.com/facutuesca/gitlab-oidc-project",
            "--attestations-api",
            &endpoints,
            "--certificate-identity",
            "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ],
    ));
    r.assert_code(0);
    assert_eq!(r.subject()["signatures"][0]["claims"]["gitlab"]["project_id"], "55235664");
    // Asked under another project, the same real attestation is refused.
    let r = finish(command(
        &vouch_bin(),
        &[
            "verify-blob",
            &gitlab_artifact,
            "--attestations",
            "gitlab:https://gitlab.com/55235665",
            "--attestations-api",
            &endpoints,
            "--certificate-identity-regexp",
            "https://gitlab.com/.*",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
        ],
    ));
    r.assert_code(1);

    let github_artifact = github_artifact.display().to_string();
    let r = finish(command(
        &vouch_bin(),
        &[
            "verify-blob",
            &github_artifact,
            "--attestations",
            "github:trailofbits/pypi-attestations",
            "--attestations-api",
            &endpoints,
            "--certificate-identity",
            "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
            "--certificate-oidc-issuer",
            testkit::GITHUB_ISSUER,
            "--format",
            "json",
        ],
    ));
    r.assert_code(0);
    let p = &r.subject()["signatures"][0]["provenance"];
    assert_eq!(
        p,
        &json!({
            "slsa_version": "v1", "build_platform": "github", "build_type": "https://actions.github.io/buildtypes/workflow/v1",
            "builder_id": "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19",
            "source": {"uri": "https://github.com/trailofbits/pypi-attestations", "host": "github.com", "repository": "trailofbits/pypi-attestations",
                       "ref": "refs/tags/v0.0.19", "ref_type": "tag", "ref_name": "v0.0.19", "commit": "08802efe1f8e5fec4ad842d6b8ce97656092ee72"},
            "entry_point": ".github/workflows/release.yml", "config_path": ".github/workflows/release.yml",
            "invocation_id": "https://github.com/trailofbits/pypi-attestations/actions/runs/12169989787/attempts/1",
            "runner": {"environment": "github-hosted"},
            "github": {"event_name": "release", "repository_id": "772247423", "repository_owner_id": "2314423",
                       "workflow_repository": "trailofbits/pypi-attestations", "workflow_path": ".github/workflows/release.yml", "workflow_ref": "refs/tags/v0.0.19"}
        })
    );
}

#[test]
fn manifests_fetch_by_digest_in_sharded_checks_and_the_provenance_policy_judges() {
    let mut lab = Lab::new("manifest");
    let gl = GitLab::default();
    let selfhosted = GitLab { runner_environment: "self-hosted".into(), ..GitLab::default() };
    let feature = GitLab { git_ref: "refs/heads/feature".into(), ..GitLab::default() };
    // Three files: provenance from main, from a self-hosted runner, from a feature branch.
    for (name, who) in [("a.tgz", &gl), ("b.tgz", &selfhosted), ("c.tgz", &feature)] {
        std::fs::write(lab.dir.join(name), name).unwrap();
        let bundle = lab.mint(SignRequest::dsse(name.as_bytes().to_vec(), who.identity(), Content::gitlab_slsa_v1(who)).name(name));
        let record =
            GitLabAttestation { digest: testkit::sha256_hex(name.as_bytes()), ..lab.gitlab("acme/app", V1, Some("sigstore"), bundle) };
        lab.api.with(|s| s.gitlab.push(record));
    }
    let gate = |subjects: &str| {
        format!(
            "version: 1\ntrusted_root: trusted_root.json\nattestations: [\"gitlab:https://gitlab.com/acme/app\"]\npolicy: [builtin]\n\
             identities:\n  - issuer: https://gitlab.com\n    subject_regexp: 'https://gitlab.com/acme/app//\\.gitlab-ci\\.yml@refs/heads/.*'\n\
             subjects:\n{subjects}"
        )
    };
    std::fs::write(
        lab.dir.join("policy.yaml"),
        "config:\n  provenance:\n    builders: [\"https://gitlab.com/acme/app/-/runners/*\"]\n    sources: [gitlab.com/acme/app]\n    refs: {branches: [main]}\n",
    )
    .unwrap();
    let manifest = lab.dir.join("vouch.yaml");
    std::fs::write(&manifest, gate("  - blob: \"*.tgz\"\n")).unwrap();
    let m = manifest.display().to_string();
    let policy = lab.dir.join("policy.yaml").display().to_string();

    let r = lab.vouch(&["check", &m, "--policy", &policy, "--format", "json"], &[]);
    r.assert_code(1);
    let report = r.json();
    let verdict =
        |name: &str| report["subjects"].as_array().unwrap().iter().find(|s| s["name"].as_str().unwrap().ends_with(name)).unwrap().clone();
    assert_eq!(verdict("a.tgz")["verdict"], "pass", "{report}");
    assert!(verdict("b.tgz")["reasons"].to_string().contains("provenance.self_hosted"), "{report}");
    assert!(verdict("c.tgz")["reasons"].to_string().contains("provenance.ref"), "{report}");

    // Sharded: each shard asks the API for its own subjects only; the merge needs both.
    std::fs::write(&manifest, gate("  - blob: a.tgz\n  - blob: \"[bc].tgz\"\n    attestations: []\n    bundle: \"{path}.none\"\n"))
        .unwrap();
    let mut reports = Vec::new();
    let at = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap().to_string();
    for shard in ["1/2", "2/2"] {
        let out = lab.dir.join(format!("shard-{}.json", &shard[..1]));
        let before = lab.api.requests();
        // One effective time for both shard jobs, as a pipeline gives it.
        let r = lab.vouch(
            &["check", &m, "--policy", &policy, "--shard", shard, "--effective-time", &at, "--output", &format!("json={}", out.display())],
            &[],
        );
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let asked = lab.api.requests() - before;
        let has_a = report["subjects"].as_array().unwrap().iter().any(|s| s["name"].as_str().unwrap().ends_with("a.tgz"));
        // a.tgz's shard lists and downloads (2 requests); the others ask nothing.
        assert_eq!(asked, if has_a { 2 } else { 0 }, "shard {shard}: {report}");
        reports.push(out.display().to_string());
    }
    let mut args = vec!["report", "merge"];
    args.extend(reports.iter().map(String::as_str));
    let merged = finish(command(&vouch_bin(), &args));
    merged.assert_code(1).assert_stdout_contains("3 subjects: 1 passed, 2 failed");

    // The plan records the sources: a shard run with other sources does not merge.
    std::fs::write(&manifest, gate("  - blob: a.tgz\n  - blob: \"[bc].tgz\"\n    attestations: [\"gitlab:acme/other\"]\n")).unwrap();
    let other = lab.dir.join("shard-other.json");
    lab.vouch(&["check", &m, "--policy", &policy, "--shard", "2/2", "--output", &format!("json={}", other.display())], &[]);
    let first = reports.first().unwrap().clone();
    finish(command(&vouch_bin(), &["report", "merge", &first, &other.display().to_string()])).assert_code(2);
}

#[test]
fn claims_show_the_provenance_of_real_npm_bundles() {
    // npm's v0.2 provenance of sigstore@1.3.0: the source and workflow come from
    // configSource and GITHUB_WORKFLOW_REF.
    let real = |rel: &str| shared_dir().join("real-bundles/github-npm").join(rel).display().to_string();
    let r = finish(command(
        &vouch_bin(),
        &["claims", "--bundle", &real("sigstore-1.3.0.provenance.sigstore.json"), &real("sigstore-1.3.0.tgz")],
    ));
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(doc["github"]["repository"], "sigstore/sigstore-js", "the signer's claims are still the document");
    let p = &doc["provenance"];
    assert_eq!(p["slsa_version"], "v0.2");
    assert_eq!(p["build_platform"], "github");
    assert_eq!(p["source"]["repository"], "sigstore/sigstore-js");
    assert_eq!(p["source"]["ref"], "refs/heads/main");
    assert_eq!(p["source"]["commit"], "dae8bd8eb433a4147b4655c00fe73e0f22bc0fb1");
    assert_eq!(p["github"]["workflow_path"], ".github/workflows/release.yml");
    assert_eq!(p["github"]["repository_id"], "495574555");
    // v1 (sigstore@3.1.0): the runner environment from the builder id.
    let r = finish(command(
        &vouch_bin(),
        &["claims", "--bundle", &real("sigstore-3.1.0.provenance.sigstore.json"), &real("sigstore-3.1.0.tgz")],
    ));
    assert_eq!(r.json()["provenance"]["runner"]["environment"], "github-hosted");
    assert_eq!(r.json()["provenance"]["source"]["commit"], "06cd267cbdc2eeaa04294995622db9f6ad2fa7cf");
}

#[test]
fn gitlab_local_ca_attestations_need_a_pinned_project_ca() {
    use testkit::local_ca::LocalCa;
    let lab = Lab::new("local-ca");
    let gl = GitLab::default();
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    // A rotated project CA: the old one (inactive) signed this attestation, the new one is active.
    let old = LocalCa::new("acme/app CA 1", now - day * 400, now + day * 365).unwrap();
    let new = LocalCa::new("acme/app CA 2", now - day, now + day * 730).unwrap();
    let content = Content::gitlab_slsa_v1(&gl);
    let bundle = old.sign(b"app 1.0", "app.tgz", &gl.identity(), &content, now - day, now + day * 30).unwrap();
    let record = lab.gitlab("acme/app", V1, Some("local_ca"), bundle.clone());
    lab.api.with(|s| {
        s.gitlab = vec![record.clone()];
        s.gitlab_cas = vec![(old.pem(), false), (new.pem(), true)];
    });
    let san = gl.san();
    let verify = |lab: &Lab, extra: &[&str]| {
        let mut args = vec![
            "verify-blob",
            lab.artifact.as_str(),
            "--attestations",
            "gitlab:acme/app",
            "--certificate-identity",
            san.as_str(),
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        lab.vouch(&args, &[])
    };

    // Nothing pinned: refused, naming the CAs the project lists (never trusted on first use).
    let r = verify(&lab, &[]);
    r.assert_code(1);
    let why = reasons(&r);
    assert!(why.contains("vouch::attest::local-ca") && why.contains(&old.fingerprint()) && why.contains(&new.fingerprint()), "{why}");
    // Only the active CA pinned: the attestation's CA is listed but not trusted.
    let pin_new = format!("gitlab:acme/app=sha256:{}", new.fingerprint());
    let r = verify(&lab, &["--local-ca", &pin_new]);
    r.assert_code(1);
    assert!(reasons(&r).contains("vouch::verify::certificate"), "{}", r.stdout);
    // The inactive CA pinned (rotation keeps old attestations verifiable): verified, and
    // the report says local_ca with the CA, no log entry.
    let pin_old = format!("gitlab:acme/app=sha256:{}", old.fingerprint());
    let r = verify(&lab, &["--local-ca", &pin_new, "--local-ca", &pin_old]);
    r.assert_code(0);
    let sig = &r.subject()["signatures"][0];
    assert_eq!(sig["local_ca"], old.fingerprint());
    assert_eq!(sig["tlog"], json!([]));
    assert_eq!(sig["provenance"]["source"]["repository"], "acme/app");
    // Or the CA as a PEM file.
    let pem = lab.dir.join("project-ca.pem");
    std::fs::write(&pem, old.pem()).unwrap();
    let pem_pin = format!("gitlab:acme/app={}", pem.display());
    verify(&lab, &["--local-ca", &pem_pin]).assert_code(0);
    // A CA pinned for another project never vouches for this one's attestations.
    let elsewhere = format!("gitlab:acme/other=sha256:{}", old.fingerprint());
    let r = verify(&lab, &["--local-ca", &elsewhere]);
    r.assert_code(1);
    assert!(reasons(&r).contains("vouch::attest::local-ca"), "{}", r.stdout);
    // A pinned certificate that is not a CA (the signing leaf itself) is refused.
    let leaf_der = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap(),
    )
    .unwrap();
    let leaf_pem = lab.dir.join("leaf.pem");
    std::fs::write(&leaf_pem, testkit::x509::pem(&leaf_der)).unwrap();
    let r = verify(&lab, &["--local-ca", &format!("gitlab:acme/app={}", leaf_pem.display())]);
    r.assert_code(1);
    assert!(reasons(&r).contains("is not a CA"), "{}", r.stdout);

    // No log, no signed time: the certificate must be valid at the effective time.
    let later = crate_rfc3339(now + day * 60);
    let r = verify(&lab, &["--local-ca", &pin_old, "--effective-time", &later]);
    r.assert_code(1);
    assert!(reasons(&r).contains("vouch::verify::certificate"), "{}", r.stdout);

    // An expired project CA is refused even when pinned.
    let expired = LocalCa::new("acme/app CA 0", now - day * 800, now - day * 400).unwrap();
    let old_bundle = expired.sign(b"app 1.0", "app.tgz", &gl.identity(), &content, now - day * 500, now + day).unwrap();
    lab.api.with(|s| {
        s.gitlab = vec![GitLabAttestation { bundle: old_bundle.clone(), ..record.clone() }];
        s.gitlab_cas = vec![(expired.pem(), false)];
    });
    let r = verify(&lab, &["--local-ca", &format!("gitlab:acme/app=sha256:{}", expired.fingerprint())]);
    r.assert_code(1);
    assert!(reasons(&r).contains("is valid from"), "{}", r.stdout);

    // A local_ca bundle listed as `sigstore` is judged against the Sigstore root: refused.
    lab.api.with(|s| {
        s.gitlab = vec![GitLabAttestation { signing_method: Some("sigstore".into()), ..record.clone() }];
        s.gitlab_cas = vec![(old.pem(), false)];
    });
    let r = verify(&lab, &["--local-ca", &pin_old]);
    r.assert_code(1);
    assert!(!reasons(&r).contains("\"vouch::attest::local-ca\""), "{}", r.stdout);

    // Another project's local_ca attestation, under a pinned CA: refused by origin.
    let evil = GitLab { project: "evil/app".into(), ..GitLab::default() };
    let evil_bundle = old.sign(b"app 1.0", "app.tgz", &evil.identity(), &content, now - day, now + day * 30).unwrap();
    lab.api.with(|s| s.gitlab = vec![GitLabAttestation { bundle: evil_bundle, ..record.clone() }]);
    let r = lab.vouch(
        &[
            "verify-blob",
            &lab.artifact,
            "--attestations",
            "gitlab:acme/app",
            "--local-ca",
            &pin_old,
            "--certificate-identity-regexp",
            "https://gitlab.com/.*",
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--format",
            "json",
        ],
        &[],
    );
    r.assert_code(1);
    assert!(reasons(&r).contains("vouch::attest::origin"), "{}", r.stdout);

    // A pin that is neither a fingerprint nor a readable PEM file stops the run.
    verify(&lab, &["--local-ca", "not-a-pin"]).assert_code(2);
    verify(&lab, &["--local-ca", &format!("github:org=sha256:{}", old.fingerprint())]).assert_code(2);
    verify(&lab, &["--local-ca", "gitlab:acme/app=missing.pem"]).assert_code(2);
}

fn crate_rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
