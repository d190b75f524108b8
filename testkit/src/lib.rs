//! testkit: a private Sigstore for vouch's tests, with real cryptography — a Fulcio-like
//! CA (P-384 root and intermediate issuing P-256 leaves with any SAN and Fulcio
//! extensions), a CT log issuing embedded SCTs, a Rekor-v1-like transparency log (RFC
//! 6962 Merkle tree, SETs, inclusion proofs, signed checkpoints), bundle writers and the
//! instance's `trusted_root.json`. Like sigstore-go's VirtualSigstore, for Rust.
//!
//! Knobs ([`Break`]) produce broken evidence, one defect at a time. What this mints is
//! cross-checked by sigstore-python in the tests, so vouch's verifier and this minter
//! cannot share one mistake unnoticed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a failure is a failed test

pub mod attest_api;
pub mod ct;
pub mod harness;
pub mod identity;
pub mod image;
pub mod key;
pub mod local_ca;
pub mod log;
pub mod packages;
pub mod registry;
pub mod signing;
pub mod x509;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rayon::prelude::*;
use serde_json::{json, Value};

pub use identity::{CertIdentity, ExtValue, GitHub, GitLab, San, GITHUB_ISSUER};
use x509::{Issued, Result};

/// One defect in otherwise valid evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The certificate had expired when the entry was logged.
    ExpiredCertificate,
    /// The entry was logged before the certificate's validity began.
    SignedBeforeValidity,
    /// The signature was made with a key other than the certificate's.
    WrongKey,
    /// One byte of the signed entry timestamp is flipped.
    TamperedSet,
    /// One byte of an inclusion-proof hash is flipped.
    WrongInclusionProof,
    /// The leaf was issued by a CA that is not in the trusted root.
    UntrustedCa,
    /// The signature (message) or statement subject (DSSE) is for other content.
    SubjectDigestMismatch,
    /// The certificate carries no SCT.
    MissingSct,
}

impl Break {
    pub const ALL: [Break; 8] = [
        Break::ExpiredCertificate,
        Break::SignedBeforeValidity,
        Break::WrongKey,
        Break::TamperedSet,
        Break::WrongInclusionProof,
        Break::UntrustedCa,
        Break::SubjectDigestMismatch,
        Break::MissingSct,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Sigstore bundle v0.3 (single certificate).
    V03,
    /// Sigstore bundle v0.1 (certificate chain, SET and inclusion proof).
    V01,
    /// cosign 2.x `sign-blob --bundle` (message signatures only).
    CosignLegacy,
}

#[derive(Debug, Clone)]
pub enum Content {
    /// A signature over the artifact (hashedrekord 0.0.1).
    Message,
    /// A DSSE envelope with an in-toto statement naming the artifact (dsse 0.0.1).
    Dsse { statement_type: String, predicate_type: String, predicate: Value },
}

impl Content {
    pub fn slsa_v1(builder_id: &str) -> Self {
        Content::Dsse {
            statement_type: "https://in-toto.io/Statement/v1".into(),
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            predicate: json!({
                "buildDefinition": {"buildType": "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/main/PROVENANCE.md", "externalParameters": {}, "resolvedDependencies": []},
                "runDetails": {"builder": {"id": builder_id}, "metadata": {}}
            }),
        }
    }

