//! The session store's SQL and keyset paging: statements, results tokens and page flags.

use super::*;

#[test]
fn prefix_successor_bounds_exactly_the_strings_with_the_prefix() {
    assert_eq!(prefix_successor("Al").as_deref(), Some("Am"));
    assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
    assert_eq!(prefix_successor("é").as_deref(), Some("ê"));
    for prefix in ["Al", "a\u{D7FF}", "x\u{10FFFF}", "é", "50%_"] {
        let upper = prefix_successor(prefix).expect("an upper bound");
        for candidate in [
            "Alice",
            "Al",
            "Am",
            "alice",
            "a\u{D7FF}z",
            "a\u{E000}",
            "x\u{10FFFF}\u{10FFFF}",
            "y",
            "été",
            "f",
            "50%_off",
            "50%a",
        ] {
            let in_range = candidate >= prefix && candidate < upper.as_str();
            assert_eq!(
                in_range,
                candidate.starts_with(prefix),
                "{prefix:?} {candidate:?}"
            );
        }
    }
}

fn session(key: &str, name: Option<&str>) -> ServerSideSession {
    let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("a valid instant");
    ServerSideSession {
        key: key.to_owned(),
        scheme: "oxidp".to_owned(),
        subject_id: "s".to_owned(),
        session_id: "sid".to_owned(),
        display_name: name.map(str::to_owned),
        created: at,
        renewed: at,
        expires: None,
        ticket: Vec::new(),
    }
}

#[test]
fn forged_page_numbers_neither_overflow_nor_inflate_a_large_page() {
    let rows = || vec![session("a", None), session("b", None)];
    let query = SessionQuery::default();
    let position = || Position::Created(1_700_000_000, "a".to_owned());
    for number in [u64::MAX, u64::MAX / 2, 1 << 62, 1_000_000] {
        for page in [
            Page::After(position(), number),
            Page::Before(position(), number),
        ] {
            let result = large_page_result(&query, rows(), 25, &page, (true, true), 10_000);
            assert!(result.current_page <= 401, "page {}", result.current_page);
            assert!(result.total_pages <= 402, "{} pages", result.total_pages);
            assert!(
                result.total_count <= 10_025,
                "{} sessions",
                result.total_count
            );
        }
    }
}

#[test]
fn tokens_with_nul_are_malformed() {
    let (a, b) = (session("a\0b", None), session("c", None));
    let token = encode_token(Order::Created, &a, &b, 2);
    assert_eq!(decode_token(&token, Order::Created), None);
    let (a, b) = (session("a", Some("x\0")), session("c", Some("y")));
    let token = encode_token(Order::DisplayName, &a, &b, 2);
    assert_eq!(decode_token(&token, Order::DisplayName), None);
}

fn by_name(prefix: &str) -> SessionQuery {
    SessionQuery {
        display_name: Some(prefix.to_owned()),
        ..SessionQuery::default()
    }
}

#[test]
fn only_a_non_empty_display_name_filter_orders_by_name() {
    assert_eq!(Order::of(&SessionQuery::default()), Order::Created);
    assert_eq!(Order::of(&by_name("")), Order::Created);
    assert_eq!(Order::of(&by_name("A")), Order::DisplayName);
    let subject = SessionQuery {
        subject_id: Some("alice".to_owned()),
        ..by_name("A")
    };
    assert_eq!(Order::of(&subject), Order::DisplayName);
}

