//! Trust that stays fresh: `vouch trust update` against a real TUF repository written by
//! python-tuf (an independent implementation, testkit/tuf/repo.py) and served on loopback,
//! whose target is a trusted root minted by the testkit. Every attack the TUF client
//! workflow defends against is tried, and each must leave the cache exactly as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use testkit::{GitLab, SignRequest, VirtualSigstore};

mod common;
use common::{python, run, scratch, FileServer};

/// One TUF repository (python-tuf), its HTTP server, a vouch cache, and two Sigstore
/// instances: A's root is published first; B's keys are new.
struct Tuf {
    dir: PathBuf,
    server: Option<FileServer>,
    url: String,
    cache: PathBuf,
    root1: PathBuf,
    a: Signed,
    b: Signed,
    trusted_a: PathBuf,
    trusted_ab: PathBuf,
}

/// A file signed by one instance, and how to verify it.
struct Signed {
    artifact: PathBuf,
    bundle: PathBuf,
}

const SAN: &str = "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main";

fn repo_py(dir: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/tuf/repo.py");
    let out = std::process::Command::new(python()).arg(script).arg(dir).args(args).output().expect("run python-tuf");
    assert!(
        out.status.success(),
        "testkit/tuf/repo.py {args:?} failed (python-tuf comes with sigstore-python in .venv):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mint(dir: &Path, name: &str) -> (VirtualSigstore, Signed) {
    let mut sigstore = VirtualSigstore::new().unwrap();
    let minted = sigstore.sign(SignRequest::message(name, GitLab::default().identity())).unwrap();
    let (artifact, bundle) = (dir.join(name), dir.join(format!("{name}.sigstore.json")));
    std::fs::write(&artifact, name).unwrap();
    std::fs::write(&bundle, minted.json()).unwrap();
    (sigstore, Signed { artifact, bundle })
}

impl Tuf {
    fn new(name: &str) -> Self {
        let dir = scratch(&format!("tuf-{name}"));
        let (sa, a) = mint(&dir, "a.txt");
        let (sb, b) = mint(&dir, "b.txt");
        let (ra, rb) = (sa.trusted_root().unwrap(), sb.trusted_root().unwrap());
        let mut ab = ra.clone();
        for list in ["tlogs", "certificateAuthorities", "ctlogs"] {
            let more = rb[list].as_array().unwrap().clone();
            ab[list].as_array_mut().unwrap().extend(more);
        }
        let (trusted_a, trusted_ab) = (dir.join("trusted_root_a.json"), dir.join("trusted_root_ab.json"));
        std::fs::write(&trusted_a, serde_json::to_vec_pretty(&ra).unwrap()).unwrap();
        std::fs::write(&trusted_ab, serde_json::to_vec_pretty(&ab).unwrap()).unwrap();
        repo_py(&dir, &["init", &format!("trusted_root.json={}", trusted_a.display())]);
        // The first root, pinned out of band: a copy, not the served file.
        let root1 = dir.join("pinned-1.root.json");
        std::fs::copy(dir.join("repo/1.root.json"), &root1).unwrap();
        let server = FileServer::start(&dir.join("repo"));
        let url = server.url.clone();
        let cache = dir.join("cache");
        Tuf { dir, server: Some(server), url, cache, root1, a, b, trusted_a, trusted_ab }
    }

    fn repo(&self, args: &[&str]) {
        repo_py(&self.dir, args);
    }

    fn publish(&self, trusted_root: &Path) {
        self.repo(&["publish", &format!("trusted_root.json={}", trusted_root.display())]);
    }

    fn update(&self, extra: &[&str]) -> common::Run {
        let (root, cache) = (self.root1.display().to_string(), self.cache.display().to_string());
        let mut args = vec!["trust", "update", "--mirror", &self.url, "--root", &root, "--cache", &cache, "--timeout", "5"];
        args.extend(extra);
        run(&args)
    }

    fn verify(&self, who: &Signed, extra: &[&str]) -> common::Run {
        let (artifact, bundle) = (who.artifact.display().to_string(), who.bundle.display().to_string());
        let (root, cache) = (self.root1.display().to_string(), self.cache.display().to_string());
        let mut args = vec![
            "verify-blob",
            &artifact,
            "--bundle",
            &bundle,
            "--certificate-identity",
            SAN,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--tuf-mirror",
            &self.url,
            "--tuf-root",
            &root,
            "--cache",
            &cache,
        ];
        args.extend(extra);
        run(&args)
    }

    fn requests(&self) -> usize {
        self.server.as_ref().map_or(0, |s| s.requests())
    }

    /// Every file of the cache, for "nothing changed".
    fn cache_files(&self) -> BTreeMap<String, Vec<u8>> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(base, &path, out);
                } else {
                    out.insert(path.strip_prefix(base).unwrap().display().to_string(), std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.cache, &self.cache, &mut out);
        out
    }
}

