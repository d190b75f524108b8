//! Packages from their registries: a loopback registry (testkit::packages) implementing
//! npm's packument, keys and attestations endpoints and PyPI's JSON and Integrity APIs,
//! serving testkit-minted packages signed by a testkit registry key and the real npm and
//! PyPI bundles of ../shared/real-bundles. Each hostile answer must fail its package with
//! its own code; each infrastructure fault must leave it not judged (exit 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::PathBuf;

use serde_json::{json, Value};
use testkit::packages::{integrity, pypi_provenance, NpmVersion, PackageRegistry, PypiFile, RegistryKey};
use testkit::{Content, GitHub, GitLab, SignRequest, VirtualSigstore};

mod common;
use common::{command, finish, scratch, shared_dir, vouch_bin, Run};

const PUBLISH: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";
const V1: &str = "https://slsa.dev/provenance/v1";
const PUBLISHED: &str = "2026-01-10T10:00:00.000Z";

struct Lab {
    dir: PathBuf,
    sigstore: VirtualSigstore,
    registry: PackageRegistry,
    key: RegistryKey,
    root: String,
}

impl Lab {
    fn new(name: &str) -> Self {
        let dir = scratch(&format!("packages-{name}"));
        let sigstore = VirtualSigstore::new().unwrap();
        std::fs::write(dir.join("trusted_root.json"), sigstore.trusted_root().unwrap().to_string()).unwrap();
        let key = RegistryKey::new("SHA256:testkit-registry-2026");
        let registry = PackageRegistry::start();
        registry.with(|s| s.keys = Some(json!({"keys": [key.entry()]})));
        Lab { root: dir.join("trusted_root.json").display().to_string(), dir, sigstore, registry, key }
    }

    /// A package signed by the registry, with GitLab provenance and npm's publish
    /// attestation, both naming the tarball's sha512 and the package's purl.
    fn publish(&mut self, name: &str, version: &str, gl: &GitLab) -> NpmVersion {
        let tarball = format!("{name}@{version} tarball").into_bytes();
        let purl = format!("pkg:npm/{}@{version}", name.replacen('@', "%40", 1));
        let provenance = self.provenance(&tarball, &purl, gl);
        let publish = self.publish_attestation(&tarball, &purl, name, version);
        let mut v = NpmVersion::new(name, version, tarball, PUBLISHED).signed(&self.key);
        v.attestations = Some(vec![(V1.into(), provenance), (PUBLISH.into(), publish)]);
        v
    }

    fn provenance(&mut self, tarball: &[u8], purl: &str, gl: &GitLab) -> Value {
        self.sigstore
            .sign(SignRequest::dsse(tarball.to_vec(), gl.identity(), Content::gitlab_slsa_v1(gl)).name(purl).sha512())
            .unwrap()
            .bundle
    }

    fn publish_attestation(&mut self, tarball: &[u8], purl: &str, name: &str, version: &str) -> Value {
        let content = Content::Dsse {
            statement_type: "https://in-toto.io/Statement/v1".into(),
            predicate_type: PUBLISH.into(),
            predicate: json!({"name": name, "version": version, "registry": "https://registry.npmjs.org"}),
        };
        let identity = GitLab::default().identity();
        self.sigstore
            .sign(SignRequest::dsse(tarball.to_vec(), identity, content).name(purl).sha512().with_key(self.key.managed()))
            .unwrap()
            .bundle
    }

    fn vouch(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--npm-registry", &self.registry.url, "--pypi-index", &self.registry.url, "--trusted-root", &self.root]);
        let mut cmd = command(&vouch_bin(), &all);
        for var in ["VOUCH_NPM_REGISTRY", "VOUCH_PYPI_INDEX", "NPM_TOKEN"] {
            cmd.env_remove(var);
        }
        finish(cmd)
    }

    fn gitlab_identity(gl: &GitLab) -> Vec<String> {
        vec!["--certificate-identity".into(), gl.san(), "--certificate-oidc-issuer".into(), "https://gitlab.com".into()]
    }
}

fn subject<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["subjects"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no subject {id} in {report}"))
}

