//! cosign's image evidence, for the OCI registry tests: the layers of a
//! `sha256-<hex>.sig` manifest (a simple-signing payload signed as a message) and of a
//! `.att` manifest (a DSSE envelope with an in-toto statement naming the image), each with
//! the annotations cosign writes.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;

use crate::x509::Result;
use crate::{Break, CertIdentity, Content, Format, SignRequest, VirtualSigstore};

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// One layer of a cosign signature or attestation manifest.
#[derive(Debug, Clone)]
pub struct CosignLayer {
    pub media_type: &'static str,
    pub blob: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
    pub identity: String,
    pub issuer: String,
}

/// The payload `cosign sign` signs: the image's repository and manifest digest.
pub fn simple_signing_payload(docker_reference: &str, manifest_digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap_or_default()
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::sha256_hex(bytes))
}

impl VirtualSigstore {
    /// A `.sig` layer for the image whose manifest is `manifest`.
    pub fn sign_image(
        &mut self,
        docker_reference: &str,
        manifest: &[u8],
        identity: CertIdentity,
        defect: Option<Break>,
    ) -> Result<CosignLayer> {
        let payload = simple_signing_payload(docker_reference, &sha256_digest(manifest));
        let mut request = SignRequest::message(payload.clone(), identity).format(Format::V03);
        request.defect = defect;
        let minted = self.sign(request)?;
        let annotations = self.annotations(&minted, Some(minted.signature_b64.clone()))?;
        Ok(CosignLayer {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE,
            blob: payload,
            annotations,
            identity: minted.identity,
            issuer: minted.issuer,
        })
    }

    /// A `.att` layer: a DSSE envelope whose in-toto statement names the manifest.
    pub fn attest_image(
        &mut self,
        manifest: &[u8],
        identity: CertIdentity,
        content: Content,
        defect: Option<Break>,
    ) -> Result<CosignLayer> {
        let mut request = SignRequest::dsse(manifest.to_vec(), identity, content).name("image");
        request.defect = defect;
        let minted = self.sign(request)?;
        let envelope = minted.envelope.clone().ok_or("DSSE content expected")?;
        let annotations = self.annotations(&minted, None)?;
        Ok(CosignLayer {
            media_type: DSSE_MEDIA_TYPE,
            blob: serde_json::to_vec(&envelope).map_err(|e| e.to_string())?,
            annotations,
            identity: minted.identity,
            issuer: minted.issuer,
        })
    }

    fn annotations(&self, minted: &crate::Minted, signature: Option<String>) -> Result<BTreeMap<String, String>> {
        let mut annotations = BTreeMap::new();
        if let Some(signature) = signature {
            annotations.insert(SIGNATURE_ANNOTATION.to_string(), signature);
        } else {
            // cosign writes an empty signature annotation on attestation layers.
            annotations.insert(SIGNATURE_ANNOTATION.to_string(), String::new());
        }
        annotations.insert(CERTIFICATE_ANNOTATION.to_string(), crate::x509::pem(&minted.certificate_der));
        annotations.insert(CHAIN_ANNOTATION.to_string(), self.chain_pem());
        annotations.insert(BUNDLE_ANNOTATION.to_string(), serde_json::to_string(&minted.rekor_bundle).map_err(|e| e.to_string())?);
        Ok(annotations)
    }
}

/// The predicate type cosign 3 signs images with (a DSSE statement in a Sigstore bundle,
/// stored as an OCI 1.1 referrer).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

impl VirtualSigstore {
    /// A Sigstore bundle v0.3 signing the image like cosign 3: a DSSE statement whose
    /// subject is the manifest digest.
    pub fn sign_image_bundle(&mut self, manifest: &[u8], identity: CertIdentity, defect: Option<Break>) -> Result<crate::Minted> {
        let content = Content::Dsse {
            statement_type: "https://in-toto.io/Statement/v1".into(),
            predicate_type: COSIGN_SIGN_PREDICATE.into(),
            predicate: json!({}),
        };
        let mut request = SignRequest::dsse(manifest.to_vec(), identity, content).name("image");
        request.defect = defect;
        self.sign(request)
    }
}

/// The same evidence as a cosign legacy blob bundle over the payload (for checking a
/// `.sig` layer with a blob verifier).
pub fn signature_layer_as_cosign_bundle(layer: &CosignLayer) -> Result<serde_json::Value> {
    let bundle: serde_json::Value = serde_json::from_str(&layer.annotations[BUNDLE_ANNOTATION]).map_err(|e| e.to_string())?;
    Ok(json!({
        "base64Signature": layer.annotations[SIGNATURE_ANNOTATION],
        "cert": STANDARD.encode(&layer.annotations[CERTIFICATE_ANNOTATION]),
        "rekorBundle": bundle,
    }))
}
