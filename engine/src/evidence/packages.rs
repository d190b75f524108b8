//! Packages from their registries (docs/packages.md).
//!
//! * npm: the packument (`GET {registry}/{name}`) gives the version's `dist.integrity`,
//!   its registry signatures (`dist.signatures`: ECDSA over `NAME@VERSION:INTEGRITY` by a
//!   key of `GET {registry}/-/npm/v1/keys`, valid when the version was published) and
//!   whether it has attestations (`GET {registry}/-/npm/v1/attestations/NAME@VERSION`:
//!   SLSA provenance signed by the publishing CI, and npm's publish attestation signed by
//!   the registry's key), both bound to the tarball's sha512.
//! * PyPI: the JSON API (`GET {index}/pypi/{project}/{version}/json`) lists the
//!   release's files with their sha256; the Integrity API
//!   (`GET {index}/integrity/{project}/{version}/{file}/provenance`) serves a file's
//!   PEP 740 attestations grouped by the Trusted Publisher that uploaded them.
//!
//! What a registry says is bound to what is signed: a lockfile's digest must be the
//! registry's, an attestation's subject must be this package's digest and name, a PyPI
//! attestation's signer must be the publisher it is listed under. The registry's own
//! word (publish time, which versions had provenance) is reported as such.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use sigstore_types::{ArtifactDigest, DerPublicKey, HashAlgorithm};

use crate::error::{Code, Error, Result};
use crate::evidence::api::{ApiClient, ApiError};
use crate::plan::packages::{Ecosystem, PackageSpec, Registries};

/// A full packument of a popular package is tens of MiB.
const MAX_PACKUMENT_BYTES: usize = 64 << 20;
const MAX_KEYS_BYTES: usize = 1 << 20;
const MAX_LISTING_BYTES: usize = 16 << 20;
/// Attestations one package version may have.
const MAX_PACKAGE_ATTESTATIONS: usize = 50;
/// Registry signatures on one version.
const MAX_REGISTRY_SIGNATURES: usize = 8;
/// Requests at once to one registry host.
pub const PER_HOST: usize = 16;

/// npm's publish attestation, signed by the registry's key.
pub const NPM_PUBLISH_PREDICATE: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";

/// A registry signing key (`/-/npm/v1/keys`, or a pinned file of the same shape).
#[derive(Debug, Clone)]
pub struct RegistryKey {
    pub keyid: String,
    pub key: DerPublicKey,
    /// After this, signatures of versions published later are invalid.
    pub expires: Option<jiff::Timestamp>,
}

/// `{"keys": [{"keyid", "keytype", "scheme", "key", "expires"}]}`: ECDSA P-256 keys only
/// (all npm has used); anything else is refused rather than skipped.
pub fn parse_keys(bytes: &[u8]) -> std::result::Result<Vec<RegistryKey>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("the registry keys are not JSON: {e}"))?;
    let list = doc.get("keys").and_then(Value::as_array).ok_or("no `keys` list")?;
    let mut out = Vec::new();
    for (i, k) in list.iter().enumerate() {
        let field = |name: &str| k.get(name).and_then(Value::as_str);
        let keyid = field("keyid").filter(|s| !s.is_empty()).ok_or(format!("keys[{i}] has no keyid"))?;
        match (field("keytype"), field("scheme")) {
            (Some("ecdsa-sha2-nistp256"), Some("ecdsa-sha2-nistp256")) => {}
            (t, s) => return Err(format!("keys[{i}] ({keyid}): key type {t:?} / scheme {s:?} is not ecdsa-sha2-nistp256")),
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(field("key").unwrap_or_default())
            .map_err(|e| format!("keys[{i}] ({keyid}): the key is not base64: {e}"))?;
        let key = DerPublicKey::new(der);
        sigstore_verify::crypto::KeyAlgorithm::from_spki(&key).map_err(|e| format!("keys[{i}] ({keyid}): {e}"))?;
        let expires = match k.get("expires") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.parse::<jiff::Timestamp>().map_err(|e| format!("keys[{i}] ({keyid}): expires {t:?}: {e}"))?),
            Some(other) => return Err(format!("keys[{i}] ({keyid}): expires is {other}, not a time")),
        };
        out.push(RegistryKey { keyid: keyid.to_string(), key, expires });
    }
    Ok(out)
}

