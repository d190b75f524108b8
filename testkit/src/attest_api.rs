//! Loopback HTTP servers implementing GitLab's and GitHub's attestation endpoints as
//! their API docs describe them — listing by digest with pagination, download, token
//! authentication, 401/404/429/5xx — serving whatever bundles a test puts in. The
//! misbehaviours a test asks for (a rate-limit storm, an answer that lies about the
//! digest or predicate type, another project's attestation) are knobs, not code paths
//! of vouch.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// One GitLab attestation record.
#[derive(Debug, Clone)]
pub struct GitLabAttestation {
    /// The project it is stored under: its path and id.
    pub project: String,
    pub project_id: u64,
    /// The subject's sha256 (hex) the listing says.
    pub digest: String,
    pub predicate_type: String,
    /// `sigstore` or `local_ca`; None: an instance before 19.6 (no field).
    pub signing_method: Option<String>,
    pub status: String,
    pub bundle: Value,
}

/// One GitHub attestation record.
#[derive(Debug, Clone)]
pub struct GitHubAttestation {
    pub owner: String,
    pub repo: String,
    pub repository_id: u64,
    pub digest: String,
    pub bundle: Value,
    /// Serve it at `bundle_url` (same server) instead of inline.
    pub by_url: bool,
}

#[derive(Debug, Default)]
pub struct ApiState {
    pub gitlab: Vec<GitLabAttestation>,
    pub github: Vec<GitHubAttestation>,
    /// The token every request must carry (GitLab `PRIVATE-TOKEN`/`JOB-TOKEN`, GitHub
    /// `Authorization: Bearer`); None: open.
    pub token: Option<String>,
    pub page_size: usize,
    /// Answer this many requests with 429 (`Retry-After: 0`) first.
    pub rate_limit: usize,
    /// The same, GitHub's way: 403 with `x-ratelimit-remaining: 0`.
    pub github_rate_limit: usize,
    /// Answer this many requests with 503 first.
    pub server_errors: usize,
    /// List every attestation of the project, whatever digest was asked (a lying API).
    pub list_any_digest: bool,
    /// GitHub owners that are users (asked at /users/, not /orgs/).
    pub users: Vec<String>,
    /// The project's CA certificates for local_ca (PEM, active), as
    /// `GET /projects/:id/attestations/signing_certificates` lists them.
    pub gitlab_cas: Vec<(String, bool)>,
    /// Every request's path and the auth header it carried.
    pub log: Vec<(String, Option<String>)>,
}

pub struct AttestationApi {
    pub url: String,
    pub state: Arc<Mutex<ApiState>>,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl AttestationApi {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(ApiState { page_size: 100, ..ApiState::default() }));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, count) = (state.clone(), requests.clone());
        let base = Arc::new(Mutex::new(String::new()));
        let base_in = base.clone();
        let host = crate::harness::serve(stop.clone(), move |mut conn| {
            let head = crate::harness::read_head(&mut conn);
            count.fetch_add(1, Ordering::Relaxed);
            let base = base_in.lock().unwrap().clone();
            let (status, headers, body) = answer(&s, &base, &head);
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(body.as_bytes());
        });
        let url = format!("http://{host}");
        *base.lock().unwrap() = url.clone();
        AttestationApi { url, state, requests, stop }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut ApiState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// `--attestations-api` values that send gitlab.com's and github.com's APIs here.
    pub fn endpoints(&self) -> String {
        format!("https://gitlab.com={0}/api/v4,https://github.com={0}/api/v3", self.url)
    }
}

impl Drop for AttestationApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn query(path: &str, key: &str) -> Option<String> {
    let q = path.split_once('?')?.1;
    q.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v.to_string()))
}

fn not_found() -> (&'static str, String, String) {
    ("404 Not Found", String::new(), json!({"message": "404 Not Found"}).to_string())
}

