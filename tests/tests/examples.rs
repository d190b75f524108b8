//! The examples do what their READMEs say, on signatures minted by the testkit.

use std::path::Path;

use testkit::{GitLab, SignRequest, VirtualSigstore};
use vouch_tests::{run, scratch};

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
            "--policy",
            &repo("policies"),
            "--policy",
            &repo("examples/gitlab-release-gate/policy"),
            "--output",
            "json",
        ]);
        let doc = r.json();
        match expected {
            None => assert_eq!(r.code, 0, "{what} should ship:\n{}", r.stderr),
            Some(code) => {
                assert_eq!(r.code, 1, "{what} should not ship:\n{}", r.stderr);
                let codes: Vec<&str> = doc["reasons"].as_array().unwrap().iter().filter_map(|r| r["code"].as_str()).collect();
                assert!(codes.contains(&code), "{what}: expected {code} in {codes:?}");
            }
        }
    }
    let t = run(&["test", &repo("policies"), &repo("examples/gitlab-release-gate/policy")]);
    t.assert_code(0);
}
