//! Rendering: machine output on stdout, diagnostics on stderr.

use std::process::ExitCode;

use miette::{MietteDiagnostic, Report};
use vouch_engine::subject::Artifact;
use vouch_engine::verify::VerifiedSignature;
use vouch_engine::{Error, ErrorKind};

use crate::OutputFormat;

pub fn exit_code(error: &Error) -> ExitCode {
    match error.kind() {
        ErrorKind::Rejected => ExitCode::from(1),
        ErrorKind::Usage => ExitCode::from(2),
        ErrorKind::Infrastructure => ExitCode::from(3),
    }
}

/// Diagnostics wrap to the terminal's width on a terminal; in CI logs and pipes a
/// message stays on one line so it can be searched.
pub fn install_hook() {
    use std::io::IsTerminal;
    let wrap = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(wrap).build())
    }));
}

pub fn diagnostic(error: &Error) {
    let diagnostic = MietteDiagnostic::new(error.to_string())
        .with_code(error.code())
        .with_help(error.hint());
    eprintln!("{:?}", Report::new(diagnostic));
}

pub fn verified(format: OutputFormat, artifact: &Artifact, signature: &VerifiedSignature) {
    match format {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "verified": true,
                "subject": subject_json(artifact),
                "signature": signature,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Text => {
            let who = signature
                .claims
                .as_ref()
                .and_then(|c| c.identity.as_ref().map(|i| format!("{} (issuer {})", i.value, c.issuer.as_deref().unwrap_or("none"))))
                .or_else(|| signature.key_fingerprint_sha256.as_ref().map(|k| format!("key sha256:{k}")))
                .unwrap_or_default();
            eprintln!("Verified OK: {} signed by {who}", artifact.name());
        }
    }
}

pub fn rejected(format: OutputFormat, input: &str, error: &Error) -> ExitCode {
    if let OutputFormat::Json = format {
        let doc = serde_json::json!({
            "verified": false,
            "subject": {"name": input},
            "error": {"code": error.code(), "message": error.to_string()},
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    diagnostic(error);
    exit_code(error)
}

pub fn claims(signature: &VerifiedSignature) {
    let doc = match &signature.claims {
        Some(claims) => serde_json::to_value(claims),
        None => serde_json::to_value(signature),
    };
    println!("{}", serde_json::to_string_pretty(&doc.unwrap_or_default()).unwrap_or_default());
}

fn subject_json(artifact: &Artifact) -> serde_json::Value {
    let kind = if artifact.path().is_some() { "blob" } else { "digest" };
    serde_json::json!({
        "kind": kind,
        "name": artifact.name(),
        "digest": {"sha256": artifact.sha256().to_hex()},
    })
}
