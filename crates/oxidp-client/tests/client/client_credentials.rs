//! `ClientCredentialsManager` against the fake token endpoint.

use crate::fake::*;
use oxidp_client::{ClientAuthMethod, ClientCredentialsManager, Error, OAuthClient};
use std::time::Duration;

#[tokio::test]
async fn a_token_is_fetched_once_then_served_from_the_cache() {
    let fake = Fake::start().await;
    let tokens = ClientCredentialsManager::builder(fake.client(ManualClock::new()))
        .scope("orders.read")
        .scope("orders.write")
        .resource("https://orders.example/")
        .build();
    let first = tokens.get_token().await.unwrap();
    let second = tokens.get_token().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.access_token.secret(), "at-1");
    assert_eq!(fake.token_requests(), 1);

    let TokenRequest {
        authorization,
        form,
        dpop,
    } = fake.last_token_form();
    assert_eq!(dpop, None, "no DPoP key, no proof");
    assert!(
        authorization.unwrap().starts_with("Basic "),
        "client_secret_basic by default"
    );
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "orders.read orders.write");
    assert_eq!(form["resource"], "https://orders.example/");
    assert!(!form.contains_key("client_secret"));
}

#[tokio::test]
async fn a_hundred_concurrent_callers_make_one_request() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(200));
    let tokens = ClientCredentialsManager::new(fake.client(ManualClock::new()));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.get_token().await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().access_token.secret(), "at-1");
    }
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn type_and_expiry_come_from_the_response() {
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::Issue {
        expires_in: Some(120),
        rotate: true,
    });
    let clock = ManualClock::new();
    let sent_at = oxidp_client::Clock::now(&*clock);
    let token = ClientCredentialsManager::new(fake.client(clock))
        .get_token()
        .await
        .unwrap();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_at, sent_at + time::Duration::seconds(120));
    assert_eq!(
        token.authorization_header().unwrap().to_str().unwrap(),
        "Bearer at-1"
    );
}

#[tokio::test]
async fn the_token_is_renewed_within_the_refresh_ahead_margin() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let tokens = ClientCredentialsManager::builder(fake.client(clock.clone()))
        .refresh_ahead(Duration::from_secs(60))
        .build();
    tokens.get_token().await.unwrap();
    clock.advance(239); // expires in 300 s: 61 s left
    assert_eq!(
        tokens.get_token().await.unwrap().access_token.secret(),
        "at-1"
    );
    assert_eq!(fake.token_requests(), 1);
    clock.advance(2); // 59 s left: inside the margin
    assert_eq!(
        tokens.get_token().await.unwrap().access_token.secret(),
        "at-2"
    );
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn the_margin_is_at_most_half_a_short_lifetime() {
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::Issue {
        expires_in: Some(10),
        rotate: true,
    });
    let clock = ManualClock::new();
    let tokens = ClientCredentialsManager::new(fake.client(clock.clone()));
    tokens.get_token().await.unwrap();
    clock.advance(4);
    tokens.get_token().await.unwrap();
    assert_eq!(fake.token_requests(), 1, "a 10 s token is kept for 5 s");
    clock.advance(2);
    tokens.get_token().await.unwrap();
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn invalidate_makes_the_next_call_fetch() {
    let fake = Fake::start().await;
    let tokens = ClientCredentialsManager::new(fake.client(ManualClock::new()));
    tokens.get_token().await.unwrap();
    tokens.invalidate();
    assert_eq!(
        tokens.get_token().await.unwrap().access_token.secret(),
        "at-2"
    );
}

#[tokio::test]
async fn client_secret_post_sends_the_credentials_in_the_body() {
    let fake = Fake::start().await;
    let client = fake
        .builder(SECRET)
        .auth_method(ClientAuthMethod::ClientSecretPost)
        .build()
        .unwrap();
    ClientCredentialsManager::new(client)
        .get_token()
        .await
        .unwrap();
    let TokenRequest {
        authorization,
        form,
        dpop,
    } = fake.last_token_form();
    assert_eq!(dpop, None, "no DPoP key, no proof");
    assert_eq!(authorization, None);
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], SECRET);
}

#[tokio::test]
async fn a_wrong_secret_is_an_invalid_client_error() {
    let fake = Fake::start().await;
    let tokens = ClientCredentialsManager::new(fake.builder("wrong").build().unwrap());
    let error = tokens.get_token().await.unwrap_err();
    let Error::OAuth(refused) = &error else {
        panic!("expected an OAuth error, got {error:?}");
    };
    assert_eq!(
        (refused.status, refused.error.as_str()),
        (401, "invalid_client")
    );
    assert!(!error.is_transient());
    assert!(!format!("{error:?}{error}").contains("wrong"));
}

