//! Rego policies over verified claims (regorus): load and compile once, evaluate per
//! subject, explain, and run `test_*` rules with coverage.
//!
//! Policies are packages under `vouch.*` defining `deny contains r` and/or
//! `warn contains r`, where `r` is a string or `{"msg", "code", "title", "solution"}`.
//! Everything that can be checked without an input is checked at load: syntax, unsafe
//! variables, unknown functions (regorus's RVM compiler resolves every call), rule
//! conflicts, and `deny`/`warn` outside `vouch.*` — so a bad policy stops the run before
//! any subject is judged.

pub mod builtin;
pub mod limits;
mod load;
pub mod schema;
mod test;
pub mod value;

use std::sync::Arc;

use regorus::rvm::program::Program;
use regorus::rvm::vm::VmError;
use regorus::rvm::RegoVM;
use regorus::Value;
use serde::Serialize;

pub use load::{PackageInfo, PolicyError, PolicyErrorKind, Source};
pub use test::{run_tests, TestOutcome, TestReport, TestStatus};

/// The bundled helper package, `data.vouch.lib`.
pub const LIB_REGO: &str = include_str!("lib.rego");
const LIB_PATH: &str = "<vouch>/lib.rego";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Deny,
    Warn,
    /// A signer judge's set of accepted signature indices.
    Accepted,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Deny => "deny",
            RuleKind::Warn => "warn",
            RuleKind::Accepted => "accepted",
        }
    }
}

/// One `deny` or `warn` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// The package, without `data.` (e.g. `vouch.gitlab`).
    pub package: String,
    pub rule: RuleKind,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
    /// What the finding is about (a package, a ref), for waivers that name a `term`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub term: Option<String>,
    /// `file:line` of the rule that produced it (filled in by `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub deny: Vec<Finding>,
    pub warn: Vec<Finding>,
    /// The signatures (indices into `input.signatures`) that every configured signer judge
    /// accepts; `None` when no judge is configured. A subject passes only with one.
    #[serde(skip)]
    pub accepted: Option<std::collections::BTreeSet<usize>>,
}

#[derive(Debug, Clone)]
struct Entrypoint {
    package: String,
    kind: RuleKind,
    path: String,
}

/// Loaded, compiled policies. Clone one per worker thread: evaluation needs `&mut`.
///
/// Subjects are judged by regorus's VM (RVM) when every deny/warn rule compiles for it,
/// about three times faster than its interpreter; the interpreter stays the reference:
/// it runs `explain` and `vouch test`, policies the VM cannot compile, and re-runs any
/// evaluation during which the VM errored or absorbed an error (the VM is lenient where
/// the interpreter is strict; vendor/regorus/VOUCH-PATCH.md), so that a rule that errors
/// fails its subject, with the same words everywhere.
pub struct Policy {
    engine: regorus::Engine,
    program: Option<Arc<Program>>,
    /// The VM of this clone, made on first use (it cannot be cloned).
    vm: Option<RegoVM>,
    data: Value,
    now_ns: i64,
    /// Whether the program asks the host for time.now_ns().
    asks_time: bool,
    entrypoints: Arc<Vec<Entrypoint>>,
    sources: Arc<Vec<Source>>,
    packages: Arc<Vec<PackageInfo>>,
    /// The signer judges whose configuration is present: they decide who may sign.
    judges: Vec<String>,
    /// Configurable packages loaded by a path of their own: (package, path).
    named: Arc<Vec<(String, std::path::PathBuf)>>,
    roots: Arc<load::DataRoots>,
}

impl Clone for Policy {
    fn clone(&self) -> Self {
        Policy {
            engine: self.engine.clone(),
            program: self.program.clone(),
            vm: None,
            data: self.data.clone(),
            now_ns: self.now_ns,
            asks_time: self.asks_time,
            entrypoints: self.entrypoints.clone(),
            sources: self.sources.clone(),
            packages: self.packages.clone(),
            judges: self.judges.clone(),
            named: self.named.clone(),
            roots: self.roots.clone(),
        }
    }
}

/// The signer judges among `packages` whose `config.<name>` is present in `data`.
fn configured_judges(packages: &[PackageInfo], data: &Value) -> Vec<String> {
    packages.iter().filter(|p| p.judges_signer && configured(p, data)).map(|p| p.name.clone()).collect()
}

/// Whether `data` holds the package's `config.<name>`.
fn configured(package: &PackageInfo, data: &Value) -> bool {
    let mut node = &data["config"];
    for part in &package.config {
        node = &node[part.as_str()];
    }
    !matches!(node, Value::Undefined | Value::Null)
}

