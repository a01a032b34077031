//! Conformance checks for [`SessionStore`]: round trips, creation conflicts, updates, touches,
//! deletion by key and by filter, removal of expired sessions (also by concurrent callers), and
//! the keyset paging of `query_sessions` (page numbers, flags, backward paging, stale and
//! malformed tokens, filters, page sizes, and the display-name order of a display-name filter).
//!
//! Every session a check creates has a subject (and session ids and display names) embedding a
//! fresh UUID, and queries always filter on them, so the checks can share a database. The
//! expiry checks expire their sessions decades in the past (as the grant expiry checks do) and
//! only assert about their own sessions: a call may also return expired sessions left by
//! someone else. Two expiry checks running on one database *at the same moment* could still
//! remove each other's sessions (see the [kit's caveat](super)).

use super::{now, unique};
use crate::model::{QueryResult, ServerSideSession, SessionFilter, SessionQuery};
use crate::store::{SessionStore, StoreError};
use time::{Duration, OffsetDateTime};

/// A session with every optional field set, created a minute ago and expiring in a day. The
/// ticket holds every byte value.
fn full_session(key: &str, subject_id: &str, session_id: &str) -> ServerSideSession {
    let created = now() - Duration::minutes(1);
    ServerSideSession {
        key: key.to_owned(),
        scheme: "oxidp".to_owned(),
        subject_id: subject_id.to_owned(),
        session_id: session_id.to_owned(),
        display_name: Some("Zoë O'Brien \"✓\" 🦀".to_owned()),
        created,
        renewed: created + Duration::seconds(30),
        expires: Some(created + Duration::days(1)),
        ticket: (0..=255u8).chain([0, 0, 255]).collect(),
    }
}

/// A session of `subject_id` created at `created`, expiring a day later.
fn session(
    key: &str,
    subject_id: &str,
    session_id: &str,
    display_name: Option<&str>,
    created: OffsetDateTime,
) -> ServerSideSession {
    ServerSideSession {
        key: key.to_owned(),
        scheme: "oxidp".to_owned(),
        subject_id: subject_id.to_owned(),
        session_id: session_id.to_owned(),
        display_name: display_name.map(str::to_owned),
        created,
        renewed: created,
        expires: Some(created + Duration::days(1)),
        ticket: format!("ticket of {key}").into_bytes(),
    }
}

/// Asserts that two sessions are equal, field by field (their `Debug` hides the key and ticket).
fn assert_session_eq(actual: Option<&ServerSideSession>, expected: &ServerSideSession) {
    let actual = actual.unwrap_or_else(|| panic!("session {} was not found", expected.key));
    let fields = [
        ("key", actual.key == expected.key),
        ("scheme", actual.scheme == expected.scheme),
        ("subject_id", actual.subject_id == expected.subject_id),
        ("session_id", actual.session_id == expected.session_id),
        ("display_name", actual.display_name == expected.display_name),
        ("created", actual.created == expected.created),
        ("renewed", actual.renewed == expected.renewed),
        ("expires", actual.expires == expected.expires),
        ("ticket", actual.ticket == expected.ticket),
    ];
    for (field, equal) in fields {
        assert!(
            equal,
            "session {}: field `{field}` read back differs\n  expected: {expected:?} ticket={:?}\n    actual: {actual:?} ticket={:?}",
            expected.key, expected.ticket, actual.ticket
        );
    }
}

/// Asserts that two lists of sessions are equal, in order and field by field.
fn assert_sessions_eq(actual: &[ServerSideSession], expected: &[ServerSideSession], what: &str) {
    assert_eq!(
        keys(actual),
        keys(expected),
        "{what}: wrong sessions or order"
    );
    for (actual, expected) in actual.iter().zip(expected) {
        assert_session_eq(Some(actual), expected);
    }
}

/// The keys of `sessions`, in order.
fn keys(sessions: &[ServerSideSession]) -> Vec<&str> {
    sessions.iter().map(|s| s.key.as_str()).collect()
}

/// Sorts sessions into the paging order without a display-name filter, (created, key).
fn sort_by_created(sessions: &mut [ServerSideSession]) {
    sessions.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
}

/// Sorts sessions into the paging order with a display-name filter, (display_name, created,
/// key).
fn sort_by_name(sessions: &mut [ServerSideSession]) {
    sessions.sort_by(|a, b| {
        (&a.display_name, a.created, &a.key).cmp(&(&b.display_name, b.created, &b.key))
    });
}

async fn create_all<S: SessionStore + ?Sized>(store: &S, sessions: &[ServerSideSession]) {
    for session in sessions {
        store.create_session(session).await.expect("create_session");
    }
}

