//! The relay: claims due messages in batches, publishes them through a user function, and
//! records each outcome only while it still holds the claim.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document, doc};
use futures::TryStreamExt;

use super::{Outbox, Publisher, publish_order};
use crate::error::{Error, Result};
use crate::runtime::retry::{AfterRetries, Backoff, BoxError, RetryPolicy, is_unavailable};
use crate::store::fields::{int, take_document, take_optional_text, take_text};

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
    pub retry_count: u32,
    /// The message's fencing token: it grows with every claim, so a consumer can drop a
    /// delivery older than one it has already seen.
    pub fencing_token: i64,
    /// When the message was saved.
    pub created_at: Option<DateTime>,
    /// Correlation id (`None` when missing or null).
    pub correlation_id: Option<String>,
    /// Causation id.
    pub causation_id: Option<String>,
    /// The aggregate it concerns (messages saved by the legacy package have none).
    pub aggregate_id: Option<String>,
    /// The tenant it belongs to.
    pub tenant_id: Option<String>,
    /// The last attempt's failure text (legacy `error`), if an attempt failed.
    pub error: Option<String>,
}

/// What one relay round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayReport {
    /// Messages marked published by this round.
    pub published: usize,
    /// Messages scheduled for another attempt.
    pub retried: usize,
    /// Messages parked as dead (legacy status `failed`).
    pub dead: usize,
    /// Outcomes dropped because the lease had passed to another relay.
    pub lost_claims: usize,
    /// Messages handed back unattempted because the publisher said its destination was
    /// unavailable ([`Unavailable`](crate::runtime::Unavailable)): no attempt counted.
    pub unavailable: usize,
}

/// A round and what the loop needs to know beyond its report.
pub(super) struct Round {
    pub(super) report: RelayReport,
    /// The last "destination unavailable" error of the round.
    pub(super) unavailable: Option<Error>,
    /// A message whose last attempt failed under a stopping policy.
    pub(super) stop: Option<Error>,
}

/// Publishes pending messages through a user function.
///
/// A round claims up to a batch of due messages with **one atomic update** (`update_many` whose
/// filter requires each message to be pending, due and unleased or with an expired lease, so two
/// relays can never both claim a message). The claim sets a lease measured on the server's clock
/// (`hello.localTime`), a claim token unique to the round, and bumps each message's fencing
/// token. The relay then publishes the messages in creation order and records the outcomes only
/// where its claim token is still on the message: published messages in one update at the end
/// of the round; a message the publisher refuses goes through the relay's
/// [`RetryPolicy`](crate::runtime::RetryPolicy) ([`on_failure`](Self::on_failure): retried after its
/// backoff, then parked as dead, legacy status `failed`, or the run stops with
/// [`Error::Handler`] leaving it pending); a message whose publisher says its destination is
/// unavailable ([`Unavailable`](crate::runtime::Unavailable)) is handed back with no attempt counted, and
/// the loop backs off. A relay whose lease expired — another relay has reclaimed the message —
/// changes nothing and counts a lost claim.
///
/// A round stops publishing at four fifths of its lease and hands the rest of its claims back,
/// so a slow publisher does not lose its claims. Delivery is at least once: a relay that stops
/// after publishing but before recording leaves the message to be published again once its
/// lease expires.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    pub(super) outbox: Outbox,
    pub(super) worker: String,
    lease: Duration,
    pub(super) batch: i64,
    failure: RetryPolicy,
    ordered: bool,
    pub(super) poll: Duration,
    pub(super) change_stream: bool,
    pub(super) unavailable: Backoff,
    pub(super) stats: std::sync::Arc<super::RelayStats>,
}

