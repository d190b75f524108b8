//! Who may have signed: the certificate identity (SAN) and OIDC issuer requirements of
//! cosign's flags. Regular expressions are always anchored to the whole value — cosign's
//! `--certificate-identity-regexp` is not, which makes `acme/app` also match
//! `evil/acme/app-fork`.

use regex::Regex;

use crate::error::{Error, Result};

/// Bounds regex compilation so a hostile pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex { pattern: String, regex: Regex },
}

impl Matcher {
    pub fn exact(value: &str, flag: &str) -> Result<Self> {
        if value.trim().is_empty() {
            return Err(Error::IdentityFlag(format!("{flag} is empty")));
        }
        Ok(Matcher::Exact(value.to_string()))
    }

    /// Compile `pattern` anchored at both ends: `^(?:pattern)$`.
    pub fn regex(pattern: &str, flag: &str) -> Result<Self> {
        if pattern.trim().is_empty() {
            return Err(Error::IdentityFlag(format!("{flag} is empty")));
        }
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| Error::IdentityFlag(format!("{flag} {pattern:?} is not a valid regular expression: {e}")))?;
        Ok(Matcher::Regex { pattern: pattern.to_string(), regex })
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(expected) => expected == value,
            Matcher::Regex { regex, .. } => regex.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(value) => write!(f, "{value:?}"),
            Matcher::Regex { pattern, .. } => write!(f, "a match of /^(?:{pattern})$/"),
        }
    }
}

/// The identity and issuer a keyless signature must carry. Both are required: an
/// identity without its issuer can be minted by any OIDC provider Fulcio trusts.
#[derive(Debug, Clone)]
pub struct IdentityRequirement {
    pub identity: Matcher,
    pub issuer: Matcher,
    /// cosign's `--certificate-github-workflow-*`: exact values the certificate's GitHub
    /// workflow extensions must have.
    pub github_workflow: Vec<WorkflowClaim>,
}

/// One of cosign's five GitHub workflow checks: the flag, the Fulcio extension it reads
/// (the deprecated v1 one, as cosign does; its v2 successor when a certificate has only
/// that) and the value required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowClaim {
    pub flag: &'static str,
    pub v1_arc: u32,
    pub v2_arc: Option<u32>,
    pub expected: String,
}

impl WorkflowClaim {
    /// The five flags: trigger (.2, v2 .20), sha (.3, .13), name (.4), repository (.5),
    /// ref (.6, .14).
    pub fn all(trigger: Option<&str>, sha: Option<&str>, name: Option<&str>, repository: Option<&str>, git_ref: Option<&str>) -> Vec<Self> {
        [
            ("--certificate-github-workflow-trigger", 2, Some(20), trigger),
            ("--certificate-github-workflow-sha", 3, Some(13), sha),
            ("--certificate-github-workflow-name", 4, None, name),
            ("--certificate-github-workflow-repository", 5, None, repository),
            ("--certificate-github-workflow-ref", 6, Some(14), git_ref),
        ]
        .into_iter()
        .filter_map(|(flag, v1_arc, v2_arc, v)| v.map(|v| WorkflowClaim { flag, v1_arc, v2_arc, expected: v.to_string() }))
        .collect()
    }
}

impl IdentityRequirement {
    /// Build from cosign-style flags; exactly one of each pair must be given.
    pub fn from_flags(
        identity: Option<&str>,
        identity_regexp: Option<&str>,
        issuer: Option<&str>,
        issuer_regexp: Option<&str>,
    ) -> Result<Self> {
        let identity = match (identity, identity_regexp) {
            (Some(v), None) => Matcher::exact(v, "--certificate-identity")?,
            (None, Some(p)) => Matcher::regex(p, "--certificate-identity-regexp")?,
            (Some(_), Some(_)) => {
                return Err(Error::IdentityFlag("give --certificate-identity or --certificate-identity-regexp, not both".into()))
            }
            (None, None) => return Err(Error::IdentityFlag("missing --certificate-identity or --certificate-identity-regexp".into())),
        };
        let issuer = match (issuer, issuer_regexp) {
            (Some(v), None) => Matcher::exact(v, "--certificate-oidc-issuer")?,
            (None, Some(p)) => Matcher::regex(p, "--certificate-oidc-issuer-regexp")?,
            (Some(_), Some(_)) => {
                return Err(Error::IdentityFlag("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both".into()))
            }
            (None, None) => {
                return Err(Error::IdentityFlag("missing --certificate-oidc-issuer or --certificate-oidc-issuer-regexp".into()))
            }
        };
        Ok(Self { identity, issuer, github_workflow: Vec::new() })
    }

    /// The GitHub workflow extensions (`1.3.6.1.4.1.57264.1.N` → text) against the flags.
    pub fn check_workflow(&self, extensions: &std::collections::BTreeMap<String, String>) -> Result<()> {
        for claim in &self.github_workflow {
            let get = |arc: u32| extensions.get(&format!("1.3.6.1.4.1.57264.1.{arc}"));
            let actual = get(claim.v1_arc).or_else(|| claim.v2_arc.and_then(get));
            if actual != Some(&claim.expected) {
                return Err(Error::IdentityMismatch {
                    expected: format!("{} {:?}", claim.flag, claim.expected),
                    actual: actual.map_or("no such extension".to_string(), |a| format!("{a:?}")),
                });
            }
        }
        Ok(())
    }

    pub fn check(&self, identity: Option<&str>, issuer: Option<&str>) -> Result<()> {
        let shown = |v: Option<&str>| v.map_or("none".to_string(), |v| format!("{v:?}"));
        if !identity.is_some_and(|v| self.identity.matches(v)) {
            return Err(Error::IdentityMismatch { expected: self.identity.to_string(), actual: shown(identity) });
        }
        if !issuer.is_some_and(|v| self.issuer.matches(v)) {
            return Err(Error::IssuerMismatch { expected: self.issuer.to_string(), actual: shown(issuer) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexps_are_anchored_to_the_whole_value() {
        let m = Matcher::regex("acme/app", "--certificate-identity-regexp").unwrap();
        assert!(m.matches("acme/app"));
        assert!(!m.matches("https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"));
        assert!(!m.matches("evil/acme/app"));
        // Alternation stays inside the anchors.
        let m = Matcher::regex("a|b", "x").unwrap();
        assert!(m.matches("a") && m.matches("b") && !m.matches("ab") && !m.matches("xa"));
    }

    #[test]
    fn both_identity_and_issuer_are_required() {
        assert!(IdentityRequirement::from_flags(Some("a"), None, None, None).is_err());
        assert!(IdentityRequirement::from_flags(None, None, Some("i"), None).is_err());
        assert!(IdentityRequirement::from_flags(Some(" "), None, Some("i"), None).is_err());
        assert!(IdentityRequirement::from_flags(Some("a"), Some("b"), Some("i"), None).is_err());
        let r = IdentityRequirement::from_flags(Some("a"), None, None, Some("https://.*")).unwrap();
        assert!(r.check(Some("a"), Some("https://x")).is_ok());
        assert!(r.check(Some("a"), None).is_err());
        assert!(r.check(None, Some("https://x")).is_err());
    }
}
