//! What is being verified: a file (hashed once, streaming) or a bare `sha256:` digest.

use std::path::{Path, PathBuf};

use sigstore_types::Sha256Hash;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactInput {
    File(PathBuf),
    Digest(Sha256Hash),
}

impl ArtifactInput {
    /// `sha256:<hex>` is a digest; anything else is a file path.
    pub fn parse(input: &str) -> Result<Self> {
        match input.split_once(':') {
            Some((alg, hex)) if alg.eq_ignore_ascii_case("sha256") && !Path::new(input).exists() => {
                let bad = |reason: &str| Error::DigestInput { input: input.to_string(), reason: reason.to_string() };
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad("expected 64 hex digits after sha256:"));
                }
                Sha256Hash::from_hex(&hex.to_ascii_lowercase()).map(ArtifactInput::Digest).map_err(|e| bad(&e.to_string()))
            }
            _ => Ok(ArtifactInput::File(PathBuf::from(input))),
        }
    }
}

/// An artifact with its sha256 computed (files are read once, in constant memory).
#[derive(Debug, Clone)]
pub struct Artifact {
    input: ArtifactInput,
    sha256: Sha256Hash,
}

impl Artifact {
    pub fn open(input: ArtifactInput) -> Result<Self> {
        let sha256 = match &input {
            ArtifactInput::Digest(digest) => *digest,
            ArtifactInput::File(path) => hash_file(path)?,
        };
        Ok(Self { input, sha256 })
    }

    pub fn input(&self) -> &ArtifactInput {
        &self.input
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.input {
            ArtifactInput::File(path) => Some(path),
            ArtifactInput::Digest(_) => None,
        }
    }

    pub fn sha256(&self) -> &Sha256Hash {
        &self.sha256
    }

    /// The subject name as users wrote it: the path, or `sha256:<hex>`.
    pub fn name(&self) -> String {
        match &self.input {
            ArtifactInput::File(path) => path.display().to_string(),
            ArtifactInput::Digest(d) => format!("sha256:{}", d.to_hex()),
        }
    }
}

pub(crate) fn open_file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), what: "artifact", source })
}

fn hash_file(path: &Path) -> Result<Sha256Hash> {
    let file = open_file(path)?;
    sigstore_verify::crypto::sha256_reader(file).map_err(|source| Error::Io { path: path.to_path_buf(), what: "artifact", source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_paths() {
        let hex = "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
        assert!(matches!(ArtifactInput::parse(&format!("sha256:{hex}")), Ok(ArtifactInput::Digest(_))));
        assert!(matches!(ArtifactInput::parse(&format!("SHA256:{}", hex.to_uppercase())), Ok(ArtifactInput::Digest(_))));
        assert!(ArtifactInput::parse("sha256:abc").is_err());
        assert!(ArtifactInput::parse(&format!("sha256:{}", "g".repeat(64))).is_err());
        assert_eq!(ArtifactInput::parse("dist/app.tgz").unwrap(), ArtifactInput::File("dist/app.tgz".into()));
    }
}
