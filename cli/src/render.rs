//! Rendering: machine output on stdout, diagnostics and human summaries on stderr.

use std::process::ExitCode;

use miette::{Diagnostic, LabeledSpan, MietteDiagnostic, NamedSource, Report};
use vouch_engine::judge::{Judgement, Verdict};
use vouch_engine::policy::{Finding, PolicyError, TestReport, TestStatus};
use vouch_engine::report::escape_controls as esc;
use vouch_engine::verify::VerifiedSignature;
use vouch_engine::{Error, ErrorKind};

pub fn exit_code(error: &Error) -> ExitCode {
    match error.kind() {
        ErrorKind::Rejected => ExitCode::from(1),
        ErrorKind::Usage => ExitCode::from(2),
        ErrorKind::Infrastructure => ExitCode::from(3),
    }
}

/// Diagnostics wrap to the terminal's width on a terminal; in CI logs and pipes a
/// message stays on one line so it can be searched.
pub fn install_hook() {
    use std::io::IsTerminal;
    let wrap = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| Box::new(miette::MietteHandlerOpts::new().wrap_lines(wrap).build())));
}

/// A policy error with the file and line it points at.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct PolicyDiagnostic {
    message: String,
    code: &'static str,
    help: &'static str,
    src: Option<NamedSource<String>>,
    span: Option<LabeledSpan>,
}

