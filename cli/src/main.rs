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
    let parsed = Outputs::parse(out.format.as_deref(), &out.output, default).and_then(|o| o.with_previous(out.previous_report.as_deref()));
    let result = parsed.and_then(|outputs| match &cli.command {
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
        Command::Report(ReportCommand::Diff(a)) => report_diff(a, &outputs),
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
        Command::Trust(args::TrustCommand::Update(a)) => trust_update(a, &outputs),
        Command::Trust(args::TrustCommand::Show(a)) => trust_show(&a.flags(), &outputs),
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
        for line in report::waiver_lines(&report) {
            render::note_line(line.trim_start_matches('\n'));
        }
    }
    // Summaries after the report: a signing failure does not lose the verdicts.
    if let Some(out) = &plan.summaries_out {
        let written = vouch_engine::vsa::write_all(&plan, &report, out)?;
        render::note(&format!("wrote {written} verification summaries to {}", out.dir.display()));
    }
    let reused = report.subjects.iter().filter(|s| s.summary.as_ref().is_some_and(|u| u.used)).count();
    if reused > 0 {
        render::note(&format!("{reused} of {} subjects passed by a verification summary (not verified again)", report.summary.subjects));
    }
    Ok(report.exit_code())
}

fn write(report: &Report, outputs: &Outputs) -> Result<(), Error> {
    let stdout = outputs.render(report, outputs.stdout)?;
    render::stdout(&stdout);
    // The format on stdout is rendered once, also for the files that ask for it.
    outputs.write_files(|f| {
        if f == outputs.stdout {
            Ok(std::borrow::Cow::Borrowed(stdout.as_str()))
        } else {
            outputs.render(report, f).map(std::borrow::Cow::Owned)
        }
    })
}

fn test(args: &args::Test, outputs: &Outputs) -> Result<u8, Error> {
    let json = |f: Format| match f {
        Format::Text | Format::Json => Ok(f == Format::Json),
        _ => Err(Error::usage(Code::UsageFormat, "`vouch test` writes text or json")),
    };
    let stdout_json = json(outputs.stdout)?;
    let effective_time = policy::effective_time(args.effective_time.as_deref())?;
    // Waivers are checked against the packages they name, as a run would check them.
    if !args.waivers.is_empty() {
        let loaded = policy::Policy::load(&args.dirs, effective_time).map_err(Error::Policy)?;
        let packages = loaded.packages();
        let waivers = vouch_engine::decide::waivers::Waivers::load(&args.waivers, Some(&loaded), effective_time, args.waivers_warn_days)?;
        for note in waivers.notes() {
            render::note(&note);
        }
        render::note_line(&format!("{} waivers checked against {}", waivers.statuses().len(), packages.join(", ")));
    }
    let report = policy::run_tests(&args.dirs, effective_time)?;
    render::stdout(&report.render(stdout_json, args.coverage));
    outputs.write_files(|f| Ok(report.render(json(f)?, args.coverage)))?;
    let below = args.threshold.filter(|t| report.coverage_percent < *t);
    if let Some(threshold) = below {
        render::note_line(&format!("coverage {:.1}% is below the threshold {threshold:.1}%", report.coverage_percent));
    }
    Ok(if report.failed() == 0 && below.is_none() && !report.tests.is_empty() { 0 } else { 1 })
}

/// `vouch report diff`: text, JSON or Markdown; exit 0 whatever changed (the reports'
/// own gates decided).
fn report_diff(args: &args::Diff, outputs: &Outputs) -> Result<u8, Error> {
    let diff = report::diff::diff_files(&args.old, &args.new)?;
    let render = |f: Format| match f {
        Format::Text => Ok(report::diff::text(&diff)),
        Format::Json => Ok(serde_json::to_string_pretty(&diff).unwrap_or_default() + "\n"),
        Format::Markdown => Ok(report::diff::markdown(&diff)),
        _ => Err(Error::usage(Code::UsageFormat, "`vouch report diff` writes text, json or markdown")),
    };
    render::stdout(&render(outputs.stdout)?);
    outputs.write_files(render)?;
    Ok(0)
}