    /// SLSA provenance v1 in the shape GitLab runners document (PROVENANCE.md, "SLSA
    /// provenance specification": `source`, `entryPoint`, `variables`; `name`,
    /// `executor`, `architecture`, `job`).
    pub fn gitlab_slsa_v1(gl: &GitLab) -> Self {
        let source = format!("{}/{}", gl.instance, gl.source_project.as_deref().unwrap_or(&gl.project));
        let (branch, tag) = match gl.git_ref.strip_prefix("refs/tags/") {
            Some(t) => (None, Some(t)),
            None => (gl.git_ref.strip_prefix("refs/heads/"), None),
        };
        let mut variables = json!({
            "CI_PIPELINE_ID": "4242", "CI_JOB_ID": gl.job_id.to_string(), "CI_COMMIT_SHA": gl.commit_sha,
            "CI_COMMIT_REF_NAME": branch.or(tag).unwrap_or(&gl.git_ref), "CI_COMMIT_REF_PROTECTED": "true",
            "CI_CONFIG_PATH": gl.ci_config_path, "CI_PROJECT_PATH": gl.project, "CI_PIPELINE_SOURCE": gl.pipeline_source,
        });
        if let Some(b) = branch {
            variables["CI_COMMIT_BRANCH"] = json!(b);
        }
        if let Some(t) = tag {
            variables["CI_COMMIT_TAG"] = json!(t);
        }
        Content::Dsse {
            statement_type: "https://in-toto.io/Statement/v1".into(),
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            predicate: json!({
                "buildDefinition": {
                    "buildType": "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v18.6.0/PROVENANCE.md",
                    "externalParameters": {"source": source, "entryPoint": "build", "variables": variables},
                    "internalParameters": {"name": "green-2.saas-linux-small-amd64.runners-manager.gitlab.com", "executor": "docker+machine", "architecture": "amd64", "job": gl.job_id.to_string()},
                    "resolvedDependencies": [{"uri": source, "digest": {"sha256": gl.commit_sha}}]
                },
                "runDetails": {
                    "builder": {"id": format!("{}/{}/-/runners/12270859", gl.instance, gl.project), "version": {"gitlab-runner": "v18.6.0"}},
                    "metadata": {"invocationID": gl.job_id.to_string(), "startedOn": "2026-11-01T10:00:00Z", "finishedOn": "2026-11-01T10:05:00Z"}
                }
            }),
        }
    }

    /// SLSA provenance v1 in the shape actions/attest-build-provenance writes
    /// (buildType actions.github.io/buildtypes/workflow/v1).
    pub fn github_slsa_v1(gh: &GitHub) -> Self {
        let repo = format!("https://github.com/{}", gh.repository);
        Content::Dsse {
            statement_type: "https://in-toto.io/Statement/v1".into(),
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            predicate: json!({
                "buildDefinition": {
                    "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                    "externalParameters": {"workflow": {"ref": gh.git_ref, "repository": repo, "path": gh.workflow_path}},
                    "internalParameters": {"github": {"event_name": gh.event_name, "repository_id": gh.repository_id.to_string(),
                                                      "repository_owner_id": gh.owner_id.to_string(), "runner_environment": gh.runner_environment}},
                    "resolvedDependencies": [{"uri": format!("git+{repo}@{}", gh.git_ref), "digest": {"gitCommit": gh.sha}}]
                },
                "runDetails": {
                    "builder": {"id": format!("https://github.com/{}/{}@{}", gh.repository, gh.workflow_path, gh.git_ref)},
                    "metadata": {"invocationId": format!("https://github.com/{}/actions/runs/1/attempts/1", gh.repository)}
                }
            }),
        }
    }

    /// SLSA provenance v0.2 in the shape GitLab runners write.
    pub fn gitlab_slsa_v02(gl: &GitLab) -> Self {
        Content::Dsse {
            statement_type: "https://in-toto.io/Statement/v0.1".into(),
            predicate_type: "https://slsa.dev/provenance/v0.2".into(),
            predicate: json!({
                "buildType": "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v16.0.0/PROVENANCE.md",
                "builder": {"id": format!("{}/{}/-/runners/12345", gl.instance, gl.project)},
                "invocation": {
                    "configSource": {"uri": format!("{}/{}", gl.instance, gl.project), "digest": {"sha256": gl.commit_sha}, "entryPoint": "build"},
                    "parameters": {"CI_PIPELINE_ID": "1", "CI_COMMIT_REF_NAME": gl.git_ref.trim_start_matches("refs/heads/").trim_start_matches("refs/tags/"), "CI_COMMIT_REF_PROTECTED": "true"},
                    "environment": {"name": "gitlab-hosted", "executor": "docker"}
                },
                "materials": [{"uri": format!("{}/{}", gl.instance, gl.project), "digest": {"sha1": gl.commit_sha}}],
                "metadata": {"buildInvocationID": "1", "completeness": {"parameters": true, "environment": true, "materials": false}, "reproducible": false}
            }),
        }
    }
}

/// What to sign, and how.
#[derive(Debug, Clone)]
pub struct SignRequest {
    pub artifact: Vec<u8>,
    /// The subject name in a DSSE statement.
    pub name: String,
    pub identity: CertIdentity,
    pub format: Format,
    pub content: Content,
    pub defect: Option<Break>,
    /// When the entry is logged; default: an hour before the instance was created, so
    /// the 10-minute certificate has long expired when verified, as in real life.
    pub signed_at: Option<jiff::Timestamp>,
    /// DSSE: name the artifact by its sha512 (npm's attestations), not its sha256.
    pub sha512: bool,
    /// Sign with this managed key (its hint in the bundle) instead of a certificate, as
    /// npm's registry signs its publish attestations.
    pub managed_key: Option<ManagedKey>,
}

/// A key that signs bundles itself (no certificate), with its hint.
#[derive(Clone)]
pub struct ManagedKey {
    pub key: std::sync::Arc<key::Key>,
    pub hint: String,
}

impl std::fmt::Debug for ManagedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagedKey({})", self.hint)
    }
}

