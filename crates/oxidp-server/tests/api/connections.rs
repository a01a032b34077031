//! Connection hygiene: slow or idle clients are disconnected, connections are limited, an
//! oversized body is refused before it is read, and edge-layer errors carry a body in the
//! endpoint's format.

use crate::helpers::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous deadlines: only a server that never answers misses them.
const DEADLINE: Duration = Duration::from_secs(15);

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or the deadline passes); returns what came.
async fn read_to_close(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut received)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_declared_body_above_the_limit_is_413_before_it_is_sent() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /connect/token HTTP/1.1\r\nHost: idp\r\n\
              Content-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 10000000\r\nConnection: close\r\n\r\ngrant_type=",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut stream)
        .await
        .expect("answered without waiting for the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(None, |config| {
        config.server.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: idp\r\n")
        .await
        .unwrap();
    assert!(
        read_to_close(&mut stream).await.is_some(),
        "the server closes the connection"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed() {
    let app = TestApp::spawn_with(None, |config| {
        config.server.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = TcpStream::connect(socket_address(&app)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: idp\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut stream)
        .await
        .expect("closed after the answer, once idle");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let app = TestApp::spawn_with(None, |config| {
        config.server.max_connections = 1;
    })
    .await;
    let holder = TcpStream::connect(socket_address(&app)).await.unwrap();
    let waiting = app
        .http
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(
        waiting.is_err(),
        "not served while the one connection is held"
    );
    drop(holder);
    let served = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Ok(response) = app.http.get(app.url("/healthz")).send().await {
                return response.status();
            }
        }
    })
    .await
    .expect("served once the connection is free");
    assert_eq!(served, 200);
}

#[tokio::test]
async fn edge_errors_carry_a_body_in_the_endpoints_format() {
    let app = TestApp::spawn().await;
    let response = app.get("/connect/token").await;
    assert_oauth_error(response, 405, "invalid_request").await;
    let response = app
        .http
        .post(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 405, "invalid_request").await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("there is nothing here")
    );
}

#[test]
fn an_idle_timeout_not_above_the_request_timeout_is_refused() {
    let toml = "[server]\nrequest_timeout = \"30s\"\nidle_timeout = \"30s\"";
    let error = oxidp_server::config::Config::from_toml(toml)
        .unwrap_err()
        .to_string();
    assert!(error.contains("server.idle_timeout"), "{error}");
}
