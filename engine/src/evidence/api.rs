//! Attestations from where they live: GitLab's Attestations API and GitHub's artifact
//! attestations API, asked by the subject's sha256 (docs/attestations.md).
//!
//! * GitLab: `GET {instance}/api/v4/projects/{id or path}/attestations/{hex}` lists them
//!   (paged by `page`/`X-Next-Page`), `…/attestations/{iid}/download` returns each bundle.
//! * GitHub: `GET {api}/repos/{owner}/{repo}/attestations/sha256:{hex}` or
//!   `{api}/orgs/{owner}/attestations/sha256:{hex}` (paged by `Link: rel="next"`), each
//!   entry holding its bundle (or a `bundle_url`).
//!
//! What an API says is never trusted by itself: every bundle is verified like any other
//! piece of evidence, its statement must name the subject, what the listing claims
//! (digest, predicate type) must agree with what the bundle says, and its signer must
//! be of the project or owner that was asked ([`check_origin`]). A token is sent only to
//! the host it belongs to, and never to a URL the API hands back on another host.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, LINK, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

use crate::claims::Claims;
use crate::error::{Code, Error, Result};

/// One listing page (GitHub inlines the bundles: up to 100 of them).
const MAX_PAGE_BYTES: usize = 64 << 20;
/// Pages followed per subject and source; more is an API under attack or a loop.
const MAX_PAGES: usize = 20;
/// Attestations per subject and source.
pub const MAX_ATTESTATIONS: usize = 200;
/// Bundle bytes per subject and source, all together.
pub const MAX_SOURCE_BYTES: usize = 256 << 20;

/// Where attestations are fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A GitLab project on an instance (`project` is its path or numeric id).
    GitLab { instance: String, project: String },
    /// A GitHub owner, or one repository of it, on github.com, a GHE.com tenant or GHES.
    GitHub { host: String, api: String, owner: String, repo: Option<String> },
}

pub(crate) fn loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    name == "localhost" || name == "[::1]" || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

fn bad(source: &str, why: &str) -> Error {
    Error::usage(Code::UsageAttestations, format!("--attestations {source:?}: {why}"))
}

/// `https://host/rest` → (origin, rest); plain http only on loopback.
fn split_url<'a>(source: &str, url: &'a str) -> Result<(String, &'a str)> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad(source, "not a URL"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() || host.contains('@') || host.contains(['?', '#', ' ']) {
        return Err(bad(source, "the URL has no usable host"));
    }
    match scheme {
        "https" => {}
        "http" if loopback(host) => {}
        "http" => return Err(bad(source, "plain http is allowed on loopback only: use https://")),
        _ => return Err(bad(source, "use an https:// URL")),
    }
    Ok((format!("{scheme}://{}", host.to_ascii_lowercase()), path.trim_end_matches('/')))
}

fn segments_ok(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['?', '#', '%', ' ', '\\']))
}

impl Source {
    /// `gitlab:https://gitlab.example.com/GROUP/PROJECT`, `gitlab:GROUP/PROJECT`
    /// (gitlab.com), `gitlab:https://gitlab.com/12345` (a project id);
    /// `github:OWNER[/REPO]` (github.com), `github:https://HOST/OWNER[/REPO]`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("gitlab:") {
            let (instance, project) =
                if rest.contains("://") { split_url(s, rest)? } else { ("https://gitlab.com".to_string(), rest.trim_end_matches('/')) };
            if !segments_ok(project) || (!project.contains('/') && !project.bytes().all(|b| b.is_ascii_digit())) {
                return Err(bad(s, "name the project: INSTANCE/GROUP/PROJECT or INSTANCE/PROJECT_ID"));
            }
            Ok(Source::GitLab { instance, project: project.to_string() })
        } else if let Some(rest) = s.strip_prefix("github:") {
            let (host, api, path) = if rest.contains("://") {
                let (origin, path) = split_url(s, rest)?;
                let host = origin.split_once("://").map(|(_, h)| h.to_string()).unwrap_or_default();
                let api = if host == "github.com" {
                    "https://api.github.com".to_string()
                } else if host.ends_with(".ghe.com") {
                    format!("https://api.{host}")
                } else {
                    format!("{origin}/api/v3")
                };
                (host, api, path)
            } else {
                ("github.com".to_string(), "https://api.github.com".to_string(), rest.trim_end_matches('/'))
            };
            let mut parts = path.split('/');
            let (owner, repo) = match (parts.next(), parts.next(), parts.next()) {
                (Some(o), None, _) => (o, None),
                (Some(o), Some(r), None) => (o, Some(r.to_string())),
                _ => return Err(bad(s, "name an owner or OWNER/REPO")),
            };
            if !segments_ok(path) {
                return Err(bad(s, "name an owner or OWNER/REPO"));
            }
            Ok(Source::GitHub { host, api, owner: owner.to_string(), repo })
        } else {
            Err(bad(s, "write gitlab:INSTANCE/GROUP/PROJECT or github:OWNER[/REPO]"))
        }
    }

    /// As the user would write it.
    pub fn name(&self) -> String {
        match self {
            Source::GitLab { instance, project } => format!("gitlab:{instance}/{project}"),
            Source::GitHub { host, owner, repo: Some(r), .. } => format!("github:https://{host}/{owner}/{r}"),
            Source::GitHub { host, owner, repo: None, .. } => format!("github:https://{host}/{owner}"),
        }
    }
}

