//! Checks the Sigstore specs ask for that sigstore-verify 0.15 leaves to its callers.
//! Each one binds a value that vouch reports (or hands to a policy) to something signed,
//! or rejects a bundle whose fields contradict each other.

use sigstore_types::{Bundle, KindVersion, Sha256Hash, TransparencyLogEntry};
use sigstore_verify::crypto::{Checkpoint, Keyring};

use crate::error::{Error, Result, Stage};

/// RFC 3161 tokens may embed certificates, outside what the token's signature covers;
/// verification uses the trusted root's TSA chain instead. An embedded certificate that
/// is not one of the trusted root's TSA certificates contradicts the trust root (or was
/// altered): reject it rather than carry it.
pub(crate) fn check_timestamp_certificates(bundle: &Bundle, trusted_tsa_certs: &[Vec<u8>]) -> Result<()> {
    use cms::signed_data::SignedData;
    use der::Encode;
    for (i, stamp) in bundle.verification_material.timestamp_verification_data.rfc3161_timestamps.iter().enumerate() {
        let bad = |m: String| Error::verify(Stage::Timestamp, format!("RFC 3161 timestamp {i}: {m}"));
        let info = token_content_info(stamp.signed_timestamp.as_bytes()).map_err(|e| bad(format!("not an RFC 3161 timestamp: {e}")))?;
        let signed: SignedData = info.content.decode_as().map_err(|e| bad(format!("not CMS SignedData: {e}")))?;
        for cert in signed.certificates.iter().flat_map(|set| set.0.iter()) {
            let der = cert.to_der().map_err(|e| bad(e.to_string()))?;
            if !trusted_tsa_certs.iter().any(|t| t == &der) {
                return Err(bad("it embeds a certificate that is not a timestamp authority certificate of the trusted root".into()));
            }
        }
    }
    Ok(())
}

/// The Sigstore bundle format's client policy: a bundle's certificate chain holds the
/// leaf and intermediates, never a root — the trust anchor comes from the trusted root
/// alone. A chain that carries a self-issued certificate or a trust anchor gains no trust,
/// but a conformant verifier rejects it, and so does vouch.
///
/// One exception, for real bundles in the wild: npm's v0.1 provenance bundles of 2023
/// carry the leaf followed by exactly the trusted root's own chain for that CA,
/// intermediate then root, in order (sigstore-js and sigstore-python accept them). A v0.1
/// chain that repeats a trusted CA's chain byte for byte is accepted; any other chain
/// with a root — another version, another order, a partial copy, a foreign self-signed
/// certificate — is rejected.
pub(crate) fn check_chain_has_no_root(bundle: &Bundle, trusted_chains: &[Vec<Vec<u8>>]) -> Result<()> {
    use der::Decode;
    let sigstore_types::VerificationMaterialContent::X509CertificateChain { certificates } = &bundle.verification_material.content else {
        return Ok(());
    };
    let ders: Vec<&[u8]> = certificates.iter().map(|c| c.raw_bytes.as_bytes()).collect();
    let is_v01 = bundle.media_type == sigstore_types::MediaType::Bundle0_1;
    let repeats_trusted_chain = |rest: &[&[u8]]| {
        trusted_chains.iter().any(|chain| chain.len() == rest.len() && chain.iter().zip(rest).all(|(a, b)| a.as_slice() == *b))
    };
    let anchors: Vec<&[u8]> = trusted_chains.iter().filter_map(|c| c.last().map(Vec::as_slice)).collect();
    for (i, der_bytes) in ders.iter().enumerate() {
        let parsed = x509_cert::Certificate::from_der(der_bytes)
            .map_err(|e| Error::verify(Stage::Bundle, format!("certificate {i} of the bundle's chain is not DER X.509: {e}")))?;
        let why = if anchors.contains(der_bytes) {
            "is a trust anchor of the trusted root"
        } else if parsed.tbs_certificate.issuer == parsed.tbs_certificate.subject {
            "is self-issued (its issuer is its subject)"
        } else {
            continue;
        };
        if is_v01 && i > 0 && repeats_trusted_chain(ders.get(1..).unwrap_or_default()) {
            return Ok(());
        }
        return Err(Error::verify(
            Stage::Certificate,
            format!("certificate {i} of the bundle's chain {why}; a bundle's chain must not include a root (the trusted root supplies it)"),
        ));
    }
    Ok(())
}

