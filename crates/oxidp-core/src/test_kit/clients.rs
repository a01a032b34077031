//! Conformance checks for [`ClientStore`]: round trips, upserts, listing order and deletion.

use super::{now, unique};
use crate::model::{
    AccessTokenType, Client, GrantType, HashedSecret, RefreshTokenExpiration, RefreshTokenUsage,
};
use crate::store::ClientStore;
use std::time::Duration as StdDuration;
use time::Duration;

/// A client with every field set to a non-default value.
fn full_client(client_id: &str) -> Client {
    let expires = now() + Duration::days(30);
    Client {
        client_id: client_id.to_owned(),
        client_name: Some("Kit client ✓".to_owned()),
        enabled: false,
        secrets: vec![
            HashedSecret {
                sha256: HashedSecret::from_plaintext("first").sha256,
                description: Some("rotating".to_owned()),
                expires: Some(expires),
            },
            HashedSecret::from_plaintext("second"),
        ],
        jwks: Some(serde_json::json!({
            "keys": [{
                "kty": "EC",
                "crv": "P-256",
                "kid": "kit-key",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "use": "sig",
                "nested": {"n": 1, "f": 1.5, "b": true, "z": null}
            }]
        })),
        allowed_grant_types: vec![GrantType::ClientCredentials],
        allowed_scopes: vec!["api1".to_owned(), "api2.read".to_owned()],
        access_token_type: AccessTokenType::Reference,
        access_token_lifetime: StdDuration::from_secs(5_405),
        require_client_secret: false,
        redirect_uris: vec![
            "https://kit.test/cb".to_owned(),
            "http://127.0.0.1:9/cb".to_owned(),
        ],
        post_logout_redirect_uris: vec!["https://kit.test/out".to_owned()],
        require_pkce: false,
        allow_offline_access: true,
        require_consent: true,
        allow_remember_consent: false,
        authorization_code_lifetime: StdDuration::from_secs(31),
        identity_token_lifetime: StdDuration::from_secs(301),
        refresh_token_usage: RefreshTokenUsage::ReUse,
        refresh_token_expiration: RefreshTokenExpiration::Sliding,
        absolute_refresh_token_lifetime: StdDuration::from_secs(86_401),
        sliding_refresh_token_lifetime: StdDuration::from_secs(3_601),
        refresh_token_reuse_grace: Some(StdDuration::from_secs(7)),
        backchannel_logout_uri: Some("https://kit.test/bcl".to_owned()),
        backchannel_logout_session_required: false,
        coordinate_lifetime_with_user_session: Some(true),
        require_dpop: true,
        require_dpop_nonce: Some(false),
        tls_client_auth_subject_dn: Some("CN=kit,O=Kit ✓".to_owned()),
        tls_client_auth_san_dns: None,
        tls_client_auth_san_uri: None,
        tls_client_auth_san_ip: None,
        tls_client_auth_san_email: None,
        tls_client_certificate_bound_access_tokens: true,
        id_token_signed_response_alg: Some(oxidp_jose::SigningAlgorithm::PS256),
    }
}

/// A client with every field set (secrets with and without expiry, a JWK set, a non-default
/// token type and lifetime) reads back equal, and so does a client with only defaults; an
/// unknown id reads back as `None`.
pub async fn clients_round_trip_every_field<S: ClientStore + ?Sized>(store: &S) {
    let client = full_client(&format!("kit-client-{}", unique()));
    store.upsert_client(&client).await.expect("upsert_client");
    let found = store
        .find_client(&client.client_id)
        .await
        .expect("find_client");
    assert_eq!(
        found.as_ref(),
        Some(&client),
        "full client read back differs"
    );

    let minimal = Client::new(format!("kit-client-{}", unique()));
    store.upsert_client(&minimal).await.expect("upsert_client");
    let found = store
        .find_client(&minimal.client_id)
        .await
        .expect("find_client");
    assert_eq!(
        found.as_ref(),
        Some(&minimal),
        "minimal client read back differs"
    );

    let missing = store
        .find_client(&format!("kit-missing-{}", unique()))
        .await
        .expect("find_client");
    assert_eq!(missing, None, "an unknown client id must read back as None");
}

/// Upserting a client with an existing id replaces every field, and leaves one client.
pub async fn client_upsert_replaces<S: ClientStore + ?Sized>(store: &S) {
    let id = format!("kit-client-{}", unique());
    store
        .upsert_client(&full_client(&id))
        .await
        .expect("upsert_client");
    let mut replacement = Client::new(&id);
    replacement.client_name = Some("replaced".to_owned());
    replacement.secrets = vec![HashedSecret::from_plaintext("new secret")];
    store
        .upsert_client(&replacement)
        .await
        .expect("upsert_client (replace)");

    let found = store.find_client(&id).await.expect("find_client");
    assert_eq!(found.as_ref(), Some(&replacement), "upsert did not replace");
}

/// Deleting a client reports `true` and removes it; deleting it again reports `false`.
pub async fn client_delete_reports_whether_it_existed<S: ClientStore + ?Sized>(store: &S) {
    let id = format!("kit-client-{}", unique());
    let other = format!("kit-client-{}", unique());
    for client_id in [&id, &other] {
        store
            .upsert_client(&Client::new(client_id))
            .await
            .expect("upsert_client");
    }
    assert!(store.delete_client(&id).await.expect("delete_client"));
    assert_eq!(store.find_client(&id).await.expect("find_client"), None);
    assert!(!store.delete_client(&id).await.expect("delete_client again"));
    assert!(
        store
            .find_client(&other)
            .await
            .expect("find_client")
            .is_some(),
        "deleting one client removed another"
    );
}

/// Listing returns every client, disabled ones too, ordered by client id in byte order.
pub async fn clients_are_listed_in_client_id_order<S: ClientStore + ?Sized>(store: &S) {
    let prefix = format!("kit-list-{}-", unique());
    for suffix in ["b", "B", "a"] {
        let mut client = Client::new(format!("{prefix}{suffix}"));
        client.enabled = suffix != "B";
        store.upsert_client(&client).await.expect("upsert_client");
    }
    let listed: Vec<String> = store
        .list_clients()
        .await
        .expect("list_clients")
        .into_iter()
        .map(|client| client.client_id)
        .filter(|id| id.starts_with(&prefix))
        .collect();
    assert_eq!(
        listed,
        [
            format!("{prefix}B"),
            format!("{prefix}a"),
            format!("{prefix}b")
        ]
    );
}
