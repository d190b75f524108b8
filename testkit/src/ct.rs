//! A certificate-transparency log that issues embedded SCTs (RFC 6962 precertificates).

use x509_cert::ext::pkix::sct::{
    DigitallySigned, HashAlgorithm, LogId, SignatureAlgorithm, SignatureAndHashAlgorithm, SignedCertificateTimestamp, Version,
};
use x509_cert::ext::pkix::{SerializedSct, SignedCertificateTimestampList};

use crate::x509::Result;

pub struct CtLog {
    pub key: crate::key::Key,
    pub log_id: [u8; 32],
}

impl CtLog {
    pub fn new() -> Result<Self> {
        let key = crate::key::Key::p256()?;
        let spki = crate::x509::spki_der(&key)?;
        Ok(CtLog { log_id: *sigstore_verify::crypto::sha256(&spki).as_bytes(), key })
    }

    /// The DER of a SignedCertificateTimestampList holding one SCT over `precert_tbs`.
    pub fn sct_list(&self, precert_tbs: &[u8], issuer_spki: &[u8], timestamp_ms: u64) -> Result<Vec<u8>> {
        let issuer_key_hash = sigstore_verify::crypto::sha256(issuer_spki);
        // RFC 6962 3.2 digitally-signed struct for a precert entry.
        let mut signed = Vec::with_capacity(precert_tbs.len() + 64);
        signed.push(0); // sct_version v1
        signed.push(0); // signature_type certificate_timestamp
        signed.extend_from_slice(&timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        signed.extend_from_slice(issuer_key_hash.as_bytes());
        let len = u32::try_from(precert_tbs.len()).map_err(|e| e.to_string())?;
        signed.extend_from_slice(&len.to_be_bytes()[1..]); // uint24 length
        signed.extend_from_slice(precert_tbs);
        signed.extend_from_slice(&0u16.to_be_bytes()); // no extensions
        let signature = self.key.sign(&signed)?;
        let sct = SignedCertificateTimestamp {
            version: Version::V1,
            log_id: LogId { key_id: self.log_id },
            timestamp: timestamp_ms,
            extensions: Vec::new().into(),
            signature: DigitallySigned {
                algorithm: SignatureAndHashAlgorithm { hash: HashAlgorithm::Sha256, signature: SignatureAlgorithm::Ecdsa },
                signature: signature.into(),
            },
        };
        let list =
            SignedCertificateTimestampList::new(&[SerializedSct::new(sct).map_err(|e| e.to_string())?]).map_err(|e| format!("{e:?}"))?;
        der::Encode::to_der(&list).map_err(|e| e.to_string())
    }
}
