//! The event store handle ([`EventStore`]): construction, options, indexes and monitoring;
//! appends, reads, gaps and the group commit live beside it.

use super::gaps::{DEFAULT_GAP_GRACE, GapStats};
use super::group_commit;
use super::types::{ExpectedVersion, NewEvent, StoredEvent, Stream, Upcasters};
use std::sync::Arc;

use bson::{DateTime, Document, doc};
use mongodb::Collection;

use crate::error::{Error, Result};
use crate::store::connection::Connection;
use crate::store::fields::{int, take_document, take_optional_text, take_text};
use crate::store::indexes::IndexSpec;
use crate::store::tenancy::Tenant;
use crate::store::uow::On;
use crate::telemetry::spans::traced;

/// The legacy collection names.
pub const EVENTS: &str = "domain_events";
const COUNTERS: &str = "counters";
/// Tombstones of reserved positions whose unit of work did not commit.
pub const BURNT_POSITIONS: &str = "burnt_positions";

/// How appends inside a caller's unit of work take their positions (see [`EventStore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PositionAllocation {
    /// The counter is incremented inside the unit of work's transaction (the default).
    /// Positions follow commit order and every position up to the counter is committed, so no
    /// reader ever meets a gap from a Rust writer, not even a reader that is not gap-aware (the
    /// legacy package's). Concurrent units of work that append serialise on the counter
    /// document until they commit.
    #[default]
    InTransaction,
    /// Positions are reserved outside the transaction, then the events inserted inside it:
    /// units of work, and the group commit batches of several processes, no longer meet on the
    /// counter. A position whose unit of work has not
    /// committed yet is missing for a moment below committed ones; this crate's readers wait
    /// for it (see [Gaps](EventStore#gaps-positions-in-flight)); a unit of work that does not
    /// commit burns its positions (a tombstone readers step over at once) and one that holds
    /// them past half the gap grace is not committed ([`Error::ReservationExpired`](crate::Error::ReservationExpired)).
    /// Readers that are not gap-aware (the legacy package's) can skip such events: use it once
    /// every reader of `domain_events` is this crate's.
    Reserved,
}

