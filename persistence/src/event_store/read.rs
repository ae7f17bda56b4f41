//! Reads: one stream, everything in position order (pages and a `Stream`), by event types.
//!
//! `read_all` pages by position *range* up to the committed counter value instead of asking
//! for "the next N after p" with a sort and limit: a range is answered from the `position`
//! index alone, while "sort + limit" makes some servers sort everything after `p` for every page
//! (measured: 418 ms against 5 ms per page of 1,000 over 200,000 events on SecantusDB).
//!
//! Position-ordered reads are gap-aware (see `gaps.rs`): a page ends before a missing position
//! that is still in flight.

use std::time::Duration;

use bson::{Document, doc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::gaps::Verdict;
use super::{EventStore, StoredEvent};
use crate::error::{Error, Result};
use crate::store::fields::int;
use crate::store::uow::{On, collect_with_session, with_session};

/// Positions scanned per query when looking for the first gap (`read_by_types`).
const SCAN: i64 = 10_000;

/// One read of a position range.
struct Page {
    events: Vec<StoredEvent>,
    /// Where the next read starts (exclusive).
    next_after: i64,
    /// It stopped before a missing position still in flight.
    blocked: bool,
}

impl EventStore {
    /// Events of one stream after `from_version`, in version order, at most `limit`, read in
    /// `on`.
    pub async fn read_stream(
        &self,
        aggregate_id: &str,
        from_version: i64,
        limit: Option<i64>,
        on: impl Into<On<'_>>,
    ) -> Result<Vec<StoredEvent>> {
        let on = on.into();
        if let Some(limit) = limit {
            Error::at_least_one("EventStore::read_stream", "limit", limit)?;
        }
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "version": 1 });
        options.limit = limit;
        let filter = self.scoped(doc! { "aggregate_id": aggregate_id, "version": { "$gt": from_version } });
        let documents: Vec<Document> = collect_with_session!(self.events.find(filter).with_options(options), on)?;
        if documents.is_empty() && self.tenant.is_some() {
            let any = with_session!(self.events.find_one(doc! { "aggregate_id": aggregate_id }), on)?;
            if let Some(cross) = any.as_ref().and_then(|d| self.foreign(d)) {
                return Err(cross);
            }
        }
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// One event by its id (upcast like every read), `None` when it is not stored (or, in a
    /// tenant scope, belongs to another tenant: [`Error::CrossTenant`]), read in `on`.
    pub async fn event(&self, event_id: &str, on: impl Into<On<'_>>) -> Result<Option<StoredEvent>> {
        let on = on.into();
        let found = with_session!(self.events.find_one(self.scoped(doc! { "_id": event_id })), on)?;
        if found.is_none() && self.tenant.is_some() {
            let any = with_session!(self.events.find_one(doc! { "_id": event_id }), on)?;
            if let Some(cross) = any.as_ref().and_then(|d| self.foreign(d)) {
                return Err(cross);
            }
        }
        found.map(|d| self.decode(d)).transpose()
    }

    /// Events of one stream after `from_version`, in version order, as a stream read from one
    /// cursor (memory stays one batch however long the stream is), in `on` (in a unit of work:
    /// through its session, which the stream holds until it is dropped).
    pub async fn read_stream_cursor<'a>(
        &'a self,
        aggregate_id: &str,
        from_version: i64,
        on: impl Into<On<'a>>,
    ) -> Result<BoxStream<'a, Result<StoredEvent>>> {
        let filter = self.scoped(doc! { "aggregate_id": aggregate_id, "version": { "$gt": from_version } });
        let find = self.events.find(filter).sort(doc! { "version": 1 }).batch_size(500);
        let mut guard = on.into().session().await;
        let Some(session) = guard.get() else {
            let cursor = find.await?;
            return Ok(cursor.map_err(Error::from).and_then(move |d| std::future::ready(self.decode(d))).boxed());
        };
        let cursor = find.session(&mut *session).await?;
        let events = futures::stream::try_unfold((cursor, guard), move |(mut cursor, mut guard)| async move {
            let Some(session) = guard.get() else { return Ok(None) };
            match cursor.next(session).await {
                Some(document) => Ok(Some((self.decode(document?)?, (cursor, guard)))),
                None => Ok(None),
            }
        });
        Ok(events.boxed())
    }

    /// The stream's current version (0 when it has no events), read in `on`.
    pub async fn current_version(&self, aggregate_id: &str, on: impl Into<On<'_>>) -> Result<i64> {
        let on = on.into();
        let last = self
            .events
            .find_one(self.scoped(doc! { "aggregate_id": aggregate_id }))
            .sort(doc! { "version": -1 })
            .projection(doc! { "version": 1 });
        Ok(with_session!(last, on)?.map(|d| int(d.get("version"))).unwrap_or(0))
    }

    /// Up to `limit` events after global position `after`, in position order; empty only when
    /// the reader has caught up with the latest committed position, or waits for a missing
    /// position still in flight (see [gaps](Self#gaps-positions-in-flight)). The page covers the
    /// first non-empty range of `limit` positions, so where positions are missing it holds
    /// fewer than `limit` events: continue after its last position.
    pub async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        Error::at_least_one("EventStore::read_all", "limit", limit)?;
        let head = self.latest_position().await?;
        Ok(self.read_range(after, limit, head).await?.events)
    }

    /// The first non-empty range of at most `limit` positions after `after` and up to `head`.
    /// Ranges can be empty where positions are missing (given-up gaps, or in a tenant scope
    /// other tenants' events), so it moves on until `head`, or until a gap in flight.
    async fn read_range(&self, mut after: i64, limit: i64, head: i64) -> Result<Page> {
        while after < head {
            let to = head.min(after.saturating_add(limit));
            let range = doc! { "position": { "$gt": after, "$lte": to } };
            let documents: Vec<Document> =
                self.events.find(self.scoped(range.clone())).sort(doc! { "position": 1 }).await?.try_collect().await?;
            // In a tenant scope the gaps are found among every tenant's positions.
            let positions = match self.tenant {
                None => documents.iter().map(|d| int(d.get("position"))).collect(),
                Some(_) => self.positions(range).await?,
            };
            let (end, blocked) = self.passable_end(after, to, head, &positions).await?;
            let events = documents
                .into_iter()
                .filter(|d| int(d.get("position")) <= end)
                .map(|d| self.decode(d))
                .collect::<Result<Vec<_>>>()?;
            if blocked || !events.is_empty() {
                return Ok(Page { events, next_after: end, blocked });
            }
            after = to;
        }
        Ok(Page { events: Vec::new(), next_after: after, blocked: false })
    }

    /// Every stored position in `range` (of every tenant), ascending, from the index.
    async fn positions(&self, range: Document) -> Result<Vec<i64>> {
        let found = self.events.find(range).sort(doc! { "position": 1 }).projection(doc! { "_id": 0, "position": 1 });
        Ok(found.await?.try_collect::<Vec<_>>().await?.iter().map(|d| int(d.get("position"))).collect())
    }

    /// How far past `after` a reader may go within `..=to`, given the stored `positions` there
    /// (ascending): up to `to`, or up to just before the first missing position still in
    /// flight (then `true`).
    async fn passable_end(&self, after: i64, to: i64, head: i64, positions: &[i64]) -> Result<(i64, bool)> {
        let mut expected = after + 1;
        let mut missing = Vec::new();
        for &position in positions {
            if position > expected {
                missing.push((expected, position - 1));
                if !self.may_pass(expected, position - 1, Some(position)).await? {
                    return Ok(self.stop_at(after, expected, position - 1, &missing));
                }
            }
            expected = expected.max(position + 1);
        }
        if expected <= to {
            missing.push((expected, to));
            let next = if to < head { self.first_position_after(to).await? } else { None };
            if !self.may_pass(expected, to, next).await? {
                return Ok(self.stop_at(after, expected, to, &missing));
            }
        }
        self.gaps.forget_filled(after + 1, to, &missing);
        self.gaps.settle(after, to);
        Ok((to, false))
    }

    /// Reading from `after` stops at the gap `lo..=hi` still in flight.
    fn stop_at(&self, after: i64, lo: i64, hi: i64, missing: &[(i64, i64)]) -> (i64, bool) {
        self.gaps.forget_filled(after + 1, hi, missing);
        self.gaps.settle(after, lo - 1);
        (lo - 1, true)
    }

    /// May a reader step over the missing positions `lo..=hi` (below the stored event at
    /// `next`, if known)? A gap seen for the first time is aged by that event's `occurred_at`.
    async fn may_pass(&self, lo: i64, hi: i64, next: Option<i64>) -> Result<bool> {
        let verdict = self.gaps.check(lo, hi, self.gap_grace);
        if verdict != Verdict::Pass && self.burnt_cover(lo, hi).await? {
            self.gaps.burnt(lo, hi);
            return Ok(true);
        }
        match verdict {
            Verdict::Pass => Ok(true),
            Verdict::Wait => Ok(false),
            Verdict::New => {
                let Some(next) = next else { return Ok(false) };
                let above = self.events.find_one(doc! { "position": next }).projection(doc! { "occurred_at": 1 });
                let Some(occurred_at) = above.await?.and_then(|d| d.get_datetime("occurred_at").ok().copied()) else {
                    return Ok(false);
                };
                let now = self.connection.server_time().await?;
                let age = Duration::from_millis(
                    u64::try_from(now.timestamp_millis() - occurred_at.timestamp_millis()).unwrap_or(0),
                );
                Ok(self.gaps.age_at_least(lo, hi, age, self.gap_grace))
            }
        }
    }

    /// True when tombstones of burnt reservations cover every position of `lo..=hi`.
    async fn burnt_cover(&self, lo: i64, hi: i64) -> Result<bool> {
        let overlapping = doc! { "last": { "$gte": lo }, "_id": { "$lte": hi } };
        let found: Vec<Document> = self.burnt.find(overlapping).sort(doc! { "_id": 1 }).await?.try_collect().await?;
        let mut covered_to = lo - 1;
        for range in found {
            let (first, last) = (int(range.get("_id")), int(range.get("last")));
            if first > covered_to + 1 {
                return Ok(false);
            }
            covered_to = covered_to.max(last);
        }
        Ok(covered_to >= hi)
    }

    async fn first_position_after(&self, position: i64) -> Result<Option<i64>> {
        let next = self
            .events
            .find_one(doc! { "position": { "$gt": position } })
            .sort(doc! { "position": 1 })
            .projection(doc! { "_id": 0, "position": 1 });
        Ok(next.await?.map(|d| int(d.get("position"))))
    }

    /// Every event after `after` as a stream, read `page_size` positions at a time in position
    /// order; it ends when it has caught up with the latest committed position (read again
    /// once it is reached, so events committed meanwhile are included) or reaches a missing
    /// position still in flight. Memory stays one page.
    pub fn read_all_stream(
        &self,
        after: i64,
        page_size: i64,
    ) -> impl futures::Stream<Item = Result<StoredEvent>> + Send + '_ {
        struct State {
            after: i64,
            head: i64,
            page: std::vec::IntoIter<StoredEvent>,
            blocked: bool,
        }
        let start = State { after, head: after, page: Vec::new().into_iter(), blocked: false };
        futures::stream::try_unfold(start, move |mut state| async move {
            Error::at_least_one("EventStore::read_all_stream", "page_size", page_size)?;
            loop {
                if let Some(event) = state.page.next() {
                    return Ok(Some((event, state)));
                }
                if state.blocked {
                    return Ok(None);
                }
                if state.after >= state.head {
                    let head = self.latest_position().await?;
                    if head <= state.after {
                        return Ok(None);
                    }
                    state.head = head;
                }
                let page = self.read_range(state.after, page_size, state.head).await?;
                state.after = page.next_after;
                state.page = page.events.into_iter();
                state.blocked = page.blocked;
            }
        })
    }

    /// Events of the given types after `after`, in position order, at most `limit`; like
    /// `read_all`, never past a missing position still in flight.
    pub async fn read_by_types(&self, types: &[&str], after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        Ok(self.read_by_types_upto(types, after, limit).await?.0)
    }

    /// [`read_by_types`](Self::read_by_types), with the position up to which every event of
    /// those types has been returned (a reader may move its checkpoint there: the events
    /// between that are of other types).
    pub(crate) async fn read_by_types_upto(
        &self,
        types: &[&str],
        after: i64,
        limit: i64,
    ) -> Result<(Vec<StoredEvent>, i64)> {
        Error::at_least_one("EventStore::read_by_types", "limit", limit)?;
        let end = self.passable_head(after).await?;
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "position": 1 });
        options.limit = Some(limit);
        let filter = self.scoped(doc! { "event_type": { "$in": types }, "position": { "$gt": after, "$lte": end } });
        let documents: Vec<Document> = self.events.find(filter).with_options(options).await?.try_collect().await?;
        let events: Vec<StoredEvent> = documents.into_iter().map(|d| self.decode(d)).collect::<Result<_>>()?;
        let upto = match events.last() {
            Some(last) if events.len() as i64 == limit => last.position,
            _ => end.max(after),
        };
        Ok((events, upto))
    }

    /// How far past `after` a reader may go: the committed head, or just before the first
    /// missing position still in flight. Looks only above the prefix of positions already
    /// known to be settled, so without gaps it reads each position's index entry once.
    async fn passable_head(&self, after: i64) -> Result<i64> {
        let head = self.latest_position().await?;
        let mut from = after.max(self.gaps.settled().min(head));
        while from < head {
            let to = head.min(from.saturating_add(SCAN));
            let positions = self.positions(doc! { "position": { "$gt": from, "$lte": to } }).await?;
            let (end, blocked) = self.passable_end(from, to, head, &positions).await?;
            if blocked {
                return Ok(end);
            }
            from = to;
        }
        Ok(head)
    }

    /// The highest committed position, 0 when the store is empty: the counter's value, since
    /// counter and events are committed together. Without a counter document (events imported
    /// by other means) it is the highest stored position.
    pub async fn latest_position(&self) -> Result<i64> {
        if let Some(value) = self.counter_value().await? {
            return Ok(value);
        }
        let last = self.events.find_one(doc! {}).sort(doc! { "position": -1 }).await?;
        Ok(last.map(|d| crate::store::fields::int(d.get("position"))).unwrap_or(0))
    }
}
