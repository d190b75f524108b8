//! Helpers for the end-to-end tests: find the `vouch` binary, the shared Sigstore
//! cases, run commands, and report what a user would see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `vouch` binary built by this `cargo test` run (same profile as the tests).
pub fn vouch_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/vouch
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("vouch{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test, or `cargo build --release --workspace --bins` before `cargo test --release`",
        bin.display()
    );
    bin
}

/// The folder with conformance-assets/ and real-bundles/ (`VOUCH_SHARED`, default `../shared`).
/// These belong to other projects and are never copied into this repository.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("VOUCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("conformance-assets/cases.tsv").exists(),
        "the Sigstore conformance cases are missing at {}: set VOUCH_SHARED to a folder holding \
         conformance-assets/ and real-bundles/ (the cases come from \
         https://github.com/sigstore/sigstore-conformance)",
        dir.display()
    );
    dir
}

/// A finished command, with what the user saw.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Fails the test if the program panicked or printed a backtrace.
    pub fn assert_no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "vouch panicked:\n{}",
            self.stderr
        );
        self
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        self
    }
}

pub fn run(args: &[&str]) -> Run {
    run_in(None, args)
}

pub fn run_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = Command::new(vouch_bin());
    cmd.args(args).env("NO_COLOR", "1").env_remove("RUST_BACKTRACE");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let Output { status, stdout, stderr } = cmd.output().expect("run vouch");
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    run.assert_no_panic();
    run
}

/// A fresh scratch directory under the target dir (kept for inspection on failure).
pub fn scratch(name: &str) -> PathBuf {
    let dir = vouch_bin()
        .parent()
        .expect("target dir")
        .join("test-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// sigstore-python's CLI (`VOUCH_SIGSTORE_PYTHON`, default `.venv/bin/sigstore`), the
/// independent verifier our testkit's output is checked with.
pub fn sigstore_python() -> PathBuf {
    let path = std::env::var_os("VOUCH_SIGSTORE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/sigstore"));
    assert!(
        path.exists(),
        "sigstore-python is missing at {}: run scripts/test (it creates .venv), or \
         `python3 -m venv .venv && .venv/bin/pip install sigstore==4.5.1`, or set VOUCH_SIGSTORE_PYTHON",
        path.display()
    );
    path
}

/// Run sigstore-python offline against a trust config; returns (success, output).
pub fn sigstore_python_verify(trust_config: &Path, bundle: &Path, artifact: &Path, identity: &str, issuer: &str) -> (bool, String) {
    let out = Command::new(sigstore_python())
        .arg("--trust-config")
        .arg(trust_config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(artifact)
        .output()
        .expect("run sigstore-python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The venv's Python (`VOUCH_PYTHON`, default `.venv/bin/python`), with jsonschema.
pub fn python() -> PathBuf {
    let path = std::env::var_os("VOUCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let ok = Command::new(&path).args(["-c", "import jsonschema"]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "python with jsonschema is missing at {}: run scripts/test (it creates .venv), or \
         `.venv/bin/pip install jsonschema==4.26.0`, or set VOUCH_PYTHON",
        path.display()
    );
    path
}