/// `vouch trust update`: the TUF client workflow into the cache, then what changed.
fn trust_update(args: &args::TrustUpdate, outputs: &Outputs) -> Result<u8, Error> {
    use vouch_engine::trust::{self, tuf};
    let mirror = args.mirror();
    let cache = args.cache.clone().or_else(tuf::default_cache).ok_or_else(|| {
        Error::usage(Code::TrustTufSetup, "no cache folder: pass --cache DIR (or set VOUCH_CACHE_DIR, XDG_CACHE_HOME or HOME)")
    })?;
    let now = jiff::Timestamp::now();
    let updated = tuf::update(&mirror, &cache, now, std::time::Duration::from_secs(args.timeout)).map_err(Error::Tuf)?;
    let state = &updated.state;
    let changes = updated.previous.as_deref().map(|old| trust::diff(old, &state.trusted_root));
    let text = {
        let mut out = format!(
            "updated {} from {}\n  root v{} (expires {}), timestamp v{} (expires {}), targets v{}\n  trusted_root.json{}\n",
            mirror.cache_dir(&cache).display(),
            mirror.url,
            state.root_version,
            state.root_expires,
            state.timestamp_version,
            state.timestamp_expires,
            state.targets_version,
            if state.signing_config.is_some() { ", signing_config.v0.2.json" } else { "" },
        );
        match &changes {
            None => out.push_str("  first fetch: nothing to compare with\n"),
            Some(c) if c.is_empty() => out.push_str("  no change in the trusted root's keys and CAs\n"),
            Some(c) => {
                for (mark, item) in c {
                    out.push_str(&format!("  {mark} {:<21} {}  {}  {}\n", item.kind, item.name, short(&item.id), window(item)));
                }
            }
        }
        out
    };
    let json = serde_json::json!({
        "mirror": mirror.url,
        "cache": mirror.cache_dir(&cache),
        "root_version": state.root_version,
        "root_expires": state.root_expires.to_string(),
        "timestamp_version": state.timestamp_version,
        "timestamp_expires": state.timestamp_expires.to_string(),
        "targets_version": state.targets_version,
        "signing_config": state.signing_config.is_some(),
        "changes": changes.map(|c| c.into_iter().map(|(m, i)| serde_json::json!({"change": m.to_string(), "item": i})).collect::<Vec<_>>()),
    });
    trust_output(&text, &json, outputs)
}

/// `vouch trust show`: the trusted root a run with these flags would use.
fn trust_show(flags: &plan::TrustFlags, outputs: &Outputs) -> Result<u8, Error> {
    use vouch_engine::trust::{self, tuf, TrustChoice, TrustSource};
    let choice = match (&flags.trusted_root, &flags.tuf_mirror, flags.staging) {
        (Some(path), _, _) => TrustChoice::File(path.clone()),
        (None, Some(m), _) => TrustChoice::Tuf { mirror: m.clone(), offline: flags.offline, cache: flags.cache.clone() },
        (None, None, staging) => TrustChoice::Tuf {
            mirror: if staging { tuf::Mirror::staging() } else { tuf::Mirror::production() },
            offline: flags.offline,
            cache: flags.cache.clone(),
        },
    };
    let now = jiff::Timestamp::now();
    let (trust, notes) = trust::resolve(&choice, now)?;
    for note in &notes {
        render::note(note);
    }
    let mut text = format!("source: {}\n", trust.source());
    let mut tuf_json = serde_json::Value::Null;
    if let (TrustSource::Tuf { .. }, TrustChoice::Tuf { mirror, cache, .. }) = (trust.source(), &choice) {
        if let Some(dir) = cache.clone().or_else(tuf::default_cache) {
            if let Ok(Some(state)) = tuf::load_cache(mirror, &dir, now) {
                text.push_str(&format!(
                    "  cache {} (updated {})\n  root v{} expires {}; timestamp v{} expires {} ({}); targets v{}\n",
                    mirror.cache_dir(&dir).display(),
                    tuf::updated_at(mirror, &dir).unwrap_or_else(|| "?".into()),
                    state.root_version,
                    state.root_expires,
                    state.timestamp_version,
                    state.timestamp_expires,
                    trust::ago(state.timestamp_expires, now),
                    state.targets_version
                ));
                tuf_json = serde_json::json!({
                    "mirror": mirror.url,
                    "cache": mirror.cache_dir(&dir),
                    "root_version": state.root_version,
                    "root_expires": state.root_expires.to_string(),
                    "timestamp_version": state.timestamp_version,
                    "timestamp_expires": state.timestamp_expires.to_string(),
                    "targets_version": state.targets_version,
                    "stale": state.stale,
                });
            }
        }
    }
    text.push_str(&format!("trusted root sha256: {}\n", trust.root_sha256()));
    let items = trust::inventory(trust.json());
    for item in &items {
        text.push_str(&format!("  {:<21} {}  {}  {}\n", item.kind, item.name, short(&item.id), window(item)));
    }
    let json = serde_json::json!({
        "source": trust.source().to_string(),
        "warnings": notes,
        "tuf": tuf_json,
        "sha256": trust.root_sha256(),
        "items": items,
    });
    trust_output(&text, &json, outputs)
}

fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

fn window(item: &vouch_engine::trust::TrustItem) -> String {
    format!("valid {} .. {}", item.start.as_deref().unwrap_or("?"), item.end.as_deref().unwrap_or("(open)"))
}

fn trust_output(text: &str, json: &serde_json::Value, outputs: &Outputs) -> Result<u8, Error> {
    let render = |f: Format| match f {
        Format::Text => Ok(text.to_string()),
        Format::Json => Ok(format!("{}\n", serde_json::to_string_pretty(json).unwrap_or_default())),
        _ => Err(Error::usage(Code::UsageFormat, "`vouch trust` writes text or json")),
    };
    render::stdout(&render(outputs.stdout)?);
    outputs.write_files(render)?;
    Ok(0)
}