async fn get<S: SessionStore + ?Sized>(store: &S, key: &str) -> Option<ServerSideSession> {
    store.get_session(key).await.expect("get_session")
}

/// A session with every optional field set reads back equal, and so does one with every
/// optional field `None` and an empty ticket; an unknown key reads back as `None`.
pub async fn sessions_round_trip_every_field<S: SessionStore + ?Sized>(store: &S) {
    let uid = unique();
    let full = full_session(
        &format!("kit-session-{uid}-full:|,\"é"),
        &format!("kit-sub-{uid}"),
        &format!("kit-sid-{uid}"),
    );
    store.create_session(&full).await.expect("create_session");
    assert_session_eq(get(store, &full.key).await.as_ref(), &full);

    let minimal = ServerSideSession {
        key: format!("kit-session-{uid}-minimal"),
        display_name: None,
        expires: None,
        ticket: Vec::new(),
        ..full.clone()
    };
    store
        .create_session(&minimal)
        .await
        .expect("create_session");
    assert_session_eq(get(store, &minimal.key).await.as_ref(), &minimal);

    assert!(
        get(store, &format!("kit-missing-{uid}")).await.is_none(),
        "an unknown key must read back as None"
    );
}

/// `create_session` refuses an existing key with [`StoreError::Conflict`] and leaves the
/// existing session untouched; once the key is deleted it can be created again.
pub async fn create_session_refuses_an_existing_key<S: SessionStore + ?Sized>(store: &S) {
    let uid = unique();
    let first = full_session(
        &format!("kit-session-{uid}"),
        &format!("kit-sub-{uid}"),
        &format!("kit-sid-{uid}"),
    );
    store.create_session(&first).await.expect("create_session");
    let second = ServerSideSession {
        subject_id: format!("kit-sub-{uid}-other"),
        ticket: b"other".to_vec(),
        ..first.clone()
    };
    assert_eq!(
        store.create_session(&second).await,
        Err(StoreError::Conflict),
        "create_session on an existing key must be a conflict"
    );
    assert_session_eq(get(store, &first.key).await.as_ref(), &first);

    assert!(
        store
            .delete_session(&first.key)
            .await
            .expect("delete_session")
    );
    store
        .create_session(&second)
        .await
        .expect("create_session after deletion");
    assert_session_eq(get(store, &first.key).await.as_ref(), &second);
}

/// `update_session` replaces every field of an existing session (clearing options too) and
/// reports `true`; on an unknown key it reports `false` and creates nothing.
pub async fn update_session_replaces_every_field<S: SessionStore + ?Sized>(store: &S) {
    let uid = unique();
    let original = full_session(
        &format!("kit-session-{uid}"),
        &format!("kit-sub-{uid}"),
        &format!("kit-sid-{uid}"),
    );
    store
        .create_session(&original)
        .await
        .expect("create_session");
    let replacement = ServerSideSession {
        key: original.key.clone(),
        scheme: "other-scheme".to_owned(),
        subject_id: format!("kit-sub-{uid}-2"),
        session_id: format!("kit-sid-{uid}-2"),
        display_name: None,
        created: original.created + Duration::seconds(5),
        renewed: original.renewed + Duration::hours(1),
        expires: None,
        ticket: vec![9, 8, 7],
    };
    assert!(
        store
            .update_session(&replacement)
            .await
            .expect("update_session"),
        "updating an existing session must report true"
    );
    assert_session_eq(get(store, &original.key).await.as_ref(), &replacement);

    let restored = ServerSideSession {
        display_name: Some("Restored".to_owned()),
        ..original.clone()
    };
    assert!(
        store
            .update_session(&restored)
            .await
            .expect("update_session")
    );
    assert_session_eq(get(store, &original.key).await.as_ref(), &restored);

    let unknown = ServerSideSession {
        key: format!("kit-missing-{uid}"),
        ..original
    };
    assert!(
        !store
            .update_session(&unknown)
            .await
            .expect("update_session"),
        "updating an unknown session must report false"
    );
    assert!(
        get(store, &unknown.key).await.is_none(),
        "update_session must not create a session"
    );
}

