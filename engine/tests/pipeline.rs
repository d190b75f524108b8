//! The engine in process, stage by stage, on bundles minted by the testkit: a request
//! becomes a plan (or is refused before anything is judged), the plan runs into one
//! report, shards merge back into it, and every format renders it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::PathBuf;

use testkit::{GitLab, SignRequest, VirtualSigstore};
use vouch_engine::plan::{self, Detail, IdentityFlags, Request, SubjectRequest, Target, TrustFlags};
use vouch_engine::report::{self, Format, Report, Verdict};
use vouch_engine::{run, Code};

struct Lab {
    dir: PathBuf,
    sigstore: VirtualSigstore,
}

impl Lab {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vouch-pipeline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sigstore = VirtualSigstore::new().unwrap();
        std::fs::write(dir.join("trusted_root.json"), serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
        Lab { dir, sigstore }
    }

    /// A file and its bundle, signed by `gl`.
    fn blob(&mut self, name: &str, gl: &GitLab) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("contents of {name}")).unwrap();
        let minted = self.sigstore.sign(SignRequest::message(format!("contents of {name}"), gl.identity())).unwrap();
        std::fs::write(self.dir.join(format!("{name}.sigstore.json")), minted.json()).unwrap();
        path
    }

    fn manifest(&self, subjects: &str) -> PathBuf {
        let path = self.dir.join("vouch.yaml");
        let text = format!(
            "version: 1\ntrusted_root: trusted_root.json\nidentities:\n  - issuer: https://gitlab.com\n    subject: {}\nsubjects:\n{subjects}",
            GitLab::default().san()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn request(&self, subjects: &str) -> Request {
        Request { manifest: Some(self.manifest(subjects)), effective_time: Some("2026-11-30T09:15:00Z".into()), ..Request::default() }
    }
}

fn code_of(r: Result<plan::Plan, vouch_engine::Error>) -> Code {
    match r {
        Ok(_) => panic!("the request was planned"),
        Err(e) => e.code(),
    }
}

/// Planning: globs expand relative to the manifest, every subject gets a stable id, and
/// what cannot be checked is refused before any subject is judged.
#[test]
fn a_request_becomes_a_plan_or_is_refused() {
    let mut lab = Lab::new("plan");
    let gl = GitLab::default();
    for i in 0..3 {
        lab.blob(&format!("app-{i}.txt"), &gl);
    }
    let plan = plan::build(&lab.request("  - blob: \"app-*.txt\"\n  - blob: \"none-*.bin\"\n")).unwrap();
    let ids: Vec<&str> = plan.subjects.iter().map(|s| s.id()).collect();
    assert_eq!(ids, ["blob:app-0.txt", "blob:app-1.txt", "blob:app-2.txt", "blob:none-*.bin"]);
    assert!(matches!(&plan.subjects[3].target, Target::Invalid { code: Code::CheckNoMatch, .. }));
    assert_eq!((plan.info.subjects, plan.info.assigned.len(), plan.info.shard_total), (4, 4, 1));
    assert!(plan.registry.is_none(), "no images, no registry client");

    // Refused: a bad shard, no subjects, nobody deciding who may sign, a bad identity.
    let mut bad = lab.request("  - blob: \"app-*.txt\"\n");
    bad.shard = Some("0/3".into());
    assert_eq!(code_of(plan::build(&bad)), Code::UsageShard);
    assert_eq!(code_of(plan::build(&Request::default())), Code::UsageSubjects);
    let file = |input: &str| Request {
        subjects: vec![SubjectRequest::File { input: input.into(), bundle: Some(lab.dir.join("app-0.txt.sigstore.json")) }],
        trust: TrustFlags { trusted_root: Some(lab.dir.join("trusted_root.json")), ..TrustFlags::default() },
        ..Request::default()
    };
    let app0 = lab.dir.join("app-0.txt").display().to_string();
    assert_eq!(code_of(plan::build(&file(&app0))), Code::PolicyNoSignerDecision);
    let mut regex = file(&app0);
    regex.identity =
        IdentityFlags { identity_regexp: Some("(".into()), issuer: Some("https://gitlab.com".into()), ..IdentityFlags::default() };
    assert_eq!(code_of(plan::build(&regex)), Code::UsageIdentity);
    // A file the user named that is not there is a usage error, not a rejection.
    let mut missing = file(&lab.dir.join("gone.txt").display().to_string());
    missing.identity = IdentityFlags { identity: Some(gl.san()), issuer: Some("https://gitlab.com".into()), ..IdentityFlags::default() };
    assert_eq!(code_of(plan::build(&missing)), Code::Io);
}

/// Running: every subject judged once, duplicates under their own names, in the order
/// listed; each failure with its code; a single-subject plan keeps the full detail.
#[test]
fn a_plan_runs_into_one_report() {
    let mut lab = Lab::new("run");
    let gl = GitLab::default();
    lab.blob("good.txt", &gl);
    lab.blob("other.txt", &GitLab { project: "evil/app".into(), ..GitLab::default() });
    std::fs::write(lab.dir.join("unsigned.txt"), "no bundle").unwrap();
    let plan = plan::build(&lab.request(
        "  - blob: good.txt\n  - blob: other.txt\n  - blob: unsigned.txt\n  - digest: \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n    bundle: good.txt.sigstore.json\n",
    ))
    .unwrap();
    let report = run::run(&plan, None);
    let got: Vec<(&str, Verdict, Option<&str>)> =
        report.subjects.iter().map(|s| (s.id.as_str(), s.verdict, s.reasons.first().map(|r| r.code.as_str()))).collect();
    assert_eq!(
        got,
        [
            ("blob:good.txt", Verdict::Pass, None),
            ("blob:other.txt", Verdict::Fail, Some("vouch::verify::identity")),
            ("blob:unsigned.txt", Verdict::Fail, Some("vouch::io")),
            (
                "digest:sha256:0000000000000000000000000000000000000000000000000000000000000000 good.txt.sigstore.json",
                Verdict::Fail,
                Some("vouch::verify::artifact")
            ),
        ]
    );
    assert_eq!((report.summary.passed, report.summary.failed, report.exit_code()), (1, 3, 1));
    // A batch keeps subjects small: the claims of failed subjects, no signatures.
    assert!(report.subjects.iter().all(|s| s.signatures.is_empty()));

    let single = Request {
        subjects: vec![SubjectRequest::File {
            input: lab.dir.join("good.txt").display().to_string(),
            bundle: Some(lab.dir.join("good.txt.sigstore.json")),
        }],
        identity: IdentityFlags { identity: Some(gl.san()), issuer: Some("https://gitlab.com".into()), ..IdentityFlags::default() },
        trust: TrustFlags { trusted_root: Some(lab.dir.join("trusted_root.json")), ..TrustFlags::default() },
        detail: Detail::Full,
        ..Request::default()
    };
    let report = run::run(&plan::build(&single).unwrap(), None);
    assert_eq!(report.exit_code(), 0);
    let s = &report.subjects[0];
    assert!(s.verified);
    assert_eq!(s.signatures[0]["claims"]["gitlab"]["project_path"], "acme/app");
}

/// Shards partition the plan and merge back into the whole report; a missing shard does
/// not merge.
#[test]
fn shards_merge_back_into_the_whole() {
    let mut lab = Lab::new("shards");
    let gl = GitLab::default();
    for i in 0..12 {
        lab.blob(&format!("s-{i:02}.txt"), &gl);
    }
    let whole = run::run(&plan::build(&lab.request("  - blob: \"s-*.txt\"\n")).unwrap(), None);
    let shards: Vec<Report> = (1..=3)
        .map(|i| {
            let mut req = lab.request("  - blob: \"s-*.txt\"\n");
            req.shard = Some(format!("{i}/3"));
            run::run(&plan::build(&req).unwrap(), None)
        })
        .collect();
    assert_eq!(shards.iter().map(|r| r.subjects.len()).sum::<usize>(), 12);
    let partial = Report::merge(shards[..2].to_vec()).unwrap_err();
    assert!(partial.to_string().contains("3/3"), "{partial}");
    let merged = Report::merge(shards).unwrap();
    let ids = |r: &Report| {
        let mut ids: Vec<String> = r.subjects.iter().map(|s| s.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&merged), ids(&whole));
    // (The plan ids differ: N is part of a plan's setup.)
    assert_eq!((merged.summary.passed, merged.exit_code(), merged.shards.len()), (12, 0, 3));
    assert_ne!(merged.plan.id, whole.plan.id);
}

/// Every format renders the same report; JSON reads back.
#[test]
fn every_format_renders_the_report() {
    let mut lab = Lab::new("formats");
    let gl = GitLab::default();
    lab.blob("ok.txt", &gl);
    lab.blob("bad.txt", &GitLab { project: "evil/app".into(), ..GitLab::default() });
    let report = run::run(&plan::build(&lab.request("  - blob: ok.txt\n  - blob: bad.txt\n")).unwrap(), None);
    for (format, needle) in [
        (Format::Text, "2 subjects: 1 passed, 1 failed"),
        (Format::Json, "\"version\": 3"),
        (Format::Junit, "<testsuites name=\"vouch\" tests=\"2\" failures=\"1\""),
        (Format::Sarif, "\"ruleId\": \"vouch::verify::identity\""),
        (Format::Markdown, "vouch::verify::identity"),
        (Format::GitlabCodequality, "\"check_name\": \"vouch::verify::identity\""),
    ] {
        let text = report::render(&report, format);
        assert!(text.contains(needle), "{format:?} lacks {needle:?}:\n{text}");
    }
    let back = Report::from_json(report::render(&report, Format::Json).as_bytes()).unwrap();
    assert_eq!((back.summary, back.plan), (report.summary.clone(), report.plan.clone()));
    assert_eq!(back.subjects[1].reasons, report.subjects[1].reasons);
}
