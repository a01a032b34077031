//! The store traits of `oxidp-core`, implemented once per aggregate for both backends.
//!
//! One module per aggregate: [`clients`] (clients and API resources), [`grants`], [`keys`],
//! [`users`], [`sessions`], [`outbox`] (with the transactional session removals that fill it),
//! [`audit`], [`sign_in`] (failed sign-in counters), [`revoked_tokens`] (the revocation list
//! of JWT access tokens) and [`dpop_proofs`] (the DPoP proofs seen). Each module writes its trait implementation once, as a short macro expanded
//! for [`SqliteStore`](crate::SqliteStore) and [`PostgresStore`](crate::PostgresStore): sqlx's
//! two drivers share no trait a generic implementation could use without repeating a long list
//! of bounds on every impl (the decision and its reasons are in `docs/architecture.md`,
//! "Stores"). The macros take only the store type; what differs between the databases comes
//! from its [`Dialect`](crate::dialect::Dialect), and the SQL text from [`crate::sql`],
//! [`crate::sessions`], [`crate::outbox`] and [`crate::expiration`].

/// Runs a batched expiry `DELETE` (`$1` = now, `$2` = batch size; the statement differs per
/// table and dialect) on `$store`'s pool and returns how many rows went. A macro, for the same
/// reason as the store implementations: the two pools share no usable trait.
macro_rules! remove_expired {
    ($store:expr, $statement:expr, $now:expr, $batch:expr) => {
        sqlx::query($statement)
            .bind(crate::sql::seconds($now))
            .bind(i64::from($batch))
            .execute(&$store.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(crate::error::store_error)
    };
}

mod audit;
mod clients;
mod dpop_proofs;
mod grants;
mod keys;
mod outbox;
mod revoked_tokens;
mod sessions;
mod sign_in;
mod users;
