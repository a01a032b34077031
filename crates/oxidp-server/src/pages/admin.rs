//! The session administration page (`/admin/sessions`): its view models and render function.
//!
//! The handler turns core records into these views, with every instant already formatted
//! ([`AdminTime`]) and every link already built, so the template only lays out and escapes.
//! Like the other views, the field names are the contract with an operator's override.

use super::{Page, Pages, RenderError};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// The `/admin/sessions` page: filters, one page of sessions with a revoke form per row, the
/// pending and failed back-channel deliveries, and the audit log.
///
/// Each revoke form posts to `/admin/sessions/revoke` with `csrf_token`, `subject_id`,
/// `session_id` and the checkboxes `remove_session`, `revoke_tokens`, `revoke_consents`,
/// `send_backchannel_logout` (value `true`, checked by default; absent when unchecked).
#[derive(Debug, Clone, Serialize)]
pub struct AdminSessionsView {
    /// The CSRF token for this browser, for the revoke forms.
    pub csrf_token: String,
    /// The outcome of the last action (post-redirect-get), shown once.
    pub flash: Option<String>,
    /// The filters in force, echoed into the filter form (empty when unset).
    pub filters: AdminFiltersView,
    /// Whether server-side sessions are enabled; when not, there is no session table.
    pub sessions_enabled: bool,
    /// The sessions on this page.
    pub sessions: Vec<AdminSessionRow>,
    /// Where this page sits in the result set.
    pub paging: AdminPagingView,
    /// Back-channel logout notifications waiting for (another) attempt, newest first.
    pub pending_deliveries: Vec<AdminDeliveryView>,
    /// Back-channel logout notifications whose retries ran out, newest first.
    pub failed_deliveries: Vec<AdminDeliveryView>,
    /// The newest audit entries first.
    pub audit: Vec<AdminAuditView>,
}

/// The filter form's values (sent back as the query of `GET /admin/sessions`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AdminFiltersView {
    /// Subject id, matched exactly (`subject_id`).
    pub subject_id: String,
    /// Session id, matched exactly (`session_id`).
    pub session_id: String,
    /// Display-name prefix (`display_name`).
    pub display_name: String,
    /// Page size as typed (`count`); empty for the default.
    pub count: String,
}

/// The position in the result set and the links to the neighbouring pages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AdminPagingView {
    /// This page's number, from 1.
    pub current_page: u64,
    /// Pages in all.
    pub total_pages: u64,
    /// Matching sessions in all.
    pub total_count: u64,
    /// A local link (`/admin/sessions?...`) to the previous page, when there is one.
    pub prev_url: Option<String>,
    /// A local link to the next page, when there is one.
    pub next_url: Option<String>,
}

/// An instant, for a `<time>` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminTime {
    /// RFC 3339, for the `datetime` attribute.
    pub iso: String,
    /// `2025-08-01 12:34:56 UTC`, for people.
    pub display: String,
}

impl AdminTime {
    /// Formats `at` in UTC.
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        let display_format =
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
        Self {
            iso: utc.format(&Rfc3339).unwrap_or_default(),
            display: utc.format(display_format).unwrap_or_default(),
        }
    }
}

/// One session in the table.
#[derive(Debug, Clone, Serialize)]
pub struct AdminSessionRow {
    /// `sub`.
    pub subject_id: String,
    /// `sid`.
    pub session_id: String,
    /// The indexed display name, if the server records one.
    pub display_name: Option<String>,
    /// The clients that used the session, in order of first use.
    pub client_ids: Vec<String>,
    /// Created.
    pub created: AdminTime,
    /// Last renewed.
    pub renewed: AdminTime,
    /// Expires; `None` never.
    pub expires: Option<AdminTime>,
}

/// One back-channel logout notification.
#[derive(Debug, Clone, Serialize)]
pub struct AdminDeliveryView {
    /// The client notified.
    pub client_id: String,
    /// The session it is about.
    pub session_id: String,
    /// The logout reason (`user_logout`, `terminated`, `session_expiration`).
    pub reason: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (for a failed one: when it would have been).
    pub next_attempt: AdminTime,
    /// The attempts, oldest first.
    pub history: Vec<AdminAttemptView>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AdminAttemptView {
    /// When it was made.
    pub at: AdminTime,
    /// `HTTP 503`, or what went wrong (`timed out`, ...).
    pub outcome: String,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize)]
pub struct AdminAuditView {
    /// When.
    pub at: AdminTime,
    /// Who (`page:<sub>`, `api:<client id>`, `cli:<user>`).
    pub actor: String,
    /// What was asked, as `name=value` pairs.
    pub request: String,
    /// What happened, as `name=value` pairs.
    pub outcome: String,
}