/// `touch_session` sets `renewed` and `expires` (also to `None`) and leaves every other field
/// as it was; on an unknown key it reports `false` and creates nothing.
pub async fn touch_session_changes_only_renewed_and_expires<S: SessionStore + ?Sized>(store: &S) {
    let uid = unique();
    let original = full_session(
        &format!("kit-session-{uid}"),
        &format!("kit-sub-{uid}"),
        &format!("kit-sid-{uid}"),
    );
    store
        .create_session(&original)
        .await
        .expect("create_session");

    let renewed = original.renewed + Duration::minutes(10);
    let expires = Some(renewed + Duration::hours(10));
    assert!(
        store
            .touch_session(&original.key, renewed, expires)
            .await
            .expect("touch_session")
    );
    let touched = ServerSideSession {
        renewed,
        expires,
        ..original.clone()
    };
    assert_session_eq(get(store, &original.key).await.as_ref(), &touched);

    let renewed = renewed + Duration::seconds(1);
    assert!(
        store
            .touch_session(&original.key, renewed, None)
            .await
            .expect("touch_session")
    );
    let unbounded = ServerSideSession {
        renewed,
        expires: None,
        ..original.clone()
    };
    assert_session_eq(get(store, &original.key).await.as_ref(), &unbounded);

    let missing = format!("kit-missing-{uid}");
    assert!(
        !store
            .touch_session(&missing, renewed, expires)
            .await
            .expect("touch_session"),
        "touching an unknown session must report false"
    );
    assert!(get(store, &missing).await.is_none());
}

/// Deleting a session reports `true` and deletes it (only it); deleting it again reports
/// `false`.
pub async fn delete_session_reports_whether_it_existed<S: SessionStore + ?Sized>(store: &S) {
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let deleted = full_session(&format!("kit-session-{uid}-1"), &subject, "sid");
    let kept = full_session(&format!("kit-session-{uid}-2"), &subject, "sid");
    create_all(store, &[deleted.clone(), kept.clone()]).await;

    assert!(
        store
            .delete_session(&deleted.key)
            .await
            .expect("delete_session")
    );
    assert!(get(store, &deleted.key).await.is_none());
    assert!(
        !store
            .delete_session(&deleted.key)
            .await
            .expect("delete_session again")
    );
    assert_session_eq(get(store, &kept.key).await.as_ref(), &kept);
}

/// Values shared by the filter checks, unique to one call: five sessions, inserted out of
/// (created, key) order.
///
/// | session | subject | session id | created |
/// |---|---|---|---|
/// | 0 | s1 | sid1 | +2 |
/// | 1 | s1 | sid1 | +1 |
/// | 2 | s1 | sid2 | +1 |
/// | 3 | s2 | sid1 | +0 |
/// | 4 | s1-x | sid2 | +0 |
///
/// (`s1-x` extends `s1`: exact matching must not take it for `s1`.)
struct FilterFixture {
    sessions: Vec<ServerSideSession>,
    subjects: [String; 2],
    sids: [String; 2],
}

impl FilterFixture {
    async fn create<S: SessionStore + ?Sized>(store: &S) -> Self {
        let uid = unique();
        let subjects = [format!("kit-sub-{uid}-1"), format!("kit-sub-{uid}-2")];
        let sids = [format!("kit-sid-{uid}-1"), format!("kit-sid-{uid}-2")];
        let extended = format!("{}-x", subjects[0]);
        let base = now() - Duration::hours(1);
        let rows = [
            (&subjects[0], &sids[0], 2),
            (&subjects[0], &sids[0], 1),
            (&subjects[0], &sids[1], 1),
            (&subjects[1], &sids[0], 0),
            (&extended, &sids[1], 0),
        ];
        let sessions: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(n, (subject, sid, seconds))| {
                session(
                    &format!("kit-session-{uid}-{n}"),
                    subject,
                    sid,
                    None,
                    base + Duration::seconds(*seconds),
                )
            })
            .collect();
        create_all(store, &sessions).await;
        Self {
            sessions,
            subjects,
            sids,
        }
    }

    fn filter(&self, subject: Option<usize>, sid: Option<usize>) -> SessionFilter {
        SessionFilter {
            subject_id: subject.map(|i| self.subjects[i].clone()),
            session_id: sid.map(|i| self.sids[i].clone()),
        }
    }

    /// The sessions with these indexes, in (created, key) order.
    fn expected(&self, indexes: &[usize]) -> Vec<ServerSideSession> {
        let mut sessions: Vec<_> = indexes.iter().map(|&i| self.sessions[i].clone()).collect();
        sort_by_created(&mut sessions);
        sessions
    }
}