fn codes(s: &Value) -> String {
    s["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn npm_packages_verified_and_every_hostile_registry_answer_refused() {
    let mut lab = Lab::new("npm");
    let gl = GitLab::default();
    let good = lab.publish("@acme/app", "1.0.0", &gl);
    let good_tarball = good.tarball.clone();
    lab.registry.add_npm(good.clone());

    // The provenance is over other bytes than the tarball the registry signed.
    let mut tampered = lab.publish("tampered", "1.0.0", &gl);
    let other = lab.provenance(b"other bytes", "pkg:npm/tampered@1.0.0", &gl);
    tampered.attestations.as_mut().unwrap()[0].1 = other;
    lab.registry.add_npm(tampered);

    // Signed by a key the registry does not list.
    let stranger = RegistryKey::new("SHA256:somebody-else");
    let mut unknown = NpmVersion::new("unknownkey", "1.0.0", b"unknownkey".to_vec(), PUBLISHED).signed(&stranger);
    unknown.attestations = None;
    lab.registry.add_npm(unknown);

    // Signed by a key that had expired when the version was published.
    let mut old_key = RegistryKey::new("SHA256:retired-2025");
    old_key.expires = Some("2025-01-29T00:00:00.000Z".into());
    lab.registry.add_npm(NpmVersion::new("expiredkey", "1.0.0", b"expiredkey".to_vec(), PUBLISHED).signed(&old_key));
    // A version published before that expiry, by the same key, is fine.
    lab.registry.add_npm(NpmVersion::new("expiredkey", "0.9.0", b"expiredkey 0.9".to_vec(), "2024-06-01T00:00:00.000Z").signed(&old_key));
    lab.registry.with(|s| s.keys = Some(json!({"keys": [lab.key.entry(), old_key.entry()]})));

    // The registry dropped dist.signatures (a mirror that rewrote the package).
    lab.registry.add_npm(NpmVersion::new("dropped", "1.0.0", b"dropped".to_vec(), PUBLISHED));

    // Provenance from another project.
    let evil = GitLab { project: "evil/app".into(), ..GitLab::default() };
    let foreign = lab.publish("foreign", "1.0.0", &evil);
    lab.registry.add_npm(foreign);

    // 1.0.1 is the same tarball as 1.0.0, served with 1.0.0's attestations.
    let first = lab.publish("replayed", "1.0.0", &gl);
    let mut second = NpmVersion::new("replayed", "1.0.1", first.tarball.clone(), PUBLISHED).signed(&lab.key);
    second.attestations = first.attestations.clone();
    lab.registry.add_npm(first);
    lab.registry.add_npm(second);

    let id = Lab::gitlab_identity(&gl);
    let mut args = vec!["check", "--format", "json"];
    let specs = [
        "npm:@acme/app@1.0.0",
        "npm:tampered@1.0.0",
        "npm:unknownkey@1.0.0",
        "npm:expiredkey@1.0.0",
        "npm:expiredkey@0.9.0",
        "npm:dropped@1.0.0",
        "npm:foreign@1.0.0",
        "npm:replayed@1.0.1",
        "npm:missing@1.0.0",
    ];
    for s in &specs {
        args.extend(["--package", s]);
    }
    args.extend(id.iter().map(String::as_str));
    let r = lab.vouch(&args);
    r.assert_code(1);
    let report = r.json();
    let good = subject(&report, "npm:@acme/app@1.0.0");
    assert_eq!(good["verdict"], "pass", "{good}");
    assert_eq!(good["package"]["registry_signature"], "verified");
    assert_eq!(good["package"]["attestations"], 2, "provenance and publish attestation");
    assert_eq!(good["kind"], "package");
    assert!(good["sha512"].as_str().is_some_and(|h| h.len() == 128));
    let expect = [
        ("npm:tampered@1.0.0", "vouch::package::attestation"),
        ("npm:unknownkey@1.0.0", "vouch::package::signature"),
        ("npm:expiredkey@1.0.0", "vouch::package::signature"),
        ("npm:dropped@1.0.0", "vouch::package::signature-missing"),
        ("npm:foreign@1.0.0", "vouch::verify::identity"),
        ("npm:replayed@1.0.1", "vouch::package::attestation"),
        ("npm:missing@1.0.0", "vouch::package::not-found"),
    ];
    for (id, code) in expect {
        let s = subject(&report, id);
        assert_eq!(s["verdict"], "fail", "{id}: {s}");
        assert!(codes(s).contains(code), "{id}: expected {code}, got {}", codes(s));
    }
    // Registry signature only, no provenance: identity flags ask for provenance.
    let s = subject(&report, "npm:expiredkey@0.9.0");
    assert_eq!(s["package"]["registry_signature"], "verified", "{s}");
    assert!(codes(s).contains("vouch::verify::none"), "{}", codes(s));
    // One packument per package name, the keys once.
    let asked: Vec<String> = lab.registry.with(|s| s.log.iter().map(|(p, _)| p.clone()).collect());
    assert_eq!(asked.iter().filter(|p| p.as_str() == "/expiredkey").count(), 1, "{asked:?}");
    assert_eq!(asked.iter().filter(|p| p.ends_with("/-/npm/v1/keys")).count(), 1, "{asked:?}");

    // The lockfile's integrity must be the registry's.
    let lock = json!({"name": "x", "lockfileVersion": 3, "packages": {
        "": {"name": "x"},
        "node_modules/@acme/app": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/@acme/app/-/app-1.0.0.tgz", "integrity": integrity(b"not the tarball")}
    }});
    std::fs::write(lab.dir.join("package-lock.json"), lock.to_string()).unwrap();
    let lockfile = lab.dir.join("package-lock.json").display().to_string();
    let mut args = vec!["check", "--lockfile", &lockfile, "--format", "json"];
    args.extend(id.iter().map(String::as_str));
    let r = lab.vouch(&args);
    r.assert_code(1);
    assert!(codes(&r.subject()).contains("vouch::package::integrity"), "{}", r.stdout);

    // An empty integrity is no integrity: npm would install `resolved` unchecked.
    let lock = json!({"name": "x", "lockfileVersion": 3, "packages": {
        "node_modules/@acme/app": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/@acme/app/-/app-1.0.0.tgz", "integrity": ""}
    }});
    std::fs::write(lab.dir.join("package-lock.json"), lock.to_string()).unwrap();
    lab.vouch(&args).assert_code(2).assert_stderr_contains("vouch::package::lockfile");

    // `only` never drops what cannot be judged: a scoped git dependency without an
    // integrity is still a subject, and it fails.
    let lock = json!({"name": "x", "lockfileVersion": 3, "packages": {
        "node_modules/@acme/app": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/@acme/app/-/app-1.0.0.tgz", "integrity": integrity(&good_tarball)},
        "node_modules/@acme/core": {"version": "1.0.0", "resolved": "git+ssh://git@example.com/acme/core.git#abc"}
    }});
    std::fs::write(lab.dir.join("package-lock.json"), lock.to_string()).unwrap();
    let manifest = format!(
        "version: 1\ntrusted_root: trusted_root.json\nregistries: {{npm: {}}}\nidentities:\n  - {{issuer: https://gitlab.com, subject: \"{}\"}}\nsubjects:\n  - lockfile: package-lock.json\n    only: [\"@acme/*\"]\n",
        lab.registry.url,
        gl.san()
    );
    std::fs::write(lab.dir.join("vouch.yaml"), manifest).unwrap();
    let r = finish(command(&vouch_bin(), &["check", &lab.dir.join("vouch.yaml").display().to_string(), "--format", "json"]));
    r.assert_code(1);
    let report = r.json();
    assert_eq!(subject(&report, "npm:@acme/app@1.0.0")["verdict"], "pass");
    assert!(codes(subject(&report, "npm:@acme/core")).contains("vouch::package::unjudgeable"));
}

#[test]
fn a_lockfile_of_hundreds_with_npm_audit_signatures_counts() {
    let mut lab = Lab::new("lockfile");
    let gl = GitLab::default();
    let mut packages = serde_json::Map::new();
    packages.insert("".into(), json!({"name": "app", "version": "1.0.0"}));
    // 300 packages: every one signed by the registry, every tenth with attestations
    // (minted together: one checkpoint for all).
    let mut requests = Vec::new();
    let mut versions = Vec::new();
    for i in 0..300 {
        let name = if i % 3 == 0 { format!("@acme/pkg-{i}") } else { format!("pkg-{i}") };
        let tarball = format!("{name} tarball").into_bytes();
        let mut v = NpmVersion::new(&name, "1.2.3", tarball.clone(), PUBLISHED).signed(&lab.key);
        if i % 10 == 0 {
            let purl = format!("pkg:npm/{}@1.2.3", name.replacen('@', "%40", 1));
            requests.push(SignRequest::dsse(tarball, gl.identity(), Content::gitlab_slsa_v1(&gl)).name(&purl).sha512());
            v.attestations = Some(Vec::new());
        }
        packages.insert(
            format!("node_modules/{name}"),
            json!({"version": "1.2.3", "resolved": format!("https://registry.npmjs.org/{name}/-/x.tgz"), "integrity": v.integrity}),
        );
        versions.push(v);
    }
    let mut minted = lab.sigstore.sign_many(requests).unwrap().into_iter();
    for mut v in versions {
        if let Some(list) = v.attestations.as_mut() {
            list.push((V1.into(), minted.next().unwrap().bundle));
        }
        lab.registry.add_npm(v);
    }
    // A git dependency cannot be judged: it is a subject that fails, not one left out.
    packages.insert(
        "node_modules/from-git".into(),
        json!({"version": "0.1.0", "resolved": "git+ssh://git@example.com/x.git#abc", "integrity": "sha512-AAAA"}),
    );
    std::fs::write(lab.dir.join("package-lock.json"), json!({"name": "app", "lockfileVersion": 3, "packages": packages}).to_string())
        .unwrap();
    let config = "config:\n  ecosystems:\n    provenance:\n      required: []\n";
    std::fs::write(lab.dir.join("gate.yaml"), config).unwrap();
    let lockfile = lab.dir.join("package-lock.json").display().to_string();
    let gate = lab.dir.join("gate.yaml").display().to_string();
    let r = lab.vouch(&["check", "--lockfile", &lockfile, "--policy", "builtin:ecosystems", "--policy", &gate]);
    r.assert_code(1);
    r.assert_stdout_contains("audited 301 packages");
    r.assert_stdout_contains("300 packages have verified registry signatures");
    r.assert_stdout_contains("30 packages have verified attestations");
    r.assert_stdout_contains("1 package could not be judged");
    r.assert_stdout_contains("vouch::package::unjudgeable");
    // Without the git dependency (`only` in a manifest), the rest passes.
    let manifest = format!(
        "version: 1\npolicy: [builtin:ecosystems, gate.yaml]\nregistries:\n  npm: {url}\n  pypi: {url}\nsubjects:\n  - lockfile: package-lock.json\n    only: [\"pkg-*\", \"@acme/*\"]\n",
        url = lab.registry.url
    );
    std::fs::write(lab.dir.join("vouch.yaml"), manifest).unwrap();
    let m = lab.dir.join("vouch.yaml").display().to_string();
    let r = finish(command(&vouch_bin(), &["check", &m, "--trusted-root", &lab.root]));
    r.assert_code(0);
    r.assert_stdout_contains("300 packages have verified registry signatures");
    r.assert_stdout_contains("300 subjects: 300 passed, 0 failed");
    // Sharded at one effective time (as a pipeline gives it), and the merge needs both.
    let mut reports = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out = lab.dir.join(format!("shard-{}.json", &shard[..1])).display().to_string();
        let r = finish(command(
            &vouch_bin(),
            &[
                "check",
                &m,
                "--trusted-root",
                &lab.root,
                "--effective-time",
                "2026-11-01T00:00:00Z",
                "--shard",
                shard,
                "--output",
                &format!("json={out}"),
            ],
        ));
        r.assert_code(0);
        reports.push(out);
    }
    let r = finish(command(&vouch_bin(), &["report", "merge", &reports[0], &reports[1]]));
    r.assert_code(0);
    r.assert_stdout_contains("300 subjects: 300 passed");
    let r = finish(command(&vouch_bin(), &["report", "merge", &reports[0]]));
    r.assert_code(2);
}