impl SignRequest {
    pub fn message(artifact: impl Into<Vec<u8>>, identity: CertIdentity) -> Self {
        SignRequest {
            artifact: artifact.into(),
            name: "artifact".into(),
            identity,
            format: Format::V03,
            content: Content::Message,
            defect: None,
            signed_at: None,
            sha512: false,
            managed_key: None,
        }
    }

    /// Name the artifact by its sha512 in the statement.
    pub fn sha512(mut self) -> Self {
        self.sha512 = true;
        self
    }

    /// Sign with a managed key instead of a certificate.
    pub fn with_key(mut self, key: ManagedKey) -> Self {
        self.managed_key = Some(key);
        self
    }

    /// Logged at this time.
    pub fn at(mut self, t: jiff::Timestamp) -> Self {
        self.signed_at = Some(t);
        self
    }

    pub fn dsse(artifact: impl Into<Vec<u8>>, identity: CertIdentity, content: Content) -> Self {
        SignRequest { content, ..Self::message(artifact, identity) }
    }

    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn defect(mut self, defect: Break) -> Self {
        self.defect = Some(defect);
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
}

/// A minted bundle, and its parts for the formats that carry them separately (cosign
/// image signatures and attestations).
#[derive(Debug, Clone)]
pub struct Minted {
    pub bundle: Value,
    pub identity: String,
    pub issuer: String,
    pub certificate_der: Vec<u8>,
    /// The signature (message) or DSSE signature, base64.
    pub signature_b64: String,
    /// cosign's `{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}`.
    pub rekor_bundle: Value,
    /// The DSSE envelope, for DSSE content.
    pub envelope: Option<Value>,
}

impl Minted {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.bundle).unwrap_or_default()
    }
}

/// A private Sigstore instance.
pub struct VirtualSigstore {
    pub created: jiff::Timestamp,
    root: Issued,
    intermediate: Issued,
    rogue: Issued,
    ct: ct::CtLog,
    log: log::TransparencyLog,
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn p384() -> Result<key::Key> {
    key::Key::p384()
}

/// Phase one of signing: everything up to the log entry.
struct Signed {
    leaf_der: Vec<u8>,
    body: Vec<u8>,
    integrated_time: i64,
    content: Value,
    content_key: &'static str,
    signature_b64: String,
}

impl VirtualSigstore {
    pub fn new() -> Result<Self> {
        let now = jiff::Timestamp::now();
        let year = jiff::SignedDuration::from_hours(24 * 365);
        let (start, end) = (now - year, now + year * 10);
        let root = x509::ca("CN=vouch-testkit root,O=vouch-testkit", p384()?, None, start, end, Some(1))?;
        let intermediate = x509::ca("CN=vouch-testkit intermediate,O=vouch-testkit", p384()?, Some(&root), start, end, Some(0))?;
        let rogue_root = x509::ca("CN=rogue root,O=not-trusted", p384()?, None, start, end, Some(1))?;
        let rogue = x509::ca("CN=rogue intermediate,O=not-trusted", p384()?, Some(&rogue_root), start, end, Some(0))?;
        let mut log = log::TransparencyLog::new("rekor.vouch-testkit.invalid")?;
        // A few earlier entries, so every inclusion proof has hashes to check.
        for i in 0..5u8 {
            log.append(&[b'x', i]);
        }
        Ok(VirtualSigstore { created: now, root, intermediate, rogue, ct: ct::CtLog::new()?, log })
    }

    pub fn sign(&mut self, request: SignRequest) -> Result<Minted> {
        Ok(self.sign_many(vec![request])?.remove(0))
    }

