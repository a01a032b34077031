//! The fake authorization server of `oxidp_client::testing` (a token endpoint that counts its
//! requests, checks the client's credentials, issues numbered tokens and one-time rotating
//! refresh tokens like oxidp, a revocation endpoint that records what it was asked, and a
//! discovery document), with a few shorthands for these tests.

pub use oxidp_client::testing::{
    Behaviour, CLIENT_ID, CLIENT_SECRET as SECRET, FakeAuthorizationServer as Fake, ManualClock,
    TokenRequest,
};
use oxidp_client::{Clock, OAuthClient, OAuthClientBuilder};
use std::sync::Arc;

pub const JWT_SHAPED: &str = "header.payload.signature";

/// Shorthands for building clients of the fake.
pub trait FakeExt {
    /// A client of this fake with the right credentials and `clock`.
    fn client(&self, clock: Arc<dyn Clock>) -> OAuthClient;

    /// A builder of a client of this fake with `secret` (right or wrong).
    fn builder(&self, secret: &str) -> OAuthClientBuilder;

    /// The last token request, which must exist.
    fn last_token_form(&self) -> TokenRequest;
}

impl FakeExt for Fake {
    fn client(&self, clock: Arc<dyn Clock>) -> OAuthClient {
        self.client_builder().clock(clock).build().unwrap()
    }

    fn builder(&self, secret: &str) -> OAuthClientBuilder {
        OAuthClient::builder(CLIENT_ID, secret)
            .token_endpoint(self.token_endpoint())
            .revocation_endpoint(self.revocation_endpoint())
    }

    fn last_token_form(&self) -> TokenRequest {
        self.last_token_request().unwrap()
    }
}

/// An address nothing listens on.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}