/// The hosts tokens without a host of their own belong to: `$GITLAB_HOST` (default
/// gitlab.com) and `$GH_HOST` (default github.com), as glab and gh read them.
fn token_hosts() -> (String, String) {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let gitlab = var("GITLAB_HOST").map(|u| origin_of(&u)).unwrap_or_else(|| "https://gitlab.com".into());
    let github = var("GH_HOST")
        .map(|h| h.trim_end_matches('/').trim_start_matches("https://").to_ascii_lowercase())
        .unwrap_or_else(|| "github.com".into());
    (gitlab, github)
}

/// `gitlab.example.com` or `https://gitlab.example.com/` → `https://gitlab.example.com`.
fn origin_of(u: &str) -> String {
    let u = u.trim().trim_end_matches('/').to_ascii_lowercase();
    if u.contains("://") {
        u
    } else {
        format!("https://{u}")
    }
}

/// API tokens, each only for its own host.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// (instance origin, header name, value).
    gitlab: Vec<(String, &'static str, String)>,
    /// (host, token).
    github: Vec<(String, String)>,
}

impl Tokens {
    /// `VOUCH_GITLAB_TOKEN` / `GITLAB_TOKEN` for `$GITLAB_HOST` (or gitlab.com); in a GitLab
    /// job `CI_JOB_TOKEN` for `$CI_SERVER_URL`. `VOUCH_GITHUB_TOKEN` / `GITHUB_TOKEN` /
    /// `GH_TOKEN` for github.com (or `$GH_HOST`), `GH_ENTERPRISE_TOKEN` for `$GH_HOST`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut t = Tokens::default();
        let (gitlab_host, gh_host) = token_hosts();
        if let Some(token) = var("VOUCH_GITLAB_TOKEN").or_else(|| var("GITLAB_TOKEN")) {
            t.gitlab.push((gitlab_host, "PRIVATE-TOKEN", token));
        }
        if let (Some(server), Some(token)) = (var("CI_SERVER_URL"), var("CI_JOB_TOKEN")) {
            t.gitlab.push((origin_of(&server), "JOB-TOKEN", token));
        }
        if let Some(token) = var("VOUCH_GITHUB_TOKEN").or_else(|| var("GITHUB_TOKEN")).or_else(|| var("GH_TOKEN")) {
            t.github.push((gh_host.clone(), token));
        }
        if let Some(token) = var("GH_ENTERPRISE_TOKEN") {
            t.github.push((gh_host, token));
        }
        t
    }

    /// A token from a file (`--gitlab-token-file`, `--github-token-file`), ahead of the
    /// environment's, for the same host the environment's would go to (`$GITLAB_HOST`,
    /// default gitlab.com; `$GH_HOST`, default github.com): never to whatever host a
    /// manifest names.
    pub fn with_file(mut self, kind: &str, path: &std::path::Path) -> Result<Self> {
        let bytes = crate::trust::read_limited(path, "token file", 64 << 10)?;
        let token = String::from_utf8(bytes).map(|s| s.trim().to_string()).unwrap_or_default();
        if token.is_empty() || token.contains(['\n', '\r']) {
            return Err(Error::usage(Code::UsageAttestations, format!("{}: the token file must hold one token", path.display())));
        }
        let (gitlab_host, gh_host) = token_hosts();
        match kind {
            "gitlab" => self.gitlab.insert(0, (gitlab_host, "PRIVATE-TOKEN", token)),
            _ => self.github.insert(0, (gh_host, token)),
        }
        Ok(self)
    }

    fn for_source(&self, source: &Source) -> Option<(HeaderName, String)> {
        match source {
            Source::GitLab { instance, .. } => self
                .gitlab
                .iter()
                .find(|(o, _, _)| o == instance)
                .map(|(_, h, v)| (HeaderName::from_static(if *h == "JOB-TOKEN" { "job-token" } else { "private-token" }), v.clone())),
            Source::GitHub { host, .. } => self.github.iter().find(|(h, _)| h == host).map(|(_, v)| (AUTHORIZATION, format!("Bearer {v}"))),
        }
    }
}

