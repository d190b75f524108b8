//! Mutation test: take valid bundles — public (sigstore-conformance, the real GitLab CI
//! bundle, a Rekor v2 bundle with RFC 3161 timestamps) and testkit-minted — and change
//! one thing at a time. Every mutation that changes meaning must be rejected; mutations
//! that cannot (JSON whitespace, key order) must still verify. Zero false accepts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use testkit::{Content, GitLab, SignRequest, VirtualSigstore};
mod common;
use common::{run, scratch, shared_dir};

struct Base {
    name: String,
    bundle: Value,
    artifact: String,
    identity: String,
    issuer: String,
    root: Option<String>,
}

fn b64_flip(v: &mut Value, pos: usize) {
    let mut bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    let i = pos.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    *v = json!(STANDARD.encode(bytes));
}

fn at<'a>(v: &'a mut Value, pointer: &str) -> &'a mut Value {
    v.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}"))
}

type Mutation = (String, Box<dyn Fn(&mut Value)>);

fn mutations(base: &Value) -> Vec<Mutation> {
    let mut out: Vec<Mutation> = Vec::new();
    let mut add = |name: String, f: Box<dyn Fn(&mut Value)>| out.push((name, f));
    let dsse = base.get("dsseEnvelope").is_some();
    let sig_ptr = if dsse { "/dsseEnvelope/signatures/0/sig" } else { "/messageSignature/signature" };
    let sig_len = STANDARD.decode(base.pointer(sig_ptr).unwrap().as_str().unwrap()).unwrap().len();
    for pos in [0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 30, sig_len / 2, sig_len - 33, sig_len - 20, sig_len - 2, sig_len - 1] {
        add(format!("signature byte {pos}"), Box::new(move |b| b64_flip(at(b, sig_ptr), pos)));
    }
    let cert_ptr = if base.pointer("/verificationMaterial/certificate").is_some() {
        "/verificationMaterial/certificate/rawBytes"
    } else {
        "/verificationMaterial/x509CertificateChain/certificates/0/rawBytes"
    };
    let cert_len = STANDARD.decode(base.pointer(cert_ptr).unwrap().as_str().unwrap()).unwrap().len();
    for pos in [4, 15, 40, 80, 120, 160, 200, 260, 320, 400, 480, cert_len / 2, cert_len - 60, cert_len - 30, cert_len - 3] {
        add(format!("certificate byte {pos}"), Box::new(move |b| b64_flip(at(b, cert_ptr), pos)));
    }
    let entry = base.pointer("/verificationMaterial/tlogEntries/0").unwrap().clone();
    if entry.get("inclusionPromise").is_some() {
        for pos in [0, 5, 10, 30, 50, 69] {
            add(
                format!("SET byte {pos}"),
                Box::new(move |b| b64_flip(at(b, "/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp"), pos)),
            );
        }
        for delta in [-1i64, 1, 3600] {
            add(
                format!("integrated time {delta:+}"),
                Box::new(move |b| {
                    let v = at(b, "/verificationMaterial/tlogEntries/0/integratedTime");
                    let t: i64 = v.as_str().unwrap().parse().unwrap();
                    *v = json!((t + delta).to_string());
                }),
            );
        }
        add(
            "no SET (v0.1 needs it; else the time is unbound)".into(),
            Box::new(|b| {
                at(b, "/verificationMaterial/tlogEntries/0").as_object_mut().unwrap().remove("inclusionPromise");
                if b["mediaType"].as_str().unwrap().ends_with("0.1") {
                    return;
                }
                // v0.2+: relabel as v0.1 without the SET, which v0.1 requires.
                b["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
            }),
        );
    }
    for delta in [-1i64, 1] {
        add(
            format!("log index {delta:+}"),
            Box::new(move |b| {
                let v = at(b, "/verificationMaterial/tlogEntries/0/logIndex");
                let i: i64 = v.as_str().unwrap().parse().unwrap();
                *v = json!((i + delta).max(0).to_string());
            }),
        );
    }
    add("log ID byte".into(), Box::new(|b| b64_flip(at(b, "/verificationMaterial/tlogEntries/0/logId/keyId"), 3)));
    add(
        "kind version".into(),
        Box::new(|b| {
            let kv = at(b, "/verificationMaterial/tlogEntries/0/kindVersion");
            let v = kv["version"].as_str().unwrap().to_string();
            kv["version"] = json!(if v == "0.0.1" { "0.0.2" } else { "0.0.1" });
        }),
    );
    let body_len = STANDARD.decode(entry["canonicalizedBody"].as_str().unwrap()).unwrap().len();
    for pos in [0, 20, body_len / 3, body_len / 2, body_len - 100, body_len - 2] {
        add(
            format!("log body byte {pos}"),
            Box::new(move |b| b64_flip(at(b, "/verificationMaterial/tlogEntries/0/canonicalizedBody"), pos)),
        );
    }
    if let Some(proof) = entry.get("inclusionProof") {
        let hashes = proof["hashes"].as_array().map_or(0, Vec::len);
        for i in 0..hashes.min(8) {
            add(
                format!("proof hash {i}"),
                Box::new(move |b| b64_flip(at(b, &format!("/verificationMaterial/tlogEntries/0/inclusionProof/hashes/{i}")), 7)),
            );
        }
        add(
            "proof hash removed".into(),
            Box::new(|b| {
                at(b, "/verificationMaterial/tlogEntries/0/inclusionProof/hashes").as_array_mut().unwrap().pop();
            }),
        );
        add(
            "proof hash added".into(),
            Box::new(|b| {
                at(b, "/verificationMaterial/tlogEntries/0/inclusionProof/hashes")
                    .as_array_mut()
                    .unwrap()
                    .push(json!(STANDARD.encode([7u8; 32])));
            }),
        );
        for field in ["logIndex", "treeSize"] {
            for delta in [-1i64, 1] {
                add(
                    format!("proof {field} {delta:+}"),
                    Box::new(move |b| {
                        let v = at(b, &format!("/verificationMaterial/tlogEntries/0/inclusionProof/{field}"));
                        let n: i64 = v.as_str().unwrap().parse().unwrap();
                        *v = json!((n + delta).max(0).to_string());
                    }),
                );
            }
        }
        add("proof root hash".into(), Box::new(|b| b64_flip(at(b, "/verificationMaterial/tlogEntries/0/inclusionProof/rootHash"), 0)));
        // The checkpoint: each line, and its signature.
        let note = proof["checkpoint"]["envelope"].as_str().unwrap().to_string();
        let lines: Vec<String> = note.lines().map(String::from).collect();
        for (i, line) in lines.iter().enumerate() {
            if line.is_empty() {
                continue;
            }
            let (li, note_copy) = (i, lines.clone());
            add(
                format!("checkpoint line {i}"),
                Box::new(move |b| {
                    let mut l = note_copy.clone();
                    let s = &mut l[li];
                    // Change one character in the middle (keep base64 valid-looking).
                    let mid = s.len() / 2;
                    let c = s.as_bytes()[mid];
                    let repl = if c == b'A' {
                        'B'
                    } else if c.is_ascii_digit() {
                        if c == b'9' {
                            '8'
                        } else {
                            (c + 1) as char
                        }
                    } else {
                        'A'
                    };
                    s.replace_range(mid..mid + 1, &repl.to_string());
                    at(b, "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope").clone_from(&json!(l.join("\n") + "\n"));
                }),
            );
        }
        add(
            "checkpoint signature removed".into(),
            Box::new(move |b| {
                let body: String = note.split("\n\n").next().unwrap().to_string() + "\n\n";
                *at(b, "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope") = json!(body);
            }),
        );
        // A v0.1 bundle without a proof is still a valid v0.1 bundle (its SET proves the
        // entry; the real npm sigstore@1.3.0 provenance is one): not a meaning change.
        if !base["mediaType"].as_str().unwrap().ends_with("version=0.1") {
            add(
                "no inclusion proof".into(),
                Box::new(|b| {
                    at(b, "/verificationMaterial/tlogEntries/0").as_object_mut().unwrap().remove("inclusionProof");
                }),
            );
        }
    }
    if dsse {
        let payload_len = STANDARD.decode(base["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap().len();
        for pos in [0, 10, payload_len / 2, payload_len - 2] {
            add(format!("DSSE payload byte {pos}"), Box::new(move |b| b64_flip(at(b, "/dsseEnvelope/payload"), pos)));
        }
        add("DSSE payload type".into(), Box::new(|b| b["dsseEnvelope"]["payloadType"] = json!("application/json")));
        add(
            "DSSE subject digest".into(),
            Box::new(|b| {
                let payload = STANDARD.decode(b["dsseEnvelope"]["payload"].as_str().unwrap()).unwrap();
                let mut statement: Value = serde_json::from_slice(&payload).unwrap();
                let subject = &mut statement["subject"][0]["digest"];
                let (alg, hex) =
                    subject.as_object().unwrap().iter().next().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).unwrap();
                let flipped: String = hex
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if i == 0 {
                            if c == '0' {
                                '1'
                            } else {
                                '0'
                            }
                        } else {
                            c
                        }
                    })
                    .collect();
                subject[alg] = json!(flipped);
                b["dsseEnvelope"]["payload"] = json!(STANDARD.encode(serde_json::to_vec(&statement).unwrap()));
            }),
        );
        add(
            "second DSSE signature".into(),
            Box::new(|b| {
                let sig = b["dsseEnvelope"]["signatures"][0].clone();
                b["dsseEnvelope"]["signatures"].as_array_mut().unwrap().push(sig);
            }),
        );
    } else if base.pointer("/messageSignature/messageDigest").is_some() {
        add("message digest byte".into(), Box::new(|b| b64_flip(at(b, "/messageSignature/messageDigest/digest"), 5)));
        add("message digest algorithm".into(), Box::new(|b| b["messageSignature"]["messageDigest"]["algorithm"] = json!("SHA2_384")));
    }
    // Media types: the label must not select weaker rules.
    let media = base["mediaType"].as_str().unwrap().to_string();
    for other in [
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.9",
    ] {
        if other == media || (media.contains("0.3") && other.contains("0.3")) {
            continue;
        }
        let m = other.to_string();
        add(
            format!("media type {other} without proof"),
            Box::new(move |b| {
                b["mediaType"] = json!(m);
                at(b, "/verificationMaterial/tlogEntries/0").as_object_mut().unwrap().remove("inclusionProof");
                if !m.ends_with("0.1") {
                    return;
                }
                // Relabelled v0.1 without proof must still be refused when the shape says v0.3,
                // or verify only with what a genuine v0.1 bundle has (its SET): then it must
                // carry that SET.
                if b.pointer("/verificationMaterial/certificate").is_none() {
                    at(b, "/verificationMaterial/tlogEntries/0").as_object_mut().unwrap().remove("inclusionPromise");
                }
            }),
        );
    }
    if let Some(stamps) = base.pointer("/verificationMaterial/timestampVerificationData/rfc3161Timestamps").and_then(|v| v.as_array()) {
        if !stamps.is_empty() {
            let len = STANDARD.decode(stamps[0]["signedTimestamp"].as_str().unwrap()).unwrap().len();
            for pos in [30, len / 3, len / 2, len - 80, len - 10] {
                add(
                    format!("TSA token byte {pos}"),
                    Box::new(move |b| {
                        b64_flip(at(b, "/verificationMaterial/timestampVerificationData/rfc3161Timestamps/0/signedTimestamp"), pos)
                    }),
                );
            }
            add(
                "TSA token removed".into(),
                Box::new(|b| {
                    at(b, "/verificationMaterial/timestampVerificationData/rfc3161Timestamps").as_array_mut().unwrap().clear();
                }),
            );
        }
    }
    add(
        "no tlog entries".into(),
        Box::new(|b| {
            at(b, "/verificationMaterial/tlogEntries").as_array_mut().unwrap().clear();
        }),
    );
    out
}

