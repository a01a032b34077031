//! DPoP from the client's side, against the fake authorization server (which verifies proofs
//! with the server's own verification code) and an API protected by `oxidp-api-auth`:
//! a proof on every token request, one retry on `use_dpop_nonce`, nonces kept per origin, and
//! API calls with `ath`.

use crate::fake::{CLIENT_ID, Fake, FakeExt, ManualClock};
use axum::extract::State;
use axum::response::IntoResponse;
use oxidp_api_auth::{DpopCheck, RequestInfo, Validator};
use oxidp_client::{
    AccessToken, ClientCredentialsManager, DpopKey, Error, OAuthClient, RefreshTokenManager, Token,
};
use oxidp_jose::dpop::{DpopProof, ProofExpectation};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn dpop_client(fake: &Fake, key: &DpopKey) -> OAuthClient {
    fake.client_builder()
        .clock(ManualClock::new())
        .dpop(key.clone())
        .build()
        .unwrap()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

#[tokio::test]
async fn every_grant_carries_a_proof_of_the_clients_key_for_the_token_endpoint() {
    let fake = Fake::start().await;
    let key = DpopKey::generate().unwrap();
    let client = dpop_client(&fake, &key);
    let token = ClientCredentialsManager::new(client.clone())
        .get_token()
        .await
        .unwrap();
    assert_eq!(token.token_type, "DPoP");
    assert_eq!(fake.token_requests(), 1, "no nonce asked, no retry");

    let sessions = RefreshTokenManager::new(client);
    sessions
        .exchange_code(
            "s1",
            oxidp_client::testing::AUTHORIZATION_CODE,
            "https://app/cb",
            None,
        )
        .await
        .unwrap();
    let code_proof = fake.last_token_form().dpop.unwrap();
    let token_endpoint = fake.token_endpoint();
    let verified = DpopProof::verify(
        &code_proof,
        &ProofExpectation::new("POST", &token_endpoint, now()),
    )
    .unwrap();
    assert_eq!(verified.jkt, key.thumbprint());
    assert_eq!(verified.nonce, None);
    assert!(
        !code_proof.contains(CLIENT_ID),
        "a proof holds no credentials"
    );
}

#[tokio::test]
async fn use_dpop_nonce_at_the_token_endpoint_gets_one_retry_and_the_nonce_is_kept() {
    let fake = Fake::start().await;
    fake.require_dpop_nonce("nonce-1");
    let key = DpopKey::generate().unwrap();
    let client = dpop_client(&fake, &key);
    let tokens = ClientCredentialsManager::new(client.clone());
    assert_eq!(tokens.get_token().await.unwrap().token_type, "DPoP");
    assert_eq!(fake.token_requests(), 2, "one refusal, one retry");
    let retry = fake.last_token_form().dpop.unwrap();
    let token_endpoint = fake.token_endpoint();
    let expected = ProofExpectation::new("POST", &token_endpoint, now()).with_nonce("nonce-1");
    assert!(DpopProof::verify(&retry, &expected).is_ok());

    // The next request of any grant starts with the nonce: no refusal.
    tokens.invalidate();
    tokens.get_token().await.unwrap();
    assert_eq!(fake.token_requests(), 3);
}

/// A token endpoint that wants a new nonce on every request, and counts them.
async fn insatiable(State(count): State<Arc<AtomicUsize>>) -> axum::response::Response {
    let n = count.fetch_add(1, Ordering::SeqCst);
    (
        axum::http::StatusCode::BAD_REQUEST,
        [("dpop-nonce", format!("nonce-{n}"))],
        axum::Json(serde_json::json!({"error": "use_dpop_nonce"})),
    )
        .into_response()
}

#[tokio::test]
async fn a_server_that_keeps_asking_for_nonces_gets_exactly_one_retry() {
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route("/token", axum::routing::post(insatiable))
        .with_state(count.clone());
    let server = serve(app).await;
    let client = OAuthClient::builder("app", "secret")
        .token_endpoint(format!("{server}/token"))
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let error = ClientCredentialsManager::new(client)
        .get_token()
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error(), Some("use_dpop_nonce"));
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn use_dpop_nonce_without_a_nonce_is_not_retried() {
    let fake = Fake::start().await;
    fake.answer_token_requests(400, r#"{"error":"use_dpop_nonce"}"#);
    let client = dpop_client(&fake, &DpopKey::generate().unwrap());
    let error = ClientCredentialsManager::new(client)
        .get_token()
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error(), Some("use_dpop_nonce"));
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn a_client_without_a_key_sends_no_proof_and_refuses_to_use_a_dpop_token() {
    let fake = Fake::start().await;
    let client = fake.client(ManualClock::new());
    let token = ClientCredentialsManager::new(client.clone())
        .get_token()
        .await
        .unwrap();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(fake.last_token_form().dpop, None);

    let dpop_token = Token::new(
        AccessToken::new("at"),
        "DPoP",
        time::OffsetDateTime::now_utc(),
    );
    let error = client
        .send_with_token(reqwest::Client::new().get(fake.echo_url()), &dpop_token)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Configuration(_)), "{error:?}");
}

