//! The examples do what their READMEs say, on signatures minted by the testkit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use testkit::{GitLab, SignRequest, VirtualSigstore};
mod common;
use common::{run, scratch};

fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel).display().to_string()
}

#[test]
fn gitlab_release_gate() {
    let dir = scratch("example-gate");
    let mut sigstore = VirtualSigstore::new().unwrap();
    let root = dir.join("trusted_root.json");
    std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    let app = GitLab { project: "group/app".into(), ..GitLab::default() };
    let cases: Vec<(&str, GitLab, Option<&str>)> = vec![
        ("main", app.clone(), None),
        ("release tag", GitLab { git_ref: "refs/tags/v1.2.3".into(), ..app.clone() }, None),
        ("feature branch", GitLab { git_ref: "refs/heads/feature/x".into(), ..app.clone() }, Some("gitlab.ref")),
        ("pre-release tag", GitLab { git_ref: "refs/tags/v1.2.3-rc1".into(), ..app.clone() }, Some("release.tag")),
        ("self-hosted runner", GitLab { runner_environment: "self-hosted".into(), ..app.clone() }, Some("gitlab.runner")),
        ("other project", GitLab { project: "group/other".into(), ..app.clone() }, Some("gitlab.project")),
        (
            "fork merge request",
            GitLab { source_project: Some("someone/app".into()), git_ref: "refs/merge-requests/3/head".into(), ..app.clone() },
            Some("gitlab.fork"),
        ),
    ];
    for (i, (what, gl, expected)) in cases.into_iter().enumerate() {
        let artifact = dir.join(format!("app-{i}.tar.gz"));
        std::fs::write(&artifact, format!("release {what}")).unwrap();
        let minted = sigstore.sign(SignRequest::message(format!("release {what}"), gl.identity())).unwrap();
        let bundle = dir.join(format!("app-{i}.sigstore.json"));
        std::fs::write(&bundle, minted.json()).unwrap();
        let r = run(&[
            "verify-blob",
            &artifact.display().to_string(),
            "--bundle",
            &bundle.display().to_string(),
            "--trusted-root",
            &root.display().to_string(),
            // As the example's README and .gitlab-ci.yml say: the bundled library, built in.
            "--policy",
            "builtin",
            "--policy",
            &repo("examples/gitlab-release-gate/policy"),
            "--format",
            "json",
        ]);
        let doc = r.subject();
        match expected {
            None => assert_eq!(r.code, 0, "{what} should ship:\n{}", r.stderr),
            Some(code) => {
                assert_eq!(r.code, 1, "{what} should not ship:\n{}", r.stderr);
                let codes: Vec<&str> = doc["reasons"].as_array().unwrap().iter().filter_map(|r| r["code"].as_str()).collect();
                assert!(codes.contains(&code), "{what}: expected {code} in {codes:?}");
            }
        }
    }
    let t = run(&["test", "builtin", &repo("examples/gitlab-release-gate/policy")]);
    t.assert_code(0);
}

