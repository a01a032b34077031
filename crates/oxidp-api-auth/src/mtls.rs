//! Certificate-bound access tokens at the resource server (RFC 8705 §3): a token whose
//! `cnf["x5t#S256"]` names a certificate is accepted only when the request came over a
//! connection that presented that certificate.
//!
//! The certificate is read from the request extensions ([`ClientCertificate`], which the
//! API's TLS listener puts there), or — behind a TLS-terminating proxy — from the proxy's
//! certificate header, believed only when the TCP peer (`ConnectInfo<SocketAddr>`) is one of
//! the trusted proxies: the same rule the identity server applies. Unbound tokens pass.

use crate::bearer::{PresentedToken, RequestInfo};
use crate::checks::ConfirmationCheck;
use crate::claims::ValidatedToken;
use crate::error::{AuthError, ErrorKind, InvalidToken};
use crate::options::ConfigError;
use axum::extract::ConnectInfo;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderName;
use std::net::{IpAddr, SocketAddr};

/// The largest certificate header read.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The TLS client certificate of the request's connection (DER of the leaf), as the API's TLS
/// listener records it in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Vec<u8>);

/// The [`ConfirmationCheck`] of certificate-bound tokens.
///
/// ```
/// use oxidp_api_auth::{CertificateBinding, ClientCertificate, ErrorKind, InvalidToken, RequestInfo};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let test_issuer = oxidp_api_auth::testing::TestIssuer::start().await;
/// let certificate = b"the DER of the client's certificate".to_vec();
/// # let mut claims = test_issuer.claims("a");
/// # claims["cnf"] = serde_json::json!({ "x5t#S256": oxidp_api_auth::certificate_thumbprint(&certificate) });
/// # let token = test_issuer.mint(&claims);
/// let validator = oxidp_api_auth::Validator::new(test_issuer.validator_options())?
///     .with_check(CertificateBinding::direct());
/// let request = http::Request::get("/orders")
///     .header("authorization", format!("Bearer {token}"))
///     .body(())?;
/// let (mut parts, ()) = request.into_parts();
/// let error = validator.validate_request(RequestInfo::from_parts(&parts)).await.unwrap_err();
/// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed));
/// parts.extensions.insert(ClientCertificate(certificate));
/// assert!(validator.validate_request(RequestInfo::from_parts(&parts)).await.is_ok());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CertificateBinding {
    proxy: Option<ProxyHeader>,
}

#[derive(Debug, Clone)]
struct ProxyHeader {
    name: HeaderName,
    trusted: Vec<(IpAddr, u8)>,
}

impl CertificateBinding {
    /// The certificate comes from the API's own TLS listener ([`ClientCertificate`]).
    pub fn direct() -> Self {
        Self { proxy: None }
    }

    /// The certificate comes from a TLS-terminating proxy in `header` (PEM, URL-encoded PEM,
    /// Envoy's `X-Forwarded-Client-Cert` element, or base64 DER), believed only from
    /// `trusted_proxies` (IP addresses or CIDR blocks); a directly presented certificate is
    /// still used when the peer is not a trusted proxy.
    pub fn behind_proxy<S: AsRef<str>>(
        header: &str,
        trusted_proxies: &[S],
    ) -> Result<Self, ConfigError> {
        let name = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| ConfigError::InvalidCertificateHeader)?;
        let trusted = trusted_proxies
            .iter()
            .map(|entry| parse_block(entry.as_ref()).ok_or(ConfigError::InvalidTrustedProxy))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            proxy: Some(ProxyHeader { name, trusted }),
        })
    }

    /// The leaf certificate (DER) of the request, by the rules above.
    fn certificate(&self, request: &RequestInfo<'_>) -> Result<Option<Vec<u8>>, AuthError> {
        let extensions = request.extensions();
        let direct = extensions
            .and_then(|ext| ext.get::<ClientCertificate>())
            .map(|c| c.0.clone());
        let Some(proxy) = &self.proxy else {
            return Ok(direct);
        };
        let peer = extensions
            .and_then(|ext| ext.get::<ConnectInfo<SocketAddr>>())
            .map(|ConnectInfo(address)| address.ip());
        if !peer.is_some_and(|ip| proxy.trusted.iter().any(|block| contains(*block, ip))) {
            return Ok(direct);
        }
        let mut values = request.headers().get_all(&proxy.name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => {
                let text = value.to_str().map_err(|_| unreadable())?;
                leaf_from_header(text).map_err(|()| unreadable())
            }
            (Some(_), Some(_)) => Err(unreadable()),
        }
    }
}

fn unreadable() -> AuthError {
    AuthError::new(ErrorKind::InvalidRequest(
        "the client certificate header cannot be read",
    ))
}

#[async_trait::async_trait]
impl ConfirmationCheck for CertificateBinding {
    fn confirmations(&self) -> &[&'static str] {
        &["x5t#S256"]
    }

    async fn check(
        &self,
        request: &RequestInfo<'_>,
        _token: &PresentedToken<'_>,
        validated: &ValidatedToken,
    ) -> Result<(), AuthError> {
        let bound = validated
            .claims()
            .get("cnf")
            .and_then(|cnf| cnf.get("x5t#S256"));
        let Some(bound) = bound else {
            return Ok(());
        };
        let Some(bound) = bound.as_str() else {
            return Err(InvalidToken::Malformed.into());
        };
        let presented = self.certificate(request)?;
        let confirmed = presented.is_some_and(|der| {
            oxidp_jose::constant_time_eq(certificate_thumbprint(&der).as_bytes(), bound.as_bytes())
        });
        if confirmed {
            Ok(())
        } else {
            tracing::info!("certificate-bound token without its certificate refused");
            Err(InvalidToken::ConfirmationFailed.into())
        }
    }
}

