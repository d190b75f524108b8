//! The gate fails closed: no misconfiguration, partial run, confusable claim, unbounded
//! or nondeterministic policy, forged output or extra root certificate ends in a pass.
//! One test per class of mistake or attack; each tries several members of the class.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use testkit::{CertIdentity, Content, ExtValue, Format, GitHub, GitLab, San, SignRequest, VirtualSigstore, GITHUB_ISSUER};
mod common;
use common::{run, scratch, Run};

fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel).display().to_string()
}

/// A private Sigstore with a scratch folder.
struct Lab {
    dir: PathBuf,
    sigstore: VirtualSigstore,
    root: String,
    n: usize,
}

impl Lab {
    fn new(name: &str) -> Self {
        let dir = scratch(name);
        let sigstore = VirtualSigstore::new().unwrap();
        let root = dir.join("trusted_root.json");
        std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        Lab { dir, sigstore, root: root.display().to_string(), n: 0 }
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Mint a bundle for a new artifact: (artifact, bundle).
    fn mint(&mut self, request: SignRequest) -> (String, String) {
        self.n += 1;
        let artifact = self.dir.join(format!("artifact-{}.bin", self.n));
        std::fs::write(&artifact, &request.artifact).unwrap();
        let minted = self.sigstore.sign(request).unwrap();
        let bundle = self.dir.join(format!("artifact-{}.bin.sigstore.json", self.n));
        std::fs::write(&bundle, minted.json()).unwrap();
        (artifact.display().to_string(), bundle.display().to_string())
    }

    fn verify(&self, (artifact, bundle): &(String, String), extra: &[&str]) -> Run {
        let mut args = vec!["verify-blob", artifact, "--bundle", bundle, "--trusted-root", &self.root];
        args.extend(extra);
        run(&args)
    }

    fn claims(&self, (artifact, bundle): &(String, String), extra: &[&str]) -> Run {
        let mut args = vec!["claims", "--bundle", bundle, artifact, "--trusted-root", &self.root];
        args.extend(extra);
        run(&args)
    }
}

fn message(artifact: &str, identity: CertIdentity) -> SignRequest {
    SignRequest::message(artifact.as_bytes().to_vec(), identity)
}

// ---- 1. Configuration is checked, never guessed ----------------------------------

#[test]
fn configuration_vouch_cannot_check_stops_the_run_before_any_subject() {
    let mut lab = Lab::new("fc-config");
    let signed = lab.mint(message("app", GitLab::default().identity()));
    let policies = repo("policies");
    let config = |lab: &Lab, name: &str, text: &str| lab.write(&format!("{name}/config.yaml"), text);
    let gate = |lab: &Lab, cfg: &str| lab.verify(&signed, &["--policy", &policies, "--policy", cfg]);

    // The bundled library alone decides nothing about the signer: refused, not passed.
    lab.verify(&signed, &["--policy", &policies])
        .assert_code(2)
        .assert_stderr_contains("vouch::policy::no-signer-decision")
        .assert_stderr_contains("vouch.gitlab (needs config.gitlab)");
    // Configuring only packages that do not judge signers changes nothing.
    let age = config(&lab, "age", "config:\n  signing_age:\n    max_days: 30\n");
    gate(&lab, &age).assert_code(2).assert_stderr_contains("vouch::policy::no-signer-decision");

    // A package loaded by a path of its own is one the user asked for: unconfigured, it
    // would judge nothing, so it is refused (also with identity flags that decide who
    // may sign).
    let id = ["--certificate-identity", &GitLab::default().san(), "--certificate-oidc-issuer", "https://gitlab.com"];
    let age_dir = repo("policies/signing_age");
    for path in [age_dir.clone(), format!("{age_dir}/signing_age.rego")] {
        lab.verify(&signed, &[&id[..], &["--policy", &path]].concat())
            .assert_code(2)
            .assert_stderr_contains("vouch::policy::unconfigured")
            .assert_stderr_contains("loads vouch.signing_age, but nothing configures it (config.signing_age)");
    }
    // A package's file given by itself brings its schema: its configuration is checked.
    let typo = config(&lab, "age-typo", "config:\n  signing_age:\n    max_dayz: 30\n");
    lab.verify(&signed, &[&id[..], &["--policy", &format!("{age_dir}/signing_age.rego"), "--policy", &typo]].concat())
        .assert_code(2)
        .assert_stderr_contains("did you mean max_days?");
    lab.verify(&signed, &[&id[..], &["--policy", &age_dir, "--policy", &age]].concat()).assert_code(0);
    // A folder of several packages (the bundled library) judges with those configured.
    lab.verify(&signed, &[&id[..], &["--policy", &policies]].concat()).assert_code(0);
    // A misspelled package name under config.
    let c = config(&lab, "pkg", "config:\n  gitlb:\n    projects: [acme/app]\n    refs: {branches: [main]}\n");
    gate(&lab, &c)
        .assert_code(2)
        .assert_stderr_contains("vouch::policy::config")
        .assert_stderr_contains("config.yaml:2:3")
        .assert_stderr_contains("no loaded package reads config.gitlb (did you mean gitlab?)");
    // A misspelled top-level key: data that no policy reads configures nothing.
    let c = config(&lab, "root", "confg:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n");
    lab.verify(
        &signed,
        &["--policy", &policies, "--policy", &c, "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp", ".*"],
    )
    .assert_code(2)
    .assert_stderr_contains("vouch::policy::config")
    .assert_stderr_contains("config.yaml:1:1")
    .assert_stderr_contains("no loaded policy reads data.confg (did you mean config?)");
    // Data under a package's path (vouch's own, or a user's package) would override its
    // rules: `vouch.signing_age.fresh`, `vouch.lib.signer`, `acme.helpers.allowed`.
    let any = ["--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp", ".*"];
    let c = config(&lab, "vouchroot", "vouch:\n  signing_age:\n    fresh: true\n");
    lab.verify(&signed, &[&["--policy", &policies, "--policy", &c][..], &any].concat())
        .assert_code(2)
        .assert_stderr_contains("config.yaml:1:1")
        .assert_stderr_contains("data.vouch is where the policies' rules live");
    let helper = lab.write("helper/helpers.rego", "package acme.helpers\n\nallowed := {\"acme/app\"}\n");
    let c = config(&lab, "userroot", "acme:\n  helpers:\n    allowed: [evil/app]\n");
    lab.verify(&signed, &[&["--policy", &policies, "--policy", &helper, "--policy", &c][..], &any].concat())
        .assert_code(2)
        .assert_stderr_contains("data.acme is where the policies' rules live (package acme.helpers)");
    // However the package is written (`package data["helpers"]`, the name on the next
    // line), its path is what regorus parsed.
    for (i, header) in
        ["package data[\"helpers\"]", "package\nhelpers", "package # the helpers\nhelpers", "package\thelpers"].into_iter().enumerate()
    {
        let helper = lab.write(&format!("odd{i}/h.rego"), &format!("{header}\n\nok := false\n"));
        let c = config(&lab, &format!("odd{i}-data"), "helpers:\n  ok: true\n");
        lab.verify(&signed, &[&["--policy", &policies, "--policy", &helper, "--policy", &c][..], &any].concat())
            .assert_code(2)
            .assert_stderr_contains("data.helpers is where the policies' rules live");
    }
    // A misspelled key, at any depth, with the allowed keys.
    let c = config(&lab, "deep", "config:\n  gitlab:\n    projects: [acme/app]\n    refs:\n      branchs: [main]\n");
    gate(&lab, &c)
        .assert_code(2)
        .assert_stderr_contains("config.yaml:5:7")
        .assert_stderr_contains("unknown key \"branchs\" (did you mean branches?); allowed: branches, semver_tags, tags");
    let c = config(&lab, "top", "config:\n  gitlab:\n    project: [acme/app]\n    refs: {branches: [main]}\n");
    gate(&lab, &c).assert_code(2).assert_stderr_contains("unknown key \"project\" (did you mean projects?)");
    // YAML 1.1 booleans and quoted booleans are strings, and a boolean was expected.
    for (i, value) in ["no", "\"false\"", "off", "yes"].into_iter().enumerate() {
        let c = config(
            &lab,
            &format!("bool{i}"),
            &format!("config:\n  gitlab:\n    projects: [acme/app]\n    refs: {{branches: [main]}}\n    allow_fork_pipelines: {value}\n"),
        );
        gate(&lab, &c)
            .assert_code(2)
            .assert_stderr_contains("config.gitlab.allow_fork_pipelines: expected boolean, found the string")
            .assert_stderr_contains("config.yaml:5:5");
    }
    // Wrong types.
    let c = config(&lab, "type", "config:\n  gitlab:\n    projects: acme/app\n    refs: {branches: [main]}\n");
    gate(&lab, &c).assert_code(2).assert_stderr_contains("config.gitlab.projects: expected array, found the string \"acme/app\"");
    let c = config(
        &lab,
        "num",
        "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n  signing_age:\n    max_days: thirty\n",
    );
    gate(&lab, &c).assert_code(2).assert_stderr_contains("config.signing_age.max_days: expected number");
    // A YAML key that is not a string cannot slip past the schema check.
    for (i, key) in ["1", "true", "[a, b]", "null"].into_iter().enumerate() {
        let c = config(
            &lab,
            &format!("key{i}"),
            &format!("config:\n  gitlab:\n    projects: [acme/app]\n    refs: {{branches: [main]}}\n    ? {key}\n    : true\n"),
        );
        gate(&lab, &c).assert_code(2).assert_stderr_contains("vouch::policy::");
    }
    // Absent refs never mean "any ref"; saying so takes any_ref: true.
    let c = config(&lab, "norefs", "config:\n  gitlab:\n    projects: [acme/app]\n");
    gate(&lab, &c).assert_code(2).assert_stderr_contains("config.gitlab: refs is required");
    let c = config(&lab, "anyref", "config:\n  gitlab:\n    projects: [acme/app]\n    any_ref: true\n");
    gate(&lab, &c).assert_code(0);
    let c = config(&lab, "anyref-false", "config:\n  gitlab:\n    projects: [acme/app]\n    any_ref: false\n");
    gate(&lab, &c).assert_code(2).assert_stderr_contains("config.gitlab.any_ref: expected true");
    // projects is required; an empty list is refused too.
    let c = config(&lab, "noproj", "config:\n  gitlab:\n    refs: {branches: [main]}\n");
    gate(&lab, &c).assert_code(2).assert_stderr_contains("projects is required");
    let c = config(&lab, "emptyproj", "config:\n  gitlab:\n    projects: []\n    refs: {branches: [main]}\n");
    gate(&lab, &c).assert_code(2).assert_stderr_contains("needs at least 1 item");
    // A correct configuration passes, and JSON data files are checked the same way.
    let c = config(&lab, "ok", "config:\n  gitlab:\n    projects: [\"acme/*\"]\n    refs: {branches: [main]}\n");
    gate(&lab, &c).assert_code(0);
    let j =
        lab.write("json/config.json", "{\"config\": {\"gitlab\": {\"projects\": [\"acme/*\"], \"refs\": {\"branches\": [\"main\"]}, \"runner_environment\": [\"self-hosted\"]}}}");
    gate(&lab, &j).assert_code(2).assert_stderr_contains("config.json:1:").assert_stderr_contains("did you mean runner_environments?");
}

#[test]
fn users_packages_declare_their_schema_the_same_way() {
    let mut lab = Lab::new("fc-user-schema");
    let signed = lab.mint(message("app", GitLab::default().identity()));
    let id = ["--certificate-identity", &GitLab::default().san(), "--certificate-oidc-issuer", "https://gitlab.com"];
    let rego =
        "package vouch.release\ndeny contains \"bad tag\" if {\n  some s in input.signatures\n  not regex.match(data.config.release.tag_pattern, s.claims.gitlab.ref_name)\n}\n";
    lab.write("p/release.rego", rego);
    lab.write(
        "p/config.schema.json",
        r#"{"type": "object", "properties": {"tag_pattern": {"type": "string"}}, "required": ["tag_pattern"]}"#,
    );
    let p = lab.dir.join("p").display().to_string();
    let data = |lab: &Lab, name: &str, text: &str| lab.write(&format!("{name}.yaml"), text);
    let ok = data(&lab, "ok", "config:\n  release:\n    tag_pattern: \"^main$\"\n");
    lab.verify(&signed, &[&id[..], &["--policy", &p, "--policy", &ok]].concat()).assert_code(0);
    let typo = data(&lab, "typo", "config:\n  release:\n    tag_patern: \"^main$\"\n");
    lab.verify(&signed, &[&id[..], &["--policy", &p, "--policy", &typo]].concat())
        .assert_code(2)
        .assert_stderr_contains("typo.yaml:3:5")
        .assert_stderr_contains("unknown key \"tag_patern\" (did you mean tag_pattern?)");
    // A package without a schema cannot be configured: vouch could not check it.
    lab.write("q/q.rego", "package vouch.q\ndeny contains \"x\" if { data.config.q.on == true; false }\n");
    let q = lab.dir.join("q").display().to_string();
    let qdata = data(&lab, "q", "config:\n  q:\n    on: true\n");
    lab.verify(&signed, &[&id[..], &["--policy", &q, "--policy", &qdata]].concat())
        .assert_code(2)
        .assert_stderr_contains("package vouch.q declares no configuration schema");
    // A schema vouch cannot apply is refused, not ignored.
    lab.write("r/r.rego", "package vouch.r\ndeny contains \"x\" if { false }\n");
    lab.write("r/config.schema.json", r#"{"type": "object", "patternProperties": {"^x": {}}}"#);
    let r = lab.dir.join("r").display().to_string();
    lab.verify(&signed, &[&id[..], &["--policy", &r]].concat())
        .assert_code(2)
        .assert_stderr_contains("vouch::policy::schema")
        .assert_stderr_contains("does not implement the JSON Schema keyword \"patternProperties\"");
    // A package that says it judges signers must say whom it accepts.
    lab.write("s/s.rego", "package vouch.s\ndeny contains \"x\" if { false }\n");
    lab.write("s/config.schema.json", r#"{"x-vouch": {"judges_signer": true}, "type": "object", "properties": {}}"#);
    let s = lab.dir.join("s").display().to_string();
    lab.verify(&signed, &[&id[..], &["--policy", &s]].concat()).assert_code(2).assert_stderr_contains("defines no `accepted` rule");
    // A signer judge's verdict is enforced by vouch, even when the package has no deny
    // rule for it: no accepted signature, no pass.
    lab.write("t/t.rego", "package vouch.mine\naccepted contains i if {\n  some i, s in input.signatures\n  s.claims.gitlab.project_path == data.config.mine.project\n}\n");
    lab.write(
        "t/config.schema.json",
        r#"{"x-vouch": {"judges_signer": true}, "type": "object", "required": ["project"], "properties": {"project": {"type": "string"}}}"#,
    );
    let t = lab.dir.join("t").display().to_string();
    let mine = |lab: &Lab, project: &str| {
        lab.write(&format!("mine-{}.yaml", project.replace('/', "-")), &format!("config:\n  mine:\n    project: {project}\n"))
    };
    let other = mine(&lab, "acme/other");
    lab.verify(&signed, &["--policy", &t, "--policy", &other]).assert_code(1).assert_stderr_contains("vouch::policy::no-accepted-signer");
    let app = mine(&lab, "acme/app");
    lab.verify(&signed, &["--policy", &t, "--policy", &app]).assert_code(0);
}

#[test]
fn manifests_are_checked_like_policy_data() {
    let mut lab = Lab::new("fc-manifest");
    let (artifact, _) = lab.mint(message("app", GitLab::default().identity()));
    let name = Path::new(&artifact).file_name().unwrap().to_string_lossy().to_string();
    let policies = repo("policies");
    let manifest = |lab: &Lab, file: &str, body: &str| {
        lab.write(file, &format!("version: 1\ntrusted_root: trusted_root.json\npolicy: [{policies}]\n{body}"))
    };
    // No identities and no configured signer judge: refused before anything is read.
    let m = manifest(&lab, "none.yaml", &format!("subjects:\n  - blob: {name}\n"));
    run(&["check", &m]).assert_code(2).assert_stderr_contains("vouch::policy::no-signer-decision");
    // Per-subject data is checked against the schemas, pointing into the manifest.
    let m = manifest(
        &lab,
        "subject-data.yaml",
        &format!("subjects:\n  - blob: {name}\n    data:\n      config:\n        gitlab:\n          projects: [acme/app]\n          refs: {{branchs: [main]}}\n"),
    );
    run(&["check", &m]).assert_code(2).assert_stderr_contains("subject-data.yaml:10:").assert_stderr_contains("unknown key \"branchs\"");
    // A subject whose data configures the GitLab gate is judged by it.
    let m = manifest(
        &lab,
        "subject-ok.yaml",
        &format!("subjects:\n  - blob: {name}\n    data:\n      config:\n        gitlab:\n          projects: [acme/app]\n          refs: {{branches: [main]}}\n"),
    );
    run(&["check", &m]).assert_code(0);
    // Data in the policies' own namespace would stand in for their rules (a subject's
    // `vouch.gitlab.deny`, a library helper): refused, per subject and in data files.
    let m = manifest(
        &lab,
        "subject-vouch.yaml",
        &format!("identities:\n  - {{issuer: https://gitlab.com, subject: x}}\nsubjects:\n  - blob: {name}\n    data:\n      vouch:\n        gitlab:\n          deny: []\n"),
    );
    run(&["check", &m]).assert_code(2).assert_stderr_contains("data.vouch is where the policies' rules live");
    // A batch that judges nothing is an error.
    let m = manifest(&lab, "empty.yaml", "identities:\n  - {issuer: https://gitlab.com, subject: x}\nsubjects: []\n");
    run(&["check", &m]).assert_code(2).assert_stderr_contains("subjects is empty");
    // A glob that matches nothing fails its subject (never a pass).
    let m = manifest(
        &lab,
        "nomatch.yaml",
        "identities:\n  - {issuer: https://gitlab.com, subject: x}\nsubjects:\n  - blob: \"nothing-*.tar.gz\"\n",
    );
    run(&["check", &m]).assert_code(1).assert_stdout_contains("vouch::check::no-match");
}

// ---- 2. An attestation counts only when its signer is accepted --------------------

#[test]
fn attestations_count_only_from_accepted_signers() {
    use testkit::registry::{block_on, Registry};
    let registry = common::TestRegistry::start("fc-attestations");
    let reg = Registry::new(&registry.host);
    let mut lab = Lab::new("fc-attestations");
    let app = GitLab::default();
    let other = GitLab { project: "acme/other".into(), ..GitLab::default() };
    let provenance = Content::slsa_v1("https://gitlab.com/acme/app/-/runners/1");
    // An image signed by acme/app, its SLSA provenance by `attester`.
    let image = |lab: &mut Lab, name: &str, attester: &GitLab| -> String {
        let img = block_on(reg.push_image(&format!("acme/{name}"), "1.0", name)).unwrap().unwrap();
        let sig = lab.sigstore.sign_image(&format!("{}/acme/{name}", registry.host), &img.bytes, app.identity(), None).unwrap();
        block_on(reg.push_cosign_layer(&format!("acme/{name}"), &img.digest, &sig)).unwrap().unwrap();
        let att = lab.sigstore.attest_image(&img.bytes, attester.identity(), provenance.clone(), None).unwrap();
        block_on(reg.push_cosign_layer(&format!("acme/{name}"), &img.digest, &att)).unwrap().unwrap();
        format!("{}/acme/{name}@{}", registry.host, img.digest)
    };
    let own = image(&mut lab, "own", &app);
    let foreign = image(&mut lab, "foreign", &other);
    let gate = lab.write(
        "gate/config.yaml",
        "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n  attestations:\n    required_predicate_types: [https://slsa.dev/provenance/v1]\n",
    );
    let policies = repo("policies");
    let verify = |image: &str, extra: &[&str]| {
        let mut args =
            vec!["verify-image", image, "--trusted-root", &lab.root, "--policy", &policies, "--policy", &gate, "--format", "json"];
        args.extend(extra);
        run(&args)
    };
    // Provenance from the project that signed the image counts.
    let r = verify(&own, &[]);
    r.assert_code(0);
    // The same provenance signed by another project under the same trust root does not:
    // the required attestation is missing, and the ignored one is named.
    let r = verify(&foreign, &[]);
    r.assert_code(1)
        .assert_stderr_contains("attestations.missing")
        .assert_stderr_contains("attestations.signer_not_accepted")
        .assert_stderr_contains("acme/other");
    // With identity flags (no signer policy), an attestation from another identity is a
    // verification failure, never evidence.
    let id = ["--certificate-identity", &app.san(), "--certificate-oidc-issuer", "https://gitlab.com"];
    let r = verify(&foreign, &id);
    r.assert_code(1).assert_stderr_contains("attestations.missing");
    assert!(r.subject()["verification_errors"].as_array().unwrap().iter().any(|e| e["code"] == "vouch::verify::identity"), "{}", r.stdout);
    verify(&own, &id).assert_code(0);
    // The policy input says which signature each attestation came from and whether its
    // signer was accepted.
    let r = run(&[
        "explain",
        "--bundle",
        &lab.mint(SignRequest::dsse(b"x".to_vec(), other.identity(), provenance.clone())).1,
        "--trusted-root",
        &lab.root,
        "--policy",
        &policies,
        "--policy",
        &gate,
    ]);
    let input = &r.subject()["input"];
    assert_eq!(
        (input["attestations"][0]["signature"].as_u64(), input["attestations"][0]["signer_accepted"].as_bool()),
        (Some(0), Some(false)),
        "{input}"
    );
}

// ---- 3. Shards and merges cannot lose a subject ----------------------------------

#[test]
fn merges_need_every_shard_of_one_plan_exactly_once() {
    let mut lab = Lab::new("fc-merge");
    for i in 0..9 {
        lab.mint(message(&format!("blob {i}"), GitLab::default().identity()));
    }
    let identities = format!("identities:\n  - {{issuer: https://gitlab.com, subject: \"{}\"}}\n", GitLab::default().san());
    let manifest = lab.write(
        "vouch.yaml",
        &format!("version: 1\ntrusted_root: trusted_root.json\n{identities}subjects:\n  - blob: \"artifact-*.bin\"\n"),
    );
    let shard = |lab: &Lab, manifest: &str, i: u32, n: u32, name: &str| -> String {
        let out = lab.dir.join(name).display().to_string();
        run(&[
            "check",
            manifest,
            "--shard",
            &format!("{i}/{n}"),
            "--effective-time",
            "2026-11-30T09:15:00Z",
            "--output",
            &format!("json={out}"),
        ])
        .assert_code(0);
        out
    };
    let parts: Vec<String> = (1..=3).map(|i| shard(&lab, &manifest, i, 3, &format!("s{i}.json"))).collect();
    let merge = |files: &[&str]| {
        let mut args = vec!["report", "merge", "--format", "json"];
        args.extend(files);
        run(&args)
    };
    let merged = merge(&[&parts[2], &parts[0], &parts[1]]);
    merged.assert_code(0);
    assert_eq!(merged.json()["summary"]["subjects"], 9);
    // Every report records its plan.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&parts[0]).unwrap()).unwrap();
    let plan = &report["plan"];
    assert!(
        plan["id"].as_str().unwrap().len() == 64
            && plan["manifest_sha256"].as_str().unwrap().len() == 64
            && plan["subjects"] == 9
            && plan["shard_total"] == 3,
        "{plan}"
    );
    assert_eq!(plan["assigned"].as_array().unwrap().len(), report["subjects"].as_array().unwrap().len());
    // Shard jobs check the files out in different places (runners' build folders): the
    // plan lists paths relative to the manifest, so the shards still form one plan.
    let elsewhere = scratch("fc-merge-elsewhere");
    for entry in std::fs::read_dir(&lab.dir).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), elsewhere.join(entry.file_name())).unwrap();
        }
    }
    let moved = elsewhere.join("s3.json").display().to_string();
    run(&[
        "check",
        &elsewhere.join("vouch.yaml").display().to_string(),
        "--shard",
        "3/3",
        "--effective-time",
        "2026-11-30T09:15:00Z",
        "--output",
        &format!("json={moved}"),
    ])
    .assert_code(0);
    merge(&[&parts[0], &parts[1], &moved]).assert_code(0);
    // A shard missing, a shard twice, a shard of another plan, no reports at all.
    merge(&[&parts[0], &parts[1]])
        .assert_code(2)
        .assert_stderr_contains("vouch::report::merge")
        .assert_stderr_contains("shard 3/3 of the plan is missing");
    merge(&[&parts[0], &parts[1], &parts[1], &parts[2]]).assert_code(2).assert_stderr_contains("shard 2/3 is given twice");
    let other = lab.write(
        "other.yaml",
        &format!("version: 1\ntrusted_root: trusted_root.json\n{identities}subjects:\n  - blob: \"artifact-1*.bin\"\n"),
    );
    let foreign = shard(&lab, &other, 3, 3, "foreign.json");
    merge(&[&parts[0], &parts[1], &foreign]).assert_code(2).assert_stderr_contains("is of another plan");
    let four: Vec<String> = (1..=4).map(|i| shard(&lab, &manifest, i, 4, &format!("q{i}.json"))).collect();
    merge(&[&parts[0], &parts[1], &four[2]]).assert_code(2).assert_stderr_contains("another plan");
    merge(&[]).assert_code(2);
    // Shards judged at different effective times.
    let late = lab.dir.join("late.json").display().to_string();
    run(&["check", &manifest, "--shard", "3/3", "--effective-time", "2026-11-30T10:00:00Z", "--output", &format!("json={late}")])
        .assert_code(0);
    merge(&[&parts[0], &parts[1], &late]).assert_code(2).assert_stderr_contains("effective time");
    // A report with a subject removed (or one of its results dropped) is refused.
    let mut cut = report.clone();
    cut["subjects"].as_array_mut().unwrap().pop();
    let cut_path = lab.write("cut.json", &cut.to_string());
    merge(&[&cut_path, &parts[1], &parts[2]]).assert_code(2).assert_stderr_contains("incomplete or altered");
    let mut unassigned = report.clone();
    unassigned["plan"]["assigned"].as_array_mut().unwrap().pop();
    unassigned["subjects"].as_array_mut().unwrap().pop();
    let unassigned_path = lab.write("unassigned.json", &unassigned.to_string());
    merge(&[&unassigned_path, &parts[1], &parts[2]]).assert_code(2).assert_stderr_contains("a subject was lost");
    // A report that lists one subject twice in place of another of its shard (results
    // to match): the counts hold, the plan's id recomputed from the shards does not.
    let assigned = report["plan"]["assigned"].as_array().unwrap().clone();
    assert!(assigned.len() >= 2, "shard 1 of 3 holds at least two of nine subjects: {assigned:?}");
    let mut twice = report.clone();
    twice["plan"]["assigned"][1] = assigned[0].clone();
    twice["subjects"][1]["id"] = assigned[0].clone();
    let twice_path = lab.write("twice.json", &twice.to_string());
    merge(&[&twice_path, &parts[1], &parts[2]]).assert_code(2).assert_stderr_contains("the shards' assigned subjects are not the plan's");
    // A subject moved from shard 2's report into shard 1's: it is not shard 1's.
    let second: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&parts[1]).unwrap()).unwrap();
    let mut taker = report.clone();
    let mut giver = second.clone();
    let moved = giver["plan"]["assigned"].as_array_mut().unwrap().pop().unwrap();
    let moved_result = giver["subjects"].as_array_mut().unwrap().pop().unwrap();
    taker["plan"]["assigned"].as_array_mut().unwrap().push(moved.clone());
    taker["subjects"].as_array_mut().unwrap().push(moved_result);
    let (taker_path, giver_path) = (lab.write("taker.json", &taker.to_string()), lab.write("giver.json", &giver.to_string()));
    merge(&[&taker_path, &giver_path, &parts[2]])
        .assert_code(2)
        .assert_stderr_contains(&format!("lists {} as assigned, but that subject is not in its shard 1/3", moved.as_str().unwrap()));
    // Shards run with other identities, another trusted root or --fail-on-warn are of
    // another setup, though their manifest and subjects are the same.
    let other_root = Lab::new("fc-merge-other-root");
    std::fs::copy(&other_root.root, lab.dir.join("other_root.json")).unwrap();
    let other_root_path = lab.dir.join("other_root.json").display().to_string();
    for (name, extra) in [
        ("flags", vec!["--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp", ".*"]),
        ("root", vec!["--trusted-root", other_root_path.as_str()]),
        ("warn", vec!["--fail-on-warn"]),
    ] {
        let out = lab.dir.join(format!("setup-{name}.json")).display().to_string();
        let json = format!("json={out}");
        let mut args = vec!["check", &manifest, "--shard", "3/3", "--effective-time", "2026-11-30T09:15:00Z", "--output", &json];
        args.extend(extra);
        let r = run(&args);
        assert!(r.code != 2, "{name}: {}", r.stderr);
        merge(&[&parts[0], &parts[1], &out]).assert_code(2).assert_stderr_contains("was run with another setup than report 1");
    }
    // A policy's schema is part of it: the same rules and data under another schema are
    // another setup.
    for (dir, description) in [("pa", "one"), ("pb", "two")] {
        lab.write(&format!("{dir}/x.rego"), "package vouch.x\n\ndeny contains \"off\" if data.config.x.on == false\n");
        lab.write(
            &format!("{dir}/config.schema.json"),
            &format!(r#"{{"type": "object", "description": "{description}", "properties": {{"on": {{"type": "boolean"}}}}}}"#),
        );
        lab.write(&format!("{dir}/data.yaml"), "config:\n  x:\n    on: true\n");
    }
    let with_policy = |lab: &Lab, dir: &str, i: u32| -> String {
        let out = lab.dir.join(format!("{dir}-{i}.json")).display().to_string();
        let json = format!("json={out}");
        let policy = lab.dir.join(dir).display().to_string();
        run(&[
            "check",
            &manifest,
            "--shard",
            &format!("{i}/3"),
            "--effective-time",
            "2026-11-30T09:15:00Z",
            "--policy",
            &policy,
            "--output",
            &json,
        ])
        .assert_code(0);
        out
    };
    let (a1, a2, b3) = (with_policy(&lab, "pa", 1), with_policy(&lab, "pa", 2), with_policy(&lab, "pb", 3));
    merge(&[&a1, &a2, &b3]).assert_code(2).assert_stderr_contains("was run with another setup than report 1");
    merge(&[&a1, &a2, &with_policy(&lab, "pa", 3)]).assert_code(0);
    // N is read from a file: a huge one is refused, not allocated.
    let mut huge = report.clone();
    huge["plan"]["shard_total"] = serde_json::json!(1_000_000_000_000_000_000u64);
    let huge_path = lab.write("huge.json", &huge.to_string());
    merge(&[&huge_path]).assert_code(2).assert_stderr_contains("N must be 1..10000");
    // A version-1 report (no plan) cannot be checked, so it is not merged.
    let mut old = report.clone();
    old["version"] = 1.into();
    let old_path = lab.write("old.json", &old.to_string());
    merge(&[&old_path, &parts[1], &parts[2]]).assert_code(2).assert_stderr_contains("version 1 is not supported");
}

