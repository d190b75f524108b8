//! cosign 2.x legacy blob bundles — what `cosign sign-blob --bundle cosign.bundle` writes:
//!
//! ```json
//! {"base64Signature": "...", "cert": "<base64 of a PEM certificate>",
//!  "rekorBundle": {"SignedEntryTimestamp": "...",
//!                  "Payload": {"body": "...", "integratedTime": 0, "logIndex": 0, "logID": "<hex>"}}}
//! ```
//!
//! It carries exactly what a v0.1 Sigstore bundle carries (certificate, signature, log
//! entry with its SET), so it is translated into one and verified with the same
//! strength: chain, SCT, SET, log body ↔ signature consistency, identity.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use sigstore_types::{
    Bundle, CanonicalizedBody, DerCertificate, InclusionPromise, KindVersion, LogId, LogIndex, LogKeyId, MediaType, MessageSignature,
    PublicKeyIdentifier, SignatureBytes, SignatureContent, SignedTimestamp, TransparencyLogEntry, VerificationMaterial,
    VerificationMaterialContent, X509Certificate,
};

use super::{BundleFormat, Evidence};
use crate::error::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyBundle {
    #[serde(rename = "base64Signature")]
    base64_signature: String,
    cert: Option<String>,
    #[serde(rename = "rekorBundle")]
    rekor_bundle: Option<RekorBundle>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

#[derive(Deserialize)]
struct BodyKind {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
}

pub(crate) fn parse_legacy(value: serde_json::Value) -> Result<Evidence> {
    let bad = |msg: String| Error::CosignBundle(msg);
    let legacy: LegacyBundle = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let rekor =
        legacy.rekor_bundle.ok_or_else(|| bad("no rekorBundle: the signature was never logged, and vouch requires a log entry".into()))?;

    let signature = SignatureBytes::from_base64(legacy.base64_signature.trim()).map_err(|e| bad(format!("base64Signature: {e}")))?;

    let material = match legacy.cert {
        Some(cert) => {
            let pem = STANDARD.decode(cert.trim()).map_err(|e| bad(format!("cert is not base64: {e}")))?;
            let pem = String::from_utf8(pem).map_err(|_| bad("cert is not a PEM text".into()))?;
            let certificates = pem_certificates(&pem).map_err(bad)?;
            VerificationMaterialContent::X509CertificateChain { certificates }
        }
        // Key-based cosign bundles: the key comes from --key.
        None => VerificationMaterialContent::PublicKey(PublicKeyIdentifier::new("")),
    };

    let entry = rekor_entry(rekor)?;
    let bundle = Bundle::new(
        MediaType::Bundle0_1,
        VerificationMaterial::new(material).with_tlog_entries(vec![entry]),
        SignatureContent::MessageSignature(MessageSignature::new(signature)),
    );
    super::from_bundle(bundle, BundleFormat::CosignLegacy, MediaType::Bundle0_1.as_str().into())
}

/// The `.att` layer of a cosign image attestation: a DSSE envelope, with the certificate
/// and the Rekor entry (with its SET) in annotations — a v0.1 bundle in pieces.
pub fn attestation(envelope: &[u8], certificate_pem: &str, rekor_bundle: &str) -> Result<Evidence> {
    let bad = |msg: String| Error::CosignBundle(msg);
    let envelope: sigstore_types::DsseEnvelope =
        serde_json::from_slice(envelope).map_err(|e| bad(format!("the attestation layer is not a DSSE envelope: {e}")))?;
    let rekor: RekorBundle =
        serde_json::from_str(rekor_bundle).map_err(|e| bad(format!("the bundle annotation is not a Rekor bundle: {e}")))?;
    let certificates = pem_certificates(certificate_pem).map_err(bad)?;
    let bundle = Bundle::new(
        MediaType::Bundle0_1,
        VerificationMaterial::new(VerificationMaterialContent::X509CertificateChain { certificates })
            .with_tlog_entries(vec![rekor_entry(rekor)?]),
        SignatureContent::DsseEnvelope(envelope),
    );
    super::from_bundle(bundle, BundleFormat::CosignLegacy, MediaType::Bundle0_1.as_str().into())
}

/// The `.sig` layer of a cosign image signature, as a legacy bundle over its payload.
pub fn image_signature(signature_b64: &str, certificate_pem: &str, rekor_bundle: &str) -> Result<Evidence> {
    use base64::Engine as _;
    let rekor: serde_json::Value =
        serde_json::from_str(rekor_bundle).map_err(|e| Error::CosignBundle(format!("the bundle annotation is not JSON: {e}")))?;
    parse_legacy(serde_json::json!({
        "base64Signature": signature_b64,
        "cert": base64::engine::general_purpose::STANDARD.encode(certificate_pem),
        "rekorBundle": rekor,
    }))
}

/// A Rekor v1 entry from cosign's `{"SignedEntryTimestamp", "Payload": {…}}`.
fn rekor_entry(rekor: RekorBundle) -> Result<TransparencyLogEntry> {
    let bad = |msg: String| Error::CosignBundle(msg);
    let payload = &rekor.payload;
    let body = CanonicalizedBody::from_base64(&payload.body).map_err(|e| bad(format!("rekorBundle.Payload.body: {e}")))?;
    let kind: BodyKind =
        serde_json::from_slice(body.as_bytes()).map_err(|e| bad(format!("rekorBundle.Payload.body is not a Rekor entry: {e}")))?;
    let kind_version: KindVersion = serde_json::from_value(serde_json::json!({
        "kind": kind.kind, "version": kind.api_version
    }))
    .map_err(|e| bad(e.to_string()))?;
    let log_id = hex::decode(&payload.log_id).map_err(|e| bad(format!("rekorBundle.Payload.logID is not hex: {e}")))?;
    let log_index = LogIndex::try_from(payload.log_index).map_err(|e| bad(format!("rekorBundle.Payload.logIndex: {e}")))?;
    let integrated_time =
        jiff::Timestamp::from_second(payload.integrated_time).map_err(|e| bad(format!("rekorBundle.Payload.integratedTime: {e}")))?;
    let set = SignedTimestamp::from_base64(rekor.signed_entry_timestamp.trim()).map_err(|e| bad(format!("SignedEntryTimestamp: {e}")))?;

    Ok(TransparencyLogEntry::new(log_index, LogId::new(LogKeyId::new(log_id)), kind_version, body)
        .with_integrated_time(integrated_time)
        .with_inclusion_promise(InclusionPromise::new(set)))
}

fn pem_certificates(pem: &str) -> std::result::Result<Vec<X509Certificate>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let mut certificates = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let block_end = rest[start..].find("-----END CERTIFICATE-----").ok_or("cert has an unterminated PEM block")?
            + start
            + "-----END CERTIFICATE-----".len();
        let der = DerCertificate::from_pem(&rest[start..block_end]).map_err(|e| format!("cert PEM: {e}"))?;
        certificates.push(X509Certificate::new(der));
        rest = &rest[block_end..];
    }
    if certificates.is_empty() {
        return Err("cert holds no PEM certificate".into());
    }
    Ok(certificates)
}
