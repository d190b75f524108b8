//! Any bytes as a DSSE payload: an in-toto statement or a refusal.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_engine::evidence::statement::InTotoStatement;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = InTotoStatement::from_json(data) {
        let _ = s.has_sha256_subject() || s.has_sha512_subject();
    }
});
