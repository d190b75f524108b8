//! Package subjects (docs/packages.md): `npm:NAME@VERSION` and
//! `pypi:PROJECT==VERSION/FILENAME` named by a flag or a manifest, and every locked
//! package of a lockfile (`package-lock.json` v2/v3, `npm-shrinkwrap.json`, a
//! `requirements.txt` pinned with `--hash`). What the lockfile says the package's digest
//! is goes with the subject and must agree with the registry's.
//!
//! Where packages come from: npm registries (a default and one per scope, `.npmrc`
//! conventions, tokens only for their own registry) and a PyPI index.

use std::path::{Path, PathBuf};

use crate::error::{Code, Error, Result};

/// Lockfiles are text a project commits; anything this large is a mistake.
pub const MAX_LOCKFILE_BYTES: u64 = 64 << 20;
/// Packages one lockfile may list.
pub const MAX_LOCKED_PACKAGES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Npm,
    Pypi,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
        }
    }
}

/// One package (npm) or one file of a release (PyPI) to judge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageSpec {
    pub ecosystem: Ecosystem,
    /// npm: `name` or `@scope/name`; PyPI: the normalized project name (PEP 503).
    pub name: String,
    pub version: String,
    /// PyPI: the file, when named.
    pub file: Option<String>,
    /// What a lockfile says the digest is: npm's SRI `integrity` (`sha512-…`, possibly
    /// several, space-separated), or a PyPI file's sha256 (hex).
    pub locked: Option<String>,
    /// npm: the name it is installed as (`node_modules/NAME`), when that is not its own
    /// (an alias): `only`, and policies, match either.
    pub installed_as: Option<String>,
}

fn bad(what: &str, why: impl std::fmt::Display) -> Error {
    Error::usage(Code::UsagePackage, format!("{what:?}: {why}"))
}

/// npm's rules for a name: at most 214 characters, URL-safe, lower case for new
/// packages (older ones may have capitals), `@scope/name` with exactly one slash.
fn npm_name_ok(name: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.starts_with('_')
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    };
    if name.len() > 214 {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => scoped.split_once('/').is_some_and(|(scope, rest)| part_ok(scope) && part_ok(rest) && !rest.contains('/')),
        None => part_ok(name),
    }
}

/// An exact version: no ranges, dist-tags (`latest`) or paths. It starts with a digit
/// (PEP 440, with its `N!` epochs, and semver alike); npm's must be semver.
fn version_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 256
        && v.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_' | b'!'))
}

/// PEP 503: runs of `-`, `_`, `.` are one `-`, lower case.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn pypi_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

pub(crate) fn pypi_file_ok(file: &str) -> bool {
    !file.is_empty()
        && file.len() <= 255
        && !file.starts_with('.')
        && file.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'!'))
}

