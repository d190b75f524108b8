//! Any text as a Rego policy (and as a YAML data file): loaded and compiled, or refused
//! with a diagnostic; when it loads, evaluated on a small input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_engine::policy::Policy;

fuzz_target!(|parts: (&str, &str)| {
    let (rego, data) = parts;
    let texts = vec![("fuzz.rego".into(), rego.to_string()), ("data.yaml".into(), data.to_string())];
    let time = jiff::Timestamp::from_second(1_767_225_600).expect("time");
    if let Ok(mut policy) = Policy::from_texts(texts, time) {
        let input = serde_json_input();
        let _ = policy.evaluate(&input);
    }
});

fn serde_json_input() -> vouch_engine::policy::InputValue {
    vouch_engine::policy::sample_input()
}