#[test]
fn bootstrap_rotation_and_new_keys_verify_only_after_an_update() {
    let t = Tuf::new("rotation");
    let first = t.update(&[]);
    first.assert_code(0).assert_stdout_contains("root v1").assert_stdout_contains("first fetch");
    assert!(!t.cache_files().is_empty(), "the update wrote no cache");

    // A fresh cache is used as is, without the network.
    let before = t.requests();
    t.verify(&t.a, &[]).assert_code(0);
    assert_eq!(t.requests(), before, "verifying with a fresh cache asked the mirror");
    t.verify(&t.b, &[]).assert_code(1).assert_stdout_contains("vouch::verify::");

    // Root keys rotate twice (1 → 2 → 3), and the trusted root gains B's CA and logs.
    t.repo(&["rotate-root", "root-2"]);
    t.repo(&["rotate-root", "root-3"]);
    t.publish(&t.trusted_ab);
    // Before an update, B's bundle still fails: the cache is fresh and is what a run uses.
    t.verify(&t.b, &[]).assert_code(1);
    let second = t.update(&[]);
    second
        .assert_code(0)
        .assert_stdout_contains("root v3")
        .assert_stdout_contains("+ transparency-log")
        .assert_stdout_contains("+ certificate-authority")
        .assert_stdout_contains("+ ct-log");
    t.verify(&t.b, &[]).assert_code(0);
    t.verify(&t.a, &[]).assert_code(0);

    // What a run would use, as JSON.
    let (root, cache) = (t.root1.display().to_string(), t.cache.display().to_string());
    let show = run(&["trust", "show", "--tuf-mirror", &t.url, "--tuf-root", &root, "--cache", &cache, "--format", "json"]);
    show.assert_code(0);
    let json = show.json();
    assert_eq!(json["tuf"]["root_version"], 3, "{json}");
    assert_eq!(json["tuf"]["stale"], false);
    assert!(json["source"].as_str().unwrap().starts_with("TUF mirror"), "{json}");
    assert_eq!(json["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "transparency-log").count(), 2, "{json}");
    let text = run(&["trust", "show", "--tuf-mirror", &t.url, "--tuf-root", &root, "--cache", &cache]);
    text.assert_code(0).assert_stdout_contains("root v3").assert_stdout_contains("certificate-authority").assert_stdout_contains("valid ");

    // A manifest names the mirror and its pinned root for the whole gate.
    let manifest = t.dir.join("vouch.yaml");
    std::fs::write(
        &manifest,
        format!(
            "version: 1\ntuf:\n  mirror: {}\n  root: pinned-1.root.json\nidentities:\n  - issuer: https://gitlab.com\n    subject: {SAN}\nsubjects:\n  - blob: \"*.txt\"\n",
            t.url
        ),
    )
    .unwrap();
    let m = manifest.display().to_string();
    run(&["check", &m, "--cache", &cache]).assert_code(0).assert_stdout_contains("2 subjects: 2 passed");
    // `trusted_root` and `tuf` together is a manifest that says two things.
    std::fs::write(
        &manifest,
        format!(
            "version: 1\ntrusted_root: trusted_root_a.json\ntuf:\n  mirror: {}\n  root: pinned-1.root.json\nsubjects:\n  - blob: a.txt\n",
            t.url
        ),
    )
    .unwrap();
    run(&["check", &m, "--cache", &cache]).assert_code(2).assert_stderr_contains("not both");
}

/// Set up a repository the client has followed through two versions, so that every
/// role has an older version to roll back to.
fn followed(name: &str) -> Tuf {
    let t = Tuf::new(name);
    t.update(&[]).assert_code(0);
    t.publish(&t.trusted_ab);
    t.update(&[]).assert_code(0);
    t
}

#[test]
fn attacks_are_exit_1_with_the_tuf_reason_and_change_nothing() {
    type Attack = (&'static str, &'static [&'static [&'static str]], &'static str);
    let attacks: &[Attack] = &[
        ("timestamp-rollback", &[&["rollback", "timestamp"]], "rollback"),
        ("snapshot-rollback", &[&["rollback", "snapshot"]], "rollback"),
        ("targets-rollback", &[&["rollback", "targets"]], "rollback"),
        ("freeze", &[&["timestamp", "--expires-in", "-60"]], "expired"),
        ("timestamp-threshold", &[&["timestamp", "--key", "rogue"]], "threshold not met"),
        ("root-threshold", &[&["rotate-root", "root-2", "--only-new"]], "threshold not met"),
    ];
    // What the mirror serves beyond python-tuf's own steps: an endless timestamp, and a
    // snapshot the signed timestamp pins that is not there. Neither is a network fault
    // (exit 3, retry) but the mirror's doing.
    type Serve = fn(&Tuf);
    let served: &[(&str, Serve, &str)] = &[
        ("oversized-timestamp", |t| std::fs::write(t.dir.join("repo/timestamp.json"), vec![b' '; 20_000]).unwrap(), "exceeds max"),
        (
            "missing-snapshot",
            |t| {
                t.publish(&t.trusted_a);
                std::fs::remove_file(t.dir.join("repo/3.snapshot.json")).unwrap();
            },
            "not found",
        ),
    ];
    for (name, serve, reason) in served {
        let t = followed(name);
        serve(&t);
        let cache = t.cache_files();
        t.update(&[]).assert_code(1).assert_stderr_contains("vouch::trust::tuf").assert_stderr_contains(reason);
        assert_eq!(t.cache_files(), cache, "{name}: the cache changed");
    }
    for (name, steps, reason) in attacks {
        let t = followed(name);
        for step in *steps {
            t.repo(step);
        }
        let cache = t.cache_files();
        let r = t.update(&[]);
        r.assert_code(1).assert_stderr_contains("vouch::trust::tuf").assert_stderr_contains(reason);
        assert_eq!(t.cache_files(), cache, "{name}: the cache changed");
        // The last good cache still verifies.
        t.verify(&t.b, &["--offline"]).assert_code(0);
    }

    // A target whose bytes do not match what the signed targets metadata says.
    let t = Tuf::new("target-hash");
    t.update(&[]).assert_code(0);
    t.publish(&t.trusted_ab);
    t.repo(&["tamper", "trusted_root.json"]);
    let cache = t.cache_files();
    t.update(&[]).assert_code(1).assert_stderr_contains("vouch::trust::tuf").assert_stderr_contains("integrity");
    assert_eq!(t.cache_files(), cache, "a tampered target changed the cache");
    t.verify(&t.b, &["--offline"]).assert_code(1);
}

#[test]
fn a_mirror_that_is_down_is_exit_3_and_keeps_the_cache() {
    let mut t = Tuf::new("down");
    t.update(&[]).assert_code(0);
    let cache = t.cache_files();
    t.server = None; // the server stops
    std::thread::sleep(std::time::Duration::from_millis(50));
    t.update(&[]).assert_code(3).assert_stderr_contains("vouch::trust::tuf-unreachable");
    assert_eq!(t.cache_files(), cache, "a failed update changed the cache");
    // The cache is still fresh, so a run goes on with it.
    t.verify(&t.a, &[]).assert_code(0);
}

#[test]
fn an_expired_cache_is_refreshed_or_used_offline_with_a_warning() {
    let t = Tuf::new("expired");
    let mut down = Tuf::new("expired-down");
    for t in [&t, &down] {
        t.repo(&["timestamp", "--expires-in", "3"]);
        t.update(&[]).assert_code(0);
    }
    std::thread::sleep(std::time::Duration::from_secs(4));

    // Expired, online, and the mirror is down: the run stops (exit 3) and says how to go
    // on with the expired cache; it does not silently use it.
    down.server = None;
    down.verify(&down.a, &[]).assert_code(3).assert_stderr_contains("vouch::trust::tuf-unreachable").assert_stderr_contains("--offline");
    down.verify(&down.a, &["--offline"]).assert_code(0).assert_stderr_contains("using it offline");
    // The warning is in the report too, where CI reads it.
    let json = down.verify(&down.a, &["--offline", "--format", "json"]);
    let trust = &json.json()["plan"]["trust"];
    assert!(trust["source"].as_str().unwrap().contains("expired"), "{trust}");
    assert!(trust["warnings"][0].as_str().unwrap().contains("expired at"), "{trust}");

    // --offline: never the network; the expired cache is used, and the user is told.
    let before = t.requests();
    t.verify(&t.a, &["--offline"]).assert_code(0).assert_stderr_contains("expired at").assert_stderr_contains("using it offline");
    assert_eq!(t.requests(), before, "--offline asked the mirror");

    // Online, the run refreshes it first (the mirror has a new timestamp by now).
    t.repo(&["timestamp"]);
    let r = t.verify(&t.a, &[]);
    r.assert_code(0);
    assert!(!r.stderr.contains("expired at"), "a refreshed cache still warned:\n{}", r.stderr);
    assert!(t.requests() > before, "the expired cache was not refreshed");
}

#[test]
fn a_private_mirror_needs_a_pinned_root() {
    let t = Tuf::new("pins");
    let cache = t.cache.display().to_string();
    // Not a mirror URL, or a timeout no one means: configuration, exit 2.
    run(&["trust", "update", "--mirror", "not a url", "--root-checksum", "00", "--cache", &cache])
        .assert_code(2)
        .assert_stderr_contains("http");
    run(&["trust", "update", "--timeout", "18446744073709551615", "--cache", &cache]).assert_code(2);
    // No pin: refused before anything is fetched.
    run(&["trust", "update", "--mirror", &t.url, "--cache", &cache]).assert_code(2).assert_stderr_contains("vouch::trust::tuf-setup");
    let (artifact, bundle) = (t.a.artifact.display().to_string(), t.a.bundle.display().to_string());
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify-blob",
            &artifact,
            "--bundle",
            &bundle,
            "--certificate-identity",
            SAN,
            "--certificate-oidc-issuer",
            "https://gitlab.com",
            "--cache",
            &cache,
        ];
        args.extend(extra);
        run(&args)
    };
    verify(&["--tuf-mirror", &t.url]).assert_code(2).assert_stderr_contains("vouch::trust::tuf-setup");
    // No cache and --offline: nothing to verify against.
    let root = t.root1.display().to_string();
    verify(&["--tuf-mirror", &t.url, "--tuf-root", &root, "--offline"]).assert_code(2).assert_stderr_contains("trust update");

    // A checksum pins the mirror's own 1.root.json; a wrong one is refused.
    let sum = testkit::sha256_hex(&std::fs::read(&t.root1).unwrap());
    let wrong = testkit::sha256_hex(b"another root");
    run(&["trust", "update", "--mirror", &t.url, "--root-checksum", &wrong, "--cache", &cache])
        .assert_code(2)
        .assert_stderr_contains("not the pinned");
    assert!(!t.cache.exists(), "a refused update wrote a cache");
    run(&["trust", "update", "--mirror", &t.url, "--root-checksum", &sum, "--cache", &cache]).assert_code(0);
    verify(&["--tuf-mirror", &t.url, "--tuf-root-checksum", &sum]).assert_code(0);
    // A root file that is not the one the checksum names.
    let other = t.dir.join("other.root.json");
    std::fs::write(&other, b"{}").unwrap();
    let other = other.display().to_string();
    verify(&["--tuf-mirror", &t.url, "--tuf-root", &other, "--tuf-root-checksum", &sum])
        .assert_code(2)
        .assert_stderr_contains("not the pinned");
}

