//! [`OutboxStore`]: the durable outbox, and the transactional session removals that fill it
//! (sessions deleted, grants revoked and messages enqueued in one commit). SQL in
//! [`crate::outbox`] and [`crate::expiration`]; the claim of due messages differs between the
//! databases and comes from the [`Dialect`].

use crate::dialect::{Connection, Dialect, Row};
use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::{
    AttemptOutcome, DeliveryAttempt, DeliveryStatus, OutboxKind, OutboxMessage, SessionExpiration,
    SessionRemoval, grant_types,
};
use oxidp_core::store::{ExpiredSessionBatch, OutboxStore, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

/// Implements [`OutboxStore`] (and the removal helpers the backends' cleanup batches share) for
/// one backend's store type.
macro_rules! outbox_store {
    ($store:ty) => {
        impl $store {
            /// The rows the claim statement returns: due at `now`, leased until
            /// `lease_until`, at most `batch`, of the kinds this version knows.
            async fn claim_rows(
                &self,
                now: OffsetDateTime,
                lease_until: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<Vec<Row<Self>>> {
                let sql = crate::outbox::claim_due(Self::CLAIM_DUE_MESSAGES);
                // Only `$n` placeholders were written into the text; every value is bound.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(sql::seconds(now))
                    .bind(sql::seconds(lease_until))
                    .bind(i64::from(batch));
                for kind in OutboxKind::ALL {
                    query = query.bind(kind.as_str());
                }
                query.fetch_all(&self.pool).await.map_err(store_error)
            }

            /// Inserts `messages` on `conn`, at most the backend's `MESSAGE_CHUNK` rows per
            /// statement.
            pub(crate) async fn insert_outbox_messages(
                conn: &mut Connection<Self>,
                messages: &[&OutboxMessage],
            ) -> StoreResult<()> {
                for chunk in messages.chunks(Self::MESSAGE_CHUNK) {
                    let sql = crate::outbox::insert_messages(chunk.len());
                    // Only column names and `$n` placeholders were written into the text; every
                    // value is bound below.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for message in chunk {
                        let stored = crate::outbox::stored_payload(&message.payload)?;
                        query = query
                            .bind(crate::outbox::id_text(message.id))
                            .bind(message.client_id.as_str())
                            .bind(message.endpoint.as_str())
                            .bind("")
                            .bind(stored.subject_id)
                            .bind(stored.session_id)
                            .bind(stored.reason)
                            .bind(sql::seconds(message.created))
                            .bind(sql::seconds(message.next_attempt))
                            .bind(crate::outbox::attempts_value(message.attempts))
                            .bind(sql::seconds(message.give_up_after))
                            .bind(message.status.as_str())
                            .bind(stored.kind.as_str())
                            .bind(stored.json);
                    }
                    query
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?;
                }
                Ok(())
            }

            /// In one transaction, for each of `expirations` whose record is still there and
            /// still expired at `now`: deletes it, revokes and enqueues (see
            /// `OutboxStore::commit_expirations`); returns the keys removed.
            pub(crate) async fn commit_still_expired(
                &self,
                now: OffsetDateTime,
                expirations: &[&SessionExpiration],
            ) -> StoreResult<Vec<String>> {
                if expirations.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(store_error)?;
                // The gate: only what this deletes (still there, still expired) is processed.
                let mut removed = std::collections::HashSet::new();
                for chunk in expirations.chunks(crate::outbox::KEY_CHUNK) {
                    let sql = crate::expiration::delete_expired_by_key(chunk.len());
                    // Only `$n` placeholders were written into the text; every value is bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind(sql::seconds(now));
                    for expiration in chunk {
                        query = query.bind(expiration.key.as_str());
                    }
                    let rows = query
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    for row in &rows {
                        removed.insert(sql::column::<_, String>(row, "key")?);
                    }
                }
                let committed: Vec<&SessionExpiration> = expirations
                    .iter()
                    .copied()
                    .filter(|expiration| removed.contains(&expiration.key))
                    .collect();
                Self::revoke_and_enqueue(&mut tx, &committed).await?;
                tx.commit().await.map_err(store_error)?;
                Ok(committed.into_iter().map(|e| e.key.clone()).collect())
            }

            /// The grant revocations and messages of committed expirations, on `conn`.
            pub(crate) async fn revoke_and_enqueue(
                conn: &mut Connection<Self>,
                committed: &[&SessionExpiration],
            ) -> StoreResult<()> {
                // Sessions usually share their set of coordinated clients: one statement per set.
                let mut by_clients: std::collections::BTreeMap<&[String], Vec<&str>> =
                    std::collections::BTreeMap::new();
                for expiration in committed {
                    if !expiration.revoke_client_ids.is_empty() {
                        by_clients
                            .entry(expiration.revoke_client_ids.as_slice())
                            .or_default()
                            .push(expiration.session_id.as_str());
                    }
                }
                for (clients, session_ids) in by_clients {
                    for chunk in session_ids.chunks(crate::outbox::KEY_CHUNK) {
                        let sql = crate::expiration::revoke_session_grants(chunk.len(), clients.len());
                        // Only `$n` placeholders were written into the text; every value is bound.
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                        for grant_type in grant_types::SESSION_BOUND {
                            query = query.bind(grant_type);
                        }
                        for session_id in chunk {
                            query = query.bind(*session_id);
                        }
                        for client_id in clients {
                            query = query.bind(client_id.as_str());
                        }
                        query
                            .execute(&mut *conn)
                            .await
                            .map_err(store_error)?;
                    }
                }
                let messages: Vec<&OutboxMessage> = committed
                    .iter()
                    .flat_map(|expiration| &expiration.messages)
                    .collect();
                Self::insert_outbox_messages(conn, &messages).await
            }

            /// Deletes the sessions with these keys on `conn`; returns how many existed.
            pub(crate) async fn delete_sessions_by_key(
                conn: &mut Connection<Self>,
                keys: &[String],
            ) -> StoreResult<u64> {
                let mut removed = 0;
                for chunk in keys.chunks(crate::outbox::KEY_CHUNK) {
                    let sql = crate::outbox::delete_sessions_by_key(chunk.len());
                    // Only `$n` placeholders were written into the text; every key is bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for key in chunk {
                        query = query.bind(key.as_str());
                    }
                    removed += query
                        .execute(&mut *conn)
                        .await
                        .map_err(store_error)?
                        .rows_affected();
                }
                Ok(removed)
            }
        }

        #[async_trait]
        impl OutboxStore for $store {
            #[tracing::instrument(
                level = "debug",
                skip_all,
                fields(
                    sessions = removal.session_keys.len(),
                    filters = removal.grant_filters.len(),
                    messages = removal.messages.len(),
                )
            )]
            async fn commit_removal(
                &self,
                removal: &SessionRemoval,
            ) -> StoreResult<u64> {
                // Built before the transaction starts: an empty filter writes nothing.
                let grant_deletions = removal
                    .grant_filters
                    .iter()
                    .map(sql::delete_grants)
                    .collect::<StoreResult<Vec<_>>>()?;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(store_error)?;
                let removed = Self::delete_sessions_by_key(&mut tx, &removal.session_keys).await?;
                for statement in &grant_deletions {
                    Self::dynamic(statement)
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let messages: Vec<_> = removal.messages.iter().collect();
                Self::insert_outbox_messages(&mut tx, &messages).await?;
                // Dropping the transaction on any error above rolls everything back.
                tx.commit().await.map_err(store_error)?;
                Ok(removed)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(sessions = expirations.len()))]
            async fn commit_expirations(
                &self,
                now: OffsetDateTime,
                expirations: &[SessionExpiration],
            ) -> StoreResult<Vec<String>> {
                let expirations: Vec<&SessionExpiration> =
                    expirations.iter().collect();
                self.commit_still_expired(now, &expirations).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn take_expired<'a>(
                &'a self,
                now: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<
                Box<dyn ExpiredSessionBatch + 'a>,
            > {
                // Each backend holds a batch its own way (see its `take_expired_batch`).
                self.take_expired_batch(now, batch).await
            }

            fn expiration_lanes(&self) -> usize {
                self.expiration_lane_count()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(messages = messages.len()))]
            async fn enqueue(
                &self,
                messages: &[OutboxMessage],
            ) -> StoreResult<()> {
                if messages.is_empty() {
                    return Ok(());
                }
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(store_error)?;
                let messages: Vec<_> = messages.iter().collect();
                Self::insert_outbox_messages(&mut tx, &messages).await?;
                tx.commit().await.map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn claim_due(
                &self,
                now: OffsetDateTime,
                lease_until: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<Vec<OutboxMessage>> {
                let rows = self.claim_rows(now, lease_until, batch).await?;
                let mut claimed = rows
                    .iter()
                    .map(crate::outbox::message_from_row)
                    .collect::<StoreResult<Vec<_>>>()?;
                // `RETURNING` has no order; every claimed message now has the same
                // `next_attempt`, so this is (next_attempt, id) order.
                claimed.sort_by_key(|message| message.id);
                Ok(claimed)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(attempts = outcomes.len()))]
            async fn record_attempts(
                &self,
                outcomes: &[AttemptOutcome],
            ) -> StoreResult<()> {
                if outcomes.is_empty() {
                    return Ok(());
                }
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err(store_error)?;
                for outcome in outcomes {
                    let id = crate::outbox::id_text(outcome.attempt.message_id);
                    let updated = sqlx::query(crate::outbox::UPDATE_AFTER_ATTEMPT)
                        .bind(id.as_str())
                        .bind(outcome.status.as_str())
                        .bind(sql::seconds(outcome.next_attempt))
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    // A message that is gone gets no attempt, as in `record_attempt`.
                    if updated.rows_affected() == 0 {
                        continue;
                    }
                    sqlx::query(crate::outbox::INSERT_ATTEMPT)
                        .bind(id.as_str())
                        .bind(sql::seconds(outcome.attempt.at))
                        .bind(outcome.attempt.http_status.map(i32::from))
                        .bind(outcome.attempt.error.as_deref())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                tx.commit().await.map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(status = status.as_str(), limit = limit))]
            async fn list_messages(
                &self,
                status: DeliveryStatus,
                limit: u32,
            ) -> StoreResult<Vec<OutboxMessage>> {
                let rows = sqlx::query(crate::outbox::LIST_MESSAGES)
                    .bind(status.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(crate::outbox::message_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(message_id = %message_id))]
            async fn list_attempts(
                &self,
                message_id: Uuid,
            ) -> StoreResult<Vec<DeliveryAttempt>> {
                let rows = sqlx::query(crate::outbox::LIST_ATTEMPTS)
                    .bind(crate::outbox::id_text(message_id))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(crate::outbox::attempt_from_row).collect()
            }
        }
    };
}

outbox_store!(SqliteStore);
outbox_store!(PostgresStore);
