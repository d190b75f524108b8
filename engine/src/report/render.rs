use std::fmt::Write as _;

use serde_json::json;

use super::{escape_controls as esc, Format, Report};
use super::{SubjectResult, Verdict as SubjectVerdict};

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Junit => junit(report),
        Format::Sarif => serde_json::to_string_pretty(&sarif(report)).unwrap_or_default() + "\n",
        Format::Markdown => markdown(report),
        Format::GitlabCodequality => serde_json::to_string_pretty(&codequality(report)).unwrap_or_default() + "\n",
    }
}

/// Who signed, escaped.
fn signers(s: &SubjectResult) -> String {
    let mut names: Vec<String> = s.signers.iter().filter_map(|x| x.identity.as_deref().map(|i| esc(i).into_owned())).collect();
    names.dedup();
    names.join(", ")
}

/// Why it failed, escaped.
fn reasons(s: &SubjectResult) -> String {
    s.reasons.iter().map(|r| format!("{}: {}", esc(r.shown_code()), esc(&r.message))).collect::<Vec<_>>().join("; ")
}

fn verdict(v: SubjectVerdict) -> &'static str {
    match v {
        SubjectVerdict::Pass => "PASS",
        SubjectVerdict::Fail => "FAIL",
        SubjectVerdict::Error => "ERROR",
    }
}

fn text(r: &Report) -> String {
    let mut out = String::new();
    for s in &r.subjects {
        match s.verdict {
            SubjectVerdict::Pass => {
                let _ = writeln!(out, "PASS  {}  signed by {}", esc(&s.name), signers(s));
            }
            _ => {
                let _ = writeln!(out, "{}  {}  {}", verdict(s.verdict), esc(&s.name), reasons(s));
            }
        }
        for w in &s.warnings {
            let _ = writeln!(out, "      warning [{}] {}", esc(&w.package), esc(&w.msg));
        }
        // `explain`: each finding with the rule that produced it.
        for f in findings(s) {
            if let Some(location) = &f.location {
                let _ = writeln!(out, "      {} [{}] {} at {}", f.rule.as_str(), esc(&f.package), esc(&f.msg), esc(location));
            }
        }
    }
    let m = &r.summary;
    let _ = writeln!(
        out,
        "{} subject{}: {} passed, {} failed, {} not judged (shard {})",
        m.subjects,
        if m.subjects == 1 { "" } else { "s" },
        m.passed,
        m.failed,
        m.errors,
        r.shards.join(", ")
    );
    out
}

