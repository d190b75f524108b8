//! Any bytes as a certificate: the claims document must be built or refused, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_engine::claims::Claims;

fuzz_target!(|data: &[u8]| {
    if let Ok(claims) = Claims::from_certificate(data, None, None, &vouch_engine::claims::Platforms::default()) {
        let _ = serde_json_len(&claims);
    }
});

fn serde_json_len(claims: &Claims) -> usize {
    format!("{claims:?}").len()
}