#[test]
fn the_ecosystems_policy_maps_scopes_to_publishers() {
    let mut lab = Lab::new("ecosystems");
    let gl = GitLab::default();
    let evil = GitLab { project: "evil/app".into(), ..GitLab::default() };
    let app = lab.publish("@acme/app", "1.0.0", &gl);
    lab.registry.add_npm(app);
    let stolen = lab.publish("@acme/lib", "2.0.0", &evil);
    lab.registry.add_npm(stolen);
    // @acme/cli lost its provenance in 1.1.0 (1.0.0 had it).
    let old = lab.publish("@acme/cli", "1.0.0", &gl);
    lab.registry.add_npm(old);
    lab.registry.add_npm(NpmVersion::new("@acme/cli", "1.1.0", b"cli 1.1".to_vec(), "2026-02-01T00:00:00.000Z").signed(&lab.key));
    // Outside the required scopes: registry signature suffices; an exception too.
    lab.registry.add_npm(NpmVersion::new("left-pad", "1.3.0", b"left-pad".to_vec(), PUBLISHED).signed(&lab.key));
    lab.registry.add_npm(NpmVersion::new("@acme/legacy", "0.1.0", b"legacy".to_vec(), PUBLISHED).signed(&lab.key));
    let gate = "config:\n  ecosystems:\n    provenance:\n      required: [\"@acme/*\"]\n      exceptions:\n        - package: \"@acme/legacy\"\n          reason: built before CI signing; replaced by @acme/app (ACME-42)\n    publishers:\n      - packages: [\"@acme/*\"]\n        gitlab:\n          projects: [acme/app]\n          refs: {branches: [main]}\n";
    std::fs::write(lab.dir.join("gate.yaml"), gate).unwrap();
    let g = lab.dir.join("gate.yaml").display().to_string();
    let mut args = vec!["check", "--policy", "builtin:ecosystems", "--policy", &g, "--format", "json"];
    for s in ["npm:@acme/app@1.0.0", "npm:@acme/lib@2.0.0", "npm:@acme/cli@1.1.0", "npm:left-pad@1.3.0", "npm:@acme/legacy@0.1.0"] {
        args.extend(["--package", s]);
    }
    let r = lab.vouch(&args);
    r.assert_code(1);
    let report = r.json();
    assert_eq!(subject(&report, "npm:@acme/app@1.0.0")["verdict"], "pass");
    assert_eq!(subject(&report, "npm:left-pad@1.3.0")["verdict"], "pass");
    assert_eq!(subject(&report, "npm:@acme/legacy@0.1.0")["verdict"], "pass");
    let lib = subject(&report, "npm:@acme/lib@2.0.0");
    assert!(codes(lib).contains("ecosystems.publisher"), "{lib}");
    let cli = subject(&report, "npm:@acme/cli@1.1.0");
    assert!(codes(cli).contains("ecosystems.provenance_dropped"), "{cli}");
    assert!(codes(cli).contains("ecosystems.provenance_missing"), "{cli}");

    // A lockfile that installs left-pad as @acme/core: judged as the name it is installed as too.
    let left_pad = integrity(b"left-pad");
    let lock = json!({"name": "x", "lockfileVersion": 3, "packages": {
        "node_modules/@acme/core": {"name": "left-pad", "version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "integrity": left_pad}
    }});
    std::fs::write(lab.dir.join("package-lock.json"), lock.to_string()).unwrap();
    let lockfile = lab.dir.join("package-lock.json").display().to_string();
    let r = lab.vouch(&["check", "--lockfile", &lockfile, "--policy", "builtin:ecosystems", "--policy", &g, "--format", "json"]);
    r.assert_code(1);
    assert!(codes(&r.subject()).contains("ecosystems.provenance_missing"), "{}", r.stdout);

    // A configuration the policy cannot check is exit 2 before any package is fetched.
    let before = lab.registry.requests();
    for bad in [
        "config:\n  ecosystems:\n    publishers: []\n",
        "config:\n  ecosystems:\n    provenance:\n      required: [\"@acme/*\"]\n      exeptions: []\n",
        "config:\n  ecosystems:\n    provenance:\n      required: []\n    publishers:\n      - packages: [\"@acme/*\"]\n        gitlab:\n          projects: [acme/app]\n",
    ] {
        std::fs::write(lab.dir.join("bad.yaml"), bad).unwrap();
        let b = lab.dir.join("bad.yaml").display().to_string();
        let r = lab.vouch(&["check", "--package", "npm:left-pad@1.3.0", "--policy", "builtin:ecosystems", "--policy", &b]);
        r.assert_code(2);
    }
    assert_eq!(lab.registry.requests(), before, "nothing is fetched for a refused configuration");
}

#[test]
fn real_npm_provenance_and_publish_attestations() {
    // sigstore@1.3.0, 2.0.0 and 3.1.0 as npm published them: their real provenance
    // (GitHub Actions, Sigstore's production instance) and the real publish attestation
    // of 1.3.0, signed by npm's registry key; the registry signatures are the testkit
    // key's (the real ones are not at hand here).
    let lab = Lab::new("real-npm");
    let real = |f: &str| shared_dir().join("real-bundles/github-npm").join(f);
    let bundle = |f: &str| serde_json::from_str::<Value>(&std::fs::read_to_string(real(f)).unwrap()).unwrap();
    let npm_key = std::fs::read_to_string(real("npm-publish-attestation-key.pub")).unwrap();
    let npm_key: String = npm_key.lines().filter(|l| !l.starts_with("-----")).collect();
    lab.registry.with(|s| {
        s.keys = Some(json!({"keys": [lab.key.entry(), {"expires": "2025-01-29T00:00:00.000Z", "keyid": "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "keytype": "ecdsa-sha2-nistp256", "scheme": "ecdsa-sha2-nistp256", "key": npm_key}]}))
    });
    for (version, published, publish) in [
        ("1.3.0", "2023-04-19T17:30:00.000Z", true),
        ("2.0.0", "2023-05-01T17:30:00.000Z", false),
        ("3.1.0", "2025-02-14T12:04:00.000Z", false),
    ] {
        let mut v = NpmVersion::new("sigstore", version, std::fs::read(real(&format!("sigstore-{version}.tgz"))).unwrap(), published)
            .signed(&lab.key);
        let mut list = vec![(V1.into(), bundle(&format!("sigstore-{version}.provenance.sigstore.json")))];
        if version == "1.3.0" {
            list[0].0 = "https://slsa.dev/provenance/v0.2".into();
        }
        if publish {
            list.push((PUBLISH.into(), bundle("sigstore-1.3.0.publish.sigstore.json")));
        }
        v.attestations = Some(list);
        lab.registry.add_npm(v);
    }
    let r = finish(command(
        &vouch_bin(),
        &[
            "check",
            "--package",
            "npm:sigstore@1.3.0",
            "--package",
            "npm:sigstore@2.0.0",
            "--package",
            "npm:sigstore@3.1.0",
            "--npm-registry",
            &lab.registry.url,
            "--certificate-identity-regexp",
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--format",
            "json",
        ],
    ));
    r.assert_code(0);
    let report = r.json();
    let v13 = subject(&report, "npm:sigstore@1.3.0");
    assert_eq!(v13["package"]["attestations"], 2, "{v13}");
    assert_eq!(subject(&report, "npm:sigstore@3.1.0")["package"]["attestations"], 1);
    // The publish attestation by a key that is not npm's: refused.
    lab.registry.with(|s| s.keys = Some(json!({"keys": [lab.key.entry()]})));
    let r = finish(command(
        &vouch_bin(),
        &[
            "check",
            "--package",
            "npm:sigstore@1.3.0",
            "--npm-registry",
            &lab.registry.url,
            "--certificate-identity-regexp",
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--format",
            "json",
        ],
    ));
    r.assert_code(1);
    assert!(codes(&r.subject()).contains("vouch::package::attestation"), "{}", r.stdout);
}

#[test]
fn pypi_files_with_their_trusted_publishers() {
    let mut lab = Lab::new("pypi");
    let real = |f: &str| shared_dir().join("real-bundles").join(f);
    let read_json = |f: &str| serde_json::from_str::<Value>(&std::fs::read_to_string(real(f)).unwrap()).unwrap();
    let sha = |f: &str| testkit::sha256_hex(&std::fs::read(real(f)).unwrap());
    // The real gitlab.com attestation, under its real Trusted Publisher; the real GitHub
    // provenance object of pypi-attestations as PyPI serves it.
    let gitlab_publisher = json!({"kind": "GitLab", "repository": "facutuesca/gitlab-oidc-project", "workflow_filepath": ".gitlab-ci.yml", "environment": null});
    let real_gitlab = json!({"version": 1, "attestation_bundles": [{"publisher": gitlab_publisher, "attestations": [read_json("gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.attestation")]}]});
    // The same attestation listed under another project's publisher.
    let lying = json!({"version": 1, "attestation_bundles": [{"publisher": {"kind": "GitLab", "repository": "acme/app", "workflow_filepath": ".gitlab-ci.yml"}, "attestations": [read_json("gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.attestation")]}]});
    // A minted GitHub attestation, and one for another file.
    let gh = GitHub::default();
    let minted = lab
        .sigstore
        .sign(
            SignRequest::dsse(
                b"acme-1.0.tar.gz".to_vec(),
                gh.identity(),
                Content::Dsse {
                    statement_type: "https://in-toto.io/Statement/v1".into(),
                    predicate_type: "https://docs.pypi.org/attestations/publish/v1".into(),
                    predicate: Value::Null,
                },
            )
            .name("acme-1.0.tar.gz"),
        )
        .unwrap()
        .bundle;
    let gh_publisher = json!({"kind": "GitHub", "repository": gh.repository, "workflow": gh.workflow_path.rsplit('/').next().unwrap(), "environment": null});
    let wrong_file = lab
        .sigstore
        .sign(
            SignRequest::dsse(
                b"acme-1.0-py3-none-any.whl".to_vec(),
                gh.identity(),
                Content::Dsse {
                    statement_type: "https://in-toto.io/Statement/v1".into(),
                    predicate_type: "https://docs.pypi.org/attestations/publish/v1".into(),
                    predicate: Value::Null,
                },
            )
            .name("acme-1.0.tar.gz"),
        )
        .unwrap()
        .bundle;
    lab.registry.with(|s| {
        let file = |project: &str, version: &str, filename: &str, sha256: String, provenance: Option<Value>| PypiFile {
            project: project.into(),
            version: version.into(),
            filename: filename.into(),
            sha256,
            provenance,
            upload_time: PUBLISHED.into(),
        };
        s.pypi.push(file(
            "gitlab-oidc-project",
            "0.0.3",
            "gitlab_oidc_project-0.0.3.tar.gz",
            sha("gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz"),
            Some(real_gitlab),
        ));
        s.pypi.push(file(
            "pypi-attestations",
            "0.0.19",
            "pypi_attestations-0.0.19.tar.gz",
            sha("github-pypi/pypi_attestations-0.0.19.tar.gz"),
            Some(read_json("github-pypi/pypi_attestations-0.0.19.tar.gz.provenance")),
        ));
        s.pypi.push(file(
            "acme",
            "1.0",
            "acme-1.0.tar.gz",
            testkit::sha256_hex(b"acme-1.0.tar.gz"),
            Some(pypi_provenance(gh_publisher.clone(), &[minted])),
        ));
        s.pypi.push(file(
            "acme",
            "1.0",
            "acme-1.0-py3-none-any.whl",
            testkit::sha256_hex(b"acme-1.0-py3-none-any.whl"),
            Some(pypi_provenance(gh_publisher.clone(), &[wrong_file])),
        ));
        s.pypi.push(file("acme", "1.0", "acme-1.0-cp312-none-any.whl", testkit::sha256_hex(b"unsigned wheel"), None));
        // The index lists another project's file under acme 1.0.
        s.pypi.push(file("acme", "1.0", "evil-1.0.tar.gz", testkit::sha256_hex(b"evil"), None));
    });
    let real_gitlab_signer = [
        "--certificate-identity",
        "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        "https://gitlab.com",
    ];
    let spec = "pypi:gitlab-oidc-project==0.0.3/gitlab_oidc_project-0.0.3.tar.gz";
    let r = finish(command(
        &vouch_bin(),
        &[&["check", "--package", spec, "--pypi-index", &lab.registry.url, "--format", "json"][..], &real_gitlab_signer[..]].concat(),
    ));
    r.assert_code(0);
    assert_eq!(r.subject()["package"]["registry_signature"], "none");
    // A mirror that lists the same real attestation under another Trusted Publisher.
    let mirror = PackageRegistry::start();
    mirror.with(|s| {
        s.pypi.push(PypiFile {
            project: "gitlab-oidc-project".into(),
            version: "0.0.3".into(),
            filename: "gitlab_oidc_project-0.0.3.tar.gz".into(),
            sha256: sha("gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz"),
            provenance: Some(lying),
            upload_time: PUBLISHED.into(),
        })
    });
    let r = finish(command(
        &vouch_bin(),
        &[&["check", "--package", spec, "--pypi-index", &mirror.url, "--format", "json"][..], &real_gitlab_signer[..]].concat(),
    ));
    r.assert_code(1);
    assert!(codes(&r.subject()).contains("vouch::package::publisher"), "{}", r.stdout);

    // Real GitHub provenance, through a requirements.txt with hashes.
    std::fs::write(
        lab.dir.join("requirements.txt"),
        format!("pypi-attestations==0.0.19 \\\n    --hash=sha256:{}\n", sha("github-pypi/pypi_attestations-0.0.19.tar.gz")),
    )
    .unwrap();
    let req = lab.dir.join("requirements.txt").display().to_string();
    let r = finish(command(
        &vouch_bin(),
        &[
            "check",
            "--lockfile",
            &req,
            "--pypi-index",
            &lab.registry.url,
            "--certificate-identity-regexp",
            "https://github.com/trailofbits/pypi-attestations/.*",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--format",
            "json",
        ],
    ));
    r.assert_code(0);
    assert_eq!(r.subject()["name"], "pypi:pypi-attestations==0.0.19/pypi_attestations-0.0.19.tar.gz");

    // Minted: the sdist passes; the wheel's attestation names the sdist; the other wheel
    // has none; a hash the index does not list.
    std::fs::write(
        lab.dir.join("requirements.txt"),
        format!(
            "acme==1.0 --hash=sha256:{} --hash=sha256:{} --hash=sha256:{} --hash=sha256:{}\n",
            testkit::sha256_hex(b"acme-1.0.tar.gz"),
            testkit::sha256_hex(b"acme-1.0-py3-none-any.whl"),
            testkit::sha256_hex(b"unsigned wheel"),
            "0".repeat(64)
        ) + &format!("acme==1.0 --hash=sha256:{}\n", testkit::sha256_hex(b"evil")),
    )
    .unwrap();
    let gh_id = ["--certificate-identity".to_string(), gh.san(), "--certificate-oidc-issuer".into(), testkit::GITHUB_ISSUER.to_string()];
    let mut args: Vec<String> =
        ["check", "--lockfile", &req, "--pypi-index", &lab.registry.url, "--trusted-root", &lab.root, "--format", "json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend(gh_id);
    let r = finish(command(&vouch_bin(), &args.iter().map(String::as_str).collect::<Vec<_>>()));
    r.assert_code(1);
    let report = r.json();
    let by_hash = |b: &[u8]| subject(&report, &format!("pypi:acme==1.0#sha256:{}", testkit::sha256_hex(b))).clone();
    assert_eq!(by_hash(b"acme-1.0.tar.gz")["verdict"], "pass", "{}", by_hash(b"acme-1.0.tar.gz"));
    assert!(codes(&by_hash(b"acme-1.0-py3-none-any.whl")).contains("vouch::package::attestation"));
    assert!(codes(&by_hash(b"unsigned wheel")).contains("vouch::verify::none"));
    let missing = subject(&report, &format!("pypi:acme==1.0#sha256:{}", "0".repeat(64)));
    assert!(codes(missing).contains("vouch::package::integrity"), "{missing}");
    assert!(codes(&by_hash(b"evil")).contains("vouch::package::invalid"), "{}", by_hash(b"evil"));
}

#[test]
fn registry_faults_tokens_and_misconfiguration() {
    let lab = Lab::new("faults");
    lab.registry.add_npm(NpmVersion::new("left-pad", "1.3.0", b"left-pad".to_vec(), PUBLISHED).signed(&lab.key));
    let gate = lab.dir.join("gate.yaml");
    std::fs::write(&gate, "config:\n  ecosystems:\n    provenance:\n      required: []\n").unwrap();
    let g = gate.display().to_string();
    let judged = |extra: &[&str]| {
        let mut args = vec!["check", "--package", "npm:left-pad@1.3.0", "--policy", "builtin:ecosystems", "--policy", &g];
        args.extend(extra);
        lab.vouch(&args)
    };
    judged(&[]).assert_code(0);
    // A registry that keeps failing: not judged (exit 3); a short storm is waited out.
    lab.registry.with(|s| s.server_errors = 2);
    judged(&[]).assert_code(0);
    lab.registry.with(|s| s.server_errors = 100);
    judged(&[]).assert_code(3).assert_stdout_contains("vouch::package::server");
    lab.registry.with(|s| s.server_errors = 0);
    lab.registry.with(|s| s.rate_limit = 100);
    judged(&[]).assert_code(3).assert_stdout_contains("vouch::package::rate-limited");
    lab.registry.with(|s| s.rate_limit = 0);
    // A private registry: 401 without a token (exit 2), the .npmrc's token for its own
    // registry only.
    lab.registry.with(|s| s.token = Some("s3cret".into()));
    judged(&[]).assert_code(2).assert_stdout_contains("vouch::package::unauthorized");
    let host = lab.registry.url.trim_start_matches("http://");
    std::fs::write(lab.dir.join(".npmrc"), format!("registry={}/\n//{host}/:_authToken=${{NPM_TOKEN}}\n", lab.registry.url)).unwrap();
    let npmrc = lab.dir.join(".npmrc").display().to_string();
    // vouch with this .npmrc and no registry from the environment.
    let with_npmrc = || {
        let mut cmd = command(
            &vouch_bin(),
            &[
                "check",
                "--package",
                "npm:left-pad@1.3.0",
                "--policy",
                "builtin:ecosystems",
                "--policy",
                &g,
                "--npmrc",
                &npmrc,
                "--trusted-root",
                &lab.root,
            ],
        );
        cmd.env_remove("VOUCH_NPM_REGISTRY");
        cmd
    };
    let mut cmd = with_npmrc();
    cmd.env("NPM_TOKEN", "s3cret");
    finish(cmd).assert_code(0);
    let sent: Vec<Option<String>> = lab.registry.with(|s| s.log.iter().rev().take(2).map(|(_, a)| a.clone()).collect());
    assert!(sent.iter().all(|a| a.as_deref() == Some("Bearer s3cret")), "{sent:?}");
    // The token is for that registry: another registry URL gets none.
    std::fs::write(lab.dir.join(".npmrc"), format!("registry={}/\n//registry.example.com/:_authToken=s3cret\n", lab.registry.url)).unwrap();
    finish(with_npmrc()).assert_code(2);
    let last = lab.registry.with(|s| s.log.last().cloned().unwrap());
    assert_eq!(last.1, None, "the token went to another host");
    lab.registry.with(|s| s.token = None);

    // Misconfigured: exit 2, nothing fetched.
    let before = lab.registry.requests();
    for bad in [
        vec!["check", "--package", "npm:left-pad"],
        vec!["check", "--package", "npm:left-pad@^1.3.0"],
        vec!["check", "--package", "npm:left-pad@latest", "--policy", "builtin:ecosystems", "--policy", &g],
        vec!["check", "--package", "npm:left-pad@1.3.0", "--only", "x", "--policy", "builtin:ecosystems", "--policy", &g],
        vec!["check", "--package", "pypi:requests==2.32.3"],
        vec!["check", "--package", "npm:left-pad@1.3.0"],
        vec!["check", "--package", "npm:left-pad@1.3.0", "--key", "/dev/null"],
        vec!["check", "--package", "npm:left-pad@1.3.0", "--policy", "builtin:ecosystems"],
    ] {
        let r = lab.vouch(&bad);
        assert_eq!(r.code, 2, "{bad:?}\n{}\n{}", r.stdout, r.stderr);
    }
    for registry in ["http://registry.example.com", "ftp://x", "https://user:pw@registry.example.com"] {
        let r = finish(command(
            &vouch_bin(),
            &["check", "--package", "npm:left-pad@1.3.0", "--npm-registry", registry, "--policy", "builtin:ecosystems", "--policy", &g],
        ));
        assert_eq!(r.code, 2, "{registry}: {}", r.stderr);
    }
    std::fs::write(lab.dir.join("package-lock.json"), r#"{"lockfileVersion": 1, "dependencies": {}}"#).unwrap();
    let lockfile = lab.dir.join("package-lock.json").display().to_string();
    let r = lab.vouch(&["check", "--lockfile", &lockfile, "--policy", "builtin:ecosystems", "--policy", &g]);
    r.assert_code(2).assert_stderr_contains("lockfileVersion");
    assert_eq!(lab.registry.requests(), before, "nothing is fetched for a refused invocation");
}

#[test]
fn the_example_dependency_gate_loads_and_judges() {
    let lab = Lab::new("example");
    lab.registry.add_npm(NpmVersion::new("left-pad", "1.3.0", b"left-pad".to_vec(), PUBLISHED).signed(&lab.key));
    lab.registry.add_npm(NpmVersion::new("@acme/widgets", "2.4.0", b"widgets".to_vec(), PUBLISHED).signed(&lab.key));
    let gate = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/npm-dependency-gate/gate.yaml").display().to_string();
    let args = |spec: &'static str| -> Vec<String> {
        ["check", "--package", spec, "--policy", "builtin:ecosystems", "--policy", &gate].iter().map(|s| s.to_string()).collect()
    };
    let a = args("npm:left-pad@1.3.0");
    lab.vouch(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .assert_code(0)
        .assert_stdout_contains("1 package has verified registry signatures");
    // An @acme package without provenance from acme's projects does not pass.
    let a = args("npm:@acme/widgets@2.4.0");
    lab.vouch(&a.iter().map(String::as_str).collect::<Vec<_>>()).assert_code(1).assert_stdout_contains("ecosystems.provenance_missing");
}

#[test]
fn pinned_keys_the_effective_time_and_url_dependencies() {
    let lab = Lab::new("pinned");
    lab.registry.add_npm(NpmVersion::new("left-pad", "1.3.0", b"left-pad".to_vec(), PUBLISHED).signed(&lab.key));
    let gate = lab.dir.join("gate.yaml");
    std::fs::write(&gate, "config:\n  ecosystems:\n    provenance:\n      required: []\n").unwrap();
    let g = gate.display().to_string();
    let base = ["check", "--package", "npm:left-pad@1.3.0", "--policy", "builtin:ecosystems", "--policy", g.as_str(), "--format", "json"];
    // Keys pinned by a file are used instead of the registry's answer.
    let pinned = lab.dir.join("keys.json");
    std::fs::write(&pinned, json!({"keys": [lab.key.entry()]}).to_string()).unwrap();
    let p = pinned.display().to_string();
    lab.vouch(&[&base[..], &["--npm-keys", &p]].concat()).assert_code(0);
    let stranger = RegistryKey::new("SHA256:somebody-else");
    std::fs::write(&pinned, json!({"keys": [stranger.entry()]}).to_string()).unwrap();
    let r = lab.vouch(&[&base[..], &["--npm-keys", &p]].concat());
    r.assert_code(1);
    assert!(codes(&r.subject()).contains("vouch::package::signature"), "{}", r.stdout);
    std::fs::write(&pinned, "{\"keys\": [{\"keyid\": \"k\", \"keytype\": \"rsa\"}]}").unwrap();
    lab.vouch(&[&base[..], &["--npm-keys", &p]].concat()).assert_code(2);
    // A registry that lists more signatures than any rotation needs is refused.
    let mut many = NpmVersion::new("many", "1.0.0", b"many".to_vec(), PUBLISHED);
    for _ in 0..9 {
        many = many.signed(&lab.key);
    }
    lab.registry.add_npm(many);
    std::fs::write(&pinned, json!({"keys": [lab.key.entry()]}).to_string()).unwrap();
    let r = lab.vouch(&["check", "--package", "npm:many@1.0.0", "--policy", "builtin:ecosystems", "--policy", &g, "--format", "json"]);
    r.assert_code(1);
    assert!(r.stdout.contains("more than 8 registry signatures"), "{}", r.stdout);
    // Judged as of a time before the version was published: its signature cannot count.
    let r = lab.vouch(&[&base[..], &["--effective-time", "2025-06-01T00:00:00Z"]].concat());
    r.assert_code(1);
    assert!(r.stdout.contains("after the effective time"), "{}", r.stdout);
    // A tarball-URL dependency is unjudgeable, and --only selects a lockfile's packages.
    let lock = json!({"name": "x", "lockfileVersion": 3, "packages": {
        "node_modules/left-pad": {"version": "1.3.0", "resolved": format!("{}/left-pad/-/left-pad-1.3.0.tgz", lab.registry.url), "integrity": integrity(b"left-pad")},
        "node_modules/from-url": {"version": "1.0.0", "resolved": "https://example.com/from-url.tgz", "integrity": integrity(b"x")},
        "node_modules/lodash.merge": {"version": "4.6.2", "resolved": "https://registry.npmjs.org/lodash.merge/-/lodash.merge-4.6.2.tgz", "integrity": integrity(b"y")}
    }});
    std::fs::write(lab.dir.join("package-lock.json"), lock.to_string()).unwrap();
    let l = lab.dir.join("package-lock.json").display().to_string();
    let judge = |extra: &[&str]| {
        let mut args =
            vec!["check", "--lockfile", l.as_str(), "--policy", "builtin:ecosystems", "--policy", g.as_str(), "--format", "json"];
        args.extend(extra);
        lab.vouch(&args)
    };
    let r = judge(&[]);
    r.assert_code(1);
    let report = r.json();
    assert!(codes(subject(&report, "npm:from-url@1.0.0")).contains("vouch::package::unjudgeable"));
    assert!(codes(subject(&report, "npm:lodash.merge@4.6.2")).contains("vouch::package::not-found"));
    let r = judge(&["--only", "left-*"]);
    r.assert_code(0);
    assert_eq!(r.json()["subjects"].as_array().unwrap().len(), 1);
    r.assert_stderr_contains("left out 2");
    // sha1 alone is not enough where the registry has sha512.
    let sha1 = {
        use base64::Engine as _;
        format!("sha1-{}", base64::engine::general_purpose::STANDARD.encode([0u8; 20]))
    };
    let lock = json!({"name": "x", "lockfileVersion": 3, "packages": {
        "node_modules/left-pad": {"version": "1.3.0", "resolved": format!("{}/left-pad/-/left-pad-1.3.0.tgz", lab.registry.url), "integrity": sha1}
    }});
    std::fs::write(lab.dir.join("package-lock.json"), lock.to_string()).unwrap();
    let r = judge(&[]);
    r.assert_code(1);
    assert!(codes(&r.subject()).contains("vouch::package::integrity"), "{}", r.stdout);
}