/// The token's ContentInfo, from a TimeStampResp (`SEQUENCE { PKIStatusInfo, token }`,
/// what bundles carry) or a bare token.
fn token_content_info(der_bytes: &[u8]) -> std::result::Result<cms::content_info::ContentInfo, der::Error> {
    use der::{Decode, Reader};
    if let Ok(info) = cms::content_info::ContentInfo::from_der(der_bytes) {
        return Ok(info);
    }
    let outer = der::asn1::AnyRef::from_der(der_bytes)?;
    let mut reader = der::SliceReader::new(outer.value())?;
    let _status: der::asn1::AnyRef<'_> = reader.decode()?;
    reader.decode()
}

pub(crate) fn check_tlog_entries(bundle: &Bundle, rekor_keys: &Keyring) -> Result<()> {
    // A Rekor v2 entry has no integrated time and no signed promise: the signing time
    // (which the certificate's validity is checked at) must come from a trusted TSA, as
    // cosign 3.0.5 requires. Without one, nothing vouches for when the signature was made.
    let v2 = bundle.verification_material.tlog_entries.iter().any(is_rekor_v2);
    if v2 && bundle.verification_material.timestamp_verification_data.rfc3161_timestamps.is_empty() {
        return Err(Error::verify(
            Stage::Timestamp,
            "the bundle's Rekor v2 entry carries no signing time and the bundle has no RFC 3161 timestamp: a Rekor v2 entry alone is not accepted, it needs a signed timestamp from a trusted TSA",
        ));
    }
    for (i, entry) in bundle.verification_material.tlog_entries.iter().enumerate() {
        check_entry(entry, rekor_keys).map_err(|e| match e {
            Error::Verification(mut f) => {
                f.message = format!("tlog entry {i}: {}", f.message);
                Error::Verification(f)
            }
            other => other,
        })?;
    }
    Ok(())
}

fn is_rekor_v2(entry: &TransparencyLogEntry) -> bool {
    entry.kind_version == KindVersion::HashedRekordV002
}