/// An evaluation that errored (a runtime error in a rule): the subject fails.
#[derive(Debug, Clone, thiserror::Error)]
#[error("policy evaluation failed in {package}.{rule}: {message}")]
pub struct EvalError {
    pub package: String,
    pub rule: &'static str,
    pub message: String,
}

impl Policy {
    /// Load every `.rego` (except `*_test.rego`) and data file (`.json`, `.yaml`,
    /// `.yml`, merged into `data`) under `dirs`, and compile.
    pub fn load(dirs: &[std::path::PathBuf], effective_time: jiff::Timestamp) -> Result<Self, PolicyError> {
        Ok(Self::from_loaded(load::load(dirs, false, effective_time)?))
    }

    /// Load from in-memory (path, text) pairs (`.rego` policies, `.json`/`.yaml` data).
    pub fn from_texts(texts: Vec<(std::path::PathBuf, String)>, effective_time: jiff::Timestamp) -> Result<Self, PolicyError> {
        Ok(Self::from_loaded(load::from_texts(texts, effective_time)?))
    }

    fn from_loaded(loaded: load::Loaded) -> Self {
        let asks_time = loaded
            .program
            .as_ref()
            .is_some_and(|p| p.instructions.iter().any(|i| matches!(i, regorus::rvm::Instruction::HostAwait { .. })));
        let data = loaded.engine.get_data();
        Policy {
            judges: configured_judges(&loaded.packages, &data),
            data,
            engine: loaded.engine,
            program: loaded.program,
            vm: None,
            now_ns: loaded.now_ns,
            asks_time,
            entrypoints: Arc::new(loaded.entrypoints),
            sources: Arc::new(loaded.sources),
            packages: Arc::new(loaded.packages),
            named: Arc::new(loaded.named),
            roots: Arc::new(loaded.roots),
        }
    }

