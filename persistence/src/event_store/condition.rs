//! Dynamic consistency boundaries: the decision read by [`Query`] and the conditional append.
//!
//! A decision reads the events a query selects ([`EventStore::read_query`]) and gets a
//! [`ConsistencyToken`] with them; [`EventStore::append_if`] then stores its events only if no
//! event the query selects was stored after that read, in one transaction, or fails with
//! [`Error::ConditionFailed`] naming the items that matched. How it holds under concurrency is
//! in `markers.rs`: the read takes the versions of the markers the query watches *before*
//! reading the events, the append reads and increments those markers in its transaction (so a concurrent
//! append of a selected event conflicts with it and one of them is retried) and compares them;
//! only when one moved does it count the selected events, per item, against what the read saw.

use bson::{Document, doc};
use futures::FutureExt;

use super::{EVENTS, EventStore, ExpectedVersion, NewEvent, Query, QueryItem, StoredEvent, Stream, markers};
use crate::error::{Error, Result};
use crate::store::uow::{On, UnitOfWork, collect_with_session};
use crate::telemetry::spans::traced;

/// What a decision read: the events its query selects, in position order, and the token that
/// makes an append conditional on nothing new matching the query.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueryRead {
    /// The selected events, in position order (upcast like every read).
    pub events: Vec<StoredEvent>,
    /// What the read saw, for [`AppendCondition::after`].
    pub token: ConsistencyToken,
}

/// What a decision read saw of its query: the versions of the markers the query watches, read
/// before the events, and how many events each item selected. Build the append's condition
/// from it with [`AppendCondition::after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyToken {
    query: Query,
    tenant: Option<String>,
    markers: Vec<i64>,
    counts: Vec<u64>,
    last_position: i64,
}

impl ConsistencyToken {
    /// The query it was read for.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The highest position among the events the read returned (0 when none): a caller waiting
    /// for read models to catch up can wait for it.
    pub fn last_position(&self) -> i64 {
        self.last_position
    }
}

/// "Fail if any event the query selects was stored after the decision read" (built from the
/// read's [token](ConsistencyToken)), or "fail if any event the query selects exists at all"
/// ([`none_match`](Self::none_match), for a decision that needs no read: a user name not taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendCondition {
    query: Query,
    tenant: Option<Option<String>>,
    seen: Option<(Vec<i64>, Vec<u64>)>,
}

impl AppendCondition {
    /// Nothing the token's query selects may have been stored since the read that gave it.
    pub fn after(token: ConsistencyToken) -> Self {
        AppendCondition { query: token.query, tenant: Some(token.tenant), seen: Some((token.markers, token.counts)) }
    }

    /// No event the query selects may exist.
    pub fn none_match(query: impl Into<Query>) -> Self {
        AppendCondition { query: query.into(), tenant: None, seen: None }
    }

    /// The query the condition watches.
    pub fn query(&self) -> &Query {
        &self.query
    }
}

impl From<ConsistencyToken> for AppendCondition {
    fn from(token: ConsistencyToken) -> Self {
        AppendCondition::after(token)
    }
}

impl EventStore {
    /// The events `query` selects (in the store's tenant scope), in position order, with the
    /// token an [`AppendCondition`] needs, read in `on`. Index-backed: by `event_type` and
    /// position, and by `tags`.
    ///
    /// Errors: [`Error::InvalidArgument`] for a query with no item, or an item naming neither
    /// a type nor a tag.
    pub async fn read_query(&self, query: &Query, on: impl Into<On<'_>>) -> Result<QueryRead> {
        let on = on.into();
        query.check()?;
        traced(EVENTS, "read_query", async {
            // Markers first: an event committed after this read moves one of them, so the
            // append sees it even if the events' read below missed it.
            let watched = query.watched_markers();
            let markers = markers::read(&self.markers, &watched, on).await?;
            // One index-backed read per item, merged in position order.
            let mut events: Vec<StoredEvent> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for item in query.items() {
                let find = self.events.find(self.scoped(item.filter()));
                let documents: Vec<Document> = collect_with_session!(find, on)?;
                for document in documents {
                    let event = self.decode(document)?;
                    if item.selects(&event) && seen.insert(event.event_id.clone()) {
                        events.push(event);
                    }
                }
            }
            events.sort_by_key(|event| event.position);
            let counts = query.items().iter().map(|item| events.iter().filter(|e| item.selects(e)).count() as u64);
            let token = ConsistencyToken {
                query: query.clone(),
                tenant: self.tenant_id(),
                markers,
                counts: counts.collect(),
                last_position: events.last().map_or(0, |e| e.position),
            };
            Ok(QueryRead { events, token })
        })
        .await
    }

