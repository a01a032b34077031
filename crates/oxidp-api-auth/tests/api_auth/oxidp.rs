//! Against the real oxidp server, in-process on 127.0.0.1:0: a client-credentials JWT and a
//! reference token, issued by oxidp, validated for its `orders-api` resource.

use crate::helpers::bearer;
use oxidp_api_auth::{ErrorKind, InvalidToken, TokenKind, Validator, ValidatorOptions};
use oxidp_server::Server;
use oxidp_server::config::Config;
use tempfile::TempDir;

pub struct Oxidp {
    pub issuer: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _dir: TempDir,
}

impl Oxidp {
    pub async fn spawn() -> Self {
        let dir = TempDir::new().unwrap();
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"

[store]
url = "sqlite://{db}"

[[api_resources]]
name = "orders-api"
scopes = ["orders.read", "orders.write"]
secrets = [{{ value = "orders-api-secret" }}]

[[clients]]
client_id = "m2m"
secrets = [{{ value = "m2m-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read", "orders.write"]

[[clients]]
client_id = "m2m-reference"
secrets = [{{ value = "reference-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_type = "reference"
"#,
            db = dir.path().join("oxidp.db").display()
        );
        let server = Server::build(Config::from_toml(&toml).unwrap())
            .await
            .unwrap();
        let issuer = server.issuer().to_owned();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            issuer,
            _shutdown: shutdown,
            _dir: dir,
        }
    }

    pub async fn token(&self, client_id: &str, secret: &str, scope: &str) -> String {
        let response: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/connect/token", self.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn revoke(&self, token: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/connect/revocation", self.issuer))
            .basic_auth("m2m-reference", Some("reference-secret"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
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
