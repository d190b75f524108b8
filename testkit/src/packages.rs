//! A loopback package registry implementing the npm endpoints `npm audit signatures`
//! reads (packuments with `dist.integrity`, `dist.signatures` and `dist.attestations`;
//! `/-/npm/v1/keys`; `/-/npm/v1/attestations/NAME@VERSION`; tarballs) and PyPI's JSON and
//! Integrity APIs, serving whatever packages a test puts in: real ones from
//! `../shared/real-bundles` and ones minted here, signed by a testkit registry key.
//! Misbehaviours (dropped signatures, a rate-limit storm, 5xx) are knobs.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::key::Key;

/// A registry signing key, as npm's `/-/npm/v1/keys` lists one.
pub struct RegistryKey {
    pub key: Arc<Key>,
    pub keyid: String,
    pub expires: Option<String>,
}

impl RegistryKey {
    pub fn new(keyid: &str) -> Self {
        RegistryKey { key: Arc::new(Key::p256().unwrap()), keyid: keyid.into(), expires: None }
    }

    /// npm's registry signature: ECDSA over `NAME@VERSION:INTEGRITY`, base64 DER.
    pub fn sign(&self, name: &str, version: &str, integrity: &str) -> String {
        STANDARD.encode(self.key.sign(format!("{name}@{version}:{integrity}").as_bytes()).unwrap())
    }

