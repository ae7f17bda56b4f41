//! The transactional outbox (`outbox_messages`): messages saved in the same unit of work as the
//! aggregate and its events, then published by an [`OutboxRelay`].
//!
//! The relay claims a message with **one atomic update** that succeeds only while the message
//! is pending and unleased (or its lease expired), sets a lease measured on the server's clock
//! (`hello.localTime`), and bumps a fencing token. It marks the message published — or schedules
//! a retry with exponential backoff, or parks it as dead (legacy status `failed`) after the
//! last attempt — only if it still holds that token, so two relays never both publish a message
//! and a relay whose lease expired cannot overwrite the next holder's outcome.

use std::collections::BTreeMap;
use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::options::{FindOneAndUpdateOptions, FindOptions, ReturnDocument};

use crate::connection::Connection;
use crate::error::Result;
use crate::indexes::IndexSpec;
use crate::observe::traced;
use crate::uow::UnitOfWork;

const OUTBOX: &str = "outbox_messages";

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
    connection: Connection,
    collection: Collection<Document>,
}

impl Outbox {
    /// The outbox on the legacy collection.
    pub fn new(connection: &Connection) -> Self {
        Outbox { connection: connection.clone(), collection: connection.database().collection(OUTBOX) }
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
    pub async fn save(&self, messages: &[OutboxMessage], uow: Option<&mut UnitOfWork<'_>>) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let now = DateTime::now();
        let documents: Vec<Document> = messages
            .iter()
            .map(|m| {
                let mut d = doc! {
                    "_id": m.message_id.clone(), "event_type": m.event_type.clone(), "payload": m.payload.clone(),
                    "metadata": m.metadata.clone(), "status": "pending", "created_at": now, "retry_count": 0,
                    "correlation_id": m.correlation_id.clone(), "next_attempt_at": now, "fencing_token": 0_i64,
                };
                if let Some(id) = &m.causation_id {
                    d.insert("causation_id", id.clone());
                }
                if let Some(id) = &m.aggregate_id {
                    d.insert("aggregate_id", id.clone());
                }
                d
            })
            .collect();
        let insert = self.collection.insert_many(documents);
        traced(OUTBOX, "save", async {
            match uow.and_then(|u| u.session()) {
                Some(session) => insert.session(session).await?,
                None => insert.await?,
            };
            Ok(())
        })
        .await
    }

    /// Message counts by status (`pending`, `published`, `failed`).
    pub async fn stats(&self) -> Result<BTreeMap<String, u64>> {
        let groups: Vec<Document> = self
            .collection
            .aggregate([doc! { "$group": { "_id": "$status", "n": { "$sum": 1 } } }])
            .await?
            .try_collect()
            .await?;
        Ok(groups.into_iter().map(|g| (g.get_str("_id").unwrap_or("?").to_owned(), int(g.get("n")) as u64)).collect())
    }

    /// Puts dead (`failed`) messages back to pending with a fresh attempt budget; returns how many.
    pub async fn retry_dead(&self) -> Result<u64> {
        let now = self.server_now().await?;
        let result = self
            .collection
            .update_many(
                doc! { "status": "failed" },
                doc! { "$set": { "status": "pending", "retry_count": 0, "next_attempt_at": now },
                "$unset": { "dead_at": "", "lease_until": "", "claimed_by": "" } },
            )
            .await?;
        Ok(result.modified_count)
    }

    /// The server's clock, from `hello`.
    async fn server_now(&self) -> Result<DateTime> {
        let hello = self.connection.database().run_command(doc! { "hello": 1 }).await?;
        Ok(hello.get_datetime("localTime").copied().unwrap_or_else(|_| DateTime::now()))
    }
}

fn int(value: Option<&Bson>) -> i64 {
    match value {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        _ => 0,
    }
}

/// A claimed message handed to the publish function.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClaimedMessage {
    /// Message id.
    pub message_id: String,
    /// Event type.
    pub event_type: String,
    /// Payload.
    pub payload: Document,
    /// Metadata.
    pub metadata: Document,
    /// Attempts made before this one.
    pub retry_count: i64,
    /// The claim's fencing token.
    pub fencing_token: i64,
}

