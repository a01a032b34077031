//! The standard OpenID Connect identity scopes and the user claims each releases.

/// `openid`: the subject only.
pub const OPENID: &str = "openid";
/// `offline_access`: asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Identity scopes and their claims (OIDC Core §5.4).
pub const IDENTITY_SCOPES: [(&str, &[&str]); 4] = [
    (OPENID, &["sub"]),
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Whether `scope` is an identity scope.
pub fn is_identity_scope(scope: &str) -> bool {
    IDENTITY_SCOPES.iter().any(|(name, _)| *name == scope)
}

/// The claims released for `scopes`.
pub fn claims_for<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let mut claims = Vec::new();
    for scope in scopes {
        if let Some((_, names)) = IDENTITY_SCOPES.iter().find(|(name, _)| *name == scope) {
            claims.extend(names.iter().copied());
        }
    }
    claims
}

/// A human-readable description of a standard scope, for the consent page.
pub fn describe(scope: &str) -> (&'static str, &'static str) {
    match scope {
        OPENID => (
            "Your user identifier",
            "Lets the application know who you are",
        ),
        "profile" => ("Your profile", "Your name and other profile information"),
        "email" => (
            "Your email address",
            "Your email address and whether it is verified",
        ),
        "phone" => (
            "Your phone number",
            "Your phone number and whether it is verified",
        ),
        OFFLINE_ACCESS => (
            "Offline access",
            "Access to your data while you are not signed in",
        ),
        _ => ("", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_releases_email_claims_only() {
        assert_eq!(claims_for(["email"]), ["email", "email_verified"]);
        assert!(claims_for(["orders.read"]).is_empty());
        assert!(is_identity_scope("profile"));
        assert!(!is_identity_scope("offline_access"));
    }
}
