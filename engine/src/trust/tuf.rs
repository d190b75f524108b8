//! Fresh trust through TUF: a mirror's `trusted_root.json` (and `signing_config`), verified
//! by the TUF client workflow of `sigstore-tuf` (root rotation chain, thresholds, versions,
//! expiry, snapshot/timestamp consistency, target lengths and hashes), kept in a cache.
//!
//! The cache holds the verified metadata exactly as the mirror served it. Every use
//! re-verifies it from the pinned bootstrap root (a tampered cache is refused, not
//! trusted), and an update writes a whole new cache beside the old one and swaps it in
//! only after everything verified: a fault or an attack leaves the last good cache as it
//! was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sigstore_tuf::transport::FetchFuture;
use sigstore_tuf::{MetadataStore, Repository, Updater};

pub const PRODUCTION_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";
pub const STAGING_MIRROR: &str = "https://tuf-repo-cdn.sigstage.dev";
/// Sigstore's public-good and staging TUF roots (as published; a test checks the
/// production one chains from the copy sigstore-python ships).
pub const PRODUCTION_ROOT: &[u8] = include_bytes!("tuf/production-root.json");
pub const STAGING_ROOT: &[u8] = include_bytes!("tuf/staging-root.json");
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

/// A file in the cache (or from a mirror) larger than this is not TUF metadata.
const MAX_CACHE_FILE: u64 = 8 << 20;
const MAX_CACHE_FILES: usize = 4096;
const MAX_CACHE_BYTES: u64 = 64 << 20;

/// Why a TUF operation failed, which decides its exit class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The mirror could not be reached or did not answer (exit 3).
    Network,
    /// The metadata failed verification: bad signature, threshold not met, rollback,
    /// freeze (expired), mix-and-match, wrong target hash or length (exit 1).
    Rejected,
    /// The setup is wrong: no pinned root for this mirror, a bad checksum, no cache (exit 2).
    Setup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TufError {
    pub mirror: String,
    pub fault: Fault,
    pub message: String,
}

impl std::fmt::Display for TufError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TUF repository {}: {}", self.mirror, self.message)
    }
}

impl std::error::Error for TufError {}

/// A TUF repository and how its first root is pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The metadata base URL, without a trailing slash.
    pub url: String,
    /// A root file to start the chain from (`--root`).
    pub root: Option<PathBuf>,
    /// The SHA-256 that root must have (`--root-checksum`); alone, the mirror's
    /// `1.root.json` is fetched and must have it.
    pub root_checksum: Option<String>,
}

impl Mirror {
    pub fn new(url: &str) -> Self {
        Self { url: url.trim_end_matches('/').to_string(), root: None, root_checksum: None }
    }

    /// A mirror is an http(s) URL; anything else is a configuration mistake, not a network fault.
    fn check_url(&self) -> Result<(), TufError> {
        match reqwest::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
            _ => Err(self.err(Fault::Setup, "the mirror must be an http:// or https:// URL, e.g. https://tuf-repo-cdn.sigstore.dev")),
        }
    }

    pub fn production() -> Self {
        Self::new(PRODUCTION_MIRROR)
    }

    pub fn staging() -> Self {
        Self::new(STAGING_MIRROR)
    }

    /// The embedded root of Sigstore's own instances.
    fn embedded_root(&self) -> Option<&'static [u8]> {
        match self.url.as_str() {
            PRODUCTION_MIRROR => Some(PRODUCTION_ROOT),
            STAGING_MIRROR => Some(STAGING_ROOT),
            _ => None,
        }
    }

    fn err(&self, fault: Fault, message: impl Into<String>) -> TufError {
        TufError { mirror: self.url.clone(), fault, message: message.into() }
    }

    fn tuf_error(&self, e: sigstore_tuf::Error) -> TufError {
        let fault = match &e {
            // What the mirror served, or failed to serve though its signed metadata names it
            // (oversized files, a pinned file that is missing, an endless root chain), is the
            // mirror's doing, not the network's: not retryable, not a reason to go on with
            // an old cache.
            sigstore_tuf::Error::Transport { message, .. }
                if ["exceeds max", "not found", "root rotations"].iter().any(|m| message.contains(m)) =>
            {
                Fault::Rejected
            }
            sigstore_tuf::Error::Transport { .. } => Fault::Network,
            sigstore_tuf::Error::Io { .. } => Fault::Setup,
            _ => Fault::Rejected,
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        self.err(fault, message)
    }

    /// This mirror's folder in a cache: its URL, percent-encoded (as sigstore-python names it).
    pub fn cache_dir(&self, cache: &Path) -> PathBuf {
        let mut name = String::new();
        for b in self.url.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                name.push(b as char);
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
        cache.join("tuf").join(name)
    }

    /// The root the chain starts from: a pinned file, the embedded one, or the mirror's
    /// `1.root.json` checked against a pinned checksum. A checksum always binds.
    fn bootstrap(&self, fetched: Option<&[u8]>) -> Result<Vec<u8>, TufError> {
        let bytes = match (&self.root, fetched, self.embedded_root()) {
            (Some(path), _, _) => crate::trust::read_limited(path, "TUF root", MAX_CACHE_FILE)
                .map_err(|e| self.err(Fault::Setup, format!("--root {}: {e}", path.display())))?,
            // Only a checksum makes a fetched (or cached) first root trustworthy.
            (None, Some(bytes), _) if self.root_checksum.is_some() => bytes.to_vec(),
            (None, _, Some(embedded)) if self.root_checksum.is_none() => embedded.to_vec(),
            _ => {
                return Err(self.err(
                    Fault::Setup,
                    "no root is pinned for this mirror: pass --root FILE or --root-checksum SHA256 (only Sigstore's public instances have one embedded)",
                ))
            }
        };
        if let Some(want) = &self.root_checksum {
            let got = sigstore_verify::crypto::sha256(&bytes).to_hex();
            if !got.eq_ignore_ascii_case(want.trim().trim_start_matches("sha256:")) {
                return Err(self.err(Fault::Setup, format!("the initial root's SHA-256 is {got}, not the pinned {want}")));
            }
        }
        Ok(bytes)
    }
}

