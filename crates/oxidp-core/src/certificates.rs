//! X.509 client certificates for mutual TLS (RFC 8705): the `x5t#S256` thumbprint, chain
//! verification against the configured certificate authorities, the subject facts that
//! `tls_client_auth` matches (subject DN and SANs), and the client-certificate header a trusted
//! reverse proxy forwards.
//!
//! The TLS layer only proves that the peer holds the certificate's private key; whether the
//! certificate is trusted is decided here, per client, so that a self-signed certificate can
//! reach `self_signed_tls_client_auth` and a CA-issued one `tls_client_auth`.

mod dn;
mod header;

pub use dn::{DistinguishedName, InvalidDistinguishedName};
pub use header::{MAX_CERTIFICATE_HEADER_BYTES, parse_certificate_header};

use oxidp_jose::{b64url_encode, sha256};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// The longest client certificate chain accepted (leaf included). Real chains have two to
/// four certificates; a longer one is refused before any parsing work is spent on it.
pub const MAX_CHAIN_LENGTH: usize = 10;

/// The `x5t#S256` confirmation of a certificate (RFC 8705 §3.1): base64url of the SHA-256 of
/// its DER encoding.
pub fn thumbprint(der: &[u8]) -> String {
    b64url_encode(sha256(der))
}

/// Parses every `CERTIFICATE` block of a PEM text; an error says what is wrong.
pub fn parse_pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .map(|cert| {
            cert.map(|der| der.to_vec())
                .map_err(|e| format!("invalid PEM: {e}"))
        })
        .collect()
}

/// How long a verified chain is remembered: a client on a kept-alive connection presents the
/// same chain on every request, and its verification (a signature per certificate) would
/// otherwise cost more than issuing the token. Never past a certificate's `notAfter`.
const VERIFIED_CHAIN_TTL: time::Duration = time::Duration::seconds(60);

/// Chains remembered at most; the memory is cleared when it is full.
const VERIFIED_CHAIN_CAPACITY: usize = 10_000;

/// The certificate authorities whose (chains of) certificates `tls_client_auth` accepts.
#[derive(Clone, Default)]
pub struct CertificateAuthorities {
    anchors: Vec<TrustAnchor<'static>>,
    /// Hash of a verified chain → until when the verification holds.
    verified: Arc<Mutex<HashMap<[u8; 32], OffsetDateTime>>>,
}

impl std::fmt::Debug for CertificateAuthorities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CertificateAuthorities({} anchors)", self.anchors.len())
    }
}

impl CertificateAuthorities {
    /// Trust anchors from a PEM bundle of CA certificates; an empty bundle or a certificate
    /// that cannot be an anchor is an error.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certificates = parse_pem_certificates(pem)?;
        if certificates.is_empty() {
            return Err("the bundle holds no CERTIFICATE".into());
        }
        Self::from_der(&certificates)
    }

    /// Trust anchors from DER-encoded CA certificates.
    pub fn from_der(certificates: &[Vec<u8>]) -> Result<Self, String> {
        let anchors: Vec<TrustAnchor<'static>> = certificates
            .iter()
            .enumerate()
            .map(|(index, der)| {
                let der = CertificateDer::from(der.as_slice());
                webpki::anchor_from_trusted_cert(&der)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|e| format!("certificate {} is not a usable CA: {e}", index + 1))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            anchors,
            verified: Arc::default(),
        })
    }

    /// Whether no authority is configured (`tls_client_auth` then authenticates nobody).
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Whether `chain` (leaf first, then intermediates) leads to one of the authorities, with
    /// every certificate valid at `now` and the leaf usable for TLS client authentication.
    pub fn verifies(&self, chain: &[Vec<u8>], now: OffsetDateTime) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return false;
        };
        if self.anchors.is_empty() || chain.len() > MAX_CHAIN_LENGTH {
            return false;
        }
        let key = chain_key(chain);
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.get(&key).is_some_and(|until| now < *until) {
            return true;
        }
        drop(verified);
        if !self.verify(leaf, intermediates, now) {
            return false;
        }
        let not_after = chain
            .iter()
            .filter_map(|der| CertificateSubject::parse(der)?.not_after)
            .min();
        let until = not_after.map_or(now + VERIFIED_CHAIN_TTL, |end| {
            end.min(now + VERIFIED_CHAIN_TTL)
        });
        verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VERIFIED_CHAIN_CAPACITY {
            verified.clear();
        }
        verified.insert(key, until);
        true
    }

    fn verify(&self, leaf: &[u8], intermediates: &[Vec<u8>], now: OffsetDateTime) -> bool {
        let leaf = CertificateDer::from(leaf);
        let Ok(end_entity) = webpki::EndEntityCert::try_from(&leaf) else {
            return false;
        };
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        let seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let time = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
        let result = end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &intermediates,
            time,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        );
        if let Err(error) = &result {
            tracing::info!(%error, "client certificate chain refused");
        }
        result.is_ok()
    }
}