/// The event store: append-only streams in the legacy `domain_events` collection with 1-based
/// global positions. Clones share one group-commit queue: create one store per process and
/// clone it.
///
/// # Positions: the legacy counter, with group commit
///
/// Every position comes from the legacy counter document (`counters`,
/// `{_id: "domain_events_position", value}`), which both stacks increment.
///
/// **Appends on their own go through a group commit.** Appends that are not part of a caller's
/// unit of work (and [`AggregateStore::save`](crate::AggregateStore::save) of
/// events with their outbox messages outside one) are queued; one committer task per store
/// commits everything queued in **one transaction**: one counter increment for all positions,
/// one `insert_many` of the events, one of their outbox messages, one commit (plus one read
/// checking expected versions this process has not committed itself). With the default
/// allocation the counter is taken inside that transaction, so those positions follow commit
/// order; with [`Reserved`](PositionAllocation::Reserved) the batch reserves them just before
/// its transaction (burnt if it does not commit), so the batches of several processes do not
/// serialise on the counter (4 processes × 8 writers reach 0.86× 1 × 32, against 0.42–0.74×
/// with the counter inside, "Contention"). Sixteen writers append 5–6× what one does
/// (`BENCHMARKS.md`, "Event store"), and a web service placing orders from 16 clients at once
/// serves about 4× what it serves one ("Contention").
///
/// **Appends inside a caller's unit of work** cannot share its transaction with others; how they
/// take their positions is the store's [`PositionAllocation`]:
///
/// - [`InTransaction`](PositionAllocation::InTransaction), the default: the counter is
///   incremented inside the unit of work's transaction. Two such transactions both write the
///   counter document, so only one commits at a time and the other is retried (with the
///   driver's jittered backoff). Positions follow commit order and every position up to the
///   counter is committed: no reader ever meets a gap a Rust writer left, not even one that is
///   not gap-aware, like the legacy package's readers. The price: concurrent units of work that
///   append serialise on the counter (16 writers reach about 0.64–0.8× one, "Contention").
/// - [`Reserved`](PositionAllocation::Reserved): the positions are taken by an increment
///   outside the transaction, and only the events are inserted inside it, so units of work do
///   not meet on the counter (16 writers reach 2.0–3.5× one; the raw driver's own transactions,
///   the server's ceiling, 2.0×). A unit that has not committed yet
///   leaves its positions missing below committed ones for that long; this crate's readers wait
///   for them ([Gaps](#gaps-positions-in-flight)). A unit that surely did not commit (rolled
///   back, failed, aborted, dropped) burns its positions: a tombstone in `burnt_positions`,
///   which readers step over at once and which wakes the live loops. A unit that holds its
///   positions longer than half the gap grace is not committed
///   ([`Error::ReservationExpired`](crate::Error::ReservationExpired), retried by
///   [`Connection::transaction`](crate::Connection::transaction) with new positions), so no
///   reader steps over a position whose events may still commit. A writer killed before it
///   burns its positions leaves readers to step over them after the gap grace, as a legacy
///   writer's. Choose it once every reader of `domain_events` is this crate's.
///
/// Measured candidates (`BENCHMARKS.md`, "Contention"): taking the counter as the last write
/// before the commit (the unit's other writes first) changed nothing (0.78–0.86×): a unit of
/// work still holds the counter from its increment to its commit, and the server spends its
/// time on the transactions that wait for it; reserving outside the transaction removed that
/// (2.2–3.5×); routing units of work through the group commit is what
/// [`AggregateStore::save`](crate::AggregateStore::save) does outside a unit of
/// work (its events and outbox messages are known up front), while a caller's unit of work
/// (reads, arbitrary writes) keeps its own transaction.
///
/// Two assumptions: events are never deleted (the store is append-only, which lets a version
/// seen once count as present for good), and one store is shared per process (clones share the
/// queue; separate stores work but their batches conflict on the counter).
///
/// Readers page by position range up to the counter's value.
///
/// # Gaps: positions in flight
///
/// A position below the counter can be missing for a moment while later ones are stored: the
/// legacy package takes its position outside a transaction, before its insert, and so does a
/// unit of work with [`PositionAllocation::Reserved`]. Every position-ordered reader
/// ([`read_all`](Self::read_all), [`read_all_stream`](Self::read_all_stream),
/// [`read_by_types`](Self::read_by_types) and the projection runner and subscriptions on them)
/// waits for such a position instead of reading past it: it steps over it at once when its
/// writer burnt it, else only when the grace period has passed ([`gap_grace`](Self::gap_grace)),
/// logging a warning and counting it in [`gap_stats`](Self::gap_stats). With only Rust writers
/// and the default allocation there are no gaps, and a page whose positions are consecutive is
/// returned as read.
#[derive(Debug, Clone)]
pub struct EventStore {
    pub(super) connection: Connection,
    pub(super) events: Collection<Document>,
    pub(super) counters: Collection<Document>,
    pub(super) burnt: Collection<Document>,
    pub(super) markers: Collection<Document>,
    /// Set once the markers' collection is known to exist (see [`markers::ensure`](super::markers::ensure)).
    pub(super) markers_ready: Arc<tokio::sync::OnceCell<()>>,
    pub(super) allocation: PositionAllocation,
    pub(super) upcasters: Upcasters,
    pub(super) group: Arc<group_commit::GroupCommit>,
    pub(super) gaps: Arc<super::gaps::Gaps>,
    pub(super) gap_grace: std::time::Duration,
    pub(super) tenant: Option<Tenant>,
}

impl EventStore {
    /// The store on the legacy collections.
    pub fn new(connection: &Connection) -> Self {
        EventStore {
            connection: connection.clone(),
            events: connection.database().collection(EVENTS),
            counters: connection.database().collection(COUNTERS),
            burnt: connection.database().collection(BURNT_POSITIONS),
            markers: connection.database().collection(super::markers::MARKERS),
            markers_ready: Arc::default(),
            allocation: PositionAllocation::default(),
            upcasters: Upcasters::default(),
            group: Arc::default(),
            gaps: Arc::default(),
            gap_grace: DEFAULT_GAP_GRACE,
            tenant: None,
        }
    }

    /// How long readers wait for a missing position below the counter before stepping over it
    /// (default [`DEFAULT_GAP_GRACE`]): at least the longest time a legacy append can take from
    /// creating its events to inserting them. See [the type docs](Self#gaps-positions-in-flight).
    pub fn gap_grace(mut self, grace: std::time::Duration) -> Self {
        self.gap_grace = grace;
        self
    }

