//! Certificate → claims document: the typed view of a verified signature that reports
//! and policies read (docs/claims.md). Policies never parse certificates.
//!
//! Fulcio writes the CI identity twice: the SAN (for GitLab `INSTANCE/PROJECT//CONFIG@REF`,
//! from the token's `ci_config_ref_uri`) and the source-repository extensions .12–.17
//! (from `project_path`, `project_id`, `namespace_*`). They need not name the same
//! project — a merge-request pipeline from a fork runs the target's config for the
//! fork's code — so both are exposed, separately.

pub mod provenance;

use std::collections::BTreeMap;

use der::Decode;
use serde::Serialize;
use sigstore_types::TransparencyLogEntry;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

use crate::error::{Error, Result};
pub use provenance::Provenance;

use der::asn1::ObjectIdentifier;

const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1.";
const FULCIO_ARC_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");
const SAN_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const FULCIO_OTHERNAME_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// The last arc of an OID directly under 1.3.6.1.4.1.57264.1, read from its DER bytes
/// (formatting every OID as text cost a quarter of building the claims).
fn fulcio_arc(oid: &ObjectIdentifier) -> Option<u32> {
    let rest = oid.as_bytes().strip_prefix(FULCIO_ARC_OID.as_bytes())?;
    let (last, init) = rest.split_last()?;
    if last & 0x80 != 0 || init.len() > 3 || init.iter().any(|b| b & 0x80 == 0) || init.first() == Some(&0x80) {
        return None;
    }
    Some(rest.iter().fold(0u32, |n, b| (n << 7) | u32::from(b & 0x7f)))
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Identity {
    /// `uri`, `email` or `other_name`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct GitLabClaims {
    pub instance: String,
    /// Source project (extension .12, falling back to the SAN).
    pub project_path: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub ref_type: String,
    pub ref_name: String,
    /// The project whose CI configuration ran (from the SAN).
    pub ci_config_project_path: String,
    pub ci_config_path: String,
    pub ci_config_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct GitHubClaims {
    /// The GitHub host of the issuer: github.com, a GHE.com tenant or a GHES host.
    pub host: String,
    /// Source repository (extension .12, falling back to the SAN).
    pub repository: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub ref_type: String,
    pub ref_name: String,
    /// The repository, path and ref of the workflow that ran (from the SAN); they
    /// differ from the source for reusable workflows.
    pub workflow_repository: String,
    pub workflow_path: String,
    pub workflow_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CertificateFacts {
    pub not_before: String,
    pub not_after: String,
    pub serial: String,
    pub fingerprint_sha256: String,
}

/// Facts of one log entry, each bound to something signed (SET, checkpoint or proof).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TlogFacts {
    /// The entry's index in the log. Rekor v1: present only when a verified SET covers
    /// it (the inclusion proof proves a shard-local index, below). Rekor v2: the
    /// proven index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    pub log_id: String,
    /// Present only when a verified SET covers it (Rekor v1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<String>,
    pub kind: String,
    pub version: String,
    /// The verified inclusion proof: index in the (shard's) tree, and the tree size and
    /// root hash of the signed checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<InclusionFacts>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InclusionFacts {
    pub tree_index: u64,
    pub tree_size: u64,
    pub root_hash: String,
    pub checkpoint_origin: String,
}

impl TlogFacts {
    /// Call only on entries that verified: the SET covers index and integrated time,
    /// the checkpoint covers tree size and root (checked in verify::checks).
    pub fn from_entry(entry: &TransparencyLogEntry) -> Self {
        let rekor_v2 = entry.kind_version == sigstore_types::KindVersion::HashedRekordV002;
        let has_set = entry.inclusion_promise.is_some();
        let inclusion = entry.inclusion_proof.as_ref().and_then(|proof| {
            let checkpoint = proof.checkpoint.checkpoint()?;
            Some(InclusionFacts {
                tree_index: if rekor_v2 { entry.log_index.get() } else { proof.log_index.get() },
                tree_size: checkpoint.tree_size(),
                root_hash: checkpoint.root_hash().to_hex(),
                checkpoint_origin: checkpoint.origin().to_string(),
            })
        });
        Self {
            log_index: (has_set || (rekor_v2 && inclusion.is_some())).then(|| entry.log_index.get()),
            log_id: hex::encode(entry.log_id.key_id.as_bytes()),
            integrated_time: if has_set && !rekor_v2 { entry.integrated_time.map(rfc3339) } else { None },
            kind: entry.kind_version.kind().to_string(),
            version: entry.kind_version.version().to_string(),
            inclusion,
        }
    }
}

/// The claims document of one verified signature.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<GitLabClaims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GitHubClaims>,
    #[serde(flatten)]
    pub named: NamedExtensions,
    /// Every 1.3.6.1.4.1.57264.1.* extension, decoded to text.
    pub extensions: BTreeMap<String, String>,
    pub certificate: CertificateFacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlog: Option<TlogFacts>,
}

/// The Fulcio extensions by name (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NamedExtensions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_signer_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_signer_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_owner_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_owner_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_config_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_config_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_trigger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_invocation_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository_visibility_at_signing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_environment: Option<String>,
}

