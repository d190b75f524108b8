//! Trusted roots: a `trusted_root.json` (also accepted wrapped in a sigstore-python/cosign
//! `ClientTrustConfig`) for private Sigstore instances such as a self-managed GitLab with
//! its own Fulcio and Rekor; the one a TUF mirror distributes ([`tuf`], kept in a cache);
//! or, failing those, the snapshot of the production and staging roots embedded at build
//! time. [`resolve`] picks one, in that order (docs/verification.md#where-trust-comes-from).

pub mod tuf;

use std::path::{Path, PathBuf};

use sigstore_trust_root::{TrustedRoot, SIGSTORE_PRODUCTION_TRUSTED_ROOT, SIGSTORE_STAGING_TRUSTED_ROOT};

use crate::error::{Error, Result};

/// A trusted root is small; anything larger than this is not one.
pub const MAX_TRUSTED_ROOT_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustSource {
    Production,
    Staging,
    File(PathBuf),
    /// From a TUF mirror's verified cache; `stale` when its timestamp had expired.
    Tuf {
        mirror: String,
        stale: bool,
    },
}

impl std::fmt::Display for TrustSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustSource::Production => f.write_str("embedded Sigstore production root"),
            TrustSource::Staging => f.write_str("embedded Sigstore staging root"),
            TrustSource::File(path) => write!(f, "{}", path.display()),
            TrustSource::Tuf { mirror, stale: false } => write!(f, "TUF mirror {mirror} (cached)"),
            TrustSource::Tuf { mirror, stale: true } => write!(f, "TUF mirror {mirror} (cached, expired)"),
        }
    }
}

/// A parsed trusted root with its verifier built once (keys parsed, anchors prepared).
pub struct Trust {
    source: TrustSource,
    root: TrustedRoot,
    verifier: sigstore_verify::Verifier,
    rekor_keys: sigstore_verify::crypto::Keyring,
    tsa_certificates: Vec<Vec<u8>>,
    ca_chains: Vec<Vec<Vec<u8>>>,
    /// Which OIDC issuers are CI platforms (claims.rs): part of what a run trusts.
    platforms: crate::claims::Platforms,
    /// SHA-256 of the trusted root's JSON as read.
    sha256: String,
    /// The JSON as read (for `vouch trust show`).
    json: String,
}

impl Trust {
    pub fn load(source: &TrustSource) -> Result<Self> {
        let json = match source {
            TrustSource::Production => SIGSTORE_PRODUCTION_TRUSTED_ROOT.to_string(),
            TrustSource::Staging => SIGSTORE_STAGING_TRUSTED_ROOT.to_string(),
            TrustSource::Tuf { mirror, .. } => {
                return Err(Error::TrustedRoot {
                    source_name: mirror.clone(),
                    reason: "a TUF root is read with trust::resolve, from its cache".into(),
                })
            }
            TrustSource::File(path) => {
                let bytes = read_limited(path, "trusted root", MAX_TRUSTED_ROOT_BYTES)?;
                String::from_utf8(bytes)
                    .map_err(|_| Error::TrustedRoot { source_name: path.display().to_string(), reason: "not UTF-8 text".into() })?
            }
        };
        Self::from_json(source.clone(), &json)
    }

