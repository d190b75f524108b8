//! The test Sigstore over HTTP, for keyless signing tests: Fulcio's
//! `POST /api/v2/signingCert` and Rekor v1's `POST /api/v1/log/entries` (dsse and
//! hashedrekord), on loopback, issuing and logging under the [`VirtualSigstore`] whose
//! trusted root the verifier is given. The OIDC token is read, not verified (this is a
//! test CA): its claims become the certificate's identity. The proof of possession and
//! the DSSE signature are checked, as Fulcio and Rekor check them.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::{CertIdentity, GitLab, VirtualSigstore};

pub struct SigningServer {
    pub url: String,
    /// Certificates issued and entries logged.
    pub issued: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

/// An unsigned JWT with these claims (`exp` an hour from now unless given), as CI hands
/// a job its `id_tokens`.
pub fn oidc_token(mut claims: Value) -> String {
    if claims.get("exp").is_none() {
        claims["exp"] = json!(jiff::Timestamp::now().as_second() + 3600);
    }
    if claims.get("iat").is_none() {
        claims["iat"] = json!(jiff::Timestamp::now().as_second());
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    format!("{header}.{}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()), URL_SAFE_NO_PAD.encode(b"not-verified"))
}

/// A GitLab CI job's token claims for `gl` (aud sigstore).
pub fn gitlab_claims(gl: &GitLab) -> Value {
    let (ref_type, ref_name) = match gl.git_ref.strip_prefix("refs/heads/") {
        Some(b) => ("branch", b.to_string()),
        None => ("tag", gl.git_ref.trim_start_matches("refs/tags/").to_string()),
    };
    json!({
        "iss": gl.instance, "aud": "sigstore",
        "sub": format!("project_path:{}:ref_type:{ref_type}:ref:{ref_name}", gl.project),
        "project_path": gl.project, "ref": ref_name, "ref_type": ref_type,
        "ci_config_ref_uri": format!("{}/{}//{}@{}", gl.instance.trim_start_matches("https://"), gl.project, gl.ci_config_path, gl.git_ref),
    })
}

/// The identity Fulcio would put in the certificate for these claims.
fn identity_of(claims: &Value) -> Option<CertIdentity> {
    let iss = claims["iss"].as_str()?;
    if let Some(project) = claims["project_path"].as_str() {
        let uri = claims["ci_config_ref_uri"].as_str()?;
        let (path, git_ref) = uri.split_once("//").and_then(|(_, rest)| rest.rsplit_once('@'))?;
        return Some(
            GitLab {
                instance: iss.to_string(),
                project: project.to_string(),
                ci_config_path: path.to_string(),
                git_ref: git_ref.to_string(),
                ..GitLab::default()
            }
            .identity(),
        );
    }
    claims["email"].as_str().map(|e| CertIdentity::email(e, iss))
}

/// Who the token says it is, as the proof of possession signs it (email, else subject).
fn token_identity(claims: &Value) -> Option<&str> {
    claims["email"].as_str().or_else(|| claims["sub"].as_str())
}

fn verify_p256(spki_der: &[u8], data: &[u8], sig: &[u8]) -> bool {
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    // The SPKI's last 65 bytes are the uncompressed point.
    let Some(point) = spki_der.get(spki_der.len().saturating_sub(65)..) else { return false };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).verify(data, sig).is_ok()
}

fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body.trim()).ok()
}

/// The public key of a certificate (PEM), as SPKI DER.
fn cert_spki(pem: &str) -> Option<Vec<u8>> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(&pem_body(pem)?).ok()?;
    cert.tbs_certificate.subject_public_key_info.to_der().ok()
}

type Reply = (&'static str, Value);

fn signing_cert(sigstore: &VirtualSigstore, request: &Value) -> Reply {
    let bad = |m: &str| ("400 Bad Request", json!({"message": m}));
    let Some(token) = request.pointer("/credentials/oidcIdentityToken").and_then(Value::as_str) else { return bad("no token") };
    let Some(claims) =
        token.split('.').nth(1).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return bad("the token does not parse");
    };
    if claims["exp"].as_i64().is_some_and(|exp| exp < jiff::Timestamp::now().as_second()) {
        return ("401 Unauthorized", json!({"message": "the token expired"}));
    }
    let (Some(identity), Some(who)) = (identity_of(&claims), token_identity(&claims)) else { return bad("no identity in the token") };
    let Some(spki) = request.pointer("/publicKeyRequest/publicKey/content").and_then(Value::as_str).and_then(pem_body) else {
        return bad("no public key");
    };
    let pop = request.pointer("/publicKeyRequest/proofOfPossession").and_then(Value::as_str).and_then(|s| STANDARD.decode(s).ok());
    if !pop.is_some_and(|sig| verify_p256(&spki, who.as_bytes(), &sig)) {
        return bad("the proof of possession does not verify");
    }
    match sigstore.issue(&spki, &identity) {
        Ok(chain) => ("201 Created", json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}})),
        Err(e) => ("500 Internal Server Error", json!({"message": e.to_string()})),
    }
}

