//! Signing summaries: with a key (a DSSE envelope in a Sigstore bundle whose material is
//! the key's hint, no log entry), or keyless with the job's OIDC token through
//! sigstore-sign (a Fulcio certificate, a Rekor entry).

use std::path::Path;

use base64::Engine as _;

use super::{file_name, statement, subject_digest, usage, SummariesOut, PAYLOAD_TYPE};
use crate::error::{Code, Error, Result};
use crate::plan::Plan;
use crate::report::{Report, Verdict};

/// Who signs the summaries a run writes.
pub enum SummarySigner {
    Key { key: sigstore_verify::crypto::KeyPair, hint: String },
    Keyless { token: String, fulcio: String, rekor: String },
}

impl std::fmt::Debug for SummarySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SummarySigner::Key { hint, .. } => write!(f, "key {hint}"),
            // Never the token.
            SummarySigner::Keyless { fulcio, rekor, .. } => write!(f, "keyless via {fulcio} and {rekor}"),
        }
    }
}

/// https, or http on loopback only (a test Sigstore).
fn service_url(what: &str, url: &str) -> Result<String> {
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|p| url.starts_with(p));
    if !(url.starts_with("https://") || loopback) || url.contains(['@', ' ', '%']) {
        return Err(usage(format!("{what} {url:?}: give an https:// URL (http:// only on loopback)")));
    }
    Ok(url.trim_end_matches('/').to_string())
}

impl SummarySigner {
    /// A PKCS#8 ECDSA P-256 private key (`-----BEGIN PRIVATE KEY-----`, what
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes).
    pub fn key(path: &Path) -> Result<Self> {
        let bad = |reason: &str| usage(format!("--vsa-key {}: {reason}", path.display()));
        let pem = crate::trust::read_limited(path, "signing key", 64 << 10)?;
        let pem = String::from_utf8(pem).map_err(|_| bad("not a PEM file"))?;
        let body: String = pem
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        if pem.contains("-----BEGIN PUBLIC KEY-----") {
            return Err(bad("this is a public key: --vsa-key signs with the private key (--vsa-signer key:FILE takes the public one)"));
        }
        if body.is_empty() {
            return Err(bad(
                "no -----BEGIN PRIVATE KEY----- block (a PKCS#8 ECDSA P-256 key; an -----BEGIN EC PRIVATE KEY----- converts with openssl pkcs8 -topk8 -nocrypt)",
            ));
        }
        let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).map_err(|_| bad("the PEM body is not base64"))?;
        let key =
            sigstore_verify::crypto::KeyPair::from_pkcs8_der(&der).map_err(|e| bad(&format!("not an ECDSA P-256 PKCS#8 key: {e}")))?;
        let spki = key.public_key_der().map_err(|e| bad(&e.to_string()))?;
        Ok(SummarySigner::Key { hint: super::key_hint(spki.as_bytes()), key })
    }

    /// The job's OIDC token (a file, or SIGSTORE_ID_TOKEN, as cosign reads it).
    pub fn keyless(token_file: Option<&Path>, fulcio: &str, rekor: &str) -> Result<Self> {
        let token = match token_file {
            Some(path) => String::from_utf8(crate::trust::read_limited(path, "identity token", 64 << 10)?)
                .map_err(|_| usage(format!("--vsa-identity-token {}: not text", path.display())))?,
            None => std::env::var("SIGSTORE_ID_TOKEN").map_err(|_| {
                usage("--vsa-keyless needs the job's OIDC token: SIGSTORE_ID_TOKEN (GitLab: id_tokens with aud: sigstore) or --vsa-identity-token FILE")
            })?,
        };
        let token = token.trim().to_string();
        let parsed =
            sigstore_sign::oidc::IdentityToken::from_jwt(&token).map_err(|e| usage(format!("the OIDC token does not parse: {e}")))?;
        if parsed.is_expired() {
            return Err(usage(format!("the OIDC token expired at {}: sign in the job that was given it", parsed.expiration())));
        }
        Ok(SummarySigner::Keyless {
            token,
            fulcio: service_url("--vsa-fulcio-url", fulcio)?,
            rekor: service_url("--vsa-rekor-url", rekor)?,
        })
    }

    /// A key-signed bundle: the DSSE envelope and the key's hint.
    fn sign_with_key(key: &sigstore_verify::crypto::KeyPair, hint: &str, payload: &[u8]) -> Result<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let pae = sigstore_types::pae(PAYLOAD_TYPE, payload);
        let sig = key.sign(&pae).map_err(|e| Error::usage(Code::VsaSign, format!("signing failed: {e}")))?;
        let bundle = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
            "dsseEnvelope": {"payload": b64.encode(payload), "payloadType": PAYLOAD_TYPE, "signatures": [{"sig": b64.encode(sig.as_bytes()), "keyid": ""}]},
        });
        Ok(serde_json::to_string_pretty(&bundle).unwrap_or_default() + "\n")
    }
}