/// A bundle as an API served it, before verification.
#[derive(Debug, Clone)]
pub struct ApiBundle {
    pub source: Source,
    /// Where it was read (for messages and reports).
    pub url: String,
    pub bytes: Vec<u8>,
    /// What the listing says of it: its predicate type and (GitLab) signing method.
    pub listed_predicate_type: Option<String>,
    pub signing_method: Option<String>,
    /// GitHub's `repository_id` of the entry.
    pub repository_id: Option<String>,
    /// GitLab `local_ca`: the project's CA certificates (DER) as the API lists them,
    /// active and inactive — candidates only, trusted when pinned.
    pub project_cas: std::sync::Arc<Vec<Vec<u8>>>,
}

/// What an API did not give: its code says whether it was the network (exit 3), the
/// credentials (exit 2) or the answer (a rejected piece of evidence).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

fn api_error(code: Code, message: impl Into<String>) -> ApiError {
    ApiError { code, message: message.into() }
}

#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub timeout: Duration,
    pub max_attempts: u32,
    pub max_backoff: Duration,
    pub tokens: Tokens,
    /// Where an instance's API is reached instead of its own URL (a proxy or mirror):
    /// (instance origin, API root). The instance is still what the signer must be.
    pub endpoints: Vec<(String, String)>,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_backoff: Duration::from_secs(10),
            tokens: Tokens::default(),
            endpoints: Vec::new(),
        }
    }
}

/// `--attestations-api INSTANCE=URL`: reach INSTANCE's API (`https://gitlab.example.com`,
/// `https://github.com`) at URL, its API root (`…/api/v4` for GitLab, the REST root for
/// GitHub).
pub fn parse_endpoint(s: &str) -> Result<(String, String)> {
    let bad = |why: &str| Error::usage(Code::UsageAttestations, format!("--attestations-api {s:?}: {why}"));
    let (instance, url) =
        s.split_once('=').ok_or_else(|| bad("write INSTANCE=URL, e.g. https://gitlab.com=https://gitlab-proxy.internal/api/v4"))?;
    let (origin, path) = split_url(s, instance.trim())?;
    if !path.is_empty() {
        return Err(bad("INSTANCE is an origin (https://HOST) without a path"));
    }
    let (api_origin, api_path) = split_url(s, url.trim())?;
    Ok((origin, if api_path.is_empty() { api_origin } else { format!("{api_origin}/{api_path}") }))
}

pub struct ApiClient {
    http: reqwest::Client,
    options: ApiOptions,
}

struct Page {
    body: Vec<u8>,
    headers: HeaderMap,
}

/// One GET: who it is for (messages), what to send, the codes its failures carry.
struct Request<'a> {
    what: &'a str,
    url: &'a str,
    accept: &'a str,
    limit: usize,
    token: Option<(HeaderName, String)>,
    header: Option<(&'static str, &'static str)>,
    codes: &'static Codes,
}

/// The codes an HTTP failure carries, by what was asked.
struct Codes {
    invalid: Code,
    unreachable: Code,
    rate_limited: Code,
    unauthorized: Code,
    server: Code,
}

const ATTEST_CODES: Codes = Codes {
    invalid: Code::AttestInvalid,
    unreachable: Code::AttestUnreachable,
    rate_limited: Code::AttestRateLimited,
    unauthorized: Code::AttestUnauthorized,
    server: Code::AttestServer,
};

const PACKAGE_CODES: Codes = Codes {
    invalid: Code::PackageInvalid,
    unreachable: Code::PackageUnreachable,
    rate_limited: Code::PackageRateLimited,
    unauthorized: Code::PackageUnauthorized,
    server: Code::PackageServer,
};

