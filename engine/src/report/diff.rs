//! `vouch report diff OLD.json NEW.json`: what changed between two reviews. Subjects
//! are matched by their plan id (`blob:PATH`, `image:REF`, …; by name for reports
//! without ids); findings by their code, not their message (messages carry times);
//! signers by identity, project and ref.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::{escape_controls as esc, Report, SubjectResult, Verdict};
use crate::decide::waivers::WaiverState;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Side {
    pub effective_time: String,
    pub plan: String,
    pub subjects: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VerdictChange {
    pub name: String,
    pub from: Verdict,
    pub to: Verdict,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DigestChange {
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FindingChange {
    pub name: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SignerChange {
    pub name: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct WaiverChanges {
    /// In force now, not before (new, or its effective_on came).
    pub started: Vec<String>,
    /// In force before, expired now.
    pub expired: Vec<String>,
    /// In force before and now, but no longer in the files.
    pub removed: Vec<String>,
    /// The same id, written differently (its scope, expiry or reason changed).
    #[serde(default)]
    pub changed: Vec<String>,
}

/// What changed from one report to the next.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Diff {
    pub old: Side,
    pub new: Side,
    pub added: Vec<Listed>,
    pub removed: Vec<Listed>,
    pub verdict_changes: Vec<VerdictChange>,
    pub digest_changes: Vec<DigestChange>,
    pub new_findings: Vec<FindingChange>,
    pub resolved_findings: Vec<FindingChange>,
    /// Findings a waiver covers now that failed the subject before, and the reverse.
    pub newly_waived: Vec<FindingChange>,
    pub no_longer_waived: Vec<FindingChange>,
    pub signer_changes: Vec<SignerChange>,
    pub waivers: WaiverChanges,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.verdict_changes.is_empty()
            && self.digest_changes.is_empty()
            && self.new_findings.is_empty()
            && self.resolved_findings.is_empty()
            && self.newly_waived.is_empty()
            && self.no_longer_waived.is_empty()
            && self.signer_changes.is_empty()
            && self.waivers == WaiverChanges::default()
    }
}

fn side(r: &Report) -> Side {
    Side {
        effective_time: r.effective_time.clone(),
        plan: r.plan.id.clone(),
        subjects: r.summary.subjects,
        passed: r.summary.passed,
        failed: r.summary.failed,
        errors: r.summary.errors,
    }
}

/// A subject's key: its plan id and name (one id can hold several names: a glob's files
/// each have their own id, an image several platforms).
fn key(s: &SubjectResult) -> (String, String) {
    (s.id.clone(), s.name.clone())
}

fn digest(s: &SubjectResult) -> Option<String> {
    s.sha256
        .as_ref()
        .map(|h| format!("sha256:{h}"))
        .or_else(|| s.sha512.as_ref().map(|h| format!("sha512:{h}")))
        .or_else(|| s.sha384.as_ref().map(|h| format!("sha384:{h}")))
}

/// Codes → a message, of what failed the subject.
fn findings(s: &SubjectResult) -> BTreeMap<String, String> {
    s.reasons.iter().map(|r| (r.shown_code().to_string(), r.message.clone())).collect()
}

/// Codes → a message, of what a waiver covered.
fn waived(s: &SubjectResult) -> BTreeMap<String, String> {
    s.waived.iter().map(|w| (w.code.clone(), w.message.clone())).collect()
}

fn signers(s: &SubjectResult) -> BTreeSet<String> {
    s.signers
        .iter()
        .map(|x| {
            let mut who = x.identity.clone().unwrap_or_else(|| "?".into());
            if let Some(p) = &x.project {
                who.push_str(&format!(" (project {p}"));
                if let Some(r) = &x.git_ref {
                    who.push_str(&format!(", ref {r}"));
                }
                who.push(')');
            }
            who
        })
        .collect()
}

pub fn diff(old: &Report, new: &Report) -> Diff {
    let before: BTreeMap<(String, String), &SubjectResult> = old.subjects.iter().map(|s| (key(s), s)).collect();
    let after: BTreeMap<(String, String), &SubjectResult> = new.subjects.iter().map(|s| (key(s), s)).collect();
    let listed = |s: &SubjectResult| Listed { name: s.name.clone(), verdict: s.verdict };
    let mut d = Diff {
        old: side(old),
        new: side(new),
        added: after.iter().filter(|(k, _)| !before.contains_key(*k)).map(|(_, s)| listed(s)).collect(),
        removed: before.iter().filter(|(k, _)| !after.contains_key(*k)).map(|(_, s)| listed(s)).collect(),
        verdict_changes: Vec::new(),
        digest_changes: Vec::new(),
        new_findings: Vec::new(),
        resolved_findings: Vec::new(),
        newly_waived: Vec::new(),
        no_longer_waived: Vec::new(),
        signer_changes: Vec::new(),
        waivers: WaiverChanges::default(),
    };
    for (k, now) in &after {
        let Some(was) = before.get(k) else { continue };
        let name = now.name.clone();
        if was.verdict != now.verdict {
            d.verdict_changes.push(VerdictChange { name: name.clone(), from: was.verdict, to: now.verdict });
        }
        if digest(was) != digest(now) {
            d.digest_changes.push(DigestChange { name: name.clone(), from: digest(was), to: digest(now) });
        }
        let (f0, f1) = (findings(was), findings(now));
        let (w0, w1) = (waived(was), waived(now));
        let change = |code: &String, message: &String| FindingChange { name: name.clone(), code: code.clone(), message: message.clone() };
        // A finding that moved between failing and waived is listed as that, not as new
        // or resolved.
        for (code, message) in f1.iter().filter(|(c, _)| !f0.contains_key(*c)) {
            if w0.contains_key(code) {
                d.no_longer_waived.push(change(code, message));
            } else {
                d.new_findings.push(change(code, message));
            }
        }
        for (code, message) in f0.iter().filter(|(c, _)| !f1.contains_key(*c)) {
            match w1.get(code) {
                Some(now_message) => d.newly_waived.push(change(code, now_message)),
                // A subject that no longer verifies was not judged by the policy: its
                // findings are not resolved (the verdict change says what happened).
                None if !now.verified => {}
                None => d.resolved_findings.push(change(code, message)),
            }
        }
        let (s0, s1) = (signers(was), signers(now));
        // A subject that lost every signature shows as a verdict change; a different
        // signer of a verified subject is what a reviewer must see here.
        if s0 != s1 && !s0.is_empty() && !s1.is_empty() {
            d.signer_changes.push(SignerChange { name, before: s0.into_iter().collect(), after: s1.into_iter().collect() });
        }
    }
    let in_force = |s: WaiverState| matches!(s, WaiverState::Active | WaiverState::Expiring);
    let old_w: BTreeMap<&str, WaiverState> = old.waivers.iter().map(|w| (w.id.as_str(), w.state)).collect();
    for w in &new.waivers {
        let was = old_w.get(w.id.as_str()).copied();
        if in_force(w.state) && !was.is_some_and(in_force) {
            d.waivers.started.push(w.id.clone());
        }
        if w.state == WaiverState::Expired && was.is_some_and(in_force) {
            d.waivers.expired.push(w.id.clone());
        }
    }
    for w in &old.waivers {
        match new.waivers.iter().find(|x| x.id == w.id) {
            None if in_force(w.state) => d.waivers.removed.push(w.id.clone()),
            Some(x) if x.spec_sha256 != w.spec_sha256 => d.waivers.changed.push(w.id.clone()),
            _ => {}
        }
    }
    d
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "not judged",
    }
}

/// The diff as text (escaped).
pub fn text(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "from {} ({} subjects: {} passed, {} failed, {} not judged)\n  to {} ({} subjects: {} passed, {} failed, {} not judged)",
        esc(&d.old.effective_time),
        d.old.subjects,
        d.old.passed,
        d.old.failed,
        d.old.errors,
        esc(&d.new.effective_time),
        d.new.subjects,
        d.new.passed,
        d.new.failed,
        d.new.errors
    );
    if d.is_empty() {
        out.push_str("no changes\n");
        return out;
    }
    for s in &d.added {
        let _ = writeln!(out, "+ {}  added ({})", esc(&s.name), verdict(s.verdict));
    }
    for s in &d.removed {
        let _ = writeln!(out, "- {}  removed (was {})", esc(&s.name), verdict(s.verdict));
    }
    for c in &d.verdict_changes {
        let _ = writeln!(out, "~ {}  {} -> {}", esc(&c.name), verdict(c.from), verdict(c.to));
    }
    for c in &d.digest_changes {
        let _ = writeln!(
            out,
            "~ {}  digest {} -> {}",
            esc(&c.name),
            esc(c.from.as_deref().unwrap_or("-")),
            esc(c.to.as_deref().unwrap_or("-"))
        );
    }
    for f in &d.new_findings {
        let _ = writeln!(out, "! {}  new finding {}: {}", esc(&f.name), esc(&f.code), esc(&f.message));
    }
    for f in &d.resolved_findings {
        let _ = writeln!(out, "  {}  resolved {}", esc(&f.name), esc(&f.code));
    }
    for f in &d.newly_waived {
        let _ = writeln!(out, "  {}  waived now {}", esc(&f.name), esc(&f.code));
    }
    for f in &d.no_longer_waived {
        let _ = writeln!(out, "! {}  no longer waived {}: {}", esc(&f.name), esc(&f.code), esc(&f.message));
    }
    for c in &d.signer_changes {
        let _ = writeln!(out, "! {}  signer changed: {} -> {}", esc(&c.name), esc(&c.before.join(", ")), esc(&c.after.join(", ")));
    }
    for (what, ids) in
        [("started", &d.waivers.started), ("expired", &d.waivers.expired), ("removed", &d.waivers.removed), ("changed", &d.waivers.changed)]
    {
        for id in ids {
            let _ = writeln!(out, "  waiver {} {what}", esc(id));
        }
    }
    out
}

/// One change as a row: what changed, of which subject (or waiver), and how (not escaped:
/// each renderer escapes for its own format).
pub struct Row {
    pub change: &'static str,
    pub name: String,
    pub detail: String,
}

impl Diff {
    /// Every change as a row, in the order the text lists them.
    pub fn rows(&self) -> Vec<Row> {
        let row = |change, name: &String, detail: String| Row { change, name: name.clone(), detail };
        let mut rows = Vec::new();
        rows.extend(self.added.iter().map(|s| row("added", &s.name, verdict(s.verdict).into())));
        rows.extend(self.removed.iter().map(|s| row("removed", &s.name, format!("was {}", verdict(s.verdict)))));
        rows.extend(self.verdict_changes.iter().map(|c| row("verdict", &c.name, format!("{} → {}", verdict(c.from), verdict(c.to)))));
        rows.extend(
            self.digest_changes
                .iter()
                .map(|c| row("digest", &c.name, format!("{} → {}", c.from.as_deref().unwrap_or("-"), c.to.as_deref().unwrap_or("-")))),
        );
        rows.extend(self.new_findings.iter().map(|f| row("new finding", &f.name, format!("{}: {}", f.code, f.message))));
        rows.extend(self.resolved_findings.iter().map(|f| row("resolved", &f.name, f.code.clone())));
        rows.extend(self.newly_waived.iter().map(|f| row("waived now", &f.name, f.code.clone())));
        rows.extend(self.no_longer_waived.iter().map(|f| row("no longer waived", &f.name, format!("{}: {}", f.code, f.message))));
        rows.extend(
            self.signer_changes.iter().map(|c| row("signer", &c.name, format!("{} → {}", c.before.join(", "), c.after.join(", ")))),
        );
        for (change, ids) in [
            ("waiver started", &self.waivers.started),
            ("waiver expired", &self.waivers.expired),
            ("waiver removed", &self.waivers.removed),
            ("waiver changed", &self.waivers.changed),
        ] {
            rows.extend(ids.iter().map(|id| row(change, id, String::new())));
        }
        rows
    }
}

/// The diff as Markdown, for a merge request or an issue: text from reports is escaped
/// so that it cannot start markup; names are code spans (no mentions or links there).
pub fn markdown(d: &Diff) -> String {
    use super::render::{md_cell as cell, md_code};
    let mut out = format!(
        "### vouch review: what changed\n\n| | effective time | subjects | passed | failed | not judged |\n|---|---|---:|---:|---:|---:|\n| before | {} | {} | {} | {} | {} |\n| now | {} | {} | {} | {} | {} |\n\n",
        cell(&d.old.effective_time),
        d.old.subjects,
        d.old.passed,
        d.old.failed,
        d.old.errors,
        cell(&d.new.effective_time),
        d.new.subjects,
        d.new.passed,
        d.new.failed,
        d.new.errors
    );
    if d.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    out.push_str("| change | subject | detail |\n|---|---|---|\n");
    for r in d.rows() {
        let _ = writeln!(out, "| {} | `{}` | {} |", r.change, md_code(&r.name), cell(&r.detail));
    }
    out
}

/// `vouch report diff`: read both reports.
pub fn diff_files(old: &std::path::Path, new: &std::path::Path) -> Result<Diff, crate::Error> {
    Ok(diff(&super::read_report(old)?, &super::read_report(new)?))
}
