//! Extractors that turn an HTTP request into the core's one request context,
//! [`ProtocolRequest`], and the listener's part of it, [`PeerInfo`].
//!
//! The listener fills the peer: [`ConnectedPeer`] is the connect-info type the server serves
//! with (the address, and over TLS the client certificate chain). When the TCP peer is one of
//! the configured trusted proxies ([`Forwarding`]), [`peer_info`] replaces its address with
//! the client's, by the core's rule ([`oxidp_core::request::client_address`]), and — when
//! `server.client_certificate_header` is set ([`CertificateHeader`]) — its certificate chain
//! with the one the proxy forwards. From anyone else that header is never read.
//! Rejections are protocol errors in the endpoint's format, never axum's plain text.

use crate::error::{PageError, ProtocolError};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::serve::IncomingStream;
use oxidp_core::certificates::parse_certificate_header;
use oxidp_core::error::OAuthError;
use oxidp_core::params::Parameters;
use oxidp_core::request::{
    PeerInfo, ProtocolRequest, RequestMethod, TrustedProxies, client_address,
};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The body limit, shared through request extensions by the router.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The connect info the server's listener records for each connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectedPeer(pub PeerInfo);

impl Connected<IncomingStream<'_, TcpListener>> for ConnectedPeer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self(PeerInfo::from_addr(*stream.remote_addr()))
    }
}

/// The reverse proxies whose forwarding headers are believed, shared through request
/// extensions by the router (`server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct Forwarding(pub Arc<TrustedProxies>);

/// The header a trusted proxy forwards the client certificate in, shared through request
/// extensions by the router (`server.client_certificate_header`).
#[derive(Debug, Clone)]
pub struct CertificateHeader(pub HeaderName);

/// The peer of a request, for uses that only need its address: like [`checked_peer_info`],
/// but a forwarded certificate header that cannot be read leaves no certificate instead of
/// failing.
pub fn peer_info(parts: &Parts) -> PeerInfo {
    checked_peer_info(parts).unwrap_or_else(|_| {
        let mut peer = connected_peer(parts);
        peer.client_certificates.clear();
        forward_address(parts, &mut peer);
        peer
    })
}

/// The peer of a request: from [`ConnectedPeer`], or from a plain `SocketAddr` connect info
/// when the routes are served by an embedding application; unknown otherwise. Behind a
/// trusted proxy, the address is the client's as the forwarding headers report it, and the
/// certificate chain the one in the configured certificate header (none when it is absent).
/// A repeated, non-text or unreadable certificate header is `invalid_request`.
pub fn checked_peer_info(parts: &Parts) -> Result<PeerInfo, OAuthError> {
    let mut peer = connected_peer(parts);
    if let (Some(address), Some(Forwarding(trusted)), Some(CertificateHeader(name))) = (
        peer.remote_addr,
        parts.extensions.get::<Forwarding>(),
        parts.extensions.get::<CertificateHeader>(),
    ) && trusted.contains(address.ip())
    {
        let mut values = parts.headers.get_all(name).iter();
        let chain = match (values.next(), values.next()) {
            (None, _) => Vec::new(),
            (Some(value), None) => {
                let text = value.to_str().map_err(|_| {
                    OAuthError::invalid_request("the client certificate header is not valid text")
                })?;
                parse_certificate_header(text)?
            }
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "the client certificate header is repeated",
                ));
            }
        };
        peer.client_certificates = chain;
    }
    forward_address(parts, &mut peer);
    Ok(peer)
}

fn connected_peer(parts: &Parts) -> PeerInfo {
    if let Some(ConnectInfo(ConnectedPeer(peer))) = parts.extensions.get() {
        peer.clone()
    } else {
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(address)) => PeerInfo::from_addr(*address),
            None => PeerInfo::default(),
        }
    }
}