impl PackageSpec {
    /// `npm:NAME@VERSION` (`npm:@scope/name@1.2.3`) or `pypi:PROJECT==VERSION/FILENAME`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("npm:") {
            // The version follows the last `@` that is not the scope's.
            let at = rest.rfind('@').filter(|i| *i > 0).ok_or_else(|| bad(s, "write npm:NAME@VERSION, e.g. npm:@acme/app@1.2.3"))?;
            let (name, version) = (rest.get(..at).unwrap_or_default(), rest.get(at + 1..).unwrap_or_default());
            if !npm_name_ok(name) {
                return Err(bad(s, format!("{name:?} is not an npm package name")));
            }
            if !version_ok(version) || semver::Version::parse(version).is_err() {
                return Err(bad(s, format!("{version:?} is not an exact version (ranges and dist-tags are not judged: pin one version)")));
            }
            Ok(PackageSpec {
                ecosystem: Ecosystem::Npm,
                name: name.into(),
                version: version.into(),
                file: None,
                locked: None,
                installed_as: None,
            })
        } else if let Some(rest) = s.strip_prefix("pypi:") {
            let (name, rest) = rest.split_once("==").ok_or_else(|| bad(s, "write pypi:PROJECT==VERSION/FILENAME"))?;
            let (version, file) = rest.split_once('/').ok_or_else(|| {
                bad(s, "name the file: pypi:PROJECT==VERSION/FILENAME (a release has one file per platform; a requirements.txt with --hash names them all)")
            })?;
            if !pypi_name_ok(name) {
                return Err(bad(s, format!("{name:?} is not a PyPI project name")));
            }
            if !version_ok(version) {
                return Err(bad(s, format!("{version:?} is not an exact version")));
            }
            if !pypi_file_ok(file) {
                return Err(bad(s, format!("{file:?} is not a distribution file name")));
            }
            Ok(PackageSpec {
                ecosystem: Ecosystem::Pypi,
                name: normalize_pypi(name),
                version: version.into(),
                file: Some(file.into()),
                locked: None,
                installed_as: None,
            })
        } else {
            Err(bad(s, "write npm:NAME@VERSION or pypi:PROJECT==VERSION/FILENAME"))
        }
    }

    /// How reports and plans name it: `npm:NAME@VERSION`, `pypi:PROJECT==VERSION/FILE`
    /// or, locked by hash, `pypi:PROJECT==VERSION#sha256:HEX`.
    pub fn id(&self) -> String {
        match (self.ecosystem, &self.file, &self.locked) {
            (Ecosystem::Npm, _, _) => format!("npm:{}@{}", self.name, self.version),
            (Ecosystem::Pypi, Some(file), _) => format!("pypi:{}=={}/{file}", self.name, self.version),
            (Ecosystem::Pypi, None, Some(hex)) => format!("pypi:{}=={}#sha256:{hex}", self.name, self.version),
            (Ecosystem::Pypi, None, None) => format!("pypi:{}=={}", self.name, self.version),
        }
    }

    /// Whether a name pattern set (`only:`) selects it: by its name, the name it is
    /// installed as, or `ECOSYSTEM:NAME`.
    /// PyPI names are matched against the patterns normalized (PEP 503).
    pub fn selected_by(&self, set: &globset::GlobSet, normalized: &globset::GlobSet) -> bool {
        let set = if self.ecosystem == Ecosystem::Pypi { normalized } else { set };
        set.is_match(&self.name)
            || self.installed_as.as_deref().is_some_and(|n| set.is_match(n))
            || set.is_match(format!("{}:{}", self.ecosystem.as_str(), self.name))
    }

    /// npm's scope (`@acme`), if any.
    pub fn scope(&self) -> Option<&str> {
        (self.ecosystem == Ecosystem::Npm).then(|| self.name.split_once('/').map(|(s, _)| s)).flatten().filter(|s| s.starts_with('@'))
    }
}

/// What a lockfile held: its packages, and what of it is not judged (and why).
#[derive(Debug, Default)]
pub struct Locked {
    pub packages: Vec<PackageSpec>,
    /// Entries that are not registry packages (workspace links), said in the plan's notes.
    pub notes: Vec<String>,
    /// Entries vouch cannot judge (git or URL dependencies): subjects that fail.
    pub unjudgeable: Vec<Unjudgeable>,
}

/// A locked entry that no registry signs: a subject that fails, never one left out.
#[derive(Debug)]
pub struct Unjudgeable {
    /// `npm:NAME@VERSION` (or `npm:NAME` without a version).
    pub id: String,
    /// The names `only` is matched against: its own and the one it is installed as.
    pub names: Vec<String>,
    pub message: String,
}

/// npm's Subresource Integrity: one or more `ALG-BASE64` with a known algorithm and a
/// digest of its length. Anything else is not an integrity (an empty one least of all).
pub fn sri_ok(integrity: &str) -> bool {
    use base64::Engine as _;
    let mut any = false;
    for h in integrity.split_whitespace() {
        let Some((alg, b64)) = h.split_once('-') else { return false };
        let len = match alg {
            "sha1" => 20,
            "sha256" => 32,
            "sha384" => 48,
            "sha512" => 64,
            _ => return false,
        };
        let b64 = b64.split('?').next().unwrap_or_default();
        if base64::engine::general_purpose::STANDARD.decode(b64).map(|b| b.len()) != Ok(len) {
            return false;
        }
        any = true;
    }
    any
}