    pub fn entry(&self) -> Value {
        json!({"expires": self.expires, "keyid": self.keyid, "keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "key": STANDARD.encode(self.key.spki())})
    }

    /// The key as a bundle signer (npm's publish attestations).
    pub fn managed(&self) -> crate::ManagedKey {
        crate::ManagedKey { key: self.key.clone(), hint: self.keyid.clone() }
    }
}

/// `sha512-BASE64` of some bytes.
pub fn integrity(bytes: &[u8]) -> String {
    format!("sha512-{}", STANDARD.encode(sigstore_verify::crypto::sha512(bytes).as_bytes()))
}

/// One npm package version as the registry holds it.
#[derive(Debug, Clone)]
pub struct NpmVersion {
    pub name: String,
    pub version: String,
    pub tarball: Vec<u8>,
    /// `dist.integrity` (default: of the tarball).
    pub integrity: String,
    /// `dist.signatures`: (keyid, sig).
    pub signatures: Vec<(String, String)>,
    /// The attestations endpoint's entries: (predicateType, bundle). None: no
    /// `dist.attestations`.
    pub attestations: Option<Vec<(String, Value)>>,
    /// `time[version]`.
    pub published: String,
}

impl NpmVersion {
    pub fn new(name: &str, version: &str, tarball: Vec<u8>, published: &str) -> Self {
        NpmVersion {
            name: name.into(),
            version: version.into(),
            integrity: integrity(&tarball),
            tarball,
            signatures: Vec::new(),
            attestations: None,
            published: published.into(),
        }
    }

    pub fn signed(mut self, key: &RegistryKey) -> Self {
        self.signatures.push((key.keyid.clone(), key.sign(&self.name, &self.version, &self.integrity)));
        self
    }
}

/// One PyPI release file.
#[derive(Debug, Clone)]
pub struct PypiFile {
    pub project: String,
    pub version: String,
    pub filename: String,
    pub sha256: String,
    /// The Integrity API's provenance object; None: 404.
    pub provenance: Option<Value>,
    pub upload_time: String,
}

#[derive(Debug, Default)]
pub struct RegistryState {
    pub npm: BTreeMap<String, Vec<NpmVersion>>,
    /// `/-/npm/v1/keys`; None: 404 (a registry that signs nothing).
    pub keys: Option<Value>,
    pub pypi: Vec<PypiFile>,
    /// The bearer token every request must carry; None: open.
    pub token: Option<String>,
    /// Answer this many requests with 429 (`Retry-After: 0`) first.
    pub rate_limit: usize,
    /// Answer this many requests with 503 first.
    pub server_errors: usize,
    /// Every request's path and its Authorization header.
    pub log: Vec<(String, Option<String>)>,
}

pub struct PackageRegistry {
    pub url: String,
    pub state: Arc<Mutex<RegistryState>>,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl PackageRegistry {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(RegistryState::default()));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, count) = (state.clone(), requests.clone());
        let base = Arc::new(Mutex::new(String::new()));
        let base_in = base.clone();
        let host = crate::harness::serve(stop.clone(), move |mut conn| {
            let head = crate::harness::read_head(&mut conn);
            count.fetch_add(1, Ordering::Relaxed);
            let base = base_in.lock().unwrap().clone();
            let (status, headers, content_type, body) = answer(&s, &base, &head);
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\n{headers}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        });
        let url = format!("http://{host}");
        *base.lock().unwrap() = url.clone();
        PackageRegistry { url, state, requests, stop }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut RegistryState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn add_npm(&self, v: NpmVersion) {
        self.with(|s| s.npm.entry(v.name.clone()).or_default().push(v));
    }
}

impl Drop for PackageRegistry {
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

fn decode(path: &str) -> String {
    path.replace("%2f", "/").replace("%2F", "/").replace("%40", "@")
}

type Answer = (&'static str, String, &'static str, Vec<u8>);

fn json_answer(v: Value) -> Answer {
    ("200 OK", String::new(), "application/json", v.to_string().into_bytes())
}

fn not_found() -> Answer {
    ("404 Not Found", String::new(), "application/json", br#"{"error":"Not found"}"#.to_vec())
}

fn answer(state: &Mutex<RegistryState>, base: &str, head: &str) -> Answer {
    let path = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/").to_string();
    let path = path.split('?').next().unwrap_or("/").to_string();
    let mut s = state.lock().unwrap();
    let auth = header(head, "authorization").map(str::to_string);
    s.log.push((path.clone(), auth.clone()));
    if s.rate_limit > 0 {
        s.rate_limit -= 1;
        return ("429 Too Many Requests", "Retry-After: 0\r\n".into(), "application/json", b"{}".to_vec());
    }
    if s.server_errors > 0 {
        s.server_errors -= 1;
        return ("503 Service Unavailable", String::new(), "application/json", b"{}".to_vec());
    }
    if let Some(token) = &s.token {
        if auth.as_deref() != Some(&format!("Bearer {token}")) {
            return ("401 Unauthorized", String::new(), "application/json", br#"{"error":"unauthorized"}"#.to_vec());
        }
    }
    let rest = path.trim_start_matches('/');
    if rest == "-/npm/v1/keys" {
        return match &s.keys {
            Some(k) => json_answer(k.clone()),
            None => not_found(),
        };
    }
    if let Some(spec) = rest.strip_prefix("-/npm/v1/attestations/") {
        let spec = decode(spec);
        let Some((name, version)) = spec.rsplit_once('@') else { return not_found() };
        let found = s.npm.get(name).and_then(|vs| vs.iter().find(|v| v.version == version)).and_then(|v| v.attestations.clone());
        return match found {
            Some(list) => json_answer(
                json!({"attestations": list.into_iter().map(|(p, b)| json!({"predicateType": p, "bundle": b})).collect::<Vec<_>>()}),
            ),
            None => not_found(),
        };
    }
    if let Some(rest) = rest.strip_prefix("pypi/") {
        let parts: Vec<&str> = rest.split('/').collect();
        let [project, version, "json"] = parts.as_slice() else { return not_found() };
        let files: Vec<&PypiFile> = s.pypi.iter().filter(|f| f.project == *project && f.version == *version).collect();
        if files.is_empty() {
            return not_found();
        }
        let urls: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({"filename": f.filename, "digests": {"sha256": f.sha256}, "upload_time_iso_8601": f.upload_time,
                       "url": format!("{base}/files/{}", f.filename), "packagetype": if f.filename.ends_with(".whl") { "bdist_wheel" } else { "sdist" }})
            })
            .collect();
        return json_answer(json!({"info": {"name": project, "version": version}, "urls": urls}));
    }
    if let Some(rest) = rest.strip_prefix("integrity/") {
        let parts: Vec<&str> = rest.split('/').collect();
        let [project, version, filename, "provenance"] = parts.as_slice() else { return not_found() };
        let found = s
            .pypi
            .iter()
            .find(|f| f.project == *project && f.version == *version && f.filename == *filename)
            .and_then(|f| f.provenance.clone());
        return match found {
            Some(p) => ("200 OK", String::new(), "application/vnd.pypi.integrity.v1+json", p.to_string().into_bytes()),
            None => not_found(),
        };
    }
    // Tarballs: /NAME/-/FILE.tgz
    if let Some((name, file)) = decode(rest).split_once("/-/") {
        let found = s.npm.get(name).and_then(|vs| vs.iter().find(|v| file == tarball_file(name, &v.version))).map(|v| v.tarball.clone());
        return match found {
            Some(bytes) => ("200 OK", String::new(), "application/octet-stream", bytes),
            None => not_found(),
        };
    }
    // Packuments: /NAME, /@SCOPE%2fNAME
    let name = decode(rest);
    let Some(versions) = s.npm.get(&name) else { return not_found() };
    let mut vs = serde_json::Map::new();
    let mut time = serde_json::Map::new();
    for v in versions {
        let mut dist = json!({
            "integrity": v.integrity,
            "shasum": hex::encode(sha1(&v.tarball)),
            "tarball": format!("{base}/{}/-/{}", v.name, tarball_file(&v.name, &v.version)),
        });
        if !v.signatures.is_empty() {
            dist["signatures"] = json!(v.signatures.iter().map(|(k, sig)| json!({"keyid": k, "sig": sig})).collect::<Vec<_>>());
        }
        if v.attestations.is_some() {
            dist["attestations"] = json!({
                "url": format!("{base}/-/npm/v1/attestations/{}@{}", v.name.replace('/', "%2f"), v.version),
                "provenance": {"predicateType": "https://slsa.dev/provenance/v1"}
            });
        }
        vs.insert(v.version.clone(), json!({"name": v.name, "version": v.version, "dist": dist}));
        time.insert(v.version.clone(), json!(v.published));
    }
    json_answer(json!({"name": name, "versions": vs, "time": time}))
}

fn tarball_file(name: &str, version: &str) -> String {
    format!("{}-{version}.tgz", name.rsplit('/').next().unwrap_or(name))
}

/// SHA-1 for npm's legacy `shasum` (the registry still lists it).
fn sha1(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes).as_ref().to_vec()
}

/// A PEP 740 provenance object with one publisher and its attestations, each a Sigstore
/// bundle turned back into PEP 740's shape.
pub fn pypi_provenance(publisher: Value, bundles: &[Value]) -> Value {
    let attestations: Vec<Value> = bundles.iter().map(pep740_from_bundle).collect();
    json!({"version": 1, "attestation_bundles": [{"publisher": publisher, "attestations": attestations}]})
}

/// A DSSE Sigstore bundle v0.3 as a PEP 740 attestation.
pub fn pep740_from_bundle(bundle: &Value) -> Value {
    json!({
        "version": 1,
        "verification_material": {
            "certificate": bundle["verificationMaterial"]["certificate"]["rawBytes"],
            "transparency_entries": bundle["verificationMaterial"]["tlogEntries"],
        },
        "envelope": {
            "statement": bundle["dsseEnvelope"]["payload"],
            "signature": bundle["dsseEnvelope"]["signatures"][0]["sig"],
        }
    })
}
