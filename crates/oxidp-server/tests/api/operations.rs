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

#[tokio::test]
async fn secrets_never_appear_in_metrics() {
    let app = TestApp::spawn().await;
    let token = app.token_for(("m2m", "m2m-secret"), None).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("m2m-secret"));
    assert!(!text.contains(token["access_token"].as_str().unwrap()));
}