impl ApiClient {
    pub fn new(options: ApiOptions) -> std::result::Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .timeout(options.timeout)
            // Redirects could carry a token to another host: none are followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| api_error(Code::Runtime, format!("cannot build the HTTP client: {e}")))?;
        Ok(ApiClient { http, options })
    }

    /// Every attestation the source has for this sha256 (lower-case hex).
    pub async fn fetch(&self, source: &Source, sha256_hex: &str) -> std::result::Result<Vec<ApiBundle>, ApiError> {
        match source {
            Source::GitLab { instance, project } => self.gitlab(source, instance, project, sha256_hex).await,
            Source::GitHub { owner, repo, .. } => self.github(source, &self.root(source), owner, repo.as_deref(), sha256_hex).await,
        }
    }

    /// The API root a source is asked at: its own, or the one `endpoints` names for it.
    fn root(&self, source: &Source) -> String {
        let (key, default) = match source {
            Source::GitLab { instance, .. } => (instance.clone(), format!("{instance}/api/v4")),
            Source::GitHub { host, api, .. } => (format!("https://{host}"), api.clone()),
        };
        self.options.endpoints.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).unwrap_or(default)
    }

    async fn gitlab(&self, source: &Source, instance: &str, project: &str, hex: &str) -> std::result::Result<Vec<ApiBundle>, ApiError> {
        let id = project.replace('/', "%2F");
        let base = format!("{}/projects/{id}/attestations", self.root(source));
        let mut out = Vec::new();
        let mut spent = 0usize;
        let mut page = 1usize;
        loop {
            let url = format!("{base}/{hex}?per_page=100&page={page}");
            let Some(fetched) = self.get(source, &url, "application/json", MAX_PAGE_BYTES).await? else {
                return Err(api_error(
                    Code::AttestNotFound,
                    format!("GitLab answered 404 for project {project} on {instance}: it does not exist, the token cannot read it, or its Attestations API is off"),
                ));
            };
            let list: Vec<Value> = serde_json::from_slice(&fetched.body)
                .map_err(|e| api_error(Code::AttestInvalid, format!("{url}: the attestation list is not a JSON array: {e}")))?;
            for entry in list {
                let field = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_string);
                // Pending or failed attestations have no bundle yet.
                if field("status").is_some_and(|s| s != "success") {
                    continue;
                }
                let listed_digest = field("subject_digest").unwrap_or_default();
                if !listed_digest.eq_ignore_ascii_case(hex) {
                    return Err(api_error(
                        Code::AttestInvalid,
                        format!("{url}: GitLab listed an attestation for sha256:{listed_digest} when asked for sha256:{hex}"),
                    ));
                }
                let iid = entry
                    .get("iid")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| api_error(Code::AttestInvalid, format!("{url}: an attestation without a numeric iid")))?;
                if out.len() >= MAX_ATTESTATIONS {
                    return Err(api_error(Code::LimitCount, format!("{url}: more than {MAX_ATTESTATIONS} attestations for one digest")));
                }
                // The download URL is built here, not taken from the listing: the token
                // goes to the instance that was named, nowhere else.
                let download = format!("{base}/{iid}/download");
                let bundle = self
                    .get(source, &download, "application/json", crate::evidence::MAX_BUNDLE_BYTES as usize)
                    .await?
                    .ok_or_else(|| api_error(Code::AttestInvalid, format!("{download}: listed, but 404 on download")))?;
                budget(&mut spent, bundle.body.len(), &url)?;
                out.push(ApiBundle {
                    source: source.clone(),
                    url: download,
                    bytes: bundle.body,
                    listed_predicate_type: field("predicate_type"),
                    signing_method: field("signing_method"),
                    repository_id: None,
                    project_cas: Default::default(),
                });
            }
            match fetched.headers.get("x-next-page").and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()) {
                Some(next) => {
                    let next = next
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > page)
                        .ok_or_else(|| api_error(Code::AttestInvalid, format!("{url}: X-Next-Page {next:?} does not move forward")))?;
                    if next > MAX_PAGES {
                        return Err(api_error(Code::LimitCount, format!("{url}: more than {MAX_PAGES} pages of attestations")));
                    }
                    page = next;
                }
                None => break,
            }
        }
        // local_ca attestations chain to the project's own CAs: list them once.
        if out.iter().any(|b| b.signing_method.as_deref() == Some("local_ca")) {
            let cas = std::sync::Arc::new(self.gitlab_cas(source, &id).await?);
            for b in out.iter_mut().filter(|b| b.signing_method.as_deref() == Some("local_ca")) {
                b.project_cas = cas.clone();
            }
        }
        Ok(out)
    }

    /// `GET /projects/:id/attestations/signing_certificates`: the project's unexpired CA
    /// certificates (PEM), active and inactive.
    async fn gitlab_cas(&self, source: &Source, id: &str) -> std::result::Result<Vec<Vec<u8>>, ApiError> {
        let url = format!("{}/projects/{id}/attestations/signing_certificates?per_page=100", self.root(source));
        let fetched = self
            .get(source, &url, "application/json", 4 << 20)
            .await?
            .ok_or_else(|| api_error(Code::AttestLocalCa, format!("{url}: 404; the project lists no signing certificates")))?;
        let list: Vec<Value> = serde_json::from_slice(&fetched.body)
            .map_err(|e| api_error(Code::AttestInvalid, format!("{url}: the certificate list is not a JSON array: {e}")))?;
        let mut out = Vec::new();
        for entry in list.iter().take(100) {
            let pem = entry
                .get("certificate")
                .and_then(Value::as_str)
                .ok_or_else(|| api_error(Code::AttestInvalid, format!("{url}: a signing certificate without its PEM")))?;
            let der = sigstore_types::DerCertificate::from_pem(pem)
                .map_err(|e| api_error(Code::AttestInvalid, format!("{url}: a signing certificate that is not PEM: {e}")))?;
            out.push(der.as_bytes().to_vec());
        }
        Ok(out)
    }

    async fn github(
        &self,
        source: &Source,
        api: &str,
        owner: &str,
        repo: Option<&str>,
        hex: &str,
    ) -> std::result::Result<Vec<ApiBundle>, ApiError> {
        let first = match repo {
            Some(r) => format!("{api}/repos/{owner}/{r}/attestations/sha256:{hex}?per_page=100"),
            None => format!("{api}/orgs/{owner}/attestations/sha256:{hex}?per_page=100"),
        };
        let mut url = first;
        let mut out = Vec::new();
        let mut spent = 0usize;
        let mut as_user = false;
        for _ in 0..MAX_PAGES {
            // GitHub answers 404 when it holds no attestation for the digest; an owner
            // that is a user, not an organization, is asked at /users/ then.
            let Some(fetched) = self.get(source, &url, "application/vnd.github+json", MAX_PAGE_BYTES).await? else {
                if repo.is_none() && out.is_empty() && !as_user {
                    as_user = true;
                    url = format!("{api}/users/{owner}/attestations/sha256:{hex}?per_page=100");
                    continue;
                }
                return Ok(out);
            };
            let page: Value = serde_json::from_slice(&fetched.body)
                .map_err(|e| api_error(Code::AttestInvalid, format!("{url}: the answer is not JSON: {e}")))?;
            let list = page
                .get("attestations")
                .and_then(Value::as_array)
                .ok_or_else(|| api_error(Code::AttestInvalid, format!("{url}: the answer has no `attestations` list")))?;
            for entry in list {
                if out.len() >= MAX_ATTESTATIONS {
                    return Err(api_error(Code::LimitCount, format!("{url}: more than {MAX_ATTESTATIONS} attestations for one digest")));
                }
                let repository_id = match entry.get("repository_id") {
                    Some(Value::Number(n)) => Some(n.to_string()),
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => None,
                };
                let (bytes, from) = match entry.get("bundle").filter(|b| b.is_object()) {
                    Some(bundle) => (serde_json::to_vec(bundle).unwrap_or_default(), url.clone()),
                    None => {
                        let bundle_url = entry.get("bundle_url").and_then(Value::as_str).ok_or_else(|| {
                            api_error(Code::AttestInvalid, format!("{url}: an attestation with neither bundle nor bundle_url"))
                        })?;
                        (self.bundle_url(source, api, bundle_url).await?, bundle_url.to_string())
                    }
                };
                budget(&mut spent, bytes.len(), &url)?;
                let listed_predicate_type =
                    entry.get("predicate_type").or_else(|| entry.get("predicateType")).and_then(Value::as_str).map(str::to_string);
                out.push(ApiBundle {
                    source: source.clone(),
                    url: from,
                    bytes,
                    listed_predicate_type,
                    signing_method: None,
                    repository_id,
                    project_cas: Default::default(),
                });
            }
            match next_link(&fetched.headers) {
                Some(next) if same_origin(&next, api) => url = next,
                Some(next) => {
                    return Err(api_error(Code::AttestInvalid, format!("{url}: the next page {next} is on another host than {api}")));
                }
                None => return Ok(out),
            }
        }
        Err(api_error(Code::LimitCount, format!("{api}: more than {MAX_PAGES} pages of attestations for sha256:{hex}")))
    }

    /// A `bundle_url`: the token goes with it only on the API's own origin.
    async fn bundle_url(&self, source: &Source, api: &str, url: &str) -> std::result::Result<Vec<u8>, ApiError> {
        // https, or http on loopback only: a listing must not send vouch anywhere else.
        if split_url(url, url).is_err() {
            return Err(api_error(Code::AttestInvalid, format!("{api}: a bundle_url that is not an https URL ({url})")));
        }
        let fetched = if same_origin(url, api) {
            self.get(source, url, "application/json", crate::evidence::MAX_BUNDLE_BYTES as usize).await?
        } else {
            let anonymous = Source::GitHub { host: String::new(), api: String::new(), owner: String::new(), repo: None };
            self.get(&anonymous, url, "application/json", crate::evidence::MAX_BUNDLE_BYTES as usize).await?
        };
        let body = fetched.ok_or_else(|| api_error(Code::AttestInvalid, format!("{url}: the bundle is gone (404)")))?.body;
        if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
            return Err(api_error(
                Code::AttestInvalid,
                format!("{url}: the bundle is not JSON (vouch reads bundles inlined in the listing, or served as JSON)"),
            ));
        }
        Ok(body)
    }

    /// GET with the source's token, bounded retries on 429/5xx/unreachable (honouring
    /// `Retry-After` and GitHub's `x-ratelimit-reset`), and a size limit. `Ok(None)`: 404.
    async fn get(&self, source: &Source, url: &str, accept: &str, limit: usize) -> std::result::Result<Option<Page>, ApiError> {
        let token = self.options.tokens.for_source(source);
        let github = matches!(source, Source::GitHub { .. }).then_some(("X-GitHub-Api-Version", "2022-11-28"));
        let request = Request { what: &source.name(), url, accept, limit, token, header: github, codes: &ATTEST_CODES };
        self.get_page(request).await
    }

    /// GET for a package registry: its own token only, the package codes.
    pub(crate) async fn get_package(
        &self,
        what: &str,
        url: &str,
        accept: &str,
        limit: usize,
        token: Option<&str>,
    ) -> std::result::Result<Option<(Vec<u8>, HeaderMap)>, ApiError> {
        let token = token.map(|t| (AUTHORIZATION, format!("Bearer {t}")));
        let request = Request { what, url, accept, limit, token, header: None, codes: &PACKAGE_CODES };
        Ok(self.get_page(request).await?.map(|p| (p.body, p.headers)))
    }

    async fn get_page(&self, r: Request<'_>) -> std::result::Result<Option<Page>, ApiError> {
        let Request { what, url, accept, limit, token, header, codes } = r;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.get(url).header(ACCEPT, accept);
            if let Some((name, value)) = &token {
                if let Ok(value) = HeaderValue::from_str(value) {
                    request = request.header(name.clone(), value);
                }
            }
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if e.is_builder() => {
                    return Err(api_error(codes.invalid, format!("{what}: cannot ask {url}: {}", crate::oci::client::root_cause(&e))));
                }
                Err(e) => {
                    if attempt < self.options.max_attempts {
                        tokio::time::sleep(self.backoff(attempt, None)).await;
                        continue;
                    }
                    let how = if e.is_timeout() { "timed out" } else { "connection failed" };
                    return Err(api_error(
                        codes.unreachable,
                        format!("{what}: {how} for {url} after {attempt} attempts ({})", crate::oci::client::root_cause(&e)),
                    ));
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            // GitHub's primary limit is a 403 with x-ratelimit-remaining: 0, its secondary limit a
            // 403 with Retry-After.
            let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN
                    && (headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "0")
                        || headers.contains_key(RETRY_AFTER)));
            match status {
                StatusCode::OK => match crate::oci::client::read_limited(response, limit, url).await {
                    Ok(body) => return Ok(Some(Page { body, headers })),
                    Err(e) if e.is_infrastructure() && attempt < self.options.max_attempts => {
                        tokio::time::sleep(self.backoff(attempt, None)).await;
                    }
                    Err(e) if e.is_infrastructure() => return Err(api_error(codes.unreachable, format!("{what}: {e}"))),
                    Err(e) => return Err(api_error(Code::LimitSize, format!("{what}: {e}"))),
                },
                StatusCode::NOT_FOUND => return Ok(None),
                _ if rate_limited => {
                    if attempt < self.options.max_attempts {
                        tokio::time::sleep(self.backoff(attempt, retry_after(&headers))).await;
                        continue;
                    }
                    return Err(api_error(
                        codes.rate_limited,
                        format!("{what}: rate limited ({status}) for {url} after {attempt} attempts"),
                    ));
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    let sent = if token.is_some() { "the token was refused" } else { "no token was sent" };
                    return Err(api_error(codes.unauthorized, format!("{what}: {status} for {url}: {sent}")));
                }
                s if s.is_server_error() => {
                    if attempt < self.options.max_attempts {
                        tokio::time::sleep(self.backoff(attempt, retry_after(&headers))).await;
                        continue;
                    }
                    return Err(api_error(codes.server, format!("{what}: {status} for {url} {attempt} times")));
                }
                s => return Err(api_error(codes.invalid, format!("{what}: unexpected {s} for {url}"))),
            }
        }
    }

    fn backoff(&self, attempt: u32, wait: Option<Duration>) -> Duration {
        wait.unwrap_or_else(|| Duration::from_millis(200u64.saturating_mul(1 << attempt.min(10)))).min(self.options.max_backoff)
    }
}

