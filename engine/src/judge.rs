//! One subject, judged: verify each piece of evidence, build the policy input from what
//! verified (and what did not), evaluate the policy, decide. A subject passes when at
//! least one signature verified, no policy denied it, and no rule errored.

use serde::Serialize;

use crate::error::Error;
use crate::evidence::Evidence;
use crate::policy::{build_input, Context, Decision, Policy, SubjectInfo, VerificationFailure};
use crate::subject::Artifact;
use crate::trust::Trust;
use crate::verify::{self, Signer, VerifiedSignature};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// A reason a subject failed, with a stable code.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub subject: SubjectInfo,
    pub verdict: Verdict,
    pub signatures: Vec<VerifiedSignature>,
    pub verification_errors: Vec<VerificationFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Decision>,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<Reason>,
    /// The policy input, when asked for (`explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
}

/// What stays the same across subjects.
pub struct Judge<'a> {
    pub trust: &'a Trust,
    pub signer: &'a Signer,
    pub policy: Option<Policy>,
    pub context: Context,
    pub fail_on_warn: bool,
    /// Keep the input document and the rule locations in the judgement.
    pub explain: bool,
}

impl Judge<'_> {
    /// Judge one artifact against its evidence (each item a bundle, or why it could
    /// not be read).
    pub fn judge(&mut self, artifact: &Artifact, kind: &'static str, evidence: Vec<Result<Evidence, Error>>) -> Judgement {
        let subject = SubjectInfo { kind, name: artifact.name(), sha256: artifact.sha256().to_hex() };
        let results = evidence.into_iter().map(|item| item.and_then(|e| verify::verify(self.trust, artifact, &e, self.signer))).collect();
        self.judge_results(subject, results)
    }

    /// Judge a subject whose evidence was verified elsewhere (images: each piece of
    /// evidence signs something different — a payload, the manifest).
    pub fn judge_results(&mut self, subject: SubjectInfo, results: Vec<Result<VerifiedSignature, Error>>) -> Judgement {
        let mut signatures = Vec::new();
        let mut failures = Vec::new();
        for result in results {
            match result {
                Ok(signature) => signatures.push(signature),
                Err(e) => failures.push(VerificationFailure { code: e.code(), message: e.to_string() }),
            }
        }
        // Failed evidence beside a verified signature does not fail the subject (it is
        // still listed in verification_errors); policy findings always do.
        let mut reasons: Vec<Reason> = Vec::new();
        if signatures.is_empty() {
            reasons.extend(failures.iter().map(|f| Reason { code: f.code.clone(), message: f.message.clone() }));
            if failures.is_empty() {
                reasons.push(Reason { code: "vouch::verify::none".into(), message: "no signature found".into() });
            }
        }

        let mut decision = None;
        let mut input = None;
        if let Some(policy) = self.policy.as_mut() {
            // Which signatures and attestations count: those whose signer the configured
            // signer policies accept (asked only when there are several or attestations).
            // (A single signature needs no marking: if its signer is not accepted, the signer
            // policy denies the subject anyway.)
            let accepted = if signatures.len() > 1 || signatures.iter().any(|s| s.kind == crate::verify::SignatureKind::Dsse) {
                policy.accepted(&build_input(&subject, &signatures, &failures, &self.context, None))
            } else {
                Ok(None)
            };
            let result = accepted.and_then(|accepted| {
                let doc = build_input(&subject, &signatures, &failures, &self.context, accepted.as_ref());
                if self.explain {
                    input = serde_json::to_value(&doc).ok();
                }
                if self.explain {
                    policy.explain(&doc)
                } else {
                    policy.evaluate(&doc)
                }
            });
            let judges = policy.signer_judges().join(", ");
            match result {
                Ok(d) => {
                    reasons.extend(
                        d.deny.iter().map(|f| Reason {
                            code: f.code.clone().unwrap_or_else(|| format!("{}.deny", f.package)),
                            message: f.msg.clone(),
                        }),
                    );
                    // (After the judges' own reasons.)
                    // vouch enforces the judges' verdict itself, not only through their deny
                    // rules: a judge whose deny forgets a case still cannot pass anyone.
                    // (Indices past the signatures a policy was given accept nobody.)
                    if d.accepted.as_ref().is_some_and(|a| !a.iter().any(|i| *i < signatures.len())) && !signatures.is_empty() {
                        reasons.push(Reason {
                            code: "vouch::policy::no-accepted-signer".into(),
                            message: format!(
                                "no verified signature is from a signer that every configured signer policy ({judges}) accepts"
                            ),
                        });
                    }
                    if self.fail_on_warn {
                        reasons.extend(d.warn.iter().map(|f| Reason {
                            code: f.code.clone().unwrap_or_else(|| format!("{}.warn", f.package)),
                            message: format!("warning (--fail-on-warn): {}", f.msg),
                        }));
                    }
                    decision = Some(d);
                }
                Err(e) => reasons.push(Reason { code: "vouch::policy::eval".into(), message: e.to_string() }),
            }
        }
        let verdict = if reasons.is_empty() { Verdict::Pass } else { Verdict::Fail };
        Judgement { subject, verdict, signatures, verification_errors: failures, policy: decision, reasons, input }
    }
}