    /// Sign many requests: keys, certificates and signatures in parallel, one shared
    /// checkpoint for all their inclusion proofs.
    pub fn sign_many(&mut self, requests: Vec<SignRequest>) -> Result<Vec<Minted>> {
        let signed: Vec<Signed> = requests.par_iter().map(|r| self.sign_one(r)).collect::<Result<_>>()?;
        let indices: Vec<u64> = signed.iter().map(|s| self.log.append(&s.body)).collect();
        let proofs = self.log.prove(&indices)?;
        let log = &self.log;
        requests
            .par_iter()
            .zip(signed)
            .zip(indices)
            .zip(proofs)
            .map(|(((request, signed), index), proof)| assemble(log, request, signed, index, proof))
            .collect()
    }

    fn sign_one(&self, r: &SignRequest) -> Result<Signed> {
        let t = r.signed_at.unwrap_or(self.created - jiff::SignedDuration::from_hours(1));
        let minute = jiff::SignedDuration::from_mins(1);
        let (not_before, not_after) = match r.defect {
            Some(Break::ExpiredCertificate) => (t - minute * 20, t - minute * 10),
            Some(Break::SignedBeforeValidity) => (t + minute * 10, t + minute * 20),
            _ => (t - minute / 2, t + minute * 10 - minute / 2),
        };
        let key = key::Key::p256()?;
        let spki = x509::spki_der(&key)?;
        let issuer = if r.defect == Some(Break::UntrustedCa) { &self.rogue } else { &self.intermediate };
        let leaf_der = self.leaf(&spki, &r.identity, (not_before, not_after), issuer, r.defect != Some(Break::MissingSct))?;
        let (cert_pem_b64, leaf_der) = match &r.managed_key {
            Some(m) => (STANDARD.encode(x509::public_key_pem(m.key.spki())), Vec::new()),
            None => (STANDARD.encode(x509::pem(&leaf_der)), leaf_der),
        };
        let fresh = if r.defect == Some(Break::WrongKey) { Some(key::Key::p256()?) } else { None };
        let signing_key: &key::Key = match (&fresh, &r.managed_key) {
            (Some(k), _) => k,
            (None, Some(m)) => &m.key,
            (None, None) => &key,
        };

        let mut subject_bytes = r.artifact.clone();
        if r.defect == Some(Break::SubjectDigestMismatch) {
            subject_bytes.push(b'!');
        }
        let digest = sigstore_verify::crypto::sha256(&subject_bytes);
        let (content, content_key, signature, body) = match &r.content {
            Content::Message => {
                let sig_b64 = STANDARD.encode(signing_key.sign(&subject_bytes)?);
                let body = json!({
                    "apiVersion": "0.0.1", "kind": "hashedrekord",
                    "spec": {
                        "data": {"hash": {"algorithm": "sha256", "value": digest.to_hex()}},
                        "signature": {"content": sig_b64, "publicKey": {"content": cert_pem_b64}}
                    }
                });
                let content = json!({
                    "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest.as_bytes())},
                    "signature": sig_b64,
                });
                (content, "messageSignature", sig_b64, body)
            }
            Content::Dsse { statement_type, predicate_type, predicate } => {
                let named = if r.sha512 {
                    json!({"sha512": hex::encode(sigstore_verify::crypto::sha512(&subject_bytes).as_bytes())})
                } else {
                    json!({"sha256": digest.to_hex()})
                };
                let statement = json!({
                    "_type": statement_type,
                    "subject": [{"name": r.name, "digest": named}],
                    "predicateType": predicate_type,
                    "predicate": predicate,
                });
                let payload = serde_json::to_vec(&statement).map_err(err)?;
                let payload_type = "application/vnd.in-toto+json";
                let pae = sigstore_types::pae(payload_type, &payload);
                let sig_b64 = STANDARD.encode(signing_key.sign(&pae)?);
                let envelope = json!({"payload": STANDARD.encode(&payload), "payloadType": payload_type, "signatures": [{"keyid": "", "sig": sig_b64}]});
                let envelope_hash = sigstore_verify::crypto::sha256(&serde_json::to_vec(&envelope).map_err(err)?).to_hex();
                let body = json!({
                    "apiVersion": "0.0.1", "kind": "dsse",
                    "spec": {
                        "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
                        "payloadHash": {"algorithm": "sha256", "value": sigstore_verify::crypto::sha256(&payload).to_hex()},
                        "signatures": [{"signature": sig_b64, "verifier": cert_pem_b64}]
                    }
                });
                (envelope, "dsseEnvelope", sig_b64, body)
            }
        };
        Ok(Signed {
            leaf_der,
            body: serde_json::to_vec(&body).map_err(err)?,
            integrated_time: t.as_second(),
            content,
            content_key,
            signature_b64: signature,
        })
    }