/// The registry's signature over a package version, as far as it got.
#[derive(Debug, Clone)]
pub enum RegistrySignature {
    /// Every signature verified with a key valid when the version was published.
    Verified {
        keyid: String,
        key_sha256: String,
    },
    /// The registry has keys but did not sign this version.
    Missing,
    /// The registry publishes no keys (no signatures to check; PyPI signs nothing).
    Unsigned,
    Invalid(String),
}

impl RegistrySignature {
    pub fn as_str(&self) -> &'static str {
        match self {
            RegistrySignature::Verified { .. } => "verified",
            RegistrySignature::Missing => "missing",
            RegistrySignature::Unsigned => "none",
            RegistrySignature::Invalid(_) => "invalid",
        }
    }
}

/// A PyPI Trusted Publisher, as the Integrity API names it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Publisher {
    /// `GitHub`, `GitLab`, `Google`, `ActiveState`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// GitHub's workflow file name, or GitLab's `workflow_filepath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// One attestation a registry served, before verification.
#[derive(Debug, Clone)]
pub struct PackageBundle {
    pub url: String,
    /// A Sigstore bundle (PEP 740 attestations are converted to one).
    pub bytes: Vec<u8>,
    pub listed_predicate_type: Option<String>,
    pub publisher: Option<Publisher>,
}

/// What a registry served for one package subject.
#[derive(Debug)]
pub struct FetchedPackage {
    pub spec: PackageSpec,
    pub registry: String,
    /// What is judged: npm's tarball sha512 (the registry's signed integrity), a PyPI
    /// file's sha256.
    pub digest: ArtifactDigest,
    /// PyPI: the file.
    pub file: Option<String>,
    /// The registry's word for when the version was published.
    pub published_at: Option<String>,
    pub signature: RegistrySignature,
    /// Each attestation, or why one could not be read.
    pub attestations: Vec<std::result::Result<PackageBundle, Error>>,
    /// npm: the latest earlier version (by publish time) that had attestations, when this
    /// one has none.
    pub provenance_before: Option<String>,
    /// The keys the registry's publish attestations are checked with.
    pub keys: Arc<Vec<RegistryKey>>,
}

fn pkg_error(code: Code, message: impl Into<String>) -> ApiError {
    ApiError { code, message: message.into() }
}

/// An npm package name in a URL path: a scope's `/` is `%2f`, as npm writes it.
fn npm_path(name: &str) -> String {
    name.replace('/', "%2f")
}

/// What vouch keeps of a packument: each version's name, version and `dist` (typed, so
/// that nothing else of a large packument is held), each version's publish time, and
/// which versions had attestations, by publish time.
#[derive(Debug, Default)]
pub struct Packument {
    versions: HashMap<String, RawVersion>,
    time: HashMap<String, String>,
    /// (publish time, version) of the versions with `dist.attestations`, sorted.
    attested: Vec<(jiff::Timestamp, String)>,
}

#[derive(Debug, serde::Deserialize)]
struct RawPackument {
    name: Option<String>,
    #[serde(default)]
    versions: HashMap<String, RawVersion>,
    #[serde(default)]
    time: HashMap<String, Value>,
}

#[derive(Debug, serde::Deserialize)]
struct RawVersion {
    name: Option<String>,
    version: Option<String>,
    dist: Option<RawDist>,
}

#[derive(Debug, serde::Deserialize)]
struct RawDist {
    integrity: Option<String>,
    shasum: Option<String>,
    signatures: Option<Vec<RawSignature>>,
    attestations: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, serde::Deserialize)]
struct RawSignature {
    keyid: Option<String>,
    sig: Option<String>,
}

/// One answer per URL, asked once however many subjects need it.
type Once<T> = tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<std::result::Result<T, ApiError>>>>>;

/// Per-run caches: each packument and each registry's keys fetched once.
#[derive(Default)]
pub struct Cache {
    packuments: Once<Arc<Packument>>,
    keys: Once<Option<Arc<Vec<RegistryKey>>>>,
    hosts: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl Cache {
    /// At most [`PER_HOST`] requests at once to one host.
    async fn permit(&self, url: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let host = url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_default().to_string();
        let semaphore = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts.entry(host).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_HOST))).clone()
        };
        semaphore.acquire_owned().await.ok()
    }
}

