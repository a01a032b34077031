//! Client authentication with the TLS client certificate (RFC 8705 §2).
//!
//! - `tls_client_auth` (§2.1): the chain leads to one of the configured CAs
//!   ([`MtlsOptions`](crate::options::MtlsOptions)), every certificate is valid now, and the leaf
//!   carries the one subject DN or SAN the client registered, matched exactly.
//! - `self_signed_tls_client_auth` (§2.2): the leaf is one of the certificates registered in
//!   the client's JWK set (`x5c`), compared by SHA-256 thumbprint; no CA is involved.
//!
//! The TLS layer (or the trusted proxy) has already checked that the peer holds the
//! certificate's private key.

use super::super::Context;
use crate::certificates::{CertificateSubject, DistinguishedName, thumbprint};
use crate::model::Client;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oxidp_jose::constant_time_eq;
use std::net::IpAddr;

/// Whether `chain` (leaf first) authenticates `client`.
pub(super) fn authenticates(ctx: &Context, client: &Client, chain: &[Vec<u8>]) -> bool {
    let Some(leaf) = chain.first() else {
        return false;
    };
    if client.uses_tls_client_auth() {
        let authorities = &ctx.options.mtls.client_certificate_authorities;
        if authorities.is_empty() {
            tracing::warn!(client_id = %client.client_id, "tls_client_auth without configured CAs");
            return false;
        }
        if !authorities.verifies(chain, ctx.clock.now()) {
            return false;
        }
        return CertificateSubject::parse(leaf).is_some_and(|subject| matches(client, &subject));
    }
    registered_thumbprints(client)
        .iter()
        .any(|registered| constant_time_eq(registered.as_bytes(), thumbprint(leaf).as_bytes()))
}

/// Whether the certificate carries the value the client registered (exactly one is).
fn matches(client: &Client, subject: &CertificateSubject) -> bool {
    if let Some(dn) = &client.tls_client_auth_subject_dn {
        return DistinguishedName::parse(dn).is_ok_and(|dn| dn == subject.dn);
    }
    if let Some(dns) = &client.tls_client_auth_san_dns {
        return subject.dns.iter().any(|san| san.eq_ignore_ascii_case(dns));
    }
    if let Some(uri) = &client.tls_client_auth_san_uri {
        return subject.uris.iter().any(|san| san == uri);
    }
    if let Some(ip) = &client.tls_client_auth_san_ip {
        return ip
            .parse::<IpAddr>()
            .is_ok_and(|ip| subject.ips.contains(&ip));
    }
    if let Some(email) = &client.tls_client_auth_san_email {
        return subject.emails.iter().any(|san| san == email);
    }
    false
}

/// The thumbprints of the first certificate of each `x5c` in the client's JWK set.
fn registered_thumbprints(client: &Client) -> Vec<String> {
    let Some(keys) = client
        .jwks
        .as_ref()
        .and_then(|jwks| jwks.get("keys"))
        .and_then(|keys| keys.as_array())
    else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|key| key.get("x5c")?.as_array()?.first()?.as_str())
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .map(|der| thumbprint(&der))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn subject() -> CertificateSubject {
        CertificateSubject {
            dn: DistinguishedName::parse("CN=a,O=Example").expect("dn"),
            dns: vec!["a.example".into()],
            uris: vec!["spiffe://example/a".into()],
            ips: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))],
            emails: vec!["a@example.com".into()],
            not_after: None,
        }
    }

    #[test]
    fn each_registered_attribute_matches_exactly() {
        let check = |change: fn(&mut Client)| {
            let mut client = Client::new("c");
            change(&mut client);
            matches(&client, &subject())
        };
        assert!(check(
            |c| c.tls_client_auth_subject_dn = Some("CN=a, O=Example".into())
        ));
        assert!(!check(
            |c| c.tls_client_auth_subject_dn = Some("CN=a".into())
        ));
        assert!(check(
            |c| c.tls_client_auth_san_dns = Some("A.example".into())
        ));
        assert!(!check(
            |c| c.tls_client_auth_san_dns = Some("b.example".into())
        ));
        assert!(check(
            |c| c.tls_client_auth_san_uri = Some("spiffe://example/a".into())
        ));
        assert!(!check(
            |c| c.tls_client_auth_san_uri = Some("spiffe://example/".into())
        ));
        assert!(check(
            |c| c.tls_client_auth_san_ip = Some("192.0.2.1".into())
        ));
        assert!(!check(
            |c| c.tls_client_auth_san_ip = Some("192.0.2.2".into())
        ));
        assert!(check(
            |c| c.tls_client_auth_san_email = Some("a@example.com".into())
        ));
        assert!(!check(
            |c| c.tls_client_auth_san_email = Some("A@example.com".into())
        ));
        assert!(!check(|_| {}));
    }

    #[test]
    fn x5c_thumbprints_are_read_from_the_jwks() {
        let mut client = Client::new("c");
        client.jwks = Some(serde_json::json!({"keys": [
            {"kty": "EC", "x5c": [STANDARD.encode(b"cert-one")]},
            {"kty": "EC"},
            {"kty": "EC", "x5c": ["not base64!"]},
        ]}));
        assert_eq!(registered_thumbprints(&client), [thumbprint(b"cert-one")]);
    }
}