    /// A Fulcio-style leaf certificate for `spki` with the identity's extensions, valid
    /// over `validity`, issued by `issuer`, with an embedded SCT unless told otherwise.
    fn leaf(
        &self,
        spki: &[u8],
        identity: &CertIdentity,
        validity: (jiff::Timestamp, jiff::Timestamp),
        issuer: &x509::Issued,
        sct: bool,
    ) -> Result<Vec<u8>> {
        let issuer_spki = issuer.spki_der()?;
        let mut extensions = x509::leaf_extensions(identity, spki, &issuer_spki)?;
        let serial = sigstore_verify::crypto::sha256(spki).as_bytes()[..20].to_vec();
        let params = |extensions| x509::TbsParams {
            serial: serial.clone(),
            issuer: issuer.subject().unwrap_or_default(),
            subject: Default::default(),
            not_before: validity.0,
            not_after: validity.1,
            subject_spki: spki,
            extensions,
            issuer_key: &issuer.key,
        };
        if sct {
            let precert = der::Encode::to_der(&x509::tbs(params(extensions.clone()))?).map_err(err)?;
            let sct_time = u64::try_from(validity.0.as_millisecond()).map_err(err)?;
            extensions.push(x509::sct_extension(self.ct.sct_list(&precert, &issuer_spki, sct_time)?)?);
        }
        x509::sign_tbs(x509::tbs(params(extensions))?, &issuer.key)
    }

    /// Fulcio's part: a ten-minute certificate for `spki`, issued now, and the chain
    /// above it (PEM, leaf first).
    pub fn issue(&self, spki: &[u8], identity: &CertIdentity) -> Result<Vec<String>> {
        let now = jiff::Timestamp::now();
        let minute = jiff::SignedDuration::from_mins(1);
        let leaf = self.leaf(spki, identity, (now - minute, now + minute * 9), &self.intermediate, true)?;
        Ok(vec![x509::pem(&leaf), x509::pem(&self.intermediate.der), x509::pem(&self.root.der)])
    }

    /// Rekor's part: log an entry body now; the v1 API's answer (`{UUID: entry}`) with
    /// its SET, inclusion proof and checkpoint.
    pub fn log_entry(&mut self, body: &[u8]) -> Result<Value> {
        let now = jiff::Timestamp::now().as_second();
        let index = self.log.append(body);
        let proof = self.log.prove(&[index])?.remove(0);
        let set = self.log.set(body, now, index)?;
        let uuid = hex::encode(log::leaf_hash(body));
        Ok(json!({uuid: {
            "body": STANDARD.encode(body),
            "integratedTime": now,
            "logID": hex::encode(self.log.log_id),
            "logIndex": index,
            "verification": {
                "signedEntryTimestamp": STANDARD.encode(&set),
                "inclusionProof": {
                    "checkpoint": proof.checkpoint,
                    "hashes": proof.hashes.iter().map(hex::encode).collect::<Vec<_>>(),
                    "logIndex": index,
                    "rootHash": hex::encode(proof.root),
                    "treeSize": proof.tree_size,
                }
            }
        }}))
    }

