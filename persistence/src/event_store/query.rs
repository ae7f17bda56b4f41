//! Queries over tagged events (dynamic consistency boundaries): which events a decision reads
//! and which an append condition watches.
//!
//! An item selects the events whose type is one of its types (any type when it names none) and
//! which carry every one of its tags (any tags when it names none); a query is its items OR-ed
//! together. An item must name at least one type or one tag: a condition on every event would
//! serialise every append.

use bson::{Document, doc};

use super::StoredEvent;
use crate::error::{Error, Result};

/// Events whose type is one of `types` (any type when empty) and which carry every one of
/// `tags` (any tags when empty).
///
/// ```
/// use cqrs_mongo_persistence::event_store::{Query, QueryItem};
/// let course = QueryItem::types(["StudentJoined", "StudentLeft"]).with_tags(["course:c1"]);
/// let student = QueryItem::types(["StudentJoined", "StudentLeft"]).with_tags(["student:s7"]);
/// let query = Query::new([course, student]);
/// assert_eq!(query.items().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryItem {
    types: Vec<String>,
    tags: Vec<String>,
}

impl QueryItem {
    /// Events of one of these types (sorted and without repeats, as every list here).
    pub fn types(types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        QueryItem { types: sorted(types), tags: Vec::new() }
    }

    /// Events of the types of an event set (an aggregate's or a decision's event enum).
    pub fn of<S: super::EventSet>() -> Self {
        QueryItem::types(S::event_types().iter().copied())
    }

    /// Events of any type carrying every one of these tags.
    pub fn tags(tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        QueryItem { types: Vec::new(), tags: sorted(tags) }
    }

    /// This item, also requiring every one of these tags.
    pub fn with_tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self.tags = sorted(std::mem::take(&mut self.tags));
        self
    }

    /// The item's event types (empty: any type).
    pub fn event_types(&self) -> &[String] {
        &self.types
    }

    /// The tags an event must all carry (empty: any).
    pub fn required_tags(&self) -> &[String] {
        &self.tags
    }

    /// Whether `event` is one this item selects.
    pub fn selects(&self, event: &StoredEvent) -> bool {
        self.selects_parts(&event.event_type, &event.tags)
    }

    pub(super) fn selects_parts(&self, event_type: &str, tags: &[String]) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
            && self.tags.iter().all(|tag| tags.contains(tag))
    }

    /// The filter the store runs on `domain_events` for this item (without the tenant scope):
    /// its first tag when it has one, served by the `(tags, event_type, position)` index, else
    /// its types, served by the `(event_type, position)` index. The item's types and other tags
    /// are checked on the events it returns ([`selects`](Self::selects)): one equality on the
    /// index's first field is the cheapest range on every server (two conditions on one array
    /// field keep some from using an index at all, and a multikey index walked with bounds on
    /// two fields cost one of them seven times as much), and the events of a tag are few where
    /// tags name entities, as they are meant to.
    pub fn filter(&self) -> Document {
        match (self.tags.first(), self.types.as_slice()) {
            (Some(tag), _) => doc! { "tags": tag.as_str() },
            (None, [one]) => doc! { "event_type": one.as_str() },
            (None, many) => doc! { "event_type": { "$in": many.to_vec() } },
        }
    }

    /// The markers an append watching this item writes: every event the item selects bumps at
    /// least one of them (see `markers.rs`).
    pub(super) fn watched_markers(&self) -> Vec<super::markers::Marker> {
        let first_tag = self.tags.first();
        match (self.types.is_empty(), first_tag) {
            (false, Some(tag)) => self.types.iter().map(|t| super::markers::type_and_tag(t, tag)).collect(),
            (false, None) => self.types.iter().flat_map(|t| super::markers::of_type_all(t)).collect(),
            (true, Some(tag)) => vec![super::markers::of_tag(tag)],
            (true, None) => Vec::new(),
        }
    }

    fn check(&self, index: usize) -> Result<()> {
        let refuse = |message: String| {
            Err(Error::InvalidArgument { operation: "event store query", argument: "items", message })
        };
        if self.types.is_empty() && self.tags.is_empty() {
            return refuse(format!(
                "item {index} names no event type and no tag: it would select every event, and a condition on it \
                 would serialise every append"
            ));
        }
        if self.types.iter().chain(&self.tags).any(String::is_empty) {
            return refuse(format!("item {index} holds an empty event type or tag"));
        }
        Ok(())
    }
}

impl std::fmt::Display for QueryItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.types.is_empty(), self.tags.is_empty()) {
            (false, false) => write!(f, "types {:?} with tags {:?}", self.types, self.tags),
            (false, true) => write!(f, "types {:?}", self.types),
            _ => write!(f, "tags {:?}", self.tags),
        }
    }
}