fn check_entry(entry: &TransparencyLogEntry, rekor_keys: &Keyring) -> Result<()> {
    // The declared kind/version selects how the body is checked against the bundle;
    // it must be the kind/version the (logged, hashed) body itself says it is.
    check_body_kind(entry)?;

    let Some(proof) = &entry.inclusion_proof else {
        return Ok(());
    };
    let checkpoint = Checkpoint::from_text(proof.checkpoint.envelope())
        .map_err(|e| Error::verify(Stage::Tlog, format!("unparseable checkpoint: {e}")))?;

    if is_rekor_v2(entry) {
        // Rekor v2 proves inclusion with the entry's index and the signed checkpoint; the
        // proof repeats index, size and root, and a copy that disagrees is a contradiction.
        if proof.log_index != entry.log_index || proof.tree_size != checkpoint.tree_size() || proof.root_hash != *checkpoint.root_hash() {
            return Err(Error::BundleInconsistent(format!(
                "the inclusion proof (index {}, size {}) disagrees with the entry (index {}) or the signed checkpoint (size {})",
                proof.log_index,
                proof.tree_size,
                entry.log_index,
                checkpoint.tree_size()
            )));
        }
    }
    if !is_rekor_v2(entry) {
        // Rekor v1 repeats the tree size and root outside the signed checkpoint; the
        // library proves inclusion with the proof's copies, so they must agree with
        // the signed checkpoint. (The proof's log index is shard-local and differs
        // from the entry's global index, which only the SET covers.)
        if proof.tree_size != checkpoint.tree_size() {
            return Err(Error::BundleInconsistent(format!(
                "inclusion proof tree size {} differs from the signed checkpoint's {}",
                proof.tree_size,
                checkpoint.tree_size()
            )));
        }
    }

    // The checkpoint must be signed by the log the entry names: the library accepts a
    // checkpoint signed by any trusted log, which leaves the reported log ID unbound.
    let log_id = Sha256Hash::try_from(entry.log_id.key_id.as_bytes())
        .map_err(|e| Error::verify(Stage::Tlog, format!("log ID is not a SHA-256 key ID: {e}")))?;
    let Some(key) = rekor_keys.key(&log_id) else {
        return Err(Error::verify(Stage::Tlog, format!("log {} is not in the trusted root", log_id.to_hex())));
    };
    if checkpoint_bound_by_library(&checkpoint, &log_id, rekor_keys) {
        return Ok(());
    }
    let hint = &log_id.as_bytes()[..4];
    let signed_by_log = checkpoint
        .signatures()
        .iter()
        .filter(|sig| sig.key_id.as_bytes() == hint)
        .any(|sig| key.verify(checkpoint.signed_data(), &sig.signature).is_ok());
    if !signed_by_log {
        return Err(Error::verify(Stage::Tlog, format!("the checkpoint is not signed by log {} that the entry names", log_id.to_hex())));
    }
    Ok(())
}

/// The common case without a second signature verification. sigstore-verify (pinned
/// exactly) accepts a checkpoint only if one of its signatures verifies under a trusted
/// log key whose ID starts with the signature's 4-byte hint. When the only signature
/// whose hint names any trusted log names this entry's log, and no other trusted log
/// shares that hint, the library's acceptance can only come from this log's key.
/// Otherwise we verify the signature ourselves.
fn checkpoint_bound_by_library(checkpoint: &Checkpoint, log_id: &Sha256Hash, rekor_keys: &Keyring) -> bool {
    let hint = &log_id.as_bytes()[..4];
    let now = jiff::Timestamp::now();
    let names_trusted_log = |h: &[u8]| {
        let Ok(h) = <[u8; 4]>::try_from(h) else {
            return false;
        };
        rekor_keys.keys_by_hint(&sigstore_types::KeyHint::new(h), now).next().is_some()
    };
    let candidates: Vec<_> = checkpoint.signatures().iter().filter(|sig| names_trusted_log(sig.key_id.as_bytes())).collect();
    let hint_unique = {
        let Ok(h) = <[u8; 4]>::try_from(hint) else {
            return false;
        };
        rekor_keys.keys_by_hint(&sigstore_types::KeyHint::new(h), now).count() == 1
    };
    hint_unique && candidates.len() == 1 && candidates.first().is_some_and(|c| c.key_id.as_bytes() == hint)
}

fn check_body_kind(entry: &TransparencyLogEntry) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct BodyKind {
        kind: Option<String>,
        #[serde(rename = "apiVersion")]
        api_version: Option<String>,
    }
    let body: BodyKind = serde_json::from_slice(entry.canonicalized_body.as_bytes())
        .map_err(|e| Error::verify(Stage::Tlog, format!("log entry body is not JSON: {e}")))?;
    let expected = (entry.kind_version.kind(), entry.kind_version.version());
    match (body.kind.as_deref(), body.api_version.as_deref()) {
        (Some(kind), Some(version)) if (kind, version) == expected => Ok(()),
        (kind, version) => Err(Error::BundleInconsistent(format!(
            "entry declares {}/{} but its logged body is {}/{}",
            expected.0,
            expected.1,
            kind.unwrap_or("?"),
            version.unwrap_or("?")
        ))),
    }
}
