//! Verification summaries (SLSA VSA v1, docs/reviews.md): what a run concluded about
//! each subject, signed, so that a later run — or anyone else — need not verify it again.
//!
//! * Out (`--vsa DIR`): after the run, one in-toto statement per judged subject,
//!   `https://slsa.dev/verification_summary/v1`, naming the subject's digest, the digest
//!   of the exact policy it was judged by (rules, data, signers, fail-on-warn, waivers),
//!   the trusted root, the bundles that verified and the verdict; signed with a key or
//!   keyless (Fulcio + Rekor) in a Sigstore bundle.
//! * In (`--reuse-vsa DIR`): before a subject's evidence is fetched or verified, a
//!   PASSED summary of its digest, from an accepted signer, for the same policy digest,
//!   trusted root and subject, younger than `--vsa-max-age`, passes it as "verified by
//!   summary". Anything else is verified in full; why a summary was not used is
//!   reported.

mod sign;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Result};
use crate::plan::{Plan, SubjectPlan};
use crate::report::{Report, SignerSummary, SubjectResult, Verdict};

pub use sign::{write_all, SummarySigner};

pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const VERIFIER_ID: &str = "https://github.com/vouch-dev/vouch";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const FILE_SUFFIX: &str = ".vsa.sigstore.json";
/// A summary file is a few KB.
const MAX_SUMMARY_BYTES: u64 = 1 << 20;
/// Summaries of one digest tried at most (several runs, several names).
const MAX_CANDIDATES: usize = 8;
/// Clocks disagree a little; a summary from further in the future is refused.
pub(crate) const CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);

/// The statement's predicate (what vouch writes and reads back).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    pub verifier: Verifier,
    pub time_verified: String,
    pub resource_uri: String,
    pub policy: Descriptor,
    #[serde(default)]
    pub input_attestations: Vec<Descriptor>,
    pub verification_result: String,
    #[serde(default)]
    pub verified_levels: Vec<String>,
    /// vouch's own bindings (other VSA readers ignore unknown fields).
    pub vouch: Bindings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verifier {
    pub id: String,
    #[serde(default)]
    pub version: std::collections::BTreeMap<String, String>,
}

/// An in-toto ResourceDescriptor (uri and digest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Descriptor {
    pub uri: String,
    pub digest: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Bindings {
    /// The subject's plan id (`blob:PATH`, `image:REF`, …): policies may judge by name.
    pub subject: String,
    pub trusted_root_sha256: String,
    /// The waived findings the verdict relied on: each waiver must still be in force to
    /// reuse it, and the reused result reports them waived again.
    #[serde(default)]
    pub waived: Vec<crate::decide::waivers::SummaryWaived>,
    pub effective_time: String,
}

#[derive(Debug, Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<StatementSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: Predicate,
}

#[derive(Debug, Deserialize)]
struct StatementSubject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// How a subject's summary was (or was not) used, in its result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SummaryUse {
    /// Whether the subject passed by this summary, without verification.
    pub used: bool,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time_verified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signer: Option<String>,
    /// Why it was not used (the subject was verified in full).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rejected: Option<String>,
}

/// What a subject's summaries came to.
#[derive(Debug)]
pub enum Reuse {
    /// Passed by a summary, not verified again.
    Passed(Box<SubjectResult>),
    /// Summaries there were, none held: verified in full, and its result says why.
    Refused(SummaryUse),
}

/// Who may sign the summaries a run reuses.
#[derive(Debug, Clone)]
pub enum AcceptedSigner {
    /// A public key (key-signed summaries carry no log entry: their time is the key
    /// holder's word).
    Key { hint: String, key: std::sync::Arc<aws_lc_rs::signature::ParsedPublicKey> },
    /// A keyless signer: its exact identity and issuer, verified like any bundle
    /// (certificate chain, SCT, log entry) against the run's trusted root.
    Identity(crate::verify::identity::IdentityRequirement),
}

/// `--reuse-vsa DIR --vsa-max-age D --vsa-signer …`.
#[derive(Debug)]
pub struct SummariesIn {
    pub dir: PathBuf,
    pub max_age: jiff::SignedDuration,
    pub signers: Vec<AcceptedSigner>,
    /// `ALG-HEX` → the summary files of that digest.
    index: HashMap<String, Vec<PathBuf>>,
}