impl OutboxRelay {
    /// A relay named `worker` with a 30 s lease, batches of 100, and the default
    /// [`on_failure`](Self::on_failure) policy: 5 attempts, 1 s apart doubling up to 1 h, then
    /// parked as dead.
    pub fn new(outbox: &Outbox, worker: impl Into<String>) -> Self {
        OutboxRelay {
            outbox: outbox.clone(),
            worker: worker.into(),
            lease: Duration::from_secs(30),
            batch: 100,
            failure: RetryPolicy::park_after(5)
                .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(3600))),
            ordered: false,
            poll: Duration::from_secs(1),
            change_stream: true,
            unavailable: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)).with_jitter(),
            stats: std::sync::Arc::default(),
        }
    }

    /// How long a claim lasts (default 30 s); a round stops publishing at four fifths of it.
    pub fn lease_period(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// What happens to a message the publisher refuses: attempts (at least 1, else every round
    /// is [`Error::InvalidArgument`](crate::Error::InvalidArgument)), the backoff between them
    /// (measured on the server's clock, as `next_attempt_at`), then parked as dead (legacy
    /// status `failed`) or the run stops.
    pub fn on_failure(mut self, policy: RetryPolicy) -> Self {
        self.failure = policy;
        self
    }

    /// Messages per round, at least 1 (a smaller value makes every round
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument)).
    pub fn batch_size(mut self, messages: i64) -> Self {
        self.batch = messages;
        self
    }

    /// Publishes one aggregate's messages strictly in creation order: a message waits while an
    /// older message of its aggregate is unpublished (leased elsewhere, or waiting to be retried).
    pub fn ordered_per_aggregate(mut self) -> Self {
        self.ordered = true;
        self
    }

    /// Claims up to a batch of due messages and publishes each through `publish` (an `Err`
    /// carries the failure stored on the message; `?` on any error type converts into it, and
    /// an [`Unavailable`](crate::runtime::Unavailable) hands the message back uncounted). `publish` gets
    /// the message by value and returns a `Send` future, so a relay can run in a spawned task.
    /// A message whose last attempt fails under a stopping policy makes the round
    /// [`Error::Handler`], once every outcome of the round is recorded.
    pub async fn run_once<P, F, E>(&self, publish: P) -> Result<RelayReport>
    where
        P: FnMut(ClaimedMessage) -> F + Send,
        F: std::future::Future<Output = std::result::Result<(), E>> + Send,
        E: Into<BoxError> + Send,
    {
        self.run_once_with(&FnPublisher(std::sync::Mutex::new(publish))).await
    }

    /// One round through a [`Publisher`]: claim, publish (a batch at once, or one by one in
    /// creation order with [`ordered_per_aggregate`](Self::ordered_per_aggregate)), record.
    pub async fn run_once_with(&self, publisher: &impl Publisher) -> Result<RelayReport> {
        let round = self.round(publisher).await?;
        match round.stop {
            Some(stop) => Err(stop),
            None => Ok(round.report),
        }
    }

    pub(super) async fn round(&self, publisher: &impl Publisher) -> Result<Round> {
        Error::at_least_one("OutboxRelay::batch_size", "messages", self.batch)?;
        self.failure.check("OutboxRelay::on_failure")?;
        let collection = &self.outbox.collection;
        let now = self.outbox.connection.server_time().await?;
        // The server clock for the rest of the round: its offset from ours, measured once.
        let offset = now.timestamp_millis() - DateTime::now().timestamp_millis();
        let server_clock = move || DateTime::from_millis(DateTime::now().timestamp_millis() + offset);
        // Pending, due, and unleased or with an expired lease. "Not after now" and "not
        // `>= now`" also match a missing or null field: the legacy package saves messages with
        // neither a due time nor a lease, and they are due at once.
        let due = self.outbox.scoped(doc! {
            "status": "pending",
            "next_attempt_at": { "$not": { "$gt": now } },
            "lease_until": { "$not": { "$gte": now } },
        });
        let candidates: Vec<Document> = collection
            .find(due.clone())
            .sort(publish_order())
            .limit(self.batch)
            .projection(doc! { "_id": 1, "aggregate_id": 1 })
            .await?
            .try_collect()
            .await?;
        let ids = if self.ordered { self.heads_of_their_aggregates(&candidates).await? } else { ids_of(&candidates) };
        let mut round = Round { report: RelayReport::default(), unavailable: None, stop: None };
        if ids.is_empty() {
            return Ok(round);
        }

        let token = ObjectId::new();
        let claimed_at = server_clock().timestamp_millis();
        let lease_until = DateTime::from_millis(claimed_at + self.lease.as_millis() as i64);
        // Publishing stops at four fifths of the lease, leaving the rest to record the outcomes.
        let publish_until = claimed_at + self.lease.as_millis() as i64 * 4 / 5;
        // `_id` first: some servers' planners pick the first usable index.
        let mut claim = doc! { "_id": { "$in": ids.clone() } };
        claim.extend(due);
        let update = doc! {
            "$set": { "lease_until": lease_until, "claimed_by": self.worker.as_str(), "claim_token": token },
            "$inc": { "fencing_token": 1_i64 },
        };
        collection.update_many(claim, update).await?;
        let claimed: Vec<Document> = collection
            .find(doc! { "_id": { "$in": ids }, "claim_token": token })
            .sort(publish_order())
            .await?
            .try_collect()
            .await?;

        // Checked again now that the claims are ours: between the first check and the claim,
        // an older message of an aggregate may have failed and gone back to wait for its retry.
        let first_in_line: HashSet<String> = if self.ordered {
            self.heads_of_their_aggregates(&claimed).await?.iter().map(key).collect()
        } else {
            HashSet::new()
        };
        let mut published = Vec::new();
        let mut skipped = Vec::new();
        // (id, message, outcome) of every message handed to the publisher.
        let mut outcomes: Vec<(Bson, ClaimedMessage, std::result::Result<(), BoxError>)> = Vec::new();
        if self.ordered {
            // One by one: a failure holds back the later messages of its aggregate, an
            // unavailable destination the rest of the round.
            let mut blocked: HashSet<String> = HashSet::new();
            let mut destination_down = false;
            for document in claimed {
                let id = document.get("_id").cloned().unwrap_or(Bson::Null);
                let message = claimed_message(document);
                let out_of_time = server_clock().timestamp_millis() >= publish_until;
                let waits = !first_in_line.contains(&key(&id))
                    || message.aggregate_id.as_ref().is_some_and(|a| blocked.contains(a));
                if out_of_time || waits || destination_down {
                    skipped.push(id);
                    continue;
                }
                let sent = crate::telemetry::continue_trace(&message.metadata, "publish", publisher.publish(&message));
                let outcome = sent.await.map_err(Into::into);
                if let Err(err) = &outcome {
                    blocked.extend(message.aggregate_id.clone());
                    destination_down = is_unavailable(err.as_ref());
                }
                outcomes.push((id, message, outcome));
            }
        } else if server_clock().timestamp_millis() >= publish_until {
            skipped.extend(claimed.iter().filter_map(|d| d.get("_id").cloned()));
        } else {
            let ids: Vec<Bson> = claimed.iter().map(|d| d.get("_id").cloned().unwrap_or(Bson::Null)).collect();
            let messages: Vec<ClaimedMessage> = claimed.into_iter().map(claimed_message).collect();
            let mut results = publisher.publish_batch(&messages).await.into_iter();
            for (id, message) in ids.into_iter().zip(messages) {
                // A publisher that returns fewer outcomes than messages did not publish the rest.
                let outcome = match results.next() {
                    Some(outcome) => outcome.map_err(Into::into),
                    None => Err("the publisher returned no outcome for it".into()),
                };
                outcomes.push((id, message, outcome));
            }
        }
        for (id, message, outcome) in outcomes {
            let error = match outcome {
                Ok(()) => {
                    published.push(id);
                    continue;
                }
                Err(error) if is_unavailable(error.as_ref()) => {
                    // Not the message's fault: handed back untouched, no attempt counted.
                    round.unavailable = Some(Error::handler(&self.worker, &message.message_id, error));
                    round.report.unavailable += 1;
                    skipped.push(id);
                    continue;
                }
                Err(error) => error,
            };
            let text = crate::runtime::retry::chain(error.as_ref());
            match self.failed(id, token, message.retry_count, text, server_clock()).await? {
                Finish::Stop => {
                    round.report.retried += 1;
                    round.stop = Some(Error::handler(&self.worker, &message.message_id, error));
                }
                finish => {
                    if matches!(finish, Finish::Dead) {
                        tracing::warn!(worker = %self.worker, message_id = %message.message_id,
                            attempts = message.retry_count.saturating_add(1), error = %crate::runtime::retry::chain(error.as_ref()), "message parked as dead");
                    }
                    round.report.count(finish);
                }
            }
        }
        if !published.is_empty() {
            let attempted = published.len();
            let mine = doc! { "_id": { "$in": published }, "claim_token": token };
            let done = doc! {
                "$set": { "status": "published", "published_at": server_clock() },
                "$unset": { "lease_until": "", "claimed_by": "", "claim_token": "" },
            };
            let marked = collection.update_many(mine, done).await?.modified_count as usize;
            round.report.published += marked;
            round.report.lost_claims += attempted - marked;
        }
        if !skipped.is_empty() {
            // Not attempted (behind an unpublished message of the same aggregate, or the lease
            // was running out): handed back untouched.
            let mine = doc! { "_id": { "$in": skipped }, "claim_token": token };
            let release = doc! { "$unset": { "lease_until": "", "claimed_by": "", "claim_token": "" } };
            collection.update_many(mine, release).await?;
        }
        Ok(round)
    }

    /// Of the candidates, those first in line in their aggregate: for each aggregate, the
    /// candidates that are its oldest pending messages, up to the first that is not a candidate.
    async fn heads_of_their_aggregates(&self, candidates: &[Document]) -> Result<Vec<Bson>> {
        let aggregates: HashSet<&str> = candidates.iter().filter_map(|c| c.get_str("aggregate_id").ok()).collect();
        if aggregates.is_empty() {
            return Ok(ids_of(candidates));
        }
        let pipeline = [
            doc! { "$match": self.outbox.scoped(doc! { "status": "pending", "aggregate_id": { "$in": aggregates.into_iter().collect::<Vec<_>>() } }) },
            doc! { "$sort": publish_order() },
            doc! { "$group": { "_id": "$aggregate_id", "ids": { "$push": "$_id" } } },
        ];
        let lines: Vec<Document> = self.outbox.collection.aggregate(pipeline).await?.try_collect().await?;
        let candidate_ids: HashSet<String> = candidates.iter().filter_map(|c| c.get("_id")).map(key).collect();
        let mut first_in_line: HashMap<String, HashSet<String>> = HashMap::new();
        for line in lines {
            let aggregate = line.get_str("_id").unwrap_or_default().to_owned();
            let ids = line.get_array("ids").map(|a| a.iter().map(key).collect::<Vec<_>>()).unwrap_or_default();
            let heads = ids.into_iter().take_while(|id| candidate_ids.contains(id)).collect();
            first_in_line.insert(aggregate, heads);
        }
        Ok(candidates
            .iter()
            .filter(|c| match c.get_str("aggregate_id") {
                Ok(aggregate) => first_in_line
                    .get(aggregate)
                    .is_some_and(|heads| c.get("_id").is_some_and(|id| heads.contains(&key(id)))),
                Err(_) => true,
            })
            .filter_map(|c| c.get("_id").cloned())
            .collect())
    }

    /// Records a failed attempt if the claim is still ours: a retry after the backoff, dead,
    /// or (a stopping policy's last attempt) pending again at once with the attempt counted.
    async fn failed(
        &self,
        id: Bson,
        token: ObjectId,
        retry_count: u32,
        error: String,
        now: DateTime,
    ) -> Result<Finish> {
        let attempts = retry_count.saturating_add(1);
        let stored = i64::from(attempts);
        let release = doc! { "lease_until": "", "claimed_by": "", "claim_token": "" };
        let used_up = attempts >= self.failure.attempts();
        let (update, finish) = if used_up && self.failure.then() == AfterRetries::Park {
            let set = doc! { "status": "failed", "retry_count": stored, "error": error, "dead_at": now };
            (doc! { "$set": set, "$unset": release }, Finish::Dead)
        } else if used_up {
            let set = doc! { "retry_count": stored, "error": error, "next_attempt_at": now };
            (doc! { "$set": set, "$unset": release }, Finish::Stop)
        } else {
            let delay = i64::try_from(self.failure.delay(attempts).as_millis()).unwrap_or(i64::MAX);
            let next = DateTime::from_millis(now.timestamp_millis().saturating_add(delay));
            let set = doc! { "retry_count": stored, "error": error, "next_attempt_at": next };
            (doc! { "$set": set, "$unset": release }, Finish::Retry)
        };
        let mine = doc! { "_id": id, "claim_token": token };
        let matched = self.outbox.collection.update_one(mine, update).await?.matched_count;
        Ok(if matched == 1 { finish } else { Finish::Lost })
    }

    /// The waits of [`run`](Self::run) while the database or the publisher's destination is
    /// unavailable (default 500 ms doubling up to 30 s, with jitter).
    pub fn on_unavailable(mut self, backoff: Backoff) -> Self {
        self.unavailable = backoff;
        self
    }
}

