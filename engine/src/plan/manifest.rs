//! The `vouch check` manifest (YAML, docs/manifest.schema.json): what to judge and how.
//! Unknown keys and wrong types are errors with line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::verify::identity::IdentityRequirement;

/// A manifest is a page of YAML; anything this large is a mistake.
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub trusted_root: Option<PathBuf>,
    /// A private Sigstore's TUF mirror and its pinned first root (instead of `trusted_root`).
    pub tuf: Option<TufSpec>,
    #[serde(default)]
    pub policy: Vec<PathBuf>,
    #[serde(default)]
    pub identities: Vec<IdentitySpec>,
    pub subjects: Vec<SubjectSpec>,
    /// CI platforms beyond gitlab.com and github.com (self-managed GitLab, GHE.com, GHES).
    #[serde(default)]
    pub platforms: PlatformsSpec,
    /// Attestation APIs every subject's attestations are fetched from by digest
    /// (`gitlab:…`, `github:…`), unless the subject names its own.
    #[serde(default)]
    pub attestations: Vec<String>,
    /// GitLab `local_ca` project CAs the run trusts: `sha256:HEX` pins, or PEM files
    /// relative to the manifest.
    #[serde(default)]
    pub local_ca: Vec<String>,
    /// Where package subjects are fetched from (docs/packages.md).
    pub registries: Option<RegistriesSpec>,
    /// Waiver files, relative to the manifest (docs/reviews.md#waivers).
    #[serde(default)]
    pub waivers: Vec<PathBuf>,
    /// The file and its text, for pointing at lines in errors.
    #[serde(skip)]
    pub source: Option<(PathBuf, String)>,
}

/// `tuf: {mirror, root, root_checksum}`: at least one of the pins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TufSpec {
    pub mirror: String,
    /// The mirror's first root, relative to the manifest.
    pub root: Option<PathBuf>,
    /// Its SHA-256 (of `root`, or else of the mirror's `1.root.json`).
    pub root_checksum: Option<String>,
}

/// `registries: {npm, npmrc, npm_keys, pypi}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesSpec {
    /// npm's default registry URL.
    pub npm: Option<String>,
    /// An `.npmrc` (relative to the manifest): registry, scopes, tokens.
    pub npmrc: Option<PathBuf>,
    /// The npm registry's keys pinned (the `/-/npm/v1/keys` JSON), relative to the manifest.
    pub npm_keys: Option<PathBuf>,
    /// The PyPI index URL.
    pub pypi: Option<String>,
}

