//! Trusted roots: the embedded production and staging roots, or a `trusted_root.json`
//! (also accepted wrapped in a sigstore-python/cosign `ClientTrustConfig`) for private
//! Sigstore instances such as a self-managed GitLab with its own Fulcio and Rekor.

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
}

impl std::fmt::Display for TrustSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustSource::Production => f.write_str("embedded Sigstore production root"),
            TrustSource::Staging => f.write_str("embedded Sigstore staging root"),
            TrustSource::File(path) => write!(f, "{}", path.display()),
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
}

impl Trust {
    pub fn load(source: &TrustSource) -> Result<Self> {
        let json = match source {
            TrustSource::Production => SIGSTORE_PRODUCTION_TRUSTED_ROOT.to_string(),
            TrustSource::Staging => SIGSTORE_STAGING_TRUSTED_ROOT.to_string(),
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
        Ok(Self { source, root, verifier, rekor_keys, tsa_certificates, ca_chains, platforms: crate::claims::Platforms::default(), sha256 })
    }

    /// What a run trusts, as one digest: the trusted root as read and the CI platforms
    /// configured on it (shards of one plan must agree on both).
    pub fn digest(&self) -> String {
        sigstore_verify::crypto::sha256(format!("{}\n{:?}", self.sha256, self.platforms).as_bytes()).to_hex()
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

    /// DER of each certificate authority's chain (its anchor last).
    pub fn ca_chains(&self) -> &[Vec<Vec<u8>>] {
        &self.ca_chains
    }

    /// DER of every certificate of the root's timestamp authorities.
    pub fn tsa_certificates(&self) -> &[Vec<u8>] {
        &self.tsa_certificates
    }
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