/// Write a summary for every subject this run judged (not the ones it passed by a
/// summary: re-signing those would extend a summary's life without a verification).
/// Returns how many were written.
pub fn write_all(plan: &Plan, report: &Report, out: &SummariesOut) -> Result<usize> {
    let now = jiff::Timestamp::now();
    let by_id: std::collections::HashMap<&str, &crate::plan::SubjectPlan> = plan.subjects.iter().map(|s| (s.id(), s)).collect();
    let mut jobs: Vec<(std::path::PathBuf, Vec<u8>)> = Vec::new();
    for s in &report.subjects {
        if s.verdict == Verdict::Error || s.summary.as_ref().is_some_and(|u| u.used) {
            continue;
        }
        let (Some(digest), Some(subject)) = (subject_digest(s), by_id.get(s.id.as_str())) else { continue };
        let statement = statement(report, plan, subject, s, &digest, now);
        let payload = serde_json::to_vec(&statement).map_err(|e| Error::Runtime(e.to_string()))?;
        jobs.push((out.dir.join(file_name(&digest, &s.id)), payload));
    }
    let written: Vec<(std::path::PathBuf, String)> = match &out.signer {
        SummarySigner::Key { key, hint } => {
            use rayon::prelude::*;
            jobs.par_iter()
                .map(|(path, payload)| Ok((path.clone(), SummarySigner::sign_with_key(key, hint, payload)?)))
                .collect::<Result<_>>()?
        }
        SummarySigner::Keyless { token, fulcio, rekor } => keyless(&jobs, token, fulcio, rekor)?,
    };
    for (i, (path, text)) in written.iter().enumerate() {
        // Whole files only: a reader never sees half a summary. The temporary file is
        // new (never a file or link someone planted in the folder); the rename replaces
        // a planted link itself, not what it points to.
        use std::io::Write as _;
        let tmp = path.with_extension(format!("{}-{i}.tmp", std::process::id()));
        let io = |source| Error::Io { path: tmp.clone(), what: "verification summary", source };
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|source| Error::Io { path: path.clone(), what: "verification summary", source })?;
    }
    Ok(written.len())
}

/// Keyless: each statement through Fulcio and Rekor, 16 at a time.
fn keyless(jobs: &[(std::path::PathBuf, Vec<u8>)], token: &str, fulcio: &str, rekor: &str) -> Result<Vec<(std::path::PathBuf, String)>> {
    use futures_util::StreamExt as _;
    let token = sigstore_sign::oidc::IdentityToken::from_jwt(token).map_err(|e| usage(format!("the OIDC token does not parse: {e}")))?;
    let context = sigstore_sign::SigningContext::new(sigstore_sign::SigningServices::new(fulcio, rekor));
    let signer = context.signer(token);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| Error::Runtime(e.to_string()))?;
    runtime.block_on(async {
        let results: Vec<Result<(std::path::PathBuf, String)>> = futures_util::stream::iter(jobs)
            .map(|(path, payload)| {
                let signer = &signer;
                async move {
                    let bundle = signer
                        .sign_raw_statement(payload)
                        .await
                        .map_err(|e| Error::usage(Code::VsaSign, format!("keyless signing via {fulcio} and {rekor} failed: {e}")))?;
                    let text = bundle.to_json_pretty().map_err(|e| Error::Runtime(e.to_string()))?;
                    Ok((path.clone(), text + "\n"))
                }
            })
            .buffered(16)
            .collect()
            .await;
        results.into_iter().collect()
    })
}
