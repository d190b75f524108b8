//! What is being verified: a file (hashed once, streaming) or a bare digest
//! (`sha256:`, `sha384:` or `sha512:`, as cosign accepts them).

use std::path::{Path, PathBuf};

use sigstore_types::{ArtifactDigest, HashAlgorithm, Sha256Hash};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactInput {
    File(PathBuf),
    Digest(ArtifactDigest),
}

/// The digest algorithms a bare digest may name, with their hex lengths.
const ALGORITHMS: [(&str, HashAlgorithm); 3] =
    [("sha256", HashAlgorithm::Sha2256), ("sha384", HashAlgorithm::Sha2384), ("sha512", HashAlgorithm::Sha2512)];

impl ArtifactInput {
    /// `sha256:<hex>`, `sha384:<hex>` or `sha512:<hex>` is a digest (unless a file of
    /// that name exists); anything else is a file path.
    pub fn parse(input: &str) -> Result<Self> {
        let digest = input.split_once(':').and_then(|(alg, hex)| {
            let (name, algorithm) = ALGORITHMS.iter().find(|(name, _)| alg.eq_ignore_ascii_case(name))?;
            (!Path::new(input).exists()).then_some((*name, *algorithm, hex))
        });
        let Some((name, algorithm, hex)) = digest else {
            return Ok(ArtifactInput::File(PathBuf::from(input)));
        };
        let bad = |reason: String| Error::DigestInput { input: input.to_string(), reason };
        let digits = algorithm.digest_size() * 2;
        if hex.len() != digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("expected {digits} hex digits after {name}:")));
        }
        let bytes = hex::decode(hex).map_err(|e| bad(e.to_string()))?;
        ArtifactDigest::new(algorithm, bytes).map(ArtifactInput::Digest).map_err(|e| bad(e.to_string()))
    }
}

/// `sha512:<hex>`: a digest as users write it.
pub fn digest_string(digest: &ArtifactDigest) -> String {
    format!("{}:{}", digest.algorithm().as_rekor_str(), hex::encode(digest.as_bytes()))
}

/// An artifact with its digest computed (files are read once, in constant memory, for
/// their sha256).
#[derive(Debug, Clone)]
pub struct Artifact {
    input: ArtifactInput,
    digest: ArtifactDigest,
    /// A digest subject's name from the manifest (`name:`).
    label: Option<String>,
}

impl Artifact {
    pub fn open(input: ArtifactInput) -> Result<Self> {
        let digest = match &input {
            ArtifactInput::Digest(digest) => digest.clone(),
            ArtifactInput::File(path) => ArtifactDigest::sha256(hash_file(path)?),
        };
        Ok(Self { input, digest, label: None })
    }

    /// Show `label` as the subject's name (a digest subject the manifest names).
    pub fn labelled(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
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

    /// What the artifact is known by: a file's sha256, or the digest the user gave.
    pub fn digest(&self) -> &ArtifactDigest {
        &self.digest
    }

    /// The sha256, when it is known (not for a bare `sha384:`/`sha512:` digest).
    pub fn sha256(&self) -> Option<Sha256Hash> {
        match self.digest.algorithm() {
            HashAlgorithm::Sha2256 => Sha256Hash::try_from(self.digest.as_bytes()).ok(),
            _ => None,
        }
    }

    /// The subject name as users wrote it: the path, the manifest's name for a digest,
    /// or the digest itself.
    pub fn name(&self) -> String {
        match (&self.input, &self.label) {
            (_, Some(label)) => label.clone(),
            (ArtifactInput::File(path), None) => path.display().to_string(),
            (ArtifactInput::Digest(d), None) => digest_string(d),
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
        // cosign's other digests: their own lengths, never read as file names.
        for (alg, digits) in [("sha384", 96), ("sha512", 128)] {
            let input = format!("{alg}:{}", "ab".repeat(digits / 2));
            let Ok(ArtifactInput::Digest(d)) = ArtifactInput::parse(&input) else { panic!("{input}") };
            assert_eq!(digest_string(&d), input);
            assert!(ArtifactInput::parse(&format!("{alg}:{hex}")).is_err(), "a sha256-length {alg} digest");
        }
        assert!(matches!(ArtifactInput::parse("md5:d41d8cd98f00b204e9800998ecf8427e"), Ok(ArtifactInput::File(_))));
    }
}