/// `get_sessions` matches subject and session id exactly, AND-combines them, ignores an empty
/// string as an unset field, and orders by (created, key).
pub async fn session_filters_select_exactly_and_in_order<S: SessionStore + ?Sized>(store: &S) {
    let fixture = FilterFixture::create(store).await;
    let cases = [
        ("subject", fixture.filter(Some(0), None), vec![0, 1, 2]),
        ("other subject", fixture.filter(Some(1), None), vec![3]),
        ("session id", fixture.filter(None, Some(0)), vec![0, 1, 3]),
        (
            "subject and session id",
            fixture.filter(Some(0), Some(0)),
            vec![0, 1],
        ),
        (
            "subject and other session id",
            fixture.filter(Some(0), Some(1)),
            vec![2],
        ),
        ("no match", fixture.filter(Some(1), Some(1)), vec![]),
        (
            "subject and empty session id",
            SessionFilter {
                session_id: Some(String::new()),
                ..fixture.filter(Some(0), None)
            },
            vec![0, 1, 2],
        ),
        (
            "subject in another case",
            SessionFilter {
                subject_id: Some(fixture.subjects[0].to_uppercase()),
                session_id: None,
            },
            vec![],
        ),
    ];
    for (what, filter, expected) in cases {
        let found = store.get_sessions(&filter).await.expect("get_sessions");
        assert_sessions_eq(&found, &fixture.expected(&expected), what);
    }
}

/// `get_sessions` refuses a filter without criteria (both unset, or both
/// empty strings) with [`StoreError::EmptyFilter`].
pub async fn empty_session_filter_is_refused<S: SessionStore + ?Sized>(store: &S) {
    let uid = unique();
    let kept = full_session(
        &format!("kit-session-{uid}"),
        &format!("kit-sub-{uid}"),
        &format!("kit-sid-{uid}"),
    );
    store.create_session(&kept).await.expect("create_session");
    let empties = [
        SessionFilter::default(),
        SessionFilter {
            subject_id: Some(String::new()),
            session_id: Some(String::new()),
        },
        SessionFilter {
            subject_id: Some(String::new()),
            session_id: None,
        },
    ];
    for filter in &empties {
        assert_eq!(
            store.get_sessions(filter).await,
            Err(StoreError::EmptyFilter),
            "get_sessions({filter:?})"
        );
    }
    assert_session_eq(get(store, &kept.key).await.as_ref(), &kept);
}

/// `count` sessions of one fresh subject, created over a few seconds with several sharing a
/// second (so the key breaks ties), inserted out of order, with keys full of the characters a
/// token format might split on. Returns the subject and the sessions in (created, key) order.
async fn paging_fixture<S: SessionStore + ?Sized>(
    store: &S,
    count: i64,
) -> (String, Vec<ServerSideSession>) {
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let base = now() - Duration::hours(1);
    let mut sessions: Vec<_> = (0..count)
        .map(|n| {
            session(
                &format!("kit:{uid}|{:03},\"é%_ {n}", (n * 37) % 101),
                &subject,
                &format!("kit-sid-{uid}-{n}"),
                Some("Paged"),
                base + Duration::seconds((n * 7) % 9),
            )
        })
        .collect();
    create_all(store, &sessions).await;
    sort_by_created(&mut sessions);
    (subject, sessions)
}

fn page_query(subject: &str, count: u32, token: Option<&str>, prior: bool) -> SessionQuery {
    SessionQuery {
        results_token: token.map(str::to_owned),
        request_prior_results: prior,
        count_requested: count,
        subject_id: Some(subject.to_owned()),
        ..SessionQuery::default()
    }
}

async fn query<S: SessionStore + ?Sized>(
    store: &S,
    query: &SessionQuery,
) -> QueryResult<ServerSideSession> {
    store.query_sessions(query).await.expect("query_sessions")
}

/// Asserts a page's rows, flags and numbers.
fn assert_page(
    page: &QueryResult<ServerSideSession>,
    expected: &[ServerSideSession],
    (has_prev, has_next): (bool, bool),
    (total_count, total_pages, current_page): (u64, u64, u64),
    what: &str,
) {
    assert_sessions_eq(&page.results, expected, what);
    let found = (
        page.has_prev_results,
        page.has_next_results,
        page.total_count,
        page.total_pages,
        page.current_page,
    );
    assert_eq!(
        found,
        (has_prev, has_next, total_count, total_pages, current_page),
        "{what}: (has_prev, has_next, total_count, total_pages, current_page)"
    );
    assert!(
        page.results_token.is_some(),
        "{what}: a non-empty page has a token"
    );
}