/// Everything one package subject needs from its registry.
pub async fn fetch(
    client: &ApiClient,
    registries: &Registries,
    cache: &Cache,
    spec: &PackageSpec,
    effective_time: jiff::Timestamp,
) -> std::result::Result<FetchedPackage, ApiError> {
    match spec.ecosystem {
        Ecosystem::Npm => fetch_npm(client, registries, cache, spec, effective_time).await,
        Ecosystem::Pypi => fetch_pypi(client, registries, cache, spec).await,
    }
}

/// GET through the host's limit, with `token` (npm's, for its own registry only).
async fn get(
    client: &ApiClient,
    cache: &Cache,
    token: Option<&str>,
    url: &str,
    accept: &str,
    limit: usize,
) -> std::result::Result<Option<Vec<u8>>, ApiError> {
    let _permit = cache.permit(url).await;
    Ok(client.get_package(url, url, accept, limit, token).await?.map(|(body, _)| body))
}

async fn packument(
    client: &ApiClient,
    registries: &Registries,
    cache: &Cache,
    registry: &str,
    name: &str,
) -> std::result::Result<Arc<Packument>, ApiError> {
    let url = format!("{registry}/{}", npm_path(name));
    let cell = cache.packuments.lock().await.entry(url.clone()).or_default().clone();
    cell.get_or_init(|| async {
        let body = get(client, cache, registries.npm_token_for(&url), &url, "application/json", MAX_PACKUMENT_BYTES)
            .await?
            .ok_or_else(|| pkg_error(Code::PackageNotFound, format!("{url}: the registry has no package {name} (404)")))?;
        let doc: RawPackument = serde_json::from_slice(&body)
            .map_err(|e| pkg_error(Code::PackageInvalid, format!("{url}: the packument is not a packument: {e}")))?;
        drop(body);
        if doc.name.as_deref() != Some(name) {
            return Err(pkg_error(Code::PackageInvalid, format!("{url}: the registry answered with another package's packument")));
        }
        let time: HashMap<String, String> = doc.time.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect();
        let mut attested: Vec<(jiff::Timestamp, String)> = doc
            .versions
            .iter()
            .filter(|(_, v)| v.dist.as_ref().is_some_and(|d| d.attestations.is_some()))
            .filter_map(|(v, _)| Some((time.get(v)?.parse::<jiff::Timestamp>().ok()?, v.clone())))
            .collect();
        attested.sort();
        let versions = doc.versions;
        Ok(Arc::new(Packument { versions, time, attested }))
    })
    .await
    .clone()
}

/// The registry's keys (pinned, or fetched once per run); `None`: it publishes none.
async fn registry_keys(
    client: &ApiClient,
    registries: &Registries,
    cache: &Cache,
    registry: &str,
) -> std::result::Result<Option<Arc<Vec<RegistryKey>>>, ApiError> {
    // Pinned keys are the default registry's; a scope's registry has its own.
    if let Some(pinned) = registries.npm_keys.as_ref().filter(|_| registry == registries.npm) {
        return Ok(Some(Arc::new(pinned.clone())));
    }
    let url = format!("{registry}/-/npm/v1/keys");
    let cell = cache.keys.lock().await.entry(url.clone()).or_default().clone();
    cell.get_or_init(|| async {
        match get(client, cache, registries.npm_token_for(&url), &url, "application/json", MAX_KEYS_BYTES).await? {
            None => Ok(None),
            Some(body) => parse_keys(&body).map(|k| Some(Arc::new(k))).map_err(|e| pkg_error(Code::PackageInvalid, format!("{url}: {e}"))),
        }
    })
    .await
    .clone()
}

/// `sha512-BASE64` (one of several space-separated hashes) → the sha512 bytes.
fn sri_sha512(integrity: &str) -> Option<Vec<u8>> {
    integrity.split_whitespace().find_map(|h| {
        let b64 = h.strip_prefix("sha512-")?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64.split('?').next()?).ok()?;
        (bytes.len() == 64).then_some(bytes)
    })
}