/// XML text or attribute: escaped markup, and control characters as visible escapes
/// (XML 1.0 cannot carry most of them, and a viewer must not act on them).
fn xml(s: &str) -> String {
    esc(s)
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML as GitLab reads it (`artifacts:reports:junit`): one testcase per subject.
fn junit(r: &Report) -> String {
    let m = &r.summary;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"vouch\" tests=\"{}\" failures=\"{}\" errors=\"{}\">", m.subjects, m.failed, m.errors);
    let _ = writeln!(
        out,
        "  <testsuite name=\"vouch check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" timestamp=\"{}\">",
        m.subjects,
        m.failed,
        m.errors,
        xml(&r.effective_time)
    );
    for s in &r.subjects {
        let _ = write!(out, "    <testcase classname=\"vouch.{}\" name=\"{}\"", xml(&s.kind), xml(&s.name));
        match s.verdict {
            SubjectVerdict::Pass => {
                let _ = writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", xml(&format!("signed by {}", signers(s))));
            }
            v => {
                let tag = if v == SubjectVerdict::Error { "error" } else { "failure" };
                let first = s.reasons.first();
                let _ = writeln!(
                    out,
                    ">\n      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>\n    </testcase>",
                    xml(first.map_or("vouch", |r| r.shown_code())),
                    xml(first.map_or("failed", |r| r.message.as_str())),
                    xml(&details(s))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Every reason, and the claims that decided.
fn details(s: &SubjectResult) -> String {
    let mut d = String::new();
    for r in &s.reasons {
        let _ = writeln!(d, "{}: {}", esc(r.shown_code()), esc(&r.message));
    }
    for c in &s.claims {
        let _ = writeln!(d, "claims: {}", serde_json::to_string(c).unwrap_or_default());
    }
    d
}

fn sarif(r: &Report) -> serde_json::Value {
    let mut rules: Vec<String> = r
        .subjects
        .iter()
        .flat_map(|s| {
            s.reasons
                .iter()
                .map(|x| x.shown_code().to_string())
                .chain(s.warnings.iter().map(|w| w.code.clone().unwrap_or_else(|| format!("{}.warn", w.package))))
        })
        .collect();
    rules.sort();
    rules.dedup();
    let mut results = Vec::new();
    for s in &r.subjects {
        let location = json!([{"physicalLocation": {"artifactLocation": {"uri": esc(&s.name)}}}]);
        for reason in &s.reasons {
            results.push(json!({
                "ruleId": reason.shown_code(),
                "level": if s.verdict == SubjectVerdict::Error { "warning" } else { "error" },
                "message": {"text": format!("{}: {}", esc(&s.name), esc(&reason.message))},
                "locations": location,
            }));
        }
        for w in &s.warnings {
            results.push(json!({
                "ruleId": w.code.clone().unwrap_or_else(|| format!("{}.warn", w.package)),
                "level": "warning",
                "message": {"text": format!("{}: {}", esc(&s.name), esc(&w.msg))},
                "locations": location,
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "vouch",
                "version": r.tool.version,
                "informationUri": "https://github.com/vouch-dev/vouch",
                "rules": rules.iter().map(|id| json!({"id": id, "shortDescription": {"text": id}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }]
    })
}

fn markdown(r: &Report) -> String {
    let m = &r.summary;
    let icon = if r.exit_code() == 0 { "✅" } else { "❌" };
    let mut out = format!("### {icon} vouch: {} of {} subjects may ship\n\n", m.passed, m.subjects);
    if m.failed + m.errors > 0 {
        let _ = writeln!(out, "{} failed, {} not judged.\n", m.failed, m.errors);
    }
    out.push_str("| | subject | signed by | reasons |\n|---|---|---|---|\n");
    // Text from outside cannot end a cell or a code span, nor start markup: a name like
    // `[PASS](https://evil)` or `![](…)` stays text.
    let code = |s: &str| esc(s).replace('|', "\\|").replace('`', "'");
    let cell = |s: &str| {
        let mut out = String::new();
        for c in esc(s).chars() {
            match c {
                '\\' | '[' | ']' | '(' | ')' | '*' | '_' | '~' | '!' | '#' | '|' | '`' => {
                    out.push('\\');
                    out.push(c);
                }
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                c => out.push(c),
            }
        }
        out
    };
    for s in &r.subjects {
        let mark = match s.verdict {
            SubjectVerdict::Pass => "✅",
            SubjectVerdict::Fail => "❌",
            SubjectVerdict::Error => "⚠️",
        };
        let why: Vec<String> = s
            .reasons
            .iter()
            .map(|x| format!("`{}` {}", code(x.shown_code()), cell(&x.message)))
            .chain(s.warnings.iter().map(|w| format!("warning: {}", cell(&w.msg))))
            .collect();
        let _ = writeln!(out, "| {mark} | `{}` | {} | {} |", code(&s.name), cell(&signers(s)), why.join("<br>"));
    }
    out
}

/// GitLab Code Quality (Code Climate subset): one issue per reason.
fn codequality(r: &Report) -> serde_json::Value {
    let mut issues = Vec::new();
    for s in &r.subjects {
        for reason in &s.reasons {
            let fingerprint =
                sigstore_verify::crypto::sha256(format!("{}\0{}\0{}", s.name, reason.shown_code(), reason.message).as_bytes()).to_hex();
            issues.push(json!({
                "description": format!("{}: {}", esc(&s.name), esc(&reason.message)),
                "check_name": reason.shown_code(),
                "fingerprint": &fingerprint[..32],
                "severity": if s.verdict == SubjectVerdict::Error { "minor" } else { "major" },
                "location": {"path": esc(&s.name), "lines": {"begin": 1}},
            }));
        }
        for w in &s.warnings {
            let fingerprint = sigstore_verify::crypto::sha256(format!("{}\0{}", s.name, w.msg).as_bytes()).to_hex();
            issues.push(json!({
                "description": format!("{}: {}", esc(&s.name), esc(&w.msg)),
                "check_name": w.code.clone().unwrap_or_else(|| format!("{}.warn", w.package)),
                "fingerprint": &fingerprint[..32],
                "severity": "minor",
                "location": {"path": esc(&s.name), "lines": {"begin": 1}},
            }));
        }
    }
    serde_json::Value::Array(issues)
}

/// A subject's policy findings (full detail only), deny first.
fn findings(s: &SubjectResult) -> Vec<crate::policy::Finding> {
    ["deny", "warn"]
        .iter()
        .filter_map(|rule| s.decision.as_ref()?.get(rule).cloned())
        .filter_map(|v| serde_json::from_value::<Vec<crate::policy::Finding>>(v).ok())
        .flatten()
        .collect()
}

/// A line of what a person reads of a single-subject run: a diagnostic (the CLI renders
/// its code and hint), or text. Both are escaped already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    Diagnostic { code: crate::Code, message: String },
    Line(String),
}

/// What a person reads of a single-subject run, for stderr: each piece of evidence that
/// did not verify, each verified signer, each policy finding with its rule, the other
/// reasons, and a verdict line.
pub fn human_details(report: &Report) -> Vec<Detail> {
    let mut out = Vec::new();
    for s in &report.subjects {
        let diagnostic = |out: &mut Vec<Detail>, r: &crate::error::Reason| {
            out.push(Detail::Diagnostic { code: r.code, message: format!("{}: {}", esc(&s.name), esc(&r.message)) });
        };
        let line = |out: &mut Vec<Detail>, text: String| out.push(Detail::Line(text));
        for r in &s.verification_errors {
            diagnostic(&mut out, r);
        }
        for signer in &s.signers {
            let issuer = signer.issuer.as_deref().map(|i| format!(" (issuer {})", esc(i))).unwrap_or_default();
            line(&mut out, format!("Verified OK: {} signed by {}{issuer}", esc(&s.name), esc(signer.identity.as_deref().unwrap_or("?"))));
        }
        let findings = findings(s);
        for f in &findings {
            let code = f.code.as_deref().map(|c| format!(" ({})", esc(c))).unwrap_or_default();
            let at = f.location.as_deref().map(|l| format!(" at {}", esc(l))).unwrap_or_default();
            line(&mut out, format!("{} [{}]{code} {}{at}", f.rule.as_str().to_uppercase(), esc(&f.package), esc(&f.msg)));
        }
        // Reasons beside the findings and the evidence already shown.
        for r in s.reasons.iter().filter(|r| r.rule_code.is_none() && !s.verification_errors.contains(r)) {
            diagnostic(&mut out, r);
        }
        if s.decision.is_some() || s.verdict != SubjectVerdict::Pass {
            let count = |rule| findings.iter().filter(|f| f.rule.as_str() == rule).count();
            line(&mut out, format!("{}: {} ({} denied, {} warnings)", verdict(s.verdict), esc(&s.name), count("deny"), count("warn")));
        }
    }
    out
}

/// `vouch claims --format json`: the signer's claims document (the signature, for a
/// key-signed bundle), or the report when nothing verified.
pub fn claims_document(report: &Report) -> String {
    let doc = report
        .subjects
        .first()
        .and_then(|s| s.signatures.first())
        .map(|sig| sig.get("claims").filter(|c| !c.is_null()).unwrap_or(sig).clone())
        .unwrap_or_else(|| serde_json::to_value(report).unwrap_or_default());
    format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default())
}
