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
        Format::Html => super::html::render(report, None),
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
            SubjectVerdict::Pass => match s.summary.as_ref().filter(|u| u.used) {
                Some(u) => {
                    let _ = writeln!(
                        out,
                        "PASS  {}  verified by summary (signed by {} at {})",
                        esc(&s.name),
                        esc(u.signer.as_deref().unwrap_or("?")),
                        esc(u.time_verified.as_deref().unwrap_or("?"))
                    );
                }
                None => {
                    let _ = writeln!(out, "PASS  {}  signed by {}", esc(&s.name), signers(s));
                }
            },
            _ => {
                let _ = writeln!(out, "{}  {}  {}", verdict(s.verdict), esc(&s.name), reasons(s));
                for fix in fixes(s) {
                    let _ = writeln!(out, "      fix: {}", esc(&fix));
                }
            }
        }
        for w in &s.warnings {
            let _ = writeln!(out, "      warning [{}] {}", esc(&w.package), esc(&w.msg));
        }
        for w in &s.waived {
            let _ = writeln!(out, "      {}", waived_line(w));
        }
        if let Some(why) = s.summary.as_ref().and_then(|u| u.rejected.as_deref()) {
            let _ = writeln!(out, "      summary not used ({why}): verified in full");
        }
        // `explain`: each finding with the rule that produced it.
        for f in findings(s) {
            if let Some(location) = &f.location {
                let _ = writeln!(out, "      {} [{}] {} at {}", f.rule.as_str(), esc(&f.package), esc(&f.msg), esc(location));
            }
        }
    }
    package_counts(r, &mut out);
    for line in waiver_lines(r) {
        let _ = writeln!(out, "{line}");
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

/// A waived finding in one line, escaped.
fn waived_line(w: &crate::decide::waivers::Waived) -> String {
    let reference = w.reference.as_deref().map(|r| format!(", {}", esc(r))).unwrap_or_default();
    format!(
        "waived {} [{}] {} (waiver {}, owner {}, expires {}{reference})",
        w.rule,
        esc(&w.code),
        esc(&w.message),
        esc(&w.waiver),
        esc(&w.owner),
        esc(&w.expires_on)
    )
}

/// The run's waivers in brief: what was waived, and each waiver a reviewer must act on
/// (expiring, expired, not yet in force, unused). Escaped.
pub fn waiver_lines(r: &Report) -> Vec<String> {
    use crate::decide::waivers::WaiverState;
    if r.waivers.is_empty() {
        return Vec::new();
    }
    let count = |f: &dyn Fn(&crate::decide::waivers::WaiverStatus) -> bool| r.waivers.iter().filter(|w| f(w)).count();
    let waived: usize = r.subjects.iter().map(|s| s.waived.len()).sum();
    let mut lines = vec![format!(
        "\nwaivers: {} in force, {waived} finding{} waived; {} expiring soon, {} expired (ignored), {} not yet in force, {} unused",
        count(&|w| matches!(w.state, WaiverState::Active | WaiverState::Expiring)),
        if waived == 1 { "" } else { "s" },
        count(&|w| w.state == WaiverState::Expiring),
        count(&|w| w.state == WaiverState::Expired),
        count(&|w| w.state == WaiverState::Pending),
        count(&|w| w.unused()),
    )];
    for w in &r.waivers {
        let what = match w.state {
            WaiverState::Expiring => "expires soon",
            WaiverState::Expired => "expired (ignored)",
            WaiverState::Pending => "not yet in force (ignored)",
            WaiverState::Active if w.unused() => "unused",
            WaiverState::Active => continue,
        };
        let what = if w.state == WaiverState::Expiring && w.unused() { "expires soon, unused" } else { what };
        lines.push(format!(
            "  {}: {what}: {} {} for {}, expires {}{}",
            esc(&w.id),
            esc(&w.package),
            esc(&w.rule),
            esc(&w.owner),
            esc(&w.expires_on),
            w.reference.as_deref().map(|r| format!(", {}", esc(r))).unwrap_or_default()
        ));
    }
    lines
}

/// The counts `npm audit signatures` prints, for the package subjects of a report
/// (docs/packages.md#parity-with-npm-audit-signatures).
fn package_counts(r: &Report, out: &mut String) {
    let packages: Vec<&crate::report::SubjectResult> = r.subjects.iter().filter(|s| s.kind == "package").collect();
    if packages.is_empty() {
        return;
    }
    let count = |f: &dyn Fn(&crate::report::PackageSummary) -> bool| packages.iter().filter(|s| s.package.as_ref().is_some_and(f)).count();
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let _ = writeln!(out, "\naudited {}", n(packages.len(), "package", "packages"));
    let verified = count(&|p| p.registry_signature == "verified");
    let _ = writeln!(out, "{} verified registry signatures", n(verified, "package has", "packages have"));
    let attested = count(&|p| p.attestations > 0 && p.invalid_attestations == 0);
    let _ = writeln!(out, "{} verified attestations", n(attested, "package has", "packages have"));
    let lines = [
        (
            count(&|p| p.registry_signature == "missing"),
            "a missing registry signature but the registry is providing signing keys",
            "missing registry signatures but the registry is providing signing keys",
        ),
        (count(&|p| p.registry_signature == "invalid"), "an invalid registry signature", "invalid registry signatures"),
        (count(&|p| p.invalid_attestations > 0), "invalid attestations", "invalid attestations"),
    ];
    for (k, one, many) in lines {
        if k > 0 {
            let _ = writeln!(out, "{} {}", n(k, "package has", "packages have"), if k == 1 { one } else { many });
        }
    }
    let unjudged = packages.iter().filter(|s| s.package.is_none()).count();
    if unjudged > 0 {
        let _ = writeln!(
            out,
            "{} (the registry's evidence could not be read)",
            n(unjudged, "package could not be judged", "packages could not be judged")
        );
    }
    let _ = writeln!(out);
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
/// A failure's message is its first reason (with the rule's title); its body is one line
/// per reason, the rule's fix, and the few claims that decided. Warnings and, for a
/// pass, who signed go to `<system-out>`.
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
        let _ = writeln!(out, "    <testcase classname=\"vouch.{}\" name=\"{}\">", xml(&s.kind), xml(&s.name));
        if s.verdict != SubjectVerdict::Pass {
            let tag = if s.verdict == SubjectVerdict::Error { "error" } else { "failure" };
            let first = s.reasons.first();
            let message = first.map_or_else(
                || "failed".to_string(),
                |r| match &r.title {
                    Some(title) => format!("{title}: {}", r.message),
                    None => r.message.clone(),
                },
            );
            let _ = writeln!(
                out,
                "      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>",
                xml(first.map_or("vouch", |r| r.shown_code())),
                xml(&message),
                failure_body(s).iter().map(|l| xml(l)).collect::<Vec<_>>().join("\n")
            );
        }
        let mut system_out: Vec<String> = Vec::new();
        if s.verdict == SubjectVerdict::Pass {
            system_out.extend(deciding(s));
        }
        system_out.extend(s.warnings.iter().map(|w| {
            let code = w.code.clone().unwrap_or_else(|| format!("{}.warn", w.package));
            let fix = w.solution.as_deref().map(|f| format!(" (fix: {f})")).unwrap_or_default();
            format!("warning {}: {}{fix}", esc(&code), esc(&w.msg))
        }));
        system_out.extend(s.waived.iter().map(waived_line));
        if !system_out.is_empty() {
            let text = system_out.iter().map(|l| xml(l)).collect::<Vec<_>>().join("\n");
            let _ = writeln!(out, "      <system-out>{text}</system-out>");
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A failure in lines: each reason (and its fix, when it differs from the one before),
/// then who signed.
fn failure_body(s: &SubjectResult) -> Vec<String> {
    let mut lines = Vec::new();
    let mut last_fix = None;
    for r in &s.reasons {
        lines.push(format!("{}: {}", esc(r.shown_code()), esc(&r.message)));
        if let Some(fix) = r.solution.as_ref().filter(|f| last_fix != Some(*f)) {
            lines.push(format!("  fix: {}", esc(fix)));
        }
        last_fix = r.solution.as_ref().or(last_fix);
    }
    lines.extend(deciding(s));
    lines
}

/// The fixes the failed rules suggest, once each.
fn fixes(s: &SubjectResult) -> Vec<String> {
    let mut fixes: Vec<String> = s.reasons.iter().filter_map(|r| r.solution.clone()).collect();
    fixes.dedup();
    fixes
}

/// The few claims that decide, per verified signer, as lines: who (and by which
/// issuer), from which project, ref and commit, in which pipeline, when, at which log
/// index. Escaped.
fn deciding(s: &SubjectResult) -> Vec<String> {
    let mut lines = Vec::new();
    for x in &s.signers {
        let who = x.identity.as_deref().unwrap_or("?");
        let issuer = x.issuer.as_deref().map(|i| format!(" (issuer {i})")).unwrap_or_default();
        let what = x.predicate_type.as_deref().map(|p| format!(" [{p}]")).unwrap_or_default();
        lines.push(format!("signed by {who}{issuer}{what}"));
        let facts: Vec<String> = [
            x.project.as_deref().map(|p| format!("project {p}")),
            x.git_ref.as_deref().map(|r| format!("ref {r}")),
            x.commit.as_deref().map(|c| format!("commit {c}")),
            x.run_url.as_deref().map(|u| format!("run {u}")),
            x.signed_at.as_deref().map(|t| format!("signed at {t}")),
            x.log_index.map(|i| format!("log index {i}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !facts.is_empty() {
            lines.push(format!("  {}", facts.join(", ")));
        }
    }
    lines.iter().map(|l| esc(l).into_owned()).collect()
}

/// Where a code is explained: vouch's own in docs/cli.md, the bundled packages' rules in
/// docs/policies.md. A user's own package has none.
fn help_uri(code: &str) -> Option<String> {
    const DOCS: &str = "https://github.com/vouch-dev/vouch/blob/main/docs";
    if crate::Code::parse(code).is_some() {
        Some(format!("{DOCS}/cli.md#diagnostics-and-codes"))
    } else {
        let package = code.split('.').next()?;
        crate::policy::builtin::names().contains(&package).then(|| format!("{DOCS}/policies.md#the-bundled-library-policies"))
    }
}

/// SARIF 2.1.0: a rule per code (its title, help and where it is documented), a result
/// per reason and warning, with a fingerprint of subject and rule that stays the same
/// from run to run (messages may carry times).
fn sarif(r: &Report) -> serde_json::Value {
    // code -> (title, solution, level)
    let mut rules: std::collections::BTreeMap<String, (Option<String>, Option<String>, &str)> = Default::default();
    let mut results = Vec::new();
    for s in &r.subjects {
        let location = json!([{"physicalLocation": {"artifactLocation": {"uri": esc(&s.name)}}}]);
        let level = if s.verdict == SubjectVerdict::Error { "warning" } else { "error" };
        let found =
            s.reasons.iter().map(|x| (x.shown_code().to_string(), x.message.as_str(), x.title.clone(), x.solution.clone(), level)).chain(
                s.warnings.iter().map(|w| {
                    (
                        w.code.clone().unwrap_or_else(|| format!("{}.warn", w.package)),
                        w.msg.as_str(),
                        w.title.clone(),
                        w.solution.clone(),
                        "warning",
                    )
                }),
            );
        for (code, message, title, solution, level) in found {
            let fingerprint = sigstore_verify::crypto::sha256(format!("{}\0{code}", s.name).as_bytes()).to_hex();
            results.push(json!({
                "ruleId": code,
                "level": level,
                "message": {"text": format!("{}: {}", esc(&s.name), esc(message))},
                "locations": location,
                "partialFingerprints": {"vouchSubjectRule/v1": fingerprint},
            }));
            let rule = rules.entry(code).or_insert((None, None, level));
            rule.0 = rule.0.take().or(title);
            rule.1 = rule.1.take().or(solution);
        }
        // Waived findings: results with an accepted external suppression (SARIF §3.35).
        for w in &s.waived {
            let fingerprint = sigstore_verify::crypto::sha256(format!("{}\0{}", s.name, w.code).as_bytes()).to_hex();
            let justification = r.waivers.iter().find(|x| x.id == w.waiver).map(|x| x.reason.clone()).unwrap_or_default();
            results.push(json!({
                "ruleId": w.code,
                "level": if w.rule == "warn" { "warning" } else { "error" },
                "message": {"text": format!("{}: {}", esc(&s.name), esc(&w.message))},
                "locations": location,
                "partialFingerprints": {"vouchSubjectRule/v1": fingerprint},
                "suppressions": [{
                    "kind": "external",
                    "status": "accepted",
                    "justification": esc(&format!("waiver {} (owner {}, expires {}): {justification}", w.waiver, w.owner, w.expires_on)),
                }],
            }));
            rules.entry(w.code.clone()).or_insert((w.title.clone(), None, "error"));
        }
    }
    let rules: Vec<serde_json::Value> = rules
        .into_iter()
        .map(|(id, (title, solution, level))| {
            let vouch_code = crate::Code::parse(&id);
            let short = title.clone().unwrap_or_else(|| id.clone());
            let help = solution.or_else(|| vouch_code.map(|c| c.hint().to_string()));
            let mut rule = serde_json::Map::new();
            rule.insert("id".into(), json!(id));
            rule.insert("name".into(), json!(id));
            rule.insert("shortDescription".into(), json!({"text": esc(&short)}));
            rule.insert("defaultConfiguration".into(), json!({"level": level}));
            if let Some(help) = help {
                rule.insert("help".into(), json!({"text": esc(&help), "markdown": esc(&help)}));
            }
            if let Some(uri) = help_uri(&id) {
                rule.insert("helpUri".into(), json!(uri));
            }
            serde_json::Value::Object(rule)
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "vouch",
                "version": r.tool.version,
                "informationUri": "https://github.com/vouch-dev/vouch",
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

/// A Markdown summary for a merge request or job page: failures and warnings in full,
/// passes counted by signer (400 passes are one row per signer, not 400 rows).
fn markdown(r: &Report) -> String {
    let m = &r.summary;
    let icon = if r.exit_code() == 0 { "✅" } else { "❌" };
    let mut out = format!("### {icon} vouch: {} of {} subjects may ship\n\n", m.passed, m.subjects);
    if m.failed + m.errors > 0 {
        let _ = writeln!(out, "{} failed, {} not judged.\n", m.failed, m.errors);
    }
    // Text from outside cannot end a cell or a code span, nor start markup: a name like
    // `[PASS](https://evil)` or `![](…)` stays text.
    let (code, cell) = (md_code, md_cell);
    if let Some(trust) = &r.plan.trust {
        for w in &trust.warnings {
            let _ = writeln!(out, "> ⚠️ trust: {}\n", cell(w));
        }
    }
    let listed: Vec<&SubjectResult> =
        r.subjects.iter().filter(|s| s.verdict != SubjectVerdict::Pass || !s.warnings.is_empty() || !s.waived.is_empty()).collect();
    if !listed.is_empty() {
        out.push_str("| | subject | signed by | reasons |\n|---|---|---|---|\n");
    }
    for s in listed {
        let mark = match s.verdict {
            SubjectVerdict::Pass => "✅",
            SubjectVerdict::Fail => "❌",
            SubjectVerdict::Error => "⚠️",
        };
        let why: Vec<String> = s
            .reasons
            .iter()
            .flat_map(|x| {
                let title = x.title.as_deref().map(|t| format!("**{}**: ", cell(t))).unwrap_or_default();
                std::iter::once(format!("`{}` {title}{}", code(x.shown_code()), cell(&x.message)))
                    .chain(x.solution.as_deref().map(|f| format!("fix: {}", cell(f))))
            })
            .chain(s.warnings.iter().map(|w| format!("warning: {}", cell(&w.msg))))
            .chain(s.waived.iter().map(|w| {
                format!(
                    "waived `{}` {} (waiver `{}`, {}, until {})",
                    code(&w.code),
                    cell(&w.message),
                    code(&w.waiver),
                    cell(&w.owner),
                    cell(&w.expires_on)
                )
            }))
            .collect();
        let _ = writeln!(out, "| {mark} | `{}` | {} | {} |", code(&s.name), cell(&signers(s)), why.join("<br>"));
    }
    let waivers = waiver_lines(r);
    if let Some((head, rest)) = waivers.split_first() {
        let gap = if out.ends_with("\n\n") { "" } else { "\n" };
        let _ = writeln!(out, "{gap}**{}**\n", cell(head.trim()));
        for line in rest {
            let _ = writeln!(out, "- {}", cell(line.trim()));
        }
        out.push('\n');
    }
    // Passes, counted per signer and project.
    let mut passed: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for s in r.subjects.iter().filter(|s| s.verdict == SubjectVerdict::Pass) {
        let project = s.signers.iter().find_map(|x| x.project.clone()).unwrap_or_default();
        *passed.entry((signers(s), project)).or_default() += 1;
    }
    if !passed.is_empty() {
        let mut rows: Vec<_> = passed.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let gap = if out.ends_with("\n\n") { "" } else { "\n" };
        let _ = writeln!(out, "{gap}**Passed: {}**\n\n| signed by | project | subjects |\n|---|---|---|", m.passed);
        for ((signer, project), n) in rows {
            let _ = writeln!(out, "| {} | {} | {n} |", cell(&signer), cell(&project));
        }
    }
    out
}

/// Text from outside inside a Markdown code span: it cannot end the span or the cell.
pub(super) fn md_code(s: &str) -> String {
    esc(s).replace('|', "\\|").replace('`', "'")
}

/// Text from outside in a Markdown table cell: it cannot end the cell, nor start markup
/// (a name like `[PASS](https://evil)` or `![](…)` stays text).
pub(super) fn md_cell(s: &str) -> String {
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
}

/// GitLab Code Quality (Code Climate subset): one issue per reason and warning. The
/// fingerprint is subject, code and occurrence, so an issue keeps its identity from
/// pipeline to pipeline while its message changes (times, digests).
fn codequality(r: &Report) -> serde_json::Value {
    let mut issues = Vec::new();
    for s in &r.subjects {
        let severity = if s.verdict == SubjectVerdict::Error { "minor" } else { "major" };
        let found = s
            .reasons
            .iter()
            .map(|x| (x.shown_code().to_string(), x.message.as_str(), x.title.as_deref(), x.solution.as_deref(), severity))
            .chain(s.warnings.iter().map(|w| {
                (
                    w.code.clone().unwrap_or_else(|| format!("{}.warn", w.package)),
                    w.msg.as_str(),
                    w.title.as_deref(),
                    w.solution.as_deref(),
                    "minor",
                )
            }));
        let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
        for (code, message, title, solution, severity) in found {
            let n = seen.entry(code.clone()).or_default();
            *n += 1;
            let fingerprint = sigstore_verify::crypto::sha256(format!("{}\0{code}\0{n}", s.name).as_bytes()).to_hex();
            let mut body: Vec<String> = Vec::new();
            if let Some(title) = title {
                body.push(format!("**{}**", esc(title)));
            }
            body.push(esc(message).into_owned());
            if let Some(fix) = solution {
                body.push(format!("Fix: {}", esc(fix)));
            }
            body.extend(deciding(s));
            issues.push(json!({
                "description": format!("{}: {}", esc(&s.name), esc(message)),
                "check_name": code,
                "fingerprint": &fingerprint[..32],
                "severity": severity,
                "categories": ["Security"],
                "content": {"body": body.join("\n\n")},
                "location": {"path": esc(&s.name), "lines": {"begin": 1}},
            }));
        }
    }
    // Waived findings stay visible, as info (Code Quality has no suppressions).
    for s in &r.subjects {
        for w in &s.waived {
            let fingerprint = sigstore_verify::crypto::sha256(format!("{}\0{}\0waived", s.name, w.code).as_bytes()).to_hex();
            issues.push(json!({
                "description": format!("{}: waived: {}", esc(&s.name), esc(&w.message)),
                "check_name": w.code,
                "fingerprint": &fingerprint[..32],
                "severity": "info",
                "categories": ["Security"],
                "content": {"body": waived_line(w)},
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
            let shown = f.code.clone().unwrap_or_else(|| format!("{}.{}", f.package, f.rule.as_str()));
            let waived = s.waived.iter().find(|w| w.code == shown && w.message.ends_with(&f.msg));
            let rule = match waived {
                Some(w) => format!(
                    "WAIVED {} (waiver {}, owner {}, expires {})",
                    f.rule.as_str(),
                    esc(&w.waiver),
                    esc(&w.owner),
                    esc(&w.expires_on)
                ),
                None => f.rule.as_str().to_uppercase(),
            };
            line(&mut out, format!("{rule} [{}]{code} {}{at}", esc(&f.package), esc(&f.msg)));
            if let Some(fix) = &f.solution {
                line(&mut out, format!("  fix: {}", esc(fix)));
            }
        }
        // Reasons beside the findings and the evidence already shown.
        for r in s.reasons.iter().filter(|r| r.rule_code.is_none() && !s.verification_errors.contains(r)) {
            diagnostic(&mut out, r);
        }
        if s.decision.is_some() || s.verdict != SubjectVerdict::Pass {
            let count = |rule| findings.iter().filter(|f| f.rule.as_str() == rule).count();
            let waived = if s.waived.is_empty() { String::new() } else { format!(", {} waived", s.waived.len()) };
            line(
                &mut out,
                format!("{}: {} ({} denied, {} warnings{waived})", verdict(s.verdict), esc(&s.name), count("deny"), count("warn")),
            );
        }
    }
    out
}

/// `vouch claims --format json`: the signer's claims document (the signature, for a
/// key-signed bundle) with, for SLSA provenance, its typed `provenance`; or the report
/// when nothing verified.
pub fn claims_document(report: &Report) -> String {
    let doc = report
        .subjects
        .first()
        .and_then(|s| s.signatures.first())
        .map(|sig| {
            let mut doc = sig.get("claims").filter(|c| !c.is_null()).unwrap_or(sig).clone();
            if let (Some(object), Some(p)) = (doc.as_object_mut(), sig.get("provenance")) {
                object.insert("provenance".into(), p.clone());
            }
            doc
        })
        .unwrap_or_else(|| serde_json::to_value(report).unwrap_or_default());
    format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default())
}
