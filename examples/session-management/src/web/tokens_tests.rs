//! Each claim check refuses what it must, and a well-formed token passes.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use super::*;
use serde_json::json;

const ISSUER: &str = "http://idp.test";
const NOW: i64 = 1_700_000_000;

fn map(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn id_token() -> Map<String, Value> {
    map(json!({
        "iss": ISSUER, "aud": "web", "sub": "alice", "sid": "s-1", "nonce": "n-1",
        "iat": NOW, "exp": NOW + 300,
    }))
}

fn logout_header() -> Map<String, Value> {
    map(json!({ "alg": "ES256", "typ": "logout+jwt", "kid": "k" }))
}

fn logout_token() -> Map<String, Value> {
    map(json!({
        "iss": ISSUER, "aud": "web", "sub": "alice", "sid": "s-1", "jti": "j-1",
        "iat": NOW, "exp": NOW + 120, "logout_reason": "terminated",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    }))
}

fn with(mut claims: Map<String, Value>, name: &str, value: Value) -> Map<String, Value> {
    claims.insert(name.into(), value);
    claims
}

fn without(mut claims: Map<String, Value>, name: &str) -> Map<String, Value> {
    claims.remove(name);
    claims
}

#[test]
fn a_valid_id_token_names_the_user_and_the_session() {
    let signed_in = check_id_token(&id_token(), ISSUER, "web", "n-1", NOW).unwrap();
    assert_eq!(signed_in.subject, "alice");
    assert_eq!(signed_in.sid.as_deref(), Some("s-1"));
    let listed = with(id_token(), "aud", json!(["other", "web"]));
    assert!(check_id_token(&listed, ISSUER, "web", "n-1", NOW).is_ok());
}

#[test]
fn id_tokens_for_others_or_other_sign_ins_are_refused() {
    let check = |claims: &Map<String, Value>| check_id_token(claims, ISSUER, "web", "n-1", NOW);
    let cases = [
        (
            with(id_token(), "iss", json!("http://evil.test")),
            ClaimsError::WrongIssuer,
        ),
        (
            with(id_token(), "aud", json!("other")),
            ClaimsError::WrongAudience,
        ),
        (without(id_token(), "aud"), ClaimsError::WrongAudience),
        (
            with(id_token(), "exp", json!(NOW - 61)),
            ClaimsError::Expired,
        ),
        (without(id_token(), "exp"), ClaimsError::Expired),
        (
            with(id_token(), "iat", json!(NOW + 61)),
            ClaimsError::BadIssuedAt,
        ),
        (
            with(id_token(), "nonce", json!("n-2")),
            ClaimsError::WrongNonce,
        ),
        (without(id_token(), "nonce"), ClaimsError::WrongNonce),
        (without(id_token(), "sub"), ClaimsError::NoSubject),
    ];
    for (claims, expected) in cases {
        assert_eq!(check(&claims), Err(expected.clone()), "{expected:?}");
    }
}

#[test]
fn a_valid_logout_token_names_whom_to_sign_out() {
    let logout = check_logout_token(&logout_header(), &logout_token(), ISSUER, "web", NOW).unwrap();
    assert_eq!(
        logout,
        Logout {
            subject: Some("alice".into()),
            sid: Some("s-1".into()),
            reason: Some("terminated".into()),
        }
    );
    let sid_only = without(logout_token(), "sub");
    assert!(check_logout_token(&logout_header(), &sid_only, ISSUER, "web", NOW).is_ok());
}

#[test]
fn malformed_logout_tokens_are_refused() {
    let check = |claims: &Map<String, Value>| {
        check_logout_token(&logout_header(), claims, ISSUER, "web", NOW)
    };
    let cases = [
        (
            with(logout_token(), "iss", json!("http://evil.test")),
            ClaimsError::WrongIssuer,
        ),
        (
            with(logout_token(), "aud", json!("other")),
            ClaimsError::WrongAudience,
        ),
        (
            with(logout_token(), "exp", json!(NOW - 61)),
            ClaimsError::Expired,
        ),
        (
            with(logout_token(), "iat", json!(NOW - 601)),
            ClaimsError::BadIssuedAt,
        ),
        (without(logout_token(), "iat"), ClaimsError::BadIssuedAt),
        (
            with(logout_token(), "events", json!({})),
            ClaimsError::NoLogoutEvent,
        ),
        (
            with(
                logout_token(),
                "events",
                json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" }),
            ),
            ClaimsError::NoLogoutEvent,
        ),
        (
            with(logout_token(), "nonce", json!("n-1")),
            ClaimsError::NonceInLogoutToken,
        ),
        (without(logout_token(), "jti"), ClaimsError::NoTokenId),
        (
            without(without(logout_token(), "sub"), "sid"),
            ClaimsError::NoSubjectOrSession,
        ),
    ];
    for (claims, expected) in cases {
        assert_eq!(check(&claims), Err(expected.clone()), "{expected:?}");
    }
}

#[test]
fn an_id_token_cannot_pass_for_a_logout_token() {
    let id_header = map(json!({ "alg": "ES256", "typ": "JWT" }));
    assert_eq!(
        check_logout_token(&id_header, &logout_token(), ISSUER, "web", NOW),
        Err(ClaimsError::WrongType)
    );
    assert_eq!(
        check_logout_token(&logout_header(), &id_token(), ISSUER, "web", NOW),
        Err(ClaimsError::NoLogoutEvent)
    );
}
