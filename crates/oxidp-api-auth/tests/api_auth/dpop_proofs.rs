//! Bad DPoP proofs at an API: each is a `401` with `WWW-Authenticate: DPoP
//! error="invalid_dpop_proof"` and a reason of its own, never a panic or a 5xx.

use crate::dpop::{
    API, Api, assert_invalid_proof, es256, forge, proof_claims, proof_header, request,
};
use serde_json::{Value, json};

fn with(mut value: Value, name: &str, member: Value) -> Value {
    value[name] = member;
    value
}

fn without(mut value: Value, name: &str) -> Value {
    value.as_object_mut().unwrap().remove(name);
    value
}

#[tokio::test]
async fn every_broken_rule_is_invalid_dpop_proof_with_its_reason() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    let key = &api.key;
    let url = format!("{API}/orders");
    let header = proof_header(key);
    let claims = proof_claims("GET", &url, &token);
    let now = claims["iat"].as_i64().unwrap();
    let mut private_jwk = serde_json::to_value(key.bare_public_jwk()).unwrap();
    private_jwk["d"] = json!("c2VjcmV0");

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not a JWT",
            "not-a-jwt".into(),
            "the DPoP proof is not a well-formed JWT",
        ),
        (
            "wrong typ",
            forge(key, &with(header.clone(), "typ", json!("jwt")), &claims),
            "the DPoP proof's typ must be dpop+jwt",
        ),
        (
            "alg none",
            forge(key, &with(header.clone(), "alg", json!("none")), &claims),
            "the DPoP proof's signing algorithm is not allowed",
        ),
        (
            "HMAC with a symmetric key",
            forge(
                key,
                &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
                &claims,
            ),
            "the DPoP proof's signing algorithm is not allowed",
        ),
        (
            "private key in the jwk header",
            forge(key, &with(header.clone(), "jwk", private_jwk), &claims),
            "the DPoP proof's jwk header contains a private key",
        ),
        (
            "no jwk header",
            forge(key, &without(header.clone(), "jwk"), &claims),
            "the DPoP proof has no jwk header",
        ),
        (
            "signed by another key than its jwk",
            forge(&es256(), &header, &claims),
            "the DPoP proof's signature is invalid",
        ),
        (
            "another method",
            forge(key, &header, &with(claims.clone(), "htm", json!("POST"))),
            "the DPoP proof is for another method",
        ),
        (
            "another URL",
            forge(
                key,
                &header,
                &with(claims.clone(), "htu", json!(format!("{API}/invoices"))),
            ),
            "the DPoP proof is for another URL",
        ),
        (
            "ten minutes old",
            forge(key, &header, &with(claims.clone(), "iat", json!(now - 600))),
            "the DPoP proof is too old",
        ),
        (
            "a minute in the future",
            forge(key, &header, &with(claims.clone(), "iat", json!(now + 60))),
            "the DPoP proof is issued in the future",
        ),
        (
            "no ath",
            forge(key, &header, &without(claims.clone(), "ath")),
            "the DPoP proof has no ath claim",
        ),
        (
            "ath of another token",
            forge(
                key,
                &header,
                &with(
                    claims.clone(),
                    "ath",
                    json!(oxidp_jose::b64url_encode(oxidp_jose::sha256("other"))),
                ),
            ),
            "the DPoP proof is for another access token",
        ),
        (
            "no jti",
            forge(key, &header, &without(claims.clone(), "jti")),
            "the DPoP proof lacks a required claim",
        ),
        (
            "a jti of 257 characters",
            forge(
                key,
                &header,
                &with(claims.clone(), "jti", json!("j".repeat(257))),
            ),
            "the DPoP proof's jti is too long",
        ),
    ];
    for (case, proof, reason) in cases {
        let result = api.get_orders(&token, &proof).await;
        assert!(result.is_err(), "{case}");
        assert_invalid_proof(result, reason);
    }
}

#[tokio::test]
async fn a_proof_header_that_is_not_text_is_refused() {
    let api = Api::start(|check| check).await;
    let token = api.bound_token();
    let mut parts = request("GET", "/orders", &format!("DPoP {token}"), &[]);
    parts.headers.insert(
        "dpop",
        http::HeaderValue::from_bytes(b"\xffnot-ascii").unwrap(),
    );
    assert_invalid_proof(
        api.call(&parts).await,
        "the DPoP proof is not a well-formed JWT",
    );
}
