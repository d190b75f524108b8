//! in-toto statements (v0.1 and v1) carried in DSSE envelopes.

use sigstore_types::{DsseEnvelope, Sha256Hash, Sha512Hash};

use crate::error::{Error, Result};

pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// A parsed statement: the typed subjects we bind artifacts with, and the raw JSON the
/// policy sees.
#[derive(Debug, Clone)]
pub struct InTotoStatement {
    pub statement_type: String,
    pub predicate_type: String,
    pub subjects: Vec<StatementSubject>,
    pub json: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct StatementSubject {
    pub name: String,
    pub sha256: Option<Sha256Hash>,
    pub sha512: Option<Sha512Hash>,
}

impl InTotoStatement {
    pub fn from_envelope(envelope: &DsseEnvelope) -> Result<Self> {
        if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(Error::Statement(format!("DSSE payload type is {:?}, expected {IN_TOTO_PAYLOAD_TYPE:?}", envelope.payload_type)));
        }
        Self::from_json(envelope.payload.as_bytes())
    }

    pub fn from_json(payload: &[u8]) -> Result<Self> {
        let json: serde_json::Value = serde_json::from_slice(payload).map_err(|e| Error::Statement(format!("payload is not JSON: {e}")))?;
        let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let statement_type = field("_type").ok_or_else(|| Error::Statement("missing _type".into()))?;
        if statement_type != STATEMENT_V01 && statement_type != STATEMENT_V1 {
            return Err(Error::Statement(format!("_type {statement_type:?} is not an in-toto statement v0.1 or v1")));
        }
        let predicate_type = field("predicateType").ok_or_else(|| Error::Statement("missing predicateType".into()))?;
        let raw_subjects = json.get("subject").and_then(|s| s.as_array()).ok_or_else(|| Error::Statement("missing subject list".into()))?;
        if raw_subjects.is_empty() {
            return Err(Error::Statement("the subject list is empty".into()));
        }
        let mut subjects = Vec::with_capacity(raw_subjects.len());
        for (i, subject) in raw_subjects.iter().enumerate() {
            let digest =
                subject.get("digest").and_then(|d| d.as_object()).ok_or_else(|| Error::Statement(format!("subject[{i}] has no digest")))?;
            let hex_of = |alg: &str| -> Result<Option<String>> {
                match digest.get(alg) {
                    None => Ok(None),
                    Some(v) => v
                        .as_str()
                        .map(|s| Some(s.to_ascii_lowercase()))
                        .ok_or_else(|| Error::Statement(format!("subject[{i}].digest.{alg} is not a string"))),
                }
            };
            let sha256 = hex_of("sha256")?
                .map(|h| Sha256Hash::from_hex(&h))
                .transpose()
                .map_err(|e| Error::Statement(format!("subject[{i}].digest.sha256: {e}")))?;
            let sha512 = hex_of("sha512")?
                .map(|h| Sha512Hash::from_hex(&h))
                .transpose()
                .map_err(|e| Error::Statement(format!("subject[{i}].digest.sha512: {e}")))?;
            subjects.push(StatementSubject {
                name: subject.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string(),
                sha256,
                sha512,
            });
        }
        Ok(Self { statement_type, predicate_type, subjects, json })
    }

    pub fn has_sha256_subject(&self) -> bool {
        self.subjects.iter().any(|s| s.sha256.is_some())
    }

    pub fn has_sha512_subject(&self) -> bool {
        self.subjects.iter().any(|s| s.sha512.is_some())
    }

    pub fn matches_sha256(&self, digest: &Sha256Hash) -> bool {
        self.subjects.iter().any(|s| s.sha256.as_ref() == Some(digest))
    }

    pub fn matches_sha512(&self, digest: &Sha512Hash) -> bool {
        self.subjects.iter().any(|s| s.sha512.as_ref() == Some(digest))
    }

    /// Whether a subject names this digest (statements carry sha256 and sha512 only).
    pub fn matches(&self, digest: &sigstore_types::ArtifactDigest) -> bool {
        match digest.algorithm() {
            sigstore_types::HashAlgorithm::Sha2256 => Sha256Hash::try_from(digest.as_bytes()).is_ok_and(|d| self.matches_sha256(&d)),
            sigstore_types::HashAlgorithm::Sha2512 => Sha512Hash::try_from(digest.as_bytes()).is_ok_and(|d| self.matches_sha512(&d)),
            _ => false,
        }
    }
}
