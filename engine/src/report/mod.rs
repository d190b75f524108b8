//! The one result of every command, a [`Report`] of subjects, and its renderers: text,
//! JSON (versioned, docs/report.schema.json), JUnit (GitLab's merge-request test report),
//! SARIF 2.1.0, Markdown (job summary / MR comment) and GitLab Code Quality; and the
//! merge of a sharded run's reports.

pub mod diff;
pub mod html;
mod merge;
mod render;

use serde::{Deserialize, Serialize};

use crate::error::{Class, Code, Reason};
use crate::policy::Finding;

pub use merge::MergeError;
pub use render::{claims_document, human_details, render, waiver_lines, Detail};

/// A subject's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not judged: the registry or network failed (retrying may help), or refused the
    /// credentials.
    Error,
}

/// Who signed, in brief.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignerSummary {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// The GitLab project path or GitHub repository the certificate names.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub project: Option<String>,
    /// The source ref and commit the certificate names (Fulcio .14 and .13).
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none", default)]
    pub git_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commit: Option<String>,
    /// The pipeline/job (GitLab) or workflow run (GitHub) that signed (Fulcio .21).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run_url: Option<String>,
    /// When it was signed, from verified evidence (a SET or an RFC 3161 timestamp).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signed_at: Option<String>,
    /// The transparency log index of the entry.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_index: Option<u64>,
    /// The SHA-256 of the bundle file it came from (a VSA's `inputAttestations`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bundle_sha256: Option<String>,
}

/// A package subject's registry evidence, in brief: what `npm audit signatures` counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageSummary {
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// `verified`, `missing`, `invalid` or `none` (the registry signs nothing).
    pub registry_signature: String,
    /// Attestations that verified, and that did not.
    pub attestations: usize,
    pub invalid_attestations: usize,
}

/// One subject's result. In a batch ([`crate::plan::Detail::Summary`]) it is small, so
/// that a batch's memory is its results; the single-subject commands keep everything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectResult {
    /// The subject's plan id ([`crate::plan::SubjectPlan::id`]): what `report merge`
    /// checks off.
    #[serde(default)]
    pub id: String,
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// For a subject given as a `sha384:`/`sha512:` digest (its sha256 is not known).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha384: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha512: Option<String>,
    pub verdict: Verdict,
    /// Whether at least one signature verified (policies may still deny).
    #[serde(default)]
    pub verified: bool,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<Reason>,
    pub signers: Vec<SignerSummary>,
    pub warnings: Vec<Finding>,
    /// The claims that decided, for failed subjects (summary detail).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub claims: Vec<serde_json::Value>,
    /// Full detail: each verified signature (kind, bundle, claims, statement, log).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub signatures: Vec<serde_json::Value>,
    /// Full detail: each piece of evidence that did not verify.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub verification_errors: Vec<Reason>,
    /// Full detail: the policy's findings (with the rule's `file:line` for `explain`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub decision: Option<serde_json::Value>,
    /// `explain`: the policy input.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub input: Option<serde_json::Value>,
    /// A package subject's registry evidence.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub package: Option<PackageSummary>,
    /// Policy findings a waiver in force covered (docs/reviews.md#waivers).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub waived: Vec<crate::decide::waivers::Waived>,
    /// A verification summary (VSA) that passed it, or was refused (docs/reviews.md).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub summary: Option<Box<crate::vsa::SummaryUse>>,
}

impl SubjectResult {
    /// A subject that could not be judged as far as verification: `error` is its reason.
    pub fn failed(kind: &str, name: String, sha256: Option<String>, error: &crate::Error) -> Self {
        Self::not_verified(kind, name, sha256, Reason::of(error))
    }

    pub fn not_verified(kind: &str, name: String, sha256: Option<String>, reason: Reason) -> Self {
        SubjectResult {
            id: String::new(),
            kind: kind.into(),
            name,
            sha256,
            sha384: None,
            sha512: None,
            verdict: if not_judged(reason.code) { Verdict::Error } else { Verdict::Fail },
            verified: false,
            reasons: vec![reason],
            signers: Vec::new(),
            warnings: Vec::new(),
            claims: Vec::new(),
            signatures: Vec::new(),
            verification_errors: Vec::new(),
            decision: None,
            input: None,
            package: None,
            waived: Vec::new(),
            summary: None,
        }
    }
}

/// A subject that failed for this reason was not judged: the registry could not be
/// asked, or refused the credentials (configuration, exit 2 when nothing else was).
fn not_judged(code: Code) -> bool {
    code.class() == Class::Infrastructure
        || code == Code::RegistryUnauthorized
        || code == Code::AttestUnauthorized
        || code == Code::PackageUnauthorized
}