#[test]
fn a_tampered_cache_is_refused() {
    let t = Tuf::new("tampered");
    t.update(&[]).assert_code(0);
    // Swap the cached trusted root for another instance's: its hash no longer matches
    // the signed targets metadata.
    let cached = t.cache_files().into_keys().find(|k| k.ends_with("targets/trusted_root.json")).expect("cached target");
    std::fs::copy(&t.trusted_ab, t.cache.join(&cached)).unwrap();
    t.verify(&t.b, &["--offline"]).assert_code(1).assert_stderr_contains("vouch::trust::tuf");
    // And a timestamp re-signed by someone else.
    let t = Tuf::new("tampered-ts");
    t.update(&[]).assert_code(0);
    let ts = t.cache_files().into_keys().find(|k| k.ends_with("metadata/timestamp.json")).expect("cached timestamp");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(t.cache.join(&ts)).unwrap()).unwrap();
    v["signed"]["version"] = serde_json::json!(99);
    std::fs::write(t.cache.join(&ts), serde_json::to_vec(&v).unwrap()).unwrap();
    // Cached metadata that does not verify is refused, not trusted; an update replaces it.
    t.verify(&t.a, &[]).assert_code(1).assert_stderr_contains("does not verify").assert_stderr_contains("trust update");
    t.update(&[]).assert_code(0);
    t.verify(&t.a, &[]).assert_code(0);
    let _ = &t.trusted_a;
}