fn bases() -> (Vec<Base>, PathBuf) {
    let shared = shared_dir();
    let c = shared.join("conformance-assets");
    let beacon = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    let gha = "https://token.actions.githubusercontent.com";
    let read = |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let mut bases = vec![
        Base {
            name: "conformance v0.3".into(),
            bundle: read(&c.join("bundle-verify/happy-path-v0.3/bundle.sigstore.json")),
            artifact: c.join("a.txt").display().to_string(),
            identity: beacon.into(),
            issuer: gha.into(),
            root: None,
        },
        Base {
            name: "conformance v0.1".into(),
            bundle: read(&c.join("bundle-verify/happy-path-v0.1/bundle.sigstore.json")),
            artifact: c.join("a.txt").display().to_string(),
            identity: beacon.into(),
            issuer: gha.into(),
            root: None,
        },
        Base {
            name: "conformance rekor v2 + TSA".into(),
            bundle: read(&c.join("bundle-verify/rekor2-happy-path/bundle.sigstore.json")),
            artifact: c.join("a.txt").display().to_string(),
            identity: beacon.into(),
            issuer: gha.into(),
            root: Some(c.join("bundle-verify/rekor2-happy-path/trusted_root.json").display().to_string()),
        },
        Base {
            name: "real GitLab DSSE".into(),
            bundle: read(&shared.join("real-bundles/gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz.publish.sigstore.json")),
            artifact: shared.join("real-bundles/gitlab-pypi/gitlab_oidc_project-0.0.3.tar.gz").display().to_string(),
            identity: "https://gitlab.com/facutuesca/gitlab-oidc-project//.gitlab-ci.yml@refs/heads/main".into(),
            issuer: "https://gitlab.com".into(),
            root: None,
        },
    ];
    let dir = scratch("mutation");
    let mut sigstore = VirtualSigstore::new().unwrap();
    let root = dir.join("trusted_root.json");
    std::fs::write(&root, serde_json::to_vec(&sigstore.trusted_root().unwrap()).unwrap()).unwrap();
    for (name, request) in [
        ("minted v0.3 message", SignRequest::message("minted message", GitLab::default().identity())),
        (
            "minted v0.3 DSSE",
            SignRequest::dsse("minted dsse", GitLab::default().identity(), Content::slsa_v1("https://gitlab.com/acme/app/-/runners/1")),
        ),
        ("minted v0.1 message", SignRequest::message("minted v0.1", GitLab::default().identity()).format(testkit::Format::V01)),
    ] {
        let artifact = dir.join(format!("{}.txt", name.replace(' ', "-")));
        std::fs::write(&artifact, &request.artifact).unwrap();
        let minted = sigstore.sign(request).unwrap();
        bases.push(Base {
            name: name.into(),
            bundle: minted.bundle,
            artifact: artifact.display().to_string(),
            identity: minted.identity,
            issuer: minted.issuer,
            root: Some(root.display().to_string()),
        });
    }
    (bases, dir)
}