/// Sixty sessions in pages of 25 come as pages 1, 2 and 3 (25, 25 and 10 sessions) in
/// (created, key) order, with the right flags, totals and page numbers; the page after the
/// last one starts again at page 1.
pub async fn session_query_pages_forward_with_totals<S: SessionStore + ?Sized>(store: &S) {
    let (subject, all) = paging_fixture(store, 60).await;
    let page1 = query(store, &page_query(&subject, 25, None, false)).await;
    assert_page(&page1, &all[..25], (false, true), (60, 3, 1), "page 1");
    let page2 = query(
        store,
        &page_query(&subject, 25, page1.results_token.as_deref(), false),
    )
    .await;
    assert_page(&page2, &all[25..50], (true, true), (60, 3, 2), "page 2");
    let page3 = query(
        store,
        &page_query(&subject, 25, page2.results_token.as_deref(), false),
    )
    .await;
    assert_page(&page3, &all[50..], (true, false), (60, 3, 3), "page 3");
    let after = query(
        store,
        &page_query(&subject, 25, page3.results_token.as_deref(), false),
    )
    .await;
    assert_eq!(
        after, page1,
        "the page after the last one starts again at page 1"
    );
}

/// Paging backward from page 3 gives exactly the pages (rows, flags, numbers and tokens)
/// paging forward gave, and paging forward from a page reached backward gives the next page.
pub async fn session_query_pages_backward_to_the_same_pages<S: SessionStore + ?Sized>(store: &S) {
    let (subject, _) = paging_fixture(store, 60).await;
    let forward = |token: Option<String>| {
        let subject = &subject;
        async move { query(store, &page_query(subject, 25, token.as_deref(), false)).await }
    };
    let backward = |token: Option<String>| {
        let subject = &subject;
        async move { query(store, &page_query(subject, 25, token.as_deref(), true)).await }
    };
    let page1 = forward(None).await;
    let page2 = forward(page1.results_token.clone()).await;
    let page3 = forward(page2.results_token.clone()).await;

    let back2 = backward(page3.results_token.clone()).await;
    assert_eq!(
        back2, page2,
        "page 2 reached backward differs from page 2 reached forward"
    );
    let back1 = backward(back2.results_token.clone()).await;
    assert_eq!(
        back1, page1,
        "page 1 reached backward differs from page 1 reached forward"
    );
    let again2 = forward(back1.results_token.clone()).await;
    assert_eq!(
        again2, page2,
        "forward from page 1 reached backward is not page 2"
    );
    let before1 = backward(page1.results_token.clone()).await;
    assert_eq!(before1, page1, "backward from page 1 stays on page 1");
}

/// A token that is not one the store issued (`garbage`, empty, `a:b|c:d`, ...) starts at page
/// 1, forward or backward; it is never an error.
pub async fn session_query_malformed_token_restarts_at_page_one<S: SessionStore + ?Sized>(
    store: &S,
) {
    let (subject, all) = paging_fixture(store, 30).await;
    let page1 = query(store, &page_query(&subject, 25, None, false)).await;
    assert_page(&page1, &all[..25], (false, true), (30, 2, 1), "page 1");
    let malformed = [
        "garbage",
        "",
        "a:b|c:d",
        "0,0",
        "W10",
        "WzEsImEiLDIsImIiXQ==",
        "eyJrZXkiOiJ4In0",
        "🦀",
    ];
    for token in malformed {
        for prior in [false, true] {
            let page = store
                .query_sessions(&page_query(&subject, 25, Some(token), prior))
                .await
                .unwrap_or_else(|e| panic!("token {token:?} (prior {prior}) is an error: {e}"));
            assert_eq!(
                page, page1,
                "token {token:?} (prior {prior}) did not start at page 1"
            );
        }
    }
}

/// Tokens survive deletions: forward from a page whose rows were deleted continues after them;
/// when nothing follows the token's page any more it starts again at page 1; backward onto a
/// first page made short by deletions shows a full first page instead.
pub async fn session_query_stale_token_restarts_at_page_one<S: SessionStore + ?Sized>(store: &S) {
    let (subject, all) = paging_fixture(store, 60).await;
    let run = |token: Option<String>, prior: bool| {
        let subject = &subject;
        async move { query(store, &page_query(subject, 25, token.as_deref(), prior)).await }
    };
    let page1 = run(None, false).await;
    let page2 = run(page1.results_token.clone(), false).await;

    // Delete page 1's first 20 rows: forward from page 1 still gives the rows after it, now
    // page 2 of 2 starting after 5 rows.
    for session in &all[..20] {
        assert!(
            store
                .delete_session(&session.key)
                .await
                .expect("delete_session")
        );
    }
    let next = run(page1.results_token.clone(), false).await;
    assert_page(
        &next,
        &all[25..50],
        (true, true),
        (40, 2, 2),
        "forward after deletions",
    );
    // Backward from page 2 finds only 5 rows before it: a short first page, so a full first
    // page is shown instead.
    let back = run(page2.results_token.clone(), true).await;
    assert_page(
        &back,
        &all[20..45],
        (false, true),
        (40, 2, 1),
        "backward onto a short page",
    );

    // Delete everything after page 2: nothing follows its token, so page 1 again.
    for session in &all[50..] {
        assert!(
            store
                .delete_session(&session.key)
                .await
                .expect("delete_session")
        );
    }
    let after = run(page2.results_token.clone(), false).await;
    assert_page(
        &after,
        &all[20..45],
        (false, true),
        (30, 2, 1),
        "forward from a stale token",
    );
}

