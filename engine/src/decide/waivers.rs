//! Waivers: a reviewer's written, expiring acceptance of a policy finding
//! (docs/reviews.md). A waiver names what it waives (a policy package, a finding's code,
//! optionally its term), what it applies to (subjects, digests, image repositories,
//! signing projects), who owns it and why, and when it is in force. It can cover a
//! policy finding only: never a signature that did not verify, nor a subject without an
//! accepted signer.
//!
//! Waivers are applied to each subject's result after it is decided, by the subject's
//! own name (results of one digest are shared between subjects with other names), in
//! every command that judges subjects, against the run's effective time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Reason, Result};
use crate::report::{SubjectResult, Verdict};

/// Waiver files are a page of YAML.
const MAX_WAIVER_FILE_BYTES: u64 = 4 << 20;
/// A waiver expiring within this many days is a warning (`--waivers-warn-days`).
pub const DEFAULT_WARN_DAYS: u32 = 14;

/// A waiver file: `waivers: [...]` (docs/waivers.schema.json).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    waivers: Vec<WaiverSpec>,
}

/// One waiver as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverSpec {
    /// Unique across the run's waiver files: reports and diffs name waivers by it.
    pub id: String,
    /// The policy package whose finding is waived, e.g. `vouch.gitlab`.
    pub package: String,
    /// The finding's code, e.g. `gitlab.ref` (a rule without a code: `PACKAGE.deny`).
    pub rule: String,
    /// Only findings that carry this `term` (a policy may say which package, ref or
    /// attestation a finding is about).
    pub term: Option<String>,
    pub applies_to: AppliesTo,
    pub owner: String,
    pub reason: String,
    /// Where it was decided (a ticket or merge request URL).
    pub reference: Option<String>,
    /// `YYYY-MM-DD` (the start of that day, UTC) or RFC 3339; default: already in force.
    pub effective_on: Option<String>,
    /// `YYYY-MM-DD` (the start of that day, UTC) or RFC 3339: from then on it is ignored.
    pub expires_on: String,
}

/// What a waiver applies to: every list given must match (and at least one is given;
/// `subjects: ["*"]` says "every subject" explicitly).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// Subject names as reports show them (globs; `*` crosses `/`).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Subject digests, `sha256:HEX` (or `sha512:`).
    #[serde(default)]
    pub digests: Vec<String>,
    /// Image repositories, `REGISTRY/REPOSITORY` (globs).
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Projects (GitLab) or repositories (GitHub) a verified signature names (globs).
    #[serde(default)]
    pub projects: Vec<String>,
}

/// Where a waiver stands at the run's effective time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    /// In force.
    Active,
    /// In force, and expires within the warning window.
    Expiring,
    /// Past `expires_on`: ignored.
    Expired,
    /// Before `effective_on`: ignored.
    Pending,
}

/// A waiver and what it did in a run (the report's `waivers`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaiverStatus {
    pub id: String,
    pub package: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub term: Option<String>,
    pub owner: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub effective_on: Option<String>,
    pub expires_on: String,
    pub state: WaiverState,
    /// Findings it waived in this run (all shards, after a merge).
    pub matched: usize,
    /// The SHA-256 of the waiver as written: `report diff` sees a waiver that was edited.
    #[serde(default)]
    pub spec_sha256: String,
}

impl WaiverStatus {
    /// In force, yet it waived nothing: the finding was fixed, or the waiver is wrong.
    pub fn unused(&self) -> bool {
        self.matched == 0 && matches!(self.state, WaiverState::Active | WaiverState::Expiring)
    }
}

/// A waived finding as a verification summary records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SummaryWaived {
    pub waiver: String,
    pub code: String,
    pub message: String,
    pub rule: String,
}

/// A finding a waiver covered, as the subject's result reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Waived {
    /// The finding's code and message, as they would have failed (or warned).
    pub code: String,
    pub message: String,
    /// `deny` or `warn`.
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    pub waiver: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
    pub expires_on: String,
}

