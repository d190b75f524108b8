//! Embeds the bundled policy library (`../policies`) into the engine, so that an
//! installed `vouch` has it: `--policy builtin` and `--policy builtin:NAME`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rego" || e == "json") {
            out.push(path);
        }
    }
}

fn main() {
    // The manifest dir as cargo gives it to this run, not as it was when the build script
    // was compiled: target dirs shared between checkouts reuse a compiled build script,
    // and one built elsewhere would embed (or miss) that other checkout's policies.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let root = Path::new(&manifest_dir).join("../policies");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    let mut code = String::from("/// The bundled library: (path under policies/, text).\npub static FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file.strip_prefix(&root).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let _ = writeln!(code, "    ({rel:?}, include_str!({:?})),", file.display().to_string());
    }
    // A binary without its library would refuse `--policy builtin` at run time: fail here.
    if !files.iter().any(|f| f.extension().is_some_and(|e| e == "rego")) {
        println!("cargo:warning=no .rego files under {}: the bundled policy library would be empty", root.display());
        std::process::exit(1);
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
