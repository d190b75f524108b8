//! ECDSA keys for the test instance (aws-lc): P-384 for CAs, P-256 for leaves and logs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
};

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

    pub fn is_p384(&self) -> bool {
        self.p384
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// An ASN.1 DER ECDSA signature over `data` (SHA-256 for P-256, SHA-384 for P-384).
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>> {
        let sig = self.pair.sign(&SystemRandom::new(), data).map_err(|e| e.to_string())?;
        Ok(sig.as_ref().to_vec())
    }
}