/// The query filters: subject and session id exact, display name a case-sensitive prefix that
/// never matches a session without one (`%` and `_` are not wildcards); all AND-combined;
/// results in (display_name, created, key) order with a (non-empty) display-name filter, in
/// (created, key) order without.
pub async fn session_query_filters_by_subject_session_and_display_name_prefix<
    S: SessionStore + ?Sized,
>(
    store: &S,
) {
    let uid = unique();
    let subjects = [format!("kit-sub-{uid}-a"), format!("kit-sub-{uid}-b")];
    let extended = format!("{}-x", subjects[0]);
    let sid = |n: usize| format!("kit-sid-{uid}-{n}");
    let base = now() - Duration::hours(1);
    let named = |n: usize, subject: &str, sid: String, name: Option<String>| {
        session(
            &format!("kit-session-{uid}-{n:02}"),
            subject,
            &sid,
            name.as_deref(),
            base + Duration::seconds((n as i64 * 5) % 7),
        )
    };
    let plain = |name: &str| Some(name.to_owned());
    let scoped = |name: &str| Some(format!("{uid}-{name}"));
    let sessions = [
        named(0, &subjects[0], sid(0), plain("Alice")),
        named(1, &subjects[0], sid(1), plain("Alan")),
        named(2, &subjects[0], sid(2), plain("alice")),
        named(3, &subjects[0], sid(3), None),
        named(4, &subjects[0], sid(4), plain("Bob")),
        named(5, &extended, sid(0), plain("Alice")),
        named(6, &subjects[1], sid(6), scoped("Alice")),
        named(7, &subjects[1], sid(7), scoped("Alan")),
        named(8, &subjects[1], sid(8), scoped("alice")),
        named(9, &subjects[1], sid(9), scoped("50%_off")),
        named(10, &subjects[1], sid(10), scoped("50xyoff")),
        named(11, &subjects[1], sid(11), scoped("été")),
        named(12, &subjects[1], sid(12), scoped("f")),
        named(13, &subjects[1], sid(13), scoped("z\u{10FFFF}a")),
        named(14, &subjects[1], sid(14), scoped("z")),
        named(15, &subjects[1], sid(15), None),
    ];
    create_all(store, &sessions).await;

    let with = |subject: Option<&str>, sid: Option<String>, name: Option<String>| SessionQuery {
        count_requested: 100,
        subject_id: subject.map(str::to_owned),
        session_id: sid,
        display_name: name,
        ..SessionQuery::default()
    };
    let cases = [
        (
            "subject",
            with(Some(&subjects[0]), None, None),
            vec![0, 1, 2, 3, 4],
        ),
        ("session id", with(None, Some(sid(0)), None), vec![0, 5]),
        (
            "subject and session id",
            with(Some(&subjects[0]), Some(sid(0)), None),
            vec![0],
        ),
        (
            "subject and prefix Al",
            with(Some(&subjects[0]), None, plain("Al")),
            vec![0, 1],
        ),
        (
            "subject and prefix A",
            with(Some(&subjects[0]), None, plain("A")),
            vec![0, 1],
        ),
        (
            "subject and prefix al",
            with(Some(&subjects[0]), None, plain("al")),
            vec![2],
        ),
        (
            "subject and whole name",
            with(Some(&subjects[0]), None, plain("Alice")),
            vec![0],
        ),
        (
            "subject and longer name",
            with(Some(&subjects[0]), None, plain("Alicex")),
            vec![],
        ),
        (
            "subject and empty prefix",
            with(Some(&subjects[0]), None, plain("")),
            vec![0, 1, 2, 3, 4],
        ),
        (
            "sid and prefix",
            with(None, Some(sid(0)), plain("Ali")),
            vec![0, 5],
        ),
        (
            "all three",
            with(Some(&extended), Some(sid(0)), plain("Ali")),
            vec![5],
        ),
        (
            "all three, no match",
            with(Some(&extended), Some(sid(1)), plain("Ali")),
            vec![],
        ),
        ("prefix only", with(None, None, scoped("Al")), vec![6, 7]),
        (
            "prefix with wildcards",
            with(None, None, scoped("50%_")),
            vec![9],
        ),
        (
            "prefix with a wildcard",
            with(None, None, scoped("50%")),
            vec![9],
        ),
        (
            "prefix with an accent",
            with(None, None, scoped("é")),
            vec![11],
        ),
        (
            "prefix ending in U+10FFFF",
            with(None, None, scoped("z\u{10FFFF}")),
            vec![13],
        ),
        ("prefix z", with(None, None, scoped("z")), vec![13, 14]),
        (
            "uid prefix",
            with(None, None, scoped("")),
            vec![6, 7, 8, 9, 10, 11, 12, 13, 14],
        ),
    ];
    for (what, query_, expected) in cases {
        let page = query(store, &query_).await;
        let mut expected: Vec<_> = expected.iter().map(|&i| sessions[i].clone()).collect();
        if query_
            .display_name
            .as_deref()
            .is_some_and(|p| !p.is_empty())
        {
            sort_by_name(&mut expected);
        } else {
            sort_by_created(&mut expected);
        }
        assert_sessions_eq(&page.results, &expected, what);
        assert_eq!(
            page.total_count,
            expected.len() as u64,
            "{what}: total_count"
        );
        assert!(
            !page.has_next_results && !page.has_prev_results,
            "{what}: one page"
        );
    }
}