impl Diagnostic for PolicyDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.help))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.span.clone().map(|s| Box::new(std::iter::once(s)) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

fn policy_diagnostic(e: &PolicyError, code: &'static str, help: &'static str) -> Report {
    let located = match (&e.path, e.line, e.col) {
        (Some(path), Some(line), Some(col)) => format!("{}:{line}:{col}: ", path.display()),
        (Some(path), _, _) => format!("{}: ", path.display()),
        _ => String::new(),
    };
    let message = if e.message.starts_with(&located) || located.is_empty() { e.message.clone() } else { format!("{located}{}", e.message) };
    let message = esc_lines(&message);
    let src = match (&e.path, &e.source_text) {
        (Some(path), Some(text)) => Some(NamedSource::new(path.display().to_string(), text.clone())),
        _ => None,
    };
    let span = e.offset().filter(|_| src.is_some()).map(|offset| LabeledSpan::at_offset(offset, "here"));
    Report::new(PolicyDiagnostic { message, code, help, src, span })
}

pub fn diagnostic(error: &Error) {
    let report = match error {
        Error::Policy(e) => policy_diagnostic(e, e.code(), e.hint()),
        Error::Manifest(e) => policy_diagnostic(e, "vouch::manifest", "see docs/manifest.md for the manifest's keys"),
        _ => Report::new(MietteDiagnostic::new(esc(&error.to_string()).into_owned()).with_code(error.code()).with_help(error.hint())),
    };
    eprintln!("{report:?}");
}

/// Escape each line of a multi-line message (its line breaks are ours).
fn esc_lines(s: &str) -> String {
    s.split('\n').map(|l| esc(l).into_owned()).collect::<Vec<_>>().join("\n")
}

fn finding_line(f: &Finding) -> String {
    let code = f.code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
    let location = f.location.as_deref().map(|l| format!(" at {l}")).unwrap_or_default();
    format!("{} [{}]{} {}{}", f.rule.as_str().to_uppercase(), f.package, esc(&code), esc(&f.msg), esc(&location))
}

fn signer(signature: &VerifiedSignature) -> String {
    signature
        .claims
        .as_ref()
        .and_then(|c| c.identity.as_ref().map(|i| format!("{} (issuer {})", esc(&i.value), esc(c.issuer.as_deref().unwrap_or("none")))))
        .or_else(|| signature.key_fingerprint_sha256.as_ref().map(|k| format!("key sha256:{k}")))
        .unwrap_or_default()
}

/// `verify-blob`: text on stderr, or the whole judgement as JSON on stdout.
pub fn judgement(json: bool, j: &Judgement) {
    if json {
        let mut doc = serde_json::to_value(j).unwrap_or_default();
        // Kept from the first release: `verified`, `signature` and `error`.
        doc["verified"] = serde_json::json!(!j.signatures.is_empty());
        if let Some(first) = j.signatures.first() {
            doc["signature"] = serde_json::to_value(first).unwrap_or_default();
        }
        if let Some(first) = j.verification_errors.first().filter(|_| j.signatures.is_empty()) {
            doc["error"] = serde_json::to_value(first).unwrap_or_default();
        }
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    for failure in &j.verification_errors {
        let report = Report::new(
            MietteDiagnostic::new(esc(&failure.message).into_owned()).with_code(failure.code.clone()).with_help(hint_for(&failure.code)),
        );
        eprintln!("{report:?}");
    }
    for s in &j.signatures {
        eprintln!("Verified OK: {} signed by {}", esc(&j.subject.name), signer(s));
    }
    for r in j.reasons.iter().filter(|r| r.code == "vouch::verify::none") {
        let report = Report::new(
            MietteDiagnostic::new(format!("{}: {}", esc(&j.subject.name), esc(&r.message)))
                .with_code(r.code.clone())
                .with_help("sign it (cosign sign / cosign sign-blob --bundle), or check that you are looking at the right artifact"),
        );
        eprintln!("{report:?}");
    }
    if let Some(decision) = &j.policy {
        for f in decision.deny.iter().chain(decision.warn.iter()) {
            eprintln!("{}", finding_line(f));
        }
    }
    for r in j.reasons.iter().filter(|r| r.code == "vouch::policy::no-accepted-signer") {
        let report = Report::new(MietteDiagnostic::new(esc(&r.message).into_owned()).with_code(r.code.clone()).with_help(
            "the configured signer policies accepted none of the signatures; `vouch explain` shows each policy's `accepted` set and its findings",
        ));
        eprintln!("{report:?}");
    }
    for r in j.reasons.iter().filter(|r| r.code == "vouch::policy::eval") {
        let report = Report::new(
            MietteDiagnostic::new(esc(&r.message).into_owned())
                .with_code(r.code.clone())
                .with_help("a rule errored for this subject, so the subject fails; `vouch explain` shows the input it saw"),
        );
        eprintln!("{report:?}");
    }
    if j.policy.is_some() {
        let verdict = match j.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
        };
        let (d, w) = j.policy.as_ref().map_or((0, 0), |p| (p.deny.len(), p.warn.len()));
        eprintln!("{verdict}: {} ({d} denied, {w} warnings)", esc(&j.subject.name));
    }
}

/// The hint of a verification error code, for errors carried as data.
fn hint_for(code: &str) -> String {
    let hint = match code {
        c if c.starts_with("vouch::verify::identity") => "check --certificate-identity / --certificate-identity-regexp against the identity printed by `vouch claims`",
        c if c.starts_with("vouch::verify::issuer") => "check --certificate-oidc-issuer against the issuer printed by `vouch claims` (self-managed GitLab has its own issuer)",
        c if c.starts_with("vouch::verify::artifact") => "check that you are verifying the file (or digest) this bundle was made for",
        c if c.starts_with("vouch::verify::certificate") => "the signing certificate does not chain to the trusted root at signing time; check --trusted-root / --staging",
        c if c.starts_with("vouch::verify::tlog") => {
            "the transparency log evidence does not verify against the trusted root; the bundle may be tampered with or from another Sigstore instance"
        }
        c if c.starts_with("vouch::verify::") => "the bundle does not verify; it may be tampered with, or come from another Sigstore instance (check --trusted-root / --staging)",
        "vouch::bundle::inconsistent" => "the bundle has been modified or assembled from parts of different signatures; do not trust it",
        c if c.starts_with("vouch::bundle::") => {
            "pass a Sigstore bundle (cosign sign-blob --bundle, *.sigstore.json) or a cosign bundle ({\"base64Signature\",\"cert\",\"rekorBundle\"})"
        }
        c if c.starts_with("vouch::claims::") => "the signing certificate is malformed; do not trust this bundle",
        _ => "see docs/cli.md for the codes",
    };
    hint.to_string()
}

pub fn claims(signature: &VerifiedSignature) {
    let doc = match &signature.claims {
        Some(claims) => serde_json::to_value(claims),
        None => serde_json::to_value(signature),
    };
    println!("{}", serde_json::to_string_pretty(&doc.unwrap_or_default()).unwrap_or_default());
}

/// `explain`: the input and the findings with their rules, as JSON on stdout; a
/// summary on stderr.
pub fn explain(j: &Judgement) {
    let doc = serde_json::json!({
        "input": j.input,
        "decision": j.policy,
        "verdict": j.verdict,
        "reasons": j.reasons,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    if let Some(decision) = &j.policy {
        for f in decision.deny.iter().chain(decision.warn.iter()) {
            eprintln!("{}", finding_line(f));
        }
    }
    for r in &j.reasons {
        if r.code.starts_with("vouch::verify") || r.code.starts_with("vouch::bundle") || r.code == "vouch::policy::eval" {
            eprintln!("{}: {}", esc(&r.code), esc(&r.message));
        }
    }
}

pub fn test_report(json: bool, coverage: bool, report: &TestReport) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
        return;
    }
    for t in &report.tests {
        let status = match t.status {
            TestStatus::Pass => "PASS",
            TestStatus::Fail => "FAIL",
            TestStatus::Error => "ERROR",
        };
        println!("{status} {}.{} ({}, {}µs)", t.package, t.name, t.location, t.duration_us);
        if t.status != TestStatus::Pass {
            if let Some(detail) = &t.detail {
                println!("     {}", esc(detail));
            }
            for p in &t.prints {
                println!("     print: {}", esc(p));
            }
        }
    }
    if coverage {
        println!("coverage:");
        for f in &report.coverage {
            let missing = if f.not_covered.is_empty() {
                String::new()
            } else {
                format!(", not covered: lines {}", f.not_covered.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", "))
            };
            println!("  {:5.1}% {}{missing}", f.percent, f.path);
        }
        println!("  {:5.1}% total", report.coverage_percent);
    }
    println!("{} passed, {} failed", report.passed(), report.failed());
}

/// A progress bar on stderr, only when it is a terminal (never in CI logs or pipes).
pub fn progress_bar(quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} subjects judged, {per_sec}, eta {eta}") {
        bar.set_style(style);
    }
    Some(bar)
}