/// A string from outside (a file name, a tag, a claim, a message quoting them) made safe
/// for a terminal, a log or a page: control characters (C0, DEL, C1) and the Unicode
/// bidirectional overrides, which can hide or reorder text, are written as visible
/// `\u{…}` escapes (`\r`, `\n`, `\t`, `\e` for the common ones). A carriage return in a
/// file name then cannot overwrite its FAIL line with a PASS.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        // Controls; bidirectional and zero-width marks (U+061C, U+200B..U+200F, U+202A..U+202E,
        // U+2066..U+2069, U+FEFF); line and paragraph separators; interlinear annotations;
        // and U+FFFE/U+FFFF, which XML cannot carry.
        c.is_control()
            || matches!(
                c,
                '\u{061c}'
                    | '\u{200b}'..='\u{200f}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{feff}'
                    | '\u{fff9}'..='\u{fffb}'
                    | '\u{fffe}'
                    | '\u{ffff}'
            )
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The JSON report's format version (2: subjects carry their plan `id`, and the report
/// its `plan`, so that merges can be checked; 3: every command writes it, subjects carry
/// `verified` and, from the single-subject commands, their full detail).
pub const REPORT_VERSION: u32 = 3;

/// A report this large is not one vouch wrote (10,000 subjects are a few MB).
pub const MAX_REPORT_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Markdown,
    GitlabCodequality,
    /// One self-contained page (docs/reviews.md#the-html-report).
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "junit" => Format::Junit,
            "sarif" => Format::Sarif,
            "markdown" => Format::Markdown,
            "gitlab-codequality" => Format::GitlabCodequality,
            "html" => Format::Html,
            other => return Err(format!("unknown format {other:?}: text, json, junit, sarif, markdown, gitlab-codequality, html")),
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub subjects: usize,
    pub passed: usize,
    pub failed: usize,
    /// Not judged: the registry could not be asked, or refused the credentials.
    pub errors: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub tool: Tool,
    pub effective_time: String,
    /// The shards this report covers (`1/1`, or several after `report merge`).
    pub shards: Vec<String>,
    pub plan: PlanInfo,
    pub summary: Summary,
    pub subjects: Vec<SubjectResult>,
    /// Every waiver of the run, its state at the effective time and how often it matched.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub waivers: Vec<crate::decide::waivers::WaiverStatus>,
}

/// The plan a report judged (part of it, for a shard).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlanInfo {
    /// SHA-256 over `setup_sha256` and the sorted ids of every subject of the whole
    /// plan ([`PlanInfo::id_of`]): equal in every shard of one plan.
    pub id: String,
    /// SHA-256 over what the verdicts depend on beside the subject ids: the manifest,
    /// trusted root and platforms, signers, policies and their data, fail-on-warn, N and
    /// each subject's bundles.
    pub setup_sha256: String,
    pub manifest_sha256: Option<String>,
    pub policy_sha256: Option<String>,
    /// Subjects in the whole plan (all shards).
    pub subjects: usize,
    /// N of `--shard I/N`.
    pub shard_total: u64,
    /// The ids of the subjects this report was given (duplicates included).
    pub assigned: Vec<String>,
    /// Whether the plan decided who may sign. `vouch claims` verifies with any identity
    /// and authorises nobody: its reports never merge into a gate's.
    #[serde(default)]
    pub judges_signers: bool,
    /// The trusted root the run verified against, and what the user was warned of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustInfo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrustInfo {
    pub source: String,
    pub sha256: String,
    pub warnings: Vec<String>,
}

