//! The bundled policy library, embedded at build time (engine/build.rs), so that an
//! installed `vouch` has it wherever it runs: `--policy builtin` loads every package,
//! `--policy builtin:NAME` one (`gitlab`, `github`, `signing_age`, `attestations`, `provenance`, `ecosystems`), in
//! manifests too. Its files are named `builtin:NAME/FILE` in diagnostics.

use std::path::{Path, PathBuf};

use super::{PolicyError, PolicyErrorKind};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// Whether a `--policy` argument names the bundled library rather than a path (a
/// folder that happens to be called `builtin` is `./builtin`).
pub fn is_builtin(arg: &Path) -> bool {
    arg.to_str().is_some_and(|s| s == "builtin" || s.starts_with("builtin:"))
}

/// The bundled packages, by folder name.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = FILES.iter().filter_map(|(path, _)| path.split_once('/').map(|(dir, _)| dir)).collect();
    names.dedup();
    names
}

/// The bundled files an argument names, as (`builtin:NAME/FILE`, text).
pub fn files(arg: &Path) -> Result<Vec<(PathBuf, String)>, PolicyError> {
    let wanted = arg.to_str().and_then(|s| s.strip_prefix("builtin:"));
    if let Some(name) = wanted.filter(|n| !names().contains(n)) {
        return Err(PolicyError::new(
            PolicyErrorKind::Io,
            format!("there is no bundled package {name:?}: the bundled ones are {}", names().join(", ")),
        ));
    }
    Ok(FILES
        .iter()
        .filter(|(path, _)| wanted.is_none_or(|name| path.split_once('/').is_some_and(|(dir, _)| dir == name)))
        .map(|(path, text)| (PathBuf::from(format!("builtin:{path}")), text.to_string()))
        .collect())
}

/// One bundled file's text (`vouch policy show`).
pub fn file(name: &str, file: &str) -> Option<&'static str> {
    FILES.iter().find(|(path, _)| *path == format!("{name}/{file}")).map(|(_, text)| *text)
}

/// One bundled package, as `vouch policy list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bundled {
    /// `--policy builtin:NAME`.
    pub name: &'static str,
    /// `config.NAME` (its schema's title).
    pub configured_by: String,
    pub description: String,
    /// Whether it decides who may sign (then identity flags may be left out).
    pub judges_signer: bool,
    /// Its configuration keys.
    pub keys: Vec<String>,
}

/// Every bundled package.
pub fn list() -> Vec<Bundled> {
    names()
        .into_iter()
        .map(|name| {
            let schema: serde_json::Value = file(name, "config.schema.json").and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
            let text = |k: &str| schema.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            Bundled {
                name,
                configured_by: text("title"),
                description: text("description"),
                judges_signer: schema.pointer("/x-vouch/judges_signer").and_then(|v| v.as_bool()).unwrap_or(false),
                keys: schema.get("properties").and_then(|p| p.as_object()).map(|p| p.keys().cloned().collect()).unwrap_or_default(),
            }
        })
        .collect()
}

/// `vouch policy show NAME`: the package's Rego and its configuration schema.
pub fn show(name: &str) -> Result<String, PolicyError> {
    let files = files(Path::new(&format!("builtin:{name}")))?;
    let mut out = String::new();
    for (path, text) in files.iter().filter(|(p, _)| !p.to_string_lossy().ends_with("_test.rego")) {
        out.push_str(&format!("# ---- {} ----\n{text}", path.display()));
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}