#[tokio::test]
async fn a_failed_fetch_is_not_cached() {
    let fake = Fake::start().await;
    fake.answer_token_requests(503, r#"{"error":"temporarily_unavailable"}"#);
    let tokens = ClientCredentialsManager::new(fake.client(ManualClock::new()));
    let error = tokens.get_token().await.unwrap_err();
    assert_eq!(error.oauth_error(), Some("temporarily_unavailable"));
    assert!(error.is_transient());
    fake.set_behaviour(Behaviour::Issue {
        expires_in: Some(300),
        rotate: true,
    });
    assert!(tokens.get_token().await.is_ok());
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_failure() {
    let fake = Fake::start().await;
    fake.set_delay(Duration::from_millis(200));
    fake.answer_token_requests(500, r#"{"error":"server_error"}"#);
    let tokens = ClientCredentialsManager::new(fake.client(ManualClock::new()));
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.get_token().await })
        })
        .collect();
    for caller in callers {
        assert_eq!(
            caller.await.unwrap().unwrap_err().oauth_error(),
            Some("server_error")
        );
    }
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let client = OAuthClient::builder(CLIENT_ID, SECRET)
        .token_endpoint(format!("{}/token", unreachable_url().await))
        .build()
        .unwrap();
    let error = ClientCredentialsManager::new(client)
        .get_token()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn malformed_responses_are_invalid_responses() {
    let fake = Fake::start().await;
    let tokens = ClientCredentialsManager::new(fake.client(ManualClock::new()));
    for (status, body, detail) in [
        (200, "not json", "not a token response"),
        (
            200,
            r#"{"token_type":"Bearer"}"#,
            "missing field `access_token`",
        ),
        (
            200,
            r#"{"access_token":42,"token_type":"Bearer"}"#,
            "not a token response",
        ),
        (
            502,
            "<html>bad gateway</html>",
            "not an OAuth error response",
        ),
        (400, r#"{"unexpected":true}"#, "not an OAuth error response"),
    ] {
        fake.answer_token_requests(status, body);
        let error = tokens.get_token().await.unwrap_err();
        let Error::InvalidResponse {
            status: got,
            detail: got_detail,
            ..
        } = &error
        else {
            panic!("{body}: expected InvalidResponse, got {error:?}");
        };
        assert_eq!(*got, status, "{body}");
        assert!(got_detail.contains(detail), "{body}: {got_detail}");
    }
}

#[tokio::test]
async fn a_transient_failure_hands_out_a_cached_token_that_has_not_expired() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let tokens = ClientCredentialsManager::new(fake.client(clock.clone()));
    tokens.get_token().await.unwrap();
    clock.advance(270); // inside the margin, 30 s before expiry
    fake.answer_token_requests(503, "down for maintenance");
    assert_eq!(
        tokens.get_token().await.unwrap().access_token.secret(),
        "at-1"
    );
    clock.advance(31); // expired
    assert!(tokens.get_token().await.is_err());
}

#[tokio::test]
async fn a_missing_expires_in_is_taken_as_five_minutes() {
    let fake = Fake::start().await;
    fake.set_behaviour(Behaviour::Issue {
        expires_in: None,
        rotate: true,
    });
    let clock = ManualClock::new();
    let sent_at = oxidp_client::Clock::now(&*clock);
    let token = ClientCredentialsManager::new(fake.client(clock))
        .get_token()
        .await
        .unwrap();
    assert_eq!(token.expires_at, sent_at + time::Duration::minutes(5));
}

#[tokio::test]
async fn discovery_finds_the_endpoints() {
    let fake = Fake::start().await;
    let client = OAuthClient::builder(CLIENT_ID, SECRET)
        .discover(&format!("{}/", fake.issuer()))
        .await
        .unwrap();
    assert_eq!(
        client.token_endpoint().as_str(),
        format!("{}/token", fake.issuer())
    );
    assert_eq!(
        client.revocation_endpoint().unwrap().as_str(),
        format!("{}/revoke", fake.issuer())
    );
    assert!(
        ClientCredentialsManager::new(client)
            .get_token()
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn discovery_refuses_a_document_for_another_issuer() {
    let fake = Fake::start().await;
    fake.set_discovery_issuer("https://elsewhere.example");
    let error = OAuthClient::builder(CLIENT_ID, SECRET)
        .discover(fake.issuer())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Configuration(_)), "{error:?}");
}

#[tokio::test]
async fn discovery_of_an_unreachable_issuer_is_a_transport_error() {
    let error = OAuthClient::builder(CLIENT_ID, SECRET)
        .discover(&unreachable_url().await)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
}

#[tokio::test]
async fn debug_output_shows_no_secret_and_no_token() {
    let fake = Fake::start().await;
    let clock = ManualClock::new();
    let client = fake.client(clock);
    let tokens = ClientCredentialsManager::new(client.clone());
    let token = tokens.get_token().await.unwrap();
    let printed = format!("{client:?} {tokens:?} {token:?}");
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(!printed.contains("at-1"), "{printed}");
    assert!(printed.contains("[redacted]"));
}
