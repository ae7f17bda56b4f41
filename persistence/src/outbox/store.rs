//! The outbox store ([`Outbox`]): saving, claiming, publishing and retrying messages.

use std::collections::BTreeMap;
use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;

use crate::error::Result;
use crate::error::is_duplicate_key;
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::indexes::IndexSpec;
use crate::store::tenancy::{self, TENANT_FIELD, Tenant};
use crate::store::uow::{On, with_session};
use crate::telemetry::spans::traced;

pub(super) const OUTBOX: &str = "outbox_messages";

/// The order messages were saved in by this process.
pub(super) static SEQUENCE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The order messages are published in: creation time, then save order, then id.
pub(super) fn publish_order() -> Document {
    doc! { "created_at": 1, "sequence": 1, "_id": 1 }
}

/// What waits in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backlog {
    /// Pending messages.
    pub pending: u64,
    /// How long the oldest pending message has waited (zero when none).
    pub oldest_age: Duration,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OutboxMessage {
    /// Message id (`_id`).
    pub message_id: String,
    /// Event type.
    pub event_type: String,
    /// Payload.
    pub payload: Document,
    /// Metadata.
    pub metadata: Document,
    /// Correlation id.
    pub correlation_id: String,
    /// Causation id.
    pub causation_id: Option<String>,
    /// The aggregate it concerns (for per-aggregate ordering).
    pub aggregate_id: Option<String>,
}

impl OutboxMessage {
    /// A message with empty metadata.
    pub fn new(
        message_id: impl Into<String>,
        event_type: impl Into<String>,
        payload: Document,
        correlation_id: impl Into<String>,
    ) -> Self {
        OutboxMessage {
            message_id: message_id.into(),
            event_type: event_type.into(),
            payload,
            metadata: Document::new(),
            correlation_id: correlation_id.into(),
            causation_id: None,
            aggregate_id: None,
        }
    }

    /// Sets the aggregate (messages of one aggregate can be published in order).
    pub fn for_aggregate(mut self, aggregate_id: impl Into<String>) -> Self {
        self.aggregate_id = Some(aggregate_id.into());
        self
    }
}

/// Saving messages and reading their state.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub(super) connection: Connection,
    pub(super) collection: Collection<Document>,
    pub(super) tenant: Option<Tenant>,
}

impl Outbox {
    /// The outbox on the legacy collection.
    pub fn new(connection: &Connection) -> Self {
        Outbox { connection: connection.clone(), collection: connection.database().collection(OUTBOX), tenant: None }
    }

