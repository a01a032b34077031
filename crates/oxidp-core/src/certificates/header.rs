//! The client certificate as a TLS-terminating reverse proxy forwards it in a header
//! (`server.client_certificate_header`). Accepted forms, as the common proxies send them:
//!
//! - PEM, possibly URL-encoded (nginx `$ssl_client_escaped_cert`, Traefik, Caddy), one
//!   certificate or a chain, leaf first;
//! - Envoy's `X-Forwarded-Client-Cert` element (`Hash=...;Cert="<URL-encoded PEM>";Chain=...`),
//!   exactly one element (Envoy's `SANITIZE_SET`);
//! - base64 DER of the leaf (HAProxy `%[ssl_c_der,base64]`).
//!
//! An empty value (or nginx's `-` / `(null)`) means no certificate. Anything else that does not
//! read as certificates is refused as `invalid_request`, never guessed at.

use super::{MAX_CHAIN_LENGTH, parse_pem_certificates};
use crate::error::OAuthError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The largest header value read: a chain of [`MAX_CHAIN_LENGTH`] ordinary certificates fits
/// with room to spare.
pub const MAX_CERTIFICATE_HEADER_BYTES: usize = 32 * 1024;

/// The certificate chain (leaf first, DER) in a client-certificate header value.
pub fn parse_certificate_header(value: &str) -> Result<Vec<Vec<u8>>, OAuthError> {
    if value.len() > MAX_CERTIFICATE_HEADER_BYTES {
        return Err(OAuthError::invalid_request(
            "the client certificate header is too large",
        ));
    }
    let value = value.trim();
    if value.is_empty() || value == "-" || value == "(null)" {
        return Ok(Vec::new());
    }
    let chain = if let Some(chain) = envoy_element(value)? {
        chain
    } else if value.contains("BEGIN") {
        pem_chain(&decode_percent(value)?)?
    } else {
        let der = STANDARD.decode(value).map_err(|_| unreadable())?;
        vec![der]
    };
    if chain.len() > MAX_CHAIN_LENGTH {
        return Err(OAuthError::invalid_request(format!(
            "the client certificate chain is longer than {MAX_CHAIN_LENGTH} certificates"
        )));
    }
    if chain
        .iter()
        .any(|der| x509_parser::parse_x509_certificate(der).is_err())
    {
        return Err(unreadable());
    }
    Ok(chain)
}

fn unreadable() -> OAuthError {
    OAuthError::invalid_request("the client certificate header does not hold a certificate")
}

fn decode_percent(value: &str) -> Result<String, OAuthError> {
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| unreadable())
}

fn pem_chain(pem: &str) -> Result<Vec<Vec<u8>>, OAuthError> {
    // nginx's deprecated `$ssl_client_cert` folds lines with a tab; the PEM reader wants
    // plain lines.
    let pem = pem.replace('\t', "");
    let chain = parse_pem_certificates(pem.as_bytes()).map_err(|_| unreadable())?;
    if chain.is_empty() {
        return Err(unreadable());
    }
    Ok(chain)
}

/// An Envoy XFCC value: `None` when the value is not one; its `Cert` (and `Chain`) otherwise.
fn envoy_element(value: &str) -> Result<Option<Vec<Vec<u8>>>, OAuthError> {
    let looks_like_xfcc = ["Hash=", "Cert=", "By=", "Chain="]
        .iter()
        .any(|key| value.starts_with(key) || value.contains(&format!(";{key}")));
    if !looks_like_xfcc {
        return Ok(None);
    }
    let elements = split_outside_quotes(value, ',');
    if elements.len() != 1 {
        return Err(OAuthError::invalid_request(
            "the client certificate header names more than one certificate",
        ));
    }
    let mut cert = None;
    let mut chain = None;
    for pair in split_outside_quotes(value, ';') {
        let Some((key, raw)) = pair.split_once('=') else {
            continue;
        };
        let raw = raw.trim().trim_matches('"');
        match key.trim() {
            k if k.eq_ignore_ascii_case("Cert") => cert = Some(raw),
            k if k.eq_ignore_ascii_case("Chain") => chain = Some(raw),
            _ => {}
        }
    }
    // `Chain` holds the whole chain, leaf included; `Cert` only the leaf.
    let Some(encoded) = chain.or(cert) else {
        return Ok(Some(Vec::new()));
    };
    pem_chain(&decode_percent(encoded)?).map(Some)
}

fn split_outside_quotes(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (index, c) in value.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&value[start..index]);
            start = index + 1;
        }
    }
    parts.push(&value[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn certificate() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["client.example".to_owned()]).expect("cert")
    }

    fn escaped(pem: &str) -> String {
        percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn pem_url_encoded_pem_envoy_and_base64_der_are_read() {
        let cert = certificate();
        let pem = cert.cert.pem();
        let der = cert.cert.der().to_vec();
        assert_eq!(
            parse_certificate_header(&pem).expect("pem"),
            vec![der.clone()]
        );
        assert_eq!(
            parse_certificate_header(&escaped(&pem)).expect("escaped"),
            vec![der.clone()]
        );
        let xfcc = format!(
            "By=spiffe://proxy;Hash=abc;Cert=\"{}\";Subject=\"CN=a,O=b\";URI=",
            escaped(&pem)
        );
        assert_eq!(
            parse_certificate_header(&xfcc).expect("xfcc"),
            vec![der.clone()]
        );
        assert_eq!(
            parse_certificate_header(&STANDARD.encode(&der)).expect("der"),
            [der]
        );
        for none in ["", "-", "(null)"] {
            assert!(parse_certificate_header(none).expect("empty").is_empty());
        }
    }

    #[test]
    fn garbage_oversized_and_overlong_values_are_invalid_request() {
        let pem = certificate().cert.pem();
        let overlong = pem.repeat(MAX_CHAIN_LENGTH + 1);
        let huge = "A".repeat(MAX_CERTIFICATE_HEADER_BYTES + 1);
        let two_elements = format!("Cert=\"{0}\",Cert=\"{0}\"", escaped(&pem));
        for bad in [
            "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "%ZZ-----BEGIN",
            "certainly not a certificate",
            "QUJD",
            huge.as_str(),
            overlong.as_str(),
            two_elements.as_str(),
        ] {
            let error = parse_certificate_header(bad).expect_err(bad);
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert_eq!(error.status(), 400);
        }
    }
}