/// Count a bundle against its source's byte budget.
fn budget(spent: &mut usize, bytes: usize, url: &str) -> std::result::Result<(), ApiError> {
    *spent = spent.saturating_add(bytes);
    if *spent > MAX_SOURCE_BYTES {
        return Err(api_error(Code::LimitSize, format!("{url}: more than {MAX_SOURCE_BYTES} bytes of attestations for one digest")));
    }
    Ok(())
}

/// `Retry-After: SECONDS`, else GitHub's `x-ratelimit-reset: EPOCH`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(secs) = get(RETRY_AFTER.as_str()) {
        return Some(Duration::from_secs(secs));
    }
    let reset = get("x-ratelimit-reset")?;
    let now = jiff::Timestamp::now().as_second().max(0) as u64;
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

/// `Link: <URL>; rel="next"`.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.split(';').any(|p| p.trim() == "rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_len = rest.find('/').unwrap_or(rest.len());
    url.get(..scheme.len() + 3 + host_len)
}

fn same_origin(url: &str, api: &str) -> bool {
    origin(url).is_some_and(|o| origin(api) == Some(o)) && url.starts_with(api)
}

/// An API's attestation must come from the project (GitLab) or owner/repository
/// (GitHub) it was asked for: its signer's claims say whose CI signed it. An answer from
/// elsewhere — another project on the same instance — is refused even when its
/// signature verifies.
pub fn check_origin(bundle: &ApiBundle, claims: Option<&Claims>) -> Result<()> {
    let refuse =
        |why: String| Err(Error::Attest(api_error(Code::AttestOrigin, format!("{} served an attestation {why}", bundle.source.name()))));
    let Some(claims) = claims else {
        return refuse("signed with a key, not by a CI identity it could be bound to".into());
    };
    match &bundle.source {
        Source::GitLab { instance, project } => {
            let Some(g) = &claims.gitlab else {
                return refuse(format!("whose signer is not GitLab CI ({})", claims.identity.as_ref().map_or("?", |i| i.value.as_str())));
            };
            if !g.instance.trim_end_matches('/').eq_ignore_ascii_case(instance) {
                return refuse(format!("signed on another GitLab instance ({})", g.instance));
            }
            // The project is the certificate's source project (.12, or its id .15):
            // the SAN's CI-config project says only whose config file ran, which any
            // project can point at (and a fork's merge-request pipeline runs under).
            let ours = if project.bytes().all(|b| b.is_ascii_digit()) {
                g.project_id.as_deref() == Some(project.as_str())
            } else {
                g.project_path.eq_ignore_ascii_case(project)
            };
            if !ours {
                return refuse(format!(
                    "of another project: signed for project {}{} (CI config of {})",
                    g.project_path,
                    g.project_id.as_deref().map(|id| format!(", id {id}")).unwrap_or_default(),
                    g.ci_config_project_path
                ));
            }
        }
        Source::GitHub { host, owner, repo, .. } => {
            let Some(g) = &claims.github else {
                return refuse(format!(
                    "whose signer is not GitHub Actions ({})",
                    claims.identity.as_ref().map_or("?", |i| i.value.as_str())
                ));
            };
            if !g.host.eq_ignore_ascii_case(host) {
                return refuse(format!("signed on another GitHub host ({})", g.host));
            }
            let ours = match repo {
                Some(r) => g.repository.eq_ignore_ascii_case(&format!("{owner}/{r}")),
                None => g.owner.eq_ignore_ascii_case(owner),
            };
            if !ours {
                return refuse(format!("of another repository: signed for {}", g.repository));
            }
            if let (Some(listed), Some(signed)) = (&bundle.repository_id, &g.repository_id) {
                if listed != signed {
                    return refuse(format!("listed under repository id {listed}, signed for repository id {signed}"));
                }
            }
        }
    }
    Ok(())
}

