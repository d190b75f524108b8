//! Rendering at the edge: machine output on stdout (a closed pipe ends it quietly),
//! diagnostics and human detail on stderr.

use std::io::Write as _;

use miette::{Diagnostic, LabeledSpan, MietteDiagnostic, NamedSource};
use vouch_engine::policy::PolicyError;
use vouch_engine::report::{escape_controls as esc, Detail, Report};
use vouch_engine::{Code, Error};

/// Write to stdout. A reader that went away (`vouch … | head`) ends the output, not
/// the run: the files are still written and the exit code is still the verdict.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// A line on stderr (never a panic when stderr is gone).
pub fn note_line(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A plan's note on stderr: `note: …`, or `warning: …` for the notes that are warnings.
pub fn note(line: &str) {
    match line.strip_prefix("warning: ") {
        Some(warning) => note_line(&format!("warning: {}", esc(warning))),
        None => note_line(&format!("note: {}", esc(line))),
    }
}

/// Diagnostics wrap to the terminal's width on a terminal; in CI logs and pipes a
/// message stays on one line so it can be searched.
pub fn install_hook() {
    use std::io::IsTerminal;
    let wrap = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| Box::new(miette::MietteHandlerOpts::new().wrap_lines(wrap).build())));
}

/// An error before (or instead of) a report: a diagnostic on stderr, and with
/// `--format json` the same as JSON on stdout.
pub fn error(error: &Error, json: bool) {
    let code = error.code();
    if json {
        let doc = serde_json::json!({"error": {
            "code": code, "message": error.to_string(), "hint": code.hint(), "class": code.class(), "exit_code": code.class().exit_code(),
        }});
        stdout(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()));
    }
    let report = match error {
        Error::Policy(e) | Error::Manifest(e) => policy_diagnostic(e, code),
        _ => diagnostic(code, &esc(&error.to_string())),
    };
    note_line(&format!("{report:?}"));
}

fn diagnostic(code: Code, message: &str) -> miette::Report {
    miette::Report::new(MietteDiagnostic::new(message.to_string()).with_code(code.as_str()).with_help(code.hint()))
}

/// A policy or manifest error with the file and line it points at.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Located {
    message: String,
    code: Code,
    src: Option<NamedSource<String>>,
    span: Option<LabeledSpan>,
}

impl Diagnostic for Located {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code.hint()))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.span.clone().map(|s| Box::new(std::iter::once(s)) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

fn policy_diagnostic(e: &PolicyError, code: Code) -> miette::Report {
    let located = match (&e.path, e.line, e.col) {
        (Some(path), Some(line), Some(col)) => format!("{}:{line}:{col}: ", path.display()),
        (Some(path), _, _) => format!("{}: ", path.display()),
        _ => String::new(),
    };
    let message = if e.message.starts_with(&located) || located.is_empty() { e.message.clone() } else { format!("{located}{}", e.message) };
    // Each line escaped (the line breaks are ours).
    let message = message.split('\n').map(|l| esc(l).into_owned()).collect::<Vec<_>>().join("\n");
    let src = match (&e.path, &e.source_text) {
        (Some(path), Some(text)) => Some(NamedSource::new(path.display().to_string(), text.clone())),
        _ => None,
    };
    let span = e.offset().filter(|_| src.is_some()).map(|offset| LabeledSpan::at_offset(offset, "here"));
    miette::Report::new(Located { message, code, src, span })
}

/// A single-subject command's detail on stderr, diagnostics with their hints.
pub fn details(report: &Report) {
    for detail in vouch_engine::report::human_details(report) {
        match detail {
            Detail::Diagnostic { code, message } => note_line(&format!("{:?}", diagnostic(code, &message))),
            Detail::Line(line) => note_line(&line),
        }
    }
}

/// A progress bar on stderr, only when it is a terminal (never in CI logs or pipes).
pub fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} subjects judged, {per_sec}, eta {eta}") {
        bar.set_style(style);
    }
    Some(bar)
}
