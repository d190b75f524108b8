//! Any JSON document as a policy input to the bundled library: regorus's VM (as vouch
//! runs it) and the strict interpreter must reach the same decision or the same error.
#![no_main]
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use vouch_engine::policy::Policy;

const CONFIG: &str = "config:\n  gitlab:\n    projects: [\"acme/*\"]\n    project_ids: [\"1001\"]\n    ci_config_paths: [\".gitlab-ci.yml\"]\n    refs: {branches: [main], tags: [\"v*\"], semver_tags: true}\n  github:\n    repositories: [org/app]\n  signing_age:\n    max_days: 30\n    warn_days: 20\n  attestations:\n    required_predicate_types: [https://slsa.dev/provenance/v1]\n    slsa_source_matches_certificate: true\n    gitlab_protected_ref: true\n";

fn policy() -> &'static Mutex<Policy> {
    static POLICY: OnceLock<Mutex<Policy>> = OnceLock::new();
    POLICY.get_or_init(|| {
        let texts = vec![
            ("gitlab.rego".into(), include_str!("../../policies/gitlab/gitlab.rego").to_string()),
            ("github.rego".into(), include_str!("../../policies/github/github.rego").to_string()),
            ("signing_age.rego".into(), include_str!("../../policies/signing_age/signing_age.rego").to_string()),
            ("attestations.rego".into(), include_str!("../../policies/attestations/attestations.rego").to_string()),
            ("config.yaml".into(), CONFIG.to_string()),
        ];
        let time = jiff::Timestamp::from_second(1_767_225_600).expect("time");
        Mutex::new(Policy::from_texts(texts, time).expect("the bundled library loads"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let mut policy = policy().lock().unwrap_or_else(|p| p.into_inner());
    let reference = policy.evaluate_with_interpreter(&input).map_err(|e| e.to_string());
    let judged = policy.evaluate(&input).map_err(|e| e.to_string());
    assert_eq!(judged, reference, "input {input}");
});