impl Pages {
    /// The session administration page.
    pub fn admin_sessions(&self, view: &AdminSessionsView) -> Result<Page, RenderError> {
        self.render("admin_sessions.html", view).map(Page::new)
    }
}

impl AdminSessionsView {
    /// Sample data exercising every branch of the template (start-up self-test).
    pub(super) fn sample() -> Self {
        let at = AdminTime {
            iso: "2025-08-01T12:00:00Z".into(),
            display: "2025-08-01 12:00:00 UTC".into(),
        };
        let delivery = AdminDeliveryView {
            client_id: "sample".into(),
            session_id: "sid-1".into(),
            reason: "terminated".into(),
            attempts: 1,
            next_attempt: at.clone(),
            history: vec![AdminAttemptView {
                at: at.clone(),
                outcome: "HTTP 503".into(),
            }],
        };
        Self {
            csrf_token: "sample-csrf".into(),
            flash: Some("Removed 1 session; 1 logout notification queued".into()),
            filters: AdminFiltersView {
                subject_id: "sub-1".into(),
                ..AdminFiltersView::default()
            },
            sessions_enabled: true,
            sessions: vec![AdminSessionRow {
                subject_id: "sub-1".into(),
                session_id: "sid-1".into(),
                display_name: Some("Sample User".into()),
                client_ids: vec!["sample".into()],
                created: at.clone(),
                renewed: at.clone(),
                expires: Some(at.clone()),
            }],
            paging: AdminPagingView {
                current_page: 2,
                total_pages: 3,
                total_count: 3,
                prev_url: Some("/admin/sessions?results_token=t&prior=true".into()),
                next_url: Some("/admin/sessions?results_token=t".into()),
            },
            pending_deliveries: vec![delivery.clone()],
            failed_deliveries: vec![delivery],
            audit: vec![AdminAuditView {
                at,
                actor: "page:sub-1".into(),
                request: "session_id=sid-1".into(),
                outcome: "sessions_removed=1".into(),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XSS: &str = "<script>alert(1)</script>";

    fn render(view: &AdminSessionsView) -> String {
        let pages = Pages::new(None).expect("templates load");
        pages
            .admin_sessions(view)
            .expect("renders")
            .html()
            .to_owned()
    }

    #[test]
    fn times_are_utc_in_two_formats() {
        let at = OffsetDateTime::from_unix_timestamp(1_754_049_600)
            .expect("valid")
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).expect("valid"));
        assert_eq!(
            AdminTime::new(at),
            AdminTime {
                iso: "2025-08-01T12:00:00Z".into(),
                display: "2025-08-01 12:00:00 UTC".into(),
            }
        );
    }

    #[test]
    fn every_input_has_a_label_and_every_post_form_a_csrf_field() {
        let html = render(&AdminSessionsView::sample());
        for input in html.split("<input").skip(1) {
            let input = &input[..input.find('>').expect("tag closes")];
            if input.contains("type=\"hidden\"") {
                continue;
            }
            let id = input
                .split("id=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("input without id: {input}"));
            assert!(
                html.contains(&format!("<label for=\"{id}\"")),
                "no label for {id}"
            );
        }
        for form in html.split("<form").skip(1) {
            if form.starts_with(" method=\"post\"") {
                let form = &form[..form.find("</form>").expect("form closes")];
                assert!(form.contains(r#"name="csrf_token" value="sample-csrf""#));
            }
        }
    }

    #[test]
    fn revoke_checkboxes_are_checked_by_default() {
        let html = render(&AdminSessionsView::sample());
        for name in [
            "remove_session",
            "revoke_tokens",
            "revoke_consents",
            "send_backchannel_logout",
        ] {
            let at = html
                .find(&format!("name=\"{name}\""))
                .unwrap_or_else(|| panic!("no {name}"));
            let tag_end = at + html[at..].find('>').expect("tag closes");
            assert!(html[at..tag_end].contains("checked"), "{name} unchecked");
        }
    }

    #[test]
    fn data_is_escaped() {
        let mut view = AdminSessionsView::sample();
        view.sessions[0].display_name = Some(XSS.into());
        view.sessions[0].session_id = XSS.into();
        view.audit[0].request = XSS.into();
        view.pending_deliveries[0].history[0].outcome = XSS.into();
        view.flash = Some(XSS.into());
        view.filters.display_name = "\"><b>".into();
        let html = render(&view);
        assert!(!html.contains(XSS));
        assert!(!html.contains("\"><b>"));
    }

    #[test]
    fn disabled_sessions_are_explained_instead_of_the_table() {
        let view = AdminSessionsView {
            sessions_enabled: false,
            sessions: Vec::new(),
            ..AdminSessionsView::sample()
        };
        let html = render(&view);
        assert!(html.contains("Server-side sessions are not enabled"));
        assert!(!html.contains("<table class=\"sessions\""));
    }
}
