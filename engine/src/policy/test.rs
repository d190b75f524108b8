//! `vouch test`: every `test_*` rule, like `opa test`, with coverage per file.

use std::path::PathBuf;

use regorus::Value;
use serde::Serialize;

use super::load;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Pass,
    Fail,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub package: String,
    pub name: String,
    pub location: String,
    pub status: TestStatus,
    /// What the rule evaluated to, when it failed, and the error when it errored.
    pub detail: Option<String>,
    /// What the test printed with `print(...)`.
    pub prints: Vec<String>,
    pub duration_us: u128,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileCoverage {
    pub path: String,
    pub covered: usize,
    pub not_covered: Vec<u32>,
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub tests: Vec<TestOutcome>,
    pub coverage: Vec<FileCoverage>,
    /// Lines covered over lines that could be, across the policy files (not tests).
    pub coverage_percent: f64,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.status == TestStatus::Pass).count()
    }

    pub fn failed(&self) -> usize {
        self.tests.len() - self.passed()
    }
}

/// Run every `test_*` rule under `dirs` (policies, tests and data together).
pub fn run_tests(dirs: &[PathBuf], effective_time: jiff::Timestamp) -> Result<TestReport, super::PolicyError> {
    let loaded = load::load(dirs, true, effective_time)?;
    let mut engine = loaded.engine;
    engine.set_enable_coverage(true);
    engine.set_gather_prints(true);
    engine.set_input(Value::Undefined);
    let mut tests = Vec::new();
    for (package, name, file, line) in &loaded.tests {
        let started = std::time::Instant::now();
        let scope = super::limits::Scope::enter();
        let result = engine.eval_rule(format!("data.{package}.{name}"));
        let tripped = super::limits::tripped();
        drop(scope);
        let prints = engine.take_prints().unwrap_or_default();
        let (status, detail) = match result {
            Ok(Value::Bool(true)) => (TestStatus::Pass, None),
            Ok(Value::Undefined) => (TestStatus::Fail, Some("undefined: a condition in the test body did not hold".to_string())),
            Ok(other) => (TestStatus::Fail, Some(format!("evaluated to {}", other.to_json_str().unwrap_or_default()))),
            Err(e) => (TestStatus::Error, Some(tripped.unwrap_or_else(|| load::error_message(&e)))),
        };
        tests.push(TestOutcome {
            package: package.clone(),
            name: name.clone(),
            location: format!("{}:{line}", file.display()),
            status,
            detail,
            prints,
            duration_us: started.elapsed().as_micros(),
        });
    }
    let report = engine.get_coverage_report().map_err(|e| super::PolicyError {
        kind: super::PolicyErrorKind::Compile,
        message: e.to_string(),
        path: None,
        line: None,
        col: None,
        source_text: None,
    })?;
    let mut coverage = Vec::new();
    let (mut covered_total, mut coverable_total) = (0usize, 0usize);
    for file in report.files {
        if file.path.ends_with("_test.rego") || file.path.starts_with("<vouch>") {
            continue;
        }
        let covered = file.covered.len();
        let coverable = covered + file.not_covered.len();
        covered_total += covered;
        coverable_total += coverable;
        let mut not_covered: Vec<u32> = file.not_covered.iter().copied().collect();
        not_covered.sort_unstable();
        coverage.push(FileCoverage { path: file.path, covered, not_covered, percent: percent(covered, coverable) });
    }
    coverage.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(TestReport { tests, coverage, coverage_percent: percent(covered_total, coverable_total) })
}

fn percent(covered: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        100.0 * covered as f64 / total as f64
    }
}

impl TestReport {
    /// `vouch test`'s output: JSON, or one line per test (failures with what the rule
    /// evaluated to and printed), coverage per file, and `N passed, M failed`.
    pub fn render(&self, json: bool, coverage: bool) -> String {
        use crate::report::escape_controls as esc;
        use std::fmt::Write as _;
        if json {
            return format!("{}\n", serde_json::to_string_pretty(self).unwrap_or_default());
        }
        let mut out = String::new();
        for t in &self.tests {
            let status = match t.status {
                TestStatus::Pass => "PASS",
                TestStatus::Fail => "FAIL",
                TestStatus::Error => "ERROR",
            };
            let _ = writeln!(out, "{status} {}.{} ({}, {}µs)", t.package, t.name, t.location, t.duration_us);
            if t.status != TestStatus::Pass {
                if let Some(detail) = &t.detail {
                    let _ = writeln!(out, "     {}", esc(detail));
                }
                for p in &t.prints {
                    let _ = writeln!(out, "     print: {}", esc(p));
                }
            }
        }
        if coverage {
            let _ = writeln!(out, "coverage:");
            for f in &self.coverage {
                let lines = f.not_covered.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ");
                let missing = if lines.is_empty() { String::new() } else { format!(", not covered: lines {lines}") };
                let _ = writeln!(out, "  {:5.1}% {}{missing}", f.percent, f.path);
            }
            let _ = writeln!(out, "  {:5.1}% total", self.coverage_percent);
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}
