//! `GET|POST /connect/userinfo` (OIDC Core §5.3) with Bearer tokens (RFC 6750): in the
//! `Authorization` header, or as the `access_token` form field of a POST.

use super::AppState;
use axum::Json;
use axum::extract::RawForm;
use axum::extract::State;
use axum::extract::rejection::RawFormRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxidp_core::services::UserInfoError;

pub async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    form: Result<RawForm, RawFormRejection>,
) -> Response {
    let token = match bearer_token(&method, &headers, form) {
        Ok(token) => token,
        Err(error) => return challenge(error),
    };
    match state.idp.userinfo.userinfo(&token).await {
        Ok(claims) => {
            let mut response = Json(claims).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => challenge(error),
    }
}

fn bearer_token(
    method: &Method,
    headers: &HeaderMap,
    form: Result<RawForm, RawFormRejection>,
) -> Result<String, UserInfoError> {
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| UserInfoError::InvalidRequest("malformed Authorization header"))?;
            let (scheme, token) = value.split_once(' ').ok_or(UserInfoError::InvalidRequest(
                "malformed Authorization header",
            ))?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(UserInfoError::InvalidRequest(
                    "the Bearer scheme is required",
                ));
            }
            Some(token.trim().to_owned())
        }
    };
    let from_body = if *method == Method::POST {
        match form {
            Ok(RawForm(body)) => form_urlencoded::parse(&body)
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned()),
            Err(_) => None,
        }
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(UserInfoError::InvalidRequest(
            "the token was sent more than once",
        )),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(UserInfoError::MissingToken),
    }
}

/// RFC 6750 §3: 401 with a Bearer challenge, 403 for insufficient scope.
fn challenge(error: UserInfoError) -> Response {
    let (status, value) = match &error {
        UserInfoError::MissingToken => (
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"oxidp\"".to_owned(),
        ),
        UserInfoError::InvalidRequest(description) => (
            StatusCode::BAD_REQUEST,
            format!("Bearer error=\"invalid_request\", error_description=\"{description}\""),
        ),
        UserInfoError::InvalidToken => (
            StatusCode::UNAUTHORIZED,
            "Bearer error=\"invalid_token\"".to_owned(),
        ),
        UserInfoError::InsufficientScope => (
            StatusCode::FORBIDDEN,
            "Bearer error=\"insufficient_scope\", scope=\"openid\"".to_owned(),
        ),
        UserInfoError::Server => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    };
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(&value)
        && !value.is_empty()
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
