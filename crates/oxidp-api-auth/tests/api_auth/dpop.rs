//! `DpopCheck`: DPoP-bound tokens (JWT and reference) with their proofs, the schemes, replay,
//! nonce mode, and the RFC 9449 §7.1 challenges, directly and through the axum layer.
//!
//! Proofs are signed here with `jsonwebtoken` over hand-written headers and claims, not with
//! oxidp's own proof builder, so that the check is tested against proofs it did not make.

use oxidp_api_auth::testing::TestIssuer;
use oxidp_api_auth::{
    AuthError, DpopCheck, ErrorKind, InvalidToken, MemoryReplayCache, ReplayCache,
    ReplayCacheError, RequestInfo, ValidatedToken, Validator,
};
use oxidp_jose::{SigningAlgorithm, SigningKey, b64url_encode, sha256};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const API: &str = "https://api.example.com";

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn es256() -> SigningKey {
    SigningKey::generate(SigningAlgorithm::ES256).unwrap()
}

/// A compact JWS of `header` and `claims`, signed by `key` whatever the header says.
pub fn forge(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string()),
        b64url_encode(claims.to_string())
    );
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(key.expose_pkcs8());
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &encoding, jsonwebtoken::Algorithm::ES256)
            .unwrap();
    format!("{input}.{signature}")
}

pub fn proof_header(key: &SigningKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.bare_public_jwk()})
}

pub fn proof_claims(method: &str, url: &str, token: &str) -> Value {
    json!({
        "jti": oxidp_jose::random_token(),
        "htm": method,
        "htu": url,
        "iat": now(),
        "ath": b64url_encode(sha256(token)),
    })
}

/// A valid proof for `method url` presenting `token`.
pub fn proof(key: &SigningKey, method: &str, url: &str, token: &str) -> String {
    forge(key, &proof_header(key), &proof_claims(method, url, token))
}

/// A request head with `Authorization: {authorization}` and these `DPoP` headers.
pub fn request(
    method: &str,
    path: &str,
    authorization: &str,
    proofs: &[&str],
) -> http::request::Parts {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", authorization);
    for proof in proofs {
        builder = builder.header("dpop", *proof);
    }
    builder.body(()).unwrap().into_parts().0
}

pub struct Api {
    pub issuer: TestIssuer,
    pub validator: Validator,
    pub key: SigningKey,
}

impl Api {
    pub async fn start(check: impl FnOnce(DpopCheck) -> DpopCheck) -> Self {
        let issuer = TestIssuer::start().await;
        let validator = Validator::new(issuer.validator_options())
            .unwrap()
            .with_check(check(DpopCheck::new(API).unwrap()));
        Self {
            issuer,
            validator,
            key: es256(),
        }
    }

    /// A JWT bound to `self.key`.
    pub fn bound_token(&self) -> String {
        self.issuer
            .mint_dpop_bound(&self.issuer.claims("orders.read"), &self.key.thumbprint())
    }

    pub async fn call(&self, parts: &http::request::Parts) -> Result<ValidatedToken, AuthError> {
        self.validator
            .validate_request(RequestInfo::from_parts(parts))
            .await
    }

    /// `GET /orders` with `token` under the DPoP scheme and `proof`.
    pub async fn get_orders(&self, token: &str, proof: &str) -> Result<ValidatedToken, AuthError> {
        self.call(&request(
            "GET",
            "/orders",
            &format!("DPoP {token}"),
            &[proof],
        ))
        .await
    }
}

pub fn assert_invalid_proof(result: Result<ValidatedToken, AuthError>, reason: &str) {
    let error = result.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidDpopProof(leak(reason)),
        "{error:?}"
    );
    assert_eq!(error.status(), 401);
    let challenge = error.www_authenticate().unwrap();
    assert!(
        challenge.starts_with(
            r#"DPoP realm="test-api", error="invalid_dpop_proof", error_description=""#
        ),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(r#"algs="ES256 ES384 EdDSA PS256 RS256""#),
        "{challenge}"
    );
}

fn leak(reason: &str) -> &'static str {
    Box::leak(reason.to_owned().into_boxed_str())
}

