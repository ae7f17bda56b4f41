//! The store itself: [`DeadLetters`](crate::DeadLetters).

use bson::{DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::{ClientSession, Collection};

use crate::error::Result;
use crate::event_store::StoredEvent;
use crate::store::connection::Connection;
use crate::store::fields::int;
use crate::store::indexes::IndexSpec;
use crate::store::page::PageRequest;

/// The dead-letter collection.
pub const DEAD_LETTERS: &str = "dead_letters";

/// The state of a dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterStatus {
    /// Waiting for a retry or a skip.
    Parked,
    /// Retried successfully.
    Retried,
    /// Skipped on purpose.
    Skipped,
}

impl DeadLetterStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeadLetterStatus::Parked => "parked",
            DeadLetterStatus::Retried => "retried",
            DeadLetterStatus::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "retried" => DeadLetterStatus::Retried,
            "skipped" => DeadLetterStatus::Skipped,
            _ => DeadLetterStatus::Parked,
        }
    }
}

/// A parked event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The runner's projection or the subscription that parked it.
    pub subscription: String,
    /// The event's id.
    pub event_id: String,
    /// Its global position.
    pub position: i64,
    /// Its type.
    pub event_type: String,
    /// Its stream.
    pub aggregate_id: String,
    /// The last error.
    pub error: String,
    /// Attempts made before it was parked (and by retries since).
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime,
    /// Parked, retried or skipped.
    pub status: DeadLetterStatus,
}

impl DeadLetter {
    pub(crate) fn new(subscription: &str, event: &StoredEvent, error: &str, attempts: u32) -> Self {
        DeadLetter {
            subscription: subscription.to_owned(),
            event_id: event.event_id.clone(),
            position: event.position,
            event_type: event.event_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            error: error.to_owned(),
            attempts,
            parked_at: DateTime::now(),
            status: DeadLetterStatus::Parked,
        }
    }

    fn from_document(d: &Document) -> Self {
        let text = |field: &str| d.get_str(field).unwrap_or_default().to_owned();
        DeadLetter {
            subscription: text("subscription"),
            event_id: text("event_id"),
            position: int(d.get("position")),
            event_type: text("event_type"),
            aggregate_id: text("aggregate_id"),
            error: text("error"),
            attempts: u32::try_from(int(d.get("attempts")).max(0)).unwrap_or(u32::MAX),
            parked_at: d.get_datetime("parked_at").copied().unwrap_or(DateTime::from_millis(0)),
            status: DeadLetterStatus::parse(d.get_str("status").unwrap_or_default()),
        }
    }
}

fn key(subscription: &str, event_id: &str) -> String {
    format!("{subscription}|{event_id}")
}

/// The parked events of every runner and subscription.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    collection: Collection<Document>,
}

impl DeadLetters {
    /// The `dead_letters` collection of this database.
    pub fn new(connection: &Connection) -> Self {
        DeadLetters { collection: connection.database().collection(DEAD_LETTERS) }
    }

    /// Its index: by subscription, status and position.
    pub fn indexes() -> Vec<IndexSpec> {
        vec![IndexSpec::new(DEAD_LETTERS, doc! { "subscription": 1, "status": 1, "position": 1 })]
    }

    /// The parked events (status parked), of one subscription or all, in position order.
    pub async fn parked(&self, subscription: Option<&str>, page: PageRequest) -> Result<Vec<DeadLetter>> {
        let mut filter = doc! { "status": "parked" };
        if let Some(name) = subscription {
            filter.insert("subscription", name);
        }
        let found: Vec<Document> = self
            .collection
            .find(filter)
            .sort(doc! { "subscription": 1, "position": 1 })
            .skip(page.skip)
            .limit(page.limit)
            .await?
            .try_collect()
            .await?;
        Ok(found.iter().map(DeadLetter::from_document).collect())
    }

    /// One dead letter, whatever its status.
    pub async fn get(&self, subscription: &str, event_id: &str) -> Result<Option<DeadLetter>> {
        let found = self.collection.find_one(doc! { "_id": key(subscription, event_id) }).await?;
        Ok(found.as_ref().map(DeadLetter::from_document))
    }

    /// How many events a subscription has parked.
    pub async fn count_parked(&self, subscription: &str) -> Result<u64> {
        Ok(self.collection.count_documents(doc! { "subscription": subscription, "status": "parked" }).await?)
    }

    /// Marks a parked event skipped; `false` when it is not parked.
    pub async fn skip(&self, subscription: &str, event_id: &str) -> Result<bool> {
        self.resolve(subscription, event_id, DeadLetterStatus::Skipped, 0, None).await
    }

    /// Parks an event (replacing an earlier letter of the same event).
    pub(crate) async fn park(&self, letter: &DeadLetter, session: Option<&mut ClientSession>) -> Result<()> {
        let id = key(&letter.subscription, &letter.event_id);
        let document = doc! {
            "_id": &id, "subscription": &letter.subscription, "event_id": &letter.event_id,
            "position": letter.position, "event_type": &letter.event_type, "aggregate_id": &letter.aggregate_id,
            "error": &letter.error, "attempts": i64::from(letter.attempts), "parked_at": letter.parked_at,
            "status": letter.status.as_str(),
        };
        let replace = self.collection.replace_one(doc! { "_id": &id }, document).upsert(true);
        match session {
            Some(session) => replace.session(session).await?,
            None => replace.await?,
        };
        tracing::warn!(subscription = %letter.subscription, event_id = %letter.event_id, position = letter.position,
            attempts = letter.attempts, error = %letter.error, "event parked");
        Ok(())
    }

    /// Moves a parked letter to `status`, adding `attempts`; `false` when it is not parked.
    pub(crate) async fn resolve(
        &self,
        subscription: &str,
        event_id: &str,
        status: DeadLetterStatus,
        attempts: i64,
        session: Option<&mut ClientSession>,
    ) -> Result<bool> {
        let filter = doc! { "_id": key(subscription, event_id), "status": "parked" };
        let update = doc! {
            "$set": { "status": status.as_str(), "resolved_at": DateTime::now() },
            "$inc": { "attempts": attempts },
        };
        let updated = self.collection.update_one(filter, update);
        let result = match session {
            Some(session) => updated.session(session).await?,
            None => updated.await?,
        };
        Ok(result.matched_count == 1)
    }

    /// Records a failed retry: the new error and the added attempts; the letter stays parked.
    pub(crate) async fn failed_again(
        &self,
        subscription: &str,
        event_id: &str,
        error: &str,
        attempts: i64,
    ) -> Result<()> {
        let filter = doc! { "_id": key(subscription, event_id), "status": "parked" };
        let update = doc! { "$set": { "error": error }, "$inc": { "attempts": attempts } };
        self.collection.update_one(filter, update).await?;
        Ok(())
    }
}
