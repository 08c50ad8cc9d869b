//! How topic messages are signed, as SNS signs them, so that subscribers' usual verification
//! code works unchanged: an RSA-2048 key, a self-signed X.509 certificate for it served at
//! `SigningCertURL`, and a PKCS#1 v1.5 signature over the message's canonical "string to sign"
//! (`Key\nValue\n` for a fixed list of fields), SHA1 for `SignatureVersion` 1 and SHA256 for 2.
//!
//! The key and certificate are made once per store and kept there (both PEM, one after the
//! other), so every node of a shared store signs with the same key.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::rand_core::OsRng;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::RsaPrivateKey;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

const KEY_BITS: usize = 2048;
/// The certificate outlives any deployment; verifiers look at the key, not the dates.
const CERT_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
const CERT_SUBJECT: &str = "CN=lull SNS message signing,O=lull";
const CERT_BEGIN: &str = "-----BEGIN CERTIFICATE-----";

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("could not make the signing key: {0}")]
    Generate(String),
    #[error("the stored signing key is unreadable: {0}")]
    Stored(String),
}

/// `SignatureVersion`: which digest the signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// SHA1withRSA, SNS's default.
    #[default]
    V1,
    /// SHA256withRSA.
    V2,
}

impl SignatureVersion {
    /// The topic attribute's value; anything but "2" is version 1.
    pub fn from_attribute(value: Option<&str>) -> Self {
        match value {
            Some("2") => SignatureVersion::V2,
            _ => SignatureVersion::V1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V1 => "1",
            SignatureVersion::V2 => "2",
        }
    }
}

/// The key messages are signed with, and its certificate.
pub struct SigningKey {
    sha1: pkcs1v15::SigningKey<sha1::Sha1>,
    sha256: pkcs1v15::SigningKey<sha2::Sha256>,
    certificate: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key with its self-signed certificate, and the PEM text to store (key, then
    /// certificate). Takes a fraction of a second: run it off the async threads.
    pub fn generate() -> Result<(SigningKey, String), SigningError> {
        let fail = |e: &dyn std::fmt::Display| SigningError::Generate(e.to_string());
        let key = RsaPrivateKey::new(&mut OsRng, KEY_BITS).map_err(|e| fail(&e))?;
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| fail(&e))?;
        let signer = pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
        let spki =
            SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(|e| fail(&e))?;
        let serial = SerialNumber::new(&rand::random::<[u8; 8]>()[..]).map_err(|e| fail(&e))?;
        let validity = Validity::from_now(CERT_VALIDITY).map_err(|e| fail(&e))?;
        let subject = Name::from_str(CERT_SUBJECT).map_err(|e| fail(&e))?;
        let certificate =
            CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
                .map_err(|e| fail(&e))?
                .build_with_rng::<pkcs1v15::Signature>(&mut OsRng)
                .map_err(|e| fail(&e))?
                .to_pem(LineEnding::LF)
                .map_err(|e| fail(&e))?;
        let stored = format!("{}{certificate}", key_pem.as_str());
        Ok((Self::from_key(key, certificate), stored))
    }

    /// The key as the store keeps it (see [`SigningKey::generate`]).
    pub fn from_stored(pem: &str) -> Result<SigningKey, SigningError> {
        let at = pem
            .find(CERT_BEGIN)
            .ok_or_else(|| SigningError::Stored("no certificate".into()))?;
        let key = RsaPrivateKey::from_pkcs8_pem(pem[..at].trim())
            .map_err(|e| SigningError::Stored(e.to_string()))?;
        Ok(Self::from_key(key, pem[at..].to_string()))
    }

    fn from_key(key: RsaPrivateKey, certificate: String) -> SigningKey {
        SigningKey {
            sha1: pkcs1v15::SigningKey::new(key.clone()),
            sha256: pkcs1v15::SigningKey::new(key),
            certificate,
        }
    }

