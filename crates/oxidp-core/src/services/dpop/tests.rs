//! The DPoP rules over the memory store and a manual clock; two servers over one store stand
//! for two instances over one database.

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::options::IdentityServerOptions;
use crate::params::Parameters;
use crate::request::RequestMethod;
use crate::services::IdentityServer;
use crate::store::{MemoryStore, Stores};
use oxidp_jose::dpop::DpopProofBuilder;
use oxidp_jose::{SigningAlgorithm, SigningKey};

const ISSUER: &str = "https://idp.test";

struct World {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
}

impl World {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            clock: Arc::new(ManualClock::starting_now()),
        }
    }

    fn server(&self, require_nonce: bool) -> IdentityServer {
        let mut options = IdentityServerOptions::new(ISSUER).unwrap();
        options.dpop.require_nonce = require_nonce;
        IdentityServer::new(
            options,
            Stores::from_backend(self.store.clone()),
            self.clock.clone(),
        )
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

fn token_request(proofs: &[String]) -> ProtocolRequest {
    let mut request =
        ProtocolRequest::new(RequestMethod::Post, "/connect/token", Parameters::default());
    request.dpop = proofs.to_vec();
    request
}

fn proof(key: &SigningKey, iat: i64, nonce: Option<&str>) -> String {
    let mut builder = DpopProofBuilder::new("POST", "https://idp.test/connect/token", iat);
    if let Some(nonce) = nonce {
        builder = builder.nonce(nonce);
    }
    builder.sign(key).unwrap()
}

#[tokio::test]
async fn a_proof_is_accepted_once_across_instances() {
    let world = World::new();
    let (one, two) = (world.server(false), world.server(false));
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let request = token_request(&[proof(&key, world.now(), None)]);
    let outcome = one
        .dpop
        .check(&request, Site::TokenEndpoint, None, None)
        .await
        .unwrap();
    assert_eq!(outcome.jkt(), Some(key.thumbprint().as_str()));
    assert_eq!(outcome.nonce, None);
    let replay = two
        .dpop
        .check(&request, Site::TokenEndpoint, None, None)
        .await
        .unwrap_err();
    assert_eq!(replay.code, ErrorCode::InvalidDpopProof);
    assert_eq!(replay.status(), 400);
}

#[tokio::test]
async fn no_header_is_no_proof_and_two_headers_are_refused() {
    let world = World::new();
    let server = world.server(false);
    let none = server
        .dpop
        .check(&token_request(&[]), Site::TokenEndpoint, None, None)
        .await
        .unwrap();
    assert!(none.proof.is_none());
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let two = token_request(&[
        proof(&key, world.now(), None),
        proof(&key, world.now(), None),
    ]);
    let error = server
        .dpop
        .check(&two, Site::Resource, None, Some("tok"))
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidDpopProof);
    assert_eq!(error.status(), 401);
    let challenge = error.www_authenticate().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains("algs=\"ES256 ES384 EdDSA PS256 RS256\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn nonces_are_required_issued_and_accepted_by_every_instance_until_they_expire() {
    let world = World::new();
    let (one, two) = (world.server(true), world.server(true));
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let without = token_request(&[proof(&key, world.now(), None)]);
    let error = one
        .dpop
        .check(&without, Site::TokenEndpoint, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::UseDpopNonce);
    assert_eq!(error.status(), 400);
    let nonce = error.dpop_nonce.expect("a nonce to use");

    let with = token_request(&[proof(&key, world.now(), Some(&nonce))]);
    let outcome = two
        .dpop
        .check(&with, Site::TokenEndpoint, None, None)
        .await
        .expect("another instance accepts the nonce");
    assert!(outcome.nonce.is_some(), "a fresh nonce comes with success");

    let forged = token_request(&[proof(&key, world.now(), Some("forged"))]);
    let error = one
        .dpop
        .check(&forged, Site::Resource, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::UseDpopNonce);
    assert_eq!(error.status(), 401);
    assert!(error.www_authenticate().unwrap().contains("use_dpop_nonce"));

    world.clock.advance(time::Duration::minutes(6));
    let stale = token_request(&[proof(&key, world.now(), Some(&nonce))]);
    let error = one
        .dpop
        .check(&stale, Site::TokenEndpoint, None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::UseDpopNonce, "an expired nonce");
}

#[tokio::test]
async fn a_client_setting_overrides_the_server_nonce_default() {
    let world = World::new();
    let server = world.server(false);
    let mut client = Client::new("c");
    assert!(!server.dpop.requires_nonce(Some(&client)));
    client.require_dpop_nonce = Some(true);
    assert!(server.dpop.requires_nonce(Some(&client)));
    let strict = world.server(true);
    client.require_dpop_nonce = Some(false);
    assert!(!strict.dpop.requires_nonce(Some(&client)));
    assert!(strict.dpop.requires_nonce(None));
}

#[tokio::test]
async fn seen_proofs_are_removed_once_their_window_has_passed() {
    let world = World::new();
    let server = world.server(false);
    let key = SigningKey::generate(SigningAlgorithm::ES256).unwrap();
    let request = token_request(&[proof(&key, world.now(), None)]);
    server
        .dpop
        .check(&request, Site::TokenEndpoint, None, None)
        .await
        .unwrap();
    assert_eq!(server.dpop.remove_expired(100).await.unwrap(), 0);
    world.clock.advance(time::Duration::seconds(62));
    assert_eq!(server.dpop.remove_expired(100).await.unwrap(), 1);
    // The proof is now too old, whether or not it is remembered.
    let error = server
        .dpop
        .check(&request, Site::TokenEndpoint, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        error.description.as_deref(),
        Some("the DPoP proof is too old")
    );
}
