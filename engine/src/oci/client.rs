//! A registry client for what verification needs — manifests, blobs, referrers — with
//! every answer checked: digests recomputed, sizes bounded, retries bounded.
//!
//! Built on reqwest rather than oci-client: oci-client hides status codes and headers
//! (no `Retry-After`) and reads bodies without a size limit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use super::limit::Limiter;
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
    /// The registry does not answer this method (HEAD): asked again with GET.
    Unsupported,
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
            OciErrorKind::Unsupported => Code::RegistryServer,
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

    /// An answer that breaks the protocol.
    pub fn invalid(message: impl Into<String>) -> Self {
        OciError::new(OciErrorKind::Invalid, message)
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
    /// Per registry: how it serves referrers, once an image of it has said.
    referrers: Arc<Mutex<HashMap<String, Referrers>>>,
    /// Content-addressed answers (blobs, manifests by digest), fetched once per run.
    cache: Mutex<ContentCache>,
    /// Per registry: how many requests it gets at once.
    limits: Mutex<HashMap<String, Arc<Limiter>>>,
    requests: AtomicUsize,
}

struct Fetched {
    body: Vec<u8>,
    headers: HeaderMap,
}

/// How a registry serves an image's referrers (OCI 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersMode {
    /// The referrers API only.
    Api,
    /// The `sha256-<hex>` tag only: the registry has no API.
    Tag,
    /// Both, and they disagreed for some image: every image asks both.
    Both,
}

#[derive(Debug)]
enum Referrers {
    /// One image is asking both ways; the others wait for what it learns.
    Probing(Arc<tokio::sync::Notify>),
    Known(ReferrersMode),
    /// A probe could not tell (its image did not exist, or a request failed): every image
    /// asks both ways until one can tell.
    Unsure,
}

/// What an image does about referrers: use the registry's known way, or ask both (and,
/// holding this, say what it learnt; dropped without saying, nothing was learnt).
pub enum ReferrersPlan {
    Known(ReferrersMode),
    Probe(ProbeGuard),
}

pub struct ProbeGuard {
    referrers: Arc<Mutex<HashMap<String, Referrers>>>,
    host: String,
    done: bool,
}

impl ProbeGuard {
    /// What the probe learnt (dropped without it: nothing).
    pub fn learnt(mut self, mode: ReferrersMode) {
        self.settle(Some(mode));
    }

    fn settle(&mut self, mode: Option<ReferrersMode>) {
        if self.done {
            return;
        }
        self.done = true;
        if let Ok(mut m) = self.referrers.lock() {
            let next = match (mode, m.get(&self.host)) {
                // Another image already learnt it (after an unsure probe): keep the
                // widest answer.
                (Some(ReferrersMode::Both), _) | (_, Some(Referrers::Known(ReferrersMode::Both))) => Referrers::Known(ReferrersMode::Both),
                (Some(mode), _) => Referrers::Known(mode),
                (None, Some(Referrers::Known(mode))) => Referrers::Known(*mode),
                (None, _) => Referrers::Unsure,
            };
            if let Some(Referrers::Probing(waiting)) = m.insert(self.host.clone(), next) {
                waiting.notify_waiters();
            }
        }
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.settle(None);
    }
}

/// A content-addressed answer: the bytes and the type the registry gave them.
#[derive(Debug)]
struct Content {
    body: Vec<u8>,
    content_type: Option<String>,
}

impl From<Fetched> for Content {
    fn from(f: Fetched) -> Self {
        Content { content_type: media_type(&f.headers), body: f.body }
    }
}

/// `Content-Type` without its parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(value.split(';').next().unwrap_or_default().trim().to_string())
}

/// Answers by `registry/digest`. Two images sharing a blob (the same attestation, two tags
/// of one digest) ask for it once, even at the same moment. Bounded in bytes, oldest out
/// first, so memory stays flat in the number of images.
#[derive(Default)]
struct ContentCache {
    cells: HashMap<String, Arc<tokio::sync::OnceCell<Arc<Content>>>>,
    order: VecDeque<(String, usize)>,
    counted: std::collections::HashSet<String>,
    bytes: usize,
}

/// At most this many bytes of fetched content are kept for reuse.
const CACHE_BYTES: usize = 16 << 20;

impl ContentCache {
    fn cell(&mut self, key: &str) -> Arc<tokio::sync::OnceCell<Arc<Content>>> {
        self.cells.entry(key.to_string()).or_default().clone()
    }