/// `--vsa DIR` and how to sign.
#[derive(Debug)]
pub struct SummariesOut {
    pub dir: PathBuf,
    pub signer: SummarySigner,
}

/// The request's VSA settings, as flags give them.
#[derive(Debug, Clone, Default)]
pub struct VsaFlags {
    pub out: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub keyless: bool,
    pub identity_token: Option<PathBuf>,
    pub fulcio_url: Option<String>,
    pub rekor_url: Option<String>,
    pub reuse: Option<PathBuf>,
    pub max_age: Option<String>,
    pub signers: Vec<String>,
    pub signer_issuer: Option<String>,
}

fn usage(message: impl Into<String>) -> Error {
    Error::usage(Code::UsageVsa, message)
}

/// `168h`, `7d`, `30m`, `90s` (and `0s`).
pub fn parse_age(s: &str) -> Option<jiff::SignedDuration> {
    let (number, unit) = s.trim().split_at(s.trim().find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(jiff::SignedDuration::from_secs(secs))
}

impl VsaFlags {
    /// Check everything before any subject is judged (exit 2 otherwise).
    pub fn resolve(&self) -> Result<(Option<SummariesOut>, Option<SummariesIn>)> {
        let out = match &self.out {
            None => {
                if self.key.is_some() || self.keyless {
                    return Err(usage("--vsa-key and --vsa-keyless sign summaries: give --vsa DIR for them"));
                }
                None
            }
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.clone(), what: "summary folder", source })?;
                let signer = match (&self.key, self.keyless) {
                    (Some(_), true) => return Err(usage("sign summaries with --vsa-key or --vsa-keyless, not both")),
                    (None, false) => return Err(usage(
                        "--vsa DIR needs a signer: --vsa-key PRIVATE.pem, or --vsa-keyless in CI (the job's OIDC token, SIGSTORE_ID_TOKEN)",
                    )),
                    (Some(path), false) => SummarySigner::key(path)?,
                    (None, true) => SummarySigner::keyless(
                        self.identity_token.as_deref(),
                        self.fulcio_url.as_deref().unwrap_or("https://fulcio.sigstore.dev"),
                        self.rekor_url.as_deref().unwrap_or("https://rekor.sigstore.dev"),
                    )?,
                };
                Some(SummariesOut { dir: dir.clone(), signer })
            }
        };
        if !self.keyless && (self.identity_token.is_some() || self.fulcio_url.is_some() || self.rekor_url.is_some()) {
            return Err(usage("--vsa-identity-token, --vsa-fulcio-url and --vsa-rekor-url are for --vsa-keyless"));
        }
        let reuse = match &self.reuse {
            None => {
                if !self.signers.is_empty() || self.max_age.is_some() || self.signer_issuer.is_some() {
                    return Err(usage("--vsa-signer, --vsa-signer-issuer and --vsa-max-age are for --reuse-vsa DIR"));
                }
                None
            }
            Some(dir) => Some(SummariesIn::open(dir, self)?),
        };
        Ok((out, reuse))
    }
}

