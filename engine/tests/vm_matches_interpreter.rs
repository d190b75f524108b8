//! regorus's VM judges subjects; its strict interpreter is the reference. Over the
//! bundled policy library, many configurations and inputs (valid, odd and ill-typed),
//! the two must agree on every decision and every error, and the VM must decide the
//! ordinary cases itself (otherwise this test would compare the interpreter with itself).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vouch_engine::policy::Policy;

fn library_texts() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut out = Vec::new();
    for package in ["gitlab", "github", "signing_age", "attestations"] {
        for file in [format!("{package}.rego"), "config.schema.json".to_string()] {
            let path = root.join(package).join(file);
            let text = std::fs::read_to_string(&path).expect("bundled policy");
            out.push((path, text));
        }
    }
    out
}

fn gitlab_claims() -> Value {
    json!({
        "issuer": "https://gitlab.com",
        "identity": {"type": "uri", "value": "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"},
        "platform": "gitlab",
        "gitlab": {
            "instance": "https://gitlab.com", "project_path": "acme/app", "namespace": "acme",
            "project_id": "1001", "namespace_id": "2002",
            "ref": "refs/heads/main", "ref_type": "branch", "ref_name": "main",
            "ci_config_project_path": "acme/app", "ci_config_path": ".gitlab-ci.yml", "ci_config_ref": "refs/heads/main"
        },
        "runner_environment": "gitlab-hosted",
        "source_repository_digest": "c0ffee0000000000000000000000000000000000",
        "signed_at": "2026-01-10T12:00:00Z",
        "extensions": {},
        "certificate": {"not_before": "2026-01-10T12:00:00Z", "not_after": "2026-01-10T12:10:00Z", "serial": "01", "fingerprint_sha256": "00"}
    })
}

fn github_claims() -> Value {
    json!({
        "issuer": "https://token.actions.githubusercontent.com",
        "identity": {"type": "uri", "value": "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.2.3"},
        "platform": "github",
        "github": {
            "repository": "org/app", "owner": "org", "repository_id": "123", "owner_id": "456",
            "ref": "refs/tags/v1.2.3", "ref_type": "tag", "ref_name": "v1.2.3",
            "workflow_repository": "org/app", "workflow_path": ".github/workflows/release.yml", "workflow_ref": "refs/tags/v1.2.3"
        },
        "runner_environment": "github-hosted",
        "source_repository_digest": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        "signed_at": "2026-01-10T12:00:00Z"
    })
}

fn merge(base: &Value, patch: &Value) -> Value {
    let mut out = base.clone();
    if let (Some(o), Some(p)) = (out.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            let merged = match (o.get(k), v) {
                (Some(old @ Value::Object(_)), Value::Object(_)) => merge(old, v),
                _ => v.clone(),
            };
            o.insert(k.clone(), merged);
        }
    }
    out
}

fn message(claims: Value) -> Value {
    json!({"kind": "message", "bundle_media_type": "application/vnd.dev.sigstore.bundle.v0.3+json", "claims": claims})
}

fn dsse(claims: Value, predicate_type: &str, predicate: Value) -> Value {
    json!({"kind": "dsse", "bundle_media_type": "application/vnd.dev.sigstore.bundle.v0.3+json", "claims": claims,
           "predicate_type": predicate_type, "statement": {"predicateType": predicate_type, "predicate": predicate}})
}

fn input_of(signatures: Vec<Value>, errors: Vec<Value>, effective_time: &str) -> Value {
    // Every other attestation's signer accepted, so both kinds are judged.
    let attestations: Vec<Value> = signatures
        .iter()
        .enumerate()
        .filter(|(_, s)| s["kind"] == "dsse")
        .map(|(i, s)| json!({"predicate_type": s["predicate_type"], "statement": s["statement"], "claims": s["claims"], "signature": i, "signer_accepted": i % 2 == 0}))
        .collect();
    json!({
        "subject": {"kind": "blob", "name": "app.tar.gz", "digest": {"sha256": "00"}},
        "signatures": signatures,
        "attestations": attestations,
        "verification_errors": errors,
        "context": {"effective_time": effective_time, "shard": "1/1"}
    })
}