/// What one relay round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayReport {
    /// Messages published.
    pub published: usize,
    /// Messages scheduled for another attempt.
    pub retried: usize,
    /// Messages parked as dead (legacy status `failed`).
    pub dead: usize,
    /// Outcomes dropped because the lease had passed to another relay.
    pub lost_claims: usize,
}

/// Publishes pending messages through a user function.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    outbox: Outbox,
    worker: String,
    lease: Duration,
    batch: i64,
    max_attempts: i64,
    backoff: Duration,
    ordered: bool,
}

impl OutboxRelay {
    /// A relay named `worker` with a 30 s lease, batches of 100, 5 attempts, 1 s base backoff.
    pub fn new(outbox: &Outbox, worker: impl Into<String>) -> Self {
        OutboxRelay {
            outbox: outbox.clone(),
            worker: worker.into(),
            lease: Duration::from_secs(30),
            batch: 100,
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            ordered: false,
        }
    }

    /// Lease length.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Attempts before a message is parked as dead.
    pub fn max_attempts(mut self, attempts: i64) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Base of the exponential backoff (base × 2^(attempt − 1)).
    pub fn backoff(mut self, base: Duration) -> Self {
        self.backoff = base;
        self
    }

    /// Messages per round.
    pub fn batch(mut self, batch: i64) -> Self {
        self.batch = batch;
        self
    }

    /// Publishes one aggregate's messages strictly in creation order.
    pub fn ordered_per_aggregate(mut self) -> Self {
        self.ordered = true;
        self
    }

    /// Claims up to a batch of due messages and publishes each through `publish` (an `Err`
    /// carries the failure text stored on the message). `publish` gets the message by value and
    /// returns a `Send` future, so a relay can run in a spawned task.
    pub async fn run_once<P, F>(&self, mut publish: P) -> Result<RelayReport>
    where
        P: FnMut(ClaimedMessage) -> F,
        F: std::future::Future<Output = std::result::Result<(), String>> + Send,
    {
        let collection = &self.outbox.collection;
        let now = self.outbox.server_now().await?;
        // The server clock for the rest of the round: its offset from ours, measured once.
        let offset = now.timestamp_millis() - DateTime::now().timestamp_millis();
        let server_clock = move || DateTime::from_millis(DateTime::now().timestamp_millis() + offset);
        let due = doc! {
            "status": "pending",
            "next_attempt_at": { "$lte": now },
            "$or": [ { "lease_until": { "$exists": false } }, { "lease_until": Bson::Null }, { "lease_until": { "$lt": now } } ],
        };
        let mut report = RelayReport::default();
        if !self.ordered {
            // Each claim takes the oldest due message in one atomic update: relays never spend a
            // round trip on a message another relay already took.
            for _ in 0..self.batch {
                let Some(claimed) = self.claim(None, &due, now).await? else { break };
                let outcome = publish(claimed.clone()).await;
                report.count(self.finish(&claimed, outcome, server_clock()).await?);
            }
            return Ok(report);
        }
        let mut options = FindOptions::default();
        options.sort = Some(doc! { "created_at": 1, "_id": 1 });
        options.limit = Some(self.batch);
        let candidates: Vec<Document> = collection.find(due.clone()).with_options(options).await?.try_collect().await?;
        let mut blocked_aggregates: Vec<String> = Vec::new();
        for candidate in candidates {
            let aggregate = candidate.get_str("aggregate_id").ok().map(str::to_owned);
            if let Some(aggregate) = &aggregate
                && (blocked_aggregates.contains(aggregate) || self.has_older_unpublished(&candidate, aggregate).await?)
            {
                blocked_aggregates.push(aggregate.clone());
                continue;
            }
            let Some(claimed) = self.claim(candidate.get("_id"), &due, now).await? else { continue };
            let outcome = publish(claimed.clone()).await;
            let failed = outcome.is_err();
            report.count(self.finish(&claimed, outcome, server_clock()).await?);
            if failed {
                blocked_aggregates.extend(aggregate);
            }
        }
        Ok(report)
    }