/// Read a lockfile: `package-lock.json` / `npm-shrinkwrap.json` (lockfileVersion 2 or
/// 3) or a pip `requirements*.txt` with hashes. Anything else, or an entry that is not
/// pinned to an exact version and digest, is a usage error: a lockfile vouch cannot read
/// whole must not be judged in part.
pub fn read_lockfile(path: &Path) -> Result<Locked> {
    let bytes = crate::trust::read_limited(path, "lockfile", MAX_LOCKFILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| lockfile_error(path, "not UTF-8 text"))?;
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let locked = if file.ends_with(".json") {
        npm_lockfile(path, &text)?
    } else if file.ends_with(".txt") {
        requirements(path, &text, 0)?
    } else {
        return Err(lockfile_error(
            path,
            "vouch reads package-lock.json / npm-shrinkwrap.json (v2, v3) and pip requirements files (*.txt) with --hash",
        ));
    };
    if locked.packages.len() > MAX_LOCKED_PACKAGES {
        return Err(lockfile_error(path, format!("{} packages, over the limit of {MAX_LOCKED_PACKAGES}", locked.packages.len())));
    }
    Ok(locked)
}

fn lockfile_error(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::usage(Code::PackageLockfile, format!("{}: {why}", path.display()))
}

fn npm_lockfile(path: &Path, text: &str) -> Result<Locked> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| lockfile_error(path, format!("not JSON: {e}")))?;
    let version = doc.get("lockfileVersion").and_then(serde_json::Value::as_u64);
    if !matches!(version, Some(2 | 3)) {
        return Err(lockfile_error(
            path,
            format!(
                "lockfileVersion {} is not read: vouch reads npm 7+ lockfiles (lockfileVersion 2 or 3); run `npm install --package-lock-only` with npm 7 or later",
                version.map_or("(none)".to_string(), |v| v.to_string())
            ),
        ));
    }
    let packages = doc
        .get("packages")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| lockfile_error(path, "no `packages` object (lockfileVersion 2/3 lists every package there)"))?;
    let mut out = Locked::default();
    let mut seen = std::collections::HashSet::new();
    for (key, entry) in packages {
        if key.is_empty() {
            continue; // the project itself
        }
        let field = |k: &str| entry.get(k).and_then(serde_json::Value::as_str);
        let installed_at = key.rsplit_once("node_modules/").map(|(_, n)| n);
        let resolved = field("resolved").unwrap_or_default();
        if entry.get("link").and_then(serde_json::Value::as_bool) == Some(true) {
            // A link to a folder of the project (a workspace) is the project's own code; a
            // link into node_modules or outside the project could be anything.
            let inside = !resolved.is_empty()
                && !resolved.contains("node_modules")
                && !resolved.starts_with('/')
                && !resolved.contains(':')
                && !resolved.split(['/', '\\']).any(|s| s == "..");
            if inside {
                out.notes.push(format!("{}: {key} is a link to the project's folder {resolved}, not a registry package", path.display()));
            } else {
                let name = installed_at.unwrap_or(key).to_string();
                out.unjudgeable.push(Unjudgeable {
                    id: format!("npm:{name}"),
                    names: vec![name],
                    message: format!(
                        "{key} in {} is a link to {resolved:?}, which is not a folder of the project: nothing signs it",
                        path.display()
                    ),
                });
            }
            continue;
        }
        // A folder of the project (workspace member): no version from a registry.
        let Some(installed_at) = installed_at else {
            out.notes.push(format!("{}: {key} is a workspace folder, not a registry package", path.display()));
            continue;
        };
        if !npm_name_ok(installed_at) {
            return Err(lockfile_error(path, format!("packages[{key:?}]: {installed_at:?} is not an npm package name")));
        }
        // A bundled dependency comes inside its parent's tarball, which the parent's
        // integrity covers: only when a parent package (not the project) says it bundles
        // it. npm decides that from the parent, not from the entry's own `inBundle`.
        let parent = key.rsplit_once("/node_modules/").map(|(p, _)| p).filter(|p| p.starts_with("node_modules/"));
        let bundled_by_parent = parent.and_then(|p| packages.get(p)).is_some_and(|p| {
            match p.get("bundleDependencies").or_else(|| p.get("bundledDependencies")) {
                Some(serde_json::Value::Bool(all)) => *all,
                Some(serde_json::Value::Array(names)) => names.iter().any(|n| n.as_str() == Some(installed_at)),
                _ => false,
            }
        });
        if entry.get("inBundle").and_then(serde_json::Value::as_bool) == Some(true) && bundled_by_parent {
            out.notes.push(format!("{}: {key} is bundled in its parent's tarball (judged with it)", path.display()));
            continue;
        }
        // Aliases (`"x": "npm:real@1"`) record the real name.
        let name = field("name").unwrap_or(installed_at);
        let names = if name == installed_at { vec![name.to_string()] } else { vec![name.to_string(), installed_at.to_string()] };
        let unjudgeable = |id: String, message: String| Unjudgeable { id, names: names.clone(), message };
        let (Some(version), Some(integrity)) = (field("version"), field("integrity")) else {
            out.unjudgeable.push(unjudgeable(
                format!("npm:{name}"),
                format!(
                    "{key} in {} has no version and integrity from a registry ({})",
                    path.display(),
                    if resolved.is_empty() { "no resolved URL" } else { resolved }
                ),
            ));
            continue;
        };
        // A registry's tarball is `…/NAME/-/FILE`; anything else (git, file:, a tarball URL)
        // is code no registry signs.
        let from_registry = resolved.is_empty()
            || ((resolved.starts_with("https://") || resolved.starts_with("http://")) && resolved.contains(&format!("/{name}/-/")));
        if !from_registry {
            out.unjudgeable.push(unjudgeable(
                format!("npm:{name}@{version}"),
                format!("{key} in {} is not from a registry ({resolved}): nothing signs it", path.display()),
            ));
            continue;
        }
        let spec =
            PackageSpec::parse(&format!("npm:{name}@{version}")).map_err(|e| lockfile_error(path, format!("packages[{key:?}]: {e}")))?;
        if !sri_ok(integrity) {
            return Err(lockfile_error(
                path,
                format!("packages[{key:?}].integrity {integrity:?} is not Subresource Integrity (sha512-BASE64): npm would install it unchecked"),
            ));
        }
        let installed_as = (name != installed_at).then(|| installed_at.to_string());
        if seen.insert((spec.name.clone(), spec.version.clone(), integrity.to_string(), installed_as.clone())) {
            out.packages.push(PackageSpec { locked: Some(integrity.to_string()), installed_as, ..spec });
        }
    }
    Ok(out)
}