/// The `x5t#S256` of a DER certificate: base64url of its SHA-256.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    oxidp_jose::b64url_encode(oxidp_jose::sha256(der))
}

/// The leaf's DER in a proxy's certificate header; `None` when the header is empty.
fn leaf_from_header(value: &str) -> Result<Option<Vec<u8>>, ()> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(());
    }
    let value = value.trim();
    if value.is_empty() || value == "-" || value == "(null)" {
        return Ok(None);
    }
    // Envoy: `...;Cert="<URL-encoded PEM>";...` (a `Chain` starts with the leaf too).
    let value = value
        .split(';')
        .find_map(|pair| {
            let (key, raw) = pair.split_once('=')?;
            let key = key.trim();
            (key.eq_ignore_ascii_case("cert") || key.eq_ignore_ascii_case("chain"))
                .then(|| raw.trim().trim_matches('"'))
        })
        .unwrap_or(value);
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| ())?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let body = match decoded.find(BEGIN) {
        Some(start) => {
            let rest = &decoded[start + BEGIN.len()..];
            &rest[..rest.find(END).ok_or(())?]
        }
        None => &decoded[..],
    };
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(base64).map(Some).map_err(|_| ())
}

fn parse_block(entry: &str) -> Option<(IpAddr, u8)> {
    let entry = entry.trim();
    let (ip, prefix) = match entry.split_once('/') {
        Some((ip, prefix)) => (ip.parse::<IpAddr>().ok()?, prefix.parse::<u8>().ok()?),
        None => {
            let ip = entry.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= bits).then_some((ip, prefix))
}

fn contains((block, prefix): (IpAddr, u8), ip: IpAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    let (bits, block, ip) = match (canonical(block), canonical(ip)) {
        (IpAddr::V4(b), IpAddr::V4(i)) => (32, u128::from(b.to_bits()), u128::from(i.to_bits())),
        (IpAddr::V6(b), IpAddr::V6(i)) => (128, b.to_bits(), i.to_bits()),
        _ => return false,
    };
    let ignored = bits - u32::from(prefix);
    ignored >= bits || (block >> ignored) == (ip >> ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms_give_the_leaf() {
        let der = b"not really a certificate but bytes".to_vec();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(&der)
        );
        let escaped =
            percent_encoding::utf8_percent_encode(&pem, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for value in [
            pem.replace('\n', ""),
            escaped.clone(),
            format!("Hash=ab;Cert=\"{escaped}\";Subject=\"CN=x\""),
            STANDARD.encode(&der),
        ] {
            assert_eq!(leaf_from_header(&value), Ok(Some(der.clone())), "{value}");
        }
        assert_eq!(leaf_from_header(""), Ok(None));
        assert!(leaf_from_header("-----BEGIN CERTIFICATE-----!!!").is_err());
        assert!(leaf_from_header(&"A".repeat(MAX_HEADER_BYTES + 1)).is_err());
    }

    #[test]
    fn trusted_proxies_are_matched_by_block() {
        let block = parse_block("10.0.0.0/8").expect("valid");
        assert!(contains(block, "10.1.2.3".parse().expect("valid")));
        assert!(contains(block, "::ffff:10.1.2.3".parse().expect("valid")));
        assert!(!contains(block, "11.1.2.3".parse().expect("valid")));
        assert!(parse_block("10.0.0.0/33").is_none());
        assert!(CertificateBinding::behind_proxy("x-ssl-client-cert", &["nope"]).is_err());
        assert!(CertificateBinding::behind_proxy("bad header", &["10.0.0.1"]).is_err());
    }

    #[tokio::test]
    async fn a_proxy_header_counts_only_from_a_trusted_proxy() {
        let issuer = crate::testing::TestIssuer::start().await;
        let der = b"the client's certificate".to_vec();
        let mut claims = issuer.claims("a");
        claims["cnf"] = serde_json::json!({ "x5t#S256": certificate_thumbprint(&der) });
        let token = issuer.mint(&claims);
        let validator = crate::Validator::new(issuer.validator_options())
            .expect("options")
            .with_check(
                CertificateBinding::behind_proxy("x-client-cert", &["10.0.0.0/8"]).expect("ok"),
            );
        let request = |peer: &str, header: &str| {
            let (mut parts, ()) = http::Request::get("/orders")
                .header("authorization", format!("Bearer {token}"))
                .header("x-client-cert", header)
                .body(())
                .expect("request")
                .into_parts();
            let peer: SocketAddr = peer.parse().expect("address");
            parts.extensions.insert(ConnectInfo(peer));
            parts
        };
        let good = STANDARD.encode(&der);
        let trusted = request("10.1.1.1:4000", &good);
        assert!(
            validator
                .validate_request(RequestInfo::from_parts(&trusted))
                .await
                .is_ok()
        );
        let forged = request("203.0.113.5:4000", &good);
        let error = validator
            .validate_request(RequestInfo::from_parts(&forged))
            .await
            .expect_err("forged");
        assert_eq!(
            error.kind(),
            &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
        );
        let garbage = request("10.1.1.1:4000", "-----BEGIN CERTIFICATE-----!!!");
        let error = validator
            .validate_request(RequestInfo::from_parts(&garbage))
            .await
            .expect_err("garbage");
        assert_eq!(error.status(), 400);
        let other = request("10.1.1.1:4000", &STANDARD.encode(b"another certificate"));
        assert!(
            validator
                .validate_request(RequestInfo::from_parts(&other))
                .await
                .is_err()
        );
    }
}
