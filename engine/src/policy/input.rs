//! The policy input document (docs/policy-input.schema.json): one per subject.

use serde_json::{json, Value};

use crate::verify::{SignatureKind, VerifiedSignature};

/// What is being judged. Serialized as `{"kind", "name", "digest": {"sha256"}}`.
#[derive(Debug, Clone)]
pub struct SubjectInfo {
    /// `image`, `blob` or `digest`.
    pub kind: &'static str,
    pub name: String,
    pub sha256: String,
}

impl serde::Serialize for SubjectInfo {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json!({"kind": self.kind, "name": self.name, "digest": {"sha256": self.sha256}}).serialize(serializer)
    }
}

/// Evidence that did not verify: it reaches the policy so that it can explain, never pass.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerificationFailure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Context {
    pub effective_time: jiff::Timestamp,
    /// `I/N`.
    pub shard: String,
}

pub fn build_input(subject: &SubjectInfo, signatures: &[VerifiedSignature], failures: &[VerificationFailure], context: &Context) -> Value {
    let signature = |s: &VerifiedSignature| {
        let mut v = json!({
            "kind": s.kind,
            "bundle_media_type": s.bundle_media_type,
            "claims": s.claims,
        });
        if let Some(key) = &s.key_fingerprint_sha256 {
            v["key_fingerprint_sha256"] = json!(key);
        }
        if s.kind == SignatureKind::Dsse {
            v["predicate_type"] = json!(s.predicate_type);
            v["statement"] = json!(s.statement);
        }
        v
    };
    let attestation = |s: &VerifiedSignature| {
        json!({
            "predicate_type": s.predicate_type,
            "statement": s.statement,
            "claims": s.claims,
        })
    };
    json!({
        "subject": subject,
        "signatures": signatures.iter().map(signature).collect::<Vec<_>>(),
        "attestations": signatures.iter().filter(|s| s.kind == SignatureKind::Dsse).map(attestation).collect::<Vec<_>>(),
        "verification_errors": failures,
        "context": {
            "effective_time": crate::claims::rfc3339(context.effective_time),
            "shard": context.shard,
        },
    })
}