/// A publish function as a [`Publisher`] (messages one by one).
struct FnPublisher<P>(std::sync::Mutex<P>);

impl<P, F, E> Publisher for FnPublisher<P>
where
    P: FnMut(ClaimedMessage) -> F + Send,
    F: std::future::Future<Output = std::result::Result<(), E>> + Send,
    E: Into<BoxError> + Send,
{
    type Error = BoxError;

    fn publish(
        &self,
        message: &ClaimedMessage,
    ) -> impl std::future::Future<Output = std::result::Result<(), BoxError>> + Send {
        // The lock is held only while the function makes its future.
        let future = self.0.lock().map(|mut publish| publish(message.clone())).map_err(|_| ());
        let metadata = message.metadata.clone();
        async move {
            match future {
                Ok(future) => crate::telemetry::continue_trace(&metadata, "publish", future).await.map_err(Into::into),
                Err(_) => Err("the publish function panicked earlier".into()),
            }
        }
    }
}

fn ids_of(candidates: &[Document]) -> Vec<Bson> {
    candidates.iter().filter_map(|c| c.get("_id").cloned()).collect()
}

/// A hashable form of an id (ids are strings in the legacy format, but any BSON id works).
fn key(id: &Bson) -> String {
    match id {
        Bson::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn claimed_message(mut d: Document) -> ClaimedMessage {
    ClaimedMessage {
        message_id: take_text(&mut d, "_id"),
        event_type: take_text(&mut d, "event_type"),
        payload: take_document(&mut d, "payload"),
        metadata: take_document(&mut d, "metadata"),
        retry_count: u32::try_from(int(d.get("retry_count")).max(0)).unwrap_or(u32::MAX),
        fencing_token: int(d.get("fencing_token")),
        created_at: d.get_datetime("created_at").ok().copied(),
        correlation_id: take_optional_text(&mut d, "correlation_id"),
        causation_id: take_optional_text(&mut d, "causation_id"),
        aggregate_id: take_optional_text(&mut d, "aggregate_id"),
        tenant_id: take_optional_text(&mut d, crate::store::tenancy::TENANT_FIELD),
        error: take_optional_text(&mut d, "error"),
    }
}

impl RelayReport {
    fn count(&mut self, finish: Finish) {
        match finish {
            Finish::Retry => self.retried += 1,
            Finish::Dead => self.dead += 1,
            Finish::Lost => self.lost_claims += 1,
            Finish::Stop => self.retried += 1,
        }
    }
}

enum Finish {
    Retry,
    Dead,
    Lost,
    /// The last attempt under a stopping policy: pending again, the run stops.
    Stop,
}