impl SummariesIn {
    fn open(dir: &Path, flags: &VsaFlags) -> Result<Self> {
        let max_age = match flags.max_age.as_deref() {
            None => jiff::SignedDuration::from_hours(168),
            Some(s) => parse_age(s).ok_or_else(|| usage(format!("--vsa-max-age {s:?}: write a duration such as 168h, 7d or 30m")))?,
        };
        if flags.signers.is_empty() {
            return Err(usage(
                "--reuse-vsa needs --vsa-signer: who may vouch for a subject instead of its signatures (key:PUBLIC.pem, or an identity with --vsa-signer-issuer)",
            ));
        }
        let mut signers = Vec::new();
        for s in &flags.signers {
            if let Some(path) = s.strip_prefix("key:") {
                let key = match crate::verify::Signer::public_key_from_pem_file(Path::new(path))? {
                    crate::verify::Signer::PublicKey(key) => key,
                    _ => return Err(usage(format!("--vsa-signer {s}: not a public key"))),
                };
                let parsed = aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, key.as_bytes())
                    .map_err(|e| usage(format!("--vsa-signer {s}: not an ECDSA P-256 public key ({e})")))?;
                signers.push(AcceptedSigner::Key { hint: key_hint(key.as_bytes()), key: std::sync::Arc::new(parsed) });
            } else {
                let issuer = flags.signer_issuer.as_deref().ok_or_else(|| {
                    usage(format!(
                        "--vsa-signer {s}: a keyless signer needs --vsa-signer-issuer (the OIDC issuer, e.g. https://gitlab.com)"
                    ))
                })?;
                signers.push(AcceptedSigner::Identity(crate::verify::identity::IdentityRequirement::from_flags(
                    Some(s),
                    None,
                    Some(issuer),
                    None,
                )?));
            }
        }
        let entries = std::fs::read_dir(dir).map_err(|e| {
            usage(format!(
                "--reuse-vsa {}: {e}; give the folder an earlier run wrote with --vsa (create it empty for a first run)",
                dir.display()
            ))
        })?;
        let mut index: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for entry in entries.flatten() {
            // Regular files only: a FIFO or a link planted in the folder is not read.
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(FILE_SUFFIX) {
                if let Some((digest, _)) = stem.rsplit_once('.') {
                    index.entry(digest.to_string()).or_default().push(entry.path());
                }
            }
        }
        for files in index.values_mut() {
            files.sort();
        }
        Ok(SummariesIn { dir: dir.to_path_buf(), max_age, signers, index })
    }

    /// Try the summaries of a subject's digest: the first that holds passes it. None when
    /// there is none (the subject is verified in full, and nothing is said).
    pub fn reuse(&self, plan: &Plan, subject: &SubjectPlan, kind: &str, name: &str, digest: &str) -> Option<Reuse> {
        let mut files: Vec<&PathBuf> = self.index.get(&digest.replacen(':', "-", 1))?.iter().collect();
        // This subject's own file first: others of the same digest cannot crowd it out.
        let own = file_name(digest, subject.id());
        files.sort_by_key(|f| f.file_name().is_none_or(|n| n.to_string_lossy() != own));
        let expected = Expected {
            digest,
            subject: subject.id(),
            policy: policy_digest(plan, subject),
            trusted_root: plan.trust.root_sha256(),
            max_age: self.max_age,
            waivers: &plan.waivers,
            effective_time: plan.context.effective_time,
        };
        let mut rejected = None;
        for file in files.into_iter().take(MAX_CANDIDATES) {
            match self.check(plan, file, &expected) {
                Ok(accepted) => {
                    // (In force was checked; None only if that changed meanwhile.)
                    let Some(waived) = plan.waivers.relied_on(&accepted.waived) else { continue };
                    let mut result = reused(kind, name, digest, file, accepted);
                    result.waived = waived;
                    return Some(Reuse::Passed(Box::new(result)));
                }
                Err(why) => rejected = Some((file, why)),
            }
        }
        // Verified in full; the result says why the summary was not enough.
        rejected.map(|(file, why)| {
            Reuse::Refused(SummaryUse {
                used: false,
                file: file.display().to_string(),
                time_verified: None,
                signer: None,
                rejected: Some(why),
            })
        })
    }

    fn check(&self, plan: &Plan, file: &Path, expected: &Expected<'_>) -> std::result::Result<Accepted, String> {
        let bytes = crate::trust::read_limited(file, "verification summary", MAX_SUMMARY_BYTES).map_err(|e| e.to_string())?;
        let (payload, signer, logged) = self.verified_payload(plan, &bytes, expected.digest)?;
        let statement: Statement = serde_json::from_slice(&payload).map_err(|e| format!("not a verification summary: {e}"))?;
        if statement.statement_type != STATEMENT_TYPE || statement.predicate_type != PREDICATE_TYPE {
            return Err(format!("not a SLSA verification summary ({})", statement.predicate_type));
        }
        let [subject] = statement.subject.as_slice() else {
            return Err("a summary names exactly one subject".into());
        };
        let (alg, hex) = expected.digest.split_once(':').unwrap_or(("", ""));
        if subject.digest.get(alg).map(String::as_str) != Some(hex) {
            return Err("its subject is another digest".into());
        }
        let p = statement.predicate;
        if p.verifier.id != VERIFIER_ID {
            return Err(format!("written by another verifier ({})", p.verifier.id));
        }
        if p.verification_result != "PASSED" {
            return Err(format!("its result is {}", p.verification_result));
        }
        if p.policy.digest.get("sha256").map(String::as_str) != Some(expected.policy.as_str()) {
            return Err("the policy changed since (rules, data, signers, fail-on-warn or waivers)".into());
        }
        if p.vouch.trusted_root_sha256 != expected.trusted_root {
            return Err("it was verified against another trusted root".into());
        }
        if p.vouch.subject != expected.subject {
            return Err(format!("it is for another subject ({})", p.vouch.subject));
        }
        let verified: jiff::Timestamp =
            p.time_verified.parse().map_err(|_| format!("timeVerified {:?} is not RFC 3339", p.time_verified))?;
        let judged_at: jiff::Timestamp =
            p.vouch.effective_time.parse().map_err(|_| format!("effective_time {:?} is not RFC 3339", p.vouch.effective_time))?;
        let now = jiff::Timestamp::now();
        if verified > now + CLOCK_SKEW {
            return Err(format!("timeVerified {} is in the future", p.time_verified));
        }
        // A keyless summary cannot claim a time later than its log entry's.
        if logged.is_some_and(|t| verified > t + CLOCK_SKEW) {
            return Err(format!("timeVerified {} is later than its transparency log entry", p.time_verified));
        }
        // Time-dependent rules judged at a later time than the summary was made are not
        // a verdict about then; judged at an earlier time (a re-run of an old pipeline
        // with its effective time), the summary is as old as that time.
        if judged_at > verified + CLOCK_SKEW {
            return Err(format!("it was judged at a future effective time ({})", p.vouch.effective_time));
        }
        // A verdict holds from the time it was judged at on, not before: a run judging an
        // earlier time (an old pipeline re-run) verifies in full.
        if expected.effective_time + CLOCK_SKEW < judged_at {
            return Err(format!(
                "this run judges at {}, before the summary's effective time {}",
                crate::claims::rfc3339_of(expected.effective_time),
                p.vouch.effective_time
            ));
        }
        let since = verified.min(judged_at);
        if now.max(expected.effective_time).duration_since(since) > expected.max_age {
            return Err(format!("it is older than --vsa-max-age (judged at {})", crate::claims::rfc3339_of(since)));
        }
        if let Some(f) = p.vouch.waived.iter().find(|f| !expected.waivers.in_force(&f.waiver)) {
            return Err(format!("it relied on waiver {}, which is no longer in force", f.waiver));
        }
        Ok(Accepted { time_verified: p.time_verified, signer, waived: p.vouch.waived })
    }

    /// The statement, once its signature verified and its signer is accepted.
    /// Also the time its log entry was integrated, for a keyless summary.
    fn verified_payload(
        &self,
        plan: &Plan,
        bytes: &[u8],
        digest: &str,
    ) -> std::result::Result<(Vec<u8>, String, Option<jiff::Timestamp>), String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            verification_material: Material,
            dsse_envelope: Envelope,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Material {
            public_key: Option<Hint>,
        }
        #[derive(Deserialize)]
        struct Hint {
            hint: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope {
            payload: String,
            payload_type: String,
            signatures: Vec<EnvelopeSignature>,
        }
        #[derive(Deserialize)]
        struct EnvelopeSignature {
            sig: String,
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(|e| format!("not a Sigstore DSSE bundle: {e}"))?;
        if probe.dsse_envelope.payload_type != PAYLOAD_TYPE {
            return Err(format!("payload type {}", probe.dsse_envelope.payload_type));
        }
        if let Some(Hint { hint }) = probe.verification_material.public_key {
            // Key-signed: the envelope's one signature, by an accepted key.
            let key = self
                .signers
                .iter()
                .find_map(|s| match s {
                    AcceptedSigner::Key { hint: h, key } if *h == hint => Some(key),
                    _ => None,
                })
                .ok_or_else(|| {
                    let accepted: Vec<&str> = self
                        .signers
                        .iter()
                        .filter_map(|s| match s {
                            AcceptedSigner::Key { hint, .. } => Some(hint.as_str()),
                            AcceptedSigner::Identity(_) => None,
                        })
                        .collect();
                    format!("signed by key {hint}, which --vsa-signer does not accept (it accepts {})", accepted.join(", "))
                })?;
            let [signature] = probe.dsse_envelope.signatures.as_slice() else {
                return Err("a summary has exactly one signature".into());
            };
            let b64 = base64::engine::general_purpose::STANDARD;
            let payload = b64.decode(&probe.dsse_envelope.payload).map_err(|_| "the payload is not base64".to_string())?;
            let sig = b64.decode(&signature.sig).map_err(|_| "the signature is not base64".to_string())?;
            let pae = sigstore_types::pae(PAYLOAD_TYPE, &payload);
            key.verify_sig(&pae, &sig)
                .map_err(|_| "its signature does not verify: it was altered, or signed by another key".to_string())?;
            return Ok((payload, format!("key {hint}"), None));
        }
        // Keyless: the whole bundle verified like any other, by an accepted identity.
        let requirements: Vec<_> = self
            .signers
            .iter()
            .filter_map(|s| match s {
                AcceptedSigner::Identity(r) => Some(r.clone()),
                AcceptedSigner::Key { .. } => None,
            })
            .collect();
        if requirements.is_empty() {
            return Err("signed keyless, and --vsa-signer accepts only keys".into());
        }
        let evidence = crate::evidence::parse_bundle(bytes).map_err(|e| e.to_string())?;
        let artifact =
            crate::evidence::ArtifactInput::parse(digest).and_then(crate::evidence::Artifact::open).map_err(|e| e.to_string())?;
        let verified = crate::verify::verify(&plan.trust, &artifact, &evidence, &crate::verify::Signer::AnyOf(requirements))
            .map_err(|e| format!("it does not verify from an accepted signer: {e}"))?;
        let statement = evidence.statement.ok_or_else(|| "no in-toto statement".to_string())?;
        let payload = serde_json::to_vec(&statement.json).map_err(|e| e.to_string())?;
        let logged = verified.signed_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let who = verified.claims.and_then(|c| c.identity.map(|i| i.value)).unwrap_or_else(|| "?".into());
        Ok((payload, who, logged))
    }
}

