//! `blob` globs → files, relative to the manifest's folder.

use std::path::{Path, PathBuf};

/// A glob that expands to more files than this is a mistake (or an attack).
pub const MAX_GLOB_SUBJECTS: usize = 100_000;

/// Expand a `blob` glob (relative to `base`) into files, sorted.
pub fn expand_glob(base: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob {pattern:?}: {e}"))?
        .compile_matcher();
    // Walk from the longest literal prefix directory of the pattern.
    let literal: Vec<&str> = pattern.split('/').take_while(|part| !part.contains(['*', '?', '[', '{'])).collect();
    let is_literal_file = literal.len() == pattern.split('/').count();
    if is_literal_file {
        let path = base.join(pattern);
        return Ok(if path.is_file() { vec![path] } else { Vec::new() });
    }
    let root = base.join(literal.join("/"));
    let mut out = Vec::new();
    // Symbolic links are followed (build outputs are often links, Bazel's always);
    // each directory is read once, so a link cycle ends.
    let mut seen_dirs = std::collections::HashSet::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        if let Ok(real) = std::fs::canonicalize(&dir) {
            if !seen_dirs.insert(real) {
                continue;
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(mut file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_symlink() {
                let Ok(target) = std::fs::metadata(&path) else {
                    continue;
                };
                file_type = target.file_type();
            }
            if file_type.is_dir() {
                stack.push(path);
            } else if file_type.is_file() {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                if glob.is_match(rel) {
                    out.push(path);
                    if out.len() > MAX_GLOB_SUBJECTS {
                        return Err(format!("{pattern:?} matches more than {MAX_GLOB_SUBJECTS} files"));
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `{path}` in a bundle template is the artifact's path as listed.
pub fn bundle_for(template: &str, artifact: &Path, base: &Path) -> PathBuf {
    let shown = artifact.strip_prefix(base).unwrap_or(artifact).display().to_string();
    let bundle = template.replace("{path}", &shown);
    base.join(bundle)
}