/// What a verified TUF state yields.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub trusted_root: String,
    pub signing_config: Option<String>,
    pub root_version: u64,
    pub root_expires: jiff::Timestamp,
    pub timestamp_version: u64,
    pub timestamp_expires: jiff::Timestamp,
    pub targets_version: u64,
    /// The timestamp had expired: the content is authentic, but not known to be current.
    pub stale: bool,
}

/// The verified metadata, by the names sigstore-tuf persists (`root_history/N.root.json`,
/// `timestamp.json`, `snapshot.json`, `targets.json`, `targets/NAME`).
#[derive(Clone, Default)]
struct Store(Arc<Mutex<BTreeMap<String, Vec<u8>>>>);

impl Store {
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The cache's files that the client persists, and nothing else (a planted file is
    /// neither read nor carried into the next cache); each and all together bounded.
    fn read_dir(dir: &Path) -> std::io::Result<Self> {
        let mut names: Vec<String> = ["root.json", "timestamp.json", "snapshot.json", "targets.json"]
            .iter()
            .map(|n| n.to_string())
            .chain([TRUSTED_ROOT_TARGET, SIGNING_CONFIG_TARGET].iter().map(|t| format!("targets/{t}")))
            .collect();
        let numbered = |name: &str, suffix: &str| {
            name.strip_suffix(suffix).is_some_and(|v| !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()))
        };
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if numbered(&name, ".snapshot.json") || numbered(&name, ".targets.json") {
                names.push(name);
            }
        }
        if let Ok(history) = std::fs::read_dir(dir.join("root_history")) {
            for entry in history.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if numbered(&name, ".root.json") {
                    names.push(format!("root_history/{name}"));
                }
            }
        }
        let mut files = BTreeMap::new();
        let mut total = 0u64;
        for name in names.into_iter().take(MAX_CACHE_FILES) {
            let path = dir.join(&name);
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            if !meta.is_file() || meta.len() > MAX_CACHE_FILE || total + meta.len() > MAX_CACHE_BYTES {
                continue;
            }
            total += meta.len();
            files.insert(name, std::fs::read(&path)?);
        }
        Ok(Self(Arc::new(Mutex::new(files))))
    }
}

impl MetadataStore for Store {
    fn load(&self, name: &str) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().ok().and_then(|m| m.get(name).cloned()))
    }

    fn store(&self, name: &str, bytes: &[u8]) -> sigstore_tuf::Result<()> {
        if let Ok(mut m) = self.0.lock() {
            m.insert(name.to_string(), bytes.to_vec());
        }
        Ok(())
    }
}

/// Serves a cache's own files as the mirror, for verifying it without the network.
struct Replay(BTreeMap<String, Vec<u8>>);