impl RegistriesSpec {
    pub fn flags(&self, base: &Path) -> super::packages::RegistryFlags {
        super::packages::RegistryFlags {
            npm_registry: self.npm.clone(),
            npmrc: self.npmrc.as_ref().map(|p| base.join(p)),
            npm_keys: self.npm_keys.as_ref().map(|p| base.join(p)),
            pypi_index: self.pypi.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformsSpec {
    /// GitLab instance URLs (also their OIDC issuers), e.g. https://gitlab.example.com.
    #[serde(default)]
    pub gitlab: Vec<String>,
    /// GitHub hosts: a GHE.com tenant (acme.ghe.com) or a GitHub Enterprise Server host.
    #[serde(default)]
    pub github: Vec<String>,
}

/// One acceptable signer. `subject`/`subject_regexp` and `issuer`/`issuer_regexp` as in
/// cosign's `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    pub issuer: Option<String>,
    pub issuer_regexp: Option<String>,
    pub subject: Option<String>,
    pub subject_regexp: Option<String>,
}

impl IdentitySpec {
    pub fn requirement(&self) -> Result<IdentityRequirement> {
        IdentityRequirement::from_flags(
            self.subject.as_deref(),
            self.subject_regexp.as_deref(),
            self.issuer.as_deref(),
            self.issuer_regexp.as_deref(),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectSpec {
    /// A file glob (relative to the manifest).
    pub blob: Option<String>,
    /// An image reference.
    pub image: Option<String>,
    /// A bare digest (`sha256:`, `sha384:` or `sha512:`), with `bundle`.
    pub digest: Option<String>,
    /// A package in its registry: `npm:NAME@VERSION`, `pypi:PROJECT==VERSION/FILE`.
    pub package: Option<String>,
    /// A lockfile (relative to the manifest): every package locked in it.
    pub lockfile: Option<String>,
    /// A lockfile's packages to judge, by name (globs, e.g. "@acme/*"); default all.
    pub only: Option<Vec<String>>,
    /// A digest subject's name in reports and in the policy input.
    pub name: Option<String>,
    /// The bundle: a path, or a template with `{path}` (the matched file) — default
    /// `{path}.sigstore.json` for blobs.
    pub bundle: Option<String>,
    /// For images in an index: judge this platform's manifest.
    pub platform: Option<String>,
    /// Replace the manifest's identities for this subject.
    pub identities: Option<Vec<IdentitySpec>>,
    /// Replace the manifest's attestation sources for this subject (`[]`: none).
    pub attestations: Option<Vec<String>>,
    /// Policy data merged over the policy's data for this subject (e.g. a per-subject
    /// `config.gitlab.refs`).
    pub data: Option<serde_json::Value>,
}

/// A manifest error with where it is.
fn located(path: &Path, text: &str, e: &yaml_serde::Error) -> Error {
    // The location, or the "at line L column C" the message ends with.
    let text_of = e.to_string();
    let after = |key: &str| {
        text_of.rsplit(key).next().and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()).and_then(|n| n.parse::<u32>().ok())
    };
    let (line, col) = match e.location() {
        Some(l) => (Some(l.line() as u32), Some(l.column() as u32)),
        None if text_of.contains(" at line ") => (after(" at line "), after(" column ")),
        None => (None, None),
    };
    Error::Manifest(crate::policy::PolicyError {
        kind: crate::policy::PolicyErrorKind::Data,
        message: format!("{}: {e}", path.display()),
        path: Some(path.to_path_buf()),
        line,
        col,
        source_text: Some(text.to_string()),
    })
}

fn invalid(path: &Path, message: String) -> Error {
    Error::Manifest(crate::policy::PolicyError {
        kind: crate::policy::PolicyErrorKind::Data,
        message: format!("{}: {message}", path.display()),
        path: Some(path.to_path_buf()),
        line: None,
        col: None,
        source_text: None,
    })
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::trust::read_limited(path, "manifest", MAX_MANIFEST_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid(path, "not UTF-8 text".into()))?;
        Self::from_str(&text, path)
    }

    /// Parse a manifest's text; `path` names it in errors.
    pub fn from_str(text: &str, path: &Path) -> Result<Self> {
        let mut manifest: Manifest = yaml_serde::from_str(text).map_err(|e| located(path, text, &e))?;
        manifest.source = Some((path.to_path_buf(), text.to_string()));
        if manifest.version != 1 {
            return Err(invalid(path, format!("version {} is not supported (this vouch reads version 1)", manifest.version)));
        }
        for (i, s) in manifest.subjects.iter().enumerate() {
            let kinds = [s.blob.is_some(), s.image.is_some(), s.digest.is_some(), s.package.is_some(), s.lockfile.is_some()]
                .iter()
                .filter(|k| **k)
                .count();
            if kinds != 1 {
                return Err(invalid(path, format!("subjects[{i}] needs exactly one of blob, image, digest, package, lockfile")));
            }
            let package = s.package.is_some() || s.lockfile.is_some();
            if package && (s.bundle.is_some() || s.attestations.is_some() || s.platform.is_some()) {
                return Err(invalid(
                    path,
                    format!("subjects[{i}]: a package's evidence comes from its registry; remove bundle, attestations and platform"),
                ));
            }
            if s.only.is_some() && s.lockfile.is_none() {
                return Err(invalid(path, format!("subjects[{i}]: `only` selects a lockfile's packages; it needs `lockfile`")));
            }
            if s.only.as_ref().is_some_and(Vec::is_empty) {
                return Err(invalid(path, format!("subjects[{i}].only is empty: it would select no package")));
            }
            if s.name.is_some() && s.digest.is_none() {
                return Err(invalid(
                    path,
                    format!("subjects[{i}]: only a digest subject takes a name (a blob or image is named by itself)"),
                ));
            }
            if s.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(invalid(path, format!("subjects[{i}].name is empty")));
            }
            let sources = s.attestations.as_ref().unwrap_or(&manifest.attestations);
            if s.digest.is_some() && s.bundle.is_none() && sources.is_empty() {
                return Err(invalid(path, format!("subjects[{i}]: a digest subject needs a bundle, or attestations to fetch")));
            }
            if s.image.is_some() && s.bundle.is_some() {
                return Err(invalid(path, format!("subjects[{i}]: an image's signatures are found in its registry; remove bundle")));
            }
            if s.data.as_ref().is_some_and(|d| !d.is_object()) {
                return Err(invalid(path, format!("subjects[{i}].data must be a mapping")));
            }
        }
        if manifest.subjects.is_empty() {
            return Err(invalid(path, "subjects is empty: a gate that judges nothing cannot pass".into()));
        }
        Ok(manifest)
    }
}
