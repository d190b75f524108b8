//! Loading: files → regorus engine, compile-time checks, and errors that point at
//! file:line:col.

use std::path::{Path, PathBuf};

use regorus::unstable::{Rule, RuleHead};
use regorus::Value;

use super::{Entrypoint, RuleKind, LIB_PATH, LIB_REGO};

/// A loaded source file, kept for diagnostics.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// A file cannot be read.
    Io,
    /// Rego that does not parse.
    Parse,
    /// Rego that parses but does not compile: unsafe variables, unknown functions,
    /// rule conflicts.
    Compile,
    /// A data file that is not JSON/YAML.
    Data,
    /// A package layout vouch would silently ignore (deny/warn outside `vouch.*`), or no
    /// policy at all.
    Package,
    /// A `config.schema.json` vouch cannot apply.
    Schema,
    /// Configuration (`data.config`) that does not fit the loaded packages' schemas.
    Config,
    /// A run in which nothing would decide who may sign.
    NoSignerDecision,
    /// A builtin whose answer can change between runs (random, network, clock).
    Nondeterministic,
    /// A package loaded by a path of its own, with no configuration: it would judge nothing.
    Unconfigured,
}

/// A policy that cannot be used; nothing is judged (exit 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub kind: PolicyErrorKind,
    pub message: String,
    pub path: Option<PathBuf>,
    /// 1-based line and column, where known.
    pub line: Option<u32>,
    pub col: Option<u32>,
    /// The file's text, for rendering the location.
    pub source_text: Option<String>,
}

impl PolicyError {
    pub(crate) fn new(kind: PolicyErrorKind, message: impl Into<String>) -> Self {
        PolicyError { kind, message: message.into(), path: None, line: None, col: None, source_text: None }
    }

    pub fn code(&self) -> crate::error::Code {
        use crate::error::Code;
        match self.kind {
            PolicyErrorKind::Io => Code::PolicyIo,
            PolicyErrorKind::Parse => Code::PolicyParse,
            PolicyErrorKind::Compile => Code::PolicyCompile,
            PolicyErrorKind::Data => Code::PolicyData,
            PolicyErrorKind::Package => Code::PolicyPackage,
            PolicyErrorKind::Schema => Code::PolicySchema,
            PolicyErrorKind::Config => Code::PolicyConfig,
            PolicyErrorKind::NoSignerDecision => Code::PolicyNoSignerDecision,
            PolicyErrorKind::Nondeterministic => Code::PolicyNondeterministic,
            PolicyErrorKind::Unconfigured => Code::PolicyUnconfigured,
        }
    }

    pub fn hint(&self) -> &'static str {
        self.code().hint()
    }

    /// 0-based byte offset of line:col in the source text.
    pub fn offset(&self) -> Option<usize> {
        let (text, line, col) = (self.source_text.as_ref()?, self.line?, self.col?);
        let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1) as usize).map(str::len).sum();
        Some((line_start + col.saturating_sub(1) as usize).min(text.len()))
    }
}

/// The message of a regorus error without its rendered location block.
pub(crate) fn error_message(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    match text.rfind("error: ") {
        Some(i) => text[i + "error: ".len()..].trim().to_string(),
        None => text.trim().to_string(),
    }
}

/// Turn a regorus error ("--> file:line:col ... error: msg") into a located PolicyError.
fn located(kind: PolicyErrorKind, e: &anyhow::Error, sources: &[Source]) -> PolicyError {
    let text = format!("{e:#}");
    let mut err = PolicyError::new(kind, error_message(e));
    if let Some(loc) = text.lines().find_map(|l| l.trim().strip_prefix("--> ")) {
        let mut parts = loc.rsplitn(3, ':');
        let col = parts.next().and_then(|c| c.parse().ok());
        let line = parts.next().and_then(|l| l.parse().ok());
        if let Some(path) = parts.next() {
            err.path = Some(PathBuf::from(path));
            err.line = line;
            err.col = col;
            err.source_text = sources.iter().find(|s| s.path == Path::new(path)).map(|s| s.text.clone());
            if path == LIB_PATH {
                err.source_text = Some(LIB_REGO.to_string());
            }
        }
    }
    err
}

pub(crate) struct Loaded {
    pub engine: regorus::Engine,
    pub entrypoints: Vec<Entrypoint>,
    pub sources: Vec<Source>,
    /// `test_*` rules: (package, rule name, file, line).
    pub tests: Vec<(String, String, PathBuf, u32)>,
    /// Every deny/warn rule compiled for regorus's VM, when the compiler supports all
    /// they use (it does not compile `with`, for one); otherwise the interpreter runs them.
    pub program: Option<std::sync::Arc<regorus::rvm::program::Program>>,
    /// The effective time, in nanoseconds: the VM asks for time.now_ns() (host-await).
    pub now_ns: i64,
    /// Every `vouch.*` package, with its configuration schema.
    pub packages: Vec<PackageInfo>,
    /// Configurable packages loaded by a path of their own (`--policy policies/signing_age`):
    /// (package, path). Each must be configured, or it would judge nothing.
    pub named: Vec<(String, PathBuf)>,
    /// What the policies make of data's top level, for checking per-subject data.
    pub roots: DataRoots,
}