    /// This outbox scoped to `tenant`: messages carry the tenant; statistics, dead-message
    /// retries and relays built on it see only the tenant's messages; saving a message whose
    /// id another tenant holds is [`Error::CrossTenant`](crate::Error::CrossTenant).
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        Outbox { tenant: Some(tenant.clone()), ..self.clone() }
    }

    /// `filter` within the tenant scope.
    pub(super) fn scoped(&self, filter: Document) -> Document {
        tenancy::scoped(self.tenant.as_ref(), filter)
    }

    /// The indexes the relay's queries use.
    pub fn indexes() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new(OUTBOX, doc! { "status": 1, "next_attempt_at": 1, "created_at": 1 }),
            IndexSpec::new(OUTBOX, doc! { "aggregate_id": 1, "created_at": 1 }),
        ]
    }

    /// Saves messages (in the caller's unit of work, with the aggregate and its events). An empty
    /// list is a no-op.
    pub async fn save(&self, messages: &[OutboxMessage], on: impl Into<On<'_>>) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        self.insert(self.documents(messages), on).await
    }

    /// The stored documents of `messages` (saved now, in this order).
    pub(crate) fn documents(&self, messages: &[OutboxMessage]) -> Vec<Document> {
        let now = DateTime::now();
        // Messages saved in the same millisecond keep their order through `sequence`, which only
        // grows within a process (legacy documents have none and sort first).
        let first = SEQUENCE.fetch_add(messages.len() as i64, std::sync::atomic::Ordering::Relaxed);
        messages
            .iter()
            .zip(first..)
            .map(|(m, sequence)| {
                let mut metadata = m.metadata.clone();
                crate::telemetry::stamp(&mut metadata);
                let mut d = doc! {
                    "_id": m.message_id.clone(), "event_type": m.event_type.clone(), "payload": m.payload.clone(),
                    "metadata": metadata, "status": "pending", "created_at": now, "retry_count": 0,
                    "correlation_id": m.correlation_id.clone(), "next_attempt_at": now, "fencing_token": 0_i64,
                    "sequence": sequence,
                };
                if let Some(id) = &m.causation_id {
                    d.insert("causation_id", id.clone());
                }
                if let Some(id) = &m.aggregate_id {
                    d.insert("aggregate_id", id.clone());
                }
                if let Some(tenant) = &self.tenant {
                    d.insert(TENANT_FIELD, tenant.id());
                }
                d
            })
            .collect()
    }

    /// Inserts prepared message documents; a message id another tenant holds is
    /// [`Error::CrossTenant`](crate::Error::CrossTenant).
    pub(crate) async fn insert(&self, documents: Vec<Document>, on: impl Into<On<'_>>) -> Result<()> {
        let on = on.into();
        let ids: Vec<Bson> = documents.iter().filter_map(|d| d.get("_id").cloned()).collect();
        let insert = self.collection.insert_many(documents);
        traced(OUTBOX, "save", async {
            let inserted = match on.session().await.get() {
                Some(session) => insert.session(session).await,
                None => insert.await,
            };
            match (inserted, &self.tenant) {
                (Ok(_), _) => Ok(()),
                (Err(err), Some(tenant)) if is_duplicate_key(&err) => {
                    let theirs = doc! { "_id": { "$in": ids }, TENANT_FIELD: { "$ne": tenant.id() } };
                    match self.collection.find_one(theirs).projection(doc! { "_id": 1 }).await? {
                        Some(found) => Err(tenant.cross(OUTBOX, found.get("_id"))),
                        None => Err(err.into()),
                    }
                }
                (Err(err), _) => Err(err.into()),
            }
        })
        .await
    }

    /// True when `other` writes the same collection.
    pub(crate) fn same_collection(&self, other: &Outbox) -> bool {
        self.collection.namespace() == other.collection.namespace()
    }

    /// Inserts prepared message documents inside `session`'s transaction (a group commit).
    pub(crate) async fn insert_many_in(
        &self,
        documents: Vec<Document>,
        session: &mut mongodb::ClientSession,
    ) -> Result<()> {
        self.collection.insert_many(documents).session(session).await?;
        Ok(())
    }

    /// Message counts by status (`pending`, `published`, `failed`).
    pub async fn stats(&self) -> Result<BTreeMap<String, u64>> {
        let groups: Vec<Document> = self
            .collection
            .aggregate([
                doc! { "$match": self.scoped(doc! {}) },
                doc! { "$group": { "_id": "$status", "n": { "$sum": 1 } } },
            ])
            .await?
            .try_collect()
            .await?;
        Ok(groups.into_iter().map(|g| (g.get_str("_id").unwrap_or("?").to_owned(), int(g.get("n")) as u64)).collect())
    }

    /// Pending messages and the age of the oldest (on the server's clock).
    pub async fn backlog(&self) -> Result<Backlog> {
        let pending = self.scoped(doc! { "status": "pending" });
        let count = self.collection.count_documents(pending.clone()).await?;
        let oldest =
            self.collection.find_one(pending).sort(publish_order()).projection(doc! { "created_at": 1 }).await?;
        let age = match oldest.as_ref().and_then(|d| d.get_datetime("created_at").ok()) {
            Some(created) => {
                let now = self.connection.server_time().await?;
                Duration::from_millis(u64::try_from(now.timestamp_millis() - created.timestamp_millis()).unwrap_or(0))
            }
            None => Duration::ZERO,
        };
        Ok(Backlog { pending: count, oldest_age: age })
    }

    /// Puts dead (`failed`) messages back to pending with a fresh attempt budget, in `on`;
    /// returns how many.
    pub async fn retry_dead(&self, on: impl Into<On<'_>>) -> Result<u64> {
        let on = on.into();
        let now = self.connection.server_time().await?;
        let update = self.collection.update_many(
            self.scoped(doc! { "status": "failed" }),
            doc! { "$set": { "status": "pending", "retry_count": 0, "next_attempt_at": now },
            "$unset": { "dead_at": "", "lease_until": "", "claimed_by": "", "claim_token": "" } },
        );
        let result = with_session!(update, on)?;
        Ok(result.modified_count)
    }
}