struct Expected<'a> {
    digest: &'a str,
    subject: &'a str,
    policy: String,
    trusted_root: &'a str,
    max_age: jiff::SignedDuration,
    waivers: &'a crate::decide::waivers::Waivers,
    /// This run's effective time.
    effective_time: jiff::Timestamp,
}

struct Accepted {
    time_verified: String,
    signer: String,
    waived: Vec<crate::decide::waivers::SummaryWaived>,
}

fn reused(kind: &str, name: &str, digest: &str, file: &Path, a: Accepted) -> SubjectResult {
    let (alg, hex) = digest.split_once(':').unwrap_or(("", ""));
    let mut result = SubjectResult::not_verified(kind, name.to_string(), None, crate::Reason::new(Code::VerifyNone, ""));
    result.reasons.clear();
    result.verdict = Verdict::Pass;
    result.verified = true;
    result.sha256 = (alg == "sha256").then(|| hex.to_string());
    result.sha512 = (alg == "sha512").then(|| hex.to_string());
    result.signers = vec![SignerSummary {
        kind: "summary".into(),
        identity: Some(a.signer.clone()),
        issuer: None,
        predicate_type: Some(PREDICATE_TYPE.into()),
        project: None,
        git_ref: None,
        commit: None,
        run_url: None,
        signed_at: Some(a.time_verified.clone()),
        log_index: None,
        bundle_sha256: None,
    }];
    result.summary = Some(Box::new(SummaryUse {
        used: true,
        file: file.display().to_string(),
        time_verified: Some(a.time_verified),
        signer: Some(a.signer),
        rejected: None,
    }));
    result
}