async fn fetch_npm(
    client: &ApiClient,
    registries: &Registries,
    cache: &Cache,
    spec: &PackageSpec,
    effective_time: jiff::Timestamp,
) -> std::result::Result<FetchedPackage, ApiError> {
    let registry = registries.npm_for(spec).to_string();
    let id = spec.id();
    let packument = packument(client, registries, cache, &registry, &spec.name).await?;
    let version = packument
        .versions
        .get(&spec.version)
        .ok_or_else(|| pkg_error(Code::PackageNotFound, format!("{id}: {registry} has no version {} of {}", spec.version, spec.name)))?;
    let invalid = |why: String| pkg_error(Code::PackageInvalid, format!("{id}: {registry}: {why}"));
    if version.name.as_deref().is_some_and(|n| n != spec.name) || version.version.as_deref().is_some_and(|v| v != spec.version) {
        return Err(invalid("the version's manifest names another package or version".into()));
    }
    let dist = version.dist.as_ref().ok_or_else(|| invalid("the version has no `dist`".into()))?;
    let integrity = dist.integrity.as_deref().ok_or_else(|| invalid("the version has no dist.integrity".into()))?;
    let sha512 = sri_sha512(integrity).ok_or_else(|| invalid(format!("dist.integrity {integrity:?} has no sha512")))?;
    // The lockfile's digest must be the registry's: every hash it names, and at least one.
    if let Some(locked) = &spec.locked {
        let registry_hashes: Vec<&str> = integrity.split_whitespace().collect();
        let shasum = dist.shasum.as_deref().unwrap_or_default();
        // sha512 both sides: a lockfile with sha1 alone rests on SHA-1's collision resistance.
        let agrees = crate::plan::packages::sri_ok(locked)
            && locked.split_whitespace().any(|h| h.starts_with("sha512-"))
            && locked.split_whitespace().all(|h| match h.split_once('-') {
                Some(("sha512", _)) => sri_sha512(h).as_deref() == Some(sha512.as_slice()),
                Some(("sha1", b64)) => {
                    !shasum.is_empty() && base64::engine::general_purpose::STANDARD.decode(b64).is_ok_and(|b| hex::encode(b) == shasum)
                }
                _ => registry_hashes.contains(&h),
            });
        if !agrees {
            return Err(pkg_error(
                Code::PackageIntegrity,
                format!("{id}: the lockfile's integrity {locked:?} is not the registry's ({integrity})"),
            ));
        }
    }
    let published_at = packument.time.get(&spec.version).cloned();
    let keys = registry_keys(client, registries, cache, &registry).await?;
    let signature = registry_signature(spec, dist, integrity, keys.as_deref(), published_at.as_deref(), effective_time);

    let mut attestations = Vec::new();
    let listed = dist.attestations.is_some();
    if listed {
        let url = format!("{registry}/-/npm/v1/attestations/{}@{}", npm_path(&spec.name), spec.version);
        match get(client, cache, registries.npm_token_for(&url), &url, "application/json", MAX_LISTING_BYTES).await? {
            None => attestations.push(Err(Error::Attest(pkg_error(
                Code::PackageInvalid,
                format!("{id}: the packument lists attestations, but {url} answered 404"),
            )))),
            Some(body) => attestations = npm_attestations(&url, &body)?,
        }
        if attestations.is_empty() {
            attestations.push(Err(Error::Attest(pkg_error(
                Code::PackageInvalid,
                format!("{id}: the packument lists attestations, but {url} lists none"),
            ))));
        }
    }
    // The latest earlier version that had attestations: provenance that appeared and
    // then disappeared is worth a look.
    let this = published_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let provenance_before = match (listed, this) {
        (false, Some(this)) => packument.attested.iter().rev().find(|(t, v)| *t < this && *v != spec.version).map(|(_, v)| v.clone()),
        _ => None,
    };
    let digest = ArtifactDigest::new(HashAlgorithm::Sha2512, sha512).map_err(|e| invalid(e.to_string()))?;
    Ok(FetchedPackage {
        spec: spec.clone(),
        registry,
        digest,
        file: None,
        published_at,
        signature,
        attestations,
        provenance_before,
        keys: keys.unwrap_or_default(),
    })
}

