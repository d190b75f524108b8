//! Any bytes as a bundle file: parse, and if it parses, verify against the digest it
//! names (production root). Only crashes and hangs are findings here: a mutation that
//! keeps a valid bundle valid (whitespace) may verify; tests/tests/mutation.rs checks
//! that no meaningful mutation does.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vouch_engine::evidence::{Artifact, ArtifactInput};
use vouch_engine::{evidence, trust, verify};

static TRUST: OnceLock<trust::Trust> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(evidence) = evidence::parse_bundle(data) else { return };
    let trust = TRUST.get_or_init(|| trust::Trust::load(&trust::TrustSource::Production).expect("root"));
    let input = match evidence.claimed_sha256() {
        Some(digest) => ArtifactInput::Digest(digest),
        None => ArtifactInput::parse("sha256:0000000000000000000000000000000000000000000000000000000000000000").expect("digest"),
    };
    let artifact = Artifact::open(input).expect("digest input");
    let _ = verify::verify(trust, &artifact, &evidence, &verify::Signer::AnyIdentity);
});