/// Sixty sessions of one fresh subject whose display names start with one fresh prefix, the
/// names out of creation order (ten names, six sessions each; several sessions sharing a second,
/// some sharing both name and second, so the key breaks ties), and two sessions of another
/// subject just outside the prefix (the prefix without its last character, and the prefix's
/// successor). Returns the subject, the prefix and the sixty sessions in (display_name, created,
/// key) order.
async fn name_paging_fixture<S: SessionStore + ?Sized>(
    store: &S,
) -> (String, String, Vec<ServerSideSession>) {
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let stem = format!("kit-name-{uid}");
    let prefix = format!("{stem}-");
    let words = [
        "Zoë", "Alan", "alice", "Al", "Émile", "Bob", "Al Zed", "Alice", "50%_off", "z",
    ];
    let base = now() - Duration::hours(1);
    let mut sessions: Vec<_> = (0..60i64)
        .map(|n| {
            let name = format!("{prefix}{}", words[(n * 7 % 10) as usize]);
            session(
                &format!("kit:{uid}|{:03},\"é%_ {n}", (n * 37) % 101),
                &subject,
                &format!("kit-sid-{uid}-{n}"),
                Some(&name),
                base + Duration::seconds((n * 5) % 8),
            )
        })
        .collect();
    create_all(store, &sessions).await;
    // `.` follows `-`: the smallest name above every name that starts with the prefix.
    let outside = [stem.clone(), format!("{stem}.")];
    for (n, name) in outside.iter().enumerate() {
        let neighbour = session(
            &format!("kit-session-{uid}-outside-{n}"),
            &format!("{subject}-other"),
            &format!("kit-sid-{uid}-outside-{n}"),
            Some(name),
            base,
        );
        store
            .create_session(&neighbour)
            .await
            .expect("create_session");
    }
    sort_by_name(&mut sessions);
    (subject, prefix, sessions)
}