/// pip's requirements format, as `pip install --require-hashes` reads it: every
/// requirement `NAME==VERSION` with at least one `--hash=sha256:HEX`; `-r FILE` includes
/// (relative to the file, at most 8 deep); options vouch does not act on are refused
/// rather than ignored when they would change what is installed.
fn requirements(path: &Path, text: &str, depth: usize) -> Result<Locked> {
    let mut visited = std::collections::HashSet::new();
    if let Ok(canonical) = path.canonicalize() {
        visited.insert(canonical);
    }
    requirements_in(path, text, depth, &mut visited)
}

/// Files one requirements file may include, all together.
const MAX_INCLUDES: usize = 256;

fn requirements_in(path: &Path, text: &str, depth: usize, visited: &mut std::collections::HashSet<PathBuf>) -> Result<Locked> {
    let mut out = Locked::default();
    // Continuation lines join first; comments end at ` #`.
    let mut logical = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        let line = match raw.find(" #") {
            Some(at) => raw.get(..at).unwrap_or_default(),
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(cont) => {
                current.push_str(cont);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                logical.push((start, std::mem::take(&mut current)));
            }
        }
    }
    if !current.trim().is_empty() {
        logical.push((start, current));
    }
    for (line_no, line) in logical {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = |why: String| lockfile_error(path, format!("line {line_no}: {why}"));
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if first == "-r" || first == "--requirement" || first.starts_with("--requirement=") {
            let include = first.strip_prefix("--requirement=").map(str::to_string).or_else(|| words.next().map(str::to_string));
            let include = include.ok_or_else(|| at("-r needs a file".into()))?;
            if depth >= 8 {
                return Err(at("-r includes nest more than 8 deep".into()));
            }
            let included = path.parent().unwrap_or(Path::new(".")).join(include);
            // Each file once: a file included twice (or in a loop) adds nothing.
            let canonical = included.canonicalize().map_err(|source| Error::Io { path: included.clone(), what: "lockfile", source })?;
            if !visited.insert(canonical) {
                continue;
            }
            if visited.len() > MAX_INCLUDES {
                return Err(at(format!("more than {MAX_INCLUDES} files included with -r")));
            }
            let bytes = crate::trust::read_limited(&included, "lockfile", MAX_LOCKFILE_BYTES)?;
            let text = String::from_utf8(bytes).map_err(|_| lockfile_error(&included, "not UTF-8 text"))?;
            let inner = requirements_in(&included, &text, depth + 1, visited)?;
            out.packages.extend(inner.packages);
            out.notes.extend(inner.notes);
            continue;
        }
        if first.starts_with('-') {
            // Index options decide where pip looks, not what it accepts: the hashes do.
            if [
                "--index-url",
                "-i",
                "--extra-index-url",
                "--find-links",
                "-f",
                "--no-index",
                "--prefer-binary",
                "--require-hashes",
                "--only-binary",
                "--no-binary",
                "--pre",
                "--trusted-host",
            ]
            .iter()
            .any(|o| first == *o || first.starts_with(&format!("{o}=")))
            {
                out.notes.push(format!("{}: line {line_no}: `{first}` is pip's; vouch asks its own index (--pypi-index)", path.display()));
                continue;
            }
            return Err(at(format!("`{first}` is not read (constraints, editables and other options are not pinned packages)")));
        }
        let mut hashes = Vec::new();
        let mut requirement = String::new();
        for word in line.split_whitespace() {
            if let Some(h) = word.strip_prefix("--hash=").or_else(|| word.strip_prefix("--hash:")) {
                hashes.push(h.to_string());
            } else if word == "--hash" {
                return Err(at("write --hash=sha256:HEX".into()));
            } else if word.starts_with("--") {
                return Err(at(format!("per-requirement option `{word}` is not read")));
            } else {
                requirement.push_str(word);
            }
        }
        // Environment markers (`; python_version < "3.11"`) do not change the file:
        // every pinned hash is judged, whichever platform installs it.
        let requirement = requirement.split(';').next().unwrap_or_default();
        let (name, version) = requirement.split_once("==").ok_or_else(|| {
            at(format!("{requirement:?} is not pinned: write NAME==VERSION --hash=sha256:HEX (pip-compile --generate-hashes, uv pip compile --generate-hashes)"))
        })?;
        if version.starts_with('=') {
            return Err(at(format!("{requirement:?}: === is not read; pin with ==")));
        }
        // Extras (`name[extra]`) install the same files.
        let name = name.split('[').next().unwrap_or_default().trim();
        if !pypi_name_ok(name) || !version_ok(version.trim()) {
            return Err(at(format!("{requirement:?} is not NAME==VERSION")));
        }
        if hashes.is_empty() {
            return Err(at(format!("{requirement} has no --hash: a requirement without a hash is not locked")));
        }
        for h in hashes {
            let hex = h.strip_prefix("sha256:").ok_or_else(|| at(format!("--hash={h}: vouch checks sha256 hashes (PyPI's digests)")))?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(at(format!("--hash={h} is not sha256:<64 hex digits>")));
            }
            out.packages.push(PackageSpec {
                ecosystem: Ecosystem::Pypi,
                name: normalize_pypi(name),
                version: version.trim().to_string(),
                file: None,
                locked: Some(hex.to_ascii_lowercase()),
                installed_as: None,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.packages.retain(|p| seen.insert(p.id()));
    Ok(out)
}

/// Where packages are fetched from, and the tokens for each registry.
#[derive(Debug, Clone)]
pub struct Registries {
    /// npm's default registry (`registry=`), e.g. https://registry.npmjs.org.
    pub npm: String,
    /// `@scope:registry=URL`.
    pub npm_scopes: Vec<(String, String)>,
    /// `//HOST/PATH/:_authToken=TOKEN`: (prefix `HOST/PATH/`, token).
    pub npm_tokens: Vec<(String, String)>,
    /// Registry keys pinned by a file (`--npm-keys`): never fetched then.
    pub npm_keys: Option<Vec<crate::evidence::packages::RegistryKey>>,
    /// The PyPI index (its JSON and Integrity APIs), e.g. https://pypi.org.
    pub pypi: String,
}

impl Default for Registries {
    fn default() -> Self {
        Registries {
            npm: "https://registry.npmjs.org".into(),
            npm_scopes: Vec::new(),
            npm_tokens: Vec::new(),
            npm_keys: None,
            pypi: "https://pypi.org".into(),
        }
    }
}

/// A registry URL: https, or http on loopback; no credentials, query or fragment.
pub fn registry_url(what: &str, url: &str) -> Result<String> {
    let bad = |why: &str| Error::usage(Code::UsagePackage, format!("{what} {url:?}: {why}"));
    let (scheme, rest) = url.trim().split_once("://").ok_or_else(|| bad("not a URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || rest.contains(['?', '#', ' ', '%', '\\']) {
        return Err(bad("write https://HOST[/PATH] (credentials go in .npmrc's _authToken)"));
    }
    // The path a token is scoped to must be the path requested: no dot segments.
    if rest.split('/').any(|s| s == "." || s == "..") {
        return Err(bad("the URL has . or .. segments"));
    }
    match scheme {
        "https" => {}
        "http" if crate::evidence::api::loopback(host) => {}
        "http" => return Err(bad("plain http is allowed on loopback only: use https://")),
        _ => return Err(bad("use an https:// URL")),
    }
    Ok(format!("{scheme}://{}", rest.trim_end_matches('/')))
}

impl Registries {
    /// The registry an npm package is fetched from: its scope's, else the default.
    pub fn npm_for(&self, spec: &PackageSpec) -> &str {
        spec.scope().and_then(|s| self.npm_scopes.iter().find(|(scope, _)| scope == s)).map_or(self.npm.as_str(), |(_, url)| url.as_str())
    }

    /// The token for a URL, by npm's rule: the longest `//HOST/PATH/` prefix of the URL
    /// (without its scheme) that has one. Never sent anywhere else.
    pub fn npm_token_for(&self, url: &str) -> Option<&str> {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        self.npm_tokens
            .iter()
            .filter(|(prefix, _)| rest.starts_with(prefix.as_str()) || format!("{rest}/") == *prefix)
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, t)| t.as_str())
    }

    /// Read an `.npmrc`: `registry=`, `@scope:registry=`, `//HOST/PATH/:_authToken=`,
    /// with `${VAR}` from the environment (an unset variable is an error, as in npm).
    /// Other keys are npm's own and do not change what vouch asks.
    pub fn read_npmrc(&mut self, path: &Path) -> Result<()> {
        let bytes = crate::trust::read_limited(path, "npmrc", 1 << 20)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::usage(Code::UsagePackage, format!("{}: not UTF-8 text", path.display())))?;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let at = |why: String| Error::usage(Code::UsagePackage, format!("{}: line {}: {why}", path.display(), i + 1));
            let (key, raw) = line.split_once('=').ok_or_else(|| at("not KEY=VALUE".into()))?;
            let (key, raw) = (key.trim(), raw.trim());
            if key.contains("${") {
                return Err(at(format!("{key}: vouch expands ${{VAR}} in values only")));
            }
            let value = expand_env(raw).map_err(at)?;
            let value = value.trim_matches('"').to_string();
            // Errors quote the value as written, never what a variable put in it.
            let url_of = |what: &str| {
                registry_url(what, &value).map_err(|_| {
                    at(format!("{what}={raw}: write https://HOST[/PATH] (http on loopback only; no credentials, %, . or .. segments)"))
                })
            };
            if key == "registry" {
                self.npm = url_of("registry")?;
            } else if let Some(scope) = key.strip_suffix(":registry") {
                if !scope.starts_with('@') || scope.len() < 2 {
                    return Err(at(format!("{key}: a scope starts with @")));
                }
                let url = url_of(key)?;
                self.npm_scopes.retain(|(s, _)| s != scope);
                self.npm_scopes.push((scope.to_string(), url));
            } else if let Some(prefix) = key.strip_prefix("//").and_then(|k| k.strip_suffix(":_authToken")) {
                if value.is_empty() {
                    return Err(at(format!("{key} is empty")));
                }
                let prefix = if prefix.ends_with('/') { prefix.to_string() } else { format!("{prefix}/") };
                self.npm_tokens.push((prefix, value));
            } else if key.starts_with("//") && (key.ends_with(":_auth") || key.ends_with(":_password") || key.ends_with(":username")) {
                return Err(at(format!("{key}: vouch sends bearer tokens only (//HOST/PATH/:_authToken=…)")));
            }
        }
        Ok(())
    }

    /// The plan's setup records where packages came from (not the tokens).
    pub fn describe(&self) -> String {
        let keys = self.npm_keys.as_ref().map(|k| k.iter().map(|k| k.keyid.clone()).collect::<Vec<_>>());
        format!("npm {} scopes {:?} keys {keys:?} pypi {}", self.npm, self.npm_scopes, self.pypi)
    }
}