fn signatures() -> Vec<Vec<Value>> {
    let gl = gitlab_claims();
    let gh = github_claims();
    let glw = |p: Value| message(merge(&gl, &json!({"gitlab": p})));
    let ghw = |p: Value| message(merge(&gh, &json!({"github": p})));
    let slsa_v1 = |commit: &str| json!({"buildDefinition": {"resolvedDependencies": [{"uri": "git+https://gitlab.com/acme/app", "digest": {"gitCommit": commit}}]}});
    let slsa_v02 = |protected: &str| json!({"invocation": {"parameters": {"CI_COMMIT_REF_PROTECTED": protected}, "configSource": {"digest": {"sha1": "c0ffee0000000000000000000000000000000000"}}}, "materials": []});
    vec![
        vec![],
        vec![message(gl.clone())],
        vec![glw(json!({"ref": "refs/tags/v1.2.3", "ref_type": "tag", "ref_name": "v1.2.3"}))],
        vec![glw(json!({"ref": "refs/tags/nightly", "ref_type": "tag", "ref_name": "nightly"}))],
        vec![glw(json!({"ref": "refs/heads/release/2.0", "ref_name": "release/2.0"}))],
        vec![glw(json!({"project_path": "evil/app", "ci_config_project_path": "evil/app", "namespace": "evil"}))],
        vec![glw(
            json!({"project_path": "mallory/app-fork", "namespace": "mallory", "ref": "refs/merge-requests/7/head", "ref_type": "other", "ref_name": "refs/merge-requests/7/head"}),
        )],
        vec![glw(json!({"instance": "https://gitlab.example.com"}))],
        vec![glw(json!({"project_id": "9999", "ci_config_path": "ci/release.yml"}))],
        vec![message(merge(&gl, &json!({"runner_environment": "self-hosted"})))],
        vec![message(merge(&gl, &json!({"signed_at": "2025-01-01T00:00:00Z"})))],
        vec![message(merge(&gl, &json!({"signed_at": "2027-01-01T00:00:00Z"})))],
        vec![message(gh.clone())],
        vec![ghw(json!({"repository": "org/other", "workflow_repository": "org/shared"}))],
        vec![ghw(json!({"ref": "refs/heads/main", "ref_type": "branch", "ref_name": "main"}))],
        vec![message(
            json!({"issuer": "https://accounts.google.com", "identity": {"type": "email", "value": "dev@example.com"}, "signed_at": "2026-01-10T12:00:00Z"}),
        )],
        vec![
            json!({"kind": "message", "bundle_media_type": "application/vnd.dev.sigstore.bundle.v0.3+json", "claims": null, "key_fingerprint_sha256": "abc123"}),
        ],
        vec![message(gl.clone()), message(gh.clone())],
        vec![glw(json!({"project_path": "evil/app"})), message(gl.clone())],
        vec![dsse(gl.clone(), "https://slsa.dev/provenance/v1", slsa_v1("c0ffee0000000000000000000000000000000000"))],
        vec![dsse(gl.clone(), "https://slsa.dev/provenance/v1", slsa_v1("badbad0000000000000000000000000000000000"))],
        vec![dsse(gl.clone(), "https://slsa.dev/provenance/v0.2", slsa_v02("true"))],
        vec![dsse(gl.clone(), "https://slsa.dev/provenance/v0.2", slsa_v02("false"))],
        vec![dsse(merge(&gl, &json!({"source_repository_digest": null})), "https://slsa.dev/provenance/v1", slsa_v1("c0ffee"))],
        // Ill-typed claims: a strict evaluator errors or denies; neither may pass silently.
        vec![message(merge(&gl, &json!({"gitlab": {"project_path": 7}})))],
        vec![message(merge(&gl, &json!({"gitlab": "not an object"})))],
        vec![message(merge(&gl, &json!({"signed_at": "yesterday"})))],
        vec![message(merge(&gl, &json!({"signed_at": 5})))],
        vec![message(merge(&gl, &json!({"gitlab": {"ref_name": null, "ref_type": "tag"}})))],
        vec![json!({"kind": "message", "claims": "x"})],
        vec![json!(42)],
        vec![dsse(gl.clone(), "https://slsa.dev/provenance/v1", json!({"buildDefinition": {"resolvedDependencies": "none"}}))],
        vec![dsse(gl.clone(), "https://slsa.dev/provenance/v0.2", json!({"invocation": 3}))],
    ]
}