/// With a display-name filter, sixty sessions in pages of 25 come as pages 1, 2 and 3 (25, 25
/// and 10 sessions) in (display_name, created, key) order, not in creation order, with the right
/// flags, totals and page numbers; the page after the last one starts again at page 1; paging
/// backward from page 3 gives exactly the same pages, tokens included. A token of the (created,
/// key) order (from a query without a display-name filter) starts a query with one at page 1,
/// and a token of a display-name query starts a query without one at page 1: a token of the
/// other order is malformed, never an error.
pub async fn session_query_pages_by_display_name_in_name_order<S: SessionStore + ?Sized>(
    store: &S,
) {
    let (subject, prefix, all) = name_paging_fixture(store).await;
    let mut in_creation_order = all.clone();
    sort_by_created(&mut in_creation_order);
    assert_ne!(
        keys(&all[..25]),
        keys(&in_creation_order[..25]),
        "the fixture's name order must differ from its creation order"
    );
    let by_name = |token: Option<String>, prior: bool| {
        let prefix = &prefix;
        async move {
            let query_ = SessionQuery {
                results_token: token,
                request_prior_results: prior,
                count_requested: 25,
                display_name: Some(prefix.clone()),
                ..SessionQuery::default()
            };
            query(store, &query_).await
        }
    };

    let page1 = by_name(None, false).await;
    assert_page(&page1, &all[..25], (false, true), (60, 3, 1), "name page 1");
    let page2 = by_name(page1.results_token.clone(), false).await;
    assert_page(
        &page2,
        &all[25..50],
        (true, true),
        (60, 3, 2),
        "name page 2",
    );
    let page3 = by_name(page2.results_token.clone(), false).await;
    assert_page(&page3, &all[50..], (true, false), (60, 3, 3), "name page 3");
    let after = by_name(page3.results_token.clone(), false).await;
    assert_eq!(
        after, page1,
        "the page after the last name page starts again at page 1"
    );

    let back2 = by_name(page3.results_token.clone(), true).await;
    assert_eq!(
        back2, page2,
        "name page 2 reached backward differs from name page 2 reached forward"
    );
    let back1 = by_name(back2.results_token.clone(), true).await;
    assert_eq!(
        back1, page1,
        "name page 1 reached backward differs from name page 1 reached forward"
    );
    let again2 = by_name(back1.results_token.clone(), false).await;
    assert_eq!(
        again2, page2,
        "forward from name page 1 reached backward is not name page 2"
    );

    // The same sessions without a display-name filter: (created, key) order, and tokens of
    // that order.
    let created1 = query(store, &page_query(&subject, 25, None, false)).await;
    assert_page(
        &created1,
        &in_creation_order[..25],
        (false, true),
        (60, 3, 1),
        "page 1 by subject",
    );
    let created2 = query(
        store,
        &page_query(&subject, 25, created1.results_token.as_deref(), false),
    )
    .await;
    assert_page(
        &created2,
        &in_creation_order[25..50],
        (true, true),
        (60, 3, 2),
        "page 2 by subject",
    );
    for prior in [false, true] {
        let page = by_name(created2.results_token.clone(), prior).await;
        assert_eq!(
            page, page1,
            "a (created, key) token with a display-name filter (prior {prior}) did not start at \
             page 1"
        );
        let page = query(
            store,
            &page_query(&subject, 25, page2.results_token.as_deref(), prior),
        )
        .await;
        assert_eq!(
            page, created1,
            "a display-name token without a display-name filter (prior {prior}) did not start \
             at page 1"
        );
    }
}

/// The page size: 0 means 25, more than 1,000 means 1,000; a page never holds more than the
/// matching sessions.
pub async fn session_query_page_size_defaults_and_caps<S: SessionStore + ?Sized>(store: &S) {
    let sized = |count| SessionQuery {
        count_requested: count,
        ..SessionQuery::default()
    };
    assert_eq!(sized(0).page_size(), 25);
    assert_eq!(sized(7).page_size(), 7);
    assert_eq!(sized(1_000).page_size(), 1_000);
    assert_eq!(sized(5_000).page_size(), 1_000);

    let (subject, all) = paging_fixture(store, 30).await;
    let page = query(store, &page_query(&subject, 5_000, None, false)).await;
    assert_page(&page, &all, (false, false), (30, 1, 1), "count 5000");
    let page = query(store, &page_query(&subject, 0, None, false)).await;
    assert_page(&page, &all[..25], (false, true), (30, 2, 1), "count 0");
    let page = query(store, &page_query(&subject, 7, None, false)).await;
    assert_page(&page, &all[..7], (false, true), (30, 5, 1), "count 7");
    let page = query(
        store,
        &page_query(&subject, 7, page.results_token.as_deref(), false),
    )
    .await;
    assert_page(
        &page,
        &all[7..14],
        (true, true),
        (30, 5, 2),
        "count 7, page 2",
    );
}

/// A query that matches nothing is an empty page: no token, no flags, all counts 0, whatever
/// the token.
pub async fn session_query_without_matches_is_empty<S: SessionStore + ?Sized>(store: &S) {
    let (subject, _) = paging_fixture(store, 3).await;
    let page1 = query(store, &page_query(&subject, 2, None, false)).await;
    let empty = QueryResult {
        results_token: None,
        has_prev_results: false,
        has_next_results: false,
        total_count: 0,
        total_pages: 0,
        current_page: 0,
        results: Vec::new(),
    };
    let nobody = format!("{subject}-nobody");
    for (token, prior) in [
        (None, false),
        (Some("garbage"), true),
        (page1.results_token.as_deref(), false),
        (page1.results_token.as_deref(), true),
    ] {
        let page = query(store, &page_query(&nobody, 2, token, prior)).await;
        assert_eq!(page, empty, "token {token:?} (prior {prior})");
    }
}