/// npm's registry signature check, as `npm audit signatures` does it: every signature
/// by a known key, valid when the version was published, over `NAME@VERSION:INTEGRITY`.
fn registry_signature(
    spec: &PackageSpec,
    dist: &RawDist,
    integrity: &str,
    keys: Option<&Vec<RegistryKey>>,
    published_at: Option<&str>,
    effective_time: jiff::Timestamp,
) -> RegistrySignature {
    let signatures = dist.signatures.as_ref().filter(|s| !s.is_empty());
    // A registry signs with one key, two during a rotation: a long list is a registry
    // making vouch verify signatures for nothing.
    if signatures.is_some_and(|s| s.len() > MAX_REGISTRY_SIGNATURES) {
        return RegistrySignature::Invalid(format!("more than {MAX_REGISTRY_SIGNATURES} registry signatures on one version"));
    }
    let (keys, signatures) = match (keys, signatures) {
        (None, None) => return RegistrySignature::Unsigned,
        (Some(_), None) => return RegistrySignature::Missing,
        (None, Some(_)) => {
            return RegistrySignature::Invalid("the version is signed, but the registry publishes no keys (/-/npm/v1/keys)".into())
        }
        (Some(k), Some(s)) => (k, s),
    };
    let published = published_at.and_then(|t| t.parse::<jiff::Timestamp>().ok());
    if published.is_some_and(|p| p > effective_time) {
        return RegistrySignature::Invalid(format!(
            "published at {}, after the effective time {}",
            published_at.unwrap_or_default(),
            crate::claims::rfc3339(effective_time)
        ));
    }
    let message = format!("{}@{}:{integrity}", spec.name, spec.version);
    let mut first = None;
    for s in signatures {
        let keyid = s.keyid.as_deref().unwrap_or_default();
        let Some(key) = keys.iter().find(|k| k.keyid == keyid) else {
            return RegistrySignature::Invalid(format!("signed by an unknown key {keyid:?} (not in the registry's keys)"));
        };
        if let Some(expires) = key.expires {
            match published {
                Some(p) if p < expires => {}
                Some(_) => {
                    return RegistrySignature::Invalid(format!(
                        "signed by key {keyid}, which expired at {} before the version was published ({})",
                        crate::claims::rfc3339(expires),
                        published_at.unwrap_or_default()
                    ))
                }
                None => {
                    return RegistrySignature::Invalid(format!(
                        "key {keyid} expires, and the registry gives no publish time to check it against"
                    ))
                }
            }
        }
        let sig = match base64::engine::general_purpose::STANDARD.decode(s.sig.as_deref().unwrap_or_default()) {
            Ok(sig) => sig,
            Err(_) => return RegistrySignature::Invalid(format!("the signature by {keyid} is not base64")),
        };
        let verified = sigstore_verify::crypto::verify_signature(
            &key.key,
            message.as_bytes(),
            &sigstore_types::SignatureBytes::new(sig),
            sigstore_verify::crypto::SigningScheme::EcdsaP256Sha256,
        );
        if verified.is_err() {
            return RegistrySignature::Invalid(format!("the signature by {keyid} over {message:?} does not verify"));
        }
        first.get_or_insert((keyid.to_string(), sigstore_verify::crypto::sha256(key.key.as_bytes()).to_hex()));
    }
    match first {
        Some((keyid, key_sha256)) => RegistrySignature::Verified { keyid, key_sha256 },
        None => RegistrySignature::Missing,
    }
}

/// `{"attestations": [{"predicateType", "bundle"}]}`.
fn npm_attestations(url: &str, body: &[u8]) -> std::result::Result<Vec<std::result::Result<PackageBundle, Error>>, ApiError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| pkg_error(Code::PackageInvalid, format!("{url}: not JSON: {e}")))?;
    let list = doc
        .get("attestations")
        .and_then(Value::as_array)
        .ok_or_else(|| pkg_error(Code::PackageInvalid, format!("{url}: no `attestations` list")))?;
    if list.len() > MAX_PACKAGE_ATTESTATIONS {
        return Err(pkg_error(Code::LimitCount, format!("{url}: more than {MAX_PACKAGE_ATTESTATIONS} attestations for one version")));
    }
    Ok(list
        .iter()
        .map(|entry| match entry.get("bundle").filter(|b| b.is_object()) {
            Some(bundle) => Ok(PackageBundle {
                url: url.to_string(),
                bytes: serde_json::to_vec(bundle).unwrap_or_default(),
                listed_predicate_type: entry.get("predicateType").and_then(Value::as_str).map(str::to_string),
                publisher: None,
            }),
            None => Err(Error::Attest(pkg_error(Code::PackageInvalid, format!("{url}: an attestation without its bundle")))),
        })
        .collect())
}