    /// A fetch finished: count it once, and drop the oldest beyond the bound.
    fn settled(&mut self, key: &str, size: usize) {
        if self.counted.contains(key) {
            return;
        }
        // One large blob would push everything else out: such blobs are not kept.
        if size > CACHE_BYTES / 4 {
            self.cells.remove(key);
            return;
        }
        self.counted.insert(key.to_string());
        self.order.push_back((key.to_string(), size));
        self.bytes += size;
        while self.bytes > CACHE_BYTES {
            let Some((old, size)) = self.order.pop_front() else { break };
            self.cells.remove(&old);
            self.counted.remove(&old);
            self.bytes -= size;
        }
    }

    /// A fetch failed: the next asker tries again.
    fn failed(&mut self, key: &str) {
        if self.cells.get(key).is_some_and(|c| !c.initialized()) {
            self.cells.remove(key);
        }
    }
}

/// What one run asked of registries, for benches and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (each attempt counts).
    pub requests: usize,
    /// Times a registry's concurrency was halved after a 429 or 503.
    pub throttled: usize,
    /// The lowest concurrency limit any registry ended the run at.
    pub lowest_limit: Option<usize>,
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
        Ok(RegistryClient {
            http,
            options,
            tokens: Default::default(),
            referrers: Default::default(),
            cache: Default::default(),
            limits: Default::default(),
            requests: AtomicUsize::new(0),
        })
    }

    pub fn stats(&self) -> ClientStats {
        let limits: Vec<(usize, usize)> = self.limits.lock().map(|l| l.values().map(|l| l.status()).collect()).unwrap_or_default();
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: limits.iter().map(|(_, t)| t).sum(),
            lowest_limit: limits.iter().map(|(l, _)| *l).min(),
        }
    }

    fn limiter(&self, image: &ImageRef) -> Arc<Limiter> {
        match self.limits.lock() {
            Ok(mut l) => l.entry(image.api_host().to_string()).or_default().clone(),
            Err(_) => Arc::new(Limiter::default()),
        }
    }

    /// How this image should look for referrers. The first image of a registry probes
    /// (asks both ways) while the others wait for what it learns; after an unsure probe
    /// every image probes, concurrently, until one can tell.
    pub async fn referrers_plan(&self, image: &ImageRef) -> ReferrersPlan {
        let host = image.api_host().to_string();
        let probe = || ReferrersPlan::Probe(ProbeGuard { referrers: self.referrers.clone(), host: host.clone(), done: false });
        loop {
            let waiting = {
                let Ok(mut m) = self.referrers.lock() else { return probe() };
                match m.get(&host) {
                    Some(Referrers::Known(mode)) => return ReferrersPlan::Known(*mode),
                    Some(Referrers::Unsure) => return probe(),
                    Some(Referrers::Probing(waiting)) => waiting.clone(),
                    None => {
                        m.insert(host.clone(), Referrers::Probing(Arc::new(tokio::sync::Notify::new())));
                        return probe();
                    }
                }
            };
            let notified = waiting.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            // Settled between the lock and `enable`: look again instead of waiting.
            let still_probing =
                self.referrers.lock().is_ok_and(|m| matches!(m.get(&host), Some(Referrers::Probing(w)) if Arc::ptr_eq(w, &waiting)));
            if still_probing {
                notified.await;
            }
        }
    }

    /// A content-addressed answer, fetched once per run by `kind/registry/digest`.
    async fn content<F>(&self, image: &ImageRef, kind: &str, digest: &str, fetch: F) -> Result<Option<Arc<Content>>>
    where
        F: std::future::Future<Output = Result<Option<Fetched>>>,
    {
        // Per repository: the bytes would be the same elsewhere, but whether this
        // repository serves them (and to whom) is its own answer.
        let key = format!("{kind}/{}/{}/{digest}", image.api_host(), image.repository);
        let cell = match self.cache.lock() {
            Ok(mut c) => c.cell(&key),
            Err(_) => Arc::new(tokio::sync::OnceCell::new()),
        };
        let result = cell
            .get_or_try_init(|| async {
                match fetch.await {
                    // Only what hashes to its digest is kept (and shared).
                    Ok(Some(f)) if sha256_digest(&f.body) != digest => Err(Some(OciError::new(
                        OciErrorKind::Invalid,
                        format!(
                            "registry {} returned {kind} {digest} with content that hashes to {}",
                            image.registry,
                            sha256_digest(&f.body)
                        ),
                    ))),
                    Ok(Some(f)) => Ok(Arc::new(Content::from(f))),
                    // A 404 is not kept: it is not content, and cannot be shared.
                    Ok(None) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            })
            .await;
        match result {
            Ok(content) => {
                if let Ok(mut c) = self.cache.lock() {
                    c.settled(&key, content.body.len());
                }
                Ok(Some(content.clone()))
            }
            Err(e) => {
                if let Ok(mut c) = self.cache.lock() {
                    c.failed(&key);
                }
                e.map_or(Ok(None), Err)
            }
        }
    }

    fn base(&self, image: &ImageRef) -> String {
        let plain = image.is_loopback() || self.options.insecure_registries.iter().any(|h| h == &image.registry);
        format!("{}://{}/v2/{}", if plain { "http" } else { "https" }, image.api_host(), image.repository)
    }

    async fn get(&self, image: &ImageRef, path: &str, accept: &str, limit: usize) -> Result<Option<Fetched>> {
        self.request(Method::GET, image, path, accept, limit).await
    }

    /// A request with authentication, bounded retries, the registry's concurrency limit
    /// and a size limit. `Ok(None)` is a 404.
    async fn request(&self, method: Method, image: &ImageRef, path: &str, accept: &str, limit: usize) -> Result<Option<Fetched>> {
        let url = format!("{}/{path}", self.base(image));
        let token_key = format!("{}/{}", image.api_host(), image.repository);
        let limiter = self.limiter(image);
        let mut attempt = 0;
        let mut authenticated_once = false;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), &url).header(ACCEPT, accept);
            if let Some(token) = self.tokens.lock().await.get(&token_key) {
                request = request.header(AUTHORIZATION, token.clone());
            }
            let permit = limiter.acquire().await;
            let started = Instant::now();
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent = request.send().await;
            // Only answers with content measure latency (a 401 or 404 is answered faster).
            if sent.as_ref().is_ok_and(|r| r.status() == StatusCode::OK) {
                limiter.answered(started.elapsed());
            }
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
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
                    let read = if method == Method::HEAD { Ok(Vec::new()) } else { read_limited(response, limit, &url).await };
                    drop(permit);
                    match read {
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
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED | StatusCode::BAD_REQUEST if method == Method::HEAD => {
                    return Err(OciError::new(
                        OciErrorKind::Unsupported,
                        format!("registry {} does not answer HEAD for {url} ({status})", image.registry),
                    ));
                }
                StatusCode::UNAUTHORIZED if !authenticated_once => {
                    drop(permit);
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
                    drop(permit);
                    if s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::SERVICE_UNAVAILABLE {
                        limiter.throttle();
                    }
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

    /// A manifest's digest and type without its body (`HEAD`): `Ok(None)` is a 404, and
    /// the digest is `None` when the registry sent no well-formed `Docker-Content-Digest`.
    pub async fn head_manifest(&self, image: &ImageRef, reference: &str) -> Result<Option<(Option<String>, String)>> {
        let Some(fetched) = self.request(Method::HEAD, image, &format!("manifests/{reference}"), MANIFEST_ACCEPT, 0).await? else {
            return Ok(None);
        };
        let digest = fetched
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|d| is_sha256_digest(d));
        Ok(Some((digest, media_type(&fetched.headers).unwrap_or_default())))
    }

    /// A manifest by tag or digest; by digest, the bytes must hash to it (checked once,
    /// when fetched; fetched once per run).
    pub async fn manifest(&self, image: &ImageRef, reference: &str) -> Result<Option<Manifest>> {
        let path = format!("manifests/{reference}");
        let by_digest = is_sha256_digest(reference);
        let fetched = if by_digest {
            self.content(image, "manifest", reference, self.get(image, &path, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES)).await?
        } else {
            self.get(image, &path, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES).await?.map(|f| Arc::new(Content::from(f)))
        };
        let Some(fetched) = fetched else {
            return Ok(None);
        };
        let digest = if by_digest { reference.to_string() } else { sha256_digest(&fetched.body) };
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
        let media_type =
            json.get("mediaType").and_then(|m| m.as_str()).map(str::to_string).or_else(|| fetched.content_type.clone()).unwrap_or_default();
        // Uncached (by tag), the bytes are ours alone: moved, not copied.
        let bytes = Arc::try_unwrap(fetched).map_or_else(|shared| shared.body.clone(), |owned| owned.body);
        Ok(Some(Manifest { bytes, digest, media_type, json }))
    }

    /// A blob, which must hash to its digest (checked once, when fetched) and fit in
    /// `limit` bytes.
    pub async fn blob(&self, image: &ImageRef, digest: &str, limit: usize) -> Result<Vec<u8>> {
        if !is_sha256_digest(digest) {
            return Err(OciError::new(OciErrorKind::Invalid, format!("blob digest {digest:?} is not a sha256 digest")));
        }
        let fetched = self
            .content(image, "blob", digest, self.get(image, &format!("blobs/{digest}"), "*/*", limit))
            .await?
            .ok_or_else(|| OciError::new(OciErrorKind::NotFound, format!("blob {digest} of {image} is missing")))?;
        // A cached blob fetched under a larger limit elsewhere still answers to this one.
        if fetched.body.len() > limit {
            return Err(OciError::new(OciErrorKind::Invalid, format!("blob {digest} of {image} is over the {limit}-byte limit")));
        }
        Ok(fetched.body.clone())
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
