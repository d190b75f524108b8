//! The `vouch` binary: arguments → the engine's request; the report it returns →
//! stdout, files and the exit code (0 passed, 1 rejected or denied, 2 usage or
//! configuration error, nothing judged, 3 infrastructure error; docs/cli.md).

mod args;
mod render;

use std::process::ExitCode;

use args::{Cli, Command, ReportCommand};
use clap::Parser;
use vouch_engine::report::{self, Format, Outputs, Report};
use vouch_engine::{plan, policy, run, Code, Error};

// Policy evaluation allocates many small values per subject; mimalloc halves what
// glibc's malloc costs there (docs/performance.md). Counted per thread, so that a
// policy evaluation's memory is bounded (policy/limits.rs).
#[global_allocator]
static GLOBAL: vouch_engine::policy::limits::CountingAlloc<mimalloc::MiMalloc> =
    vouch_engine::policy::limits::CountingAlloc(mimalloc::MiMalloc);

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
    let out = &cli.out;
    // `explain` and `claims` are read as JSON; the rest as text.
    let default = if matches!(cli.command, Command::Claims(_) | Command::Explain(_)) { Format::Json } else { Format::Text };
    let json = out.format.as_deref().map_or(default == Format::Json, |f| f == "json");
    let result = Outputs::parse(out.format.as_deref(), &out.output, default).and_then(|outputs| match &cli.command {
        Command::VerifyBlob(a) => judge(a.request(), &outputs, Kind::One),
        Command::VerifyImage(a) => judge(a.request(), &outputs, Kind::One),
        Command::Check(a) => judge(a.request(), &outputs, Kind::Batch { quiet: a.quiet }),
        Command::Claims(a) => judge(a.request(), &outputs, Kind::Claims),
        Command::Explain(a) if a.j.policy.policy.is_empty() => Err(Error::usage(Code::UsagePolicy, "explain needs --policy DIR")),
        Command::Explain(a) => judge(a.request(), &outputs, Kind::One),
        Command::Report(ReportCommand::Merge(a)) => report::merge_files(&a.reports).and_then(|merged| {
            write(&merged, &outputs)?;
            Ok(merged.exit_code())
        }),
        Command::Test(a) => test(a, &outputs),
        Command::Policy(args::PolicyCommand::List) => {
            let list = policy::builtin::list();
            render::stdout(&match outputs.stdout {
                Format::Json => format!("{}\n", serde_json::to_string_pretty(&list).unwrap_or_default()),
                _ => list
                    .iter()
                    .map(|b| format!("builtin:{:<13} {}  (config.{}: {})\n", b.name, b.description, b.name, b.keys.join(", ")))
                    .collect(),
            });
            Ok(0)
        }
        Command::Completion { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut <Cli as clap::CommandFactory>::command(), "vouch", &mut script);
            render::stdout(&String::from_utf8_lossy(&script));
            Ok(0)
        }
        Command::Man { dir } => clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), dir)
            .map(|()| 0)
            .map_err(|source| Error::Io { path: dir.clone(), what: "man page folder", source }),
        Command::Policy(args::PolicyCommand::Show { name }) => {
            render::stdout(&policy::builtin::show(name)?);
            Ok(0)
        }
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
        render::stdout(&report::claims_document(&report));
        outputs.write_files(|f| Ok(report::render(&report, f)))?;
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
    render::stdout(&report::render(report, outputs.stdout));
    outputs.write_files(|f| Ok(report::render(report, f)))
}

fn test(args: &args::Test, outputs: &Outputs) -> Result<u8, Error> {
    let json = |f: Format| match f {
        Format::Text | Format::Json => Ok(f == Format::Json),
        _ => Err(Error::usage(Code::UsageFormat, "`vouch test` writes text or json")),
    };
    let stdout_json = json(outputs.stdout)?;
    let report = policy::run_tests(&args.dirs, policy::effective_time(args.effective_time.as_deref())?)?;
    render::stdout(&report.render(stdout_json, args.coverage));
    outputs.write_files(|f| Ok(report.render(json(f)?, args.coverage)))?;
    let below = args.threshold.filter(|t| report.coverage_percent < *t);
    if let Some(threshold) = below {
        render::note_line(&format!("coverage {:.1}% is below the threshold {threshold:.1}%", report.coverage_percent));
    }
    Ok(if report.failed() == 0 && below.is_none() && !report.tests.is_empty() { 0 } else { 1 })
}
