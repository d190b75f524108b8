//! A registry client for what verification needs — manifests, blobs, referrers — with
//! every answer checked: digests recomputed, sizes bounded, retries bounded.
//!
//! Built on reqwest rather than oci-client: oci-client hides status codes and headers
//! (no `Retry-After`) and reads bodies without a size limit.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use super::reference::ImageRef;

/// A manifest or index is a few KiB; refuse anything larger than this.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciErrorKind {
    /// The manifest or blob does not exist.
    NotFound,
    /// The registry refused our credentials (or lack of them).
    Unauthorized,
    /// No answer: connection refused, DNS, timeout.
    Unreachable,
    /// 429 after every retry.
    RateLimited,
    /// 5xx after every retry, or another unexpected status.
    Server,
    /// An answer that breaks the protocol: wrong digest, too large, not JSON.
    Invalid,
}

impl OciErrorKind {
    pub fn code(self) -> crate::error::Code {
        use crate::error::Code;
        match self {
            OciErrorKind::NotFound => Code::RegistryNotFound,
            OciErrorKind::Unauthorized => Code::RegistryUnauthorized,
            OciErrorKind::Unreachable => Code::RegistryUnreachable,
            OciErrorKind::RateLimited => Code::RegistryRateLimited,
            OciErrorKind::Server => Code::RegistryServer,
            OciErrorKind::Invalid => Code::RegistryInvalid,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct OciError {
    pub kind: OciErrorKind,
    pub message: String,
}

impl OciError {
    fn new(kind: OciErrorKind, message: impl Into<String>) -> Self {
        OciError { kind, message: message.into() }
    }

    /// Whether retrying later may help (exit 3) rather than the evidence being bad.
    pub fn is_infrastructure(&self) -> bool {
        matches!(self.kind, OciErrorKind::Unreachable | OciErrorKind::RateLimited | OciErrorKind::Server)
    }
}

type Result<T> = std::result::Result<T, OciError>;

/// Where credentials come from, most specific first: `VOUCH_REGISTRY_USERNAME` /
/// `VOUCH_REGISTRY_PASSWORD`; GitLab's `CI_REGISTRY_USER` / `CI_REGISTRY_PASSWORD` for
/// `$CI_REGISTRY`; docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker`).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    vouch: Option<(String, String)>,
    ci_registry: Option<(String, String, String)>,
    docker: HashMap<String, (String, String)>,
}

impl Credentials {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let vouch = var("VOUCH_REGISTRY_USERNAME").zip(var("VOUCH_REGISTRY_PASSWORD"));
        let ci_registry = match (var("CI_REGISTRY"), var("CI_REGISTRY_USER"), var("CI_REGISTRY_PASSWORD")) {
            (Some(r), Some(u), Some(p)) => Some((r, u, p)),
            _ => None,
        };
        let dir =
            var("DOCKER_CONFIG").map(std::path::PathBuf::from).or_else(|| var("HOME").map(|h| std::path::Path::new(&h).join(".docker")));
        let docker = dir.and_then(|d| std::fs::read(d.join("config.json")).ok()).map(|b| docker_auths(&b)).unwrap_or_default();
        Credentials { vouch, ci_registry, docker }
    }

    pub fn basic(user: &str, password: &str) -> Self {
        Credentials { vouch: Some((user.into(), password.into())), ..Default::default() }
    }

    fn for_registry(&self, registry: &str) -> Option<(String, String)> {
        if let Some(c) = &self.vouch {
            return Some(c.clone());
        }
        if let Some((r, u, p)) = &self.ci_registry {
            if r == registry {
                return Some((u.clone(), p.clone()));
            }
        }
        let hub = registry == "docker.io" || registry == "registry-1.docker.io";
        self.docker
            .iter()
            .find(|(k, _)| {
                let host = k.trim_start_matches("https://").trim_start_matches("http://").split('/').next().unwrap_or_default();
                host == registry || (hub && (host == "index.docker.io" || host == "docker.io"))
            })
            .map(|(_, v)| v.clone())
    }
}

/// `{"auths": {"host": {"auth": base64("user:pass")} | {"username", "password"}}}`.
fn docker_auths(bytes: &[u8]) -> HashMap<String, (String, String)> {
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for (host, entry) in config.get("auths").and_then(|a| a.as_object()).into_iter().flatten() {
        let pair = entry
            .get("auth")
            .and_then(|a| a.as_str())
            .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
            .or_else(|| Some((entry.get("username")?.as_str()?.to_string(), entry.get("password")?.as_str()?.to_string())));
        if let Some(pair) = pair {
            out.insert(host.clone(), pair);
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`host:port`) that may be reached over plain HTTP besides loopback ones.
    pub insecure_registries: Vec<String>,
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// Attempts per request on 429, 5xx and unreachable registries.
    pub max_attempts: u32,
    /// Upper bound of one wait between attempts (also caps Retry-After).
    pub max_backoff: Duration,
    pub credentials: Credentials,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure_registries: Vec::new(),
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_backoff: Duration::from_secs(10),
            credentials: Credentials::default(),
        }
    }
}