fn log_entry(sigstore: &mut VirtualSigstore, request: &Value) -> Reply {
    let bad = |m: &str| ("400 Bad Request", json!({"message": m}));
    let body = match request["kind"].as_str() {
        Some("dsse") => {
            let Some(content) = request.pointer("/spec/proposedContent") else { return bad("no proposedContent") };
            let (Some(envelope), Some(verifier)) = (content["envelope"].as_str(), content.pointer("/verifiers/0").and_then(Value::as_str))
            else {
                return bad("no envelope or verifier");
            };
            let Ok(envelope) = serde_json::from_str::<Value>(envelope) else { return bad("the envelope is not JSON") };
            let (Some(payload_b64), Some(payload_type), Some(sig_b64)) = (
                envelope["payload"].as_str(),
                envelope["payloadType"].as_str(),
                envelope.pointer("/signatures/0/sig").and_then(Value::as_str),
            ) else {
                return bad("an incomplete envelope");
            };
            let (Ok(payload), Ok(sig)) = (STANDARD.decode(payload_b64), STANDARD.decode(sig_b64)) else { return bad("not base64") };
            let cert_pem = STANDARD.decode(verifier).ok().and_then(|p| String::from_utf8(p).ok()).unwrap_or_default();
            let Some(spki) = cert_spki(&cert_pem) else { return bad("the verifier is not a certificate") };
            if !verify_p256(&spki, &sigstore_types::pae(payload_type, &payload), &sig) {
                return bad("the DSSE signature does not verify");
            }
            // The entry as the testkit mints it (and as verifiers recompute it): the
            // certificate as PEM in 64-column lines, as Rekor stores it.
            let Some(der) = pem_body(&cert_pem) else { return bad("the verifier is not PEM") };
            let verifier = STANDARD.encode(crate::x509::pem(&der));
            let canonical = json!({"payload": payload_b64, "payloadType": payload_type, "signatures": [{"keyid": "", "sig": sig_b64}]});
            let envelope_hash =
                hex::encode(sigstore_verify::crypto::sha256(&serde_json::to_vec(&canonical).unwrap_or_default()).as_bytes());
            json!({
                "apiVersion": "0.0.1", "kind": "dsse",
                "spec": {
                    "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
                    "payloadHash": {"algorithm": "sha256", "value": hex::encode(sigstore_verify::crypto::sha256(&payload).as_bytes())},
                    "signatures": [{"signature": sig_b64, "verifier": verifier.as_str()}]
                }
            })
        }
        Some("hashedrekord") => request.clone(),
        _ => return bad("kind must be dsse or hashedrekord"),
    };
    match sigstore.log_entry(&serde_json::to_vec(&body).unwrap_or_default()) {
        Ok(entry) => ("201 Created", entry),
        Err(e) => ("500 Internal Server Error", json!({"message": e.to_string()})),
    }
}

impl SigningServer {
    /// Serve `sigstore`'s Fulcio and Rekor on one loopback port until dropped.
    pub fn start(sigstore: VirtualSigstore) -> Self {
        let sigstore = Arc::new(Mutex::new(sigstore));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = issued.clone();
        let host = crate::harness::serve(stop.clone(), move |mut conn| {
            let head = crate::harness::read_head(&mut conn);
            let path = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/").to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length.min(1 << 20)];
            let _ = conn.read_exact(&mut body);
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, reply) = {
                let mut s = sigstore.lock().unwrap();
                match path.as_str() {
                    "/api/v2/signingCert" => signing_cert(&s, &request),
                    "/api/v1/log/entries" => log_entry(&mut s, &request),
                    _ => ("404 Not Found", json!({"message": "not found"})),
                }
            };
            seen.lock().unwrap().push(format!("{path} {status}"));
            let text = reply.to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        });
        SigningServer { url: format!("http://{host}"), issued, stop }
    }
}

impl Drop for SigningServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
