//! What every end-to-end test of the binary needs: run `vouch` (the binary cargo built
//! for these tests) and see what a user would see.
#![allow(dead_code)] // each test file uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use testkit::harness::*;

/// The `vouch` binary cargo built for these tests.
pub fn vouch_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vouch"))
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

    /// The one subject of a single-subject command's JSON report.
    pub fn subject(&self) -> serde_json::Value {
        self.json()["subjects"][0].clone()
    }

    /// Fails the test if the program panicked or printed a backtrace.
    pub fn assert_no_panic(&self) -> &Self {
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"), "vouch panicked:\n{}", self.stderr);
        self
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}:\n{}\nstderr:\n{}", self.stdout, self.stderr);
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

/// `bin` with `args`, without colours, backtraces or the caller's `VOUCH_*` settings.
pub fn command(bin: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args).env("NO_COLOR", "1");
    for var in [
        "RUST_BACKTRACE",
        "VOUCH_FORMAT",
        "VOUCH_POLICY",
        "VOUCH_TRUSTED_ROOT",
        "VOUCH_ATTESTATIONS_API",
        "VOUCH_NPM_REGISTRY",
        "VOUCH_PYPI_INDEX",
        "GITLAB_TOKEN",
        "VOUCH_GITLAB_TOKEN",
        "CI_JOB_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "VOUCH_GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Run it to the end: what the user saw, failing the test if it panicked.
pub fn finish(mut cmd: Command) -> Run {
    let Output { status, stdout, stderr } = cmd.output().expect("run vouch");
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    run.assert_no_panic();
    run
}

/// Run with extra environment variables (and none of the registry credential variables
/// of the calling environment).
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(&vouch_bin(), args);
    for var in
        ["VOUCH_REGISTRY_USERNAME", "VOUCH_REGISTRY_PASSWORD", "CI_REGISTRY", "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD", "DOCKER_CONFIG"]
    {
        cmd.env_remove(var);
    }
    cmd.env("HOME", "/nonexistent-vouch-test-home");
    cmd.envs(env.iter().copied());
    finish(cmd)
}

pub fn run_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = command(&vouch_bin(), args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    finish(cmd)
}
