//! One subject, decided: from what verified (and what did not), build the policy input,
//! evaluate the policy, and decide. A subject passes when at least one signature
//! verified, no policy denied it, every configured signer judge accepted one of its
//! signers, and no rule errored.

mod input;
pub mod waivers;

pub use input::{build_input, AttestationInput, ContextInput, Input, PackageFacts, SignatureInput, SubjectInfo};

use crate::error::{Code, Error, Reason};
use crate::plan::Detail;
use crate::policy::Policy;
use crate::report::{SignerSummary, SubjectResult, Verdict};
use crate::verify::{SignatureKind, VerifiedSignature};

/// What every subject of a run sees the same.
#[derive(Debug, Clone)]
pub struct Context {
    pub effective_time: jiff::Timestamp,
    /// `I/N`.
    pub shard: String,
}

/// How subjects are decided in one run.
pub struct Decider<'a> {
    pub context: &'a Context,
    pub fail_on_warn: bool,
    pub detail: Detail,
}

impl Decider<'_> {
    /// Decide a subject from the verification of each piece of its evidence.
    pub fn decide(
        &self,
        subject: SubjectInfo,
        results: Vec<Result<VerifiedSignature, Error>>,
        policy: Option<&mut Policy>,
    ) -> SubjectResult {
        let mut signatures = Vec::new();
        let mut failures = Vec::new();
        for result in results {
            match result {
                Ok(signature) => signatures.push(signature),
                Err(e) => failures.push(Reason::of(&e)),
            }
        }
        // Failed evidence beside a verified signature does not fail the subject (it is
        // still listed in verification_errors); policy findings always do.
        let mut reasons: Vec<Reason> = Vec::new();
        // A package's evidence is all the registry's: an invalid signature or attestation
        // is a package that was tampered with, whatever else verified (npm audit
        // signatures fails it too).
        if subject.package.is_some() && !signatures.is_empty() {
            reasons.extend(failures.iter().cloned());
        }
        if signatures.is_empty() {
            reasons.extend(failures.iter().cloned());
            if failures.is_empty() {
                reasons.push(Reason::new(Code::VerifyNone, "no signature found"));
            }
        }

        let explain = self.detail == Detail::Explain;
        let mut decision = None;
        let mut input = None;
        if let Some(policy) = policy {
            // Which signatures and attestations count: those whose signer the configured
            // signer policies accept (asked only when there are several or attestations:
            // a single signature whose signer is not accepted is denied by the signer
            // policy anyway).
            let accepted = if signatures.len() > 1 || signatures.iter().any(|s| s.kind == SignatureKind::Dsse) {
                policy.accepted(&build_input(&subject, &signatures, &failures, self.context, None))
            } else {
                Ok(None)
            };
            let result = accepted.and_then(|accepted| {
                let doc = build_input(&subject, &signatures, &failures, self.context, accepted.as_ref());
                if explain {
                    input = serde_json::to_value(&doc).ok();
                    policy.explain(&doc)
                } else {
                    policy.evaluate(&doc)
                }
            });
            match result {
                Ok(d) => {
                    reasons.extend(d.deny.iter().map(|f| {
                        Reason::finding(Code::PolicyDeny, f.code.clone().unwrap_or_else(|| format!("{}.deny", f.package)), f.msg.clone())
                            .with_help(f.title.clone(), f.solution.clone())
                            .from_package(&f.package, f.term.clone())
                    }));
                    // vouch enforces the judges' verdict itself, not only through their deny
                    // rules: a judge whose deny forgets a case still cannot pass anyone.
                    // (Indices past the signatures a policy was given accept nobody.)
                    if d.accepted.as_ref().is_some_and(|a| !a.iter().any(|i| *i < signatures.len())) && !signatures.is_empty() {
                        reasons.push(Reason::new(
                            Code::PolicyNoAcceptedSigner,
                            format!(
                                "no verified signature is from a signer that every configured signer policy ({}) accepts",
                                policy.signer_judges().join(", ")
                            ),
                        ));
                    }
                    if self.fail_on_warn {
                        reasons.extend(d.warn.iter().map(|f| {
                            Reason::finding(
                                Code::PolicyWarn,
                                f.code.clone().unwrap_or_else(|| format!("{}.warn", f.package)),
                                format!("warning (--fail-on-warn): {}", f.msg),
                            )
                            .with_help(f.title.clone(), f.solution.clone())
                            .from_package(&f.package, f.term.clone())
                        }));
                    }
                    decision = Some(d);
                }
                Err(e) => reasons.push(Reason::new(Code::PolicyEval, e.to_string())),
            }
        }
        // The registry's inconsistencies: warnings, like a policy's (and failing the subject
        // under --fail-on-warn the same way; vouch's own code, so never waived).
        let mut warnings = decision.as_ref().map(|d| d.warn.clone()).unwrap_or_default();
        for note in &subject.notes {
            if self.fail_on_warn {
                reasons.push(Reason::new(note.code, format!("warning (--fail-on-warn): {}", note.message)));
            }
            warnings.push(crate::policy::Finding {
                package: "vouch".into(),
                rule: crate::policy::RuleKind::Warn,
                msg: note.message.clone(),
                code: Some(note.code.to_string()),
                title: Some("The registry answered inconsistently".into()),
                solution: Some("Ask the registry's operator: its referrers API should list every referrer".into()),
                term: None,
                location: None,
            });
        }
        let verdict = if reasons.is_empty() { Verdict::Pass } else { Verdict::Fail };
        let full = self.detail != Detail::Summary;
        let package = subject.package.as_ref().map(|p| crate::report::PackageSummary {
            ecosystem: p.ecosystem.to_string(),
            name: p.name.clone(),
            version: p.version.clone(),
            file: p.file.clone(),
            registry_signature: p.registry_signature.to_string(),
            attestations: signatures.iter().filter(|s| s.kind == SignatureKind::Dsse).count(),
            invalid_attestations: p.invalid_attestations,
        });
        SubjectResult {
            waived: Vec::new(),
            summary: None,
            package,
            id: String::new(),
            kind: subject.kind.to_string(),
            sha256: (subject.algorithm == "sha256").then(|| subject.hex.clone()),
            sha384: (subject.algorithm == "sha384").then(|| subject.hex.clone()),
            sha512: (subject.algorithm == "sha512").then(|| subject.hex.clone()),
            name: subject.name,
            verdict,
            verified: !signatures.is_empty(),
            reasons,
            signers: signatures.iter().map(summary).collect(),
            warnings,
            claims: if verdict == Verdict::Fail && !full {
                signatures.iter().filter_map(|s| serde_json::to_value(&s.claims).ok()).collect()
            } else {
                Vec::new()
            },
            signatures: if full { signatures.iter().filter_map(|s| serde_json::to_value(s).ok()).collect() } else { Vec::new() },
            verification_errors: if full { failures } else { Vec::new() },
            decision: if full { decision.and_then(|d| serde_json::to_value(d).ok()) } else { None },
            input,
        }
    }
}

