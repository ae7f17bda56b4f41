//! The event store's data types: what is appended, what is read, and the upcasters.

use bson::{DateTime, Document, doc};

/// What the writer expects the stream's current version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpectedVersion {
    /// Append whatever the current version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(i64),
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewEvent {
    /// Unique event id (stored as `_id`).
    pub event_id: String,
    /// The event type name.
    pub event_type: String,
    /// The payload.
    pub payload: Document,
    /// Free-form metadata.
    pub metadata: Document,
    /// Schema version of the payload (default 1).
    pub schema_version: i32,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Causation id.
    pub causation_id: Option<String>,
    /// Tags (opaque strings such as `course:c1`) that [queries](super::Query) select events
    /// by; stored as `tags` when there are some (none: the field is not written, as in the
    /// legacy format).
    pub tags: Vec<String>,
}

impl NewEvent {
    /// An event with empty metadata, no tags and schema version 1.
    pub fn new(event_id: impl Into<String>, event_type: impl Into<String>, payload: Document) -> Self {
        NewEvent {
            event_id: event_id.into(),
            event_type: event_type.into(),
            payload,
            metadata: Document::new(),
            schema_version: 1,
            correlation_id: None,
            causation_id: None,
            tags: Vec::new(),
        }
    }

    /// This event with these tags (sorted, without repeats, as they are stored).
    pub fn with_tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self.tags.sort_unstable();
        self.tags.dedup();
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredEvent {
    /// Event id.
    pub event_id: String,
    /// Event type.
    pub event_type: String,
    /// Stream (aggregate) id.
    pub aggregate_id: String,
    /// Aggregate type.
    pub aggregate_type: String,
    /// Version within the stream (1-based).
    pub version: i64,
    /// Global position (1-based).
    pub position: i64,
    /// Payload schema version.
    pub schema_version: i32,
    /// Payload.
    pub payload: Document,
    /// Metadata.
    pub metadata: Document,
    /// When it was appended (for events the legacy package appended: when the domain event
    /// was created, which is before its position was taken).
    pub occurred_at: DateTime,
    /// Correlation id (`None` when missing or null, as the legacy package stores it).
    pub correlation_id: Option<String>,
    /// Causation id.
    pub causation_id: Option<String>,
    /// The tenant it belongs to (`tenant_id`), if any.
    pub tenant_id: Option<String>,
    /// Its tags (empty when the stored document has none, as legacy documents).
    pub tags: Vec<String>,
}

/// A stream to append to: the aggregate id and type.
#[derive(Debug, Clone, Copy)]
pub struct Stream<'a> {
    /// Aggregate id.
    pub aggregate_id: &'a str,
    /// Aggregate type.
    pub aggregate_type: &'a str,
}

/// A payload transform from one schema version of an event type to the next.
pub type Upcast = fn(Document) -> Document;

/// Upcasters applied on read: `(event_type, from_version)` → transform to `from_version + 1`.
#[derive(Debug, Clone, Default)]
pub struct Upcasters {
    steps: Vec<(String, i32, Upcast)>,
}

impl Upcasters {
    /// Registers the transform of `event_type` payloads from `from_version` to the next.
    pub fn register(mut self, event_type: impl Into<String>, from_version: i32, upcast: Upcast) -> Self {
        self.steps.push((event_type.into(), from_version, upcast));
        self
    }

    /// Applies every step from the event's version on, updating `schema_version`.
    pub(super) fn apply(&self, event: &mut StoredEvent) {
        while let Some((_, _, step)) =
            self.steps.iter().find(|(t, v, _)| *t == event.event_type && *v == event.schema_version)
        {
            event.payload = step(std::mem::take(&mut event.payload));
            event.schema_version += 1;
        }
    }
}

impl NewEvent {
    /// The legacy `domain_events` document of this event at `version` and `position`.
    /// This event with the current trace context in its metadata (unless it has one).
    pub(crate) fn traced(mut self) -> Self {
        crate::telemetry::stamp(&mut self.metadata);
        self
    }

    pub(super) fn to_document(
        &self,
        stream: Stream<'_>,
        tenant: Option<&str>,
        version: i64,
        position: i64,
        now: DateTime,
    ) -> Document {
        let mut document = doc! {
            "_id": self.event_id.as_str(),
            "event_type": self.event_type.as_str(),
            "aggregate_id": stream.aggregate_id,
            "aggregate_type": stream.aggregate_type,
            "version": version,
            "schema_version": self.schema_version,
            "payload": self.payload.clone(),
            "metadata": self.metadata.clone(),
            "occurred_at": now,
            "position": position,
        };
        if let Some(id) = &self.correlation_id {
            document.insert("correlation_id", id.as_str());
        }
        if let Some(id) = &self.causation_id {
            document.insert("causation_id", id.as_str());
        }
        if let Some(tenant) = tenant {
            document.insert(crate::store::tenancy::TENANT_FIELD, tenant);
        }
        if !self.tags.is_empty() {
            document.insert("tags", tags_sorted(&self.tags));
        }
        document
    }
}

/// Tags as stored: sorted, without repeats (whatever order the caller set them in).
pub(super) fn tags_sorted(tags: &[String]) -> Vec<String> {
    let mut sorted = tags.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}
