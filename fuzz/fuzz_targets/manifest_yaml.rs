//! Any text as a `vouch check` manifest.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_engine::plan::manifest::Manifest;

fuzz_target!(|text: &str| {
    if let Ok(m) = Manifest::from_str(text, std::path::Path::new("fuzz.yaml")) {
        for i in &m.identities {
            let _ = i.requirement();
        }
    }
});