/// GitLab signs with Sigstore (`sigstore`) or, since 19.6, with a per-project CA and no
/// transparency log (`local_ca`, verified against pinned CAs: verify/local_ca.rs). Any
/// other method is refused rather than guessed at.
pub fn check_signing_method(bundle: &ApiBundle) -> Result<()> {
    match bundle.signing_method.as_deref() {
        None | Some("sigstore") | Some("local_ca") => Ok(()),
        Some(other) => Err(Error::Attest(api_error(Code::AttestInvalid, format!("{}: unknown signing method {other:?}", bundle.url)))),
    }
}

/// The project CAs a run trusts for GitLab `local_ca` attestations, each pinned for one
/// source (`gitlab:INSTANCE/PROJECT=sha256:HEX` or `=FILE`): a CA pinned for one project
/// never vouches for another's attestations. A fingerprint pins a CA the project's API
/// lists; a PEM file is trusted as given. Never a CA on the API's word alone (no trust on
/// first use).
#[derive(Debug, Clone, Default)]
pub struct LocalCaPins {
    /// (source, sha256 fingerprint).
    pub fingerprints: Vec<(Source, String)>,
    /// (source, certificate DER).
    pub certificates: Vec<(Source, Vec<u8>)>,
}

impl LocalCaPins {
    /// `SOURCE=sha256:HEX` (a pin) or `SOURCE=FILE` (PEM CA certificates, relative to `base`).
    pub fn add(&mut self, value: &str, base: &std::path::Path) -> Result<()> {
        let bad = |why: String| Error::usage(Code::UsageAttestations, format!("--local-ca {value:?}: {why}"));
        let (source, pin) = value.rsplit_once('=').ok_or_else(|| {
            bad("write SOURCE=sha256:FINGERPRINT or SOURCE=FILE, e.g. gitlab:https://gitlab.example.com/acme/app=sha256:5f1c…".into())
        })?;
        let source = Source::parse(source)?;
        if !matches!(source, Source::GitLab { .. }) {
            return Err(bad("local_ca is GitLab's: the source is gitlab:…".into()));
        }
        let hex = pin.strip_prefix("sha256:").unwrap_or(pin).to_ascii_lowercase();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.fingerprints.push((source, hex));
            return Ok(());
        }
        let path = base.join(pin);
        let bytes = crate::trust::read_limited(&path, "project CA file", 1 << 20)?;
        let text = String::from_utf8(bytes).unwrap_or_default();
        let mut found = 0;
        for block in text.split("-----END CERTIFICATE-----").filter(|b| b.contains("-----BEGIN CERTIFICATE-----")) {
            let der = sigstore_types::DerCertificate::from_pem(&format!("{}-----END CERTIFICATE-----", block.trim_start()))
                .map_err(|e| bad(format!("{}: not a PEM certificate: {e}", path.display())))?;
            self.certificates.push((source.clone(), der.as_bytes().to_vec()));
            found += 1;
        }
        if found == 0 {
            return Err(bad(format!("{}: no PEM certificate in it (or give the CA's fingerprint as sha256:HEX)", path.display())));
        }
        Ok(())
    }

    /// What the plan's setup records of them.
    pub fn describe(&self) -> String {
        let pins: Vec<String> = self.fingerprints.iter().map(|(s, f)| format!("{}={f}", s.name())).collect();
        let files: Vec<String> = self.certificates.iter().map(|(s, c)| format!("{}={}", s.name(), crate::claims::sha256_hex(c))).collect();
        format!("pins {pins:?} files {files:?}")
    }

    /// The CAs to verify a local_ca bundle from `bundle.source` with, or why there are none.
    pub fn trusted(&self, bundle: &ApiBundle) -> Result<Vec<Vec<u8>>> {
        let listed: Vec<(String, &Vec<u8>)> = bundle.project_cas.iter().map(|c| (crate::claims::sha256_hex(c), c)).collect();
        let mut cas: Vec<Vec<u8>> = self.certificates.iter().filter(|(s, _)| *s == bundle.source).map(|(_, c)| c.clone()).collect();
        let pinned = |f: &String| self.fingerprints.iter().any(|(s, p)| *s == bundle.source && p == f);
        cas.extend(listed.iter().filter(|(f, _)| pinned(f)).map(|(_, c)| (*c).clone()));
        if cas.is_empty() {
            let names: Vec<String> = listed.iter().map(|(f, _)| format!("sha256:{f}")).collect();
            return Err(Error::Attest(api_error(
                Code::AttestLocalCa,
                format!(
                    "{}: signed by the project's own CA (local_ca), and no CA is pinned for {} (it lists {}); confirm a CA's fingerprint with GitLab itself, then pin it with --local-ca {}=sha256:HEX",
                    bundle.url,
                    bundle.source.name(),
                    if names.is_empty() { "none".to_string() } else { names.join(", ") },
                    bundle.source.name()
                ),
            )));
        }
        Ok(cas)
    }
}