    /// The instance's Sigstore `TrustedRoot`.
    pub fn trusted_root(&self) -> Result<Value> {
        let start = self.root_start();
        let key = |k: &key::Key| -> Result<Value> {
            Ok(
                json!({"rawBytes": STANDARD.encode(x509::spki_der(k)?), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": start}}),
            )
        };
        Ok(json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.vouch-testkit.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": key(&self.log.key)?,
                "logId": {"keyId": STANDARD.encode(self.log.log_id)}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "vouch-testkit", "commonName": "vouch-testkit"},
                "uri": "https://fulcio.vouch-testkit.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(&self.intermediate.der)},
                    {"rawBytes": STANDARD.encode(&self.root.der)}
                ]},
                "validFor": {"start": start}
            }],
            "ctlogs": [{
                "baseUrl": "https://ctfe.vouch-testkit.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": key(&self.ct.key)?,
                "logId": {"keyId": STANDARD.encode(self.ct.log_id)}
            }],
            "timestampAuthorities": []
        }))
    }

    /// The trusted root wrapped as a sigstore-python / cosign `ClientTrustConfig`.
    pub fn client_trust_config(&self) -> Result<Value> {
        Ok(client_trust_config(self.trusted_root()?))
    }

    /// The CA chain (intermediate, then root) as PEM, as cosign's chain annotation holds it.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate.pem(), self.root.pem())
    }

    fn root_start(&self) -> String {
        (self.created - jiff::SignedDuration::from_hours(24 * 365)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// Lower-case hex SHA-256, for tests that need a digest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sigstore_verify::crypto::sha256(bytes).to_hex()
}

/// Wrap a trusted root as a `ClientTrustConfig` (what `sigstore --trust-config` reads),
/// with placeholder service URLs: verification never contacts them.
pub fn client_trust_config(trusted_root: Value) -> Value {
    let start = trusted_root["certificateAuthorities"][0]["validFor"]["start"].clone();
    let service = |url: &str| json!({"url": url, "majorApiVersion": 1, "operator": "vouch-testkit", "validFor": {"start": start}});
    json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service("https://fulcio.vouch-testkit.invalid")],
            "oidcUrls": [],
            "rekorTlogUrls": [service("https://rekor.vouch-testkit.invalid")],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaUrls": [],
            "tsaConfig": {"selector": "ANY"}
        }
    })
}

fn assemble(log: &log::TransparencyLog, r: &SignRequest, s: Signed, index: u64, proof: log::Proof) -> Result<Minted> {
    let mut set = log.set(&s.body, s.integrated_time, index)?;
    if r.defect == Some(Break::TamperedSet) {
        set[10] ^= 0x01;
    }
    let mut hashes = proof.hashes;
    if r.defect == Some(Break::WrongInclusionProof) {
        hashes[0][0] ^= 0x01;
    }
    let body_b64 = STANDARD.encode(&s.body);
    let kind = if s.content_key == "dsseEnvelope" { "dsse" } else { "hashedrekord" };
    let entry = json!({
        "logIndex": index.to_string(),
        "logId": {"keyId": STANDARD.encode(log.log_id)},
        "kindVersion": {"kind": kind, "version": "0.0.1"},
        "integratedTime": s.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(&set)},
        "inclusionProof": {
            "logIndex": index.to_string(),
            "rootHash": STANDARD.encode(proof.root),
            "treeSize": proof.tree_size.to_string(),
            "hashes": hashes.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
            "checkpoint": {"envelope": proof.checkpoint}
        },
        "canonicalizedBody": body_b64,
    });
    let cert = STANDARD.encode(&s.leaf_der);
    if let Some(m) = &r.managed_key {
        let bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": m.hint}, "tlogEntries": [entry], "timestampVerificationData": {}},
            s.content_key: s.content,
        });
        let envelope = (s.content_key == "dsseEnvelope").then(|| s.content.clone());
        return Ok(Minted {
            bundle,
            identity: String::new(),
            issuer: String::new(),
            certificate_der: Vec::new(),
            signature_b64: s.signature_b64,
            rekor_bundle: json!({}),
            envelope,
        });
    }
    let rekor_bundle = json!({
        "SignedEntryTimestamp": STANDARD.encode(&set),
        "Payload": {"body": body_b64, "integratedTime": s.integrated_time, "logIndex": index, "logID": hex::encode(log.log_id)}
    });
    let envelope = (s.content_key == "dsseEnvelope").then(|| s.content.clone());
    let bundle = match r.format {
        Format::V03 => json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"certificate": {"rawBytes": cert}, "tlogEntries": [entry], "timestampVerificationData": {}},
            s.content_key: s.content,
        }),
        Format::V01 => json!({
            "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
            "verificationMaterial": {"x509CertificateChain": {"certificates": [{"rawBytes": cert}]}, "tlogEntries": [entry], "timestampVerificationData": {}},
            s.content_key: s.content,
        }),
        Format::CosignLegacy => {
            if s.content_key != "messageSignature" {
                return Err("cosign legacy bundles hold message signatures only".into());
            }
            json!({
                "base64Signature": s.signature_b64,
                "cert": STANDARD.encode(x509::pem(&s.leaf_der)),
                "rekorBundle": rekor_bundle,
            })
        }
    };
    Ok(Minted {
        bundle,
        identity: r.identity.identity().to_string(),
        issuer: r.identity.issuer.clone(),
        certificate_der: s.leaf_der,
        signature_b64: s.signature_b64,
        rekor_bundle,
        envelope,
    })
}