    /// Appends `events` to `stream` (at the `expected` version, as [`append`](Self::append))
    /// only if `condition` holds, in one transaction: the caller's unit of work, or, alone, the
    /// group commit's (checked in the batch's transaction; one whose condition selects events
    /// of an earlier append of the batch runs in a transaction of its own), retried on
    /// transient errors.
    /// Returns the positions given to the events (empty when every one was stored already: an
    /// idempotent retry of an append that committed passes its own condition).
    ///
    /// Errors: [`Error::ConditionFailed`] naming the query items that selected events stored
    /// since the decision read (or, for [`AppendCondition::none_match`], stored at all);
    /// [`Error::InvalidArgument`] for an invalid query or a token read in another tenant
    /// scope; [`Error::TransactionsUnsupported`] without transactions (a non-transactional
    /// unit of work cannot make the check and the append one); and the errors of `append`.
    pub async fn append_if(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        condition: &AppendCondition,
        on: impl Into<On<'_>>,
    ) -> Result<Vec<i64>> {
        let on = on.into();
        condition.query.check()?;
        if let Some(tenant) = &condition.tenant
            && *tenant != self.tenant_id()
        {
            return Err(Error::InvalidArgument {
                operation: "EventStore::append_if",
                argument: "condition",
                message: format!(
                    "its token was read in tenant scope {tenant:?} and the store is scoped to {:?}",
                    self.tenant_id()
                ),
            });
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        super::append::distinct_ids(events)?;
        if on.unit_of_work().is_none() {
            self.ensure_markers().await?;
        }
        let stamped: Vec<NewEvent> = events.iter().cloned().map(NewEvent::traced).collect();
        traced(EVENTS, "append_if", async {
            match on.unit_of_work() {
                Some(uow) if uow.is_transactional() => {
                    self.append_if_in(stream, expected, &stamped, condition, uow).await
                }
                Some(_) => Err(Error::TransactionsUnsupported {
                    operation: "EventStore::append_if in a non-transactional unit of work",
                    alternative: "a conditional append checks and writes in one transaction: run it alone or in a \
                                  transactional unit of work",
                }),
                None if !self.connection.supports_transactions() => {
                    Err(Error::needs_transaction("EventStore::append_if"))
                }
                None => self.append_grouped(stream, expected, &stamped, None, Some(condition)).await,
            }
        })
        .await
    }

    /// The conditional append in a transaction of its own (where the group commit sends an
    /// append it does not take: see `group_commit.rs`).
    pub(super) async fn append_if_alone(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        condition: &AppendCondition,
    ) -> Result<Vec<i64>> {
        let context = (self, stream, expected, events, condition);
        self.connection
            .transaction_with(context, |uow, context| {
                let (store, stream, expected, events, condition) = *context;
                async move { store.append_if_in(stream, expected, events, condition, uow).await }.boxed()
            })
            .await
    }

    /// The check and the append, in `uow`'s transaction.
    async fn append_if_in(
        &self,
        stream: Stream<'_>,
        expected: ExpectedVersion,
        events: &[NewEvent],
        condition: &AppendCondition,
        uow: &UnitOfWork,
    ) -> Result<Vec<i64>> {
        self.check_condition(condition, events, uow).await?;
        let watched = condition.query.watched_markers();
        self.append_in_watching(stream, expected, events, &watched, uow).await
    }

    /// [`Error::ConditionFailed`] unless `condition` holds in `uow`'s snapshot. The watched
    /// markers are read here and must be written in the same transaction (with the events):
    /// an append of a selected event committed since the snapshot then makes that write
    /// conflict, and the transaction is retried.
    pub(super) async fn check_condition(
        &self,
        condition: &AppendCondition,
        events: &[NewEvent],
        uow: &UnitOfWork,
    ) -> Result<()> {
        let watched = condition.query.watched_markers();
        let now = markers::read(&self.markers, &watched, On::Uow(uow)).await?;
        self.check_condition_at(condition, &now, events, uow).await
    }

    /// [`check_condition`](Self::check_condition) with the watched markers' versions read
    /// already in `uow` (`now`, in the order of the query's `watched_markers`).
    pub(super) async fn check_condition_at(
        &self,
        condition: &AppendCondition,
        now: &[i64],
        events: &[NewEvent],
        uow: &UnitOfWork,
    ) -> Result<()> {
        if condition.seen.as_ref().is_some_and(|(markers, _)| markers.as_slice() == now) {
            return Ok(());
        }
        let seen = condition.seen.as_ref().map(|(_, counts)| counts.as_slice());
        let conflicts = self.grown(&condition.query, seen, events, uow).await?;
        if conflicts.is_empty() { Ok(()) } else { Err(Error::ConditionFailed { conflicts }) }
    }

    /// The items that now select more events than the read saw (any, without a read), leaving
    /// out this append's own events (stored already by a committed attempt).
    async fn grown(
        &self,
        query: &Query,
        seen: Option<&[u64]>,
        events: &[NewEvent],
        uow: &UnitOfWork,
    ) -> Result<Vec<QueryItem>> {
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        let mut grown = Vec::new();
        for (index, item) in query.items().iter().enumerate() {
            let mut filter = self.scoped(item.filter());
            filter.insert("_id", doc! { "$nin": ids.clone() });
            let find = self.events.find(filter).projection(doc! { "event_type": 1, "tags": 1 });
            let documents: Vec<Document> = collect_with_session!(find, On::Uow(uow))?;
            let count = documents
                .into_iter()
                .filter(|document| {
                    let tags = super::store::tags_of(document);
                    item.selects_parts(document.get_str("event_type").unwrap_or_default(), &tags)
                })
                .count() as u64;
            if count > seen.and_then(|counts| counts.get(index).copied()).unwrap_or(0) {
                grown.push(item.clone());
            }
        }
        Ok(grown)
    }

    fn tenant_id(&self) -> Option<String> {
        self.tenant.as_ref().map(|tenant| tenant.id().to_owned())
    }
}