#[tokio::test]
async fn a_dpop_bound_jwt_with_a_valid_proof_is_accepted() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    // The query is not part of `htu` (RFC 9449 §4.3).
    let parts = request(
        "GET",
        "/orders?page=2",
        &format!("DPoP {token}"),
        &[&proof(&api.key, "GET", &format!("{API}/orders"), &token)],
    );
    let validated = api.call(&parts).await.unwrap();
    assert!(validated.claims().has_scope("orders.read"));
}

#[tokio::test]
async fn an_introspected_reference_token_bound_by_cnf_jkt_is_checked_the_same_way() {
    let api = Api::start(|check| check).await;
    let mut claims = api.issuer.claims("orders.read");
    claims["cnf"] = json!({ "jkt": api.key.thumbprint() });
    let token = api.issuer.issue_reference_token(claims);
    let good = proof(&api.key, "GET", &format!("{API}/orders"), &token);
    assert!(api.get_orders(&token, &good).await.is_ok());

    let stranger = es256();
    let error = api
        .get_orders(
            &token,
            &proof(&stranger, "GET", &format!("{API}/orders"), &token),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
    );
    let error = api
        .validator
        .validate(&oxidp_api_auth::testing::bearer(&token))
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::DpopBoundAsBearer)
    );
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_invalid_token_with_both_challenges() {
    let api = Api::start(|check| check).await;
    let parts = request(
        "GET",
        "/orders",
        &format!("Bearer {}", api.bound_token()),
        &[],
    );
    let error = api.call(&parts).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::DpopBoundAsBearer)
    );
    assert_eq!(
        error.www_authenticate().unwrap(),
        r#"Bearer realm="test-api", error="invalid_token", error_description="a DPoP-bound token must be presented with the DPoP scheme", DPoP realm="test-api", algs="ES256 ES384 EdDSA PS256 RS256""#
    );
}

#[tokio::test]
async fn an_unbound_token_under_the_dpop_scheme_is_invalid_token() {
    let api = Api::start(|check| check).await;
    let token = api.issuer.mint(&api.issuer.claims("orders.read"));
    let error = api
        .get_orders(
            &token,
            &proof(&api.key, "GET", &format!("{API}/orders"), &token),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::NotDpopBound)
    );
    assert!(
        error
            .www_authenticate()
            .unwrap()
            .starts_with(r#"DPoP realm="test-api", error="invalid_token""#)
    );
}

#[tokio::test]
async fn unbound_bearer_tokens_pass_unless_dpop_is_required() {
    let lenient = Api::start(|check| check).await;
    let token = lenient.issuer.mint(&lenient.issuer.claims("orders.read"));
    let bearer = request("GET", "/orders", &format!("Bearer {token}"), &[]);
    assert!(lenient.call(&bearer).await.is_ok());

    let strict = Api::start(DpopCheck::require_dpop).await;
    let token = strict.issuer.mint(&strict.issuer.claims("orders.read"));
    let bearer = request("GET", "/orders", &format!("Bearer {token}"), &[]);
    assert_eq!(
        strict.call(&bearer).await.unwrap_err().kind(),
        &ErrorKind::InvalidToken(InvalidToken::DpopRequired)
    );
}

#[tokio::test]
async fn a_token_signed_by_a_stranger_never_reaches_the_proof_check() {
    let api = Api::start(|check| check).await;
    let forged = es256()
        .sign_jwt(
            "at+jwt",
            &json!({"cnf": {"jkt": api.key.thumbprint()}, "iss": api.issuer.issuer()}),
        )
        .unwrap();
    let error = api
        .get_orders(
            &forged,
            &proof(&api.key, "GET", &format!("{API}/orders"), &forged),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::InvalidToken(_)),
        "{error:?}"
    );
    // Under the DPoP scheme, the refusal is a DPoP challenge.
    assert!(error.www_authenticate().unwrap().starts_with("DPoP "));
}