/// A fetched manifest, its digest recomputed from its bytes.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub digest: String,
    pub media_type: String,
    pub json: serde_json::Value,
}

pub struct RegistryClient {
    http: reqwest::Client,
    options: RegistryOptions,
    /// Bearer tokens by `host/repository`.
    tokens: tokio::sync::Mutex<HashMap<String, String>>,
}

struct Fetched {
    body: Vec<u8>,
    headers: HeaderMap,
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sigstore_verify::crypto::sha256(bytes).to_hex())
}

impl RegistryClient {
    pub fn new(options: RegistryOptions) -> std::result::Result<Self, OciError> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::new(OciErrorKind::Invalid, format!("cannot build the HTTP client: {e}")))?;
        Ok(RegistryClient { http, options, tokens: Default::default() })
    }

    fn base(&self, image: &ImageRef) -> String {
        let plain = image.is_loopback() || self.options.insecure_registries.iter().any(|h| h == &image.registry);
        format!("{}://{}/v2/{}", if plain { "http" } else { "https" }, image.api_host(), image.repository)
    }

    /// GET with authentication, bounded retries and a size limit. `Ok(None)` is a 404.
    async fn get(&self, image: &ImageRef, path: &str, accept: &str, limit: usize) -> Result<Option<Fetched>> {
        let url = format!("{}/{path}", self.base(image));
        let token_key = format!("{}/{}", image.api_host(), image.repository);
        let mut attempt = 0;
        let mut authenticated_once = false;
        loop {
            attempt += 1;
            let mut request = self.http.get(&url).header(ACCEPT, accept);
            if let Some(token) = self.tokens.lock().await.get(&token_key) {
                request = request.header(AUTHORIZATION, token.clone());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    };
                    if attempt < self.options.max_attempts {
                        tokio::time::sleep(self.backoff(attempt, None)).await;
                        continue;
                    }
                    return Err(OciError::new(
                        OciErrorKind::Unreachable,
                        format!(
                            "registry {} is unreachable: {what} for {url} after {attempt} attempts ({})",
                            image.registry,
                            root_cause(&e)
                        ),
                    ));
                }
            };
            let status = response.status();
            match status {
                StatusCode::OK => {
                    let headers = response.headers().clone();
                    match read_limited(response, limit, &url).await {
                        Ok(body) => return Ok(Some(Fetched { body, headers })),
                        // A body cut short is a network fault: retry it like one.
                        Err(e) if e.kind == OciErrorKind::Unreachable && attempt < self.options.max_attempts => {
                            tokio::time::sleep(self.backoff(attempt, None)).await;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::UNAUTHORIZED if !authenticated_once => {
                    authenticated_once = true;
                    let challenge = response.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let token = self.authenticate(image, &challenge).await?;
                    self.tokens.lock().await.insert(token_key.clone(), token);
                    attempt -= 1;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(OciError::new(
                        OciErrorKind::Unauthorized,
                        format!("registry {} refused access to {url} ({status}): set VOUCH_REGISTRY_USERNAME/VOUCH_REGISTRY_PASSWORD or log in with docker", image.registry),
                    ));
                }
                s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                    let retry_after =
                        response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
                    if attempt < self.options.max_attempts {
                        tokio::time::sleep(self.backoff(attempt, retry_after)).await;
                        continue;
                    }
                    let kind = if s == StatusCode::TOO_MANY_REQUESTS { OciErrorKind::RateLimited } else { OciErrorKind::Server };
                    return Err(OciError::new(kind, format!("registry {} answered {status} for {url} {attempt} times", image.registry)));
                }
                s => return Err(OciError::new(OciErrorKind::Server, format!("registry {} answered {s} for {url}", image.registry))),
            }
        }
    }

    /// Exponential backoff from 200 ms, or the server's Retry-After; both capped.
    fn backoff(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let wait = match retry_after {
            Some(secs) => Duration::from_secs(secs),
            None => Duration::from_millis(200u64.saturating_mul(1 << attempt.min(10))),
        };
        wait.min(self.options.max_backoff)
    }

    /// Answer a 401: a Bearer challenge gets a token from the realm (with our basic
    /// credentials, if any); a Basic challenge gets the credentials themselves.
    async fn authenticate(&self, image: &ImageRef, challenge: &str) -> Result<String> {
        let creds = self.options.credentials.for_registry(&image.registry);
        let basic = creds.as_ref().map(|(u, p)| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))));
        let Some(params) = challenge.strip_prefix("Bearer ").or_else(|| challenge.strip_prefix("bearer ")) else {
            return basic.ok_or_else(|| {
                OciError::new(
                    OciErrorKind::Unauthorized,
                    format!(
                        "registry {} requires credentials: set VOUCH_REGISTRY_USERNAME/VOUCH_REGISTRY_PASSWORD or log in with docker",
                        image.registry
                    ),
                )
            });
        };
        let param = |name: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == name).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = param("realm").ok_or_else(|| {
            OciError::new(OciErrorKind::Invalid, format!("registry {} sent a Bearer challenge without a realm", image.registry))
        })?;
        let scope = param("scope").unwrap_or_else(|| format!("repository:{}:pull", image.repository));
        let mut url = reqwest::Url::parse(&realm).map_err(|e| {
            OciError::new(OciErrorKind::Invalid, format!("registry {} sent a token realm that is not a URL ({realm}): {e}", image.registry))
        })?;
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(service) = param("service") {
            url.query_pairs_mut().append_pair("service", &service);
        }
        let mut request = self.http.get(url);
        if let Some(basic) = &basic {
            request = request.header(AUTHORIZATION, basic);
        }
        let response = request
            .send()
            .await
            .map_err(|e| OciError::new(OciErrorKind::Unreachable, format!("token service {realm} is unreachable: {}", root_cause(&e))))?;
        if !response.status().is_success() {
            return Err(OciError::new(OciErrorKind::Unauthorized, format!("token service {realm} answered {}", response.status())));
        }
        let body = read_limited(response, 1 << 20, &realm).await?;
        let json: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| OciError::new(OciErrorKind::Invalid, format!("token service {realm} sent no JSON: {e}")))?;
        let token = json
            .get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| OciError::new(OciErrorKind::Invalid, format!("token service {realm} sent no token")))?;
        Ok(format!("Bearer {token}"))
    }

    /// A manifest by tag or digest; by digest, the bytes must hash to it.
    pub async fn manifest(&self, image: &ImageRef, reference: &str) -> Result<Option<Manifest>> {
        let Some(fetched) = self.get(image, &format!("manifests/{reference}"), MANIFEST_ACCEPT, MAX_MANIFEST_BYTES).await? else {
            return Ok(None);
        };
        let digest = sha256_digest(&fetched.body);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(OciError::new(
                OciErrorKind::Invalid,
                format!("registry {} returned a manifest for {reference} whose content hashes to {digest}", image.registry),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&fetched.body)
            .map_err(|e| OciError::new(OciErrorKind::Invalid, format!("manifest {reference} of {image} is not JSON: {e}")))?;
        if !json.is_object() {
            return Err(OciError::new(OciErrorKind::Invalid, format!("manifest {reference} of {image} is not a JSON object")));
        }
        let media_type = json
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .or_else(|| {
                fetched
                    .headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.split(';').next().unwrap_or_default().trim().to_string())
            })
            .unwrap_or_default();
        Ok(Some(Manifest { bytes: fetched.body, digest, media_type, json }))
    }

    /// A blob, which must hash to its digest and fit in `limit` bytes.
    pub async fn blob(&self, image: &ImageRef, digest: &str, limit: usize) -> Result<Vec<u8>> {
        if !is_sha256_digest(digest) {
            return Err(OciError::new(OciErrorKind::Invalid, format!("blob digest {digest:?} is not a sha256 digest")));
        }
        let fetched = self
            .get(image, &format!("blobs/{digest}"), "*/*", limit)
            .await?
            .ok_or_else(|| OciError::new(OciErrorKind::NotFound, format!("blob {digest} of {image} is missing")))?;
        let actual = sha256_digest(&fetched.body);
        if actual != digest {
            return Err(OciError::new(
                OciErrorKind::Invalid,
                format!("registry {} returned blob {digest} with content that hashes to {actual}", image.registry),
            ));
        }
        Ok(fetched.body)
    }

    /// The OCI 1.1 referrers API; `None` when the registry does not offer it.
    pub async fn referrers_api(&self, image: &ImageRef, digest: &str) -> Result<Option<serde_json::Value>> {
        let Some(fetched) =
            self.get(image, &format!("referrers/{digest}"), "application/vnd.oci.image.index.v1+json", MAX_MANIFEST_BYTES).await?
        else {
            return Ok(None);
        };
        let is_index = fetched
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/vnd.oci.image.index.v1+json"));
        if !is_index {
            return Ok(None);
        }
        serde_json::from_slice(&fetched.body)
            .map(Some)
            .map_err(|e| OciError::new(OciErrorKind::Invalid, format!("referrers of {digest} are not JSON: {e}")))
    }
}

pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

pub(crate) async fn read_limited(mut response: reqwest::Response, limit: usize, url: &str) -> Result<Vec<u8>> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(OciError::new(
            OciErrorKind::Invalid,
            format!("{url} is {} bytes, over the {limit}-byte limit", response.content_length().unwrap_or_default()),
        ));
    }
    // Sized once from the declared length (already bounded by the limit, and a guess
    // only: a body that runs past it still grows up to the limit, then stops).
    let mut body = Vec::with_capacity(response.content_length().map_or(0, |len| len.min(limit as u64) as usize).min(16 << 20));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(OciError::new(OciErrorKind::Invalid, format!("{url} is over the {limit}-byte limit")));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            // Timeouts and bodies cut short: the network, not the evidence.
            Err(e) => return Err(OciError::new(OciErrorKind::Unreachable, format!("reading {url} failed: {}", root_cause(&e)))),
        }
    }
}

pub(crate) fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    cause
}
