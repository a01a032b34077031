//! Against the real oxidp server, in-process on 127.0.0.1:0: a client-credentials JWT and a
//! reference token, issued by oxidp, validated for its `orders-api` resource.

use crate::helpers::bearer;
use oxidp_api_auth::{
    DpopCheck, ErrorKind, InvalidToken, RequestInfo, TokenKind, Validator, ValidatorOptions,
};
use oxidp_testing::TestServer;
use serde_json::Value;

const CONFIG: &str = r#"
[[api_resources]]
name = "orders-api"
scopes = ["orders.read", "orders.write"]
secrets = [{ value = "orders-api-secret" }]

[[clients]]
client_id = "m2m"
secrets = [{ value = "m2m-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read", "orders.write"]

[[clients]]
client_id = "m2m-dpop-reference"
secrets = [{ value = "dpop-reference-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_type = "reference"
require_dpop = true

[[clients]]
client_id = "m2m-reference"
secrets = [{ value = "reference-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_type = "reference"
"#;

pub struct Oxidp {
    pub issuer: String,
    pub server: TestServer,
}

impl Oxidp {
    pub async fn spawn() -> Self {
        let server = TestServer::start(CONFIG).await;
        Self {
            issuer: server.issuer.clone(),
            server,
        }
    }

    pub async fn token(&self, client_id: &str, secret: &str, scope: &str) -> String {
        self.server
            .access_token_for((client_id, secret), Some(scope))
            .await
    }

    pub async fn revoke(&self, token: &str) {
        self.server
            .revoke(("m2m-reference", "reference-secret"), token)
            .await;
    }

    pub fn validator(&self) -> Validator {
        Validator::new(
            ValidatorOptions::new(self.issuer.clone(), "orders-api")
                .introspection_secret("orders-api-secret"),
        )
        .unwrap()
    }
}

#[tokio::test]
async fn an_oxidp_client_credentials_jwt_is_validated_locally() {
    let oxidp = Oxidp::spawn().await;
    let token = oxidp.token("m2m", "m2m-secret", "orders.read").await;
    let validated = oxidp.validator().validate(&bearer(&token)).await.unwrap();
    assert_eq!(validated.kind(), TokenKind::Jwt);
    let claims = validated.claims();
    assert_eq!(claims.issuer(), Some(oxidp.issuer.as_str()));
    assert_eq!(claims.audiences(), ["orders-api"]);
    assert_eq!(claims.scopes(), ["orders.read"]);
    assert_eq!(claims.client_id(), Some("m2m"));
    assert!(validated.require_scopes(["orders.write"]).is_err());
}

#[tokio::test]
async fn an_oxidp_reference_token_is_introspected_and_refused_once_revoked() {
    let oxidp = Oxidp::spawn().await;
    let token = oxidp
        .token("m2m-reference", "reference-secret", "orders.read")
        .await;
    assert!(!token.contains('.'), "a reference token is opaque");
    let validator = Validator::new(
        ValidatorOptions::new(oxidp.issuer.clone(), "orders-api")
            .introspection_secret("orders-api-secret")
            .introspection_cache_duration(std::time::Duration::ZERO),
    )
    .unwrap();
    let validated = validator.validate(&bearer(&token)).await.unwrap();
    assert_eq!(validated.kind(), TokenKind::Reference);
    assert_eq!(validated.claims().client_id(), Some("m2m-reference"));
    assert!(validated.claims().has_scope("orders.read"));

    oxidp.revoke(&token).await;
    let error = validator.validate(&bearer(&token)).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::Inactive)
    );
}

#[tokio::test]
async fn an_oxidp_token_for_the_wrong_audience_is_refused() {
    let oxidp = Oxidp::spawn().await;
    let token = oxidp.token("m2m", "m2m-secret", "orders.read").await;
    let validator =
        Validator::new(ValidatorOptions::new(oxidp.issuer.clone(), "billing-api")).unwrap();
    let error = validator.validate(&bearer(&token)).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::WrongAudience)
    );
}

#[tokio::test]
async fn a_revoked_oxidp_jwt_is_refused_only_by_a_validator_that_introspects() {
    let oxidp = Oxidp::spawn().await;
    let token = oxidp.token("m2m", "m2m-secret", "orders.read").await;
    let introspecting = Validator::new(
        ValidatorOptions::new(oxidp.issuer.clone(), "orders-api")
            .introspection_secret("orders-api-secret")
            .introspect_jwts(),
    )
    .unwrap();
    let validated = introspecting.validate(&bearer(&token)).await.unwrap();
    assert_eq!(validated.kind(), TokenKind::Jwt);
    assert_eq!(validated.claims().client_id(), Some("m2m"));

    oxidp.server.revoke(("m2m", "m2m-secret"), &token).await;
    // A fresh validator, as the answer above is cached for a few seconds.
    let introspecting = Validator::new(
        ValidatorOptions::new(oxidp.issuer.clone(), "orders-api")
            .introspection_secret("orders-api-secret")
            .introspect_jwts(),
    )
    .unwrap();
    let error = introspecting.validate(&bearer(&token)).await.unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::InvalidToken(InvalidToken::Inactive)
    );
    // What a purely local validator cannot see: the revoked JWT still verifies.
    assert!(oxidp.validator().validate(&bearer(&token)).await.is_ok());
}

