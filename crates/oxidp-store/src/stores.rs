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
