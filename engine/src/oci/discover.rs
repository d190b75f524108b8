//! What claims to sign an image, and how each claim is verified.

use std::collections::BTreeMap;

use serde_json::Value;
use sigstore_types::Sha256Hash;

use super::client::{is_sha256_digest, ProbeGuard, ReferrersMode, ReferrersPlan, RegistryClient};
use super::reference::ImageRef;
use super::OciErrorKind;
use crate::error::{Error, Result, Stage};
use crate::evidence::{self, cosign, MAX_BUNDLE_BYTES};
use crate::evidence::{Artifact, ArtifactInput};
use crate::trust::Trust;
use crate::verify::{self, Signer, VerifiedSignature};

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// More layers or referrers than this on one image is not signing; it is an attack on
/// the verifier.
pub const MAX_SIGNATURES_PER_IMAGE: usize = 100;
const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// The image being judged: always a digest, with the tag it came from.
#[derive(Debug, Clone)]
pub struct ImageSubject {
    /// The reference as written.
    pub reference: ImageRef,
    /// `sha256:<hex>` of the judged manifest (the index, unless a platform was chosen).
    pub digest: String,
    pub media_type: String,
    /// Set when `--platform` chose a manifest out of an index.
    pub index_digest: Option<String>,
}

impl ImageSubject {
    pub fn sha256(&self) -> Sha256Hash {
        Sha256Hash::from_hex(self.digest.trim_start_matches("sha256:")).unwrap_or(Sha256Hash::new([0; 32]))
    }

    /// `registry/repository@sha256:…`, with the tag it was resolved from.
    pub fn name(&self) -> String {
        let pinned = self.reference.with_reference(&self.digest);
        match (&self.reference.tag, &self.reference.digest) {
            (Some(tag), None) => format!("{pinned} (from tag {tag})"),
            _ => pinned,
        }
    }
}

/// One piece of evidence found in the registry.
#[derive(Debug, Clone)]
pub enum Found {
    /// A `.sig` layer: the simple-signing payload and its annotations.
    CosignSignature { payload: Vec<u8>, annotations: BTreeMap<String, String> },
    /// A `.att` layer: a DSSE envelope and its annotations.
    CosignAttestation { envelope: Vec<u8>, annotations: BTreeMap<String, String> },
    /// A Sigstore bundle stored as an OCI 1.1 referrer (cosign 3).
    Bundle { bytes: Vec<u8> },
}

#[derive(Debug)]
pub struct Discovery {
    pub subject: ImageSubject,
    /// Each item, or why it could not be read.
    pub evidence: Vec<Result<Found>>,
    /// What the registry answered that is not evidence but that a reader should know
    /// (its referrers API and tag disagreeing): shown as warnings.
    pub notes: Vec<Error>,
}

fn registry_error(e: super::OciError) -> Error {
    Error::Registry(e)
}