async fn fetch_pypi(
    client: &ApiClient,
    registries: &Registries,
    cache: &Cache,
    spec: &PackageSpec,
) -> std::result::Result<FetchedPackage, ApiError> {
    let index = registries.pypi.clone();
    let id = spec.id();
    let url = format!("{index}/pypi/{}/{}/json", spec.name, spec.version);
    let body = get(client, cache, None, &url, "application/json", MAX_LISTING_BYTES)
        .await?
        .ok_or_else(|| pkg_error(Code::PackageNotFound, format!("{id}: {index} has no release {} of {} (404)", spec.version, spec.name)))?;
    let invalid = |why: String| pkg_error(Code::PackageInvalid, format!("{id}: {url}: {why}"));
    let doc: Value = serde_json::from_slice(&body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let listed_version = doc.pointer("/info/version").and_then(Value::as_str).unwrap_or_default();
    if listed_version != spec.version {
        return Err(invalid(format!("the index answered with version {listed_version:?}")));
    }
    let files = doc.get("urls").and_then(Value::as_array).ok_or_else(|| invalid("no `urls` list of files".into()))?;
    let found = files.iter().find(|f| {
        let filename = f.get("filename").and_then(Value::as_str);
        let sha256 = f.pointer("/digests/sha256").and_then(Value::as_str);
        match (&spec.file, &spec.locked) {
            (Some(file), _) => filename == Some(file.as_str()),
            (None, Some(hex)) => sha256.is_some_and(|s| s.eq_ignore_ascii_case(hex)),
            (None, None) => false,
        }
    });
    let Some(found) = found else {
        return Err(match (&spec.file, &spec.locked) {
            (Some(file), _) => pkg_error(Code::PackageNotFound, format!("{id}: the release has no file {file}")),
            _ => pkg_error(
                Code::PackageIntegrity,
                format!("{id}: no file of the release has the lockfile's sha256 (the index lists {} files)", files.len()),
            ),
        });
    };
    let filename = found.get("filename").and_then(Value::as_str).unwrap_or_default().to_string();
    let sha256 = found.pointer("/digests/sha256").and_then(Value::as_str).ok_or_else(|| invalid(format!("{filename} has no sha256")))?;
    let bytes = hex::decode(sha256)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| invalid(format!("{filename}: sha256 {sha256:?} is not 64 hex digits")))?;
    // The file must be this project's and version's (the index could list another's).
    match pypi_file_release(&filename) {
        Some((project, version)) if project == spec.name && version.eq_ignore_ascii_case(&spec.version) => {}
        _ => return Err(invalid(format!("the file {filename:?} is not a distribution of {} {}", spec.name, spec.version))),
    }
    let published_at = found.get("upload_time_iso_8601").and_then(Value::as_str).map(str::to_string);

    let provenance_url = format!("{index}/integrity/{}/{}/{filename}/provenance", spec.name, spec.version);
    let mut attestations = Vec::new();
    if let Some(body) = get(client, cache, None, &provenance_url, "application/vnd.pypi.integrity.v1+json", MAX_LISTING_BYTES).await? {
        attestations = pypi_provenance(&provenance_url, &body)?;
    }
    let digest = ArtifactDigest::new(HashAlgorithm::Sha2256, bytes).map_err(|e| invalid(e.to_string()))?;
    Ok(FetchedPackage {
        spec: spec.clone(),
        registry: index,
        digest,
        file: Some(filename),
        published_at,
        signature: RegistrySignature::Unsigned,
        attestations,
        provenance_before: None,
        keys: Default::default(),
    })
}

/// A distribution file's project (normalized) and version: a wheel's
/// `NAME-VERSION(-BUILD)?-PY-ABI-PLATFORM.whl`, an sdist's `NAME-VERSION.tar.gz` / `.zip`.
pub fn pypi_file_release(filename: &str) -> Option<(String, String)> {
    if !crate::plan::packages::pypi_file_ok(filename) {
        return None;
    }
    let (name, version) = if let Some(stem) = filename.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        let (name, version) = (parts.next()?, parts.next()?);
        (parts.count() >= 3).then_some((name, version))?
    } else {
        let stem = [".tar.gz", ".zip", ".tar.bz2"].iter().find_map(|ext| filename.strip_suffix(ext))?;
        stem.rsplit_once('-')?
    };
    (!name.is_empty() && !version.is_empty()).then(|| (crate::plan::packages::normalize_pypi(name), version.to_string()))
}

