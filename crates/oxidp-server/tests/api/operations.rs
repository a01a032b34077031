//! Health, metrics and graceful behaviour.

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_text_format() {
    let app = TestApp::spawn().await;
    app.token_for(("m2m", "m2m-secret"), None).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("oxidp_http_requests_total"), "{text}");
    assert!(text.contains("oxidp_tokens_issued_total"), "{text}");
    assert!(
        text.contains("# TYPE oxidp_http_request_duration_seconds histogram"),
        "{text}"
    );
}

/// Every place a secret or token travels (Basic credentials, form fields, query strings, paths
/// that match no route, bearer headers) is exercised, the requests are seen to be counted, and
/// none of the values shows up in `/metrics`.
#[tokio::test]
async fn secrets_never_appear_in_metrics() {
    let app = TestApp::spawn().await;
    let jwt = app.token_for(("m2m", "m2m-secret"), None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reference = app
        .token_for(("m2m-reference", "reference-secret"), None)
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong_secret = "wrong-secret-4f1c9a";
    let unmatched_before =
        count_of(&app, "route=\"other\"").await + count_of(&app, "route=\"unmatched\"").await;

    let refused = app
        .post_token(
            Some(("m2m", wrong_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(refused.status(), 401);
    let posted = app
        .post_token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "m2m"),
                ("client_secret", "m2m-secret"),
            ],
        )
        .await;
    assert_eq!(posted.status(), 200);
    assert_eq!(
        app.introspect(("orders-api", "orders-api-secret"), &reference)
            .await["active"],
        true
    );
    let revoked = app
        .post_form(
            "/connect/revocation",
            Some(("m2m-reference", "reference-secret")),
            &[("token", &reference)],
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let userinfo = app
        .http
        .get(app.url("/connect/userinfo"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        403,
        "a client-credentials token lacks the openid scope"
    );
    for path in [
        format!("/connect/token/{jwt}"),
        format!("/{reference}"),
        format!("/healthz?client_secret=m2m-secret&access_token={jwt}"),
    ] {
        app.get(&path).await;
    }

    let text = app.get("/metrics").await.text().await.unwrap();
    for secret in [
        "m2m-secret",
        "reference-secret",
        "orders-api-secret",
        wrong_secret,
        jwt.as_str(),
        reference.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
    // Not even a part of a token: a JWT's signature, or a prefix of a reference handle.
    assert!(!text.contains(jwt.rsplit('.').next().unwrap()));
    assert!(!text.contains(&reference[..16]));
    let unmatched_after =
        count_of(&app, "route=\"other\"").await + count_of(&app, "route=\"unmatched\"").await;
    assert!(
        unmatched_after >= unmatched_before + 2.0,
        "the requests on unknown paths are counted: {text}"
    );
    assert!(text.contains("route=\"/connect/userinfo\""), "{text}");
    assert!(text.contains("route=\"/connect/revocation\""), "{text}");
}

/// The sum of `oxidp_http_requests_total` over the series whose labels contain `label`.
async fn count_of(app: &TestApp, label: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with("oxidp_http_requests_total{") && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
