//! A GitLab-style project CA (the `local_ca` attestation method, GitLab 19.6+): a P-256
//! root that issues code-signing leaves carrying the job's identity, and v0.3 bundles
//! with a DSSE envelope and no transparency log entry or timestamp — what a project's
//! own CA signs instead of Fulcio and Rekor.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::x509::{self, Issued, Result};
use crate::{CertIdentity, Content};

pub struct LocalCa {
    pub ca: Issued,
}

impl LocalCa {
    /// A project CA valid from `not_before` to `not_after`.
    pub fn new(name: &str, not_before: jiff::Timestamp, not_after: jiff::Timestamp) -> Result<Self> {
        Ok(LocalCa {
            ca: x509::ca(&format!("CN={name},O=GitLab project CA"), crate::key::Key::p256()?, None, not_before, not_after, Some(0))?,
        })
    }

    /// SHA-256 of the CA certificate's DER, lower-case hex (what a pin names).
    pub fn fingerprint(&self) -> String {
        crate::sha256_hex(&self.ca.der)
    }

    pub fn pem(&self) -> String {
        self.ca.pem()
    }

    /// A bundle signing `artifact` (named `name` in the statement) for `identity`, with a
    /// leaf valid from `not_before` to `not_after`.
    pub fn sign(
        &self,
        artifact: &[u8],
        name: &str,
        identity: &CertIdentity,
        content: &Content,
        not_before: jiff::Timestamp,
        not_after: jiff::Timestamp,
    ) -> Result<Value> {
        let key = crate::key::Key::p256()?;
        let spki = x509::spki_der(&key)?;
        let extensions = x509::leaf_extensions(identity, &spki, &self.ca.spki_der()?)?;
        let serial = sigstore_verify::crypto::sha256(&spki).as_bytes()[..20].to_vec();
        let leaf = x509::sign_tbs(
            x509::tbs(x509::TbsParams {
                serial,
                issuer: self.ca.subject()?,
                subject: Default::default(),
                not_before,
                not_after,
                subject_spki: &spki,
                extensions,
                issuer_key: &self.ca.key,
            })?,
            &self.ca.key,
        )?;
        let Content::Dsse { statement_type, predicate_type, predicate } = content else {
            return Err("a local_ca attestation is a DSSE statement".into());
        };
        let statement = json!({
            "_type": statement_type,
            "subject": [{"name": name, "digest": {"sha256": sigstore_verify::crypto::sha256(artifact).to_hex()}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        });
        let payload = serde_json::to_vec(&statement).map_err(|e| e.to_string())?;
        let payload_type = "application/vnd.in-toto+json";
        let sig = STANDARD.encode(key.sign(&sigstore_types::pae(payload_type, &payload))?);
        Ok(json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"certificate": {"rawBytes": STANDARD.encode(&leaf)}, "tlogEntries": []},
            "dsseEnvelope": {"payload": STANDARD.encode(&payload), "payloadType": payload_type, "signatures": [{"sig": sig, "keyid": ""}]}
        }))
    }
}