/// What a subject's verdict depends on besides its evidence: the policy slot (rules and
/// data), the signer requirements, fail-on-warn and the waiver files.
pub fn policy_digest(plan: &Plan, subject: &SubjectPlan) -> String {
    let digests = plan.summary_digests.get_or_init(|| {
        let pairs: std::collections::HashSet<(usize, usize)> = plan.subjects.iter().map(|s| (s.signer, s.policy)).collect();
        pairs.into_iter().map(|(signer, policy)| ((signer, policy), slot_digest(plan, signer, policy))).collect()
    });
    digests.get(&(subject.signer, subject.policy)).cloned().unwrap_or_else(|| slot_digest(plan, subject.signer, subject.policy))
}

fn slot_digest(plan: &Plan, signer: usize, policy: usize) -> String {
    let policy = plan.policies.get(policy).and_then(|p| p.as_ref().map(crate::policy::Policy::digest));
    let signer = plan.signers.get(signer).map(|s| format!("{s:?}"));
    // Everything else a verdict depends on: the trust with its platforms, the pinned
    // local CAs, the package registries and their keys.
    let text = format!(
        "vouch-vsa-policy-v2\npolicy {}\nsigner {}\nfail-on-warn {}\nwaivers {}\ntrust {}\nlocal-ca {}\nregistries {}\n",
        policy.as_deref().unwrap_or("-"),
        signer.as_deref().unwrap_or("-"),
        plan.fail_on_warn,
        plan.waivers.digest().unwrap_or("-"),
        plan.trust.digest(),
        plan.local_ca.describe(),
        plan.registries.describe()
    );
    crate::claims::sha256_hex(text.as_bytes())
}