    /// How appends inside a caller's unit of work take their positions (default
    /// [`PositionAllocation::InTransaction`]; appends on their own always go through the group
    /// commit, which takes them inside its transaction).
    pub fn position_allocation(mut self, allocation: PositionAllocation) -> Self {
        self.allocation = allocation;
        self
    }

    /// How long a unit of work may hold reserved positions before committing: half the gap
    /// grace, so a reader never steps over a position whose events may still commit.
    pub(crate) fn reservation_limit(&self) -> std::time::Duration {
        self.gap_grace / 2
    }

    /// The gaps this process's readers of the store (all its clones) have met: how many are
    /// waited for now, and how many were given up when their grace period passed.
    pub fn gap_stats(&self) -> GapStats {
        self.gaps.stats()
    }

    /// How long until the earliest gap readers wait for is given up, if any is waited for.
    pub(crate) fn next_gap_expiry(&self) -> Option<std::time::Duration> {
        self.gaps.next_expiry()
    }

    /// This store scoped to `tenant` (sharing the group commit): events carry the tenant,
    /// reads see only the tenant's events, and appending to or reading a stream that belongs
    /// to another tenant is [`Error::CrossTenant`](crate::Error::CrossTenant). Positions stay
    /// global, so a tenant's `read_all` pages step over other tenants' positions.
    pub fn for_tenant(&self, tenant: &Tenant) -> Self {
        EventStore { tenant: Some(tenant.clone()), ..self.clone() }
    }

    /// `filter` within the tenant scope.
    pub(super) fn scoped(&self, filter: Document) -> Document {
        crate::store::tenancy::scoped(self.tenant.as_ref(), filter)
    }

    /// In a tenant scope, the cross-tenant error when stored `document` (an event of the
    /// stream) belongs to another tenant.
    pub(super) fn foreign(&self, document: &Document) -> Option<crate::Error> {
        let tenant = self.tenant.as_ref()?;
        (!tenant.owns(document)).then(|| tenant.cross(EVENTS, document.get("aggregate_id")))
    }

