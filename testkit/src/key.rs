//! ECDSA keys for the test instance (aws-lc): P-384 for CAs, P-256 for leaves and logs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};

use crate::x509::Result;

pub struct Key {
    pair: EcdsaKeyPair,
    p384: bool,
    spki: Vec<u8>,
}

impl Key {
    pub fn p256() -> Result<Self> {
        Self::generate(false)
    }

    pub fn p384() -> Result<Self> {
        Self::generate(true)
    }

    fn generate(p384: bool) -> Result<Self> {
        let alg = if p384 { &ECDSA_P384_SHA384_ASN1_SIGNING } else { &ECDSA_P256_SHA256_ASN1_SIGNING };
        let pair = EcdsaKeyPair::generate(alg).map_err(|e| e.to_string())?;
        let spki = pair.public_key().as_der().map_err(|e| e.to_string())?.as_ref().to_vec();
        Ok(Key { pair, p384, spki })
    }

    /// A new P-256 key as files hold it: (PKCS#8 private key PEM, public key PEM).
    pub fn p256_pem_pair() -> Result<(String, String)> {
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new()).map_err(|e| e.to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref()).map_err(|e| e.to_string())?;
        let spki = pair.public_key().as_der().map_err(|e| e.to_string())?.as_ref().to_vec();
        let pem = |label: &str, der: &[u8]| {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
            format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
        };
        Ok((pem("PRIVATE KEY", doc.as_ref()), pem("PUBLIC KEY", &spki)))
    }

    pub fn is_p384(&self) -> bool {
        self.p384
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// A JOSE (JWT) ES256/ES384 signature: r and s, fixed width, from the DER one.
    pub fn sign_jose(&self, data: &[u8]) -> Result<Vec<u8>> {
        let der = self.sign(data)?;
        let width: usize = if self.p384 { 48 } else { 32 };
        // SEQUENCE { INTEGER r, INTEGER s } with short lengths (signatures are < 128 bytes).
        let int_at = |i: usize| -> Result<(Vec<u8>, usize)> {
            if der.get(i) != Some(&0x02) {
                return Err("not a DER ECDSA signature".into());
            }
            let len = *der.get(i + 1).ok_or("short signature")? as usize;
            let bytes = der.get(i + 2..i + 2 + len).ok_or("short signature")?;
            let trimmed: Vec<u8> = bytes.iter().skip_while(|b| **b == 0).copied().collect();
            let mut out = vec![0u8; width.saturating_sub(trimmed.len())];
            out.extend_from_slice(&trimmed);
            Ok((out, i + 2 + len))
        };
        let (r, next) = int_at(2)?;
        let (s, _) = int_at(next)?;
        Ok([r, s].concat())
    }

    /// An ASN.1 DER ECDSA signature over `data` (SHA-256 for P-256, SHA-384 for P-384).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>> {
        let sig = self.pair.sign(&SystemRandom::new(), data).map_err(|e| e.to_string())?;
        Ok(sig.as_ref().to_vec())
    }
}