/// A key's hint, as Sigstore bundles write it: base64 of the SHA-256 of its SPKI.
pub fn key_hint(spki: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sigstore_verify::crypto::sha256(spki).as_bytes())
}

/// The subject's digest as `ALG:HEX`, when it has one a summary can name.
pub fn subject_digest(s: &SubjectResult) -> Option<String> {
    s.sha256.as_ref().map(|h| format!("sha256:{h}")).or_else(|| s.sha512.as_ref().map(|h| format!("sha512:{h}")))
}

/// A subject's summary file name: its digest (to find it), then its id's hash (one
/// digest may be several subjects).
fn file_name(digest: &str, id: &str) -> String {
    let id_hash = crate::claims::sha256_hex(id.as_bytes());
    format!("{}.{}{FILE_SUFFIX}", digest.replacen(':', "-", 1), id_hash.get(..16).unwrap_or(&id_hash))
}

/// Where the subject is, as a URI.
fn resource_uri(s: &SubjectResult) -> String {
    match (s.kind.as_str(), &s.package) {
        ("package", Some(p)) => format!("pkg:{}/{}@{}", p.ecosystem, p.name, p.version),
        ("image", _) => match crate::oci::ImageRef::parse(&s.name) {
            Ok(r) => format!("oci://{}/{}@sha256:{}", r.registry, r.repository, s.sha256.as_deref().unwrap_or("")),
            Err(_) => format!("oci://{}", s.name),
        },
        _ => format!("file:{}", s.name),
    }
}

/// The statement of one subject's summary.
fn statement(
    report: &Report,
    plan: &Plan,
    subject: &SubjectPlan,
    s: &SubjectResult,
    digest: &str,
    now: jiff::Timestamp,
) -> serde_json::Value {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", ""));
    let passed = s.verdict == Verdict::Pass;
    let inputs: Vec<Descriptor> = s
        .signers
        .iter()
        .filter_map(|x| {
            let sha = x.bundle_sha256.clone()?;
            let uri = match x.log_index {
                Some(i) => format!("rekor:{i}"),
                None => "bundle".to_string(),
            };
            Some(Descriptor { uri, digest: [("sha256".to_string(), sha)].into_iter().collect() })
        })
        .collect();
    let waived: Vec<crate::decide::waivers::SummaryWaived> = s
        .waived
        .iter()
        .map(|w| crate::decide::waivers::SummaryWaived {
            waiver: w.waiver.clone(),
            code: w.code.clone(),
            message: w.message.clone(),
            rule: w.rule.clone(),
        })
        .collect();
    let predicate = Predicate {
        verifier: Verifier {
            id: VERIFIER_ID.into(),
            version: [("vouch".to_string(), env!("CARGO_PKG_VERSION").to_string())].into_iter().collect(),
        },
        time_verified: crate::claims::rfc3339_of(now),
        resource_uri: resource_uri(s),
        policy: Descriptor {
            uri: "vouch:policy".into(),
            digest: [("sha256".to_string(), policy_digest(plan, subject))].into_iter().collect(),
        },
        input_attestations: inputs,
        verification_result: if passed { "PASSED" } else { "FAILED" }.into(),
        verified_levels: vec![if passed { "VOUCH_POLICY_PASSED" } else { "FAILED" }.into()],
        vouch: Bindings {
            subject: subject.id().to_string(),
            trusted_root_sha256: plan.trust.root_sha256().to_string(),
            waived,
            effective_time: report.effective_time.clone(),
        },
    };
    serde_json::json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": s.name, "digest": {alg: hex}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    })
}