    /// A package loaded by a path of its own (`--policy policies/signing_age`) must be
    /// configured: the user asked for it, and unconfigured it would judge nothing.
    /// (Packages loaded together from a folder of several, such as `policies/`, judge
    /// only when configured.)
    pub fn require_named_configured(&self) -> Result<(), PolicyError> {
        for (name, path) in self.named.iter() {
            if let Some(package) = self.packages.iter().find(|p| &p.name == name) {
                if !configured(package, &self.data) {
                    return Err(PolicyError::new(
                        PolicyErrorKind::Unconfigured,
                        format!(
                            "{} loads {name}, but nothing configures it (config.{}): it would judge nothing",
                            path.display(),
                            package.config.join(".")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The SHA-256 of every loaded source and the data, in a stable order: two runs with
    /// the same digest judge with the same policy.
    pub fn digest(&self) -> String {
        let mut parts: Vec<String> = self
            .sources
            .iter()
            .map(|s| {
                format!(
                    "{}\n{}",
                    s.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                    sigstore_verify::crypto::sha256(s.text.as_bytes()).to_hex()
                )
            })
            .collect();
        parts.sort();
        parts.push(self.data.to_json_str().unwrap_or_default());
        sigstore_verify::crypto::sha256(parts.join("\n").as_bytes()).to_hex()
    }

    /// The configured packages that decide who may sign (e.g. `vouch.gitlab` with
    /// `config.gitlab`). A run needs these or identity requirements.
    pub fn signer_judges(&self) -> &[String] {
        &self.judges
    }

    /// Every loaded `vouch.*` package with what its schema declares.
    pub fn package_info(&self) -> &[PackageInfo] {
        &self.packages
    }

    /// The configured GitLab instances and GitHub hosts (`config.gitlab.instances`,
    /// `config.github.hosts`): certificates from them get CI claims.
    pub fn platform_config(&self) -> (Vec<String>, Vec<String>) {
        let list = |v: &Value| match v {
            Value::Array(items) => items.iter().filter_map(|i| if let Value::String(s) = i { Some(s.to_string()) } else { None }).collect(),
            _ => Vec::new(),
        };
        (list(&self.data["config"]["gitlab"]["instances"]), list(&self.data["config"]["github"]["hosts"]))
    }

    /// Whether subjects are judged by the VM (false: by the interpreter).
    pub fn compiled(&self) -> bool {
        self.program.is_some()
    }

    /// The packages that define `deny` or `warn`.
    pub fn packages(&self) -> Vec<String> {
        let mut packages: Vec<String> = self.entrypoints.iter().map(|e| e.package.clone()).collect();
        packages.sort();
        packages.dedup();
        packages
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Evaluate every `deny` and `warn` for one input document ([`Input`], or any JSON).
    pub fn evaluate<T: Serialize + ?Sized>(&mut self, input: &T) -> Result<Decision, EvalError> {
        let value = input_value(input)?;
        if self.program.is_some() {
            let _scope = limits::Scope::enter();
            match self.evaluate_vm(value.clone()) {
                Ok(decision) => return Ok(decision),
                // A runaway rule: the interpreter would only take as long again.
                Err(VmFailure::Timeout(e)) => return Err(e),
                // Anything else: the interpreter's verdict, and its words for the error.
                Err(VmFailure::Other) => {}
            }
        }
        self.evaluate_interpreted(value)
    }

    /// Evaluate with the interpreter only (the reference for the VM).
    pub fn evaluate_with_interpreter<T: Serialize + ?Sized>(&mut self, input: &T) -> Result<Decision, EvalError> {
        let value = input_value(input)?;
        self.evaluate_interpreted(value)
    }

    /// The VM's decision alone, or `None` where [`Policy::evaluate`] would ask the
    /// interpreter (no program, an absorbed error, a timeout). For differential tests.
    pub fn evaluate_with_vm<T: Serialize + ?Sized>(&mut self, input: &T) -> Option<Decision> {
        let value = input_value(input).ok()?;
        let _scope = limits::Scope::enter();
        self.evaluate_vm(value).ok()
    }

    fn evaluate_vm(&mut self, input: Value) -> Result<Decision, VmFailure> {
        let Some(program) = &self.program else {
            return Err(VmFailure::Other);
        };
        if self.vm.is_none() {
            // Each worker gets its own copy of the program's literals and of the data:
            // regorus values are reference-counted, and two threads counting the
            // same ones contend for the same cache lines (2 threads ran at 1.2x of one).
            let mut own = Program::clone(program);
            own.literals = own.literals.iter().map(value::deep_copy).collect();
            let mut vm = RegoVM::new();
            vm.load_program(Arc::new(own));
            vm.set_data(value::deep_copy(&self.data)).map_err(|_| VmFailure::Other)?;
            // As the interpreter: builtin errors are errors, and only time bounds a rule.
            vm.set_strict_builtin_errors(true);
            vm.set_max_instructions(usize::MAX);
            // deny, warn and accepted share helper rules (a package's violations): computed
            // once per input, not once per entry point (vendor/regorus/VOUCH-PATCH.md).
            vm.set_share_rule_cache(true);
            vm.set_execution_timer_config(Some(load::execution_timer()));
            self.vm = Some(vm);
        }
        let Some(vm) = self.vm.as_mut() else {
            return Err(VmFailure::Other);
        };
        vm.set_input(input);
        if self.asks_time {
            // time.now_ns() is the run's effective time, four answers per entry point for
            // the subject. A policy that asks more often runs out and is re-run by the
            // interpreter.
            let answers = std::iter::repeat_n(Value::from(self.now_ns), 4 * self.entrypoints.len());
            vm.set_host_await_responses([(Value::from(load::HOST_NOW), answers)]);
        }
        let mut decision = Decision::default();
        for (index, entry) in self.entrypoints.iter().enumerate() {
            if entry.kind == RuleKind::Accepted && !self.judges.contains(&entry.package) {
                continue;
            }
            let lenient_before = vm.lenient_events();
            let value = vm.execute_entry_point_by_index(index).map_err(|e| {
                match (limits::tripped(), e) {
                    // A limit: the interpreter would only run into it again.
                    (Some(message), _) => {
                        VmFailure::Timeout(EvalError { package: entry.package.clone(), rule: entry.kind.as_str(), message })
                    }
                    (None, e @ VmError::TimeLimitExceeded { .. }) => {
                        VmFailure::Timeout(EvalError { package: entry.package.clone(), rule: entry.kind.as_str(), message: format!("{e}") })
                    }
                    _ => VmFailure::Other,
                }
            })?;
            // The VM goes on past an error in a rule body (the body just fails) and
            // turns conflicting rule values into undefined: a deny rule that errored
            // would deny nothing. The strict interpreter decides such subjects.
            if vm.lenient_events() != lenient_before {
                return Err(VmFailure::Other);
            }
            decision.add(entry, &value).map_err(|_| VmFailure::Other)?;
        }
        Ok(decision)
    }

    fn evaluate_interpreted(&mut self, value: Value) -> Result<Decision, EvalError> {
        let _scope = limits::Scope::enter();
        self.engine.set_input(value);
        let mut decision = Decision::default();
        for entry in self.entrypoints.iter().filter(|e| e.kind != RuleKind::Accepted || self.judges.contains(&e.package)) {
            let value = self.engine.eval_rule(entry.path.clone()).map_err(|e| EvalError {
                package: entry.package.clone(),
                rule: entry.kind.as_str(),
                message: limits::tripped().unwrap_or_else(|| load::error_message(&e)),
            })?;
            decision.add(entry, &value)?;
        }
        Ok(decision)
    }

    /// Which signatures (indices into `input.signatures`) every configured signer judge
    /// accepts; `None` when no judge is configured. Evaluated by the interpreter: it runs
    /// only for subjects with attestations, to tell which attestations' signers count.
    pub fn accepted<T: Serialize + ?Sized>(&mut self, input: &T) -> Result<Option<std::collections::BTreeSet<usize>>, EvalError> {
        if self.judges.is_empty() {
            return Ok(None);
        }
        let value = input_value(input)?;
        let _scope = limits::Scope::enter();
        self.engine.set_input(value);
        let mut accepted: Option<std::collections::BTreeSet<usize>> = None;
        for entry in self.entrypoints.iter().filter(|e| e.kind == RuleKind::Accepted && self.judges.contains(&e.package)) {
            let fail = |message: String| EvalError { package: entry.package.clone(), rule: "accepted", message };
            let value = self
                .engine
                .eval_rule(entry.path.clone())
                .map_err(|e| fail(limits::tripped().unwrap_or_else(|| load::error_message(&e))))?;
            let set = accepted_set(entry, &value)?;
            accepted = Some(match accepted {
                None => set,
                Some(prev) => prev.intersection(&set).copied().collect(),
            });
        }
        Ok(Some(accepted.unwrap_or_default()))
    }

    /// Evaluate like [`Policy::evaluate`], and say which rule definition produced each
    /// finding (`file:line`), by evaluating each `deny`/`warn` definition on its own.
    pub fn explain<T: Serialize + ?Sized>(&mut self, input: &T) -> Result<Decision, EvalError> {
        // The interpreter throughout: the locations come from its evaluation of this input.
        let _scope = limits::Scope::enter();
        let mut decision = self.evaluate_with_interpreter(input)?;
        let locations = load::rule_locations(&mut self.engine);
        for finding in decision.deny.iter_mut().chain(decision.warn.iter_mut()) {
            finding.location = locations
                .iter()
                .find(|(package, kind, msgs, _)| package == &finding.package && *kind == finding.rule && msgs.contains(&finding.msg))
                .map(|(_, _, _, location)| location.clone());
        }
        Ok(decision)
    }
}

impl Decision {
    fn add(&mut self, entry: &Entrypoint, value: &Value) -> Result<(), EvalError> {
        match entry.kind {
            RuleKind::Deny => self.deny.extend(findings(entry, value)?),
            RuleKind::Warn => self.warn.extend(findings(entry, value)?),
            RuleKind::Accepted => {
                let set = accepted_set(entry, value)?;
                self.accepted = Some(match self.accepted.take() {
                    None => set,
                    Some(prev) => prev.intersection(&set).copied().collect(),
                });
            }
        }
        Ok(())
    }
}

/// A signer judge's `accepted`: a set of indices into `input.signatures`.
fn accepted_set(entry: &Entrypoint, value: &Value) -> Result<std::collections::BTreeSet<usize>, EvalError> {
    let fail = |message: String| EvalError { package: entry.package.clone(), rule: "accepted", message };
    match value {
        Value::Undefined => Ok(Default::default()),
        Value::Set(items) => items
            .iter()
            .map(|i| {
                i.as_u64()
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| fail(format!("accepted must hold signature indices, not {i}")))
            })
            .collect(),
        other => Err(fail(format!("accepted must be a set of signature indices, it is {}", type_name(other)))),
    }
}

fn input_value<T: Serialize + ?Sized>(input: &T) -> Result<Value, EvalError> {
    value::to_value(input).map_err(|e| EvalError { package: "vouch".into(), rule: "input", message: e.to_string() })
}

enum VmFailure {
    Timeout(EvalError),
    Other,
}

/// Read a `deny`/`warn` set: each element a string or an object with `msg`.
fn findings(entry: &Entrypoint, value: &Value) -> Result<Vec<Finding>, EvalError> {
    let fail = |message: String| EvalError { package: entry.package.clone(), rule: entry.kind.as_str(), message };
    let set = match value {
        Value::Undefined => return Ok(Vec::new()),
        Value::Set(set) => set,
        other => {
            return Err(fail(format!(
                "{} must be a set (`{} contains msg if {{ ... }}`), it is {}",
                entry.kind.as_str(),
                entry.kind.as_str(),
                type_name(other)
            )))
        }
    };
    set.iter()
        .map(|item| {
            let text = |v: &Value| match v {
                Value::String(s) => Some(s.to_string()),
                Value::Undefined | Value::Null => None,
                other => other.to_json_str().ok(),
            };
            let mut finding = Finding {
                package: entry.package.clone(),
                rule: entry.kind,
                msg: String::new(),
                code: None,
                title: None,
                solution: None,
                term: None,
                location: None,
            };
            match item {
                Value::String(s) => finding.msg = s.to_string(),
                Value::Object(_) => {
                    finding.msg = text(&item["msg"]).ok_or_else(|| {
                        fail(format!("a {} object needs a \"msg\": {}", entry.kind.as_str(), item.to_json_str().unwrap_or_default()))
                    })?;
                    finding.code = text(&item["code"]);
                    finding.title = text(&item["title"]);
                    finding.solution = text(&item["solution"]);
                    finding.term = text(&item["term"]);
                }
                other => {
                    return Err(fail(format!(
                        "a {} message must be a string or an object with \"msg\", not {}",
                        entry.kind.as_str(),
                        type_name(other)
                    )))
                }
            }
            Ok(finding)
        })
        .collect()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Set(_) => "a set",
        Value::Object(_) => "an object",
        Value::Undefined => "undefined",
    }
}

/// Parse `--effective-time` (RFC 3339); `None` means now.
pub fn effective_time(arg: Option<&str>) -> Result<jiff::Timestamp, crate::Error> {
    match arg {
        None => Ok(jiff::Timestamp::now()),
        Some(text) => text.parse::<jiff::Timestamp>().map_err(|_| crate::Error::EffectiveTime(text.to_string())),
    }
}

impl Policy {
    /// This policy with `data` merged over its data (the override wins), for subjects
    /// with their own configuration.
    ///
    /// The merged configuration is checked against the packages' schemas like data files
    /// are; `origin` (the manifest, its text and where `data` sits in it) locates errors.
    pub fn with_data(
        &self,
        data: &serde_json::Value,
        origin: Option<(&std::path::Path, &str, &[schema::Seg])>,
    ) -> Result<Policy, PolicyError> {
        // (Loaded data is JSON: load checked it.)
        let mut merged = load::as_json(&self.engine.get_data()).unwrap_or_else(|| serde_json::json!({}));
        merge(&mut merged, data);
        load::check_subject_config(&merged, &self.packages, &self.roots, origin)?;
        let mut engine = self.engine.clone();
        engine.clear_data();
        engine.add_data(Value::from(merged)).map_err(|e| PolicyError {
            kind: PolicyErrorKind::Data,
            message: format!("per-subject data: {}", load::error_message(&e)),
            path: None,
            line: None,
            col: None,
            source_text: None,
        })?;
        // The VM program does not depend on data: only the data changes.
        let data = engine.get_data();
        Ok(Policy {
            judges: configured_judges(&self.packages, &data),
            data,
            engine,
            program: self.program.clone(),
            vm: None,
            now_ns: self.now_ns,
            asks_time: self.asks_time,
            entrypoints: self.entrypoints.clone(),
            sources: self.sources.clone(),
            packages: self.packages.clone(),
            named: self.named.clone(),
            roots: self.roots.clone(),
        })
    }
}

fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// A JSON document, as policies see their input.
pub type InputValue = serde_json::Value;

/// A small, valid policy input (for fuzzing and examples).
pub fn sample_input() -> InputValue {
    serde_json::json!({
        "subject": {"kind": "blob", "name": "app.tar.gz", "digest": {"sha256": "0000000000000000000000000000000000000000000000000000000000000000"}},
        "signatures": [{"kind": "message", "bundle_media_type": "application/vnd.dev.sigstore.bundle.v0.3+json", "claims": {
            "issuer": "https://gitlab.com",
            "identity": {"type": "uri", "value": "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"},
            "gitlab": {"instance": "https://gitlab.com", "project_path": "acme/app", "namespace": "acme", "ref": "refs/heads/main", "ref_type": "branch", "ref_name": "main",
                       "ci_config_project_path": "acme/app", "ci_config_path": ".gitlab-ci.yml", "ci_config_ref": "refs/heads/main"},
            "extensions": {}, "certificate": {"not_before": "2026-01-01T00:00:00Z", "not_after": "2026-01-01T00:10:00Z", "serial": "01", "fingerprint_sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
            "signed_at": "2026-01-01T00:01:00Z"}}],
        "attestations": [],
        "verification_errors": [],
        "context": {"effective_time": "2026-01-02T00:00:00Z", "shard": "1/1"}
    })
}