#[tokio::test]
async fn the_request_needs_exactly_one_dpop_header() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    let url = format!("{API}/orders");
    let auth = format!("DPoP {token}");
    let one = proof(&api.key, "GET", &url, &token);
    let two = proof(&api.key, "GET", &url, &token);
    for proofs in [&[][..], &[one.as_str(), two.as_str()]] {
        let result = api.call(&request("GET", "/orders", &auth, proofs)).await;
        assert_invalid_proof(result, "the request must carry exactly one DPoP header");
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused_within_the_window() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    let proof = proof(&api.key, "GET", &format!("{API}/orders"), &token);
    assert!(api.get_orders(&token, &proof).await.is_ok());
    assert_invalid_proof(
        api.get_orders(&token, &proof).await,
        "the DPoP proof was used before",
    );
}

#[tokio::test]
async fn a_proof_for_another_key_than_the_tokens_is_invalid_token() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    let error = api
        .get_orders(
            &token,
            &proof(&es256(), "GET", &format!("{API}/orders"), &token),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
    );
    assert!(
        error
            .www_authenticate()
            .unwrap()
            .starts_with(r#"DPoP realm="test-api", error="invalid_token""#)
    );
}

#[tokio::test]
async fn htu_is_the_configured_external_url_with_a_path_prefix() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::new(issuer.validator_options())
        .unwrap()
        .with_check(DpopCheck::new("https://example.com/orders-api/").unwrap());
    let key = es256();
    let token = issuer.mint_dpop_bound(&issuer.claims("a"), &key.thumbprint());
    let auth = format!("DPoP {token}");
    let external = proof(&key, "GET", "https://example.com/orders-api/orders", &token);
    let parts = request("GET", "/orders", &auth, &[&external]);
    assert!(
        validator
            .validate_request(RequestInfo::from_parts(&parts))
            .await
            .is_ok()
    );

    // The API's own address, as it sees itself behind the proxy, is not what callers sign.
    let internal = proof(&key, "GET", "http://10.0.0.5:8080/orders", &token);
    let parts = request("GET", "/orders", &auth, &[&internal]);
    assert_invalid_proof(
        validator
            .validate_request(RequestInfo::from_parts(&parts))
            .await,
        "the DPoP proof is for another URL",
    );
}

#[tokio::test]
async fn headers_alone_cannot_carry_a_dpop_request() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    let parts = request(
        "GET",
        "/orders",
        &format!("DPoP {token}"),
        &[&proof(&api.key, "GET", &format!("{API}/orders"), &token)],
    );
    assert_invalid_proof(
        api.validator.validate(&parts.headers).await,
        "the API cannot check the proof without the request's method and URL",
    );
}

struct BrokenCache;

#[async_trait::async_trait]
impl ReplayCache for BrokenCache {
    async fn record_once(&self, _: [u8; 32], _: i64) -> Result<bool, ReplayCacheError> {
        Err(ReplayCacheError::Unavailable)
    }
}

#[tokio::test]
async fn a_failing_replay_cache_is_a_503_and_never_an_acceptance() {
    let api = Api::start(|check| check.replay_cache(Arc::new(BrokenCache))).await;
    let token = api.bound_token();
    let error = api
        .get_orders(
            &token,
            &proof(&api.key, "GET", &format!("{API}/orders"), &token),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::ReplayCheckUnavailable);
    assert_eq!(error.status(), 503);
    assert_eq!(error.www_authenticate(), None);
}

#[tokio::test]
async fn a_shared_replay_cache_refuses_a_proof_replayed_at_another_instance() {
    let issuer = TestIssuer::start().await;
    let shared = Arc::new(MemoryReplayCache::default());
    let instance = || {
        Validator::new(issuer.validator_options())
            .unwrap()
            .with_check(DpopCheck::new(API).unwrap().replay_cache(shared.clone()))
    };
    let (one, two) = (instance(), instance());
    let key = es256();
    let token = issuer.mint_dpop_bound(&issuer.claims("a"), &key.thumbprint());
    let parts = request(
        "GET",
        "/orders",
        &format!("DPoP {token}"),
        &[&proof(&key, "GET", &format!("{API}/orders"), &token)],
    );
    assert!(
        one.validate_request(RequestInfo::from_parts(&parts))
            .await
            .is_ok()
    );
    assert_invalid_proof(
        two.validate_request(RequestInfo::from_parts(&parts)).await,
        "the DPoP proof was used before",
    );
}