    /// The X.509 certificate (PEM) subscribers verify signatures with.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate
    }

    /// The base64 signature of a string to sign. Blinded (a fresh random factor per signature),
    /// so the time taken says nothing about the key.
    pub fn sign(&self, version: SignatureVersion, string_to_sign: &str) -> String {
        let bytes = match version {
            SignatureVersion::V1 => self
                .sha1
                .sign_with_rng(&mut OsRng, string_to_sign.as_bytes())
                .to_vec(),
            SignatureVersion::V2 => self
                .sha256
                .sign_with_rng(&mut OsRng, string_to_sign.as_bytes())
                .to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

#[cfg(test)]
impl SigningKey {
    /// Whether `signature` (base64) is this key's signature of `text`.
    pub fn verifies(&self, version: SignatureVersion, text: &str, signature: &str) -> bool {
        use rsa::signature::{Keypair, Verifier};
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature) else {
            return false;
        };
        let Ok(sig) = pkcs1v15::Signature::try_from(&raw[..]) else {
            return false;
        };
        match version {
            SignatureVersion::V1 => self.sha1.verifying_key().verify(text.as_bytes(), &sig),
            SignatureVersion::V2 => self.sha256.verifying_key().verify(text.as_bytes(), &sig),
        }
        .is_ok()
    }
}

/// One key for all the tests of a process: making keys is slow.
#[cfg(test)]
pub(crate) fn test_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("generate").0)
}

/// SNS's canonical form: each present field as `Name\nValue\n`, in the order given (which is
/// SNS's alphabetical order of the signed fields for the message type).
pub fn string_to_sign(fields: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if let Some(v) = value {
            out.push_str(name);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn strings_to_sign_skip_absent_fields() {
        let s = string_to_sign(&[
            ("Message", Some("hi")),
            ("MessageId", Some("1")),
            ("Subject", None),
            ("Type", Some("Notification")),
        ]);
        assert_eq!(s, "Message\nhi\nMessageId\n1\nType\nNotification\n");
    }

    #[test]
    fn signatures_verify_with_the_stored_key_in_both_versions() {
        let (key, stored) = SigningKey::generate().expect("generate");
        assert!(stored.contains("PRIVATE KEY"));
        assert!(key.certificate_pem().starts_with(CERT_BEGIN));
        let again = SigningKey::from_stored(&stored).expect("reload");
        assert_eq!(again.certificate_pem(), key.certificate_pem());
        let public = RsaPrivateKey::from_pkcs8_pem(&stored[..stored.find(CERT_BEGIN).unwrap()])
            .unwrap()
            .to_public_key();
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = "Message\nhi\nType\nNotification\n";

        let v1 = b64.decode(again.sign(SignatureVersion::V1, text)).unwrap();
        let verifier = VerifyingKey::<sha1::Sha1>::new(public.clone());
        let sig = Signature::try_from(&v1[..]).unwrap();
        assert!(verifier.verify(text.as_bytes(), &sig).is_ok());
        assert!(verifier.verify(b"tampered", &sig).is_err());

        let v2 = b64.decode(key.sign(SignatureVersion::V2, text)).unwrap();
        let verifier = VerifyingKey::<sha2::Sha256>::new(public);
        let sig = Signature::try_from(&v2[..]).unwrap();
        assert!(verifier.verify(text.as_bytes(), &sig).is_ok());
    }

    #[test]
    fn a_stored_key_without_its_certificate_is_refused() {
        assert!(SigningKey::from_stored("garbage").is_err());
        assert!(SigningKey::from_stored(&format!("nope\n{CERT_BEGIN}\n")).is_err());
    }

    #[test]
    fn signature_versions_follow_the_topic_attribute() {
        assert_eq!(SignatureVersion::from_attribute(None), SignatureVersion::V1);
        assert_eq!(SignatureVersion::from_attribute(Some("1")).as_str(), "1");
        assert_eq!(SignatureVersion::from_attribute(Some("2")).as_str(), "2");
    }
}