/// Query items OR-ed together: the events a decision reads, and the events an
/// [append condition](super::AppendCondition) watches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    items: Vec<QueryItem>,
}

impl Query {
    /// The events any of `items` selects (repeated items count once).
    pub fn new(items: impl IntoIterator<Item = QueryItem>) -> Self {
        let mut kept: Vec<QueryItem> = Vec::new();
        for item in items {
            if !kept.contains(&item) {
                kept.push(item);
            }
        }
        Query { items: kept }
    }

    /// The query's items.
    pub fn items(&self) -> &[QueryItem] {
        &self.items
    }

    /// Whether `event` is one the query selects.
    pub fn selects(&self, event: &StoredEvent) -> bool {
        self.selects_parts(&event.event_type, &event.tags)
    }

    pub(super) fn selects_parts(&self, event_type: &str, tags: &[String]) -> bool {
        self.items.iter().any(|item| item.selects_parts(event_type, tags))
    }

    /// [`Error::InvalidArgument`] for a query with no item, or an item that names no type and
    /// no tag, or an empty type or tag.
    pub(super) fn check(&self) -> Result<()> {
        if self.items.is_empty() {
            return Err(Error::InvalidArgument {
                operation: "event store query",
                argument: "items",
                message: "a query needs at least one item".into(),
            });
        }
        self.items.iter().enumerate().try_for_each(|(index, item)| item.check(index))
    }

    /// The markers a condition on this query writes, without repeats, in a fixed order.
    pub(super) fn watched_markers(&self) -> Vec<super::markers::Marker> {
        let mut markers = Vec::new();
        super::markers::add_new(&mut markers, self.items.iter().flat_map(QueryItem::watched_markers));
        markers
    }
}

impl From<QueryItem> for Query {
    fn from(item: QueryItem) -> Self {
        Query::new([item])
    }
}

fn sorted(values: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let mut values: Vec<String> = values.into_iter().map(Into::into).collect();
    values.sort_unstable();
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_select_by_type_and_every_tag() {
        let tags = |tags: &[&str]| tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        let item = QueryItem::types(["B", "A", "A"]).with_tags(["y", "x"]);
        assert_eq!(item.event_types(), ["A", "B"]);
        assert_eq!(item.required_tags(), ["x", "y"]);
        assert!(item.selects_parts("A", &tags(&["x", "y", "z"])));
        assert!(!item.selects_parts("A", &tags(&["x"])));
        assert!(!item.selects_parts("C", &tags(&["x", "y"])));
        assert!(QueryItem::tags(["x"]).selects_parts("anything", &tags(&["x"])));
        assert!(QueryItem::types(["A"]).selects_parts("A", &[]));
        assert_eq!(item.filter(), doc! { "tags": "x" });
        assert_eq!(QueryItem::types(["A"]).with_tags(["x"]).filter(), doc! { "tags": "x" });
        assert_eq!(QueryItem::types(["B", "A"]).filter(), doc! { "event_type": { "$in": ["A", "B"] } });
        assert_eq!(QueryItem::types(["A"]).filter(), doc! { "event_type": "A" });
    }

    #[test]
    fn every_selected_event_bumps_a_watched_marker() {
        let items =
            [QueryItem::types(["A", "B"]).with_tags(["x", "y"]), QueryItem::types(["A"]), QueryItem::tags(["y", "z"])];
        let events: &[(&str, &[&str])] =
            &[("A", &["x", "y"]), ("B", &["w", "x", "y"]), ("A", &[]), ("C", &["y", "z"]), ("B", &["y"])];
        for item in &items {
            for (event_type, tags) in events {
                let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
                for stripe in 0..super::super::markers::TYPE_STRIPES {
                    let bumped = super::super::markers::of_event(event_type, &tags, stripe);
                    let watched = item.watched_markers().iter().any(|m| bumped.contains(m));
                    assert!(
                        watched || !item.selects_parts(event_type, &tags),
                        "{item} selects {event_type} {tags:?} but watches none of its markers (stripe {stripe})"
                    );
                }
            }
        }
    }

    #[test]
    fn empty_queries_items_types_and_tags_are_refused() {
        assert!(Query::new([]).check().is_err());
        assert!(Query::new([QueryItem::types(Vec::<String>::new())]).check().is_err());
        assert!(Query::from(QueryItem::tags([""])).check().is_err());
        assert!(Query::from(QueryItem::types(["A"])).check().is_ok());
        assert_eq!(Query::new([QueryItem::types(["A"]), QueryItem::types(["A"])]).items().len(), 1);
    }
}