impl NamedExtensions {
    fn slot(&mut self, arc: u32) -> Option<&mut Option<String>> {
        Some(match arc {
            9 => &mut self.build_signer_uri,
            10 => &mut self.build_signer_digest,
            11 => &mut self.runner_environment,
            12 => &mut self.source_repository_uri,
            13 => &mut self.source_repository_digest,
            14 => &mut self.source_repository_ref,
            15 => &mut self.source_repository_identifier,
            16 => &mut self.source_repository_owner_uri,
            17 => &mut self.source_repository_owner_identifier,
            18 => &mut self.build_config_uri,
            19 => &mut self.build_config_digest,
            20 => &mut self.build_trigger,
            21 => &mut self.run_invocation_uri,
            22 => &mut self.source_repository_visibility_at_signing,
            23 => &mut self.deployment_environment,
            _ => return None,
        })
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sigstore_verify::crypto::sha256(bytes).to_hex()
}

/// RFC 3339 in UTC, seconds precision.
pub fn rfc3339_of(t: jiff::Timestamp) -> String {
    rfc3339(t)
}

pub(crate) fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Claims {
    /// Build the claims of a certificate (call after it verified).
    pub fn from_certificate(der_bytes: &[u8], signed_at: Option<String>, tlog: Option<TlogFacts>, platforms: &Platforms) -> Result<Self> {
        let bad = |msg: String| Error::Certificate(msg);
        let cert = Certificate::from_der(der_bytes).map_err(|e| bad(format!("not a DER X.509 certificate: {e}")))?;
        let tbs = &cert.tbs_certificate;

        let mut extensions = BTreeMap::new();
        let mut named = NamedExtensions::default();
        let mut issuer_v1 = None;
        let mut issuer_v2 = None;
        let mut identity = None;
        let mut seen = std::collections::HashSet::new();
        for ext in tbs.extensions.iter().flatten() {
            if !seen.insert(ext.extn_id) {
                return Err(bad(format!("extension {} appears twice", ext.extn_id)));
            }
            let bytes = ext.extn_value.as_bytes();
            if ext.extn_id == SAN_OID {
                identity = Some(parse_san(bytes).map_err(bad)?);
                continue;
            }
            let Some(arc) = fulcio_arc(&ext.extn_id) else {
                continue;
            };
            let oid = format!("{FULCIO_ARC}{arc}");
            let value = match arc {
                // .1–.6 are the deprecated raw-string extensions; from .8 on, DER UTF8String.
                1..=6 => std::str::from_utf8(bytes).map(str::to_string).map_err(|_| bad(format!("extension {oid} is not UTF-8 text")))?,
                8..=24 => der_utf8(bytes).ok_or_else(|| bad(format!("extension {oid} is not a DER UTF8String")))?,
                // Arcs newer than this build: keep what can be read.
                _ => der_utf8(bytes)
                    .or_else(|| std::str::from_utf8(bytes).ok().map(str::to_string))
                    .unwrap_or_else(|| format!("hex:{}", hex::encode(bytes))),
            };
            match arc {
                1 => issuer_v1 = Some(value.clone()),
                8 => issuer_v2 = Some(value.clone()),
                _ => {
                    if let Some(slot) = named.slot(arc) {
                        *slot = Some(value.clone());
                    }
                }
            }
            extensions.insert(oid, value);
        }
        check_v1_agrees_with_v2(issuer_v1.as_deref(), issuer_v2.as_deref(), &extensions).map_err(bad)?;
        let issuer = issuer_v2.or(issuer_v1);

        let not_before = jiff::Timestamp::try_from(tbs.validity.not_before.to_system_time()).map_err(|e| bad(format!("notBefore: {e}")))?;
        let not_after = jiff::Timestamp::try_from(tbs.validity.not_after.to_system_time()).map_err(|e| bad(format!("notAfter: {e}")))?;
        let certificate = CertificateFacts {
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            serial: hex::encode(tbs.serial_number.as_bytes()),
            // Of the bytes as given (webpki accepted them as DER): no re-encoding.
            fingerprint_sha256: sigstore_verify::crypto::sha256(der_bytes).to_hex(),
        };

        let mut claims =
            Claims { issuer, identity, platform: None, gitlab: None, github: None, named, extensions, certificate, signed_at, tlog };
        claims.gitlab = gitlab_claims(&claims, platforms)?;
        if claims.gitlab.is_some() {
            claims.platform = Some("gitlab".into());
        } else {
            claims.github = github_claims(&claims, platforms)?;
            if claims.github.is_some() {
                claims.platform = Some("github".into());
            }
        }
        Ok(claims)
    }
}

/// Fulcio writes each deprecated v1 extension (.1–.6, raw text) from the same token claim as
/// its v2 successor. A certificate where a pair disagrees says two things at once; which one
/// a policy or a matcher reads must not decide the verdict, so it is refused.
fn check_v1_agrees_with_v2(
    issuer_v1: Option<&str>,
    issuer_v2: Option<&str>,
    ext: &BTreeMap<String, String>,
) -> std::result::Result<(), String> {
    let get = |arc: u32| ext.get(&format!("{FULCIO_ARC}{arc}")).map(String::as_str);
    let disagree = |old: u32, new: u32, a: &str, b: &str| {
        Err(format!("extensions {FULCIO_ARC}{old} ({a:?}) and {FULCIO_ARC}{new} ({b:?}) disagree; Fulcio writes both from one claim"))
    };
    if let (Some(a), Some(b)) = (issuer_v1, issuer_v2) {
        if a != b {
            return disagree(1, 8, a, b);
        }
    }
    // GitHub's event (.2/.20), commit (.3/.13) and ref (.6/.14).
    for (old, new) in [(2, 20), (3, 13), (6, 14)] {
        if let (Some(a), Some(b)) = (get(old), get(new)) {
            if a != b {
                return disagree(old, new, a, b);
            }
        }
    }
    // The repository: OWNER/REPO (.5) and https://HOST/OWNER/REPO (.12).
    if let (Some(a), Some(b)) = (get(5), get(12)) {
        if !b.strip_suffix(a).is_some_and(|host| host.ends_with('/') && host.matches('/').count() == 3) {
            return disagree(5, 12, a, b);
        }
    }
    Ok(())
}

fn der_utf8(bytes: &[u8]) -> Option<String> {
    der::asn1::Utf8StringRef::from_der(bytes).ok().map(|s| s.as_str().to_string())
}

/// Fulcio certificates carry exactly one SAN: a URI, an email or a Fulcio otherName
/// (username). Anything else is not a Fulcio certificate and is refused rather than
/// guessed at.
fn parse_san(bytes: &[u8]) -> std::result::Result<Identity, String> {
    let san = x509_cert::ext::pkix::SubjectAltName::from_der(bytes).map_err(|e| format!("unparseable subjectAltName: {e}"))?;
    let [name] = san.0.as_slice() else {
        return Err(format!("subjectAltName has {} names; a Fulcio certificate has exactly one", san.0.len()));
    };
    match name {
        GeneralName::UniformResourceIdentifier(uri) => Ok(Identity { kind: "uri".into(), value: uri.to_string() }),
        GeneralName::Rfc822Name(email) => Ok(Identity { kind: "email".into(), value: email.to_string() }),
        GeneralName::OtherName(other) if other.type_id == FULCIO_OTHERNAME_OID => {
            let value =
                other.value.decode_as::<der::asn1::Utf8StringRef<'_>>().map_err(|e| format!("otherName SAN is not a UTF8String: {e}"))?;
            Ok(Identity { kind: "other_name".into(), value: value.as_str().to_string() })
        }
        _ => Err("subjectAltName is not a URI, email or Fulcio otherName".into()),
    }
}

fn ref_type_and_name(git_ref: &str) -> (String, String) {
    if let Some(name) = git_ref.strip_prefix("refs/heads/") {
        ("branch".into(), name.into())
    } else if let Some(name) = git_ref.strip_prefix("refs/tags/") {
        ("tag".into(), name.into())
    } else {
        ("other".into(), git_ref.into())
    }
}

/// Split `PATH@REF`. A ref is `refs/…` (or, for a reusable workflow called by commit, a
/// bare SHA); paths and refs may both contain `@`, so a split that could be made in two
/// places is refused rather than guessed.
fn split_at_ref(s: &str) -> std::result::Result<Option<(&str, &str)>, String> {
    let hits: Vec<usize> = s.match_indices("@refs/").map(|(i, _)| i).collect();
    let at = match hits.as_slice() {
        [i] => *i,
        [] => match s.match_indices('@').map(|(i, _)| i).collect::<Vec<_>>().as_slice() {
            [] => return Ok(None),
            [i] => *i,
            _ => return Err(format!("cannot tell the path from the ref in {s:?}: it has several '@' and no '@refs/'")),
        },
        _ => return Err(format!("cannot tell the path from the ref in {s:?}: '@refs/' appears {} times", hits.len())),
    };
    let (path, rest) = s.split_at(at);
    Ok(Some((path, &rest[1..])))
}

/// The OIDC issuers vouch knows as CI platforms. Only these get CI claims (`gitlab`,
/// `github`, `platform`): a certificate from another issuer keeps its raw extensions but
/// is not read as GitLab or GitHub, whatever its SAN looks like.
///
/// Built in: GitLab at `https://gitlab.com`, GitHub Actions at
/// `https://token.actions.githubusercontent.com` (host github.com). Self-managed GitLab
/// instances, GHE.com tenants and GitHub Enterprise Server only when configured. Issuers
/// are compared exactly as signed; configured URLs lose one trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platforms {
    gitlab: Vec<String>,
    /// (issuer, host).
    github: Vec<(String, String)>,
}

