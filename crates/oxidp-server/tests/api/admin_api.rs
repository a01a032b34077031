//! The admin JSON API: `oxidp.admin` Bearer tokens only, one error envelope, session query with
//! keyset paging, audited removal, and the OpenAPI document.

use crate::browser::*;
use crate::helpers::*;
use oxidp_core::model::GrantType;
use oxidp_server::config::{ApiResourceConfig, ClientConfig, SecretConfig};
use serde_json::{Value, json};

const SESSIONS: &str = "/api/admin/sessions";
const ADMIN_CLIENT: (&str, &str) = ("admin-tool", "admin-tool-secret");

/// A server with server-side sessions (unless `server_side` is false) and a client-credentials
/// client allowed `oxidp.admin`, a scope of the `oxidp-admin` API resource.
async fn spawn_with_sessions(server_side: bool) -> TestApp {
    TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = server_side;
        config.api_resources.push(ApiResourceConfig {
            name: "oxidp-admin".into(),
            display_name: None,
            enabled: true,
            scopes: vec!["oxidp.admin".into()],
            secrets: Vec::new(),
        });
        let mut client = oxidp_core::model::Client::new(ADMIN_CLIENT.0);
        client.allowed_grant_types = vec![GrantType::ClientCredentials];
        client.allowed_scopes = vec!["oxidp.admin".into()];
        let secret = SecretConfig {
            value: Some(ADMIN_CLIENT.1.into()),
            ..Default::default()
        };
        config.clients.push(ClientConfig::new(client, vec![secret]));
    })
    .await
}

async fn spawn() -> TestApp {
    spawn_with_sessions(true).await
}

