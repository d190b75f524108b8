//! Any bytes as a registry's manifest or index answer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_engine::oci::discover::inspect_manifest;

fuzz_target!(|data: &[u8]| {
    let _ = inspect_manifest(data, "linux/amd64");
    let _ = inspect_manifest(data, "linux/arm64/v8");
});