impl Replay {
    fn find(&self, name: &str) -> Option<Vec<u8>> {
        if let Some(b) = self.0.get(name) {
            return Some(b.clone());
        }
        // N.root.json lives in root_history/; N.ROLE.json (consistent snapshots) is ROLE.json.
        let (prefix, rest) = name.split_once('.')?;
        if !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if rest == "root.json" {
            return self.0.get(&format!("root_history/{name}")).cloned();
        }
        self.0.get(rest).cloned()
    }
}

impl Repository for Replay {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        let found = self.find(name).filter(|b| b.len() as u64 <= max_length);
        Box::pin(async move { Ok(found) })
    }

    fn fetch_target<'a>(&'a self, path: &'a str, _max_length: u64) -> FetchFuture<'a> {
        let found = self.0.get(&format!("targets/{path}")).cloned();
        Box::pin(async move { Ok(found) })
    }
}

fn runtime(mirror: &Mirror) -> Result<tokio::runtime::Runtime, TufError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| mirror.err(Fault::Network, format!("no runtime for the TUF client: {e}")))
}

/// Refresh and read the targets from an updater, then describe the state.
async fn read_state(mirror: &Mirror, up: &mut Updater, now: jiff::Timestamp, stale: bool) -> Result<Fetched, TufError> {
    up.refresh(now).await.map_err(|e| mirror.tuf_error(e))?;
    let trusted_root = up.get_target(TRUSTED_ROOT_TARGET, now).await.map_err(|e| mirror.tuf_error(e))?;
    let signing_config = match up.get_target_info(SIGNING_CONFIG_TARGET, now).await.map_err(|e| mirror.tuf_error(e))? {
        Some(info) => Some(match up.find_cached_target(&info, SIGNING_CONFIG_TARGET) {
            Some(bytes) => bytes,
            None => up.download_target(&info, SIGNING_CONFIG_TARGET).await.map_err(|e| mirror.tuf_error(e))?,
        }),
        None => None,
    };
    let text = |bytes: Vec<u8>, what: &str| {
        String::from_utf8(bytes).map_err(|_| mirror.err(Fault::Rejected, format!("the {what} target is not UTF-8 text")))
    };
    let trusted = up.trusted();
    let timestamp = trusted.timestamp().ok_or_else(|| mirror.err(Fault::Rejected, "no timestamp after a refresh"))?;
    Ok(Fetched {
        trusted_root: text(trusted_root, TRUSTED_ROOT_TARGET)?,
        signing_config: signing_config.map(|b| text(b, SIGNING_CONFIG_TARGET)).transpose()?,
        root_version: trusted.root().version,
        root_expires: trusted.root().expires,
        timestamp_version: timestamp.version,
        timestamp_expires: timestamp.expires,
        targets_version: trusted.targets_role("targets").map_or(0, |t| t.version),
        stale,
    })
}

/// The cached state of `mirror`, verified from its pinned root without the network:
/// `None` when there is no cache. A cache whose timestamp has expired is returned with
/// `stale` set, verified as of just before it expired; a cache that does not verify at
/// all is an error (it was tampered with, or belongs to another root).
pub fn load_cache(mirror: &Mirror, cache: &Path, now: jiff::Timestamp) -> Result<Option<Fetched>, TufError> {
    mirror.check_url()?;
    let dir = mirror.cache_dir(cache);
    let metadata = dir.join("metadata");
    if !metadata.is_dir() {
        return Ok(None);
    }
    let store =
        Store::read_dir(&metadata).map_err(|e| mirror.err(Fault::Setup, format!("reading the cache {}: {e}", metadata.display())))?;
    let pinned = std::fs::read(dir.join("bootstrap.root.json")).ok();
    // A checksum-pinned mirror's first root was fetched by the update that made the cache;
    // it is checked against the pin again here.
    let bootstrap = mirror.bootstrap(if mirror.root.is_none() && mirror.root_checksum.is_some() { pinned.as_deref() } else { None })?;
    let rt = runtime(mirror)?;
    let attempt = |at: jiff::Timestamp, stale: bool| {
        let files = store.files();
        let seeded = Store(Arc::new(Mutex::new(files.clone())));
        rt.block_on(async {
            let mut up = Updater::new(Replay(files), &bootstrap).map_err(|e| mirror.tuf_error(e))?.with_store(seeded);
            read_state(mirror, &mut up, at, stale).await
        })
        // Nothing here touches the network: a file the cache lacks means it is incomplete.
        .map_err(|e| if e.fault == Fault::Network { TufError { fault: Fault::Rejected, ..e } } else { e })
    };
    let refused = |e: TufError| TufError {
        message: format!("the cache {} does not verify ({}); `vouch trust update` replaces it", dir.display(), e.message),
        ..e
    };
    match attempt(now, false) {
        Ok(state) => Ok(Some(state)),
        Err(e) if e.fault == Fault::Rejected && e.message.contains("expired") => {
            // Authentic but old: verify it as of the moment before its timestamp expired.
            let expires = store
                .load("timestamp.json")
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v.pointer("/signed/expires").and_then(|e| e.as_str()).and_then(|s| s.parse::<jiff::Timestamp>().ok()))
                .ok_or_else(|| e.clone())?;
            let before = expires.checked_sub(jiff::SignedDuration::from_secs(1)).map_err(|_| e.clone())?;
            let state = attempt(before, true).map_err(|_| refused(e))?;
            // The root's own expiry still holds at `now`: it bounds how old a state an
            // expired cache (or a copy of an old one put in its place) can bring back.
            if state.root_expires <= now {
                return Err(refused(
                    mirror.err(Fault::Rejected, format!("its TUF root v{} expired at {}", state.root_version, state.root_expires)),
                ));
            }
            Ok(Some(state))
        }
        Err(e) if e.fault == Fault::Rejected => Err(refused(e)),
        Err(e) => Err(e),
    }
}