/// `${VAR}` → the variable's value; unset is an error.
fn expand_env(value: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in {value:?}"))?;
        let name = after.get(..end).unwrap_or_default();
        let v = std::env::var(name).map_err(|_| format!("${{{name}}} is not set"))?;
        out.push_str(&v);
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// The manifest's and flags' package settings, resolved against the manifest's folder.
#[derive(Debug, Clone, Default)]
pub struct RegistryFlags {
    pub npm_registry: Option<String>,
    pub npmrc: Option<PathBuf>,
    pub npm_keys: Option<PathBuf>,
    pub pypi_index: Option<String>,
}

impl RegistryFlags {
    /// Flags over the manifest's settings: the `.npmrc` first, then explicit registries.
    pub fn resolve(flags: &RegistryFlags, manifest: Option<&RegistryFlags>) -> Result<Registries> {
        let mut r = Registries::default();
        let pick = |f: &Option<PathBuf>, m: Option<&Option<PathBuf>>| f.clone().or_else(|| m.cloned().flatten());
        if let Some(npmrc) = pick(&flags.npmrc, manifest.map(|m| &m.npmrc)) {
            r.read_npmrc(&npmrc)?;
        }
        if let Some(url) = flags.npm_registry.as_ref().or(manifest.and_then(|m| m.npm_registry.as_ref())) {
            r.npm = registry_url("--npm-registry", url)?;
        }
        if let Some(url) = flags.pypi_index.as_ref().or(manifest.and_then(|m| m.pypi_index.as_ref())) {
            r.pypi = registry_url("--pypi-index", url)?;
        }
        if let Some(keys) = pick(&flags.npm_keys, manifest.map(|m| &m.npm_keys)) {
            let bytes = crate::trust::read_limited(&keys, "npm keys", 1 << 20)?;
            let parsed = crate::evidence::packages::parse_keys(&bytes)
                .map_err(|e| Error::usage(Code::UsagePackage, format!("{}: {e}", keys.display())))?;
            r.npm_keys = Some(parsed);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_refuse() {
        let p = PackageSpec::parse("npm:@acme/app@1.2.3").unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str(), p.scope()), ("@acme/app", "1.2.3", Some("@acme")));
        assert_eq!(p.id(), "npm:@acme/app@1.2.3");
        assert_eq!(PackageSpec::parse("npm:sigstore@3.1.0").unwrap().scope(), None);
        let q = PackageSpec::parse("pypi:Pypi_Attestations==0.0.19/pypi_attestations-0.0.19.tar.gz").unwrap();
        assert_eq!(q.name, "pypi-attestations");
        assert_eq!(q.id(), "pypi:pypi-attestations==0.0.19/pypi_attestations-0.0.19.tar.gz");
        for bad in [
            "npm:app",
            "npm:@acme/app",
            "npm:app@^1.2.3",
            "npm:app@latest/x",
            "npm:@acme@1",
            "npm:a/b@1",
            "npm:../x@1",
            "pypi:x==1",
            "pypi:x>=1/x.whl",
            "pypi:x==1/../../etc",
            "cargo:x@1",
            "npm:@acme/app@",
        ] {
            assert_eq!(PackageSpec::parse(bad).unwrap_err().code(), Code::UsagePackage, "{bad}");
        }
    }

    #[test]
    fn requirements_need_pins_and_hashes() {
        let dir = std::env::temp_dir().join(format!("vouch-req-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let h = "a".repeat(64);
        let ok = format!("# comment\nrequests[socks]==2.32.3 \\\n    --hash=sha256:{h} \\\n    --hash=sha256:{}  # two files\nidna==3.7 ; python_version >= \"3.8\" --hash=sha256:{h}\n--index-url https://pypi.org/simple\n", "b".repeat(64));
        let p = dir.join("requirements.txt");
        std::fs::write(&p, ok).unwrap();
        let l = read_lockfile(&p).unwrap();
        let ids: Vec<String> = l.packages.iter().map(PackageSpec::id).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(ids[0].starts_with("pypi:requests==2.32.3#sha256:aaaa"));
        for bad in
            ["requests>=2", "requests==2.32.3", "requests==2.32.3 --hash=md5:abc", "-e .", "-c constraints.txt", "x==1 --hash=sha256:abc"]
        {
            std::fs::write(&p, bad).unwrap();
            assert_eq!(read_lockfile(&p).unwrap_err().code(), Code::PackageLockfile, "{bad}");
        }
    }

    #[test]
    fn npm_lockfiles() {
        use base64::Engine as _;
        let dir = std::env::temp_dir().join(format!("vouch-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("package-lock.json");
        let sri = |b: u8| format!("sha512-{}", base64::engine::general_purpose::STANDARD.encode([b; 64]));
        let lock = serde_json::json!({"name": "app", "lockfileVersion": 3, "packages": {
            "": {"name": "app"},
            "node_modules/a": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz", "integrity": sri(1)},
            "node_modules/b/node_modules/a": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz", "integrity": sri(1)},
            "node_modules/@s/c": {"version": "2.0.0", "integrity": sri(2)},
            "node_modules/alias": {"name": "real", "version": "3.0.0", "integrity": sri(3)},
            "node_modules/g": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/x/g.git#abc", "integrity": sri(4)},
            "node_modules/@s/nointegrity": {"version": "1.0.0", "resolved": "https://example.com/x.tgz"},
            "node_modules/x": {"version": "1.0.0", "integrity": sri(5), "bundleDependencies": ["bundled"]},
            "node_modules/x/node_modules/bundled": {"version": "1.0.0", "inBundle": true},
            "node_modules/top": {"version": "1.0.0", "inBundle": true},
            "packages/w": {"name": "w", "version": "0.0.0"},
            "node_modules/w": {"resolved": "packages/w", "link": true},
            "node_modules/sneaky": {"resolved": "node_modules/other", "link": true}
        }});
        std::fs::write(&p, lock.to_string()).unwrap();
        let l = read_lockfile(&p).unwrap();
        let ids: Vec<String> = l.packages.iter().map(PackageSpec::id).collect();
        assert_eq!(ids, ["npm:@s/c@2.0.0", "npm:a@1.0.0", "npm:real@3.0.0", "npm:x@1.0.0"]);
        assert_eq!(l.packages[2].installed_as.as_deref(), Some("alias"));
        let unjudged: Vec<&str> = l.unjudgeable.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(
            unjudged,
            ["npm:@s/nointegrity", "npm:g@1.0.0", "npm:sneaky", "npm:top"],
            "a top-level inBundle is not bundled by anyone"
        );
        assert_eq!(l.unjudgeable[0].names, ["@s/nointegrity"]);
        assert_eq!(l.notes.len(), 3, "{:?}", l.notes);
        // An integrity that is not one is refused, not taken as agreeing.
        for bad in ["", " ", "sha512-AAAA", "md5-AAAA", "sha512"] {
            let lock = serde_json::json!({"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1.0.0", "integrity": bad}}});
            std::fs::write(&p, lock.to_string()).unwrap();
            assert_eq!(read_lockfile(&p).unwrap_err().code(), Code::PackageLockfile, "{bad:?}");
        }
        std::fs::write(&p, r#"{"lockfileVersion": 1, "dependencies": {}}"#).unwrap();
        assert_eq!(read_lockfile(&p).unwrap_err().code(), Code::PackageLockfile);
    }

    #[test]
    fn npmrc_scopes_and_tokens() {
        let dir = std::env::temp_dir().join(format!("vouch-npmrc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(".npmrc");
        std::env::set_var("VOUCH_TEST_NPM_TOKEN", "s3cret");
        std::fs::write(
            &p,
            "registry=https://registry.npmjs.org/\n@acme:registry=https://gitlab.example.com/api/v4/packages/npm/\n//gitlab.example.com/api/v4/packages/npm/:_authToken=${VOUCH_TEST_NPM_TOKEN}\nstrict-ssl=true\n",
        )
        .unwrap();
        let mut r = Registries::default();
        r.read_npmrc(&p).unwrap();
        let acme = PackageSpec::parse("npm:@acme/app@1.0.0").unwrap();
        assert_eq!(r.npm_for(&acme), "https://gitlab.example.com/api/v4/packages/npm");
        assert_eq!(r.npm_token_for("https://gitlab.example.com/api/v4/packages/npm/@acme%2fapp"), Some("s3cret"));
        assert_eq!(r.npm_token_for("https://gitlab.example.com/other"), None);
        assert_eq!(r.npm_token_for("https://registry.npmjs.org/x"), None);
        assert_eq!(r.npm_token_for("https://gitlab.example.com.evil/api/v4/packages/npm/x"), None);
        std::fs::write(&p, "//x/:_authToken=${VOUCH_TEST_UNSET_VARIABLE}\n").unwrap();
        assert_eq!(Registries::default().read_npmrc(&p).unwrap_err().code(), Code::UsagePackage);
        std::fs::write(&p, "registry=http://registry.example.com/\n").unwrap();
        assert_eq!(Registries::default().read_npmrc(&p).unwrap_err().code(), Code::UsagePackage);
    }
}