/// What the listing said must be what the bundle says.
pub fn check_listing(bundle: &ApiBundle, predicate_type: Option<&str>) -> Result<()> {
    match (&bundle.listed_predicate_type, predicate_type) {
        (Some(listed), Some(actual)) if listed != actual => Err(Error::Attest(api_error(
            Code::AttestInvalid,
            format!("{}: the API lists predicate type {listed}, the signed statement says {actual}", bundle.url),
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_refuse() {
        let gl = Source::parse("gitlab:https://GitLab.example.com/acme/app/").unwrap();
        assert_eq!(gl, Source::GitLab { instance: "https://gitlab.example.com".into(), project: "acme/app".into() });
        assert_eq!(Source::parse("gitlab:acme/app").unwrap().name(), "gitlab:https://gitlab.com/acme/app");
        assert!(Source::parse("gitlab:https://gitlab.com/123").is_ok());
        let gh = Source::parse("github:org").unwrap();
        assert_eq!(gh, Source::GitHub { host: "github.com".into(), api: "https://api.github.com".into(), owner: "org".into(), repo: None });
        match Source::parse("github:https://acme.ghe.com/org/app").unwrap() {
            Source::GitHub { api, .. } => assert_eq!(api, "https://api.acme.ghe.com"),
            other => panic!("{other:?}"),
        }
        match Source::parse("github:http://127.0.0.1:8080/org/app").unwrap() {
            Source::GitHub { api, .. } => assert_eq!(api, "http://127.0.0.1:8080/api/v3"),
            other => panic!("{other:?}"),
        }
        for bad in [
            "gitlab:http://gitlab.example.com/acme/app",
            "gitlab:https://gitlab.com/app",
            "gitlab:https://gitlab.com/acme/../x",
            "gitlab:https://user@gitlab.com/acme/app",
            "github:a/b/c",
            "github:",
            "oci:x",
            "gitlab:ftp://x/a/b",
        ] {
            let e = Source::parse(bad).unwrap_err();
            assert_eq!(e.code(), Code::UsageAttestations, "{bad}");
        }
    }

    #[test]
    fn links_and_origins() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static("<https://api.github.com/x?after=a>; rel=\"next\", <https://api.github.com/x>; rel=\"first\""),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://api.github.com/x?after=a"));
        assert!(same_origin("https://api.github.com/x", "https://api.github.com"));
        assert!(!same_origin("https://api.github.com.evil/x", "https://api.github.com"));
        assert!(!same_origin("https://evil/x", "https://api.github.com"));
    }
}