/// A waiver ready to match.
#[derive(Debug)]
struct Waiver {
    spec: WaiverSpec,
    effective_on: Option<jiff::Timestamp>,
    expires_on: jiff::Timestamp,
    subjects: Option<globset::GlobSet>,
    repositories: Option<globset::GlobSet>,
    projects: Option<globset::GlobSet>,
    digests: Vec<String>,
    state: WaiverState,
    matched: AtomicUsize,
}

/// The run's waivers.
#[derive(Debug, Default)]
pub struct Waivers {
    waivers: Vec<Waiver>,
    /// The files they came from, hashed: part of the plan's setup (shards must agree).
    digest: Option<String>,
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::usage(Code::WaiverConfig, format!("{}: {message}", path.display()))
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
}

fn globs(path: &Path, id: &str, what: &str, patterns: &[String]) -> Result<Option<globset::GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for p in patterns {
        if p.trim().is_empty() {
            return Err(invalid(path, format!("waiver {id:?}: applies_to.{what} has an empty pattern")));
        }
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .build()
            .map_err(|e| invalid(path, format!("waiver {id:?}: applies_to.{what}: invalid glob {p:?}: {e}")))?;
        set.add(glob);
    }
    set.build().map(Some).map_err(|e| invalid(path, format!("waiver {id:?}: applies_to.{what}: {e}")))
}

impl Waivers {
    /// Read waiver files and check each waiver against the loaded policy's packages, at
    /// the run's effective time. Anything vouch cannot check is an error (exit 2).
    pub fn load(paths: &[PathBuf], policy: Option<&crate::policy::Policy>, now: jiff::Timestamp, warn_days: u32) -> Result<Self> {
        let packages = policy.map(crate::policy::Policy::packages);
        let judges = policy.map(|p| p.signer_judges().to_vec()).unwrap_or_default();
        let mut waivers: Vec<Waiver> = Vec::new();
        let mut whole = String::from("vouch-waivers-v1\n");
        for path in paths {
            let bytes = crate::trust::read_limited(path, "waiver file", MAX_WAIVER_FILE_BYTES)?;
            let text = String::from_utf8(bytes).map_err(|_| invalid(path, "not UTF-8 text"))?;
            whole.push_str(&format!("file {}\n", crate::claims::sha256_hex(text.as_bytes())));
            let file: WaiverFile = yaml_serde::from_str(&text).map_err(|e| invalid(path, e))?;
            if file.waivers.is_empty() {
                return Err(invalid(path, "waivers is empty: remove the file, or write the waivers it should hold"));
            }
            for spec in file.waivers {
                let waiver = Self::check(path, spec, packages.as_deref(), &judges, now, warn_days)?;
                if waivers.iter().any(|w| w.spec.id == waiver.spec.id) {
                    return Err(invalid(path, format!("waiver id {:?} is used twice: reports name waivers by their id", waiver.spec.id)));
                }
                waivers.push(waiver);
            }
        }
        let digest = (!paths.is_empty()).then(|| crate::claims::sha256_hex(whole.as_bytes()));
        Ok(Waivers { waivers, digest })
    }