pub const GITLAB_COM: &str = "https://gitlab.com";
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

impl Default for Platforms {
    fn default() -> Self {
        Platforms { gitlab: vec![GITLAB_COM.into()], github: vec![(GITHUB_ISSUER.into(), "github.com".into())] }
    }
}

impl Platforms {
    /// A GitLab instance, by its URL (which is also its OIDC issuer).
    pub fn add_gitlab_instance(&mut self, url: &str) -> std::result::Result<(), String> {
        let url = url.strip_suffix('/').unwrap_or(url);
        let rest = url.strip_prefix("https://").ok_or_else(|| format!("GitLab instance {url:?} must be an https:// URL"))?;
        if rest.is_empty() || rest.contains(['@', '?', '#', ' ']) || rest.contains("//") {
            return Err(format!("GitLab instance {url:?} is not a URL of the form https://HOST[/PATH]"));
        }
        if !self.gitlab.iter().any(|g| g == url) {
            self.gitlab.push(url.to_string());
        }
        Ok(())
    }

    /// A GitHub host: `github.com`, a GHE.com tenant (`TENANT.ghe.com`, issuer
    /// `https://token.actions.TENANT.ghe.com`) or a GitHub Enterprise Server (`HOST`,
    /// issuer `https://HOST/_services/token`).
    pub fn add_github_host(&mut self, host: &str) -> std::result::Result<(), String> {
        let host = host.strip_prefix("https://").unwrap_or(host);
        let host = host.strip_suffix('/').unwrap_or(host);
        if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')) {
            return Err(format!("GitHub host {host:?} must be a host name such as github.com, acme.ghe.com or github.example.com"));
        }
        let issuer = if host == "github.com" {
            GITHUB_ISSUER.to_string()
        } else if host.ends_with(".ghe.com") {
            format!("https://token.actions.{host}")
        } else {
            format!("https://{host}/_services/token")
        };
        if !self.github.iter().any(|(i, _)| *i == issuer) {
            self.github.push((issuer, host.to_string()));
        }
        Ok(())
    }

    pub fn gitlab_instances(&self) -> &[String] {
        &self.gitlab
    }

    /// The GitHub host whose Actions issue tokens as `issuer`.
    fn github_host(&self, issuer: &str) -> Option<&str> {
        self.github.iter().find(|(i, _)| i == issuer).map(|(_, h)| h.as_str())
    }

    pub fn github_hosts(&self) -> Vec<&str> {
        self.github.iter().map(|(_, h)| h.as_str()).collect()
    }
}