#[tokio::test]
async fn a_public_client_sends_its_id_and_no_secret() {
    let fake = Fake::start().await;
    fake.answer_token_requests(400, r#"{"error":"invalid_client"}"#);
    let client = OAuthClient::public("native")
        .token_endpoint(fake.token_endpoint())
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let _ = ClientCredentialsManager::new(client).get_token().await;
    let request = fake.last_token_form();
    assert_eq!(request.authorization, None);
    assert_eq!(request.form["client_id"], "native");
    assert!(!request.form.contains_key("client_secret"));
    assert!(request.dpop.is_some());
}

#[tokio::test]
async fn a_bearer_token_goes_to_an_api_without_a_proof() {
    let fake = Fake::start().await;
    let client = dpop_client(&fake, &DpopKey::generate().unwrap());
    let bearer = Token::new(
        AccessToken::new("at-9"),
        "Bearer",
        time::OffsetDateTime::now_utc(),
    );
    let seen: serde_json::Value = client
        .send_with_token(reqwest::Client::new().get(fake.echo_url()), &bearer)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["authorization"], "Bearer at-9");
    assert_eq!(seen["dpop"], serde_json::Value::Null);
}

/// An API protected by oxidp-api-auth in nonce mode, counting the requests it gets.
struct NonceApi {
    url: String,
    issuer: oxidp_api_auth::testing::TestIssuer,
    calls: Arc<AtomicUsize>,
}

impl NonceApi {
    async fn start() -> Self {
        let issuer = oxidp_api_auth::testing::TestIssuer::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let validator = Validator::new(issuer.validator_options())
            .unwrap()
            .with_check(
                DpopCheck::new(&url)
                    .unwrap()
                    .require_nonce(Duration::from_secs(300), None),
            );
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let validator = validator.clone();
            let calls = counted.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let (parts, _) = request.into_parts();
                match validator
                    .validate_request(RequestInfo::from_parts(&parts))
                    .await
                {
                    Ok(token) => axum::Json(token.into_claims()).into_response(),
                    Err(error) => error.into_response(),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, issuer, calls }
    }

    fn bound_token(&self, key: &DpopKey) -> Token {
        let jwt = self
            .issuer
            .mint_dpop_bound(&self.issuer.claims("orders.read"), key.thumbprint());
        Token::new(
            AccessToken::new(jwt),
            "DPoP",
            time::OffsetDateTime::now_utc(),
        )
    }
}

#[tokio::test]
async fn an_api_asking_for_a_nonce_gets_one_retry_and_the_nonce_is_kept_for_its_origin() {
    let api = NonceApi::start().await;
    let fake = Fake::start().await;
    let key = DpopKey::generate().unwrap();
    let client = dpop_client(&fake, &key);
    let token = api.bound_token(&key);
    let http = reqwest::Client::new();

    let response = client
        .send_with_token(http.get(format!("{}/orders?page=1", api.url)), &token)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        api.calls.load(Ordering::SeqCst),
        2,
        "one refusal, one retry"
    );

    // The nonce is remembered: the next call (another path, same origin) passes at once.
    let response = client
        .send_with_token(http.post(format!("{}/orders", api.url)).body("{}"), &token)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refused_proof_at_the_api_is_returned_without_a_retry() {
    let api = NonceApi::start().await;
    let fake = Fake::start().await;
    let client = dpop_client(&fake, &DpopKey::generate().unwrap());
    // A token bound to another key: refused before the nonce is looked at, and an error other
    // than use_dpop_nonce is not retried (even though it brings a nonce).
    let token = api.bound_token(&DpopKey::generate().unwrap());
    let response = client
        .send_with_token(
            reqwest::Client::new().get(format!("{}/orders", api.url)),
            &token,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(response.headers().contains_key("dpop-nonce"));
    assert_eq!(api.calls.load(Ordering::SeqCst), 1);
}

/// A token endpoint that issues a token every time, hands out `DPoP-Nonce: n-<count>` on each
/// success, and records the nonce of each proof it got.
async fn rotating(
    State(seen): State<Arc<std::sync::Mutex<Vec<Option<String>>>>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let proof = headers["dpop"].to_str().unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &oxidp_jose::b64url_decode(proof.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    let mut seen = seen.lock().unwrap();
    seen.push(claims["nonce"].as_str().map(str::to_owned));
    let n = seen.len();
    (
        [("dpop-nonce", format!("n-{n}"))],
        axum::Json(serde_json::json!({
            "access_token": format!("at-{n}"), "token_type": "DPoP", "expires_in": 300
        })),
    )
        .into_response()
}

#[tokio::test]
async fn a_nonce_from_a_successful_response_goes_into_the_next_proof() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/token", axum::routing::post(rotating))
        .with_state(seen.clone());
    let server = serve(app).await;
    let client = OAuthClient::builder("app", "secret")
        .token_endpoint(format!("{server}/token"))
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let tokens = ClientCredentialsManager::new(client);
    for _ in 0..3 {
        tokens.invalidate();
        tokens.get_token().await.unwrap();
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [None, Some("n-1".to_owned()), Some("n-2".to_owned())]
    );
}