/// Resolve `image` to a digest and collect its signatures, attestations and referrers.
///
/// Round trips, not requests, are what a distant registry costs, so: a tag is resolved
/// with `HEAD` (the digest from `Docker-Content-Digest`, no body); an image pinned by
/// digest is checked to exist alongside its evidence rather than before it; `.sig`,
/// `.att` and the referrers are asked at once, and each one's layers at once.
pub async fn discover(client: &RegistryClient, image: &ImageRef, platform: Option<&str>) -> Result<Discovery> {
    let not_found = || Error::ImageNotFound(format!("{image} does not exist in the registry"));
    let subject = |digest: String, media_type: String| ImageSubject { reference: image.clone(), digest, media_type, index_digest: None };
    let subject = match (&image.digest, platform) {
        // Pinned: the digest is known, so its existence is asked with the evidence.
        (Some(digest), None) => {
            let plan = client.referrers_plan(image).await;
            let (head, evidence) =
                futures_util::future::join(client.head_manifest(image, digest), evidence(client, image, digest, plan)).await;
            let (served, media_type) = match head {
                // A registry that does not answer HEAD: the manifest itself (hash-checked).
                Err(e) if e.kind == OciErrorKind::Unsupported => {
                    let m = client.manifest(image, digest).await.map_err(registry_error)?.ok_or_else(not_found)?;
                    (Some(m.digest), m.media_type)
                }
                head => head.map_err(registry_error)?.ok_or_else(not_found)?,
            };
            if let Some(served) = served.filter(|s| s != digest) {
                return Err(registry_error(super::OciError::invalid(format!(
                    "registry {} answered for {digest} with a manifest it says is {served}",
                    image.registry
                ))));
            }
            // Only now, with the image known to exist, may what its probe saw count for
            // the registry (a 404 from the referrers API of a missing repository says
            // nothing about the API).
            let (evidence, notes, learnt) = evidence?;
            settle(learnt);
            return Ok(Discovery { subject: subject(digest.clone(), media_type), evidence, notes });
        }
        (_, Some(platform)) => {
            let reference = image.digest.clone().or_else(|| image.tag.clone()).unwrap_or_else(|| "latest".into());
            let manifest = client.manifest(image, &reference).await.map_err(registry_error)?.ok_or_else(not_found)?;
            let (digest, media_type) = select_platform(&manifest.json, platform).ok_or_else(|| {
                Error::ImageNotFound(format!(
                    "{image} has no manifest for platform {platform} (it is {})",
                    if manifest.json.get("manifests").is_some() { "an index without it" } else { "a single-platform image" }
                ))
            })?;
            ImageSubject { index_digest: Some(manifest.digest.clone()), ..subject(digest, media_type) }
        }
        // A tag: HEAD gives the digest; a registry that sends none gets a GET, and the
        // digest is computed from the bytes.
        (None, None) => {
            let tag = image.tag.clone().unwrap_or_else(|| "latest".into());
            let head = match client.head_manifest(image, &tag).await {
                Err(e) if e.kind == OciErrorKind::Unsupported => Some((None, String::new())),
                head => head.map_err(registry_error)?,
            };
            match head.ok_or_else(not_found)? {
                (Some(digest), media_type) => subject(digest, media_type),
                (None, _) => {
                    let manifest = client.manifest(image, &tag).await.map_err(registry_error)?.ok_or_else(not_found)?;
                    subject(manifest.digest, manifest.media_type)
                }
            }
        }
    };
    let plan = client.referrers_plan(image).await;
    let (evidence, notes, learnt) = evidence(client, image, &subject.digest, plan).await?;
    settle(learnt);
    Ok(Discovery { subject, evidence, notes })
}

/// A probe's guard and what it saw, for the caller to settle once the image is known to exist.
type Learnt = Option<(ProbeGuard, ReferrersMode)>;

fn settle(learnt: Learnt) {
    if let Some((guard, mode)) = learnt {
        guard.learnt(mode);
    }
}
type Evidence = (Vec<Result<Found>>, Vec<Error>, Learnt);

/// `.sig`, `.att` and the referrers of one digest, asked at once; the evidence keeps its order.
async fn evidence(client: &RegistryClient, image: &ImageRef, digest: &str, plan: ReferrersPlan) -> Result<Evidence> {
    let (sig, att, referrers) = futures_util::future::join3(
        cosign_layers(client, image, digest, ".sig", SIMPLE_SIGNING),
        cosign_layers(client, image, digest, ".att", DSSE_LAYER),
        referrer_bundles(client, image, digest, plan),
    )
    .await;
    let (referrers, notes, learnt) = referrers?;
    let mut evidence = sig?;
    evidence.extend(att?);
    evidence.extend(referrers);
    Ok((evidence, notes, learnt))
}

