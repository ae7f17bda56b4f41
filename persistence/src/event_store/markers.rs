//! Consistency markers: the documents that make an append condition hold under concurrency.
//!
//! MongoDB detects conflicts between transactions that write the same document, not between a
//! transaction that reads a range and one that inserts into it. So every append (grouped, alone
//! or in a unit of work) increments, in its transaction, one marker per event type (one of the
//! type's [`TYPE_STRIPES`] stripes), per tag and per (type, tag) pair of its events, in
//! `consistency_markers`; a conditional append increments
//! the markers its query watches ([`QueryItem::watched_markers`](super::QueryItem)) after
//! reading their versions in its transaction, chosen so
//! that every event the query selects bumps at least one of them. Two transactions that would
//! break each other's condition therefore write one common document: the server lets one
//! commit and fails the other with a write conflict, which is retried.
//!
//! A marker's `version` also tells a conditional append whether anything it watches was
//! committed since the decision read: unchanged markers mean nothing was. Markers are coarse
//! (a tag marker moves for events of every type with that tag, and markers are not scoped by
//! tenant), so a moved marker only makes the append count the matching events to decide;
//! coarseness costs retries and counts, never a wrong answer.

use bson::{Document, doc};

use crate::error::Result;

/// The markers' collection.
pub const MARKERS: &str = "consistency_markers";

impl super::EventStore {
    /// Creates the markers' collection the first time this store (or a clone) appends on its
    /// own, before its transaction: concurrent transactions that would create it implicitly
    /// conflict on the creation (or, on some servers, wait for each other). Not from inside a
    /// caller's unit of work: a collection created after a transaction's snapshot cannot be
    /// written in it (the transaction would fail once, transiently); there, as for the other
    /// collections, the transaction creates it if it is missing.
    pub(super) async fn ensure_markers(&self) -> Result<()> {
        self.markers_ready
            .get_or_try_init(|| async {
                match self.connection.database().create_collection(MARKERS).await {
                    Ok(()) => Ok(()),
                    Err(err) if crate::error::codes_of(&err).any(|code| code == NAMESPACE_EXISTS) => Ok(()),
                    Err(err) => Err(err.into()),
                }
            })
            .await
            .map(|_| ())
    }
}

/// The server's code for a collection that exists already.
const NAMESPACE_EXISTS: i32 = 48;

/// How many markers an event type is spread over: an append bumps one of them (chosen by its
/// first event id), a condition on the type without a tag watches all of them. Appends of one
/// type with different tags then meet on a marker only one time in this many.
pub(super) const TYPE_STRIPES: u32 = 16;

/// A marker's `_id`: a JSON array as text (`["tag","course:c1"]`), one string per marker,
/// distinct for distinct parts, looked up through the `_id` index as any string.
pub(super) type Marker = String;

/// One of the markers of an event type.
pub(super) fn of_type(event_type: &str, stripe: u32) -> Marker {
    serde_json::json!(["type", event_type, stripe]).to_string()
}

/// Every marker of an event type.
pub(super) fn of_type_all(event_type: &str) -> Vec<Marker> {
    (0..TYPE_STRIPES).map(|stripe| of_type(event_type, stripe)).collect()
}

/// The type stripe an append bumps, from its first event id.
pub(super) fn stripe_of(event_id: &str) -> u32 {
    // FNV-1a: stable, and spreads short ids well enough.
    let hash =
        event_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % u64::from(TYPE_STRIPES)) as u32
}

/// The marker of a tag.
pub(super) fn of_tag(tag: &str) -> Marker {
    serde_json::json!(["tag", tag]).to_string()
}

/// The marker of an event type with a tag.
pub(super) fn type_and_tag(event_type: &str, tag: &str) -> Marker {
    serde_json::json!(["type+tag", event_type, tag]).to_string()
}

/// The markers an event bumps when it is appended in an append whose type stripe is `stripe`.
pub(super) fn of_event(event_type: &str, tags: &[String], stripe: u32) -> Vec<Marker> {
    let mut markers = Vec::with_capacity(1 + 2 * tags.len());
    markers.push(of_type(event_type, stripe));
    for tag in tags {
        markers.push(of_tag(tag));
        markers.push(type_and_tag(event_type, tag));
    }
    markers
}

/// Adds the `more` markers that `markers` does not hold yet, in order.
pub(super) fn add_new(markers: &mut Vec<Marker>, more: impl IntoIterator<Item = Marker>) {
    for marker in more {
        if !markers.contains(&marker) {
            markers.push(marker);
        }
    }
}

/// The markers of the events of one append (or one group commit), without repeats.
pub(super) fn of_events<'e>(events: impl IntoIterator<Item = &'e super::NewEvent>) -> Vec<Marker> {
    let mut markers: Vec<Marker> = Vec::new();
    let mut stripe = None;
    for event in events {
        let stripe = *stripe.get_or_insert_with(|| stripe_of(&event.event_id));
        add_new(&mut markers, of_event(&event.event_type, &super::types::tags_sorted(&event.tags), stripe));
    }
    markers
}

/// Increments each marker (created at 1 when missing), in `session`'s transaction if any: one
/// `update_many` for those that exist (all of them, once a store has run a while), an upsert
/// for each missing one.
pub(super) async fn bump(
    collection: &mongodb::Collection<Document>,
    markers: &[Marker],
    mut session: Option<&mut mongodb::ClientSession>,
) -> Result<()> {
    if markers.is_empty() {
        return Ok(());
    }
    let increment = doc! { "$inc": { "version": 1_i64 } };
    let update = collection.update_many(doc! { "_id": { "$in": markers } }, increment.clone());
    let updated = match session.as_deref_mut() {
        Some(session) => update.session(session).await?,
        None => update.await?,
    };
    if updated.matched_count >= markers.len() as u64 {
        return Ok(());
    }
    let find = collection.find(doc! { "_id": { "$in": markers } }).projection(doc! { "_id": 1 });
    let existing: Vec<Document> = match session.as_deref_mut() {
        Some(session) => crate::store::query::collect_in_session(find.session(&mut *session).await?, session).await?,
        None => futures::TryStreamExt::try_collect(find.await?).await?,
    };
    for marker in markers {
        if existing.iter().any(|found| found.get_str("_id").ok() == Some(marker.as_str())) {
            continue;
        }
        // Missing when the update ran: created at 1 (or, if a concurrent append created it
        // since, incremented).
        let upsert = collection.update_one(doc! { "_id": marker }, increment.clone()).upsert(true);
        match session.as_deref_mut() {
            Some(session) => upsert.session(session).await?,
            None => upsert.await?,
        };
    }
    Ok(())
}

/// The markers' versions (0 when missing), in the order given, in `on`.
pub(super) async fn read(
    collection: &mongodb::Collection<Document>,
    markers: &[Marker],
    on: crate::store::uow::On<'_>,
) -> Result<Vec<i64>> {
    let documents: Vec<Document> =
        crate::store::uow::collect_with_session!(collection.find(doc! { "_id": { "$in": markers } }), on)?;
    let found: Vec<(&str, i64)> = documents
        .iter()
        .filter_map(|document| {
            Some((document.get_str("_id").ok()?, crate::store::fields::int(document.get("version"))))
        })
        .collect();
    Ok(markers
        .iter()
        .map(|marker| found.iter().find(|(id, _)| *id == marker.as_str()).map_or(0, |(_, version)| *version))
        .collect())
}
