//! Reads: one stream, everything in position order (pages and a `Stream`), by event types.
//!
//! `read_all` pages by position *range* up to the committed counter value instead of asking
//! for "the next N after p" with a sort and limit: a range is answered from the `position`
//! index alone, while "sort + limit" makes some servers sort everything after `p` for every page
//! (measured: 418 ms against 5 ms per page of 1,000 over 200,000 events on SecantusDB).

use bson::{Document, doc};
use futures::TryStreamExt;

use super::{EventStore, StoredEvent};
use crate::error::{Error, Result};

impl EventStore {
    /// Events of one stream after `from_version`, in version order, at most `limit`.
    pub async fn read_stream(
        &self,
        aggregate_id: &str,
        from_version: i64,
        limit: Option<i64>,
    ) -> Result<Vec<StoredEvent>> {
        if let Some(limit) = limit {
            Error::at_least_one("EventStore::read_stream", "limit", limit)?;
        }
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "version": 1 });
        options.limit = limit;
        let filter = self.scoped(doc! { "aggregate_id": aggregate_id, "version": { "$gt": from_version } });
        let documents: Vec<Document> = self.events.find(filter).with_options(options).await?.try_collect().await?;
        if documents.is_empty() && self.tenant.is_some() {
            let any = self.events.find_one(doc! { "aggregate_id": aggregate_id }).await?;
            if let Some(cross) = any.as_ref().and_then(|d| self.foreign(d)) {
                return Err(cross);
            }
        }
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// Up to `limit` events after global position `after`, in position order; empty only when
    /// the reader has caught up with the latest committed position. The page covers the first
    /// non-empty range of `limit` positions, so where positions are missing (deleted events,
    /// legacy gaps) it holds fewer than `limit` events: continue after its last position.
    pub async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        Error::at_least_one("EventStore::read_all", "limit", limit)?;
        let head = self.latest_position().await?;
        let (page, _) = self.read_range(after, limit, head).await?;
        Ok(page)
    }

    /// The first non-empty range of at most `limit` positions after `after` and up to `head`,
    /// and the position the next read starts after. Ranges can be empty where positions are
    /// missing (events deleted, or gaps the legacy store left), so it moves on until `head`.
    async fn read_range(&self, mut after: i64, limit: i64, head: i64) -> Result<(Vec<StoredEvent>, i64)> {
        while after < head {
            let to = head.min(after.saturating_add(limit));
            let filter = self.scoped(doc! { "position": { "$gt": after, "$lte": to } });
            let documents: Vec<Document> =
                self.events.find(filter).sort(doc! { "position": 1 }).await?.try_collect().await?;
            if !documents.is_empty() {
                let page = documents.into_iter().map(|d| self.decode(d)).collect::<Result<Vec<_>>>()?;
                return Ok((page, to));
            }
            after = to;
        }
        Ok((Vec::new(), after))
    }

    /// Every event after `after` as a stream, read `page_size` positions at a time in position
    /// order; it ends when it has caught up with the latest committed position (read again
    /// once it is reached, so events committed meanwhile are included). Memory stays one page.
    pub fn read_all_stream(
        &self,
        after: i64,
        page_size: i64,
    ) -> impl futures::Stream<Item = Result<StoredEvent>> + Send + '_ {
        struct State {
            after: i64,
            head: i64,
            page: std::vec::IntoIter<StoredEvent>,
        }
        let start = State { after, head: after, page: Vec::new().into_iter() };
        futures::stream::try_unfold(start, move |mut state| async move {
            Error::at_least_one("EventStore::read_all_stream", "page_size", page_size)?;
            loop {
                if let Some(event) = state.page.next() {
                    return Ok(Some((event, state)));
                }
                if state.after >= state.head {
                    let head = self.latest_position().await?;
                    if head <= state.after {
                        return Ok(None);
                    }
                    state.head = head;
                }
                let (page, next) = self.read_range(state.after, page_size, state.head).await?;
                state.after = next;
                state.page = page.into_iter();
            }
        })
    }

    /// Events of the given types after `after`, in position order, at most `limit`.
    pub async fn read_by_types(&self, types: &[&str], after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        Error::at_least_one("EventStore::read_by_types", "limit", limit)?;
        let mut options = mongodb::options::FindOptions::default();
        options.sort = Some(doc! { "position": 1 });
        options.limit = Some(limit);
        let filter = self.scoped(doc! { "event_type": { "$in": types }, "position": { "$gt": after } });
        let documents: Vec<Document> = self.events.find(filter).with_options(options).await?.try_collect().await?;
        documents.into_iter().map(|d| self.decode(d)).collect()
    }

    /// The highest committed position, 0 when the store is empty: the counter's value, since
    /// counter and events are committed together. Without a counter document (events imported
    /// by other means) it is the highest stored position.
    pub async fn latest_position(&self) -> Result<i64> {
        if let Some(value) = self.counter_value().await? {
            return Ok(value);
        }
        let last = self.events.find_one(doc! {}).sort(doc! { "position": -1 }).await?;
        Ok(last.map(|d| crate::fields::int(d.get("position"))).unwrap_or(0))
    }
}
