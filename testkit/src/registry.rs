//! Pushing test images and their cosign signatures, attestations and Sigstore-bundle
//! referrers to a real registry (the OCI distribution API, monolithic uploads).

use serde_json::{json, Value};

use crate::image::{CosignLayer, DSSE_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::x509::Result;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::sha256_hex(bytes))
}

/// A descriptor: what an index or a referrer points at.
#[derive(Debug, Clone)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: usize,
    /// The content (manifests: what signatures are computed over).
    pub bytes: Vec<u8>,
}

impl Descriptor {
    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// A registry reachable over plain HTTP (loopback).
pub struct Registry {
    /// `host:port`.
    pub host: String,
    http: reqwest::Client,
}

impl Registry {
    pub fn new(host: &str) -> Self {
        Registry { host: host.to_string(), http: reqwest::Client::new() }
    }

    /// A registry that wants basic authentication on every request.
    pub fn with_basic_auth(host: &str, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        Self::with_authorization(host, &format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))))
    }

    /// A registry reached with this Authorization header (e.g. `Bearer TOKEN`).
    pub fn with_authorization(host: &str, value: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        let http = reqwest::Client::builder().default_headers(headers).build().unwrap_or_default();
        Registry { host: host.to_string(), http }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/v2/{path}", self.host)
    }

    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Result<Descriptor> {
        let d = digest(bytes);
        let response = self.http.post(self.url(&format!("{repo}/blobs/uploads/"))).send().await.map_err(err)?;
        if response.status().as_u16() != 202 {
            return Err(format!("starting an upload to {repo} answered {}", response.status()));
        }
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).ok_or("no upload location")?.to_string();
        let location = if location.starts_with("http") { location } else { format!("http://{}{location}", self.host) };
        let sep = if location.contains('?') { '&' } else { '?' };
        let response = self
            .http
            .put(format!("{location}{sep}digest={d}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(err)?;
        if !response.status().is_success() {
            return Err(format!("uploading blob {d} to {repo} answered {}", response.status()));
        }
        Ok(Descriptor { media_type: "application/octet-stream".into(), digest: d, size: bytes.len(), bytes: bytes.to_vec() })
    }

    pub async fn push_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let response = self
            .http
            .put(self.url(&format!("{repo}/manifests/{reference}")))
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(err)?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(format!("pushing manifest {reference} to {repo} answered {status}: {}", response.text().await.unwrap_or_default()));
        }
        Ok(Descriptor { media_type: media_type.into(), digest: digest(bytes), size: bytes.len(), bytes: bytes.to_vec() })
    }

    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Option<Value>> {
        let response = self
            .http
            .get(self.url(&format!("{repo}/manifests/{reference}")))
            .header("accept", format!("{OCI_MANIFEST}, {OCI_INDEX}"))
            .send()
            .await
            .map_err(err)?;
        if response.status().as_u16() == 404 {
            return Ok(None);
        }
        let bytes = response.bytes().await.map_err(err)?;
        serde_json::from_slice(&bytes).map(Some).map_err(err)
    }

    /// A small image, different for each `seed`, tagged `tag`.
    pub async fn push_image(&self, repo: &str, tag: &str, seed: &str) -> Result<Descriptor> {
        let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"seed": seed}}, "rootfs": {"type": "layers", "diff_ids": []}}))
            .map_err(err)?;
        let layer = format!("layer of {seed}").into_bytes();
        let config = self.push_blob(repo, &config).await?;
        let layer = self.push_blob(repo, &layer).await?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.digest, "size": layer.size}]
        });
        self.push_manifest(repo, tag, OCI_MANIFEST, &serde_json::to_vec(&manifest).map_err(err)?).await
    }

    /// A multi-platform index over the given manifests, tagged `tag`.
    pub async fn push_index(&self, repo: &str, tag: &str, platforms: &[(&str, &str, &Descriptor)]) -> Result<Descriptor> {
        let manifests: Vec<Value> =
            platforms.iter().map(|(os, arch, d)| json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size, "platform": {"os": os, "architecture": arch}})).collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        self.push_manifest(repo, tag, OCI_INDEX, &serde_json::to_vec(&index).map_err(err)?).await
    }

    /// Add a cosign layer to the image's `sha256-<hex>.sig` or `.att` manifest, as
    /// `cosign sign` / `cosign attest` do.
    pub async fn push_cosign_layer(&self, repo: &str, subject: &str, layer: &CosignLayer) -> Result<Descriptor> {
        let suffix = if layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE {
            "sig"
        } else if layer.media_type == DSSE_MEDIA_TYPE {
            "att"
        } else {
            return Err("unknown cosign layer type".into());
        };
        let tag = format!("{}.{suffix}", subject.replace(':', "-"));
        let blob = self.push_blob(repo, &layer.blob).await?;
        let empty = self.push_blob(repo, b"{}").await?;
        let mut layers = match self.get_manifest(repo, &tag).await? {
            Some(existing) => existing["layers"].as_array().cloned().unwrap_or_default(),
            None => Vec::new(),
        };
        layers.push(json!({"mediaType": layer.media_type, "digest": blob.digest, "size": blob.size, "annotations": layer.annotations}));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": empty.digest, "size": empty.size},
            "layers": layers
        });
        self.push_manifest(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(&manifest).map_err(err)?).await
    }

    /// Attach a Sigstore bundle as an OCI 1.1 referrer of `subject`, and list it in the
    /// `sha256-<hex>` tag-schema index for registries without the referrers API.
    pub async fn push_referrer(&self, repo: &str, subject: &Descriptor, bundle: &[u8]) -> Result<Descriptor> {
        let blob = self.push_blob(repo, bundle).await?;
        let empty = self.push_blob(repo, b"{}").await?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGSTORE_BUNDLE,
            "config": {"mediaType": EMPTY_CONFIG, "digest": empty.digest, "size": empty.size},
            "layers": [{"mediaType": SIGSTORE_BUNDLE, "digest": blob.digest, "size": blob.size}],
            "subject": subject.json(),
        });
        let bytes = serde_json::to_vec(&manifest).map_err(err)?;
        let referrer = self.push_manifest(repo, &digest(&bytes), OCI_MANIFEST, &bytes).await?;
        let tag = subject.digest.replace(':', "-");
        let mut entries = match self.get_manifest(repo, &tag).await? {
            Some(index) => index["manifests"].as_array().cloned().unwrap_or_default(),
            None => Vec::new(),
        };
        let mut entry = referrer.json();
        entry["artifactType"] = json!(SIGSTORE_BUNDLE);
        entries.push(entry);
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        self.push_manifest(repo, &tag, OCI_INDEX, &serde_json::to_vec(&index).map_err(err)?).await?;
        Ok(referrer)
    }
}

/// Run an async registry operation from synchronous code (tests, the mint command).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(err)?.block_on(future))
}