fn verify(base: &Base, bundle: &[u8], path: &Path) -> i32 {
    std::fs::write(path, bundle).unwrap();
    let bundle = path.display().to_string();
    let mut args = vec![
        "verify-blob",
        &base.artifact,
        "--bundle",
        &bundle,
        "--certificate-identity",
        &base.identity,
        "--certificate-oidc-issuer",
        &base.issuer,
    ];
    if let Some(root) = &base.root {
        args.extend(["--trusted-root", root]);
    }
    run(&args).code
}

#[test]
fn no_mutation_is_accepted() {
    let (bases, dir) = bases();
    let mut total = 0;
    let mut false_accepts = Vec::new();
    for (b, base) in bases.iter().enumerate() {
        let path = dir.join(format!("base-{b}.json"));
        // Controls: the unmodified bundle, reformatted, with keys reordered, verifies.
        assert_eq!(verify(base, &serde_json::to_vec(&base.bundle).unwrap(), &path), 0, "{}: the base must verify", base.name);
        assert_eq!(
            verify(base, serde_json::to_string_pretty(&base.bundle).unwrap().replace("\n", "\n\t  ").as_bytes(), &path),
            0,
            "{}: whitespace must not matter",
            base.name
        );
        let mut reordered = serde_json::Map::new();
        for (k, v) in base.bundle.as_object().unwrap().iter().rev() {
            reordered.insert(k.clone(), v.clone());
        }
        assert_eq!(
            verify(base, &serde_json::to_vec(&Value::Object(reordered)).unwrap(), &path),
            0,
            "{}: key order must not matter",
            base.name
        );

        for (i, (name, mutate)) in mutations(&base.bundle).into_iter().enumerate() {
            let mut bundle = base.bundle.clone();
            mutate(&mut bundle);
            if bundle == base.bundle {
                continue;
            }
            total += 1;
            let code = verify(base, &serde_json::to_vec(&bundle).unwrap(), &dir.join(format!("m-{b}-{i}.json")));
            if code == 0 {
                false_accepts.push(format!("{}: {name}", base.name));
            }
            assert_ne!(code, 101, "{}: {name}: crashed", base.name);
        }
    }
    println!("{total} mutations, {} false accepts", false_accepts.len());
    assert!(total >= 200, "only {total} mutations");
    assert!(false_accepts.is_empty(), "false accepts:\n{}", false_accepts.join("\n"));
}