/// The layers of one cosign tag (`sha256-<hex>.sig` or `.att`) of this type, fetched at once.
async fn cosign_layers(
    client: &RegistryClient,
    image: &ImageRef,
    digest: &str,
    suffix: &str,
    layer_type: &str,
) -> Result<Vec<Result<Found>>> {
    let tag = format!("{}{suffix}", digest.replace(':', "-"));
    let Some(sig_manifest) = client.manifest(image, &tag).await.map_err(registry_error)? else {
        return Ok(Vec::new());
    };
    // Taken, not copied: the annotations (certificate, Rekor bundle) are most of the bytes.
    let layers = match sig_manifest.json {
        Value::Object(mut m) => match m.remove("layers") {
            Some(Value::Array(layers)) => layers,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    if layers.len() > MAX_SIGNATURES_PER_IMAGE {
        return Ok(vec![Err(Error::Limit(format!("{tag} has {} layers, over the limit of {MAX_SIGNATURES_PER_IMAGE}", layers.len())))]);
    }
    let wanted = layers.into_iter().filter(|layer| layer.get("mediaType").and_then(|m| m.as_str()) == Some(layer_type));
    Ok(futures_util::future::join_all(wanted.map(|layer| fetch_layer(client, image, layer, layer_type))).await)
}

/// (`.sig` layers, `.att` layers, bundle referrers, the platform's manifest: (digest, media type)).
pub type ManifestSummary = (usize, usize, usize, Option<(String, String)>);

/// What a registry's manifest or index JSON says, as discovery reads it: the layers of
/// each cosign type, the Sigstore-bundle referrers, the manifest for a platform. Pure, for
/// fuzzing the parsing of registry answers.
pub fn inspect_manifest(bytes: &[u8], platform: &str) -> Result<ManifestSummary> {
    let json: Value = serde_json::from_slice(bytes).map_err(|e| Error::BundleFormat(format!("not JSON: {e}")))?;
    if !json.is_object() {
        return Err(Error::BundleFormat("not a JSON object".into()));
    }
    let count = |t: &str| {
        json.get("layers")
            .and_then(|l| l.as_array())
            .map_or(0, |l| l.iter().filter(|x| x.get("mediaType").and_then(|m| m.as_str()) == Some(t)).count())
    };
    let referrers = bundle_entries(&json).filter(|e| entry_digest(e).is_some_and(is_sha256_digest)).count();
    Ok((count(SIMPLE_SIGNING), count(DSSE_LAYER), referrers, select_platform(&json, platform)))
}

fn select_platform(index: &Value, platform: &str) -> Option<(String, String)> {
    let mut parts = platform.split('/');
    let (os, arch, variant) = (parts.next()?, parts.next()?, parts.next());
    index.get("manifests")?.as_array()?.iter().find_map(|m| {
        let p = m.get("platform")?;
        let matches = p.get("os")?.as_str()? == os
            && p.get("architecture")?.as_str()? == arch
            && variant.is_none_or(|v| p.get("variant").and_then(|x| x.as_str()) == Some(v));
        let digest = m.get("digest")?.as_str()?;
        (matches && is_sha256_digest(digest))
            .then(|| (digest.to_string(), m.get("mediaType").and_then(|t| t.as_str()).unwrap_or_default().to_string()))
    })
}

async fn fetch_layer(client: &RegistryClient, image: &ImageRef, mut layer: Value, layer_type: &str) -> Result<Found> {
    let digest = layer.get("digest").and_then(|d| d.as_str()).unwrap_or_default();
    let limit = if layer_type == SIMPLE_SIGNING { MAX_PAYLOAD_BYTES } else { MAX_BUNDLE_BYTES as usize };
    let bytes = client.blob(image, digest, limit).await.map_err(registry_error)?;
    // Only what verification reads is kept until the image is judged: cosign's chain
    // annotation (the trusted root has the intermediates) and any others are dropped here.
    let annotations: BTreeMap<String, String> = match layer.get_mut("annotations").map(Value::take) {
        Some(Value::Object(a)) => a
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) if [SIGNATURE_ANNOTATION, CERTIFICATE_ANNOTATION, BUNDLE_ANNOTATION].contains(&k.as_str()) => Some((k, s)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(if layer_type == SIMPLE_SIGNING {
        Found::CosignSignature { payload: bytes, annotations }
    } else {
        Found::CosignAttestation { envelope: bytes, annotations }
    })
}

/// The index at the referrers tag schema's `sha256-<hex>` tag, if there is one.
async fn tagged_referrers(client: &RegistryClient, image: &ImageRef, digest: &str) -> Result<Option<Value>> {
    Ok(match client.manifest(image, &digest.replace(':', "-")).await.map_err(registry_error)? {
        Some(m) if m.json.get("manifests").is_some() => Some(m.json),
        _ => None,
    })
}

/// Whether an index entry says it is a Sigstore bundle.
fn is_bundle_referrer(entry: &Value) -> bool {
    entry.get("artifactType").and_then(|a| a.as_str()) == Some(SIGSTORE_BUNDLE)
}

/// An index entry's digest, if it has one as a string.
fn entry_digest(entry: &Value) -> Option<&str> {
    entry.get("digest").and_then(|d| d.as_str())
}

/// An index's Sigstore-bundle entries.
fn bundle_entries(index: &Value) -> impl Iterator<Item = &Value> {
    index.get("manifests").and_then(|m| m.as_array()).into_iter().flatten().filter(|e| is_bundle_referrer(e))
}

/// Sigstore bundles attached as OCI 1.1 referrers: the referrers API, or — for
/// registries without it — the index at the `sha256-<hex>` tag.
///
/// Each registry is asked both ways by its first image (the others wait for what it
/// learns); from then on only the way it serves. A registry with the API lists every
/// manifest pushed with a `subject` (distribution-spec 1.1), and clients keep the tag
/// only where the API is missing, so the tag can add nothing the API would not list —
/// except entries from before the registry gained the API. Where both answered and
/// differ, both lists are used, the difference is reported, and every later image of
/// that registry asks both ways too.
async fn referrer_bundles(client: &RegistryClient, image: &ImageRef, digest: &str, plan: ReferrersPlan) -> Result<Evidence> {
    let (index, notes, learnt) = match plan {
        ReferrersPlan::Known(ReferrersMode::Api) => match client.referrers_api(image, digest).await.map_err(registry_error)? {
            Some(index) => (Some(index), Vec::new(), None),
            None => (tagged_referrers(client, image, digest).await?, Vec::new(), None),
        },
        ReferrersPlan::Known(ReferrersMode::Tag) => (tagged_referrers(client, image, digest).await?, Vec::new(), None),
        ReferrersPlan::Known(ReferrersMode::Both) => {
            let (index, _, note) = both_ways(client, image, digest).await?;
            (index, note.into_iter().collect(), None)
        }
        ReferrersPlan::Probe(guard) => {
            let (index, mode, note) = both_ways(client, image, digest).await?;
            (index, note.into_iter().collect(), Some((guard, mode)))
        }
    };
    Ok((referrer_entries(client, image, digest, index).await, notes, learnt))
}

/// The referrers API and the tag, asked at once: their union, what it says of the
/// registry, and the difference if they disagree.
async fn both_ways(client: &RegistryClient, image: &ImageRef, digest: &str) -> Result<(Option<Value>, ReferrersMode, Option<Error>)> {
    let (api, tagged) = futures_util::future::join(client.referrers_api(image, digest), tagged_referrers(client, image, digest)).await;
    let (api, tagged) = (api.map_err(registry_error)?, tagged?);
    let (mut api, tagged) = match (api, tagged) {
        (Some(api), Some(tagged)) => (api, tagged),
        (Some(api), None) => return Ok((Some(api), ReferrersMode::Api, None)),
        (None, tagged) => return Ok((tagged, ReferrersMode::Tag, None)),
    };
    let listed: Vec<String> = bundle_entries(&api).filter_map(entry_digest).map(str::to_string).collect();
    let tag_listed: Vec<&str> = bundle_entries(&tagged).filter_map(entry_digest).collect();
    let only_api: Vec<&str> = listed.iter().map(String::as_str).filter(|l| !tag_listed.contains(l)).collect();
    let only_tag: Vec<Value> =
        bundle_entries(&tagged).filter(|e| entry_digest(e).is_some_and(|d| !listed.iter().any(|l| l == d))).cloned().collect();
    if only_tag.is_empty() && only_api.is_empty() {
        return Ok((Some(api), ReferrersMode::Api, None));
    }
    let names = |v: Vec<&str>| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let note = registry_error(super::OciError::invalid(format!(
        "registry {} lists different referrers of {digest} through its referrers API and the {} tag (only the API: {}; only the tag: {}); both lists were used",
        image.registry,
        digest.replace(':', "-"),
        names(only_api),
        names(only_tag.iter().filter_map(entry_digest).collect()),
    )));
    // The union: the API's entries, then the tag's others (an API index without a
    // `manifests` array gets one).
    match api.as_object_mut() {
        Some(object) => match object.entry("manifests").or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(entries) => entries.extend(only_tag),
            other => *other = Value::Array(only_tag),
        },
        None => api = serde_json::json!({ "manifests": only_tag }),
    }
    Ok((Some(api), ReferrersMode::Both, Some(note)))
}

async fn referrer_entries(client: &RegistryClient, image: &ImageRef, digest: &str, index: Option<Value>) -> Vec<Result<Found>> {
    let Some(index) = index else { return Vec::new() };
    let entries = index.get("manifests").and_then(|m| m.as_array()).cloned().unwrap_or_default();
    if entries.len() > MAX_SIGNATURES_PER_IMAGE {
        return vec![Err(Error::Limit(format!("{digest} has {} referrers, over the limit of {MAX_SIGNATURES_PER_IMAGE}", entries.len())))];
    }
    // Each bundle referrer at once, in the index's order.
    let fetches = entries.iter().filter(|e| is_bundle_referrer(e)).map(|entry| async move {
        match entry_digest(entry).filter(|d| is_sha256_digest(d)) {
            Some(referrer_digest) => referrer_bundle(client, image, digest, referrer_digest).await,
            None => Err(Error::BundleFormat("a referrer entry has no sha256 digest".into())),
        }
    });
    futures_util::future::join_all(fetches).await
}

async fn referrer_bundle(client: &RegistryClient, image: &ImageRef, subject: &str, referrer: &str) -> Result<Found> {
    let manifest = client
        .manifest(image, referrer)
        .await
        .map_err(registry_error)?
        .ok_or_else(|| Error::BundleFormat(format!("referrer {referrer} is listed but missing")))?;
    // The index (a tag anyone with push rights can write) is only a hint: the referrer
    // must itself say it is about this subject.
    let about = manifest.json.pointer("/subject/digest").and_then(|d| d.as_str());
    if about != Some(subject) {
        return Err(Error::verify(Stage::Artifact, format!("referrer {referrer} is about {}, not {subject}", about.unwrap_or("nothing"))));
    }
    let layer = manifest
        .json
        .get("layers")
        .and_then(|l| l.as_array())
        .and_then(|l| l.iter().find(|layer| layer.get("mediaType").and_then(|m| m.as_str()) == Some(SIGSTORE_BUNDLE)))
        .ok_or_else(|| Error::BundleFormat(format!("referrer {referrer} holds no Sigstore bundle layer")))?;
    let digest = layer.get("digest").and_then(|d| d.as_str()).unwrap_or_default();
    let bytes = client.blob(image, digest, MAX_BUNDLE_BYTES as usize).await.map_err(registry_error)?;
    Ok(Found::Bundle { bytes })
}

/// Verify one piece of evidence about the image `subject`.
pub fn verify_found(trust: &Trust, subject: &ImageSubject, found: &Found, signer: &Signer) -> Result<VerifiedSignature> {
    let annotation = |a: &BTreeMap<String, String>, key: &str| {
        a.get(key).cloned().ok_or_else(|| Error::CosignBundle(format!("the layer has no {key} annotation")))
    };
    let image_artifact = Artifact::open(ArtifactInput::Digest(subject.sha256().into()))?;
    match found {
        Found::CosignSignature { payload, annotations } => {
            // The signature covers the payload; the payload must name this image.
            let json: Value =
                serde_json::from_slice(payload).map_err(|e| Error::CosignBundle(format!("the simple-signing payload is not JSON: {e}")))?;
            let named = json.pointer("/critical/image/docker-manifest-digest").and_then(|d| d.as_str());
            let kind = json.pointer("/critical/type").and_then(|d| d.as_str());
            let evidence = cosign::image_signature(
                &annotation(annotations, SIGNATURE_ANNOTATION)?,
                &annotation(annotations, CERTIFICATE_ANNOTATION)?,
                &annotation(annotations, BUNDLE_ANNOTATION)?,
            )?;
            let payload_artifact = Artifact::open(ArtifactInput::Digest(sigstore_verify::crypto::sha256(payload).into()))?;
            let mut signature = verify::verify(trust, &payload_artifact, &evidence, signer)?;
            if kind != Some("cosign container image signature") {
                return Err(Error::verify(
                    Stage::Artifact,
                    format!("the signed payload is not a cosign image signature (type {})", kind.unwrap_or("missing")),
                ));
            }
            if named != Some(subject.digest.as_str()) {
                return Err(Error::verify(
                    Stage::Artifact,
                    format!("the signature is for image {}, not {}", named.unwrap_or("(none named)"), subject.digest),
                ));
            }
            signature.bundle_media_type = SIMPLE_SIGNING.to_string();
            Ok(signature)
        }
        Found::CosignAttestation { envelope, annotations } => {
            let evidence = cosign::attestation(
                envelope,
                &annotation(annotations, CERTIFICATE_ANNOTATION)?,
                &annotation(annotations, BUNDLE_ANNOTATION)?,
            )?;
            let mut signature = verify::verify(trust, &image_artifact, &evidence, signer)?;
            signature.bundle_media_type = DSSE_LAYER.to_string();
            Ok(signature)
        }
        Found::Bundle { bytes } => {
            let evidence = evidence::parse_bundle(bytes)?;
            verify::verify(trust, &image_artifact, &evidence, signer)
        }
    }
}