/// A chain's identity: the SHA-256 over each certificate's length and DER.
fn chain_key(chain: &[Vec<u8>]) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(chain.iter().map(|c| c.len() + 8).sum());
    for der in chain {
        bytes.extend_from_slice(&(der.len() as u64).to_be_bytes());
        bytes.extend_from_slice(der);
    }
    sha256(bytes)
}

/// What `tls_client_auth` can match in a certificate (RFC 8705 §2.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateSubject {
    /// The subject distinguished name.
    pub dn: DistinguishedName,
    /// `dNSName` SANs.
    pub dns: Vec<String>,
    /// `uniformResourceIdentifier` SANs.
    pub uris: Vec<String>,
    /// `iPAddress` SANs.
    pub ips: Vec<IpAddr>,
    /// `rfc822Name` SANs.
    pub emails: Vec<String>,
    /// The end of the validity period.
    pub not_after: Option<OffsetDateTime>,
}

impl CertificateSubject {
    /// Reads the subject and SANs of a DER certificate; `None` when it does not parse.
    pub fn parse(der: &[u8]) -> Option<Self> {
        use x509_parser::extensions::GeneralName;
        let (rest, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
        if !rest.is_empty() {
            return None;
        }
        let mut subject = Self {
            dn: DistinguishedName::from_x509(certificate.subject())?,
            not_after: OffsetDateTime::from_unix_timestamp(
                certificate.validity().not_after.timestamp(),
            )
            .ok(),
            ..Self::default()
        };
        if let Ok(Some(san)) = certificate.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => subject.dns.push((*dns).to_owned()),
                    GeneralName::URI(uri) => subject.uris.push((*uri).to_owned()),
                    GeneralName::RFC822Name(email) => subject.emails.push((*email).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            subject.ips.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            subject.ips.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, IsCa, KeyPair, SanType};

    fn ca() -> (rcgen::Certificate, CertificateParams, KeyPair) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Test CA");
        (params.self_signed(&key).expect("ca"), params, key)
    }

    fn leaf(ca: &CertificateParams, ca_key: &KeyPair) -> rcgen::Certificate {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["client.example".to_owned()]).expect("ok");
        // Encoded most general first, as CAs do: RFC 4514 reads it backwards.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example, Inc.");
        params
            .distinguished_name
            .push(DnType::CommonName, "client-a");
        params
            .subject_alt_names
            .push(SanType::IpAddress("192.0.2.7".parse().expect("ip")));
        params.subject_alt_names.push(SanType::Rfc822Name(
            "ops@example.com".try_into().expect("ia5"),
        ));
        let issuer = rcgen::Issuer::from_params(ca, ca_key);
        params.signed_by(&key, &issuer).expect("leaf")
    }

    #[test]
    fn a_chain_to_the_ca_verifies_and_a_foreign_one_does_not() {
        let (ca_cert, ca_params, ca_key) = ca();
        let cert = leaf(&ca_params, &ca_key);
        let authorities = CertificateAuthorities::from_pem(ca_cert.pem().as_bytes()).expect("ca");
        let now = OffsetDateTime::now_utc();
        assert!(authorities.verifies(&[cert.der().to_vec()], now));
        let (_, other_ca, other_key) = ca();
        let foreign = leaf(&other_ca, &other_key);
        assert!(!authorities.verifies(&[foreign.der().to_vec()], now));
        assert!(!authorities.verifies(&[], now));
        // A verified chain is remembered, but never past the certificates' validity.
        let far_future = now + time::Duration::days(365 * 4000);
        assert!(!authorities.verifies(&[cert.der().to_vec()], far_future));
        let fresh = CertificateAuthorities::from_pem(ca_cert.pem().as_bytes()).expect("ca");
        assert!(!fresh.verifies(&[cert.der().to_vec()], far_future));
        let long = vec![cert.der().to_vec(); MAX_CHAIN_LENGTH + 1];
        assert!(!authorities.verifies(&long, now));
        assert!(CertificateAuthorities::from_pem(b"no pem here").is_err());
    }

    #[test]
    fn the_subject_and_sans_are_read() {
        let (_, ca_params, ca_key) = ca();
        let cert = leaf(&ca_params, &ca_key);
        let subject = CertificateSubject::parse(cert.der()).expect("parses");
        assert_eq!(subject.dns, ["client.example"]);
        assert_eq!(subject.emails, ["ops@example.com"]);
        assert_eq!(
            subject.ips,
            ["192.0.2.7".parse::<IpAddr>().expect("ip")].to_vec()
        );
        let registered =
            DistinguishedName::parse(r"CN=client-a,O=Example\, Inc.").expect("a valid DN");
        assert_eq!(subject.dn, registered);
        assert!(CertificateSubject::parse(b"garbage").is_none());
    }

    #[test]
    fn the_thumbprint_is_the_sha256_of_the_der() {
        assert_eq!(
            thumbprint(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
