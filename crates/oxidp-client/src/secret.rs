//! Secrets as types: the client secret and the tokens print `[redacted]` in `Debug` and are
//! revealed only through an explicit `secret()` call, so a `{:?}` in a log line never leaks one.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value itself. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

secret_string! {
    /// A client secret (for `client_secret_basic` or `client_secret_post`).
    ///
    /// ```
    /// use oxidp_client::ClientSecret;
    /// let secret = ClientSecret::new("m2m-secret");
    /// assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
    /// assert_eq!(secret.secret(), "m2m-secret");
    /// ```
    ClientSecret
}

secret_string! {
    /// An access token, to be sent to APIs as `Authorization: <token_type> <token>`.
    ///
    /// ```
    /// use oxidp_client::AccessToken;
    /// let token = AccessToken::new("eyJ...");
    /// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
    /// ```
    AccessToken
}

secret_string! {
    /// A refresh token. oxidp's refresh tokens are one-time use: every refresh returns a new one.
    ///
    /// ```
    /// use oxidp_client::RefreshToken;
    /// let token = RefreshToken::new("opaque");
    /// assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
    /// ```
    RefreshToken
}

secret_string! {
    /// An OpenID Connect ID token (kept, for instance, as the `id_token_hint` of a logout).
    ///
    /// ```
    /// use oxidp_client::IdToken;
    /// let token = IdToken::new("eyJ...");
    /// assert_eq!(format!("{token:?}"), "IdToken([redacted])");
    /// ```
    IdToken
}

impl AccessToken {
    /// Whether the token has the shape of a JWS compact serialization (three dot-separated
    /// parts). Anything else is taken for a reference (opaque) token.
    ///
    /// ```
    /// use oxidp_client::AccessToken;
    /// assert!(AccessToken::new("aaa.bbb.ccc").looks_like_jwt());
    /// assert!(!AccessToken::new("Zm9vYmFy").looks_like_jwt());
    /// ```
    pub fn looks_like_jwt(&self) -> bool {
        let mut parts = self.0.split('.');
        let three = parts
            .by_ref()
            .take(3)
            .filter(|part| !part.is_empty())
            .count()
            == 3;
        three && parts.next().is_none()
    }
}