/// A PEP 740 provenance object: `{"version": 1, "attestation_bundles": [{"publisher",
/// "attestations": [...]}]}`; each attestation becomes a Sigstore bundle.
pub fn pypi_provenance(url: &str, body: &[u8]) -> std::result::Result<Vec<std::result::Result<PackageBundle, Error>>, ApiError> {
    let invalid = |why: String| pkg_error(Code::PackageInvalid, format!("{url}: {why}"));
    let doc: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if doc.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(invalid("not a version 1 provenance object".into()));
    }
    let groups = doc.get("attestation_bundles").and_then(Value::as_array).ok_or_else(|| invalid("no attestation_bundles".into()))?;
    let mut out = Vec::new();
    for group in groups {
        let p = group.get("publisher").unwrap_or(&Value::Null);
        let field = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        let publisher = Publisher {
            kind: field("kind").unwrap_or_default(),
            repository: field("repository").or_else(|| field("project")),
            workflow: field("workflow").or_else(|| field("workflow_filepath")),
            environment: field("environment"),
        };
        for a in group.get("attestations").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            if out.len() >= MAX_PACKAGE_ATTESTATIONS {
                return Err(pkg_error(Code::LimitCount, format!("{url}: more than {MAX_PACKAGE_ATTESTATIONS} attestations for one file")));
            }
            out.push(
                pep740_bundle(a)
                    .map(|bundle| PackageBundle {
                        url: url.to_string(),
                        bytes: serde_json::to_vec(&bundle).unwrap_or_default(),
                        listed_predicate_type: None,
                        publisher: Some(publisher.clone()),
                    })
                    .map_err(|why| Error::Attest(invalid(why))),
            );
        }
    }
    Ok(out)
}

/// A PEP 740 attestation as the Sigstore bundle v0.3 it encodes (what pypi-attestations'
/// `Attestation.to_bundle()` writes): the certificate, the log entries as they are, the
/// DSSE envelope over the in-toto statement.
pub fn pep740_bundle(a: &Value) -> std::result::Result<Value, String> {
    if a.get("version").and_then(Value::as_u64) != Some(1) {
        return Err("an attestation that is not version 1".into());
    }
    let s = |p: &str| a.pointer(p).and_then(Value::as_str).ok_or(format!("an attestation without {p}"));
    let (certificate, statement, signature) =
        (s("/verification_material/certificate")?, s("/envelope/statement")?, s("/envelope/signature")?);
    let entries = a
        .pointer("/verification_material/transparency_entries")
        .and_then(Value::as_array)
        .ok_or("an attestation without transparency_entries")?;
    Ok(serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"certificate": {"rawBytes": certificate}, "tlogEntries": entries},
        "dsseEnvelope": {"payload": statement, "payloadType": "application/vnd.in-toto+json", "signatures": [{"sig": signature}]}
    }))
}

/// A package URL for the statement subject npm's attestations name.
pub fn npm_purls(name: &str, version: &str) -> [String; 2] {
    [format!("pkg:npm/{name}@{version}"), format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1))]
}

/// A statement served for this package must name it: npm's subjects are its package URL,
/// PyPI's the file name (PEP 740); the digest is bound by the verification itself.
pub fn check_subject(fetched: &FetchedPackage, statement: &crate::evidence::InTotoStatement) -> Result<()> {
    let names: Vec<&str> = statement.subjects.iter().map(|s| s.name.as_str()).collect();
    // One subject must carry both this package's name and its digest: a name from one
    // subject and the digest from another bind nothing.
    let digest = fetched.digest.as_bytes();
    let ours = |s: &crate::evidence::statement::StatementSubject| {
        s.sha512.as_ref().is_some_and(|d| d.as_bytes() == digest) || s.sha256.as_ref().is_some_and(|d| d.as_bytes() == digest)
    };
    let ok = match (fetched.spec.ecosystem, &fetched.file) {
        (Ecosystem::Npm, _) => {
            let purls = npm_purls(&fetched.spec.name, &fetched.spec.version);
            statement.subjects.iter().any(|s| ours(s) && purls.contains(&s.name))
        }
        // PEP 740: exactly one subject, the file.
        (Ecosystem::Pypi, Some(file)) => statement.subjects.len() == 1 && statement.subjects.iter().all(|s| ours(s) && s.name == *file),
        (Ecosystem::Pypi, None) => false,
    };
    if ok {
        return Ok(());
    }
    Err(Error::Attest(pkg_error(
        Code::PackageAttestation,
        format!("the attestation names {} — not {}", names.join(", "), fetched.file.clone().unwrap_or_else(|| fetched.spec.id())),
    )))
}