/// A client-credentials token bound to `key`: the token request carries a proof of it (signed
/// here by hand, see `dpop.rs`).
async fn dpop_token(oxidp: &Oxidp, client: (&str, &str), key: &oxidp_jose::SigningKey) -> Value {
    let endpoint = oxidp.server.url("/connect/token");
    let claims = serde_json::json!({
        "jti": oxidp_jose::random_token(),
        "htm": "POST",
        "htu": endpoint,
        "iat": crate::dpop::now(),
    });
    let proof = crate::dpop::forge(key, &crate::dpop::proof_header(key), &claims);
    let response = reqwest::Client::new()
        .post(&endpoint)
        .basic_auth(client.0, Some(client.1))
        .header("dpop", proof)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "orders.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn dpop_validator(oxidp: &Oxidp) -> Validator {
    Validator::new(
        ValidatorOptions::new(oxidp.issuer.clone(), "orders-api")
            .introspection_secret("orders-api-secret"),
    )
    .unwrap()
    .with_check(DpopCheck::new(crate::dpop::API).unwrap())
}

#[tokio::test]
async fn oxidp_dpop_bound_jwts_and_reference_tokens_are_checked_against_their_key() {
    let oxidp = Oxidp::spawn().await;
    let validator = dpop_validator(&oxidp).await;
    let key = crate::dpop::es256();
    let url = format!("{}/orders", crate::dpop::API);
    for (client, kind) in [
        (("m2m", "m2m-secret"), TokenKind::Jwt),
        (
            ("m2m-dpop-reference", "dpop-reference-secret"),
            TokenKind::Reference,
        ),
    ] {
        let response = dpop_token(&oxidp, client, &key).await;
        assert_eq!(response["token_type"], "DPoP");
        let token = response["access_token"].as_str().unwrap();
        let proof = crate::dpop::proof(&key, "GET", &url, token);
        let parts = crate::dpop::request("GET", "/orders", &format!("DPoP {token}"), &[&proof]);
        let validated = validator
            .validate_request(RequestInfo::from_parts(&parts))
            .await
            .unwrap();
        assert_eq!(validated.kind(), kind);
        assert_eq!(
            validated.claims().get("cnf").unwrap()["jkt"],
            key.thumbprint().as_str()
        );

        // Another key's proof, and the token as a Bearer token: refused.
        let stranger = crate::dpop::es256();
        let proof = crate::dpop::proof(&stranger, "GET", &url, token);
        let parts = crate::dpop::request("GET", "/orders", &format!("DPoP {token}"), &[&proof]);
        let error = validator
            .validate_request(RequestInfo::from_parts(&parts))
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
        );
        let error = validator.validate(&bearer(token)).await.unwrap_err();
        assert_eq!(
            error.kind(),
            &ErrorKind::InvalidToken(InvalidToken::DpopBoundAsBearer)
        );
        // A validator without a DPoP check refuses the bound token too.
        let error = oxidp
            .validator()
            .validate(&bearer(token))
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            &ErrorKind::InvalidToken(InvalidToken::ConfirmationFailed)
        );
    }
}