#[test]
fn a_tag_that_moves_between_shard_jobs_stays_in_one_shard() {
    use testkit::registry::{block_on, Registry};
    let registry = common::TestRegistry::start("fc-moving-tag");
    let reg = Registry::new(&registry.host);
    let mut lab = Lab::new("fc-moving-tag");
    let push = |lab: &mut Lab, tag: &str, seed: &str| {
        let img = block_on(reg.push_image("acme/app", tag, seed)).unwrap().unwrap();
        let sig = lab.sigstore.sign_image(&format!("{}/acme/app", registry.host), &img.bytes, GitLab::default().identity(), None).unwrap();
        block_on(reg.push_cosign_layer("acme/app", &img.digest, &sig)).unwrap().unwrap();
    };
    let tags: Vec<String> = (0..8).map(|i| format!("1.{i}")).collect();
    for t in &tags {
        push(&mut lab, t, &format!("first {t}"));
    }
    let subjects: String = tags.iter().map(|t| format!("  - image: {}/acme/app:{t}\n", registry.host)).collect();
    let manifest = lab.write(
        "vouch.yaml",
        &format!("version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - {{issuer: https://gitlab.com, subject: \"{}\"}}\nsubjects:\n{subjects}", GitLab::default().san()),
    );
    let dir = lab.dir.clone();
    let shard = |i: u32| -> String {
        let out = dir.join(format!("s{i}.json")).display().to_string();
        run(&[
            "check",
            &manifest,
            "--shard",
            &format!("{i}/2"),
            "--effective-time",
            "2026-11-30T09:15:00Z",
            "--output",
            &format!("json={out}"),
        ])
        .assert_code(0);
        out
    };
    let first = shard(1);
    // Between the two shard jobs every tag moves to a new image.
    for t in &tags {
        push(&mut lab, t, &format!("second {t}"));
    }
    let second = shard(2);
    let merged = run(&["report", "merge", &first, &second, "--format", "json"]);
    merged.assert_code(0);
    let names: Vec<String> = merged.json()["subjects"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((names.len(), unique.len()), (8, 8), "each tag judged exactly once: {names:?}");
}

// ---- 4. Claims never substitute one fact for another -------------------------------

#[test]
fn claims_come_only_from_known_issuers_and_say_what_was_signed() {
    let mut lab = Lab::new("fc-claims");
    let gh_san = GitHub::default().san();
    let claims = |lab: &Lab, signed: &(String, String), extra: &[&str]| -> serde_json::Value {
        let r = lab.claims(signed, extra);
        r.assert_code(0);
        r.json()
    };
    // A GitHub-looking SAN from an issuer that is not GitHub's: no GitHub claims.
    let mut fake = GitHub::default().identity();
    fake.issuer = "https://token.actions.evil.example".into();
    fake = fake
        .with_extension(8, ExtValue::Der("https://token.actions.evil.example".into()))
        .with_extension(1, ExtValue::Raw("https://token.actions.evil.example".into()));
    let signed = lab.mint(message("fake github", fake));
    let c = claims(&lab, &signed, &[]);
    assert!(c.get("github").is_none() && c.get("platform").is_none(), "{c}");
    // ... and the GitHub gate says so instead of passing.
    let gate = lab.write("gh/config.yaml", "config:\n  github:\n    repositories: [org/app]\n    any_ref: true\n");
    lab.verify(&signed, &["--policy", &repo("policies"), "--policy", &gate]).assert_code(1).assert_stderr_contains("github.not_github");
    // GitHub's issuer, a SAN on another host: no GitHub claims.
    let mut other_host = GitHub::default().identity();
    other_host.san = San::Uri(gh_san.replace("https://github.com/", "https://github.evil.example/"));
    other_host = other_host.without_extension(9).without_extension(18);
    let signed = lab.mint(message("other host", other_host));
    let c = claims(&lab, &signed, &[]);
    assert!(c.get("github").is_none(), "{c}");
    // github.com: the host is a claim.
    let signed = lab.mint(message("github", GitHub::default().identity()));
    assert_eq!(claims(&lab, &signed, &[])["github"]["host"], "github.com");
    // A GHE.com tenant only when configured.
    let tenant = "https://token.actions.acme.ghe.com";
    let mut ghe = GitHub::default().identity();
    ghe.issuer = tenant.into();
    ghe.san = San::Uri(gh_san.replace("https://github.com/", "https://acme.ghe.com/"));
    ghe = ghe
        .with_extension(1, ExtValue::Raw(tenant.into()))
        .with_extension(8, ExtValue::Der(tenant.into()))
        .with_extension(9, ExtValue::Der(gh_san.replace("https://github.com/", "https://acme.ghe.com/")))
        .with_extension(12, ExtValue::Der("https://acme.ghe.com/org/app".into()))
        .with_extension(16, ExtValue::Der("https://acme.ghe.com/org".into()));
    let signed = lab.mint(message("ghe", ghe));
    assert!(claims(&lab, &signed, &[]).get("github").is_none());
    let c = claims(&lab, &signed, &["--github-host", "acme.ghe.com"]);
    assert_eq!((c["github"]["host"].as_str(), c["github"]["repository"].as_str()), (Some("acme.ghe.com"), Some("org/app")), "{c}");
    // The bundled GitHub gate checks the host.
    let gate_ghe =
        lab.write("ghe/config.yaml", "config:\n  github:\n    repositories: [org/app]\n    any_ref: true\n    hosts: [acme.ghe.com]\n");
    lab.verify(&signed, &["--policy", &repo("policies"), "--policy", &gate_ghe]).assert_code(0);
    lab.verify(&signed, &["--policy", &repo("policies"), "--policy", &gate, "--github-host", "acme.ghe.com"])
        .assert_code(1)
        .assert_stderr_contains("github.host");

    // GitLab: a source-repository extension on another host rejects the certificate
    // instead of being replaced by the SAN's project.
    let foreign = GitLab::default().identity().with_extension(12, ExtValue::Der("https://evil.example/acme/app".into()));
    let signed = lab.mint(message("foreign .12", foreign));
    lab.claims(&signed, &[])
        .assert_code(1)
        .assert_stderr_contains("vouch::claims::certificate")
        .assert_stderr_contains("is not a project of the GitLab instance https://gitlab.com");
    // A deprecated v1 extension that disagrees with its v2 successor: which one a matcher
    // or a policy reads must not decide, so the certificate is refused.
    let two_issuers = GitLab::default().identity().with_extension(1, ExtValue::Raw("https://gitlab.evil.example".into()));
    let signed = lab.mint(message("two issuers", two_issuers));
    lab.claims(&signed, &[]).assert_code(1).assert_stderr_contains("1.3.6.1.4.1.57264.1.1").assert_stderr_contains("disagree");
    let two_refs = GitHub::default().identity().with_extension(6, ExtValue::Raw("refs/heads/evil".into()));
    let signed = lab.mint(message("two refs", two_refs));
    lab.claims(&signed, &[]).assert_code(1).assert_stderr_contains("1.3.6.1.4.1.57264.1.6");
    let two_repos = GitHub::default().identity().with_extension(5, ExtValue::Raw("mallory/app".into()));
    let signed = lab.mint(message("two repos", two_repos));
    lab.claims(&signed, &[]).assert_code(1).assert_stderr_contains("1.3.6.1.4.1.57264.1.5");
    // The build-config URI (.18) must repeat the SAN.
    let split = GitLab::default()
        .identity()
        .with_extension(18, ExtValue::Der("https://gitlab.com/acme/other//.gitlab-ci.yml@refs/heads/main".into()));
    let signed = lab.mint(message("split .18", split));
    lab.claims(&signed, &[]).assert_code(1).assert_stderr_contains("1.3.6.1.4.1.57264.1.18");
    // An ambiguous SAN (a path or ref that contains `@refs/`) is refused, never guessed.
    let gl = GitLab { ci_config_path: "ci/x@refs/heads/evil.yml".into(), ..GitLab::default() };
    let signed = lab.mint(message("ambiguous", gl.identity()));
    lab.claims(&signed, &[]).assert_code(1).assert_stderr_contains("cannot tell the path from the ref");
    // `@` and `//` where they are unambiguous parse as written.
    let gl = GitLab { ci_config_path: "ci//release@v2.yml".into(), git_ref: "refs/heads/feature@x".into(), ..GitLab::default() };
    let signed = lab.mint(message("at-signs", gl.identity()));
    let c = claims(&lab, &signed, &[]);
    assert_eq!(
        (c["gitlab"]["ci_config_path"].as_str(), c["gitlab"]["ci_config_ref"].as_str(), c["gitlab"]["ci_config_project_path"].as_str()),
        (Some("ci//release@v2.yml"), Some("refs/heads/feature@x"), Some("acme/app")),
        "{c}"
    );
    // A fork's project claims are what .12 says, beside the SAN's config project.
    let fork = GitLab { source_project: Some("mallory/app".into()), ..GitLab::default() };
    let signed = lab.mint(message("fork", fork.identity()));
    let c = claims(&lab, &signed, &[]);
    assert_eq!(
        (c["gitlab"]["project_path"].as_str(), c["gitlab"]["ci_config_project_path"].as_str()),
        (Some("mallory/app"), Some("acme/app"))
    );
    let _ = GITHUB_ISSUER;
}

// ---- 5. Policies are deterministic and bounded --------------------------------------

#[test]
fn nondeterministic_builtins_are_refused_at_load() {
    let mut lab = Lab::new("fc-nondeterministic");
    let signed = lab.mint(message("app", GitLab::default().identity()));
    let id = ["--certificate-identity", &GitLab::default().san(), "--certificate-oidc-issuer", "https://gitlab.com"];
    for (i, call) in [
        "rand.intn(\"x\", 2) == 1",
        "uuid.rfc4122(\"x\") != \"\"",
        "opa.runtime().env",
        "http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1:9\"}).status_code == 200",
        "rand . intn(\"y\", 3) == 0",
        "__builtin_host_await(1, \"time.now_ns\") == 0",
    ]
    .into_iter()
    .enumerate()
    {
        let p = lab.write(
            &format!("nd{i}/p.rego"),
            &format!("package vouch.p\n\n# rand.intn( in a comment is fine\nallowed := \"rand.intn(\"\n\ndeny contains \"coin\" if {{\n  {call}\n}}\n"),
        );
        let r = lab.verify(&signed, &[&id[..], &["--policy", &p]].concat());
        r.assert_code(2)
            .assert_stderr_contains("vouch::policy::nondeterministic")
            .assert_stderr_contains("rule deny calls")
            .assert_stderr_contains("p.rego:7:3");
    }
    // Other spellings of the same call: refused by name too.
    for (i, call) in ["rand[\"intn\"](\"x\", 2) == 1", "rand[`intn`](\"x\", 2) == 1"].into_iter().enumerate() {
        let p = lab.write(&format!("nd-brack{i}/p.rego"), &format!("package vouch.p\n\ndeny contains \"coin\" if {{\n  {call}\n}}\n"));
        lab.verify(&signed, &[&id[..], &["--policy", &p]].concat())
            .assert_code(2)
            .assert_stderr_contains("vouch::policy::nondeterministic")
            .assert_stderr_contains("calls rand.intn");
    }
    // The host's time zone would make a verdict depend on where vouch runs: the subject
    // fails, saying why; a named zone is fine.
    let p = lab.write("local/p.rego", "package vouch.p\ndeny contains \"late\" if { time.clock([time.now_ns(), \"Local\"])[0] > 30 }\n");
    lab.verify(&signed, &[&id[..], &["--policy", &p]].concat()).assert_code(1).assert_stderr_contains("time zone is the host's");
    let p = lab
        .write("berlin/p.rego", "package vouch.p\ndeny contains \"late\" if { time.clock([time.now_ns(), \"Europe/Berlin\"])[0] > 30 }\n");
    lab.verify(&signed, &[&id[..], &["--policy", &p]].concat()).assert_code(0);
    // time.now_ns() is the effective time, pinned: allowed.
    let p = lab.write("now/p.rego", "package vouch.p\ndeny contains \"future\" if { time.now_ns() < 0 }\n");
    lab.verify(&signed, &[&id[..], &["--policy", &p]].concat()).assert_code(0);
}

/// Peak RSS of a command, in KiB, measured by the kernel (Python's getrusage).
fn peak_rss_kib(args: &[&str]) -> (i32, u64, String) {
    let script = "import resource, subprocess, sys\np = subprocess.run(sys.argv[1:], capture_output=True, text=True)\nprint(p.returncode)\nprint(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nprint(p.stderr)";
    let out = std::process::Command::new(common::python())
        .arg("-c")
        .arg(script)
        .arg(common::vouch_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let code = lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or(-1);
    let rss = lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or(u64::MAX);
    (code, rss, lines.collect::<Vec<_>>().join("\n"))
}

/// docs/limits.md: one evaluation may allocate 128 MiB and run 5 s; a single builtin
/// call may produce 16 Mi elements or bytes. A hostile policy fails its subject within
/// those bounds, and vouch's peak RSS stays under 1 GiB.
#[test]
fn a_hostile_policy_is_bounded_in_time_and_memory() {
    let mut lab = Lab::new("fc-bounded");
    let signed = lab.mint(message("app", GitLab::default().identity()));
    let san = GitLab::default().san();
    let hostile = [
        ("range", "count(numbers.range(1, 1000000000)) > 0"),
        ("range-step", "count(numbers.range_step(0, 100000000000, 1)) > 0"),
        ("width", "count(sprintf(\"%099999999999d\", [1])) > 0"),
        ("replace", "count(replace(concat(\"\", [\"a\" | some _ in numbers.range(1, 100000)]), \"a\", concat(\"\", [\"b\" | some _ in numbers.range(1, 100000)]))) > 0"),
        ("doubling", "count(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(double(\"0123456789\"))))))))))))))))))))))))))))) > 0"),
        ("many", "count([x | some i in numbers.range(1, 500000); x := concat(\"\", [input.subject.name, sprintf(\"%0500d\", [i])])]) > 0"),
    ];
    for (name, body) in hostile {
        let p = lab.write(
            &format!("{name}/p.rego"),
            &format!("package vouch.p\ndouble(s) := concat(\"\", [s, s])\ndeny contains \"never\" if {{\n  {body}\n  false\n}}\n"),
        );
        let started = std::time::Instant::now();
        let (code, rss_kib, stderr) = peak_rss_kib(&[
            "verify-blob",
            &signed.0,
            "--bundle",
            &signed.1,
            "--trusted-root",
            &lab.root,
            "--certificate-identity",
            &san,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--policy",
            &p,
        ]);
        let took = started.elapsed();
        assert_eq!(code, 1, "{name}: the subject fails\n{stderr}");
        assert!(stderr.contains("vouch::policy::eval"), "{name}: {stderr}");
        assert!(
            stderr.contains("over the limit") || stderr.contains("limit exceeded") || stderr.contains("Execution exceeded"),
            "{name} says which limit: {stderr}"
        );
        assert!(rss_kib < 1 << 20, "{name}: peak RSS {} MiB", rss_kib >> 10);
        assert!(took < std::time::Duration::from_secs(20), "{name}: took {took:?}");
    }
}

// ---- 6. Output cannot be forged -----------------------------------------------------

#[test]
fn control_characters_are_escaped_in_every_format() {
    let mut lab = Lab::new("fc-forgery");
    // A file whose name would overwrite its FAIL line with a PASS on a terminal.
    let evil_name = "app.tar.gz\rPASS  app.tar.gz  signed by the release team\u{1b}[2K\u{202e}\u{61c}\u{feff}";
    let path = lab.dir.join(evil_name);
    std::fs::write(&path, "evil").unwrap();
    let other = lab.mint(message("other", GitLab::default().identity()));
    std::fs::copy(&other.1, lab.dir.join(format!("{evil_name}.sigstore.json"))).unwrap();
    let manifest = lab.write(
        "vouch.yaml",
        &format!(
            "version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - {{issuer: https://gitlab.com, subject: \"{}\"}}\nsubjects:\n  - blob: \"app.tar.gz*\"\n",
            GitLab::default().san()
        ),
    );
    let out = |f: &str| lab.dir.join(f).display().to_string();
    let r = run(&[
        "check",
        &manifest,
        "--output",
        &format!("junit={}", out("r.xml")),
        "--output",
        &format!("markdown={}", out("r.md")),
        "--output",
        &format!("sarif={}", out("r.sarif")),
        "--output",
        &format!("gitlab-codequality={}", out("cq.json")),
        "--output",
        &format!("json={}", out("r.json")),
    ]);
    r.assert_code(1);
    let bad = |text: &str| {
        text.chars().any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c) || matches!(c, '\u{61c}' | '\u{feff}'))
    };
    assert!(!bad(&r.stdout) && !bad(&r.stderr), "raw control characters on the terminal:\n{:?}", r.stdout);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("FAIL  ")
            && l.contains("app.tar.gz\\rPASS  app.tar.gz  signed by the release team\\e[2K\\u{202e}\\u{61c}\\u{feff}")),
        "{}",
        r.stdout
    );
    for f in ["r.xml", "r.md", "r.sarif", "cq.json"] {
        let text = std::fs::read_to_string(out(f)).unwrap();
        assert!(!bad(&text), "{f} carries raw control characters");
        assert!(text.contains("app.tar.gz\\\\rPASS") || text.contains("app.tar.gz\\rPASS"), "{f} names the subject escaped:\n{text}");
    }
    // The JSON report keeps the name as it is (JSON escapes it).
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out("r.json")).unwrap()).unwrap();
    assert!(json["subjects"][0]["name"].as_str().unwrap().contains('\r'));
}

