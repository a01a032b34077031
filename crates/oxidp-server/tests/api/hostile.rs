//! Hostile input, per endpoint family: oversized, malformed, duplicated and forged requests
//! never get a 5xx, and always get the endpoint's own error format — RFC 6749 JSON at the
//! protocol endpoints, the admin API's envelope, the error page for browser pages.

use crate::helpers::*;
use serde_json::Value;

const FORM: &str = "application/x-www-form-urlencoded";

/// A body a little above the test server's 64 KiB limit.
fn oversized() -> String {
    format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(70 * 1024)
    )
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// No 5xx; a JSON body with an `error` string (RFC 6749 §5.2 / RFC 7009 / RFC 7662).
async fn assert_protocol_error(what: &str, response: reqwest::Response) {
    let status = response.status();
    assert!(
        status.is_client_error(),
        "{what}: {status} is not a client error"
    );
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|_| panic!("{what}: the body is not JSON"));
    assert!(body["error"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn token_introspection_and_revocation_answer_protocol_errors() {
    let app = TestApp::spawn().await;
    let basic = basic_header("m2m", "m2m-secret");
    for path in [
        "/connect/token",
        "/connect/introspect",
        "/connect/revocation",
    ] {
        let cases: Vec<(&str, String, &str)> = vec![
            ("oversized", oversized(), FORM),
            (
                "not a form",
                "{\"grant_type\":\"x\"}".to_owned(),
                "application/json",
            ),
            (
                "repeated parameter",
                "token=a&token=b&grant_type=client_credentials&grant_type=client_credentials"
                    .to_owned(),
                FORM,
            ),
            (
                "bad percent-encoding",
                "token=%ZZ%&grant_type=%".to_owned(),
                FORM,
            ),
            (
                "NUL bytes",
                "token=a%00b&grant_type=client%00credentials".to_owned(),
                FORM,
            ),
            ("no parameters", String::new(), FORM),
        ];
        for (what, body, content_type) in cases {
            let response = app
                .http
                .post(app.url(path))
                .header("content-type", content_type)
                .header("authorization", &basic)
                .body(body)
                .send()
                .await
                .unwrap();
            let what = format!("{path} {what}");
            // Introspection and revocation legitimately answer 200 for a token that is only
            // garbage (inactive, or nothing to revoke); anything else is an error.
            if response.status() == 200 && path != "/connect/token" {
                let body = response.text().await.unwrap();
                assert!(
                    body.is_empty() || body.contains("\"active\":false"),
                    "{what}: {body}"
                );
                continue;
            }
            assert_protocol_error(&what, response).await;
        }
        for (what, authorization) in [
            ("forged Basic", "Basic !!!notbase64"),
            ("empty Basic", "Basic "),
            ("Basic without a colon", "Basic bm9jb2xvbg=="),
            ("unknown scheme", "Digest abc"),
        ] {
            let response = app
                .http
                .post(app.url(path))
                .header("content-type", FORM)
                .header("authorization", authorization)
                .body("grant_type=client_credentials&token=x")
                .send()
                .await
                .unwrap();
            assert_protocol_error(&format!("{path} {what}"), response).await;
        }
        let response = post_raw(
            &app,
            path,
            FORM,
            "grant_type=client_credentials&token=x".to_owned(),
        )
        .await;
        assert_protocol_error(&format!("{path} without credentials"), response).await;
    }
}

#[tokio::test]
async fn userinfo_answers_bearer_errors() {
    let app = TestApp::spawn().await;
    for (what, authorization) in [
        ("forged JWT", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
        ("garbage", "Bearer \u{7f}"),
        ("empty", "Bearer "),
        ("wrong scheme", "Basic YTpi"),
        ("huge token", &format!("Bearer {}", "a".repeat(16 * 1024))),
    ] {
        let response = app
            .http
            .get(app.url("/connect/userinfo"))
            .header("authorization", authorization)
            .send()
            .await;
        let Ok(response) = response else {
            continue; // refused by the client library itself (invalid header value)
        };
        let status = response.status();
        assert!(status.is_client_error(), "userinfo {what}: {status}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "userinfo {what}: no challenge"
        );
    }
}

#[tokio::test]
async fn browser_endpoints_answer_with_the_error_page() {
    let app = TestApp::spawn().await;
    for path in [
        "/connect/authorize?client_id=web&client_id=web",
        "/connect/authorize?client_id=%ZZ",
        "/connect/authorize?client_id=unknown&redirect_uri=https%3A%2F%2Fevil.example",
        "/connect/endsession?id_token_hint=forged.jwt.value",
        "/connect/endsession?post_logout_redirect_uri=https%3A%2F%2Fevil.example",
        "/account/consent?return_url=https%3A%2F%2Fevil.example",
    ] {
        let response = app.get(path).await;
        let status = response.status();
        assert!(
            status.is_client_error() || status.is_redirection(),
            "{path}: {status}"
        );
        if status.is_client_error() {
            let html = response.text().await.unwrap();
            assert!(html.contains("<html"), "{path}: not the error page");
        }
    }
    for (path, body) in [
        ("/account/login", oversized()),
        (
            "/account/login",
            "username=a&password=b&csrf_token=forged".to_owned(),
        ),
        (
            "/account/consent",
            "button=yes&csrf_token=forged".to_owned(),
        ),
        (
            "/account/logout",
            "logout_id=forged&csrf_token=forged".to_owned(),
        ),
        ("/account/login", "%%%".to_owned()),
    ] {
        let response = post_raw(&app, path, FORM, body).await;
        let status = response.status();
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(
            response.text().await.unwrap().contains("<html"),
            "{path}: not the error page"
        );
    }
}

#[tokio::test]
async fn the_admin_api_answers_its_envelope() {
    let app = TestApp::spawn().await;
    for (what, request) in [
        ("no token", app.http.get(app.url("/api/admin/sessions"))),
        (
            "forged token",
            app.http
                .get(app.url("/api/admin/sessions"))
                .bearer_auth("eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im94aWRwLmFkbWluIn0."),
        ),
        (
            "oversized delete",
            app.http
                .delete(app.url("/api/admin/sessions"))
                .header("content-type", "application/json")
                .body(format!("{{\"subject_id\":\"{}\"}}", "a".repeat(70 * 1024))),
        ),
        ("wrong method", app.http.put(app.url("/api/admin/sessions"))),
    ] {
        let response = request.send().await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{what}: {status}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{what}: {body}");
    }
}
