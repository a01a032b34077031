//! The SQL both backends run, and the conversions between rows and domain values.
//!
//! Statements use `$n` placeholders, which PostgreSQL and SQLite (through sqlx) both accept, so
//! one text serves both databases; the few statements that differ live in the backend modules.
//! Timestamps are stored as unix seconds. Grant filters become a `WHERE` clause built from the
//! filter's set fields, with every value bound as a parameter.

use oxidp_core::model::{
    DataProtectionKeyRecord, PersistedGrant, PersistedGrantFilter, SigningKeyRecord, User,
    UserProfile,
};
use oxidp_core::store::{StoreError, StoreResult};
use serde::de::DeserializeOwned;
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::fmt::Write as _;
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) const FIND_CLIENT: &str = "SELECT data FROM clients WHERE client_id = $1";
pub(crate) const UPSERT_CLIENT: &str = "INSERT INTO clients (client_id, data, created, updated) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (client_id) DO UPDATE SET data = excluded.data, updated = excluded.updated";
pub(crate) const DELETE_CLIENT: &str = "DELETE FROM clients WHERE client_id = $1";
pub(crate) const LIST_CLIENTS: &str = "SELECT data FROM clients ORDER BY client_id";

pub(crate) const FIND_API_RESOURCE: &str = "SELECT data FROM api_resources WHERE name = $1";
pub(crate) const UPSERT_API_RESOURCE: &str = "INSERT INTO api_resources (name, data, created, updated) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated = excluded.updated";
pub(crate) const LIST_API_RESOURCES: &str = "SELECT data FROM api_resources ORDER BY name";

const GRANT_COLUMNS: &str =
    "key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data";
pub(crate) const STORE_GRANT: &str = "INSERT INTO persisted_grants \
     (key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (key) DO UPDATE SET grant_type = excluded.grant_type, \
     subject_id = excluded.subject_id, session_id = excluded.session_id, \
     client_id = excluded.client_id, created = excluded.created, expires = excluded.expires, \
     consumed = excluded.consumed, data = excluded.data";
pub(crate) const CREATE_GRANT: &str = "INSERT INTO persisted_grants \
     (key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (key) DO NOTHING";
/// Marks a grant consumed unless it already is; one row affected means this caller won.
pub(crate) const CONSUME_GRANT: &str = "UPDATE persisted_grants SET consumed = $2 WHERE key = $1 AND consumed IS NULL \
     RETURNING key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data";

pub(crate) const GET_GRANT: &str = "SELECT key, grant_type, subject_id, session_id, client_id, \
     created, expires, consumed, data FROM persisted_grants WHERE key = $1";
pub(crate) const REMOVE_GRANT: &str = "DELETE FROM persisted_grants WHERE key = $1";

pub(crate) const LIST_SIGNING_KEYS: &str = "SELECT id, algorithm, created, activates, \
     protected_private_key, public_jwk FROM signing_keys ORDER BY activates, id";
pub(crate) const INSERT_SIGNING_KEY: &str = "INSERT INTO signing_keys \
     (id, algorithm, created, activates, protected_private_key, public_jwk) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
pub(crate) const DELETE_SIGNING_KEY: &str = "DELETE FROM signing_keys WHERE id = $1";

pub(crate) const LIST_DATA_PROTECTION_KEYS: &str = "SELECT id, created, activates, expires, \
     material FROM data_protection_keys ORDER BY activates, id";
pub(crate) const INSERT_DATA_PROTECTION_KEY: &str = "INSERT INTO data_protection_keys \
     (id, created, activates, expires, material) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (id) DO NOTHING";
pub(crate) const SEAL_DATA_PROTECTION_KEY: &str =
    "UPDATE data_protection_keys SET material = $1 WHERE id = $2 AND material = $3";

pub(crate) const FIND_USER_BY_SUBJECT: &str = "SELECT subject_id, username, password_hash, \
     profile, enabled, created FROM users WHERE subject_id = $1";
pub(crate) const FIND_USER_BY_USERNAME: &str = "SELECT subject_id, username, password_hash, \
     profile, enabled, created FROM users WHERE username = $1";
pub(crate) const CREATE_USER: &str = "INSERT INTO users \
     (subject_id, username, password_hash, profile, enabled, created) \
     VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const UPDATE_USER: &str = "UPDATE users SET username = $2, password_hash = $3, \
     profile = $4, enabled = $5, created = $6 WHERE subject_id = $1";
pub(crate) const LIST_USERS: &str = "SELECT subject_id, username, password_hash, profile, \
     enabled, created FROM users ORDER BY username";

/// A statement built at run time and the values to bind to its `$1..$n`, in order.
pub(crate) struct Dynamic<'a> {
    pub(crate) sql: String,
    pub(crate) binds: Vec<&'a str>,
}

/// `SELECT` of the grants matching `filter`, ordered by creation then key.
pub(crate) fn select_grants(filter: &PersistedGrantFilter) -> StoreResult<Dynamic<'_>> {
    let (clause, binds) = grant_filter(filter)?;
    let sql = format!(
        "SELECT {GRANT_COLUMNS} FROM persisted_grants WHERE {clause} ORDER BY created, key"
    );
    Ok(Dynamic { sql, binds })
}

/// `DELETE` of the grants matching `filter`.
pub(crate) fn delete_grants(filter: &PersistedGrantFilter) -> StoreResult<Dynamic<'_>> {
    let (clause, binds) = grant_filter(filter)?;
    let sql = format!("DELETE FROM persisted_grants WHERE {clause}");
    Ok(Dynamic { sql, binds })
}

