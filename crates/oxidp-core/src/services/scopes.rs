//! Scope validation: which of the requested scopes a client gets, and the audiences they imply.

use super::Context;
use super::identity::{OFFLINE_ACCESS, is_identity_scope};
use crate::error::{ErrorCode, OAuthError};
use crate::model::Client;

/// Scopes granted to a request and the API resources (audiences) they select.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrantedScopes {
    /// Granted scopes, in request order without duplicates.
    pub scopes: Vec<String>,
    /// Names of the API resources that own at least one granted scope, ordered by name.
    pub audiences: Vec<String>,
}

impl GrantedScopes {
    /// Whether `scope` was granted.
    pub fn contains(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The scopes space-separated.
    pub fn joined(&self) -> String {
        self.scopes.join(" ")
    }
}

/// Who is asking: a machine (client credentials) may request API scopes only; a user's client
/// may also request identity scopes and `offline_access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeContext {
    Machine,
    User,
}

/// Resolves requested scopes. Without a `scope` parameter a machine client gets every API
/// scope it is allowed; a user's client must ask. A scope that is malformed, unknown or not
/// allowed for this client is `invalid_scope`.
pub(crate) async fn resolve_scopes(
    ctx: &Context,
    client: &Client,
    requested: Option<&str>,
    context: ScopeContext,
) -> Result<GrantedScopes, OAuthError> {
    let resources = ctx.stores.resources.list_api_resources().await?;
    let resources: Vec<_> = resources.into_iter().filter(|r| r.enabled).collect();
    let is_api_scope = |scope: &str| {
        resources
            .iter()
            .any(|r| r.scopes.iter().any(|s| s == scope))
    };
    let allowed = |scope: &str| match scope {
        OFFLINE_ACCESS => context == ScopeContext::User && client.allow_offline_access,
        s if is_identity_scope(s) => {
            context == ScopeContext::User && client.allowed_scopes.iter().any(|a| a == s)
        }
        s => is_api_scope(s) && client.allowed_scopes.iter().any(|a| a == s),
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
                if !allowed(scope) {
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
        None if context == ScopeContext::Machine => scopes.extend(
            client
                .allowed_scopes
                .iter()
                .filter(|s| is_api_scope(s))
                .cloned(),
        ),
        None => {}
    }
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope was requested or allowed",
        ));
    }
    Ok(granted(&resources, scopes))
}

/// Narrows previously granted scopes to `requested` (a refresh with `scope`): a subset is
/// honoured, anything wider is `invalid_scope`.
pub(crate) async fn narrow_scopes(
    ctx: &Context,
    original: &[String],
    requested: Option<&str>,
    user: &crate::model::User,
) -> Result<GrantedScopes, OAuthError> {
    let resources = ctx.stores.resources.list_api_resources().await?;
    let resources: Vec<_> = resources.into_iter().filter(|r| r.enabled).collect();
    let scopes: Vec<String> = match requested {
        None => original.to_vec(),
        Some(requested) => {
            let mut scopes = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !original.iter().any(|o| o == scope) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("scope `{scope}` was not granted originally"),
                    ));
                }
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_owned());
                }
            }
            scopes
        }
    };
    // The admin scope reaches a user's token only while the user holds the admin role (at
    // every issuance, refreshes included): a client allowed the scope cannot make any user an
    // administrator, and taking the role away stops the next refresh from carrying it.
    let scopes: Vec<String> = scopes
        .into_iter()
        .filter(|scope| scope != super::ADMIN_SCOPE || user.has_role(super::ADMIN_ROLE))
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "no scope was requested",
        ));
    }
    Ok(granted(&resources, scopes))
}

fn granted(resources: &[crate::model::ApiResource], scopes: Vec<String>) -> GrantedScopes {
    let mut audiences: Vec<String> = resources
        .iter()
        .filter(|r| r.scopes.iter().any(|s| scopes.contains(s)))
        .map(|r| r.name.clone())
        .collect();
    audiences.sort();
    audiences.dedup();
    GrantedScopes { scopes, audiences }
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