#[test]
fn the_public_instances_fall_back_to_the_embedded_snapshot_with_its_age() {
    let dir = scratch("tuf-embedded");
    let cache = dir.join("empty-cache").display().to_string();
    let r = run(&["trust", "show", "--cache", &cache, "--offline"]);
    r.assert_code(0)
        .assert_stdout_contains("source: embedded Sigstore production root")
        .assert_stdout_contains("https://rekor.sigstore.dev")
        .assert_stderr_contains("no TUF cache of https://tuf-repo-cdn.sigstore.dev")
        .assert_stderr_contains("newest key dates from");
    run(&["trust", "show", "--staging", "--cache", &cache, "--offline"]).assert_code(0).assert_stdout_contains("staging");
}

/// The embedded TUF roots are Sigstore's: each chains, under python-tuf, from the copy
/// sigstore-python ships (signed by a threshold of that root's keys and of its own).
#[test]
fn the_embedded_tuf_roots_chain_from_sigstore_pythons() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/src/trust/tuf");
    let check = r#"
import sys, pathlib, sigstore
from tuf.api.metadata import Metadata
store = pathlib.Path(sigstore.__file__).parent / "_store"
for mirror, ours in [("https%3A%2F%2Ftuf-repo-cdn.sigstore.dev", sys.argv[1]), ("https%3A%2F%2Ftuf-repo-cdn.sigstage.dev", sys.argv[2])]:
    theirs = Metadata.from_file(str(store / mirror / "root.json"))
    new = Metadata.from_file(ours)
    assert new.signed.version >= theirs.signed.version, (mirror, new.signed.version, theirs.signed.version)
    if new.signed.version == theirs.signed.version:
        assert new.to_bytes() == theirs.to_bytes() or new.signed == theirs.signed, mirror
    elif new.signed.version == theirs.signed.version + 1:
        theirs.verify_delegate("root", new)
        new.verify_delegate("root", new)
    else:
        raise SystemExit(f"{mirror}: ours is v{new.signed.version}, sigstore-python ships v{theirs.signed.version}: check the chain by hand")
    print(mirror, "ours v%d chains from sigstore-python's v%d" % (new.signed.version, theirs.signed.version))
"#;
    let out = std::process::Command::new(python())
        .args(["-c", check])
        .arg(engine.join("production-root.json"))
        .arg(engine.join("staging-root.json"))
        .output()
        .expect("run python-tuf");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