/// A loaded `vouch.*` package and what it declares about its configuration.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    /// `vouch.gitlab`.
    pub name: String,
    /// Where its configuration lives under `data.config` (`gitlab`; `a.b` for `vouch.a.b`).
    pub config: Vec<String>,
    pub schema: Option<std::sync::Arc<super::schema::Schema>>,
    /// The schema says the package decides who may sign (`x-vouch: {judges_signer: true}`);
    /// such a package defines `accepted`, the indices of the signatures it accepts.
    pub judges_signer: bool,
}

/// A data file as read, for pointing at a line.
struct DataFile {
    path: PathBuf,
    text: String,
    json: serde_json::Value,
}

/// regorus's parser backtracks exponentially in the nesting of `[` and `{` (about 2× per
/// level: 20 levels take 20 s). Real policies nest a handful of levels; refuse deeper ones
/// before parsing (found by fuzzing).
pub const MAX_REGO_NESTING: usize = 12;

pub use super::limits::MAX_EVALUATION_TIME;

pub(crate) fn execution_timer() -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig {
        limit: MAX_EVALUATION_TIME,
        check_interval: std::num::NonZeroU32::MIN.saturating_add(999),
    }
}

/// The first `[` or `{` nested deeper than the limit, as (line, col), outside strings
/// and comments.
fn too_deep(text: &str) -> Option<(u32, u32)> {
    let (mut depth, mut line, mut col) = (0usize, 1u32, 0u32);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        match c {
            '\n' => {
                line += 1;
                col = 0;
            }
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    col += 1;
                    match c {
                        '\\' => {
                            chars.next();
                            col += 1;
                        }
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
            }
            '`' => {
                for c in chars.by_ref() {
                    col += 1;
                    if c == '\n' {
                        line += 1;
                        col = 0;
                    }
                    if c == '`' {
                        break;
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_REGO_NESTING {
                    return Some((line, col));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Bounds a policy directory walk (a policy is a handful of files).
const MAX_POLICY_FILES: usize = 10_000;
const MAX_POLICY_FILE_BYTES: u64 = 16 << 20;

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let io = |e: std::io::Error| PolicyError {
        path: Some(dir.to_path_buf()),
        ..PolicyError::new(PolicyErrorKind::Io, format!("cannot read policy {}: {e}", dir.display()))
    };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if meta.is_file() {
        files.push(dir.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, files)?;
        } else if name.ends_with(".rego") || name.ends_with(".json") || name.ends_with(".yaml") || name.ends_with(".yml") {
            // (`*.schema.json` files are configuration schemas, not data.)
            files.push(path);
        }
        if files.len() > MAX_POLICY_FILES {
            return Err(PolicyError::new(
                PolicyErrorKind::Io,
                format!("more than {MAX_POLICY_FILES} policy files under {}", dir.display()),
            ));
        }
    }
    Ok(())
}

pub(crate) fn load(dirs: &[PathBuf], with_tests: bool, effective_time: jiff::Timestamp) -> Result<Loaded, PolicyError> {
    let mut files = Vec::new();
    let mut embedded: Vec<(PathBuf, String)> = Vec::new();
    for dir in dirs {
        if super::builtin::is_builtin(dir) {
            for (path, text) in super::builtin::files(dir)? {
                if !embedded.iter().any(|(p, _)| *p == path) {
                    embedded.push((path, text));
                }
            }
            continue;
        }
        collect(dir, &mut files)?;
        // A package's file given by itself brings its configuration schema.
        if dir.extension().is_some_and(|e| e == "rego") {
            let schema = dir.with_file_name("config.schema.json");
            if schema.is_file() && !files.contains(&schema) {
                files.push(schema);
            }
        }
    }
    let mut texts = Vec::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with("_test.rego") && !with_tests {
            continue;
        }
        let io = |e: std::io::Error| PolicyError {
            path: Some(path.clone()),
            ..PolicyError::new(PolicyErrorKind::Io, format!("cannot read {}: {e}", path.display()))
        };
        if std::fs::metadata(&path).map_err(io)?.len() > MAX_POLICY_FILE_BYTES {
            return Err(PolicyError {
                path: Some(path.clone()),
                ..PolicyError::new(
                    PolicyErrorKind::Io,
                    format!("{} is over the {MAX_POLICY_FILE_BYTES}-byte limit for a policy file", path.display()),
                )
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io)?;
        texts.push((path, text));
    }
    texts.extend(embedded.into_iter().filter(|(path, _)| with_tests || !path.to_string_lossy().ends_with("_test.rego")));
    if !texts.iter().any(|(p, _)| p.extension().is_some_and(|e| e == "rego")) {
        return Err(PolicyError::new(
            PolicyErrorKind::Package,
            format!("no .rego files under {}", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")),
        ));
    }
    let mut loaded = from_texts(texts, effective_time)?;
    // A path that holds exactly one configurable package (its directory, or one of its
    // files, whose schema beside it is loaded with it) names that package.
    for dir in dirs {
        let mut in_dir: Vec<String> = Vec::new();
        for module in loaded.engine.get_modules().iter() {
            if Path::new(module.package.span.source.get_path()).starts_with(dir) {
                let package = package_path(&module.package.refr).join(".");
                if !in_dir.contains(&package) {
                    in_dir.push(package);
                }
            }
        }
        if let [package] = in_dir.as_slice() {
            if loaded.packages.iter().any(|p| &p.name == package && p.schema.is_some()) {
                loaded.named.push((package.clone(), dir.clone()));
            }
        }
    }
    Ok(loaded)
}

/// Load policies and data from (path, text) pairs: `.rego` files are policies, the rest
/// data. The path only names them (and picks the parser).
pub(crate) fn from_texts(texts: Vec<(PathBuf, String)>, effective_time: jiff::Timestamp) -> Result<Loaded, PolicyError> {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.set_execution_timer_config(execution_timer());
    let now_ns = effective_time.as_nanosecond();
    let now = i64::try_from(now_ns).map_err(|_| PolicyError::new(PolicyErrorKind::Io, "effective time out of range"))?;
    // time.now_ns() is the run's effective time, for reproducible re-runs.
    engine
        .add_extension("time.now_ns".into(), 0, Box::new(move |_: Vec<Value>| Ok(Value::from(now))))
        .map_err(|e| PolicyError::new(PolicyErrorKind::Compile, e.to_string()))?;
    engine.add_policy(LIB_PATH.into(), LIB_REGO.into()).map_err(|e| located(PolicyErrorKind::Parse, &e, &[]))?;

    let mut sources = Vec::new();
    let mut schemas = Vec::new();
    let mut schema_sources = Vec::new();
    let mut data_files = Vec::new();
    for (path, text) in texts {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.ends_with(".schema.json") {
            schemas.push(parse_schema(&path, &text)?);
            schema_sources.push(Source { path, text });
            continue;
        }
        sources.push(Source { path: path.clone(), text: text.clone() });
        if name.ends_with(".rego") {
            if let Some((line, col)) = too_deep(&text) {
                return Err(PolicyError {
                    kind: PolicyErrorKind::Parse,
                    message: format!("[ and {{ nested deeper than {MAX_REGO_NESTING} levels: vouch refuses this before parsing (the parser's time grows exponentially with it)"),
                    path: Some(path.clone()),
                    line: Some(line),
                    col: Some(col),
                    source_text: Some(text),
                });
            }
            refuse_nondeterministic(&path, &text)?;
            engine.add_policy(path.display().to_string(), text).map_err(|e| located(PolicyErrorKind::Parse, &e, &sources))?;
        } else {
            let value = parse_data(&path, &text)?;
            // What cannot be written as JSON (a YAML key that is not a string) could not be
            // checked against a schema either.
            let json = as_json(&value).ok_or_else(|| PolicyError {
                path: Some(path.clone()),
                source_text: Some(text.clone()),
                ..PolicyError::new(
                    PolicyErrorKind::Data,
                    format!("{}: every key must be a string (vouch checks data as JSON)", path.display()),
                )
            })?;
            engine.add_data(value).map_err(|e| PolicyError {
                path: Some(path.clone()),
                ..PolicyError::new(PolicyErrorKind::Data, format!("{}: {}", path.display(), error_message(&e)))
            })?;
            data_files.push(DataFile { path, text, json });
        }
    }
    let (mut entrypoints, tests) = find_rules(&mut engine, &sources)?;
    let packages = packages(&mut engine, schemas, &entrypoints, &sources)?;
    // Checked before anything is compiled or judged: a configuration vouch cannot check
    // is an error, never a default.
    let merged =
        as_json(&engine.get_data()).ok_or_else(|| PolicyError::new(PolicyErrorKind::Data, "the merged data cannot be written as JSON"))?;
    let roots = data_roots(&mut engine, &sources);
    check_config(&merged, &packages, &roots).map_err(|violations| located_violations(&violations, &data_files, None))?;
    // The schemas are part of the policy (its digest): they say who judges signers.
    sources.extend(schema_sources);
    // Signer judges' `accepted` rules are entry points too (evaluated before deny/warn
    // when a subject has attestations, to mark which signers were accepted).
    for p in packages.iter().filter(|p| p.judges_signer) {
        entrypoints.push(Entrypoint { package: p.name.clone(), kind: RuleKind::Accepted, path: format!("data.{}.accepted", p.name) });
    }
    compile_checks(&mut engine, &entrypoints, &tests, &sources)?;
    let program = compile_program(&mut engine, &entrypoints);
    Ok(Loaded { engine, entrypoints, sources, tests, program, now_ns: now, packages, named: Vec::new(), roots })
}

/// `value` as JSON, if every key is a string.
pub(crate) fn as_json(value: &Value) -> Option<serde_json::Value> {
    serde_json::from_str(&value.to_json_str().ok()?).ok()
}

/// Builtins whose answer can change between two runs over the same input: randomness,
/// the network, the host, real time. A gate must decide the same way when re-run (the
/// effective time is `time.now_ns()`, which vouch pins); a policy calling one of these is
/// refused at load, naming the rule.
pub const NONDETERMINISTIC_BUILTINS: &[&str] =
    &["rand.intn", "uuid.rfc4122", "http.send", "net.lookup_ip_addr", "opa.runtime", "test.sleep", "__builtin_host_await"];

fn refuse_nondeterministic(path: &Path, text: &str) -> Result<(), PolicyError> {
    use regorus::unstable::{Lexer, TokenKind};
    let Ok(source) = regorus::Source::from_contents(path.display().to_string(), text.to_string()) else {
        return Ok(()); // the parser reports what is wrong with it
    };
    let mut lexer = Lexer::new(&source);
    // The dotted name being read (`rand`, `.`, `intn`), and the rule it sits in (the last
    // name that began a line at column 1).
    let mut name: Vec<String> = Vec::new();
    let mut expect_part = true;
    let mut start = (0u32, 0u32);
    let mut rule = String::new();
    // Inside `[` after a name: the string part read so far.
    let mut bracket: Option<Option<String>> = None;
    while let Ok(token) = lexer.next_token() {
        let (kind, span) = (token.0, token.1);
        match (kind, span.text()) {
            (TokenKind::Eof, _) => break,
            (TokenKind::Ident, word) if expect_part => {
                if name.is_empty() {
                    start = (span.line, span.col);
                    if span.col == 1 && !matches!(word, "package" | "import" | "default") {
                        rule = word.to_string();
                    }
                }
                name.push(word.to_string());
                expect_part = false;
            }
            (TokenKind::Symbol, ".") if !expect_part && !name.is_empty() => expect_part = true,
            // `rand["intn"]` names rand.intn too (regorus's table has none of these
            // builtins either: vendor/regorus/VOUCH-PATCH.md).
            (TokenKind::Symbol, "[") if !expect_part && !name.is_empty() => bracket = Some(None),
            (TokenKind::String | TokenKind::RawString, part) if bracket == Some(None) => {
                bracket = Some(Some(part.trim_matches(['"', '`']).to_string()));
            }
            (TokenKind::Symbol, "]") if matches!(bracket, Some(Some(_))) => {
                if let Some(Some(part)) = bracket.take() {
                    name.push(part);
                }
            }
            (TokenKind::Symbol, "(") if !expect_part => {
                bracket = None;
                let called = name.join(".");
                if NONDETERMINISTIC_BUILTINS.contains(&called.as_str()) {
                    return Err(PolicyError {
                        kind: PolicyErrorKind::Nondeterministic,
                        message: format!("rule {rule} calls {called}, whose answer can change from run to run; a gate must decide the same way every time it is re-run"),
                        path: Some(path.to_path_buf()),
                        line: Some(start.0),
                        col: Some(start.1),
                        source_text: Some(text.to_string()),
                    });
                }
                name.clear();
                expect_part = true;
            }
            (TokenKind::Ident, word) => {
                // A new name after a complete one (`x rand`): start over.
                bracket = None;
                name.clear();
                start = (span.line, span.col);
                if span.col == 1 && !matches!(word, "package" | "import" | "default") {
                    rule = word.to_string();
                }
                name.push(word.to_string());
                expect_part = false;
            }
            _ => {
                bracket = None;
                name.clear();
                expect_part = true;
            }
        }
    }
    Ok(())
}

fn parse_schema(path: &Path, text: &str) -> Result<(PathBuf, super::schema::Schema), PolicyError> {
    let fail = |message: String, line: Option<u32>, col: Option<u32>| PolicyError {
        kind: PolicyErrorKind::Schema,
        message: format!("{}: {message}", path.display()),
        path: Some(path.to_path_buf()),
        line,
        col,
        source_text: Some(text.to_string()),
    };
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| fail(format!("not valid JSON: {e}"), u32::try_from(e.line()).ok(), u32::try_from(e.column()).ok()))?;
    let schema = super::schema::Schema::parse(&doc).map_err(|m| fail(format!("not a schema vouch can apply: {m}"), None, None))?;
    Ok((path.to_path_buf(), schema))
}

/// Each `config.schema.json` belongs to the one `vouch.*` package whose `.rego` files sit
/// beside it.
fn packages(
    engine: &mut regorus::Engine,
    schemas: Vec<(PathBuf, super::schema::Schema)>,
    entrypoints: &[Entrypoint],
    sources: &[Source],
) -> Result<Vec<PackageInfo>, PolicyError> {
    // (package, directory of each of its policy files)
    let mut declared: Vec<(String, PathBuf)> = Vec::new();
    let modules = engine.get_modules().clone();
    for module in modules.iter() {
        let package = module.package.refr.span().text().to_string();
        let file = PathBuf::from(module.package.span.source.get_path());
        if file.to_string_lossy().ends_with("_test.rego") || !package.starts_with("vouch.") || package == "vouch.lib" {
            continue;
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        if !declared.iter().any(|(p, d)| *p == package && *d == dir) {
            declared.push((package, dir));
        }
    }
    let mut out: Vec<PackageInfo> = Vec::new();
    for (package, _) in &declared {
        if !out.iter().any(|p| &p.name == package) {
            let config = package.trim_start_matches("vouch.").split('.').map(str::to_string).collect();
            out.push(PackageInfo { name: package.clone(), config, schema: None, judges_signer: false });
        }
    }
    for (path, schema) in schemas {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut beside: Vec<&String> = declared.iter().filter(|(_, d)| *d == dir).map(|(p, _)| p).collect();
        beside.sort();
        beside.dedup();
        let fail = |message: String| PolicyError {
            path: Some(path.clone()),
            ..PolicyError::new(PolicyErrorKind::Schema, format!("{}: {message}", path.display()))
        };
        let package = match beside.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(fail(
                    "no vouch.* package sits beside this schema: put config.schema.json in the folder of the package's .rego".into(),
                ))
            }
            many => {
                return Err(fail(format!(
                    "the folder holds several packages ({}); give each package its own folder and schema",
                    many.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                )))
            }
        };
        let Some(info) = out.iter_mut().find(|p| p.name == package) else {
            continue;
        };
        if info.schema.is_some() {
            return Err(fail(format!("package {package} already has a schema")));
        }
        info.judges_signer = schema.judges_signer;
        if info.judges_signer && !entrypoints.is_empty() {
            let defines_accepted = modules.iter().any(|m| {
                m.package.refr.span().text() == package && m.policy.iter().any(|r| rule_name(r).is_some_and(|(n, _)| n == "accepted"))
            });
            if !defines_accepted {
                let text = sources.iter().find(|s| s.path.parent() == Some(dir.as_path())).map(|s| s.text.clone());
                return Err(PolicyError {
                    kind: PolicyErrorKind::Schema,
                    message: format!(
                        "{}: package {package} judges the signer (x-vouch.judges_signer) but defines no `accepted` rule (the set of indices of input.signatures it accepts)",
                        path.display()
                    ),
                    path: Some(path.clone()),
                    line: None,
                    col: None,
                    source_text: text.filter(|_| false),
                });
            }
        }
        info.schema = Some(std::sync::Arc::new(schema));
    }
    Ok(out)
}

/// Check `data.config` against the loaded packages: every key names a loaded package,
/// and each package's part fits its schema. A package without a schema cannot be
/// configured: vouch could not check what it is given.
///
/// Every other top-level key of the data must be read by name (`data.KEY`) by a loaded
/// policy: `confg:` for `config:` would otherwise configure nothing, silently.
pub(crate) fn check_config(
    data: &serde_json::Value,
    packages: &[PackageInfo],
    roots_read: &DataRoots,
) -> Result<(), Vec<super::schema::Violation>> {
    use super::schema::{Seg, Violation};
    let mut out = Vec::new();
    for key in data.as_object().map(|m| m.keys()).into_iter().flatten() {
        if let Some(package) = roots_read.packages.iter().find(|p| p.split('.').next() == Some(key.as_str())) {
            out.push(Violation {
                path: vec![Seg::Key(key.clone())],
                message: format!(
                    "data.{key} is where the policies' rules live (package {package}): data there would stand in for rules; package configuration goes under config:"
                ),
            });
        } else if key != "config" && !roots_read.names.contains(key) {
            let near = if super::schema::close("config", key) { " (did you mean config?)".to_string() } else { String::new() };
            out.push(Violation {
                path: vec![Seg::Key(key.clone())],
                message: format!("no loaded policy reads data.{key}{near}; data that nothing reads would configure nothing (package configuration goes under config:)"),
            });
        }
    }
    let Some(config) = data.get("config") else {
        return if out.is_empty() { Ok(()) } else { Err(out) };
    };
    let names = |depth: usize, prefix: &[String]| -> Vec<String> {
        let mut n: Vec<String> =
            packages.iter().filter(|p| p.config.get(..depth) == Some(prefix)).filter_map(|p| p.config.get(depth).cloned()).collect();
        n.sort();
        n.dedup();
        n
    };
    // Walk config.<a>.<b>… down to each package's part.
    fn walk(
        value: &serde_json::Value,
        prefix: &mut Vec<String>,
        packages: &[PackageInfo],
        names: &dyn Fn(usize, &[String]) -> Vec<String>,
        out: &mut Vec<Violation>,
    ) {
        let at = |prefix: &[String]| {
            std::iter::once(Seg::Key("config".into())).chain(prefix.iter().map(|k| Seg::Key(k.clone()))).collect::<Vec<_>>()
        };
        if let Some(p) = packages.iter().find(|p| p.config == *prefix) {
            match &p.schema {
                Some(schema) => schema.validate(value, &mut at(prefix), out),
                None => out.push(Violation {
                    path: at(prefix),
                    message: format!(
                        "package {} declares no configuration schema (config.schema.json beside its .rego), so vouch cannot check what it is given; add one (docs/policies.md#configuration-schemas)",
                        p.name
                    ),
                }),
            }
            return;
        }
        let serde_json::Value::Object(map) = value else {
            out.push(Violation {
                path: at(prefix),
                message: format!("expected a mapping of package names, found {}", super::schema::describe(value)),
            });
            return;
        };
        let known = names(prefix.len(), prefix);
        for (key, item) in map {
            if known.contains(key) {
                prefix.push(key.clone());
                walk(item, prefix, packages, names, out);
                prefix.pop();
            } else {
                let mut path = at(prefix);
                path.push(Seg::Key(key.clone()));
                let near = known.iter().find(|k| super::schema::close(k, key)).map(|k| format!(" (did you mean {k}?)")).unwrap_or_default();
                out.push(Violation {
                    path,
                    message: format!(
                        "no loaded package reads config.{}{key}{near} (loaded: {}); a misspelled or missing package would configure nothing",
                        prefix.iter().map(|p| format!("{p}.")).collect::<String>(),
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ),
                });
            }
        }
    }
    walk(config, &mut Vec::new(), packages, &names, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

/// Turn violations into one error pointing at the first, in the data file that holds it
/// (or in `manifest`, whose part at `prefix` is the data).
fn located_violations(
    violations: &[super::schema::Violation],
    files: &[DataFile],
    manifest: Option<(&Path, &str, &[super::schema::Seg])>,
) -> PolicyError {
    use super::schema::{path_text, Seg};
    let depth_in = |json: &serde_json::Value, path: &[Seg]| -> usize {
        let mut node = json;
        for (i, seg) in path.iter().enumerate() {
            let next = match seg {
                Seg::Key(k) => node.get(k),
                Seg::Index(n) => node.get(*n),
            };
            match next {
                Some(n) => node = n,
                None => return i,
            }
        }
        path.len()
    };
    let first = violations.first();
    let lines: Vec<String> = violations.iter().take(20).map(|v| format!("{}: {}", path_text(&v.path), v.message)).collect();
    let more = violations.len().saturating_sub(20);
    let mut message = lines.join(
        "
",
    );
    if more > 0 {
        message.push_str(&format!(
            "
… and {more} more"
        ));
    }
    let mut err = PolicyError::new(PolicyErrorKind::Config, message);
    let Some(first) = first else { return err };
    match manifest {
        Some((path, text, prefix)) => {
            let full: Vec<Seg> = prefix.iter().cloned().chain(first.path.iter().cloned()).collect();
            err.path = Some(path.to_path_buf());
            if let Some((line, col)) = super::schema::locate(text, &full) {
                err.line = Some(line);
                err.col = Some(col);
            }
            err.source_text = Some(text.to_string());
        }
        None => {
            if let Some(file) = files.iter().max_by_key(|f| depth_in(&f.json, &first.path)) {
                err.path = Some(file.path.clone());
                if let Some((line, col)) = super::schema::locate(&file.text, &first.path) {
                    err.line = Some(line);
                    err.col = Some(col);
                }
                err.source_text = Some(file.text.clone());
            }
        }
    }
    err
}

/// Validate per-subject data (a manifest's `data:`) merged over the policy's data.
pub(crate) fn check_subject_config(
    merged: &serde_json::Value,
    packages: &[PackageInfo],
    roots: &DataRoots,
    manifest: Option<(&Path, &str, &[super::schema::Seg])>,
) -> Result<(), PolicyError> {
    check_config(merged, packages, roots).map_err(|v| located_violations(&v, &[], manifest))
}

/// What the policies make of `data`'s top level: the names they read (`data.NAME` or
/// `data["NAME"]` anywhere in a `.rego` source, comments included: a false "read" only
/// lets a key through that the policies could have read), and the packages they define,
/// as regorus parsed them (`data.vouch` is vouch's own library and rules).
#[derive(Debug, Clone, Default)]
pub struct DataRoots {
    pub names: Vec<String>,
    pub packages: Vec<String>,
}

pub(crate) fn data_roots(engine: &mut regorus::Engine, sources: &[Source]) -> DataRoots {
    let mut names = Vec::new();
    for source in sources.iter().filter(|s| s.path.extension().is_some_and(|e| e == "rego")) {
        let text = source.text.as_str();
        for (at, _) in text.match_indices("data") {
            if text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = &text[at + 4..];
            let name: String = if let Some(r) = rest.strip_prefix('.') {
                r.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
            } else if let Some(r) = rest.strip_prefix("[\"") {
                r.chars().take_while(|c| *c != '"').collect()
            } else {
                continue;
            };
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let mut packages = vec!["vouch.lib".to_string()];
    for module in engine.get_modules().iter() {
        // `package data["helpers"]`, `package\nhelpers`: the path as parsed. A leading
        // `data` component is data's own root, and is refused as a key too.
        let path = package_path(&module.package.refr);
        let mut roots = vec![path.join(".")];
        if let Some((first, rest)) = path.split_first().filter(|(first, rest)| *first == "data" && !rest.is_empty()) {
            let _ = first;
            roots.push(rest.join("."));
        }
        for package in roots {
            if !package.is_empty() && !packages.contains(&package) {
                packages.push(package);
            }
        }
    }
    DataRoots { names, packages }
}

/// A package reference's components: `a.b["c"]` → a, b, c.
fn package_path(refr: &regorus::unstable::Expr) -> Vec<String> {
    use regorus::unstable::Expr;
    match refr {
        Expr::Var { span, .. } => vec![span.text().to_string()],
        Expr::RefDot { refr, field, .. } => {
            let mut path = package_path(refr);
            path.push(field.0.text().to_string());
            path
        }
        Expr::RefBrack { refr, index, .. } => {
            let mut path = package_path(refr);
            if let Expr::String { value, .. } | Expr::RawString { value, .. } = index.as_ref() {
                if let Ok(part) = value.as_string() {
                    path.push(part.to_string());
                }
            }
            path
        }
        _ => Vec::new(),
    }
}

fn parse_data(path: &Path, text: &str) -> Result<Value, PolicyError> {
    let name = path.display().to_string();
    let located_data = |message: String, line: Option<u32>, col: Option<u32>| PolicyError {
        kind: PolicyErrorKind::Data,
        message,
        path: Some(path.to_path_buf()),
        line,
        col,
        source_text: Some(text.to_string()),
    };
    let json: serde_json::Value = if name.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| {
            located_data(format!("{name} is not valid JSON: {e}"), u32::try_from(e.line()).ok(), u32::try_from(e.column()).ok())
        })?
    } else {
        let value = Value::from_yaml_str(text).map_err(|e| {
            let msg = format!("{e:#}");
            // serde_yaml style "at line L column C".
            let num_after =
                |key: &str| msg.split(key).nth(1).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()).and_then(|n| n.parse().ok());
            located_data(format!("{name} is not valid YAML: {msg}"), num_after("line "), num_after("column "))
        })?;
        if !matches!(value, Value::Object(_)) {
            return Err(located_data(format!("{name}: the top level of a data file must be a mapping"), None, None));
        }
        return Ok(value);
    };
    if !json.is_object() {
        return Err(located_data(format!("{name}: the top level of a data file must be an object"), None, None));
    }
    Ok(Value::from(json))
}

type Tests = Vec<(String, String, PathBuf, u32)>;

/// Find `deny`/`warn` in `vouch.*` packages, reject them elsewhere, and list `test_*`.
fn find_rules(engine: &mut regorus::Engine, sources: &[Source]) -> Result<(Vec<Entrypoint>, Tests), PolicyError> {
    let mut entrypoints: Vec<Entrypoint> = Vec::new();
    let mut tests = Vec::new();
    for module in engine.get_modules().iter() {
        let package = module.package.refr.span().text().to_string();
        let path = module.package.span.source.get_path().clone();
        for rule in &module.policy {
            let Some((name, span)) = rule_name(rule) else {
                continue;
            };
            let kind = match name.as_str() {
                "deny" => RuleKind::Deny,
                "warn" => RuleKind::Warn,
                n if n.starts_with("test_") => {
                    tests.push((package.clone(), n.to_string(), PathBuf::from(&path), span.0));
                    continue;
                }
                _ => continue,
            };
            if package != "vouch" && !package.starts_with("vouch.") {
                return Err(PolicyError {
                    kind: PolicyErrorKind::Package,
                    message: format!("package {package} defines {name}, but vouch only evaluates packages under vouch.*: rename it to `package vouch.{package}`"),
                    path: Some(PathBuf::from(&path)),
                    line: Some(span.0),
                    col: Some(span.1),
                    source_text: sources.iter().find(|s| s.path == Path::new(&path)).map(|s| s.text.clone()),
                });
            }
            if !entrypoints.iter().any(|e| e.package == package && e.kind == kind) {
                entrypoints.push(Entrypoint { path: format!("data.{package}.{name}"), package: package.clone(), kind });
            }
        }
    }
    entrypoints.sort_by(|a, b| (&a.package, a.kind as u8).cmp(&(&b.package, b.kind as u8)));
    tests.sort();
    Ok((entrypoints, tests))
}

/// The name and (line, col) of a rule's head: `deny` in `deny contains msg if { … }`.
fn rule_name(rule: &Rule) -> Option<(String, (u32, u32))> {
    let refr = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let span = refr.span();
    let name = span.text().split(['[', '.']).next().unwrap_or_default().trim().to_string();
    Some((name, (span.line, span.col)))
}

/// What can go wrong without an input: the analyzer (unsafe variables), the RVM
/// compiler (unknown functions, anywhere reachable), and a dry run (rule conflicts).
fn compile_checks(engine: &mut regorus::Engine, entrypoints: &[Entrypoint], tests: &Tests, sources: &[Source]) -> Result<(), PolicyError> {
    let mut paths: Vec<String> = entrypoints.iter().map(|e| e.path.clone()).collect();
    paths.extend(tests.iter().map(|(package, name, _, _)| format!("data.{package}.{name}")));
    for path in &paths {
        let compiled = engine.compile_with_entrypoint(&path.as_str().into()).map_err(|e| located(PolicyErrorKind::Compile, &e, sources))?;
        // The RVM compiler resolves every call statically; constructs it does not
        // support yet (e.g. `with`) are left to the interpreter, which runs them.
        if let Err(e) = regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &[path.as_str()]) {
            let e = anyhow::anyhow!("{e}");
            if error_message(&e).starts_with("Unknown function") {
                return Err(located(PolicyErrorKind::Compile, &e, sources));
            }
        }
    }
    // Rule conflicts surface when the rules are evaluated; an empty input reaches the
    // unconditional ones. Other evaluation errors depend on the input and are judged
    // per subject.
    engine.set_input(Value::from(serde_json::json!({})));
    for entry in entrypoints {
        // Bounded like any evaluation: a rule that runs away here fails its subjects later.
        let _scope = super::limits::Scope::enter();
        if let Err(e) = engine.eval_rule(entry.path.clone()) {
            let message = error_message(&e);
            if message.contains("conflict") {
                return Err(located(PolicyErrorKind::Compile, &e, sources));
            }
        }
    }
    Ok(())
}

/// The name under which the VM asks the host for `time.now_ns()`.
pub(crate) const HOST_NOW: &str = "time.now_ns";

/// Compile every deny/warn rule into one VM program (an entry point each, in the order
/// of `entrypoints`). `None` when the VM compiler cannot take them: the interpreter
/// evaluates those policies, at about a third of the speed.
fn compile_program(engine: &mut regorus::Engine, entrypoints: &[Entrypoint]) -> Option<std::sync::Arc<regorus::rvm::program::Program>> {
    let first = entrypoints.first()?;
    let compiled = engine.compile_with_entrypoint(&first.path.as_str().into()).ok()?;
    let paths: Vec<&str> = entrypoints.iter().map(|e| e.path.as_str()).collect();
    regorus::languages::rego::compiler::Compiler::compile_from_policy_with_host_await(&compiled, &paths, &[(HOST_NOW, 0)]).ok()
}

/// For `explain`: (package, kind, messages, "file:line") of each deny/warn definition,
/// by evaluating each definition on its own against the current input.
pub(crate) fn rule_locations(engine: &mut regorus::Engine) -> Vec<(String, RuleKind, Vec<String>, String)> {
    let modules = engine.get_modules().clone();
    let mut out = Vec::new();
    for module in modules.iter() {
        let package = module.package.refr.span().text().to_string();
        let file = module.package.span.source.get_path().clone();
        for rule in &module.policy {
            let Some((name, (line, _))) = rule_name(rule) else {
                continue;
            };
            let kind = match name.as_str() {
                "deny" => RuleKind::Deny,
                "warn" => RuleKind::Warn,
                _ => continue,
            };
            let Ok(data) = engine.eval_rule_in_module(module, rule, false) else {
                continue;
            };
            let mut node = &data;
            for part in package.split('.') {
                node = &node[part];
            }
            let msgs = match &node[name.as_str()] {
                Value::Set(set) => set
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.to_string()),
                        Value::Object(_) => match &v["msg"] {
                            Value::String(s) => Some(s.to_string()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            out.push((package.clone(), kind, msgs, format!("{file}:{line}")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// However a call is spelled, regorus cannot run a builtin whose answer changes
    /// between runs: vouch's copy does not register them (vendor/regorus/VOUCH-PATCH.md).
    #[test]
    fn the_builtin_table_holds_nothing_nondeterministic() {
        for name in super::NONDETERMINISTIC_BUILTINS {
            assert!(!regorus::unstable::BUILTINS.contains_key(name), "{name} is registered");
        }
    }
}
