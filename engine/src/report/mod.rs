//! The result of a batch, and its renderers: text, JSON (versioned, docs/report.schema.json),
//! JUnit (GitLab's merge-request test report), SARIF 2.1.0, Markdown (job summary / MR
//! comment) and GitLab Code Quality.

mod render;

use serde::{Deserialize, Serialize};

use crate::batch::{SubjectResult, SubjectVerdict};

pub use render::render;

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
/// its `plan`, so that merges can be checked).
pub const REPORT_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
    Markdown,
    GitlabCodequality,
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
            other => return Err(format!("unknown format {other:?}: text, json, junit, sarif, markdown, gitlab-codequality")),
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub subjects: usize,
    pub passed: usize,
    pub failed: usize,
    /// Not judged for infrastructure reasons.
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

/// Why shard reports cannot be merged; nothing was judged by the merge (exit 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

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
        };
        report.summarize();
        report
    }

    fn summarize(&mut self) {
        let count = |v| self.subjects.iter().filter(|s| s.verdict == v).count();
        self.summary = Summary {
            subjects: self.subjects.len(),
            passed: count(SubjectVerdict::Pass),
            failed: count(SubjectVerdict::Fail),
            errors: count(SubjectVerdict::Error),
        };
    }

    /// 0 all passed; 1 something failed, or was not judged beside judged subjects;
    /// 3 nothing could be judged for infrastructure reasons.
    pub fn exit_code(&self) -> u8 {
        let s = &self.summary;
        if s.failed == 0 && s.errors == 0 {
            0
        } else if s.errors > 0 && s.errors == s.subjects {
            3
        } else {
            1
        }
    }

    /// Merge shard reports into one (`vouch report merge`). Refused unless the reports are
    /// every shard 1..N of one plan exactly once, each holding a result for every subject
    /// it was assigned: a missing, repeated or foreign shard, or a lost subject, can never
    /// merge into a pass.
    pub fn merge(reports: Vec<Report>) -> Result<Report, MergeError> {
        let fail = |m: String| Err(MergeError(m));
        let Some(first) = reports.first() else {
            return fail("no reports to merge".into());
        };
        let (plan_id, total, time, version) =
            (first.plan.id.clone(), first.plan.shard_total, first.effective_time.clone(), first.tool.version.clone());
        // (Before anything is sized by N, which is read from a file.)
        if total == 0 || total > crate::batch::MAX_SHARDS {
            return fail(format!("report 1 names {total} shards: N must be 1..{}", crate::batch::MAX_SHARDS));
        }
        let mut seen: Vec<Option<usize>> = vec![None; usize::try_from(total).unwrap_or(0)];
        for (n, r) in reports.iter().enumerate() {
            // (Same subjects and N, other settings: say which.)
            if r.plan.setup_sha256 != first.plan.setup_sha256 && r.plan.subjects == first.plan.subjects && r.plan.shard_total == total {
                return fail(format!(
                    "report {} was run with another setup than report 1 (manifest, identities, trusted root, policies, --fail-on-warn or bundles differ): merge only the shards of one run",
                    n + 1
                ));
            }
            if r.plan.id != plan_id || r.plan.shard_total != total {
                return fail(format!(
                    "report {} is of another plan (plan {} with {} shards, not {} with {}): merge only the shards of one run",
                    n + 1,
                    short(&r.plan.id),
                    r.plan.shard_total,
                    short(&plan_id),
                    total
                ));
            }
            if r.effective_time != time {
                return fail(format!(
                    "report {} has effective time {}, report 1 {}: the shards of one gate must share one effective time (e.g. --effective-time \"$CI_PIPELINE_CREATED_AT\")",
                    n + 1,
                    r.effective_time,
                    time
                ));
            }
            if r.tool.version != version {
                return fail(format!("report {} was written by vouch {}, report 1 by {}", n + 1, r.tool.version, version));
            }
            for shard in &r.shards {
                let index = Self::shard_index(shard, total)
                    .ok_or_else(|| MergeError(format!("report {} names shard {shard:?}, not one of 1..{total}", n + 1)))?;
                if let Some(Some(other)) = seen.get(index) {
                    return fail(format!(
                        "shard {shard} is given twice (reports {} and {}): each shard must be merged exactly once",
                        other + 1,
                        n + 1
                    ));
                }
                if let Some(slot) = seen.get_mut(index) {
                    *slot = Some(n);
                }
            }
            // Each assigned subject is one of this report's shards' (a subject cannot be
            // counted in two shards), ...
            let shards: Vec<crate::batch::Shard> = r.shards.iter().filter_map(|s| crate::batch::Shard::parse(s)).collect();
            if let Some(stray) = r.plan.assigned.iter().find(|id| !shards.iter().any(|s| s.contains(id))) {
                return fail(format!(
                    "report {} lists {stray} as assigned, but that subject is not in its shard {}: it is altered",
                    n + 1,
                    r.shards.join(", ")
                ));
            }
            // ... has its result, and nothing else is there.
            let mut assigned = r.plan.assigned.clone();
            let mut judged: Vec<String> = r.subjects.iter().map(|s| s.id.clone()).collect();
            assigned.sort();
            judged.sort();
            if assigned != judged {
                let missing: Vec<&String> = assigned.iter().filter(|a| !judged.contains(a)).take(3).collect();
                return fail(format!(
                    "report {} holds {} results for {} assigned subjects{}: it is incomplete or altered",
                    n + 1,
                    judged.len(),
                    assigned.len(),
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(" (missing: {})", missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "))
                    }
                ));
            }
        }
        let missing: Vec<String> =
            seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| format!("{}/{total}", i + 1)).collect();
        if !missing.is_empty() {
            return fail(format!(
                "shard{} {} of the plan {} missing: a merge needs every shard 1..{total}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ));
        }
        // The shards' subjects together are the plan's: its id is recomputed from them.
        let all: Vec<String> = reports.iter().flat_map(|r| r.plan.assigned.iter().cloned()).collect();
        if PlanInfo::id_of(&first.plan.setup_sha256, all) != plan_id {
            return fail(
                "the shards' assigned subjects are not the plan's (its id does not match them): a subject was lost, repeated or changed"
                    .into(),
            );
        }
        let mut iter = reports.into_iter();
        let Some(mut merged) = iter.next() else {
            return fail("no reports to merge".into());
        };
        for r in iter {
            merged.shards.extend(r.shards);
            merged.plan.assigned.extend(r.plan.assigned);
            merged.subjects.extend(r.subjects);
        }
        if merged.subjects.len() != merged.plan.subjects {
            return fail(format!(
                "the shards hold {} subjects, the plan {}: a subject was lost or added between shard jobs",
                merged.subjects.len(),
                merged.plan.subjects
            ));
        }
        if merged.plan.subjects == 0 {
            return fail("the plan has no subjects: a gate that judged nothing cannot pass".into());
        }
        merged.shards.sort_by_key(|s| Self::shard_index(s, total));
        merged.summarize();
        Ok(merged)
    }

    /// `I/N` → I-1, for N = `total`.
    fn shard_index(shard: &str, total: u64) -> Option<usize> {
        let (i, n) = shard.split_once('/')?;
        let (i, n): (u64, u64) = (i.parse().ok()?, n.parse().ok()?);
        (n == total && i >= 1 && i <= n).then(|| usize::try_from(i - 1).ok()).flatten()
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

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