    pub fn from_json(source: TrustSource, json: &str) -> Result<Self> {
        let fail = |reason: String| Error::TrustedRoot { source_name: source.to_string(), reason };
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| fail(format!("not JSON: {e}")))?;
        // A ClientTrustConfig (sigstore-python --trust-config) wraps the root.
        let root_value = match value.get("trustedRoot") {
            Some(inner) if value.get("mediaType").is_some_and(|m| m.as_str().is_some_and(|m| m.contains("ClientTrustConfig"))) => {
                inner.clone()
            }
            _ => value,
        };
        let media_type = root_value.get("mediaType").and_then(|m| m.as_str());
        if !media_type.is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.trustedroot")) {
            return Err(fail(format!(
                "mediaType is {}, expected application/vnd.dev.sigstore.trustedroot+json;version=0.1",
                media_type.map_or("missing".to_string(), |m| format!("{m:?}"))
            )));
        }
        let root: TrustedRoot = serde_json::from_value(root_value).map_err(|e| fail(e.to_string()))?;
        let verifier = sigstore_verify::Verifier::new(&root).map_err(|e| fail(e.to_string()))?;
        let rekor_keys = root.rekor_keys().map_err(|e| fail(e.to_string()))?;
        let tsa_certificates = root
            .timestamp_authorities
            .iter()
            .flat_map(|tsa| tsa.cert_chain.certificates.iter().map(|c| c.raw_bytes.as_bytes().to_vec()))
            .collect();
        // Each CA's chain, intermediates first; the last certificate is its trust anchor.
        let ca_chains = root
            .certificate_authorities
            .iter()
            .map(|ca| ca.cert_chain.certificates.iter().map(|c| c.raw_bytes.as_bytes().to_vec()).collect())
            .collect();
        let sha256 = sigstore_verify::crypto::sha256(json.as_bytes()).to_hex();
        Ok(Self {
            source,
            root,
            verifier,
            rekor_keys,
            tsa_certificates,
            ca_chains,
            platforms: crate::claims::Platforms::default(),
            sha256,
            json: json.to_string(),
        })
    }

    /// What a run trusts, as one digest: the trusted root as read and the CI platforms
    /// configured on it (shards of one plan must agree on both).
    pub fn digest(&self) -> String {
        sigstore_verify::crypto::sha256(format!("{}\n{:?}", self.sha256, self.platforms).as_bytes()).to_hex()
    }

    /// SHA-256 of the trusted root's JSON as read.
    pub fn root_sha256(&self) -> &str {
        &self.sha256
    }

    pub fn json(&self) -> &str {
        &self.json
    }

    pub fn source(&self) -> &TrustSource {
        &self.source
    }

    pub fn root(&self) -> &TrustedRoot {
        &self.root
    }

    pub fn verifier(&self) -> &sigstore_verify::Verifier {
        &self.verifier
    }

    pub fn rekor_keys(&self) -> &sigstore_verify::crypto::Keyring {
        &self.rekor_keys
    }

    pub fn platforms(&self) -> &crate::claims::Platforms {
        &self.platforms
    }

    /// Add GitLab instances and GitHub hosts whose certificates get CI claims.
    pub fn add_platforms<'a>(
        &mut self,
        gitlab: impl IntoIterator<Item = &'a String>,
        github: impl IntoIterator<Item = &'a String>,
    ) -> Result<()> {
        for url in gitlab {
            self.platforms.add_gitlab_instance(url).map_err(Error::Platform)?;
        }
        for host in github {
            self.platforms.add_github_host(host).map_err(Error::Platform)?;
        }
        Ok(())
    }

    /// How old an embedded snapshot is, for the warning: by its newest key's start.
    fn snapshot_age(&self, now: jiff::Timestamp) -> String {
        let newest = inventory(match self.source {
            TrustSource::Staging => SIGSTORE_STAGING_TRUSTED_ROOT,
            _ => SIGSTORE_PRODUCTION_TRUSTED_ROOT,
        })
        .into_iter()
        .filter_map(|i| i.start.and_then(|s| s.parse::<jiff::Timestamp>().ok()))
        .max();
        match newest {
            Some(t) => format!(
                " built into vouch {} (its newest key dates from {}, {})",
                env!("CARGO_PKG_VERSION"),
                t.strftime("%Y-%m-%d"),
                ago(t, now)
            ),
            None => String::new(),
        }
    }

    /// DER of each certificate authority's chain (its anchor last).
    pub fn ca_chains(&self) -> &[Vec<Vec<u8>>] {
        &self.ca_chains
    }

    /// DER of every certificate of the root's timestamp authorities.
    pub fn tsa_certificates(&self) -> &[Vec<u8>] {
        &self.tsa_certificates
    }
}

/// Which trusted root a run uses, as the flags and the manifest ask.
#[derive(Debug, Clone)]
pub enum TrustChoice {
    /// `--trusted-root FILE` or the manifest's `trusted_root`: exactly this file.
    File(PathBuf),
    /// A TUF mirror's root from the cache; Sigstore's own mirrors fall back to the
    /// embedded snapshot.
    Tuf { mirror: tuf::Mirror, offline: bool, cache: Option<PathBuf> },
}