    fn check(
        path: &Path,
        spec: WaiverSpec,
        packages: Option<&[String]>,
        judges: &[String],
        now: jiff::Timestamp,
        warn_days: u32,
    ) -> Result<Waiver> {
        let id = spec.id.clone();
        if id.trim().is_empty() {
            return Err(invalid(path, "a waiver needs an id"));
        }
        for (what, value) in [("package", &spec.package), ("rule", &spec.rule), ("owner", &spec.owner), ("reason", &spec.reason)] {
            if value.trim().is_empty() {
                return Err(invalid(path, format!("waiver {id:?}: {what} is empty")));
            }
        }
        if spec.term.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(invalid(path, format!("waiver {id:?}: term is empty (leave it out to waive every term)")));
        }
        if Code::ALL.iter().any(|c| c.as_str() == spec.rule || c.as_str().trim_start_matches("vouch::") == spec.rule) {
            return Err(invalid(
                path,
                format!(
                    "waiver {id:?}: {} is vouch's own verification code; a waiver covers policy findings only, never a failed verification",
                    spec.rule
                ),
            ));
        }
        match packages {
            None => return Err(invalid(path, format!("waiver {id:?} waives a finding of {}, but no policy is loaded", spec.package))),
            Some(loaded) if !loaded.contains(&spec.package) => {
                return Err(invalid(path, format!("waiver {id:?}: package {} is not loaded (loaded: {})", spec.package, loaded.join(", "))))
            }
            Some(_) => {}
        }
        // Who may sign is the policy's to say, in review: a waiver cannot let a signer in.
        if judges.contains(&spec.package) {
            return Err(invalid(
                path,
                format!(
                    "waiver {id:?}: {} decides who may sign, and a waiver cannot admit a signer; change its configuration (a reviewed policy change) instead",
                    spec.package
                ),
            ));
        }
        let a = &spec.applies_to;
        if a.subjects.is_empty() && a.digests.is_empty() && a.repositories.is_empty() && a.projects.is_empty() {
            return Err(invalid(
                path,
                format!("waiver {id:?}: applies_to names nothing; list subjects, digests, repositories or projects (subjects: [\"*\"] for every subject)"),
            ));
        }
        for d in &a.digests {
            let ok = match d.split_once(':') {
                Some(("sha256", hex)) => hex.len() == 64,
                Some(("sha512", hex)) => hex.len() == 128,
                _ => false,
            } && d.split_once(':').is_some_and(|(_, h)| h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            if !ok {
                return Err(invalid(path, format!("waiver {id:?}: digest {d:?}: write sha256:<64 lowercase hex digits>")));
            }
        }
        let time = |what: &str, s: &str| {
            parse_time(s)
                .ok_or_else(|| invalid(path, format!("waiver {id:?}: {what} {s:?}: write YYYY-MM-DD or RFC 3339 (2027-01-31T00:00:00Z)")))
        };
        let expires_on = time("expires_on", &spec.expires_on)?;
        let effective_on = spec.effective_on.as_deref().map(|s| time("effective_on", s)).transpose()?;
        if effective_on.is_some_and(|e| e >= expires_on) {
            return Err(invalid(path, format!("waiver {id:?}: effective_on is not before expires_on")));
        }
        let warn_from = expires_on.checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(warn_days))).unwrap_or(expires_on);
        let state = if now >= expires_on {
            WaiverState::Expired
        } else if effective_on.is_some_and(|e| now < e) {
            WaiverState::Pending
        } else if now >= warn_from {
            WaiverState::Expiring
        } else {
            WaiverState::Active
        };
        Ok(Waiver {
            subjects: globs(path, &id, "subjects", &a.subjects)?,
            repositories: globs(path, &id, "repositories", &a.repositories)?,
            projects: globs(path, &id, "projects", &a.projects)?,
            digests: a.digests.clone(),
            spec,
            effective_on,
            expires_on,
            state,
            matched: AtomicUsize::new(0),
        })
    }

    /// Whether the waiver `id` is in force in this run.
    pub fn in_force(&self, id: &str) -> bool {
        self.waivers.iter().any(|w| w.spec.id == id && matches!(w.state, WaiverState::Active | WaiverState::Expiring))
    }

    /// A verification summary passed a subject by these waived findings: each is waived
    /// again, by the waiver as it stands now (None when one is no longer in force).
    pub fn relied_on(&self, findings: &[SummaryWaived]) -> Option<Vec<Waived>> {
        let mut out = Vec::with_capacity(findings.len());
        for f in findings {
            let w =
                self.waivers.iter().find(|w| w.spec.id == f.waiver && matches!(w.state, WaiverState::Active | WaiverState::Expiring))?;
            out.push(w.waived(&f.code, &f.message, &f.rule, None));
        }
        for f in findings {
            if let Some(w) = self.waivers.iter().find(|w| w.spec.id == f.waiver) {
                w.matched.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(out)
    }

    /// A waiver that names a package that judges who may sign in any policy variant of
    /// the plan (a subject's own `data` may configure one the run's policy does not).
    pub fn check_judges(&self, policies: &[Option<crate::policy::Policy>]) -> Result<()> {
        for policy in policies.iter().flatten() {
            if let Some(w) = self.waivers.iter().find(|w| policy.signer_judges().contains(&w.spec.package)) {
                return Err(Error::usage(
                    Code::WaiverConfig,
                    format!(
                        "waiver {:?}: {} decides who may sign (configured in a subject's data), and a waiver cannot admit a signer",
                        w.spec.id, w.spec.package
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.waivers.is_empty()
    }

    /// The waiver files' digest, for the plan's setup.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What the user should hear before the run: waivers that expired, are not yet in
    /// force, or expire soon.
    pub fn notes(&self) -> Vec<String> {
        self.waivers
            .iter()
            .filter_map(|w| {
                let s = &w.spec;
                match w.state {
                    WaiverState::Expired => Some(format!("waiver {} expired on {}: ignored (owner {})", s.id, s.expires_on, s.owner)),
                    WaiverState::Pending => {
                        Some(format!("waiver {} is not in force until {}: ignored", s.id, s.effective_on.as_deref().unwrap_or("?")))
                    }
                    WaiverState::Expiring => Some(format!(
                        "warning: waiver {} expires on {} (owner {}): renew it or fix the finding",
                        s.id, s.expires_on, s.owner
                    )),
                    WaiverState::Active => None,
                }
            })
            .collect()
    }

    /// Every waiver and how often it matched, for the report.
    pub fn statuses(&self) -> Vec<WaiverStatus> {
        self.waivers
            .iter()
            .map(|w| {
                let s = &w.spec;
                WaiverStatus {
                    id: s.id.clone(),
                    package: s.package.clone(),
                    rule: s.rule.clone(),
                    term: s.term.clone(),
                    owner: s.owner.clone(),
                    reason: s.reason.clone(),
                    reference: s.reference.clone(),
                    effective_on: w.effective_on.map(crate::claims::rfc3339_of),
                    expires_on: crate::claims::rfc3339_of(w.expires_on),
                    state: w.state,
                    matched: w.matched.load(Ordering::Relaxed),
                    spec_sha256: crate::claims::sha256_hex(&serde_json::to_vec(s).unwrap_or_default()),
                }
            })
            .collect()
    }

    /// Move the findings a waiver in force covers from the subject's reasons (and
    /// warnings) to its `waived`, and decide its verdict again. Only policy findings
    /// are ever moved; a subject without a verified signature never passes.
    pub fn apply(&self, result: &mut SubjectResult) {
        if self.waivers.is_empty() || result.verdict == Verdict::Error {
            return;
        }
        let in_force: Vec<&Waiver> =
            self.waivers.iter().filter(|w| matches!(w.state, WaiverState::Active | WaiverState::Expiring)).collect();
        if in_force.is_empty() {
            return;
        }
        let applies: Vec<&Waiver> = in_force.into_iter().filter(|w| w.applies_to(result)).collect();
        if applies.is_empty() {
            return;
        }
        let mut kept = Vec::with_capacity(result.reasons.len());
        for reason in std::mem::take(&mut result.reasons) {
            let waiver = waivable(&reason).then(|| applies.iter().find(|w| w.covers_reason(&reason))).flatten();
            match waiver {
                Some(w) => {
                    w.matched.fetch_add(1, Ordering::Relaxed);
                    let rule = if reason.code == Code::PolicyWarn { "warn" } else { "deny" };
                    result.waived.push(w.waived(reason.shown_code(), &reason.message, rule, reason.title.clone()));
                }
                None => kept.push(reason),
            }
        }
        result.reasons = kept;
        // Under --fail-on-warn each warning is also a reason, waived (and counted) above:
        // each such reason accounts for exactly one warning.
        let mut waived_as_reasons: Vec<(String, String)> =
            result.waived.iter().filter(|w| w.rule == "warn").map(|w| (w.code.clone(), w.message.clone())).collect();
        let mut warnings = Vec::with_capacity(result.warnings.len());
        for finding in std::mem::take(&mut result.warnings) {
            let code = finding.code.clone().unwrap_or_else(|| format!("{}.warn", finding.package));
            match applies.iter().find(|w| w.covers(&finding.package, &code, finding.term.as_deref())) {
                Some(w) => {
                    let counted = waived_as_reasons.iter().position(|(c, m)| *c == code && m.ends_with(&finding.msg));
                    match counted {
                        Some(i) => {
                            waived_as_reasons.swap_remove(i);
                        }
                        None => {
                            w.matched.fetch_add(1, Ordering::Relaxed);
                            result.waived.push(w.waived(&code, &finding.msg, "warn", finding.title.clone()));
                        }
                    }
                }
                None => warnings.push(finding),
            }
        }
        result.warnings = warnings;
        if result.verdict == Verdict::Fail && result.reasons.is_empty() && result.verified {
            result.verdict = Verdict::Pass;
        }
    }
}

/// Only a policy's own findings can be waived: `deny` (and `warn` under --fail-on-warn).
/// Not a verification failure, not "no accepted signer", not a rule that errored.
fn waivable(reason: &Reason) -> bool {
    matches!(reason.code, Code::PolicyDeny | Code::PolicyWarn) && reason.package.is_some()
}

impl Waiver {
    fn applies_to(&self, s: &SubjectResult) -> bool {
        // The name reports show, or the subject as the plan lists it (`blob:dist/app.tgz`
        // → `dist/app.tgz`, relative to the manifest): the same waiver for `check` and
        // `verify-blob`, wherever the files were checked out.
        let listed = s.id.split_once(':').map(|(_, rest)| rest);
        let name_ok = self.subjects.as_ref().is_none_or(|g| g.is_match(&s.name) || listed.is_some_and(|l| g.is_match(l)));
        let digest_ok = self.digests.is_empty()
            || self.digests.iter().any(|d| match d.split_once(':') {
                Some(("sha256", hex)) => s.sha256.as_deref() == Some(hex),
                Some(("sha512", hex)) => s.sha512.as_deref() == Some(hex),
                _ => false,
            });
        let repository_ok = self.repositories.as_ref().is_none_or(|g| {
            let reference = s.name.split(" (from tag ").next().unwrap_or(&s.name);
            s.kind == "image"
                && crate::oci::ImageRef::parse(reference).is_ok_and(|r| g.is_match(format!("{}/{}", r.registry, r.repository)))
        });
        // Every verified signer must be of a listed project: a signature someone attached
        // from a listed project must not carry a waiver to a subject others signed.
        let project_ok = self
            .projects
            .as_ref()
            .is_none_or(|g| !s.signers.is_empty() && s.signers.iter().all(|x| x.project.as_deref().is_some_and(|p| g.is_match(p))));
        name_ok && digest_ok && repository_ok && project_ok
    }

    fn covers_reason(&self, r: &Reason) -> bool {
        r.package.as_deref().is_some_and(|p| self.covers(p, r.shown_code(), r.term.as_deref()))
    }

    fn covers(&self, package: &str, code: &str, term: Option<&str>) -> bool {
        self.spec.package == package && self.spec.rule == code && self.spec.term.as_deref().is_none_or(|t| term == Some(t))
    }

    fn waived(&self, code: &str, message: &str, rule: &str, title: Option<String>) -> Waived {
        Waived {
            code: code.to_string(),
            message: message.to_string(),
            rule: rule.to_string(),
            title,
            waiver: self.spec.id.clone(),
            owner: self.spec.owner.clone(),
            reference: self.spec.reference.clone(),
            expires_on: crate::claims::rfc3339_of(self.expires_on),
        }
    }
}