/// One CI job of examples/gitlab-sharded-gate/.gitlab-ci.yml, run as GitLab's runner would:
/// each script line in a POSIX shell that stops at the first failing line, in the project
/// folder, with the job's variables.
fn run_job(ci: &serde_json::Value, job: &str, dir: &Path, vars: &[(&str, String)]) -> common::Run {
    let bin_dir = common::vouch_bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let script: Vec<String> = ci[job]["script"]
        .as_array()
        .unwrap_or_else(|| panic!("job {job} has a script"))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-e").arg("-c").arg(script.join("\n")).current_dir(dir).env("PATH", path).env("NO_COLOR", "1");
    for scope in [&ci[".vouch"]["variables"], &ci[job]["variables"]] {
        for (k, v) in scope.as_object().into_iter().flatten() {
            cmd.env(k, v.as_str().unwrap());
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn gitlab_sharded_gate_runs_as_written() {
    let ci: serde_json::Value =
        yaml_serde::from_str(&std::fs::read_to_string(repo("examples/gitlab-sharded-gate/.gitlab-ci.yml")).unwrap()).unwrap();
    let total = ci["gate"]["parallel"].as_u64().unwrap();
    assert_eq!(ci["decide"]["needs"], serde_json::json!(["gate"]), "the merge waits for every gate job");
    let created_at = "2026-11-30T09:15:00Z".to_string();

    // A project whose release manifest lists 12 artifacts signed by its main branch.
    let pipeline = |name: &str, bad: Option<usize>| -> PathBuf {
        let dir = scratch(name);
        let release = dir.join("release");
        std::fs::create_dir_all(release.join("dist")).unwrap();
        let mut sigstore = VirtualSigstore::new().unwrap();
        std::fs::write(release.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        for i in 0..12 {
            let gl = if bad == Some(i) { GitLab { project: "acme/other".into(), ..GitLab::default() } } else { GitLab::default() };
            let body = format!("artifact {i}");
            std::fs::write(release.join(format!("dist/app-{i:02}.tar.gz")), &body).unwrap();
            let minted = sigstore.sign(SignRequest::message(body, gl.identity())).unwrap();
            std::fs::write(release.join(format!("dist/app-{i:02}.tar.gz.sigstore.json")), minted.json()).unwrap();
        }
        std::fs::write(
            release.join("vouch.yaml"),
            format!(
                "version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - {{issuer: https://gitlab.com, subject: \"{}\"}}\nsubjects:\n  - blob: \"dist/*.tar.gz\"\n",
                GitLab::default().san()
            ),
        )
        .unwrap();
        dir
    };
    let gate = |dir: &Path, index: u64| {
        run_job(
            &ci,
            "gate",
            dir,
            &[("CI_NODE_INDEX", index.to_string()), ("CI_NODE_TOTAL", total.to_string()), ("CI_PIPELINE_CREATED_AT", created_at.clone())],
        )
    };
    let decide = |dir: &Path| run_job(&ci, "decide", dir, &[("CI_PIPELINE_CREATED_AT", created_at.clone())]);

    // Every artifact signed as required: every job passes, the merge holds all 12 subjects,
    // judged at the pipeline's creation time, and writes what the job publishes.
    let dir = pipeline("example-sharded-ok", None);
    for i in 1..=total {
        gate(&dir, i).assert_code(0);
        std::thread::sleep(std::time::Duration::from_millis(1100)); // jobs start at different times
    }
    decide(&dir).assert_code(0);
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("vouch.json")).unwrap()).unwrap();
    assert_eq!((merged["summary"]["subjects"].as_u64(), merged["summary"]["passed"].as_u64()), (Some(12), Some(12)), "{merged}");
    assert_eq!(merged["effective_time"], created_at);
    assert!(dir.join("vouch.md").exists() && dir.join("gl-code-quality.json").exists());

    // One artifact signed by another project: its shard's job records it, the merge fails.
    let dir = pipeline("example-sharded-bad", Some(7));
    for i in 1..=total {
        gate(&dir, i).assert_code(0);
    }
    let r = decide(&dir);
    r.assert_code(1);
    assert!(r.stdout.contains("app-07.tar.gz"), "{}", r.stdout);

    // A gate job that never wrote its report (it failed, or was left out): the merge refuses.
    let dir = pipeline("example-sharded-missing", None);
    for i in (1..=total).filter(|i| *i != 3) {
        gate(&dir, i).assert_code(0);
    }
    decide(&dir).assert_code(2).assert_stderr_contains(&format!("shard 3/{total} of the plan is missing"));
}

/// examples/gitlab-scheduled-review: the job's script as written, twice (last week and
/// this week), signing summaries keyless against the testkit's Fulcio and Rekor.
#[test]
fn gitlab_scheduled_review_runs_as_written() {
    let ci: serde_json::Value =
        yaml_serde::from_str(&std::fs::read_to_string(repo("examples/gitlab-scheduled-review/.gitlab-ci.yml")).unwrap()).unwrap();
    assert_eq!(ci["review"]["rules"][0]["if"], "$CI_PIPELINE_SOURCE == \"schedule\"");
    assert_eq!(ci["review"]["id_tokens"]["SIGSTORE_ID_TOKEN"]["aud"], "sigstore");
    // The example's own files load: its waivers check against the bundled policies.
    let example = repo("examples/gitlab-scheduled-review/review");
    run(&["test", "builtin", "--waivers", &format!("{example}/waivers.yaml")]).assert_code(0);

    // The estate: three files released by acme/app, under the test Sigstore.
    let dir = scratch("example-scheduled-review");
    let review = dir.join("review");
    std::fs::create_dir_all(review.join("dist")).unwrap();
    let mut sigstore = VirtualSigstore::new().unwrap();
    std::fs::write(review.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    for i in 0..3 {
        let body = format!("release {i}");
        std::fs::write(review.join(format!("dist/app-{i}.tar.gz")), &body).unwrap();
        let minted = sigstore.sign(SignRequest::message(body, GitLab::default().identity())).unwrap();
        std::fs::write(review.join(format!("dist/app-{i}.tar.gz.sigstore.json")), minted.json()).unwrap();
    }
    std::fs::copy(format!("{example}/gate.yaml"), review.join("gate.yaml")).unwrap();
    std::fs::copy(format!("{example}/waivers.yaml"), review.join("waivers.yaml")).unwrap();
    std::fs::write(
        review.join("estate.yaml"),
        "version: 1\ntrusted_root: trusted_root.json\npolicy: [builtin, gate.yaml]\nsubjects:\n  - blob: \"dist/*.tar.gz\"\n",
    )
    .unwrap();
    let server = testkit::signing::SigningServer::start(sigstore);
    let reviews = GitLab { project: "acme/reviews".into(), ..GitLab::default() };
    let vars = vec![
        ("SIGSTORE_ID_TOKEN", testkit::signing::oidc_token(testkit::signing::gitlab_claims(&reviews))),
        ("CI_PROJECT_URL", "https://gitlab.com/acme/reviews".to_string()),
        ("CI_DEFAULT_BRANCH", "main".to_string()),
        ("CI_SERVER_URL", "https://gitlab.com".to_string()),
        ("VOUCH_FULCIO_URL", server.url.clone()),
        ("VOUCH_REKOR_URL", server.url.clone()),
    ];

    // Last week: everything verified in full, a summary signed for each.
    let first = run_job(&ci, "review", &dir, &vars);
    first.assert_code(0);
    first.assert_stderr_contains("wrote 3 verification summaries");
    for artifact in ["review.html", "review.md", "report.json", "vouch.xml", "previous/report.json"] {
        assert!(dir.join(artifact).exists(), "{artifact} missing:\n{}", first.stderr);
    }
    // This week: nothing changed, every subject passes by its summary; the changes are listed.
    let second = run_job(&ci, "review", &dir, &vars);
    second.assert_code(0);
    second.assert_stderr_contains("3 of 3 subjects passed by a verification summary");
    let changes = std::fs::read_to_string(dir.join("changes.md")).unwrap();
    assert!(changes.contains("vouch review: what changed"), "{changes}");
    let html = std::fs::read_to_string(dir.join("review.html")).unwrap();
    assert!(html.contains("Changes since the previous review") && html.contains("verified by summary"));
}