    async fn has_older_unpublished(&self, candidate: &Document, aggregate: &str) -> Result<bool> {
        let created = candidate.get("created_at").cloned().unwrap_or(Bson::Null);
        let filter = doc! { "aggregate_id": aggregate, "status": "pending", "created_at": { "$lt": created } };
        Ok(self.outbox.collection.count_documents(filter).limit(1).await? > 0)
    }

    /// One atomic update: still due and unleased → leased to us with a new fencing token. With
    /// an id, that message; without, the oldest due message.
    async fn claim(&self, id: Option<&Bson>, due: &Document, now: DateTime) -> Result<Option<ClaimedMessage>> {
        let mut filter = due.clone();
        if let Some(id) = id {
            filter.insert("_id", id.clone());
        }
        let lease_until = DateTime::from_millis(now.timestamp_millis() + self.lease.as_millis() as i64);
        let mut options = FindOneAndUpdateOptions::default();
        options.return_document = Some(ReturnDocument::After);
        options.sort = Some(doc! { "created_at": 1, "_id": 1 });
        let claimed = self
            .outbox
            .collection
            .find_one_and_update(
                filter,
                doc! { "$set": { "lease_until": lease_until, "claimed_by": self.worker.clone() }, "$inc": { "fencing_token": 1_i64 } },
            )
            .with_options(options)
            .await?;
        Ok(claimed.map(|d| ClaimedMessage {
            message_id: d.get_str("_id").unwrap_or_default().to_owned(),
            event_type: d.get_str("event_type").unwrap_or_default().to_owned(),
            payload: d.get_document("payload").cloned().unwrap_or_default(),
            metadata: d.get_document("metadata").cloned().unwrap_or_default(),
            retry_count: int(d.get("retry_count")),
            fencing_token: int(d.get("fencing_token")),
        }))
    }

    async fn finish(
        &self,
        claimed: &ClaimedMessage,
        outcome: std::result::Result<(), String>,
        now: DateTime,
    ) -> Result<Finish> {
        let still_ours = doc! { "_id": claimed.message_id.clone(), "fencing_token": claimed.fencing_token, "claimed_by": self.worker.clone() };
        let release = doc! { "lease_until": "", "claimed_by": "" };
        let (update, result) = match outcome {
            Ok(()) => {
                (doc! { "$set": { "status": "published", "published_at": now }, "$unset": release }, Finish::Published)
            }
            Err(error) => {
                let attempts = claimed.retry_count + 1;
                if attempts >= self.max_attempts {
                    let set = doc! { "status": "failed", "retry_count": attempts, "error": error, "dead_at": now };
                    (doc! { "$set": set, "$unset": release }, Finish::Dead)
                } else {
                    let delay = self.backoff.as_millis() as i64 * (1_i64 << (attempts - 1).clamp(0, 20));
                    let next = DateTime::from_millis(now.timestamp_millis() + delay);
                    let set = doc! { "retry_count": attempts, "error": error, "next_attempt_at": next };
                    (doc! { "$set": set, "$unset": release }, Finish::Retry)
                }
            }
        };
        let matched = self.outbox.collection.update_one(still_ours, update).await?.matched_count;
        Ok(if matched == 1 { result } else { Finish::Lost })
    }
}

impl RelayReport {
    fn count(&mut self, finish: Finish) {
        match finish {
            Finish::Published => self.published += 1,
            Finish::Retry => self.retried += 1,
            Finish::Dead => self.dead += 1,
            Finish::Lost => self.lost_claims += 1,
        }
    }
}

enum Finish {
    Published,
    Retry,
    Dead,
    Lost,
}
