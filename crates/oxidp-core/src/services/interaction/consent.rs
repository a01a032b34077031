//! The consent page: what it shows, and what the user's answer does (deny, approve some
//! scopes, remember the decision when the client allows it).

use super::{AuthorizeOutcome, BrowserSession, InteractionService, PageFailure, authorize_params};
use crate::options::paths;
use crate::services::identity::{self, OPENID};

/// One scope as the consent page describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDescription {
    /// The scope value (the form field's value).
    pub name: String,
    /// What the user reads as its title.
    pub display_name: String,
    /// A sentence about it, when there is one.
    pub description: Option<String>,
    /// Cannot be unticked (`openid`).
    pub required: bool,
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentPage {
    /// The return URL (the authorization request), kept in the form.
    pub return_url: String,
    /// The client's display name.
    pub client_name: String,
    /// The client id.
    pub client_id: String,
    /// Identity scopes (`openid`, `profile`, ..., `offline_access`).
    pub identity_scopes: Vec<ScopeDescription>,
    /// API scopes.
    pub api_scopes: Vec<ScopeDescription>,
    /// Whether "remember my decision" is offered.
    pub allow_remember: bool,
    /// The client redirect URI the form's submission ends at (for `form-action`).
    pub redirect_uri: String,
}

/// What to do for a consent page request.
#[derive(Debug)]
pub enum ConsentPageOutcome {
    /// Show the page.
    Show(Box<ConsentPage>),
    /// Anywhere else (the login page, the client with an error, an error page).
    Elsewhere(AuthorizeOutcome),
}

/// The user's answer on the consent page.
#[derive(Debug, Clone, Default)]
pub struct ConsentDecision {
    /// "Yes" was pressed.
    pub approved: bool,
    /// The scopes ticked.
    pub scopes: Vec<String>,
    /// "Remember my decision" was ticked.
    pub remember: bool,
}

impl InteractionService {
    /// The consent page for the authorization request in `return_url`.
    pub async fn consent_page(
        &self,
        return_url: String,
        session: Option<&BrowserSession>,
    ) -> ConsentPageOutcome {
        let Some(params) = authorize_params(&return_url) else {
            return ConsentPageOutcome::Elsewhere(AuthorizeOutcome::Failure(
                PageFailure::bad_request("The consent request is invalid."),
            ));
        };
        let request = match self.authorize.validate(&params).await {
            Ok(request) => request,
            Err(error) => return ConsentPageOutcome::Elsewhere(error.into()),
        };
        if session.is_none() {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("return_url", &return_url)
                .finish();
            return ConsentPageOutcome::Elsewhere(AuthorizeOutcome::Page(format!(
                "{}?{query}",
                paths::LOGIN
            )));
        }
        let resources = match self.ctx.stores.resources.list_api_resources().await {
            Ok(resources) => resources,
            Err(error) => {
                return ConsentPageOutcome::Elsewhere(AuthorizeOutcome::Failure(error.into()));
            }
        };
        let mut identity_scopes = Vec::new();
        let mut api_scopes = Vec::new();
        for scope in &request.scopes.scopes {
            if identity::is_identity_scope(scope) || scope == identity::OFFLINE_ACCESS {
                let (display_name, description) = identity::describe(scope);
                identity_scopes.push(ScopeDescription {
                    name: scope.clone(),
                    display_name: display_name.to_owned(),
                    description: Some(description.to_owned()).filter(|d| !d.is_empty()),
                    required: scope == OPENID,
                });
            } else {
                let owner = resources.iter().find(|r| r.scopes.contains(scope));
                api_scopes.push(ScopeDescription {
                    name: scope.clone(),
                    display_name: scope.clone(),
                    description: owner.map(|r| {
                        format!(
                            "Access to {}",
                            r.display_name.clone().unwrap_or_else(|| r.name.clone())
                        )
                    }),
                    required: false,
                });
            }
        }
        ConsentPageOutcome::Show(Box::new(ConsentPage {
            return_url,
            client_name: request.client.display_name(),
            client_id: request.client.client_id.clone(),
            identity_scopes,
            api_scopes,
            allow_remember: request.client.allow_remember_consent,
            redirect_uri: request.redirect_uri,
        }))
    }

    /// The user answered the consent page: deny, or issue the code for the approved scopes
    /// (remembering them when asked and the client allows it).
    pub async fn consent_decision(
        &self,
        return_url: &str,
        session: Option<BrowserSession>,
        decision: ConsentDecision,
    ) -> AuthorizeOutcome {
        let Some(params) = authorize_params(return_url) else {
            return AuthorizeOutcome::Failure(PageFailure::bad_request(
                "The consent request is invalid.",
            ));
        };
        let request = match self.authorize.validate(&params).await {
            Ok(request) => request,
            Err(error) => return error.into(),
        };
        let Some(session) = session else {
            return AuthorizeOutcome::Failure(PageFailure::session_ended());
        };
        let deny = |description| AuthorizeOutcome::Respond {
            response: self.authorize.error(&request, "access_denied", description),
            session_cookie: None,
        };
        if !decision.approved {
            return deny("the user denied the request");
        }
        let chosen: Vec<&str> = decision.scopes.iter().map(String::as_str).collect();
        let granted = request.consented_scopes(&chosen);
        if granted.is_empty() {
            return deny("no scope was approved");
        }
        if decision.remember && request.client.allow_remember_consent {
            let subject = &session.ticket.subject_id;
            // Remembering is a convenience: failing to store it must not fail the sign-in.
            if let Err(error) = self
                .consent
                .remember(subject, &request.client.client_id, &granted)
                .await
            {
                tracing::error!(%error, "cannot store consent");
            }
        }
        self.complete(&request, session, granted).await
    }
}
