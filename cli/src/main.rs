//! The `vouch` binary: arguments → the engine's request; the report it returns →
//! stdout, files and the exit code (0 passed, 1 rejected or denied, 2 usage or
//! configuration error, nothing judged, 3 infrastructure error; docs/cli.md).

mod args;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use args::{Cli, Command, Output, ReportCommand};
use clap::Parser;
use vouch_engine::report::{Format, Report};
use vouch_engine::{plan, policy, run, Code, Error};

// Policy evaluation allocates many small values per subject; mimalloc halves what
// glibc's malloc costs there (docs/performance.md). Counted per thread, so that a
// policy evaluation's memory is bounded (policy/limits.rs).
#[global_allocator]
static GLOBAL: vouch_engine::policy::limits::CountingAlloc<mimalloc::MiMalloc> =
    vouch_engine::policy::limits::CountingAlloc(mimalloc::MiMalloc);

/// Where the report goes: one format on stdout, others to files.
struct Outputs {
    stdout: Format,
    files: Vec<(Format, PathBuf)>,
}

impl Outputs {
    fn parse(out: &Output, default: Format) -> Result<Self, Error> {
        let format = |f: &str| f.parse::<Format>().map_err(|m| Error::usage(Code::UsageFormat, m));
        let stdout = out.format.as_deref().map(format).transpose()?.unwrap_or(default);
        let files = out
            .output
            .iter()
            .map(|o| match o.split_once('=') {
                Some((f, path)) => Ok((format(f)?, PathBuf::from(path))),
                None => Err(Error::usage(
                    Code::UsageFormat,
                    format!("--output {o:?}: write FORMAT=PATH, e.g. junit=vouch.xml (the format on stdout is --format {o})"),
                )),
            })
            .collect::<Result<_, Error>>()?;
        Ok(Outputs { stdout, files })
    }
}

/// What a command does with its report beyond writing it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One subject: its details (diagnostics, findings) also go to stderr.
    One,
    /// `claims`: JSON on stdout is the claims document.
    Claims,
    /// `check`: a progress bar, and a summary on stderr when stdout is not text.
    Batch { quiet: bool },
}

fn main() -> ExitCode {
    render::install_hook();
    let cli = Cli::parse();
    let (out, default) = match &cli.command {
        Command::VerifyBlob(a) => (&a.out, Format::Text),
        Command::VerifyImage(a) => (&a.out, Format::Text),
        Command::Check(a) => (&a.out, Format::Text),
        Command::Report(ReportCommand::Merge(a)) => (&a.out, Format::Text),
        Command::Claims(a) => (&a.out, Format::Json),
        Command::Explain(a) => (&a.out, Format::Json),
        Command::Test(a) => (&a.out, Format::Text),
    };
    let json = out.format.as_deref().map_or(default == Format::Json, |f| f == "json");
    let result = Outputs::parse(out, default).and_then(|outputs| match &cli.command {
        Command::VerifyBlob(a) => judge(a.request(), &outputs, Kind::One),
        Command::VerifyImage(a) => judge(a.request(), &outputs, Kind::One),
        Command::Check(a) => judge(a.request(), &outputs, Kind::Batch { quiet: a.quiet }),
        Command::Claims(a) => judge(a.request(), &outputs, Kind::Claims),
        Command::Explain(a) if a.policy.policy.is_empty() => Err(Error::usage(Code::UsagePolicy, "explain needs --policy DIR")),
        Command::Explain(a) => judge(a.request(), &outputs, Kind::One),
        Command::Report(ReportCommand::Merge(a)) => merge(&a.reports, &outputs),
        Command::Test(a) => test(a, &outputs),
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            render::error(&error, json);
            ExitCode::from(error.kind().exit_code())
        }
    }
}

/// Every command that judges subjects: plan, run, render.
fn judge(request: plan::Request, outputs: &Outputs, kind: Kind) -> Result<u8, Error> {
    let plan = plan::build(&request)?;
    for note in &plan.notes {
        render::note(note);
    }
    let bar = matches!(kind, Kind::Batch { quiet: false }).then(render::progress_bar).flatten();
    let progress = |done: usize, total: usize| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let report = run::run(&plan, Some(&progress));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if !matches!(kind, Kind::Batch { .. }) {
        render::details(&report);
    }
    if kind == Kind::Claims && outputs.stdout == Format::Json {
        render::stdout(&render::claims(&report));
        write_files(&report, &outputs.files)?;
    } else {
        write(&report, outputs)?;
    }
    if matches!(kind, Kind::Batch { .. }) && outputs.stdout != Format::Text {
        let m = &report.summary;
        render::note_line(&format!("{} subjects: {} passed, {} failed, {} not judged", m.subjects, m.passed, m.failed, m.errors));
    }
    Ok(report.exit_code())
}

fn write(report: &Report, outputs: &Outputs) -> Result<(), Error> {
    render::stdout(&vouch_engine::report::render(report, outputs.stdout));
    write_files(report, &outputs.files)
}

fn write_files(report: &Report, files: &[(Format, PathBuf)]) -> Result<(), Error> {
    for (format, path) in files {
        let text = vouch_engine::report::render(report, *format);
        std::fs::write(path, text).map_err(|source| Error::Io { path: path.clone(), what: "report", source })?;
    }
    Ok(())
}

fn merge(paths: &[PathBuf], outputs: &Outputs) -> Result<u8, Error> {
    let mut reports = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.clone(), what: "report", source })?;
        let report = Report::from_json(&bytes).map_err(|m| Error::usage(Code::ReportRead, format!("{}: {m}", path.display())))?;
        reports.push(report);
    }
    let merged = Report::merge(reports)?;
    write(&merged, outputs)?;
    Ok(merged.exit_code())
}

fn test(args: &args::Test, outputs: &Outputs) -> Result<u8, Error> {
    let text_or_json = |f: Format| match f {
        Format::Text | Format::Json => Ok(f == Format::Json),
        _ => Err(Error::usage(Code::UsageFormat, "`vouch test` writes text or json")),
    };
    let json = text_or_json(outputs.stdout)?;
    let effective_time = policy::effective_time(args.effective_time.as_deref())?;
    let report = policy::run_tests(&args.dirs, effective_time)?;
    render::stdout(&render::test_report(json, args.coverage, &report));
    for (format, path) in &outputs.files {
        let text = render::test_report(text_or_json(*format)?, args.coverage, &report);
        std::fs::write(path, text).map_err(|source| Error::Io { path: path.clone(), what: "report", source })?;
    }
    let below = args.threshold.filter(|t| report.coverage_percent < *t);
    if let Some(threshold) = below {
        render::note_line(&format!("coverage {:.1}% is below the threshold {threshold:.1}%", report.coverage_percent));
    }
    Ok(if report.failed() == 0 && below.is_none() && !report.tests.is_empty() { 0 } else { 1 })
}