    /// Applies these upcasters to every event read.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    pub(super) fn decode(&self, document: Document) -> Result<StoredEvent> {
        let mut event = stored_event(document);
        self.upcasters.apply(&mut event);
        Ok(event)
    }

    /// The indexes the store relies on: unique `(aggregate_id, version)` (a lost race becomes a
    /// typed concurrency error) and `position`; `(event_type, position)` and `(tags,
    /// event_type, position)` for reads by type and by [query](super::Query); the consistency
    /// markers' `_id` index (so their collection exists before a transaction writes it); burnt positions by their last one, kept a week
    /// (a reader that comes later steps over such old holes by their age).
    pub fn indexes() -> Vec<IndexSpec> {
        vec![
            IndexSpec::new(EVENTS, doc! { "aggregate_id": 1, "version": 1 }).unique(),
            IndexSpec::new(EVENTS, doc! { "position": 1 }).unique(),
            IndexSpec::new(EVENTS, doc! { "event_type": 1, "position": 1 }),
            IndexSpec::new(EVENTS, doc! { "tags": 1, "event_type": 1, "position": 1 }),
            // Declared so the collection exists before transactions write to it.
            IndexSpec::new(super::markers::MARKERS, doc! { "_id": 1 }).named("_id_"),
            IndexSpec::new(BURNT_POSITIONS, doc! { "last": 1 }),
            IndexSpec::new(BURNT_POSITIONS, doc! { "burnt_at": 1 })
                .expire_after(std::time::Duration::from_secs(7 * 86_400)),
        ]
    }

    /// Appends a batch atomically, in the caller's unit of work or in a transaction of its own
    /// (shared with concurrent appends of this process, see the module docs). Returns the
    /// positions given to the events (empty when every event was already stored).
    ///
    /// On a deployment without transactions (a standalone server, for development) only a
    /// [non-transactional unit of work](crate::Connection::begin_non_transactional) can append:
    /// it takes the positions, then inserts, as the legacy store did. Without one the append is
    /// [`Error::TransactionsUnsupported`].
    ///
    /// Errors: [`Error::Concurrency`](crate::Error::Concurrency) when the stream is not at the
    /// expected version; [`Error::EventId`](crate::Error::EventId) when the batch repeats an
    /// event id (refused before anything is written), or an event id is already stored in
    /// another stream or with other content (the same event in the same stream is an
    /// idempotent no-op).
    pub async fn append(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        on: impl Into<On<'_>>,
    ) -> Result<Vec<i64>> {
        let on = on.into();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        super::append::distinct_ids(events)?;
        // The caller's trace context goes with the events (stamped here, in the caller's
        // task: a group commit may write them from another one).
        let stamped: Vec<NewEvent>;
        let events = if crate::telemetry::TraceContext::current().is_some() {
            stamped = events.iter().cloned().map(NewEvent::traced).collect();
            stamped.as_slice()
        } else {
            events
        };
        traced(EVENTS, "append", async {
            if on.unit_of_work().is_none() {
                self.ensure_markers().await?;
            }
            match on.unit_of_work() {
                Some(uow) => self.append_in(stream, expected, events, uow).await,
                None if !self.connection.supports_transactions() => Err(Error::TransactionsUnsupported {
                    operation: "EventStore::append without a unit of work",
                    alternative: "append in a Connection::begin_non_transactional() unit of work (positions are then \
                                  taken before the insert, as the legacy store did: a failed insert leaves a gap, \
                                  and a batch is not atomic)",
                }),
                None => self.append_grouped(stream, expected, events, None, None).await,
            }
        })
        .await
    }

    /// Appends on its own (through the group commit) with outbox messages that commit with the
    /// events: [`AggregateStore::save`](crate::aggregates::AggregateStore::save) outside a unit of
    /// work. Stamps the trace context as [`append`](Self::append) does.
    pub(crate) async fn append_with_messages(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        messages: group_commit::Messages,
    ) -> Result<Vec<i64>> {
        super::append::distinct_ids(events)?;
        let events: Vec<NewEvent> = events.iter().cloned().map(NewEvent::traced).collect();
        self.ensure_markers().await?;
        traced(EVENTS, "append", self.append_grouped(stream, expected, &events, Some(messages), None)).await
    }

    /// What is needed to rebuild an aggregate: its latest snapshot and the events after it,
    /// read in `on`.
    pub async fn load(
        &self,
        snapshots: &crate::snapshots::SnapshotStore,
        aggregate_type: &str,
        aggregate_id: &str,
        on: impl Into<On<'_>>,
    ) -> Result<(Option<crate::snapshots::Snapshot>, Vec<StoredEvent>)> {
        let on = on.into();
        let snapshot = snapshots.latest(aggregate_type, aggregate_id, on).await?;
        let from = snapshot.as_ref().map_or(0, |s| s.version);
        let events = self.read_stream(aggregate_id, from, None, on).await?;
        Ok((snapshot, events))
    }
}

pub(super) fn stored_event(mut document: Document) -> StoredEvent {
    StoredEvent {
        event_id: take_text(&mut document, "_id"),
        event_type: take_text(&mut document, "event_type"),
        aggregate_id: take_text(&mut document, "aggregate_id"),
        aggregate_type: take_text(&mut document, "aggregate_type"),
        payload: take_document(&mut document, "payload"),
        metadata: take_document(&mut document, "metadata"),
        version: int(document.get("version")),
        position: int(document.get("position")),
        // The legacy reader's default when the field is missing.
        schema_version: document.get("schema_version").map_or(1, |v| int(Some(v)) as i32),
        occurred_at: document.get_datetime("occurred_at").copied().unwrap_or(DateTime::from_millis(0)),
        correlation_id: take_optional_text(&mut document, "correlation_id"),
        causation_id: take_optional_text(&mut document, "causation_id"),
        tenant_id: take_optional_text(&mut document, crate::store::tenancy::TENANT_FIELD),
        tags: tags_of(&document),
    }
}

/// The stored `tags` (strings only; none when the field is missing, as in legacy documents).
pub(super) fn tags_of(document: &Document) -> Vec<String> {
    match document.get_array("tags") {
        Ok(tags) => tags.iter().filter_map(|tag| tag.as_str().map(str::to_owned)).collect(),
        Err(_) => Vec::new(),
    }
}