fn answer(state: &Mutex<ApiState>, base: &str, head: &str) -> (&'static str, String, String) {
    let mut st = state.lock().unwrap();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let auth = header(head, "private-token")
        .or_else(|| header(head, "job-token"))
        .or_else(|| header(head, "authorization").map(|a| a.trim_start_matches("Bearer ")))
        .map(str::to_string);
    st.log.push((target.clone(), auth.clone()));
    if st.server_errors > 0 {
        st.server_errors -= 1;
        return ("503 Service Unavailable", String::new(), "{}".into());
    }
    if st.rate_limit > 0 {
        st.rate_limit -= 1;
        return ("429 Too Many Requests", "Retry-After: 0\r\n".into(), json!({"message": "429 Too Many Requests"}).to_string());
    }
    if st.github_rate_limit > 0 {
        st.github_rate_limit -= 1;
        let reset = jiff::Timestamp::now().as_second();
        return (
            "403 Forbidden",
            format!("x-ratelimit-remaining: 0\r\nx-ratelimit-reset: {reset}\r\n"),
            json!({"message": "API rate limit exceeded"}).to_string(),
        );
    }
    if let Some(token) = &st.token {
        if auth.as_deref() != Some(token.as_str()) {
            return ("401 Unauthorized", String::new(), json!({"message": "401 Unauthorized"}).to_string());
        }
    }
    let path = target.split('?').next().unwrap_or_default().to_string();
    let page_size = query(&target, "per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(20).min(st.page_size).max(1);

    // GitLab: /api/v4/projects/:id/attestations/:digest and …/:iid/download
    if let Some(rest) = path.strip_prefix("/api/v4/projects/") {
        let parts: Vec<&str> = rest.split('/').collect();
        let project = parts[0].replace("%2F", "/").replace("%2f", "/");
        let records: Vec<(usize, &GitLabAttestation)> =
            st.gitlab.iter().enumerate().filter(|(_, a)| a.project == project || a.project_id.to_string() == project).collect();
        if records.is_empty() {
            return not_found();
        }
        match parts.as_slice() {
            [_, "attestations", "signing_certificates"] => {
                let list: Vec<Value> = st
                    .gitlab_cas
                    .iter()
                    .enumerate()
                    .map(|(i, (pem, active))| {
                        json!({"id": i + 1, "certificate": pem, "active": active, "expires_at": "2036-01-01T00:00:00.000Z", "created_at": "2026-01-01T00:00:00.000Z"})
                    })
                    .collect();
                return ("200 OK", String::new(), Value::Array(list).to_string());
            }
            [_, "attestations", iid, "download"] => {
                let iid: usize = iid.parse().unwrap_or(0);
                return match records.iter().find(|(i, _)| i + 1 == iid) {
                    Some((_, a)) => ("200 OK", String::new(), a.bundle.to_string()),
                    None => not_found(),
                };
            }
            [_, "attestations", digest] => {
                let matching: Vec<Value> = records
                    .iter()
                    .filter(|(_, a)| st.list_any_digest || a.digest == *digest)
                    .map(|(i, a)| {
                        let mut v = json!({
                            "id": i + 1, "iid": i + 1, "project_id": a.project_id, "build_id": 1, "status": a.status,
                            "created_at": "2026-10-07T20:59:27.085Z", "expire_at": "2028-10-07T20:59:26.967Z",
                            "predicate_kind": "provenance", "predicate_type": a.predicate_type, "subject_digest": a.digest,
                            "download_url": format!("{base}/api/v4/projects/{}/attestations/{}/download", a.project_id, i + 1),
                        });
                        if let Some(m) = &a.signing_method {
                            v["signing_method"] = json!(m);
                        }
                        v
                    })
                    .collect();
                let page = query(&target, "page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
                let chunk: Vec<Value> = matching.iter().skip((page - 1) * page_size).take(page_size).cloned().collect();
                let next = if page * page_size < matching.len() { (page + 1).to_string() } else { String::new() };
                let headers =
                    format!("X-Page: {page}\r\nX-Per-Page: {page_size}\r\nX-Total: {}\r\nX-Next-Page: {next}\r\n", matching.len());
                return ("200 OK", headers, Value::Array(chunk).to_string());
            }
            _ => return not_found(),
        }
    }

    // GitHub: /api/v3/repos/:owner/:repo/attestations/sha256::hex, /api/v3/orgs/:org/attestations/…
    if let Some(n) = path.strip_prefix("/bundles/") {
        let n: usize = n.trim_end_matches(".json").parse().unwrap_or(usize::MAX);
        return match st.github.get(n) {
            Some(a) => ("200 OK", String::new(), a.bundle.to_string()),
            None => not_found(),
        };
    }
    let (owner, repo, digest) = if let Some(rest) = path.strip_prefix("/api/v3/repos/") {
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            [o, r, "attestations", d] => (o.to_string(), Some(r.to_string()), d.to_string()),
            _ => return not_found(),
        }
    } else if let Some(rest) = path.strip_prefix("/api/v3/orgs/").or_else(|| path.strip_prefix("/api/v3/users/")) {
        // An owner is an organization or a user, and answers only at its own endpoint.
        let is_user = path.starts_with("/api/v3/users/");
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            [o, "attestations", d] if st.users.iter().any(|u| u == o) == is_user => (o.to_string(), None, d.to_string()),
            _ => return not_found(),
        }
    } else {
        return not_found();
    };
    let hex = digest.trim_start_matches("sha256:");
    let matching: Vec<Value> = st
        .github
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.owner.eq_ignore_ascii_case(&owner) && repo.as_deref().is_none_or(|r| a.repo.eq_ignore_ascii_case(r)) && a.digest == hex
        })
        .map(|(i, a)| {
            if a.by_url {
                json!({"bundle": null, "repository_id": a.repository_id, "bundle_url": format!("{base}/bundles/{i}.json")})
            } else {
                json!({"bundle": a.bundle, "repository_id": a.repository_id})
            }
        })
        .collect();
    if matching.is_empty() {
        return not_found();
    }
    let after = query(&target, "after").and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
    let chunk: Vec<Value> = matching.iter().skip(after).take(page_size).cloned().collect();
    let headers = if after + page_size < matching.len() {
        format!("Link: <{base}{path}?per_page={page_size}&after={}>; rel=\"next\"\r\n", after + page_size)
    } else {
        String::new()
    };
    ("200 OK", headers, json!({"attestations": chunk}).to_string())
}