impl PlanInfo {
    /// The plan's id from its setup and all its subject ids (in any order).
    pub fn id_of(setup_sha256: &str, mut ids: Vec<String>) -> String {
        ids.sort();
        let mut whole = format!("vouch-plan-v2\nsetup {setup_sha256}\n");
        for id in &ids {
            whole.push_str(id);
            whole.push('\n');
        }
        sigstore_verify::crypto::sha256(whole.as_bytes()).to_hex()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Report {
    pub fn new(subjects: Vec<SubjectResult>, effective_time: String, shard: String, plan: PlanInfo) -> Self {
        let mut report = Report {
            version: REPORT_VERSION,
            tool: Tool { name: "vouch".into(), version: env!("CARGO_PKG_VERSION").into() },
            effective_time,
            shards: vec![shard],
            plan,
            summary: Summary::default(),
            subjects,
            waivers: Vec::new(),
        };
        report.summarize();
        report
    }

    fn summarize(&mut self) {
        let count = |v| self.subjects.iter().filter(|s| s.verdict == v).count();
        self.summary = Summary {
            subjects: self.subjects.len(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            errors: count(Verdict::Error),
        };
    }

    /// 0 all passed; 1 something failed, or was not judged beside judged subjects;
    /// when nothing could be judged, 3 (infrastructure: retrying may help) or 2 (the
    /// registry refused the credentials).
    pub fn exit_code(&self) -> u8 {
        let s = &self.summary;
        if s.failed == 0 && s.errors == 0 {
            0
        } else if s.errors == s.subjects {
            let infrastructure = self.subjects.iter().flat_map(|s| &s.reasons).any(|r| r.code.class() == Class::Infrastructure);
            if infrastructure {
                3
            } else {
                2
            }
        } else {
            1
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<Report, String> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        if let Ok(Version { version }) = serde_json::from_slice::<Version>(bytes) {
            if version != REPORT_VERSION {
                return Err(format!(
                    "report version {version} is not supported (this vouch writes {REPORT_VERSION}); re-run the shards with this vouch"
                ));
            }
        }
        let report: Report = serde_json::from_slice(bytes).map_err(|e| format!("not a vouch JSON report: {e}"))?;
        if report.version != REPORT_VERSION {
            return Err(format!("report version {} is not supported (this vouch writes {REPORT_VERSION})", report.version));
        }
        Ok(report)
    }
}

/// Where a command's report goes: one format on stdout, others to files
/// (`--format F`, `--output F=PATH`).
#[derive(Debug, Clone)]
pub struct Outputs {
    pub stdout: Format,
    pub files: Vec<(Format, std::path::PathBuf)>,
    /// An earlier report: the HTML report shows what changed since.
    pub previous: Option<Box<Report>>,
}

impl Outputs {
    pub fn parse(format: Option<&str>, outputs: &[String], default: Format) -> Result<Self, crate::Error> {
        let parse = |f: &str| f.parse::<Format>().map_err(|m| crate::Error::usage(Code::UsageFormat, m));
        let stdout = format.map(parse).transpose()?.unwrap_or(default);
        let files = outputs
            .iter()
            .map(|o| match o.split_once('=') {
                Some((f, path)) => Ok((parse(f)?, std::path::PathBuf::from(path))),
                None => Err(crate::Error::usage(
                    Code::UsageFormat,
                    format!("--output {o:?}: write FORMAT=PATH, e.g. junit=vouch.xml (the format on stdout is --format {o})"),
                )),
            })
            .collect::<Result<_, crate::Error>>()?;
        Ok(Outputs { stdout, files, previous: None })
    }

    /// A report in a format; the HTML one with the changes since `previous`.
    pub fn render(&self, report: &Report, format: Format) -> Result<String, crate::Error> {
        match (format, &self.previous) {
            (Format::Html, Some(old)) => Ok(html::render(report, Some(&diff::diff(old, report)))),
            _ => Ok(render(report, format)),
        }
    }

    /// `--previous-report`: read before anything is judged (a bad one is exit 2, and so
    /// is one no output would show).
    pub fn with_previous(mut self, path: Option<&std::path::Path>) -> Result<Self, crate::Error> {
        if let Some(path) = path {
            if self.stdout != Format::Html && !self.files.iter().any(|(f, _)| *f == Format::Html) {
                return Err(crate::Error::usage(
                    Code::UsageFormat,
                    "--previous-report shows the changes in the HTML report: add --format html or --output html=PATH (or run `vouch report diff`)",
                ));
            }
            self.previous = Some(Box::new(read_report(path)?));
        }
        Ok(self)
    }

    /// Write each file in its format.
    pub fn write_files<S: AsRef<str>>(&self, render: impl Fn(Format) -> Result<S, crate::Error>) -> Result<(), crate::Error> {
        for (format, path) in &self.files {
            let text = render(*format)?;
            std::fs::write(path, text.as_ref()).map_err(|source| crate::Error::Io { path: path.clone(), what: "report", source })?;
        }
        Ok(())
    }
}

/// A JSON report this vouch wrote.
pub fn read_report(path: &std::path::Path) -> Result<Report, crate::Error> {
    let bytes = crate::trust::read_limited(path, "report", MAX_REPORT_BYTES)?;
    Report::from_json(&bytes).map_err(|m| crate::Error::usage(Code::ReportRead, format!("{}: {m}", path.display())))
}

/// `vouch report merge`: read each shard's JSON report and merge them.
pub fn merge_files(paths: &[std::path::PathBuf]) -> Result<Report, crate::Error> {
    let reports = paths.iter().map(|p| read_report(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(Report::merge(reports)?)
}