fn configs() -> Vec<&'static str> {
    vec![
        "config: {}\n",
        "config:\n  gitlab:\n    projects: [acme/app]\n    any_ref: true\n",
        "config:\n  gitlab:\n    projects: [\"acme/*\"]\n    refs: {branches: [main, \"release/*\"], tags: [\"v*\"], semver_tags: true}\n",
        "config:\n  gitlab:\n    projects: [\"acme/*\", \"mallory/*\"]\n    project_ids: [1001]\n    namespace_ids: [\"2002\"]\n    ci_config_paths: [.gitlab-ci.yml]\n    runner_environments: [gitlab-hosted, self-hosted]\n    refs: {branches: [main], semver_tags: true}\n",
        "config:\n  gitlab:\n    projects: [\"acme/**\"]\n    instances: [https://gitlab.example.com]\n    allow_fork_pipelines: true\n    refs: {tags: [\"v{1,2}.*\"]}\n",
        "config:\n  github:\n    repositories: [org/app]\n    refs: {tags: [\"v*\"], semver_tags: true}\n",
        "config:\n  github:\n    repositories: [\"org/*\"]\n    workflow_repositories: [org/shared, org/app]\n    workflow_paths: [\".github/workflows/*.yml\"]\n    repository_ids: [\"123\"]\n    owner_ids: [\"456\"]\n    any_ref: true\n",
        "config:\n  signing_age:\n    max_days: 30\n    warn_days: 5\n",
        "config:\n  attestations:\n    required_predicate_types: [https://slsa.dev/provenance/v1]\n    slsa_source_matches_certificate: true\n    gitlab_protected_ref: true\n",
        "config:\n  gitlab:\n    projects: [\"acme/*\"]\n    refs: {branches: [main]}\n  github:\n    repositories: [org/app]\n    any_ref: true\n  signing_age:\n    max_days: 30\n  attestations:\n    required_predicate_types: [https://slsa.dev/provenance/v0.2]\n    slsa_source_matches_certificate: true\n",
    ]
}

