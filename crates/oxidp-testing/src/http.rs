//! Wire-format helpers: request bodies and headers as clients send them, and checks of what
//! the server answers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// An HTTP Basic `Authorization` value.
pub fn basic_header(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// An `application/x-www-form-urlencoded` body.
pub fn form_body(form: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Asserts an RFC 6749 §5.2 error response (status, `no-store`, `error`) and returns its body.
pub async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().expect("ASCII header")),
        Some("no-store")
    );
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], error, "body: {body}");
    body
}

/// The decoded payload of a JWT, without verification.
pub fn jwt_payload(token: &str) -> Value {
    decode_part(token, 1)
}

/// The decoded header of a JWT, without verification.
pub fn jwt_header(token: &str) -> Value {
    decode_part(token, 0)
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("three parts");
    serde_json::from_slice(&oxidp_jose::b64url_decode(part).expect("base64url")).expect("json")
}
