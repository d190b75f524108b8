//! cosign legacy bundles from structured pieces, so the fuzzer reaches the translation
//! (base64, PEM, Rekor payload) rather than stopping at JSON syntax.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_engine::evidence;

fuzz_target!(|parts: (String, String, String, String, i64, i64, String)| {
    let (signature, cert, set, body, time, index, log_id) = parts;
    let doc = format!(
        r#"{{"base64Signature":{},"cert":{},"rekorBundle":{{"SignedEntryTimestamp":{},"Payload":{{"body":{},"integratedTime":{time},"logIndex":{index},"logID":{}}}}}}}"#,
        json(&signature), json(&cert), json(&set), json(&body), json(&log_id)
    );
    let _ = evidence::parse_bundle(doc.as_bytes());
    let _ = evidence::cosign::attestation(signature.as_bytes(), &cert, &body);
    let _ = evidence::cosign::image_signature(&signature, &cert, &body);
});

fn json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
