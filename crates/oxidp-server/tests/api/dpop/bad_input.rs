//! Bad proofs at the token endpoint: each a `400 invalid_dpop_proof` (never a 5xx), and no
//! token issued.

use super::independent::{RawKey, b64, claims};
use super::*;
use serde_json::json;

/// Sends `proofs` with a client-credentials request of `m2m` and expects `invalid_dpop_proof`.
async fn refused(app: &TestApp, what: &str, proofs: &[&str]) {
    let response = client_credentials(app, ("m2m", "m2m-secret"), proofs).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(body["error"], "invalid_dpop_proof", "{what}: {body}");
    assert!(body.get("access_token").is_none(), "{what}");
}

#[tokio::test]
async fn malformed_proofs_are_invalid_dpop_proof() {
    let app = spawn().await;
    let huge = format!("{}.{}.sig", b64("{}"), "a".repeat(9_000));
    for (what, proof) in [
        ("not a JWT", "not-a-jwt"),
        ("three garbage parts", "a.b.c"),
        (
            "JSON that is not a header",
            &format!("{}.e30.e30", b64("[1]")),
        ),
        ("oversized", huge.as_str()),
    ] {
        refused(&app, what, &[proof]).await;
    }
}

#[tokio::test]
async fn a_proof_with_the_wrong_typ_is_refused() {
    let app = spawn().await;
    let key = RawKey::generate();
    let body = claims("POST", TOKEN_URL, now(&app));
    for typ in [json!("JWT"), json!("at+jwt"), json!(null)] {
        let mut header = key.header();
        header["typ"] = typ.clone();
        refused(
            &app,
            &format!("typ {typ}"),
            &[&key.sign_raw(&header, &body)],
        )
        .await;
    }
}

#[tokio::test]
async fn symmetric_and_none_algorithms_are_refused() {
    let app = spawn().await;
    let body = claims("POST", TOKEN_URL, now(&app));
    // HS256 with the secret as an `oct` JWK: a real HMAC signature.
    let secret = b"0123456789abcdef0123456789abcdef";
    let header =
        json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64(secret)}});
    let input = format!("{}.{}", b64(header.to_string()), b64(body.to_string()));
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
        input.as_bytes(),
    );
    refused(&app, "HS256", &[&format!("{input}.{}", b64(tag.as_ref()))]).await;
    // alg none, unsigned.
    let key = RawKey::generate();
    let mut header = key.header();
    header["alg"] = json!("none");
    let unsigned = format!("{}.{}.", b64(header.to_string()), b64(body.to_string()));
    refused(&app, "none", &[&unsigned]).await;
}

#[tokio::test]
async fn a_private_key_in_the_header_is_refused() {
    let app = spawn().await;
    let key = RawKey::generate();
    let mut header = key.header();
    // Any private member disqualifies the key, whether or not it is the real one.
    header["jwk"]["d"] = json!(b64([7u8; 32]));
    let proof = key.sign_raw(&header, &claims("POST", TOKEN_URL, now(&app)));
    refused(&app, "jwk with d", &[&proof]).await;
}

#[tokio::test]
async fn an_oversized_or_missing_jti_is_refused() {
    let app = spawn().await;
    let key = RawKey::generate();
    let mut body = claims("POST", TOKEN_URL, now(&app));
    body["jti"] = json!("j".repeat(257));
    refused(&app, "257-character jti", &[&key.proof(&body)]).await;
    body.as_object_mut().unwrap().remove("jti");
    refused(&app, "no jti", &[&key.proof(&body)]).await;
}

#[tokio::test]
async fn old_and_future_proofs_are_refused() {
    let app = spawn().await;
    let key = RawKey::generate();
    let now = now(&app);
    refused(
        &app,
        "ten minutes old",
        &[&key.proof(&claims("POST", TOKEN_URL, now - 600))],
    )
    .await;
    refused(
        &app,
        "a minute ahead",
        &[&key.proof(&claims("POST", TOKEN_URL, now + 60))],
    )
    .await;
}

#[tokio::test]
async fn two_dpop_headers_are_refused_even_when_both_are_valid() {
    let app = spawn().await;
    let holder = Holder::new();
    let (a, b) = (holder.token_proof(&app), holder.token_proof(&app));
    refused(&app, "two headers", &[&a, &b]).await;
}

#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    let app = spawn().await;
    let holder = Holder::new();
    let listener_url = app.url("/connect/token");
    for (what, htm, htu) in [
        ("the userinfo URL", "POST", USERINFO_URL),
        ("another host", "POST", "http://evil.test/connect/token"),
        // The listener's own address is not the issuer's URL of the endpoint.
        ("the listener address", "POST", listener_url.as_str()),
        ("GET", "GET", TOKEN_URL),
    ] {
        refused(&app, what, &[&holder.proof(&app, htm, htu, None, None)]).await;
    }
    // Query and fragment do not count (RFC 9449 §4.3), nor the case of scheme and host.
    for htu in [
        "http://idp.test/connect/token?x=1",
        "HTTP://IDP.TEST:80/connect/token#f",
    ] {
        let response = client_credentials(
            &app,
            ("m2m", "m2m-secret"),
            &[&holder.proof(&app, "POST", htu, None, None)],
        )
        .await;
        assert_eq!(response.status(), 200, "{htu}");
    }
}

#[tokio::test]
async fn a_proof_not_signed_by_its_header_key_is_refused() {
    let app = spawn().await;
    let (key, other) = (RawKey::generate(), RawKey::generate());
    let proof = other.sign_raw(&key.header(), &claims("POST", TOKEN_URL, now(&app)));
    refused(&app, "signed by another key", &[&proof]).await;
}

#[tokio::test]
async fn a_dpop_header_that_is_not_text_is_invalid_request() {
    let app = spawn().await;
    let response = app
        .http
        .post(app.url("/connect/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic_header("m2m", "m2m-secret"))
        .header(
            "dpop",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}