#[tokio::test]
async fn nonce_mode_asks_for_a_nonce_and_accepts_the_one_it_gave() {
    let api = Api::start(|check| check.require_nonce(Duration::from_secs(300), None)).await;
    let token = api.bound_token();
    let url = format!("{API}/orders");
    let error = api
        .get_orders(&token, &proof(&api.key, "GET", &url, &token))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::UseDpopNonce);
    assert_eq!(error.status(), 401);
    assert!(
        error
            .www_authenticate()
            .unwrap()
            .starts_with(r#"DPoP realm="test-api", error="use_dpop_nonce""#)
    );
    let response: http::Response<String> = error.to_http_response();
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(error.dpop_nonce(), Some(nonce.as_str()));

    let mut claims = proof_claims("GET", &url, &token);
    claims["nonce"] = json!(nonce);
    let with_nonce = forge(&api.key, &proof_header(&api.key), &claims);
    assert!(api.get_orders(&token, &with_nonce).await.is_ok());

    // A nonce of another API (another secret) is not ours.
    let other = Api::start(|check| check.require_nonce(Duration::from_secs(300), None)).await;
    let foreign = other
        .get_orders(&token, &proof(&api.key, "GET", &url, &token))
        .await
        .unwrap_err();
    let mut claims = proof_claims("GET", &url, &token);
    claims["nonce"] = json!(foreign.dpop_nonce().unwrap());
    let error = api
        .get_orders(&token, &forge(&api.key, &proof_header(&api.key), &claims))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::UseDpopNonce);
}

#[tokio::test]
async fn nonce_mode_puts_a_fresh_nonce_on_every_refusal() {
    let api = Api::start(|check| check.require_nonce(Duration::from_secs(300), None)).await;
    let missing = api
        .call(&request("GET", "/orders", "Basic eDp5", &[]))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), &ErrorKind::MissingToken);
    assert!(missing.dpop_nonce().is_some());
    let response: http::Response<String> = missing.to_http_response();
    assert!(response.headers().contains_key("dpop-nonce"));
}

#[tokio::test]
async fn nonces_from_instances_sharing_a_secret_are_accepted_by_each_other() {
    let secret = [42u8; 32];
    let one = Api::start(|check| check.require_nonce(Duration::from_secs(300), Some(secret))).await;
    let nonce = one
        .call(&request("GET", "/orders", "Basic eDp5", &[]))
        .await
        .unwrap_err()
        .dpop_nonce()
        .unwrap()
        .to_owned();
    let two = Api::start(|check| check.require_nonce(Duration::from_secs(300), Some(secret))).await;
    let token = two.bound_token();
    let mut claims = proof_claims("GET", &format!("{API}/orders"), &token);
    claims["nonce"] = json!(nonce);
    let proof = forge(&two.key, &proof_header(&two.key), &claims);
    assert!(two.get_orders(&token, &proof).await.is_ok());
}

#[tokio::test]
async fn through_the_axum_layer_a_nested_route_is_signed_by_its_full_path_and_refusals_carry_the_nonce()
 {
    use axum::routing::get;
    let api = Api::start(|check| check.require_nonce(Duration::from_secs(300), None)).await;
    let orders = axum::Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route_layer(oxidp_api_auth::RequireAccessToken::new(
            api.validator.clone(),
        ));
    let app = axum::Router::new().nest("/api", orders);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let token = api.bound_token();
    let http = reqwest::Client::new();
    let call = |proof: String| {
        http.get(format!("{address}/api/orders?x=1"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    let url = format!("{API}/api/orders");
    let first = call(proof(&api.key, "GET", &url, &token)).await.unwrap();
    assert_eq!(first.status(), 401);
    let challenge = first.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="use_dpop_nonce""#),
        "{challenge}"
    );
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();

    let mut claims = proof_claims("GET", &url, &token);
    claims["nonce"] = json!(nonce);
    let second = call(forge(&api.key, &proof_header(&api.key), &claims))
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().await.unwrap(), "orders");
}
