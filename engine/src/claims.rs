//! Certificate → claims document: the typed view of a verified signature that reports
//! and policies read (docs/claims.md). Policies never parse certificates.
//!
//! Fulcio writes the CI identity twice: the SAN (for GitLab `INSTANCE/PROJECT//CONFIG@REF`,
//! from the token's `ci_config_ref_uri`) and the source-repository extensions .12–.17
//! (from `project_path`, `project_id`, `namespace_*`). They need not name the same
//! project — a merge-request pipeline from a fork runs the target's config for the
//! fork's code — so both are exposed, separately.

use std::collections::BTreeMap;

use der::Decode;
use serde::Serialize;
use sigstore_types::TransparencyLogEntry;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

use crate::error::{Error, Result};

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

/// RFC 3339 in UTC, seconds precision.
pub fn rfc3339_of(t: jiff::Timestamp) -> String {
    rfc3339(t)
}

pub(crate) fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Claims {
    /// Build the claims of a certificate (call after it verified).
    pub fn from_certificate(der_bytes: &[u8], signed_at: Option<String>, tlog: Option<TlogFacts>) -> Result<Self> {
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
        claims.gitlab = gitlab_claims(&claims);
        if claims.gitlab.is_some() {
            claims.platform = Some("gitlab".into());
        } else {
            claims.github = github_claims(&claims);
            if claims.github.is_some() {
                claims.platform = Some("github".into());
            }
        }
        Ok(claims)
    }
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

/// Split `PATH@REF` where REF starts with `refs/` (paths may contain `@`).
fn split_at_ref(s: &str) -> Option<(&str, &str)> {
    s.rfind("@refs/").map(|i| (&s[..i], &s[i + 1..])).or_else(|| s.rsplit_once('@'))
}

/// GitLab: the SAN is `ISSUER/PROJECT//CONFIG@REF` — the issuer is the instance, on
/// gitlab.com and self-managed instances alike.
fn gitlab_claims(c: &Claims) -> Option<GitLabClaims> {
    let issuer = c.issuer.as_deref()?.trim_end_matches('/');
    let identity = c.identity.as_ref().filter(|i| i.kind == "uri")?;
    let rest = identity.value.strip_prefix(issuer)?.strip_prefix('/')?;
    let (config_project, tail) = rest.split_once("//")?;
    let (config_path, config_ref) = split_at_ref(tail)?;
    if config_project.is_empty() || config_path.is_empty() || config_ref.is_empty() {
        return None;
    }
    let strip_instance =
        |uri: &Option<String>| uri.as_deref().and_then(|u| u.strip_prefix(issuer)).and_then(|u| u.strip_prefix('/')).map(str::to_string);
    let n = &c.named;
    let project_path = strip_instance(&n.source_repository_uri).unwrap_or_else(|| config_project.to_string());
    let namespace = strip_instance(&n.source_repository_owner_uri)
        .unwrap_or_else(|| project_path.rsplit_once('/').map_or(String::new(), |(ns, _)| ns.to_string()));
    let git_ref = n.source_repository_ref.clone().unwrap_or_else(|| config_ref.to_string());
    let (ref_type, ref_name) = ref_type_and_name(&git_ref);
    Some(GitLabClaims {
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
    })
}

/// GitHub Actions (github.com and GHE.com): the SAN is
/// `https://HOST/OWNER/REPO/PATH@REF`, naming the workflow file that ran.
fn github_claims(c: &Claims) -> Option<GitHubClaims> {
    let issuer = c.issuer.as_deref()?;
    if !issuer.starts_with("https://token.actions.") {
        return None;
    }
    let identity = c.identity.as_ref().filter(|i| i.kind == "uri")?;
    let after_scheme = identity.value.strip_prefix("https://")?;
    let (host, path) = after_scheme.split_once('/')?;
    let mut parts = path.splitn(3, '/');
    let (owner, repo, tail) = (parts.next()?, parts.next()?, parts.next()?);
    let (workflow_path, workflow_ref) = split_at_ref(tail)?;
    if owner.is_empty() || repo.is_empty() || workflow_path.is_empty() {
        return None;
    }
    let workflow_repository = format!("{owner}/{repo}");
    let host_prefix = format!("https://{host}/");
    let strip_host = |uri: &Option<String>| uri.as_deref().and_then(|u| u.strip_prefix(&host_prefix)).map(str::to_string);
    let n = &c.named;
    let deprecated_repo = c.extensions.get("1.3.6.1.4.1.57264.1.5").cloned();
    let repository = strip_host(&n.source_repository_uri).or(deprecated_repo).unwrap_or_else(|| workflow_repository.clone());
    let repo_owner =
        strip_host(&n.source_repository_owner_uri).unwrap_or_else(|| repository.split('/').next().unwrap_or_default().to_string());
    let git_ref = n
        .source_repository_ref
        .clone()
        .or_else(|| c.extensions.get("1.3.6.1.4.1.57264.1.6").cloned())
        .unwrap_or_else(|| workflow_ref.to_string());
    let (ref_type, ref_name) = ref_type_and_name(&git_ref);
    Some(GitHubClaims {
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
    })
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
        assert_eq!(split_at_ref(".gitlab-ci.yml@refs/heads/main"), Some((".gitlab-ci.yml", "refs/heads/main")));
        assert_eq!(split_at_ref("ci/a@b.yml@refs/tags/v1@x"), Some(("ci/a@b.yml", "refs/tags/v1@x")));
        assert_eq!(split_at_ref("path@sha"), Some(("path", "sha")));
        assert_eq!(split_at_ref("no-ref"), None);
        assert_eq!(ref_type_and_name("refs/heads/feature/x"), ("branch".into(), "feature/x".into()));
        assert_eq!(ref_type_and_name("refs/tags/v1.2.3"), ("tag".into(), "v1.2.3".into()));
        assert_eq!(ref_type_and_name("refs/merge-requests/7/head"), ("other".into(), "refs/merge-requests/7/head".into()));
    }
}
