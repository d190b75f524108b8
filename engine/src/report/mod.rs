//! The result of a batch, and its renderers: text, JSON (versioned, docs/report.schema.json),
//! JUnit (GitLab's merge-request test report), SARIF 2.1.0, Markdown (job summary / MR
//! comment) and GitLab Code Quality.

mod render;

use serde::{Deserialize, Serialize};

use crate::batch::{SubjectResult, SubjectVerdict};

pub use render::render;

/// The JSON report's format version.
pub const REPORT_VERSION: u32 = 1;

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
    pub summary: Summary,
    pub subjects: Vec<SubjectResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Report {
    pub fn new(subjects: Vec<SubjectResult>, effective_time: String, shard: String) -> Self {
        let mut report = Report {
            version: REPORT_VERSION,
            tool: Tool { name: "vouch".into(), version: env!("CARGO_PKG_VERSION").into() },
            effective_time,
            shards: vec![shard],
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

    /// Merge shard reports into one (`vouch report merge`).
    pub fn merge(reports: Vec<Report>) -> Result<Report, String> {
        let mut iter = reports.into_iter();
        let mut merged = iter.next().ok_or("no reports to merge")?;
        for r in iter {
            if r.version != merged.version {
                return Err(format!("report version {} cannot be merged with version {}", r.version, merged.version));
            }
            if r.effective_time != merged.effective_time {
                return Err(format!(
                    "reports of different effective times ({} and {}) cannot be merged",
                    merged.effective_time, r.effective_time
                ));
            }
            merged.shards.extend(r.shards);
            merged.subjects.extend(r.subjects);
        }
        merged.shards.sort();
        merged.shards.dedup();
        merged.summarize();
        Ok(merged)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Report, String> {
        let report: Report = serde_json::from_slice(bytes).map_err(|e| format!("not a vouch JSON report: {e}"))?;
        if report.version != REPORT_VERSION {
            return Err(format!("report version {} is not supported (this vouch writes {REPORT_VERSION})", report.version));
        }
        Ok(report)
    }
}