/// The `WHERE` condition for `filter` (AND of its set fields) and its bound values. Only column
/// names and placeholders enter the SQL text; an empty list becomes a condition that is false.
fn grant_filter(filter: &PersistedGrantFilter) -> StoreResult<(String, Vec<&str>)> {
    if filter.is_empty() {
        return Err(StoreError::EmptyFilter);
    }
    let mut conditions: Vec<String> = Vec::new();
    let mut binds: Vec<&str> = Vec::new();
    let singles = [
        ("subject_id", filter.subject_id.as_deref()),
        ("session_id", filter.session_id.as_deref()),
        ("client_id", filter.client_id.as_deref()),
        ("grant_type", filter.grant_type.as_deref()),
    ];
    for (column, value) in singles {
        if let Some(value) = value {
            binds.push(value);
            conditions.push(format!("{column} = ${}", binds.len()));
        }
    }

    let lists = [
        ("client_id", filter.client_ids.as_deref()),
        ("grant_type", filter.grant_types.as_deref()),
    ];
    for (column, values) in lists {
        let Some(values) = values else { continue };
        if values.is_empty() {
            conditions.push("1 = 0".to_owned());
            continue;
        }
        let mut condition = format!("{column} IN (");
        for (i, value) in values.iter().enumerate() {
            binds.push(value);
            let separator = if i == 0 { "" } else { ", " };
            let _ = write!(condition, "{separator}${}", binds.len());
        }
        condition.push(')');
        conditions.push(condition);
    }
    Ok((conditions.join(" AND "), binds))
}

/// An instant as stored: unix seconds (sub-second precision is dropped).
pub(crate) fn seconds(instant: OffsetDateTime) -> i64 {
    instant.unix_timestamp()
}

/// Unix seconds read back as an instant in UTC.
pub(crate) fn instant(column: &str, seconds: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|_| StoreError::Corrupt(format!("`{column}` is out of range")))
}

/// A JSON body (of a client or resource) read back.
pub(crate) fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> StoreResult<T> {
    // serde_json's messages may quote the input; report only where and what kind of error.
    serde_json::from_str(json).map_err(|e| {
        StoreError::Corrupt(format!(
            "stored {what} is not valid ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// A domain value as its stored JSON body.
pub(crate) fn to_json<T: serde::Serialize>(what: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::Corrupt(format!("{what} cannot be serialized")))
}

/// Reads one column; decoding failures are [`StoreError::Corrupt`].
pub(crate) fn column<'r, R, T>(row: &'r R, name: &'static str) -> StoreResult<T>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(name).map_err(crate::error::store_error)
}

/// The `data` column of a client or resource row.
pub(crate) fn data_column<R>(row: &R) -> StoreResult<String>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    column(row, "data")
}

/// A `persisted_grants` row.
pub(crate) fn grant_from_row<R>(row: &R) -> StoreResult<PersistedGrant>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let optional_instant = |name: &'static str| -> StoreResult<Option<OffsetDateTime>> {
        column::<R, Option<i64>>(row, name)?
            .map(|s| instant(name, s))
            .transpose()
    };
    Ok(PersistedGrant {
        key: column(row, "key")?,
        grant_type: column(row, "grant_type")?,
        subject_id: column(row, "subject_id")?,
        session_id: column(row, "session_id")?,
        client_id: column(row, "client_id")?,
        created: instant("created", column(row, "created")?)?,
        expires: optional_instant("expires")?,
        consumed: optional_instant("consumed")?,
        data: column(row, "data")?,
    })
}

/// A `signing_keys` row.
pub(crate) fn signing_key_from_row<R>(row: &R) -> StoreResult<SigningKeyRecord>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(SigningKeyRecord {
        id: column(row, "id")?,
        algorithm: column(row, "algorithm")?,
        created: instant("created", column(row, "created")?)?,
        activates: instant("activates", column(row, "activates")?)?,
        protected_private_key: column(row, "protected_private_key")?,
        public_jwk: column(row, "public_jwk")?,
    })
}

/// A `data_protection_keys` row.
pub(crate) fn data_protection_key_from_row<R>(row: &R) -> StoreResult<DataProtectionKeyRecord>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = column(row, "id")?;
    Ok(DataProtectionKeyRecord {
        id: Uuid::parse_str(&id)
            .map_err(|_| StoreError::Corrupt("data-protection key id is not a UUID".to_owned()))?,
        created: instant("created", column(row, "created")?)?,
        activates: instant("activates", column(row, "activates")?)?,
        expires: instant("expires", column(row, "expires")?)?,
        material: column(row, "material")?,
    })
}

/// The stored JSON `profile` of a user: its claims and roles.
pub(crate) fn user_profile(user: &User) -> StoreResult<String> {
    let profile = UserProfile {
        claims: user.claims.clone(),
        roles: user.roles.clone(),
    };
    to_json("user profile", &profile)
}

/// A `users` row.
pub(crate) fn user_from_row<R>(row: &R) -> StoreResult<User>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let profile: UserProfile = from_json("user profile", &column::<R, String>(row, "profile")?)?;
    Ok(User {
        subject_id: column(row, "subject_id")?,
        username: column(row, "username")?,
        password_hash: column(row, "password_hash")?,
        claims: profile.claims,
        enabled: column(row, "enabled")?,
        roles: profile.roles,
        created: instant("created", column(row, "created")?)?,
    })
}