/// Load the trusted root `choice` names, with the warnings a user must see (an expired
/// cache used offline, the embedded snapshot and its age). A fresh cache is used as is;
/// an expired one is refreshed first, or with `offline` used with a warning; a mirror
/// that cannot be reached for that refresh stops the run (exit 3); a cache or mirror that
/// fails TUF verification is an error (exit 1). With no cache, Sigstore's instances use
/// the embedded snapshot (with a warning) and a private mirror is fetched.
pub fn resolve(choice: &TrustChoice, now: jiff::Timestamp) -> Result<(Trust, Vec<String>)> {
    let (mirror, offline, cache) = match choice {
        TrustChoice::File(path) => return Ok((Trust::load(&TrustSource::File(path.clone()))?, Vec::new())),
        TrustChoice::Tuf { mirror, offline, cache } => (mirror, *offline, cache.clone().or_else(tuf::default_cache)),
    };
    let embedded = match mirror.url.as_str() {
        tuf::PRODUCTION_MIRROR if mirror.root.is_none() && mirror.root_checksum.is_none() => Some(TrustSource::Production),
        tuf::STAGING_MIRROR if mirror.root.is_none() && mirror.root_checksum.is_none() => Some(TrustSource::Staging),
        _ => None,
    };
    let mut notes = Vec::new();
    let from_state =
        |state: &tuf::Fetched| Trust::from_json(TrustSource::Tuf { mirror: mirror.url.clone(), stale: state.stale }, &state.trusted_root);
    let cached = match &cache {
        Some(dir) => tuf::load_cache(mirror, dir, now).map_err(Error::Tuf)?,
        None => None,
    };
    let fallback = |notes: &mut Vec<String>, why: String| -> Result<Trust> {
        let Some(source) = &embedded else {
            return Err(Error::Tuf(tuf::TufError { mirror: mirror.url.clone(), fault: tuf::Fault::Setup, message: why }));
        };
        let trust = Trust::load(source)?;
        notes.push(format!("warning: {why}; using the {source}{} (`vouch trust update` fetches the current one)", trust.snapshot_age(now)));
        Ok(trust)
    };
    let trust = match cached {
        Some(state) if !state.stale => from_state(&state)?,
        Some(state) if offline => {
            notes.push(format!(
                "warning: the TUF cache of {} (root v{}, timestamp v{}, targets v{}) expired at {} ({}); using it offline",
                mirror.url,
                state.root_version,
                state.timestamp_version,
                state.targets_version,
                state.timestamp_expires,
                ago(state.timestamp_expires, now)
            ));
            from_state(&state)?
        }
        // Expired and online: refresh it. If the mirror cannot be reached, the run stops
        // (exit 3) rather than go on with trust nobody vouches for now; --offline is the
        // explicit way to use an expired cache.
        Some(state) => match cache.as_deref().map(|dir| tuf::update(mirror, dir, now, std::time::Duration::from_secs(30))) {
            Some(Ok(updated)) => from_state(&updated.state)?,
            Some(Err(e)) if e.fault == tuf::Fault::Network => {
                return Err(Error::Tuf(tuf::TufError {
                    message: format!(
                        "the cache expired at {} ({}) and refreshing it failed: {}; retry, or pass --offline to use the expired cache",
                        state.timestamp_expires,
                        ago(state.timestamp_expires, now),
                        e.message
                    ),
                    ..e
                }))
            }
            Some(Err(e)) => return Err(Error::Tuf(e)),
            None => from_state(&state)?,
        },
        None if embedded.is_some() => fallback(&mut notes, format!("no TUF cache of {}", mirror.url))?,
        None if offline => fallback(
            &mut notes,
            format!("no TUF cache of {} and --offline: run `vouch trust update --mirror {}` first", mirror.url, mirror.url),
        )?,
        None => match cache.as_deref() {
            Some(dir) => from_state(&tuf::update(mirror, dir, now, std::time::Duration::from_secs(30)).map_err(Error::Tuf)?.state)?,
            None => fallback(&mut notes, "no cache folder (set VOUCH_CACHE_DIR or HOME)".into())?,
        },
    };
    Ok((trust, notes))
}

