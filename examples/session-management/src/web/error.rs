//! The web app's one error type: what a handler could not do, rendered as the message page
//! with the right status. The user sees a message written here, never an error's own text,
//! which goes to the log.

use super::pages::{MessageView, render};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a page could not be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    /// The browser sent something wrong (a stale form, a replayed callback...): `400`.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The identity server refused or did not answer: `502`; the cause goes to the log.
    #[error("identity server: {message}: {cause:#}")]
    IdentityServer {
        message: &'static str,
        cause: anyhow::Error,
    },
}

impl WebError {
    /// An identity-server failure with the user's `message`.
    pub(crate) fn identity_server(message: &'static str, cause: impl Into<anyhow::Error>) -> Self {
        Self::IdentityServer {
            message,
            cause: cause.into(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::BadRequest(message) => {
                tracing::info!(error = %self, "request refused");
                (StatusCode::BAD_REQUEST, "Something went wrong", *message)
            }
            Self::IdentityServer { message, .. } => {
                tracing::warn!(error = %self, "identity server call failed");
                (
                    StatusCode::BAD_GATEWAY,
                    "The identity server said no",
                    *message,
                )
            }
        };
        let mut response = render("message.html", MessageView { title, message });
        *response.status_mut() = status;
        response
    }
}
