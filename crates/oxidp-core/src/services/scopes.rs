//! Scope validation: which of the requested scopes a client gets, and the audiences they imply.

use super::Context;
use crate::error::{ErrorCode, OAuthError};
use crate::model::Client;

/// Scopes granted to a request and the API resources (audiences) they select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScopes {
    /// Granted scopes, in request order without duplicates.
    pub scopes: Vec<String>,
    /// Names of the API resources that own at least one granted scope, ordered by name.
    pub audiences: Vec<String>,
}

/// Resolves the API scopes of a machine-to-machine request. Without a `scope` parameter the
/// client gets every API scope it is allowed. A scope that is malformed, unknown or not
/// allowed for this client is `invalid_scope`.
pub(crate) async fn resolve_api_scopes(
    ctx: &Context,
    client: &Client,
    requested: Option<&str>,
) -> Result<GrantedScopes, OAuthError> {
    let resources = ctx.stores.resources.list_api_resources().await?;
    let resources: Vec<_> = resources.into_iter().filter(|r| r.enabled).collect();
    let is_api_scope = |scope: &str| {
        resources
            .iter()
            .any(|r| r.scopes.iter().any(|s| s == scope))
    };
    let mut scopes: Vec<String> = Vec::new();
    match requested {
        Some(requested) => {
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !is_scope_token(scope) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "a scope contains characters RFC 6749 does not allow",
                    ));
                }
                if !client.allowed_scopes.iter().any(|s| s == scope) || !is_api_scope(scope) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope `{scope}` is not allowed for this client"),
                    ));
                }
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_owned());
                }
            }
        }
        None => scopes.extend(
            client
                .allowed_scopes
                .iter()
                .filter(|s| is_api_scope(s))
                .cloned(),
        ),
    }
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope was requested or allowed",
        ));
    }
    let mut audiences: Vec<String> = resources
        .iter()
        .filter(|r| r.scopes.iter().any(|s| scopes.contains(s)))
        .map(|r| r.name.clone())
        .collect();
    audiences.sort();
    audiences.dedup();
    Ok(GrantedScopes { scopes, audiences })
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::is_scope_token;

    #[test]
    fn scope_tokens_follow_rfc6749() {
        assert!(is_scope_token("orders.read"));
        assert!(is_scope_token("urn:x:y"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("é"));
    }
}