/// npm's publish attestation names the package and version in its predicate too.
pub fn check_publish_predicate(fetched: &FetchedPackage, statement: &Value) -> Result<()> {
    let p = statement.get("predicate").unwrap_or(&Value::Null);
    let (name, version) = (p.get("name").and_then(Value::as_str), p.get("version").and_then(Value::as_str));
    if name == Some(fetched.spec.name.as_str()) && version == Some(fetched.spec.version.as_str()) {
        return Ok(());
    }
    Err(Error::Attest(pkg_error(
        Code::PackageAttestation,
        format!("the publish attestation is for {}@{}, not {}", name.unwrap_or("?"), version.unwrap_or("?"), fetched.spec.id()),
    )))
}

/// A PyPI attestation's signer must be the Trusted Publisher it is listed under, as
/// pypi-attestations checks it: GitHub's repository and workflow file, GitLab's project
/// and CI config file.
pub fn check_publisher(publisher: &Publisher, claims: Option<&crate::claims::Claims>) -> Result<()> {
    let refuse = |why: String| Err(Error::Attest(pkg_error(Code::PackagePublisher, why)));
    let Some(claims) = claims else { return refuse("the attestation is signed with a key, not by its Trusted Publisher".into()) };
    let repository = publisher.repository.as_deref().unwrap_or_default();
    let workflow = publisher.workflow.as_deref().unwrap_or_default();
    match publisher.kind.as_str() {
        "GitHub" => {
            let Some(g) = &claims.github else {
                return refuse(format!("listed under GitHub publisher {repository}, signed by {}", signer(claims)));
            };
            let file = g.workflow_path.rsplit('/').next().unwrap_or_default();
            if !g.workflow_repository.eq_ignore_ascii_case(repository) || !g.repository.eq_ignore_ascii_case(repository) || file != workflow
            {
                return refuse(format!(
                    "listed under GitHub publisher {repository} (workflow {workflow}), signed by {} running {}/{}",
                    g.repository, g.workflow_repository, g.workflow_path
                ));
            }
        }
        "GitLab" => {
            let Some(g) = &claims.gitlab else {
                return refuse(format!("listed under GitLab publisher {repository}, signed by {}", signer(claims)));
            };
            if !g.ci_config_project_path.eq_ignore_ascii_case(repository)
                || !g.project_path.eq_ignore_ascii_case(repository)
                || g.ci_config_path != workflow
            {
                return refuse(format!(
                    "listed under GitLab publisher {repository} ({workflow}), signed by {} running {}//{}",
                    g.project_path, g.ci_config_project_path, g.ci_config_path
                ));
            }
        }
        other => return refuse(format!("publisher kind {other:?} is not one vouch can bind to a certificate (GitHub, GitLab)")),
    }
    Ok(())
}

fn signer(claims: &crate::claims::Claims) -> String {
    claims.identity.as_ref().map_or_else(|| "an unknown identity".to_string(), |i| i.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_refuse() {
        let key =
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==";
        let ok = serde_json::json!({"keys": [{"expires": "2025-01-29T00:00:00.000Z", "keyid": "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "key": key}]});
        let keys = parse_keys(ok.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].expires.is_some());
        for bad in [
            serde_json::json!({"keys": [{"keyid": "k", "keytype": "rsa", "scheme": "rsa", "key": key}]}),
            serde_json::json!({"keys": [{"keyid": "k", "keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "key": "!!"}]}),
            serde_json::json!({"keys": [{"keyid": "k", "keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "key": key, "expires": 5}]}),
            serde_json::json!({"nokeys": []}),
        ] {
            assert!(parse_keys(bad.to_string().as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn pypi_files_name_their_release() {
        assert_eq!(pypi_file_release("Zope.Interface-7.1-cp312-cp312-manylinux_x86_64.whl"), Some(("zope-interface".into(), "7.1".into())));
        assert_eq!(pypi_file_release("gitlab_oidc_project-0.0.3.tar.gz"), Some(("gitlab-oidc-project".into(), "0.0.3".into())));
        for bad in ["x.whl", "a-1.whl", "..", ".hidden-1.tar.gz", "a-1.exe", "a/b-1.tar.gz", "noversion.tar.gz"] {
            assert_eq!(pypi_file_release(bad), None, "{bad}");
        }
    }

    #[test]
    fn integrity_and_purls() {
        let sri = format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode([7u8; 64]));
        assert_eq!(sri_sha512(&format!("sha1-abc {sri}")), Some(vec![7u8; 64]));
        assert_eq!(sri_sha512("sha1-abc"), None);
        assert_eq!(npm_purls("@acme/app", "1.0.0")[1], "pkg:npm/%40acme/app@1.0.0");
    }
}
