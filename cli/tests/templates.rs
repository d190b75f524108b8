//! The GitLab CI/CD catalog components (templates/) and every example pipeline validate
//! against GitLab's CI schema (check-jsonschema's vendor.gitlab-ci; a component's `spec:`
//! header and its body are separate documents), and the gate component's script lines,
//! run as a runner would (`sh -e`, two shards, then the merge), pass the quickstart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{python, scratch, vouch_bin};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// A component with its inputs interpolated (the defaults, then `given`): (header, body).
fn interpolate(template: &Path, given: &[(&str, &str)]) -> (String, String) {
    let text = std::fs::read_to_string(template).unwrap();
    let (head, body) = text.split_once("\n---\n").unwrap_or_else(|| panic!("{}: no `---` after the spec header", template.display()));
    let spec: serde_json::Value = yaml_serde::from_str(head).unwrap();
    let mut body = body.to_string();
    for (name, input) in spec["spec"]["inputs"].as_object().unwrap() {
        let value = given.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_string()).unwrap_or_else(|| match &input["default"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => format!("required-{name}"),
            other => other.to_string(),
        });
        body = body.replace(&format!("$[[ inputs.{name} ]]"), &value);
    }
    assert!(!body.contains("$[["), "{}: an input is not declared", template.display());
    (head.to_string(), body)
}

fn check_gitlab_schema(files: &[PathBuf]) {
    let bin = python().parent().unwrap().join("check-jsonschema");
    let out = Command::new(&bin).args(["--builtin-schema", "vendor.gitlab-ci"]).args(files).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn components_and_example_pipelines_validate() {
    let dir = scratch("templates-schema");
    let mut files = vec![
        repo("examples/gitlab-release-gate/.gitlab-ci.yml"),
        repo("examples/gitlab-sharded-gate/.gitlab-ci.yml"),
        repo("examples/npm-dependency-gate/.gitlab-ci.yml"),
        repo("examples/gitlab-scheduled-review/.gitlab-ci.yml"),
    ];
    let mut components = 0;
    for entry in std::fs::read_dir(repo("templates")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let (head, body) = interpolate(&path, &[]);
        for (part, text) in [("spec", head), ("body", body)] {
            let out = dir.join(format!("{name}.{part}.yml"));
            std::fs::write(&out, text).unwrap();
            files.push(out);
        }
        components += 1;
    }
    assert_eq!(components, 2, "templates/gate.yml and templates/sign.yml");
    check_gitlab_schema(&files);
}

/// The gate component's scripts, as a runner runs them: two shard jobs, then the merge.
#[test]
fn the_gate_component_gates_the_quickstart() {
    let dir = scratch("templates-gate");
    for entry in std::fs::read_dir(repo("examples/quickstart")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("gate.yaml"), "config:\n  gitlab:\n    projects: [acme/app]\n    refs: {branches: [main]}\n").unwrap();
    // The quickstart's manifest names its own trusted root: no TUF update (and no network).
    let given = [
        ("image", "vouch"),
        ("policy", "builtin,gate.yaml"),
        ("shards", "2"),
        ("effective_time", "2026-11-30T09:15:00Z"),
        ("trust_update", "false"),
    ];
    let (_, body) = interpolate(&repo("templates/gate.yml"), &given);
    let pipeline: serde_json::Value = yaml_serde::from_str(&body).unwrap();
    assert_eq!(pipeline["vouch-gate"]["parallel"], 2);
    assert_eq!(pipeline["vouch-gate"]["image"]["entrypoint"], serde_json::json!([""]), "vouch's image has vouch as its entrypoint");
    let first = pipeline["vouch-gate"]["script"][0].as_str().unwrap();
    assert!(first.contains("vouch trust update || test $? -eq 3"), "the gate refreshes trust first: {first}");
    let bin_dir = vouch_bin().parent().unwrap().to_path_buf();
    let job = |name: &str, vars: &[(&str, &str)]| {
        let job = &pipeline[name];
        let script: Vec<&str> = job["script"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let mut cmd = Command::new("sh");
        cmd.arg("-e").arg("-c").arg(script.join("\n")).current_dir(&dir);
        cmd.env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default())).env("NO_COLOR", "1");
        for (k, v) in job["variables"].as_object().into_iter().flatten() {
            cmd.env(k, v.as_str().unwrap());
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for i in ["1", "2"] {
        let (code, _, err) = job("vouch-gate", &[("CI_NODE_INDEX", i), ("CI_NODE_TOTAL", "2")]);
        assert_eq!(code, Some(0), "shard {i}:\n{err}");
    }
    let (code, out, err) = job("vouch-decide", &[]);
    assert_eq!(code, Some(0), "merge:\n{out}\n{err}");
    assert!(out.contains("3 of 3 subjects may ship"), "{out}");
    for report in ["vouch-junit.xml", "gl-code-quality.json", "vouch.md", "vouch.json"] {
        assert!(dir.join(report).is_file(), "{report} is published");
    }
    // One shard missing: the merge refuses.
    std::fs::remove_file(dir.join("vouch-shard-2.json")).unwrap();
    let (code, _, err) = job("vouch-decide", &[]);
    assert_eq!(code, Some(2), "{err}");
}