/// `prefix/REST` → `REST`, for URIs of the instance or host.
fn under<'a>(uri: &'a str, prefix: &str) -> Option<&'a str> {
    uri.strip_prefix(prefix)?.strip_prefix('/').filter(|r| !r.is_empty())
}

/// Build-signer (.9) and, for GitLab, build-config (.18) URIs repeat the SAN: Fulcio writes
/// all of them from the same token claim. A certificate where they disagree is refused.
fn same_as_san(c: &Claims, san: &str, arcs: &[u32]) -> Result<()> {
    for arc in arcs {
        let value = match arc {
            9 => c.named.build_signer_uri.as_deref(),
            18 => c.named.build_config_uri.as_deref(),
            _ => None,
        };
        if let Some(value) = value.filter(|v| *v != san) {
            return Err(Error::Certificate(format!("extension 1.3.6.1.4.1.57264.1.{arc} ({value:?}) disagrees with the SAN ({san:?})")));
        }
    }
    Ok(())
}

/// GitLab: the SAN is `INSTANCE/PROJECT//CONFIG@REF` (the token's `ci_config_ref_uri`)
/// and the source project is in the signed extensions .12–.17. Each claim says what the
/// certificate says: a source-repository extension on another host rejects the
/// certificate instead of being replaced by the SAN's project. Only when an extension is
/// absent (older certificates) does the SAN's value stand in, as documented.
fn gitlab_claims(c: &Claims, platforms: &Platforms) -> Result<Option<GitLabClaims>> {
    let Some(issuer) = c.issuer.as_deref() else {
        return Ok(None);
    };
    if !platforms.gitlab.iter().any(|g| g == issuer) {
        return Ok(None);
    }
    let Some(identity) = c.identity.as_ref().filter(|i| i.kind == "uri") else {
        return Ok(None);
    };
    let Some(rest) = under(&identity.value, issuer) else {
        return Ok(None);
    };
    // Project paths hold neither `//` nor `@`: the first `//` ends the project.
    let Some((config_project, tail)) = rest.split_once("//") else {
        return Ok(None);
    };
    let bad = |m: String| Error::Certificate(format!("GitLab SAN {:?}: {m}", identity.value));
    if config_project.is_empty() || config_project.contains('@') {
        return Err(bad("no project before the '//'".into()));
    }
    let Some((config_path, config_ref)) = split_at_ref(tail).map_err(bad)? else {
        return Ok(None);
    };
    if config_path.is_empty() || config_ref.is_empty() {
        return Err(bad("empty CI config path or ref".into()));
    }
    same_as_san(c, &identity.value, &[9, 18])?;
    let n = &c.named;
    let signed_under = |arc: u32, uri: &Option<String>| -> Result<Option<String>> {
        match uri.as_deref() {
            None => Ok(None),
            Some(u) => under(u, issuer).map(|p| Some(p.to_string())).ok_or_else(|| {
                Error::Certificate(format!(
                    "extension 1.3.6.1.4.1.57264.1.{arc} ({u:?}) is not a project of the GitLab instance {issuer} that issued the token"
                ))
            }),
        }
    };
    let project_path = signed_under(12, &n.source_repository_uri)?.unwrap_or_else(|| config_project.to_string());
    let namespace = signed_under(16, &n.source_repository_owner_uri)?
        .unwrap_or_else(|| project_path.rsplit_once('/').map_or(String::new(), |(ns, _)| ns.to_string()));
    let git_ref = n.source_repository_ref.clone().unwrap_or_else(|| config_ref.to_string());
    let (ref_type, ref_name) = ref_type_and_name(&git_ref);
    Ok(Some(GitLabClaims {
        instance: issuer.to_string(),
        project_path,
        namespace,
        project_id: n.source_repository_identifier.clone(),
        namespace_id: n.source_repository_owner_identifier.clone(),
        git_ref,
        ref_type,
        ref_name,
        ci_config_project_path: config_project.to_string(),
        ci_config_path: config_path.to_string(),
        ci_config_ref: config_ref.to_string(),
        commit_sha: n.source_repository_digest.clone(),
        pipeline_source: n.build_trigger.clone(),
        job_url: n.run_invocation_uri.clone(),
    }))
}

