//! X.509 certificates built field by field with x509-cert types and signed with aws-lc
//! (through sigstore-crypto's crate::key::Key), the way Fulcio lays them out.

use std::str::FromStr;
use std::time::Duration;

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, OctetString, UtcTime, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::identity::{CertIdentity, ExtValue, San};

pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const FULCIO_OTHERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
pub const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

pub type Result<T> = std::result::Result<T, String>;

fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

/// A key and its certificate.
pub struct Issued {
    pub key: crate::key::Key,
    pub der: Vec<u8>,
}

impl Issued {
    pub fn spki_der(&self) -> Result<Vec<u8>> {
        spki_der(&self.key)
    }

    pub fn subject(&self) -> Result<Name> {
        Ok(Certificate::from_der(&self.der).map_err(e)?.tbs_certificate.subject)
    }

    pub fn pem(&self) -> String {
        pem(&self.der)
    }
}

pub fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A public key (SPKI DER) as PEM.
pub fn public_key_pem(spki: &[u8]) -> String {
    pem(spki).replace("CERTIFICATE", "PUBLIC KEY")
}

pub fn spki_der(key: &crate::key::Key) -> Result<Vec<u8>> {
    Ok(key.spki().to_vec())
}

fn signature_algorithm(key: &crate::key::Key) -> ObjectIdentifier {
    if key.is_p384() {
        ECDSA_SHA384
    } else {
        ECDSA_SHA256
    }
}

fn time(t: jiff::Timestamp) -> Result<Time> {
    let secs = u64::try_from(t.as_second()).map_err(e)?;
    Ok(Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(secs)).map_err(e)?))
}

fn ext(oid: ObjectIdentifier, critical: bool, value: &impl Encode) -> Result<Extension> {
    Ok(Extension { extn_id: oid, critical, extn_value: OctetString::new(value.to_der().map_err(e)?).map_err(e)? })
}

fn raw_ext(oid: ObjectIdentifier, value: Vec<u8>) -> Result<Extension> {
    Ok(Extension { extn_id: oid, critical: false, extn_value: OctetString::new(value).map_err(e)? })
}

fn key_id(spki: &[u8]) -> Result<OctetString> {
    // RFC 5280 method 1 uses the key bits; any stable digest of the key serves.
    OctetString::new(&sigstore_verify::crypto::sha256(spki).as_bytes()[..20]).map_err(e)
}

pub struct TbsParams<'a> {
    pub serial: Vec<u8>,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
    pub subject_spki: &'a [u8],
    pub extensions: Vec<Extension>,
    pub issuer_key: &'a crate::key::Key,
}

pub fn tbs(p: TbsParams<'_>) -> Result<TbsCertificate> {
    // A positive INTEGER: clear the top bit.
    let mut serial = p.serial;
    if let Some(first) = serial.first_mut() {
        *first &= 0x7f;
        if *first == 0 {
            *first = 1;
        }
    }
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).map_err(e)?,
        signature: AlgorithmIdentifierOwned { oid: signature_algorithm(p.issuer_key), parameters: None },
        issuer: p.issuer,
        validity: Validity { not_before: time(p.not_before)?, not_after: time(p.not_after)? },
        subject: p.subject,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(p.subject_spki).map_err(e)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(p.extensions),
    })
}

pub fn sign_tbs(tbs: TbsCertificate, issuer_key: &crate::key::Key) -> Result<Vec<u8>> {
    let tbs_der = tbs.to_der().map_err(e)?;
    let sig = issuer_key.sign(&tbs_der)?;
    let cert = Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(&sig).map_err(e)?,
    };
    cert.to_der().map_err(e)
}

/// A CA certificate (root when `issuer` is None).
pub fn ca(
    name: &str,
    key: crate::key::Key,
    issuer: Option<&Issued>,
    not_before: jiff::Timestamp,
    not_after: jiff::Timestamp,
    path_len: Option<u8>,
) -> Result<Issued> {
    let subject = Name::from_str(name).map_err(e)?;
    let spki = spki_der(&key)?;
    let (issuer_name, issuer_key, issuer_spki) = match issuer {
        Some(i) => (i.subject()?, &i.key, i.spki_der()?),
        None => (subject.clone(), &key, spki.clone()),
    };
    let mut extensions = vec![
        ext(const_oid::db::rfc5280::ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
        ext(const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS, true, &BasicConstraints { ca: true, path_len_constraint: path_len })?,
        ext(const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER, false, &SubjectKeyIdentifier(key_id(&spki)?))?,
    ];
    if issuer.is_some() {
        extensions.push(ext(const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE, false, &ExtendedKeyUsage(vec![CODE_SIGNING]))?);
        extensions.push(ext(
            const_oid::db::rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_id(&issuer_spki)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?);
    }
    let serial = sigstore_verify::crypto::sha256(&spki).as_bytes()[..16].to_vec();
    let tbs = tbs(TbsParams { serial, issuer: issuer_name, subject, not_before, not_after, subject_spki: &spki, extensions, issuer_key })?;
    let der = sign_tbs(tbs, issuer_key)?;
    Ok(Issued { key, der })
}

/// The leaf's extensions before the SCT: key usage, EKU, SKI, AKI, SAN, Fulcio claims.
pub fn leaf_extensions(identity: &CertIdentity, leaf_spki: &[u8], issuer_spki: &[u8]) -> Result<Vec<Extension>> {
    let san = match &identity.san {
        San::Uri(v) => GeneralName::UniformResourceIdentifier(der::asn1::Ia5String::new(v).map_err(e)?),
        San::Email(v) => GeneralName::Rfc822Name(der::asn1::Ia5String::new(v).map_err(e)?),
        San::OtherName(v) => GeneralName::OtherName(OtherName {
            type_id: FULCIO_OTHERNAME,
            value: der::Any::encode_from(&Utf8StringRef::new(v).map_err(e)?).map_err(e)?,
        }),
    };
    let mut extensions = vec![
        ext(const_oid::db::rfc5280::ID_CE_KEY_USAGE, true, &KeyUsage(KeyUsages::DigitalSignature.into()))?,
        ext(const_oid::db::rfc5280::ID_CE_EXT_KEY_USAGE, false, &ExtendedKeyUsage(vec![CODE_SIGNING]))?,
        ext(const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER, false, &SubjectKeyIdentifier(key_id(leaf_spki)?))?,
        ext(
            const_oid::db::rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_id(issuer_spki)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?,
        // The subject is empty, so the SAN is critical (RFC 5280 4.2.1.6), as in Fulcio.
        ext(const_oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME, true, &SubjectAltName(vec![san]))?,
    ];
    for (arc, value) in &identity.extensions {
        let oid = ObjectIdentifier::from_str(&format!("1.3.6.1.4.1.57264.1.{arc}")).map_err(e)?;
        let bytes = match value {
            ExtValue::Der(s) => Utf8StringRef::new(s).map_err(e)?.to_der().map_err(e)?,
            ExtValue::Raw(s) => s.as_bytes().to_vec(),
            ExtValue::Bytes(b) => b.clone(),
        };
        extensions.push(raw_ext(oid, bytes)?);
    }
    Ok(extensions)
}

pub fn sct_extension(sct_list_der: Vec<u8>) -> Result<Extension> {
    // The value is the DER of an OCTET STRING holding the TLS-encoded list.
    Ok(Extension { extn_id: SCT_LIST, critical: false, extn_value: OctetString::new(sct_list_der).map_err(e)? })
}