fn forward_address(parts: &Parts, peer: &mut PeerInfo) {
    if let (Some(address), Some(Forwarding(trusted))) =
        (peer.remote_addr, parts.extensions.get::<Forwarding>())
        && trusted.contains(address.ip())
    {
        // A value that is not text cannot name an address; it is left out, and the walk then
        // stops at the proxy (or reads the next header) rather than guessing.
        let values = |name: &str| -> Vec<&str> {
            parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect()
        };
        peer.remote_addr = Some(client_address(
            address,
            &values("x-forwarded-for"),
            &values("forwarded"),
            trusted,
        ));
    }
}

/// A protocol POST with a form body (token, introspection, revocation): the content type
/// must be `application/x-www-form-urlencoded`; an oversized body is 413.
#[derive(Debug)]
pub struct FormRequest(pub ProtocolRequest);

/// A resource request (userinfo): GET with the token in the header, or POST with a form
/// body (which may carry `access_token`).
#[derive(Debug)]
pub struct ResourceRequest(pub ProtocolRequest);

/// The parameters of a browser request (authorize, end session): the query of a GET or the
/// form body of a POST. Malformed or repeated parameters are the error page.
#[derive(Debug)]
pub struct PageParams {
    /// The method the browser used.
    pub method: Method,
    /// The parameters.
    pub params: Parameters,
}

impl<S: Send + Sync> FromRequest<S> for FormRequest {
    type Rejection = ProtocolError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if request.method() != Method::POST || !is_form(&request) {
            return Err(OAuthError::invalid_request(
                "the content type must be application/x-www-form-urlencoded",
            )
            .into());
        }
        Ok(Self(protocol_request(request).await?))
    }
}

impl<S: Send + Sync> FromRequest<S> for ResourceRequest {
    type Rejection = ProtocolError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(protocol_request(request).await?))
    }
}

impl<S: Send + Sync> FromRequest<S> for PageParams {
    type Rejection = PageError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let request = protocol_request(request).await.map_err(|_| {
            PageError::bad_request("The request is malformed or repeats a parameter.")
        })?;
        Ok(Self {
            method,
            params: request.params,
        })
    }
}

fn is_form(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Builds the request context: parameters from the query (GET) or the form body (POST with a
/// form content type), every `Authorization` and `DPoP` header, the peer.
async fn protocol_request(request: Request) -> Result<ProtocolRequest, OAuthError> {
    let form_body = is_form(&request);
    let (parts, body) = request.into_parts();
    let method = match parts.method {
        Method::GET => RequestMethod::Get,
        Method::POST => RequestMethod::Post,
        _ => return Err(OAuthError::invalid_request("unsupported method")),
    };
    let text_headers = |name: &str| -> Result<Vec<String>, OAuthError> {
        parts
            .headers
            .get_all(name)
            .iter()
            .map(|value| {
                value.to_str().map(str::to_owned).map_err(|_| {
                    OAuthError::invalid_request(format!("the {name} header is not valid text"))
                })
            })
            .collect()
    };
    let authorization = text_headers("authorization")?;
    let dpop = text_headers("dpop")?;
    let params = match method {
        RequestMethod::Get => {
            Parameters::from_form(parts.uri.query().unwrap_or_default().as_bytes())?
        }
        RequestMethod::Post if form_body => {
            let limit = parts
                .extensions
                .get::<BodyLimit>()
                .map_or(64 * 1024, |l| l.0);
            let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
                OAuthError::invalid_request(format!("the request body exceeds {limit} bytes"))
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE.as_u16())
            })?;
            Parameters::from_form(&bytes)?
        }
        RequestMethod::Post => Parameters::default(),
    };
    Ok(ProtocolRequest {
        method,
        path: parts.uri.path().to_owned(),
        params,
        authorization,
        dpop,
        peer: checked_peer_info(&parts)?,
    })
}

/// The peer alone, for handlers that need nothing else of the request (the sign-in form).
#[derive(Debug, Clone)]
pub struct Peer(pub PeerInfo);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(peer_info(parts)))
    }
}