/// GitHub Actions: the SAN is `https://HOST/OWNER/REPO/PATH@REF`, naming the workflow
/// file that ran (the token's `job_workflow_ref`); HOST must be the host of the issuer.
fn github_claims(c: &Claims, platforms: &Platforms) -> Result<Option<GitHubClaims>> {
    let Some(issuer) = c.issuer.as_deref() else {
        return Ok(None);
    };
    let Some(host) = platforms.github_host(issuer) else {
        return Ok(None);
    };
    let Some(identity) = c.identity.as_ref().filter(|i| i.kind == "uri") else {
        return Ok(None);
    };
    let host_url = format!("https://{host}");
    let Some(path) = under(&identity.value, &host_url) else {
        return Ok(None);
    };
    let mut parts = path.splitn(3, '/');
    let (Some(owner), Some(repo), Some(tail)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let bad = |m: String| Error::Certificate(format!("GitHub SAN {:?}: {m}", identity.value));
    let Some((workflow_path, workflow_ref)) = split_at_ref(tail).map_err(bad)? else {
        return Ok(None);
    };
    if owner.is_empty() || repo.is_empty() || workflow_path.is_empty() || workflow_ref.is_empty() {
        return Err(bad("empty owner, repository, workflow path or ref".into()));
    }
    // .18 names the caller's workflow, which differs from the SAN for reusable workflows.
    same_as_san(c, &identity.value, &[9])?;
    let workflow_repository = format!("{owner}/{repo}");
    let n = &c.named;
    let signed_under = |arc: u32, uri: &Option<String>| -> Result<Option<String>> {
        match uri.as_deref() {
            None => Ok(None),
            Some(u) => under(u, &host_url).map(|p| Some(p.to_string())).ok_or_else(|| {
                Error::Certificate(format!("extension 1.3.6.1.4.1.57264.1.{arc} ({u:?}) is not on {host}, the host of the issuer {issuer}"))
            }),
        }
    };
    let deprecated_repo = c.extensions.get("1.3.6.1.4.1.57264.1.5").cloned();
    let repository = match signed_under(12, &n.source_repository_uri)? {
        Some(r) => r,
        None => deprecated_repo.unwrap_or_else(|| workflow_repository.clone()),
    };
    let repo_owner =
        signed_under(16, &n.source_repository_owner_uri)?.unwrap_or_else(|| repository.split('/').next().unwrap_or_default().to_string());
    let git_ref = n
        .source_repository_ref
        .clone()
        .or_else(|| c.extensions.get("1.3.6.1.4.1.57264.1.6").cloned())
        .unwrap_or_else(|| workflow_ref.to_string());
    let (ref_type, ref_name) = ref_type_and_name(&git_ref);
    Ok(Some(GitHubClaims {
        host: host.to_string(),
        repository,
        owner: repo_owner,
        repository_id: n.source_repository_identifier.clone(),
        owner_id: n.source_repository_owner_identifier.clone(),
        git_ref,
        ref_type,
        ref_name,
        workflow_repository,
        workflow_path: workflow_path.to_string(),
        workflow_ref: workflow_ref.to_string(),
        commit_sha: n.source_repository_digest.clone().or_else(|| c.extensions.get("1.3.6.1.4.1.57264.1.3").cloned()),
        event_name: n.build_trigger.clone().or_else(|| c.extensions.get("1.3.6.1.4.1.57264.1.2").cloned()),
        run_url: n.run_invocation_uri.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fulcio_arcs_read_from_der() {
        for (text, arc) in [
            ("1.3.6.1.4.1.57264.1.1", Some(1)),
            ("1.3.6.1.4.1.57264.1.23", Some(23)),
            ("1.3.6.1.4.1.57264.1.200", Some(200)),
            ("1.3.6.1.4.1.57264.1.70000", Some(70000)),
            ("1.3.6.1.4.1.57264.1", None),
            ("1.3.6.1.4.1.57264.1.1.2", None),
            ("1.3.6.1.4.1.57264.2.1", None),
            ("2.5.29.17", None),
        ] {
            assert_eq!(fulcio_arc(&ObjectIdentifier::new_unwrap(text)), arc, "{text}");
        }
    }

    #[test]
    fn ref_splitting_prefers_refs() {
        assert_eq!(split_at_ref(".gitlab-ci.yml@refs/heads/main"), Ok(Some((".gitlab-ci.yml", "refs/heads/main"))));
        assert_eq!(split_at_ref("ci/a@b.yml@refs/tags/v1@x"), Ok(Some(("ci/a@b.yml", "refs/tags/v1@x"))));
        assert_eq!(split_at_ref("path@sha"), Ok(Some(("path", "sha"))));
        assert_eq!(split_at_ref("no-ref"), Ok(None));
        // Two places to split: refused, never guessed.
        assert!(split_at_ref("ci/x@refs/heads/a.yml@refs/heads/main").is_err());
        assert!(split_at_ref("a@b@c").is_err());
        assert_eq!(ref_type_and_name("refs/heads/feature/x"), ("branch".into(), "feature/x".into()));
        assert_eq!(ref_type_and_name("refs/tags/v1.2.3"), ("tag".into(), "v1.2.3".into()));
        assert_eq!(ref_type_and_name("refs/merge-requests/7/head"), ("other".into(), "refs/merge-requests/7/head".into()));
    }
}
