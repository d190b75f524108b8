//! Image references: `[REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]`, with Docker's
//! defaults (`docker.io`, `library/`, `latest`).

use std::fmt;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As written (`docker.io` for Docker Hub).
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

fn bad(input: &str, reason: &str) -> Error {
    Error::ImageReference { input: input.to_string(), reason: reason.to_string() }
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<Self> {
        if input.is_empty() || input.len() > 1024 || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(input, "empty, too long, or contains whitespace"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest.strip_prefix("sha256:").ok_or_else(|| bad(input, "only sha256 digests are supported"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                    return Err(bad(input, "a digest is sha256: followed by 64 lower-case hex digits"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (input, None),
        };
        let (name, tag) = match rest.rfind(':') {
            // A colon after the last slash is a tag; before it, a registry port.
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && !tag.starts_with(['.', '-']);
            if !valid {
                return Err(bad(input, "invalid tag"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') { format!("library/{repository}") } else { repository };
        let valid_repo = !repository.is_empty()
            && repository
                .split('/')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)));
        if !valid_repo {
            return Err(bad(input, "invalid repository name (lower-case letters, digits, . _ - and /)"));
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(ImageRef { registry, repository, tag, digest })
    }

    /// The host the registry API is served from.
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The same repository at another reference (tag or digest).
    pub fn with_reference(&self, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") { '@' } else { ':' };
        format!("{}/{}{sep}{reference}", self.registry, self.repository)
    }

    /// Whether the host is a loopback address (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        let host = self.registry.rsplit_once(':').map_or(self.registry.as_str(), |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                self.registry.as_str()
            }
        });
        host == "localhost" || host.starts_with("127.") || host == "[::1]"
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = ImageRef::parse("localhost:5000/acme/app:1.2").unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()), ("localhost:5000", "acme/app", Some("1.2")));
        assert!(r.is_loopback());
        let r = ImageRef::parse("alpine").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref(), r.api_host()),
            ("docker.io", "library/alpine", Some("latest"), "registry-1.docker.io")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("registry.gitlab.com/acme/app@{d}")).unwrap();
        assert_eq!((r.tag.as_deref(), r.digest.as_deref()), (None, Some(d.as_str())));
        assert!(!r.is_loopback());
        assert!(ImageRef::parse("Acme/App").is_err());
        assert!(ImageRef::parse("a/b@sha256:1234").is_err());
        assert!(ImageRef::parse("a b").is_err());
        assert!(ImageRef::parse("127.0.0.1:5000/x:").is_err());
        assert!(ImageRef::parse("127.0.0.1:5000/x").unwrap().is_loopback());
    }
}
