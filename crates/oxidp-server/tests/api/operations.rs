//! Health, metrics and graceful behaviour.

use crate::helpers::*;

#[tokio::test]
async fn liveness_readiness_and_healthz_answer_ok() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/health/ready", "/healthz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["status"],
            "ok",
            "{path}"
        );
    }
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
    assert!(text.contains("oxidp_build_info{version=\""), "{text}");
    for process in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        let value: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{process} ")))
            .unwrap_or_else(|| panic!("{process} missing: {text}"))
            .parse()
            .unwrap();
        assert!(value > 0.0, "{process} = {value}");
    }
    assert!(
        text.contains("oxidp_sign_in_failures_total{reason=\"invalid_credentials\"}"),
        "{text}"
    );
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

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_clients_own_is_not_believed() {
    let app = TestApp::spawn().await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(id(&first).len(), 36, "a UUID");
    assert_ne!(id(&first), id(&second), "one id per request");

    // 127.0.0.1 is no trusted proxy here: its header is replaced, not echoed.
    let plain = reqwest::Client::new()
        .get(app.url("/healthz"))
        .header("x-request-id", "proxy-42")
        .send()
        .await
        .unwrap();
    assert_ne!(
        id(&plain),
        "proxy-42",
        "only a trusted proxy names requests"
    );
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_kept_when_well_formed() {
    let app = TestApp::spawn_with(None, |config| {
        config.server.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let with = |value: &'static str| {
        reqwest::Client::new()
            .get(app.url("/healthz"))
            .header("x-request-id", value)
            .send()
    };
    let kept = with("edge-7f3a:42").await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "edge-7f3a:42");
    let too_odd = with("two words").await.unwrap();
    assert_ne!(too_odd.headers()["x-request-id"], "two words");
    let too_long: &'static str = Box::leak("a".repeat(129).into_boxed_str());
    let replaced = with(too_long).await.unwrap();
    assert_eq!(replaced.headers()["x-request-id"].len(), 36);
}