/// What an update found.
#[derive(Debug, Clone)]
pub struct Updated {
    pub state: Fetched,
    /// The trusted root the cache held before (or the embedded one, for Sigstore's instances).
    pub previous: Option<String>,
}

/// Run the TUF client workflow against `mirror` and, when everything verifies, replace
/// the cache with what it fetched. On any error the cache is left exactly as it was.
pub fn update(mirror: &Mirror, cache: &Path, now: jiff::Timestamp, timeout: std::time::Duration) -> Result<Updated, TufError> {
    mirror.check_url()?;
    let dir = mirror.cache_dir(cache);
    let old = Store::read_dir(&dir.join("metadata")).unwrap_or_default();
    let previous =
        old.load(&format!("targets/{TRUSTED_ROOT_TARGET}")).ok().flatten().and_then(|b| String::from_utf8(b).ok()).or_else(|| match mirror
            .url
            .as_str()
        {
            PRODUCTION_MIRROR => Some(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT.to_string()),
            STAGING_MIRROR => Some(sigstore_trust_root::SIGSTORE_STAGING_TRUSTED_ROOT.to_string()),
            _ => None,
        });
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .timeout(timeout.saturating_mul(4))
        .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| mirror.err(Fault::Network, format!("no HTTP client: {e}")))?;
    let repo = sigstore_tuf::HttpRepository::new(&mirror.url).map_err(|e| mirror.tuf_error(e))?.with_http_client(client);
    let rt = runtime(mirror)?;
    let store = Store(Arc::new(Mutex::new(old.files())));
    let (state, pinned) = rt.block_on(async {
        // A checksum-pinned mirror without a root file: its 1.root.json is the start.
        let fetched_root = if mirror.root.is_none() && mirror.root_checksum.is_some() {
            Some(
                repo.fetch_metadata("1.root.json", 512_000)
                    .await
                    .map_err(|e| mirror.tuf_error(e))?
                    .ok_or_else(|| mirror.err(Fault::Rejected, "the mirror has no 1.root.json to check the pinned checksum against"))?,
            )
        } else {
            None
        };
        let bootstrap = mirror.bootstrap(fetched_root.as_deref())?;
        let mut up = Updater::new(repo.clone(), &bootstrap).map_err(|e| mirror.tuf_error(e))?.with_store(store.clone());
        let state = read_state(mirror, &mut up, now, false).await?;
        Ok::<_, TufError>((state, bootstrap))
    })?;
    // The target must be a trusted root vouch can use, or it is not swapped in.
    crate::trust::Trust::from_json(crate::trust::TrustSource::Tuf { mirror: mirror.url.clone(), stale: false }, &state.trusted_root)
        .map_err(|e| mirror.err(Fault::Rejected, format!("the mirror's {TRUSTED_ROOT_TARGET} is not usable: {e}")))?;
    write_cache(&dir, &store.files(), &pinned, now)
        .map_err(|e| mirror.err(Fault::Setup, format!("writing the cache {}: {e}", dir.display())))?;
    Ok(Updated { state, previous })
}