async fn admin_token(app: &TestApp) -> String {
    let tokens = app.token_for(ADMIN_CLIENT, Some("oxidp.admin")).await;
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn get_sessions(app: &TestApp, token: &str, query: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .get(format!("{}?{}", app.url(SESSIONS), form_body(query)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A page, asserting 200.
async fn page(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Value {
    let response = get_sessions(app, token, query).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn delete_sessions(app: &TestApp, token: &str, body: &str) -> reqwest::Response {
    app.http
        .delete(app.url(SESSIONS))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Asserts the admin API's envelope with `code` and `status` and returns the message.
async fn assert_envelope(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("the error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let message = body["error"]["message"].as_str().expect("a message");
    assert!(!message.is_empty());
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");
    message.to_owned()
}

fn claim(tokens: &Value, name: &str) -> String {
    jwt_payload(tokens["id_token"].as_str().unwrap())[name]
        .as_str()
        .unwrap()
        .to_owned()
}

fn session_ids(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn anonymous_and_invalid_tokens_get_401_with_a_bearer_challenge() {
    let app = spawn().await;
    let response = app.get(SESSIONS).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("scope=\"oxidp.admin\""), "{challenge}");
    assert_envelope(response, 401, "unauthorized").await;

    let response = app
        .http
        .delete(app.url(SESSIONS))
        .header("content-type", "application/json")
        .body(r#"{"subject_id":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_envelope(response, 401, "unauthorized").await;

    let response = app
        .http
        .get(app.url(SESSIONS))
        .header(
            "authorization",
            basic_header("admin-tool", "admin-tool-secret"),
        )
        .send()
        .await
        .unwrap();
    assert_envelope(response, 401, "unauthorized").await;

    let response = get_sessions(&app, "not-a-token", &[]).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_envelope(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_token_without_the_admin_scope_gets_403_insufficient_scope() {
    let app = spawn().await;
    let tokens = app
        .token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    let token = tokens["access_token"].as_str().unwrap();
    let response = get_sessions(&app, token, &[]).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_envelope(response, 403, "forbidden").await;
    let response = delete_sessions(&app, token, r#"{"subject_id":"x"}"#).await;
    assert_envelope(response, 403, "forbidden").await;
}

/// A user's token with `oxidp.admin` opens the API only while that user holds the admin role:
/// an interactive client allowed the scope cannot make any user an administrator.
#[tokio::test]
async fn a_user_token_needs_the_admin_role_as_well_as_the_scope() {
    let app = TestApp::spawn_with(None, |config| {
        config.server_side_sessions.enabled = true;
        config.api_resources.push(ApiResourceConfig {
            name: "oxidp-admin".into(),
            display_name: None,
            enabled: true,
            scopes: vec!["oxidp.admin".into()],
            secrets: Vec::new(),
        });
        let web = &mut config
            .clients
            .iter_mut()
            .find(|c| c.client.client_id == "web")
            .unwrap()
            .client;
        web.allowed_scopes.push("oxidp.admin".into());
    })
    .await;
    let user_token = |user: (&'static str, &'static str)| {
        let app = &app;
        async move {
            let browser = Browser::new(app);
            let (verifier, challenge) = pkce();
            let callback = browser
                .code_flow_callback("web", "openid oxidp.admin", &challenge, user)
                .await;
            let code = query(&callback)["code"].clone();
            let response = app.redeem(("web", "web-secret"), &code, &verifier).await;
            let tokens: Value = response.json().await.unwrap();
            tokens["access_token"].as_str().unwrap().to_owned()
        }
    };
    let bob = user_token(("bob", "bob-password")).await;
    let response = get_sessions(&app, &bob, &[]).await;
    assert_envelope(response, 403, "forbidden").await;
    let alice = user_token(("alice", "alice-password")).await;
    assert_eq!(get_sessions(&app, &alice, &[]).await.status(), 200);
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let app = spawn().await;
    let token = admin_token(&app).await;
    let response = app
        .http
        .get(app.url(SESSIONS))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_envelope(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn get_lists_alices_session_after_a_login() {
    let app = spawn().await;
    let (_browser, tokens) = app.web_tokens("openid").await;
    let token = admin_token(&app).await;
    let body = page(&app, &token, &[("subject_id", &claim(&tokens, "sub"))]).await;
    assert_eq!(body["total_count"], 1);
    assert_eq!(body["total_pages"], 1);
    assert_eq!(body["current_page"], 1);
    assert_eq!(body["has_prev_results"], false);
    assert_eq!(body["has_next_results"], false);
    let session = &body["results"][0];
    assert_eq!(session["subject_id"], claim(&tokens, "sub"));
    assert_eq!(session["session_id"], claim(&tokens, "sid"));
    assert_eq!(session["client_ids"], json!(["web"]));
    for field in ["created", "renewed", "expires"] {
        let value = session[field].as_str().unwrap();
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| panic!("{field} is RFC 3339: {value}"));
    }
    // Filters are exact: another subject matches nothing.
    let body = page(&app, &token, &[("subject_id", "nobody")]).await;
    assert_eq!(body["total_count"], 0);
    assert_eq!(body["results"], json!([]));
}

#[tokio::test]
async fn paging_forward_then_backward_returns_identical_pages() {
    let app = spawn().await;
    let mut subject = String::new();
    for _ in 0..3 {
        let (_browser, tokens) = app.web_tokens("openid").await;
        subject = claim(&tokens, "sub");
    }
    let token = admin_token(&app).await;
    for size in [1usize, 2] {
        let count = size.to_string();
        let base = [("subject_id", subject.as_str()), ("count", count.as_str())];
        let mut forward = vec![page(&app, &token, &base).await];
        while forward.last().unwrap()["has_next_results"] == true {
            let results_token = forward.last().unwrap()["results_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let mut query = base.to_vec();
            query.push(("results_token", &results_token));
            forward.push(page(&app, &token, &query).await);
        }
        assert_eq!(forward.len(), 3usize.div_ceil(size), "page size {size}");
        for (index, p) in forward.iter().enumerate() {
            assert_eq!(p["total_count"], 3);
            assert_eq!(p["total_pages"], forward.len());
            assert_eq!(p["current_page"], index + 1);
        }
        let all: Vec<String> = forward.iter().flat_map(session_ids).collect();
        assert_eq!(all.len(), 3, "every session once: {all:?}");

        let mut backward = vec![forward.last().unwrap().clone()];
        while backward.last().unwrap()["has_prev_results"] == true {
            let results_token = backward.last().unwrap()["results_token"]
                .as_str()
                .unwrap()
                .to_owned();
            let mut query = base.to_vec();
            query.push(("results_token", &results_token));
            query.push(("prior", "true"));
            backward.push(page(&app, &token, &query).await);
        }
        backward.reverse();
        assert_eq!(backward, forward, "page size {size}");
    }

    // A malformed results token restarts at page 1.
    let first = page(&app, &token, &[("subject_id", &subject), ("count", "2")]).await;
    let restarted = page(
        &app,
        &token,
        &[
            ("subject_id", &subject),
            ("count", "2"),
            ("results_token", "!!not-a-token!!"),
        ],
    )
    .await;
    assert_eq!(restarted, first);
    assert_eq!(restarted["current_page"], 1);
}

#[tokio::test]
async fn a_malformed_query_gets_the_envelope() {
    let app = spawn().await;
    let token = admin_token(&app).await;
    let response = get_sessions(&app, &token, &[("count", "many")]).await;
    assert_envelope(response, 400, "invalid_request").await;
    let response = get_sessions(&app, &token, &[("prior", "maybe")]).await;
    assert_envelope(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn delete_without_subject_or_session_id_is_invalid_request() {
    let app = spawn().await;
    let token = admin_token(&app).await;
    for body in [r#"{}"#, r#"{"subject_id":"","revoke_tokens":false}"#] {
        let response = delete_sessions(&app, &token, body).await;
        assert_envelope(response, 400, "invalid_request").await;
    }
    let response = delete_sessions(&app, &token, r#"{"subject_id":"x","client_ids":[]}"#).await;
    assert_envelope(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn malformed_bodies_get_the_envelope() {
    let app = spawn().await;
    let token = admin_token(&app).await;
    let response = delete_sessions(&app, &token, r#"{"subject_id": "#).await;
    assert_envelope(response, 400, "invalid_request").await;
    let response = delete_sessions(&app, &token, r#"{"subject_id": 42}"#).await;
    assert_envelope(response, 400, "invalid_request").await;
    let response =
        delete_sessions(&app, &token, r#"{"subject_id":"x","revoke_token":false}"#).await;
    let message = assert_envelope(response, 400, "invalid_request").await;
    assert!(
        message.contains("revoke_token"),
        "names the unknown field: {message}"
    );
    let response = app
        .http
        .delete(app.url(SESSIONS))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(r#"{"subject_id":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_envelope(response, 415, "invalid_request").await;
    // The test server's body limit is 4 KiB.
    let large = json!({ "subject_id": "x".repeat(8 * 1024) }).to_string();
    let response = delete_sessions(&app, &token, &large).await;
    assert_envelope(response, 413, "invalid_request").await;
    let response = app
        .http
        .post(app.url(SESSIONS))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_envelope(response, 405, "invalid_request").await;
}

#[tokio::test]
async fn delete_by_sid_signs_the_browser_out_revokes_the_refresh_token_and_is_audited() {
    let app = spawn().await;
    let (browser, tokens) = app.web_tokens("openid offline_access").await;
    let (_other_browser, other) = app.web_tokens("openid").await;
    let token = admin_token(&app).await;
    let sid = claim(&tokens, "sid");
    let response = delete_sessions(&app, &token, &json!({ "session_id": sid }).to_string()).await;
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(
        summary,
        json!({ "sessions_matched": 1, "sessions_removed": 1, "notifications_enqueued": 0 })
    );

    let (_, challenge) = pkce();
    let response = browser
        .authorize(&[
            ("client_id", "web"),
            ("redirect_uri", WEB_REDIRECT),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(query(&location(&response))["error"], "login_required");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = app
        .post_token(
            Some(("web", "web-secret")),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    assert_oauth_error(response, 400, "invalid_grant").await;

    // The other session of the same user is untouched.
    let body = page(&app, &token, &[("subject_id", &claim(&tokens, "sub"))]).await;
    assert_eq!(session_ids(&body), [claim(&other, "sid")]);

    let audit = app.stores.audit.list_audit(10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "api:admin-tool");
    let request: Value = serde_json::from_str(&audit[0].request).unwrap();
    assert_eq!(request["session_id"], sid);
}

#[tokio::test]
async fn without_server_side_sessions_the_api_answers_not_enabled() {
    let app = spawn_with_sessions(false).await;
    let token = admin_token(&app).await;
    let response = get_sessions(&app, &token, &[]).await;
    assert_envelope(response, 409, "not_enabled").await;
    let response = delete_sessions(&app, &token, r#"{"subject_id":"x"}"#).await;
    assert_envelope(response, 409, "not_enabled").await;
}

#[tokio::test]
async fn the_openapi_document_describes_both_operations_security_and_errors() {
    let app = spawn().await;
    let response = app.get("/api/admin/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.expect("the document is JSON");
    assert!(document["openapi"].as_str().unwrap().starts_with('3'));
    let sessions = &document["paths"][SESSIONS];
    for method in ["get", "delete"] {
        let operation = &sessions[method];
        assert!(operation.is_object(), "{method} {SESSIONS} is described");
        assert_eq!(
            operation["security"],
            json!([{ "bearer": ["oxidp.admin"] }])
        );
        assert!(operation["responses"]["401"].is_object());
    }
    let parameters: Vec<&str> = sessions["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "subject_id",
        "session_id",
        "display_name",
        "results_token",
        "prior",
        "count",
    ] {
        assert!(parameters.contains(&name), "{name} in {parameters:?}");
    }
    let components = &document["components"];
    assert_eq!(components["securitySchemes"]["bearer"]["scheme"], "bearer");
    let schemas = &components["schemas"];
    for schema in [
        "SessionPage",
        "SessionView",
        "RemoveSessionsRequest",
        "RemovalSummaryView",
        "ErrorEnvelope",
    ] {
        assert!(schemas[schema].is_object(), "{schema} is described");
    }
    let codes = &schemas["ErrorCode"]["enum"];
    assert_eq!(
        codes,
        &json!([
            "unauthorized",
            "forbidden",
            "invalid_request",
            "not_enabled",
            "unavailable"
        ])
    );
}

/// Admin tokens are always reference tokens (never JWTs, which could not be recalled from an
/// API that checks them locally); the admin API validates them with the same function as
/// introspection and userinfo, which also refuses revoked JWTs (see `revocation.rs`).
#[tokio::test]
async fn a_revoked_admin_token_is_refused() {
    let app = spawn().await;
    let token = admin_token(&app).await;
    assert_ne!(token.split('.').count(), 3, "a reference token, not a JWT");
    assert_eq!(get_sessions(&app, &token, &[]).await.status(), 200);
    app.revoke(ADMIN_CLIENT, &token).await;
    let response = get_sessions(&app, &token, &[]).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_envelope(response, 401, "unauthorized").await;
}

/// A JWT cannot carry the admin scope, but the admin API still validates JWTs with the shared
/// function: a valid one without the scope is `403`, and once revoked it is no token at all.
#[tokio::test]
async fn a_revoked_jwt_is_an_invalid_token_at_the_admin_api() {
    let app = spawn().await;
    let jwt = app
        .access_token_for(("m2m", "m2m-secret"), Some("orders.read"))
        .await;
    assert_eq!(jwt.split('.').count(), 3, "a JWT");
    assert_envelope(get_sessions(&app, &jwt, &[]).await, 403, "forbidden").await;
    app.revoke(("m2m", "m2m-secret"), &jwt).await;
    let response = get_sessions(&app, &jwt, &[]).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_envelope(response, 401, "unauthorized").await;
}

/// The admin API checks no DPoP proofs, so a DPoP-bound admin token is refused there: a bound
/// token presented without its proof never passes.
#[tokio::test]
async fn a_dpop_bound_admin_token_is_an_invalid_token() {
    let app = spawn().await;
    let key = oxidp_jose::SigningKey::generate(oxidp_jose::SigningAlgorithm::ES256).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let proof =
        oxidp_jose::dpop::DpopProofBuilder::new("POST", "http://idp.test/connect/token", now)
            .sign(&key)
            .unwrap();
    let response = app
        .http
        .post(app.url("/connect/token"))
        .header(
            "authorization",
            basic_header(ADMIN_CLIENT.0, ADMIN_CLIENT.1),
        )
        .header("dpop", proof)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "oxidp.admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let token = tokens["access_token"].as_str().unwrap();
    let response = get_sessions(&app, token, &[]).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_envelope(response, 401, "unauthorized").await;
}