#[test]
fn tokens_round_trip_any_key_and_malformed_ones_are_ignored() {
    let (a, b) = (session("a:b|c,\"é\\", None), session("", None));
    let token = encode_token(Order::Created, &a, &b, 7);
    assert_eq!(
        decode_token(&token, Order::Created),
        Some((
            Position::Created(1_700_000_000, a.key.clone()),
            Position::Created(1_700_000_000, String::new()),
            7
        ))
    );
    let page_zero = URL_SAFE_NO_PAD.encode(r#"[1,"a",2,"b",0]"#);
    let four_fields = URL_SAFE_NO_PAD.encode(r#"[1,"a",2,"b"]"#);
    for malformed in [
        "",
        "garbage",
        "a:b|c:d",
        "W10",
        "WzEsImEiXQ",
        &page_zero,
        &four_fields,
    ] {
        assert_eq!(decode_token(malformed, Order::Created), None, "{malformed}");
    }
}

#[test]
fn name_tokens_round_trip_and_a_token_of_the_other_order_is_malformed() {
    let (a, b) = (
        session("a:b|c,\"é\\", Some("Zoë \"✓\" [1,\"x\"]")),
        session("", Some("")),
    );
    let token = encode_token(Order::DisplayName, &a, &b, 3);
    assert_eq!(
        decode_token(&token, Order::DisplayName),
        Some((
            Position::Named(
                "Zoë \"✓\" [1,\"x\"]".to_owned(),
                1_700_000_000,
                a.key.clone()
            ),
            Position::Named(String::new(), 1_700_000_000, String::new()),
            3
        ))
    );
    let created = encode_token(Order::Created, &a, &b, 3);
    assert_eq!(decode_token(&created, Order::DisplayName), None);
    assert_eq!(decode_token(&token, Order::Created), None);
    let page_zero = URL_SAFE_NO_PAD.encode(r#"["n",1,"a","n",2,"b",0]"#);
    let six_fields = URL_SAFE_NO_PAD.encode(r#"["n",1,"a","n",2,"b"]"#);
    let eight_fields = URL_SAFE_NO_PAD.encode(r#"["n",1,"a","n",2,"b",1,1]"#);
    let null_name = URL_SAFE_NO_PAD.encode(r#"[null,1,"a","n",2,"b",1]"#);
    for malformed in [
        "",
        "garbage",
        &page_zero,
        &six_fields,
        &eight_fields,
        &null_name,
    ] {
        assert_eq!(
            decode_token(malformed, Order::DisplayName),
            None,
            "{malformed}"
        );
    }
}

#[test]
fn name_pages_write_only_the_tighter_bound_beside_the_keyset() {
    let sql = |query: &SessionQuery, page: &Page| {
        let statement = select_page(query, page, 26);
        let texts: Vec<String> = statement
            .binds
            .iter()
            .map(|value| match value {
                Value::Text(text) => format!("{text:?}"),
                Value::Int(int) => int.to_string(),
            })
            .collect();
        (statement.sql, texts.join(" "))
    };
    let at = |name: &str| Position::Named(name.to_owned(), 5, "k".to_owned());
    let query = by_name("Al");

    // Forward from a position within the prefix: the keyset is the lower bound.
    let (text, binds) = sql(&query, &Page::After(at("Alice"), 1));
    assert!(
        text.contains(
            "WHERE display_name < $1 AND (display_name, created, key) > ($2, $3, $4) \
             ORDER BY display_name, created, key LIMIT $5"
        ),
        "{text}"
    );
    assert_eq!(binds, r#""Am" "Alice" 5 "k" 26"#);
    // Forward from a position below the prefix (a token of another prefix): the prefix is.
    let (text, binds) = sql(&query, &Page::After(at("Aa"), 1));
    assert!(
        text.contains("WHERE display_name >= $1 AND display_name < $2 ORDER BY"),
        "{text}"
    );
    assert_eq!(binds, r#""Al" "Am" 26"#);
    // Backward from within the prefix: the keyset is the upper bound.
    let (text, binds) = sql(&query, &Page::Before(at("Alice"), 2));
    assert!(
        text.contains(
            "WHERE display_name >= $1 AND (display_name, created, key) < ($2, $3, $4) \
             ORDER BY display_name DESC, created DESC, key DESC LIMIT $5) AS page \
             ORDER BY display_name, created, key"
        ),
        "{text}"
    );
    assert_eq!(binds, r#""Al" "Alice" 5 "k" 26"#);
    // Backward from above the prefix: the successor is.
    let (text, binds) = sql(&query, &Page::Before(at("B"), 2));
    assert!(
        text.contains("WHERE display_name >= $1 AND display_name < $2 ORDER BY"),
        "{text}"
    );
    assert_eq!(binds, r#""Al" "Am" 26"#);
    // In (created, key) order nothing changes.
    let subject = SessionQuery {
        subject_id: Some("s".to_owned()),
        ..SessionQuery::default()
    };
    let (text, _) = sql(
        &subject,
        &Page::After(Position::Created(5, "k".to_owned()), 1),
    );
    assert!(
        text.contains(
            "WHERE subject_id = $1 AND (created, key) > ($2, $3) ORDER BY created, key LIMIT $4"
        ),
        "{text}"
    );
}

/// Each position-relative bound, evaluated by hand as the database would, selects exactly
/// what the full condition (the prefix and the keyset, ANDed) selects.
#[test]
fn the_tighter_bound_selects_what_prefix_and_keyset_together_select() {
    let names = [
        "A",
        "Al",
        "Ala",
        "Alan",
        "Alb",
        "Alz",
        "Am",
        "B",
        "",
        "Al\u{10FFFF}",
    ];
    let rows: Vec<(&str, i64, &str)> = names
        .iter()
        .flat_map(|name| {
            [
                (*name, 4, "k"),
                (*name, 5, "j"),
                (*name, 5, "k"),
                (*name, 5, "l"),
            ]
        })
        .collect();
    for prefix in ["Al", "A", "Alan", "\u{10FFFF}"] {
        for (op, greater) in [(">", true), ("<", false)] {
            for position in &rows {
                let edge =
                    Position::Named(position.0.to_owned(), position.1, position.2.to_owned());
                let mut conditions = Conditions::default();
                conditions.query_beyond(&by_name(prefix), op, &edge);
                for row in &rows {
                    let expected = row.0.starts_with(prefix)
                        && if greater {
                            row > position
                        } else {
                            row < position
                        };
                    let actual = conditions
                        .conditions
                        .iter()
                        .all(|condition| evaluate(condition, &conditions.binds, *row));
                    assert_eq!(
                        actual, expected,
                        "prefix {prefix:?}, {op} {position:?}, row {row:?}: {:?}",
                        conditions.conditions
                    );
                }
            }
        }
    }
}

/// Evaluates one condition `query_beyond` writes against a row (display_name, created, key).
fn evaluate(condition: &str, binds: &[Value], row: (&str, i64, &str)) -> bool {
    let text = |placeholder: &str| match &binds
        [placeholder[1..].parse::<usize>().expect("a placeholder") - 1]
    {
        Value::Text(text) => text.clone(),
        Value::Int(_) => panic!("{placeholder} is not text"),
    };
    let int = |placeholder: &str| match &binds
        [placeholder[1..].parse::<usize>().expect("a placeholder") - 1]
    {
        Value::Int(int) => *int,
        Value::Text(_) => panic!("{placeholder} is not an integer"),
    };
    let words: Vec<&str> = condition.split(' ').collect();
    match words.as_slice() {
        ["display_name", ">=", p] => row.0 >= text(p).as_str(),
        ["display_name", "<", p] => row.0 < text(p).as_str(),
        ["(display_name,", "created,", "key)", op, n, c, k] => {
            let edge = (
                text(n.trim_start_matches('(').trim_end_matches(',')),
                int(c.trim_end_matches(',')),
                text(k.trim_end_matches(')')),
            );
            let row = (row.0.to_owned(), row.1, row.2.to_owned());
            match *op {
                ">" => row > edge,
                "<" => row < edge,
                other => panic!("operator {other}"),
            }
        }
        _ => panic!("unexpected condition {condition}"),
    }
}

/// SQLite seeks the `(display_name, created, key)` index for a page in display-name order,
/// forward and backward, and never sorts the matching rows (only the page itself, going
/// backward); without a display-name filter the `(created, key)` index serves the page.
#[tokio::test]
async fn sqlite_serves_name_pages_from_the_display_name_index() {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("an in-memory database");
    crate::SqliteStore::from_pool(pool.clone())
        .migrate()
        .await
        .expect("migrations");
    let plan = |statement: Statement| {
        let pool = pool.clone();
        async move {
            let sql = format!("EXPLAIN QUERY PLAN {}", statement.sql);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for value in &statement.binds {
                query = match value {
                    Value::Text(text) => query.bind(text.clone()),
                    Value::Int(int) => query.bind(*int),
                };
            }
            let rows = query.fetch_all(&pool).await.expect("EXPLAIN QUERY PLAN");
            rows.iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    let query = by_name("Al");
    let edge = Position::Named("Alice".to_owned(), 5, "k".to_owned());
    let first = plan(select_page(&query, &Page::First, 26)).await;
    assert!(
        first.contains("USING INDEX server_side_sessions_display_name")
            && !first.contains("TEMP B-TREE"),
        "{first}"
    );
    let after = plan(select_page(&query, &Page::After(edge.clone(), 1), 26)).await;
    assert!(
        after.contains(
            "USING INDEX server_side_sessions_display_name ((display_name,created,key)>(?,?,?)"
        ) && !after.contains("TEMP B-TREE"),
        "{after}"
    );
    let before = plan(select_page(&query, &Page::Before(edge, 2), 26)).await;
    assert!(
        before.contains("(display_name,created,key)<(?,?,?))"),
        "{before}"
    );
    let probe = plan(probe_beyond(&query, ">", &session("k", Some("Alice")))).await;
    assert!(
        probe.contains(
            "USING INDEX server_side_sessions_display_name ((display_name,created,key)>(?,?,?)"
        ),
        "{probe}"
    );
    let all = plan(select_page(
        &SessionQuery::default(),
        &Page::After(Position::Created(5, "k".to_owned()), 1),
        26,
    ))
    .await;
    assert!(
        all.contains("USING INDEX server_side_sessions_created ((created,key)>(?,?))")
            && !all.contains("TEMP B-TREE"),
        "{all}"
    );
    pool.close().await;
}