#[test]
fn the_vm_agrees_with_the_strict_interpreter() {
    let errors = [vec![], vec![json!({"code": "vouch::verify::signature", "message": "signature does not verify"})]];
    let times = ["2026-01-20T12:00:00Z", "2026-06-01T00:00:00Z"];
    let (mut compared, mut by_vm, mut denials, mut eval_errors) = (0, 0, 0, 0);
    for config in configs() {
        for time in times {
            let mut texts = library_texts();
            texts.push((PathBuf::from("config.yaml"), config.to_string()));
            let effective = time.parse().expect("time");
            let mut policy = Policy::from_texts(texts, effective).expect("the library loads");
            assert!(policy.compiled(), "the bundled library compiles for the VM");
            for sigs in signatures() {
                for errs in &errors {
                    let input = input_of(sigs.clone(), errs.clone(), time);
                    let reference = policy.evaluate_with_interpreter(&input).map_err(|e| e.to_string());
                    let judged = policy.evaluate(&input).map_err(|e| e.to_string());
                    assert_eq!(judged, reference, "config {config:?}, input {input}");
                    if let Some(vm) = policy.evaluate_with_vm(&input) {
                        by_vm += 1;
                        assert_eq!(Ok(&vm), reference.as_ref(), "the VM alone, config {config:?}, input {input}");
                    }
                    compared += 1;
                    match &reference {
                        Ok(d) if !d.deny.is_empty() => denials += 1,
                        Err(_) => eval_errors += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    println!("{compared} evaluations compared: {by_vm} decided by the VM, {denials} denials, {eval_errors} errors");
    // Both outcomes and errors occur, and the VM decides the great majority itself.
    assert!(denials > compared / 10 && eval_errors > 0, "{denials} denials, {eval_errors} errors of {compared}");
    assert!(by_vm * 10 > compared * 8, "the VM decided only {by_vm} of {compared}");
}

/// Configurations the schemas refuse never reach an evaluation (they were judged by
/// both evaluators before schemas existed).
#[test]
fn ill_typed_configurations_are_refused_at_load() {
    for config in [
        "config:\n  gitlab:\n    refs: {branches: [main]}\n",
        "config:\n  gitlab:\n    projects: acme/app\n    any_ref: true\n",
        "config:\n  gitlab:\n    projects: [acme/app]\n",
        "config:\n  signing_age:\n    max_days: \"thirty\"\n",
    ] {
        let mut texts = library_texts();
        texts.push((PathBuf::from("config.yaml"), config.to_string()));
        let err =
            Policy::from_texts(texts, "2026-01-20T12:00:00Z".parse().expect("time")).err().unwrap_or_else(|| panic!("{config:?} loads"));
        assert_eq!(err.code().as_str(), "vouch::policy::config", "{config:?}: {err}");
    }
}

/// A rule that errors fails its subject under the VM as under the interpreter (the VM
/// absorbs errors in rule bodies; vouch notices and asks the interpreter).
#[test]
fn an_erroring_deny_rule_is_never_a_pass() {
    let rules = [
        "package vouch.p\ndeny contains \"x\" if { 1 / count(input.verification_errors) > 0 }\n",
        "package vouch.p\ndeny contains msg if { msg := sprintf(\"%d\", [to_number(input.subject.name)]) }\n",
        "package vouch.p\ndeny contains \"x\" if { time.parse_rfc3339_ns(input.subject.name) > 0 }\n",
        "package vouch.p\nv := 1 if input.subject.kind == \"blob\"\nv := 2 if input.subject.name\ndeny contains \"x\" if { v > 0 }\n",
        "package vouch.p\nf(x) := 1 if x\nf(x) := 2 if x\ndeny contains \"x\" if { f(true) }\n",
    ];
    let input = input_of(vec![message(gitlab_claims())], vec![], "2026-01-20T12:00:00Z");
    for rule in rules {
        let mut policy =
            Policy::from_texts(vec![(PathBuf::from("p.rego"), rule.to_string())], "2026-01-20T12:00:00Z".parse().expect("time"))
                .expect("loads");
        let reference = policy.evaluate_with_interpreter(&input).map_err(|e| e.to_string());
        let judged = policy.evaluate(&input).map_err(|e| e.to_string());
        assert!(judged.is_err(), "{rule}: {judged:?}");
        assert_eq!(judged, reference, "{rule}");
    }
}

/// deny and warn share a helper rule, which the VM computes once per input
/// (vendor/regorus/VOUCH-PATCH.md, change 4): a value computed for one subject must
/// never be read for the next, nor survive an execution that failed.
#[test]
fn a_rule_value_never_outlives_its_input() {
    let rule = "package vouch.p\n\
        bad contains p if { some s in input.signatures; p := s.claims.gitlab.project_path; p != \"acme/app\" }\n\
        deny contains sprintf(\"project %s\", [p]) if { some p in bad }\n\
        warn contains \"a project is not allowed\" if { count(bad) > 0 }\n\
        deny contains \"x\" if { 1 / count(input.verification_errors) > 1 }\n";
    let mut policy = Policy::from_texts(vec![(PathBuf::from("p.rego"), rule.to_string())], "2026-01-20T12:00:00Z".parse().expect("time"))
        .expect("loads");
    let claims = |project: &str| merge(&gitlab_claims(), &json!({"gitlab": {"project_path": project}}));
    let good = input_of(vec![message(claims("acme/app"))], vec![json!({"code": "c", "message": "m"})], "2026-01-20T12:00:00Z");
    let bad = input_of(vec![message(claims("evil/app"))], vec![json!({"code": "c", "message": "m"})], "2026-01-20T12:00:00Z");
    // Division by zero: the VM absorbs the error in the deny body (a lenient event), so
    // vouch asks the strict interpreter, whose error stands.
    let erroring = input_of(vec![message(claims("evil/app"))], vec![], "2026-01-20T12:00:00Z");
    for (input, denials, warnings) in [(&good, 0, 0), (&bad, 1, 1), (&good, 0, 0), (&erroring, usize::MAX, 0), (&bad, 1, 1), (&good, 0, 0)]
    {
        let judged = policy.evaluate(input).map_err(|e| e.to_string());
        assert_eq!(judged, policy.evaluate_with_interpreter(input).map_err(|e| e.to_string()), "{input}");
        match judged {
            Ok(d) => {
                assert_eq!((d.deny.len(), d.warn.len()), (denials, warnings), "{input}");
                assert!(policy.evaluate_with_vm(input).is_some(), "the VM decides {input} itself");
            }
            Err(e) => assert_eq!(denials, usize::MAX, "{input}: {e}"),
        }
    }
}

/// The time answers are the subject's, not each entry point's: calls across entry points
/// beyond four are still answered by the VM, with the run's effective time.
#[test]
fn time_is_answered_across_entry_points() {
    let rule = "package vouch.p\n\
        deny contains \"d\" if { time.now_ns() > 0; time.now_ns() > 1; time.now_ns() > 2 }\n\
        warn contains \"w\" if { time.now_ns() > 0; time.now_ns() > 1; time.now_ns() == time.now_ns() }\n";
    let mut policy = Policy::from_texts(vec![(PathBuf::from("p.rego"), rule.to_string())], "2026-01-20T12:00:00Z".parse().expect("time"))
        .expect("loads");
    let input = input_of(vec![message(gitlab_claims())], vec![], "2026-01-20T12:00:00Z");
    for _ in 0..3 {
        let vm = policy.evaluate_with_vm(&input).expect("the VM decides");
        assert_eq!((vm.deny.len(), vm.warn.len()), (1, 1));
        assert_eq!(Ok(vm), policy.evaluate_with_interpreter(&input).map_err(|e| e.to_string()));
    }
}

/// regorus's own API with the shared rule cache (vendor/regorus/VOUCH-PATCH.md, change 4):
/// an entry point run after the input changed, or after a run that failed part way, gives
/// what a fresh VM gives.
#[test]
fn the_shared_rule_cache_follows_the_input() {
    use regorus::rvm::RegoVM;
    let mut engine = regorus::Engine::new();
    engine.add_policy("p.rego".into(), "package p\nhelper := count(input.xs)\na := helper\nb := helper + 1\n".into()).expect("parses");
    let compiled = engine.compile_with_entrypoint(&"data.p.a".into()).expect("compiles");
    let program = regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &["data.p.a", "data.p.b"])
        .expect("compiles for the VM");
    let input = |n: usize| regorus::Value::from_json_str(&serde_json::to_string(&json!({"xs": vec![0; n]})).expect("json")).expect("value");
    let fresh = |n: usize, entry: usize| {
        let mut vm = RegoVM::new();
        vm.load_program(program.clone());
        vm.set_input(input(n));
        vm.execute_entry_point_by_index(entry).expect("runs")
    };
    let mut vm = RegoVM::new();
    vm.load_program(program.clone());
    vm.set_share_rule_cache(true);
    vm.set_input(input(2));
    assert_eq!(vm.execute_entry_point_by_index(0).expect("runs"), regorus::Value::from(2u64));
    assert_eq!(vm.execute_entry_point_by_index(1).expect("runs"), regorus::Value::from(3u64));
    // Another input: the helper is computed again.
    vm.set_input(input(5));
    assert_eq!(vm.execute_entry_point_by_index(1).expect("runs"), fresh(5, 1));
    assert_eq!(vm.execute_entry_point_by_index(0).expect("runs"), fresh(5, 0));
    // A run stopped part way, then the same and another input.
    vm.set_input(input(7));
    vm.set_max_instructions(2);
    assert!(vm.execute_entry_point_by_index(1).is_err(), "two instructions are not enough");
    vm.set_max_instructions(usize::MAX);
    assert_eq!(vm.execute_entry_point_by_index(0).expect("runs"), fresh(7, 0));
    vm.set_input(input(1));
    assert_eq!(vm.execute_entry_point_by_index(1).expect("runs"), fresh(1, 1));
}