/// "3 days ago", "in 2 hours".
pub fn ago(t: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let secs = now.as_second() - t.as_second();
    let (n, unit) = match secs.abs() {
        s if s >= 2 * 86400 => (s / 86400, "days"),
        s if s >= 2 * 3600 => (s / 3600, "hours"),
        s if s >= 120 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    if secs >= 0 {
        format!("{n} {unit} ago")
    } else {
        format!("in {n} {unit}")
    }
}

/// One key or CA of a trusted root, and when it is valid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrustItem {
    /// `certificate-authority`, `transparency-log`, `ct-log` or `timestamp-authority`.
    pub kind: &'static str,
    /// What it is: the log's URL and key ID, the CA's URI and subject.
    pub name: String,
    pub id: String,
    pub start: Option<String>,
    pub end: Option<String>,
}

/// Every CA, log and TSA of a trusted root, with its validity window.
pub fn inventory(trusted_root_json: &str) -> Vec<TrustItem> {
    use serde_json::Value;
    let Ok(v) = serde_json::from_str::<Value>(trusted_root_json) else {
        return Vec::new();
    };
    let v = v.get("trustedRoot").cloned().unwrap_or(v);
    // `pointer` rather than indexing: a missing field is simply absent.
    let text = |x: &Value, path: &str| x.pointer(path).and_then(Value::as_str).map(str::to_string);
    let list = |name: &str| v.get(name).and_then(Value::as_array).cloned().unwrap_or_default();
    let b64 = |s: &str| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s).ok();
    let mut items = Vec::new();
    for (name, kind) in [("tlogs", "transparency-log"), ("ctlogs", "ct-log")] {
        for log in list(name) {
            let key_id = text(&log, "/logId/keyId").unwrap_or_default();
            items.push(TrustItem {
                kind,
                name: text(&log, "/baseUrl").unwrap_or_default(),
                id: b64(&key_id).map(hex::encode).unwrap_or(key_id),
                start: text(&log, "/publicKey/validFor/start"),
                end: text(&log, "/publicKey/validFor/end"),
            });
        }
    }
    for (name, kind) in [("certificateAuthorities", "certificate-authority"), ("timestampAuthorities", "timestamp-authority")] {
        for ca in list(name) {
            let subject = text(&ca, "/subject/commonName").or_else(|| text(&ca, "/subject/organization")).unwrap_or_default();
            let anchor = ca
                .pointer("/certChain/certificates")
                .and_then(Value::as_array)
                .and_then(|c| c.last())
                .and_then(|c| c.get("rawBytes"))
                .and_then(Value::as_str)
                .and_then(b64);
            items.push(TrustItem {
                kind,
                name: format!("{} ({subject})", text(&ca, "/uri").unwrap_or_default()),
                id: anchor.map(|der| sigstore_verify::crypto::sha256(&der).to_hex()).unwrap_or_default(),
                start: text(&ca, "/validFor/start"),
                end: text(&ca, "/validFor/end"),
            });
        }
    }
    items
}

/// What changed between two trusted roots: `+` added, `-` removed, `~` a new validity window.
pub fn diff(old: &str, new: &str) -> Vec<(char, TrustItem)> {
    let (old, new) = (inventory(old), inventory(new));
    let key = |i: &TrustItem| (i.kind, i.id.clone(), i.name.clone());
    let mut changes = Vec::new();
    for n in &new {
        match old.iter().find(|o| key(o) == key(n)) {
            None => changes.push(('+', n.clone())),
            Some(o) if o != n => changes.push(('~', n.clone())),
            Some(_) => {}
        }
    }
    for o in &old {
        if !new.iter().any(|n| key(n) == key(o)) {
            changes.push(('-', o.clone()));
        }
    }
    changes
}

/// Read a whole file, refusing anything over `limit` bytes before reading it.
pub(crate) fn read_limited(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| Error::Io { path: path.to_path_buf(), what, source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(Error::TooLarge { path: path.to_path_buf(), what, size, limit });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge { path: path.to_path_buf(), what, size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}