/// Who signed, in brief.
fn summary(s: &VerifiedSignature) -> SignerSummary {
    SignerSummary {
        kind: format!("{:?}", s.kind).to_lowercase(),
        identity: s
            .claims
            .as_ref()
            .and_then(|c| c.identity.as_ref().map(|i| i.value.clone()))
            .or_else(|| s.registry_keyid.as_ref().map(|k| format!("registry key {k}")))
            .or_else(|| s.key_fingerprint_sha256.as_ref().map(|k| format!("key sha256:{k}"))),
        issuer: s.claims.as_ref().and_then(|c| c.issuer.clone()),
        predicate_type: s.predicate_type.clone(),
        project: s
            .claims
            .as_ref()
            .and_then(|c| c.gitlab.as_ref().map(|g| g.project_path.clone()).or_else(|| c.github.as_ref().map(|g| g.repository.clone()))),
        git_ref: s.claims.as_ref().and_then(|c| c.named.source_repository_ref.clone()),
        commit: s.claims.as_ref().and_then(|c| c.named.source_repository_digest.clone()),
        run_url: s.claims.as_ref().and_then(|c| c.named.run_invocation_uri.clone()),
        signed_at: s.signed_at.clone(),
        log_index: s.tlog.iter().find_map(|t| t.log_index),
        bundle_sha256: s.bundle_sha256.clone(),
    }
}