// ---- 7. The certificate chain in a bundle holds no root ------------------------------

#[test]
fn a_bundle_chain_with_a_root_is_rejected() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut lab = Lab::new("fc-chain");
    let signed = lab.mint(message("app", GitLab::default().identity()).format(Format::V01));
    let id = ["--certificate-identity", &GitLab::default().san(), "--certificate-oidc-issuer", "https://gitlab.com"];
    lab.verify(&signed, &id).assert_code(0);
    let root: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&lab.root).unwrap()).unwrap();
    let chain = root["certificateAuthorities"][0]["certChain"]["certificates"].as_array().unwrap().clone();
    let (intermediate, anchor) = (chain[0].clone(), chain[1].clone());
    let rogue = testkit::x509::ca(
        "CN=rogue,O=elsewhere",
        testkit::key::Key::p256().unwrap(),
        None,
        jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24),
        jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24),
        Some(0),
    )
    .unwrap();
    let rogue = serde_json::json!({"rawBytes": b64.encode(&rogue.der)});
    let bundle: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&signed.1).unwrap()).unwrap();
    let leaf = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0].clone();
    let variant = |lab: &Lab, name: &str, media: &str, certs: Vec<serde_json::Value>| -> (String, String) {
        let mut b = bundle.clone();
        b["mediaType"] = media.into();
        b["verificationMaterial"]["x509CertificateChain"]["certificates"] = certs.into();
        (signed.0.clone(), lab.write(&format!("{name}.json"), &b.to_string()))
    };
    let v01 = "application/vnd.dev.sigstore.bundle+json;version=0.1";
    let v02 = "application/vnd.dev.sigstore.bundle+json;version=0.2";
    for (name, media, certs, why) in [
        ("anchor-only", v01, vec![leaf.clone(), anchor.clone()], "is a trust anchor of the trusted root"),
        ("out-of-order", v01, vec![leaf.clone(), anchor.clone(), intermediate.clone()], "is a trust anchor"),
        ("v02-full", v02, vec![leaf.clone(), intermediate.clone(), anchor.clone()], "is a trust anchor"),
        ("rogue-root", v01, vec![leaf.clone(), intermediate.clone(), rogue.clone()], "is self-issued"),
    ] {
        let v = variant(&lab, name, media, certs);
        lab.verify(&v, &id).assert_code(1).assert_stderr_contains(why).assert_stderr_contains("must not include a root");
    }
    // The legacy npm layout (v0.1, the trusted root's own chain repeated in order) is
    // accepted, as sigstore-js and sigstore-python accept it (docs/verification.md).
    let legacy = variant(&lab, "legacy", v01, vec![leaf.clone(), intermediate.clone(), anchor.clone()]);
    lab.verify(&legacy, &id).assert_code(0);
    // An intermediate alone is fine.
    let with_intermediate = variant(&lab, "intermediate", v01, vec![leaf, intermediate]);
    lab.verify(&with_intermediate, &id).assert_code(0);
    let _ = Content::Message;
}