/// Write the new cache into a folder of its own beside the old one, then point the cache's
/// name at it by renaming a symlink over the old one: a reader sees the old cache or the
/// new one, whole, and a crash leaves the old one in place.
fn write_cache(dir: &Path, files: &BTreeMap<String, Vec<u8>>, bootstrap: &[u8], now: jiff::Timestamp) -> std::io::Result<()> {
    use std::io::Write;
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let version = format!(".{name}.{}-{}", now.as_nanosecond(), std::process::id());
    let fresh = parent.join(&version);
    let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        let mut f = std::fs::File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    let written = (|| {
        for (file, bytes) in files {
            if file.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
                continue;
            }
            write(&fresh.join("metadata").join(file), bytes)?;
        }
        write(&fresh.join("bootstrap.root.json"), bootstrap)?;
        write(&fresh.join("updated-at"), now.to_string().as_bytes())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(e);
    }
    let previous = std::fs::read_link(dir).ok().map(|p| parent.join(p));
    if let Err(e) = swap(&version, dir, parent) {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(e);
    }
    if let Some(old) = previous.filter(|p| *p != fresh) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

#[cfg(unix)]
fn swap(version: &str, dir: &Path, parent: &Path) -> std::io::Result<()> {
    let link = parent.join(format!("{version}.link"));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(version, &link)?;
    if dir.is_dir() && std::fs::read_link(dir).is_err() {
        // A plain folder (not ours): replaced, not atomically.
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&link, dir)
}

#[cfg(not(unix))]
fn swap(version: &str, dir: &Path, parent: &Path) -> std::io::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(parent.join(version), dir)
}

/// When a cache was last updated (what `vouch trust show` prints), if it says.
pub fn updated_at(mirror: &Mirror, cache: &Path) -> Option<String> {
    std::fs::read_to_string(mirror.cache_dir(cache).join("updated-at")).ok().map(|s| s.trim().to_string())
}

/// The default cache: `$XDG_CACHE_HOME/vouch`, else `~/.cache/vouch` (`--cache`/`VOUCH_CACHE_DIR` override it).
pub fn default_cache() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    nonempty("XDG_CACHE_HOME").map(|d| d.join("vouch")).or_else(|| nonempty("HOME").map(|h| h.join(".cache").join("vouch")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn sigstores_own_mirrors_start_from_the_embedded_root_whatever_a_cache_holds() {
        // A cache's copy of the first root is only used when a checksum pins it.
        assert_eq!(Mirror::production().bootstrap(Some(b"{}")).unwrap(), PRODUCTION_ROOT);
        assert_eq!(Mirror::staging().bootstrap(None).unwrap(), STAGING_ROOT);
        let private = Mirror::new("https://tuf.example.com");
        assert_eq!(private.bootstrap(Some(b"{}")).unwrap_err().fault, Fault::Setup);
        let sum = sigstore_verify::crypto::sha256(b"{}").to_hex();
        let pinned = Mirror { root_checksum: Some(sum), ..private.clone() };
        assert_eq!(pinned.bootstrap(Some(b"{}")).unwrap(), b"{}");
        assert_eq!(pinned.bootstrap(Some(b"[]")).unwrap_err().fault, Fault::Setup);
    }

    #[test]
    fn a_mirror_is_an_http_url() {
        for bad in ["not a url", "ftp://tuf.example.com", "file:///etc"] {
            assert_eq!(Mirror::new(bad).check_url().unwrap_err().fault, Fault::Setup, "{bad}");
        }
        Mirror::new("http://127.0.0.1:8080/").check_url().unwrap();
    }

    #[test]
    fn a_swapped_cache_is_whole_and_the_old_one_goes() {
        let base = std::env::temp_dir().join(format!("vouch-tuf-swap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("tuf").join("m");
        let files = |v: &str| BTreeMap::from([("timestamp.json".to_string(), v.as_bytes().to_vec())]);
        let t = jiff::Timestamp::now();
        write_cache(&dir, &files("1"), b"root", t).unwrap();
        write_cache(&dir, &files("2"), b"root", t + jiff::SignedDuration::from_secs(1)).unwrap();
        assert_eq!(std::fs::read(dir.join("metadata/timestamp.json")).unwrap(), b"2");
        let left: Vec<_> = std::fs::read_dir(base.join("tuf")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 2, "the cache's link and its one folder: {left:?}");
        let _ = std::fs::remove_dir_all(&base);
    }
}
