//! Documents exactly as the legacy Python package (`cqrs-ddd-persistence-mongo`) writes them,
//! and what its readers accept back.
//!
//! Python `None` is BSON null, datetimes are BSON DateTime, ints are Int32 (pymongo stores an
//! int that fits in 32 bits as Int32), dicts are sub-documents. Each builder names the legacy
//! code that writes the document.

use bson::{Bson, DateTime, Document, doc};
use std::sync::{Arc, Mutex};

use cqrs_mongo_persistence::outbox::{ClaimedMessage, RelayReport};
use cqrs_mongo_persistence::{Connection, OutboxRelay};

/// A minute in milliseconds.
pub const MINUTE: i64 = 60_000;

/// A time `ms` milliseconds before now (the legacy package stamps `datetime.now(timezone.utc)`).
pub fn ago(ms: i64) -> DateTime {
    DateTime::from_millis(DateTime::now().timestamp_millis() - ms)
}

/// A `str(uuid.uuid4())`-shaped id, distinct per `n`.
pub fn uuid(n: u32) -> String {
    format!("6d1f0c3e-8a4b-4c55-9d0e-{n:012}")
}

/// Inserts `documents` into `name` as they are.
pub async fn insert(db: &Connection, name: &str, documents: Vec<Document>) {
    db.database().collection::<Document>(name).insert_many(documents).await.expect("insert the legacy documents");
}

/// The stored document with this `_id`.
pub async fn stored(db: &Connection, name: &str, id: &str) -> Document {
    db.database()
        .collection::<Document>(name)
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{name}/{id} stored"))
}

/// `MongoOutboxStorage.save_messages`: a pending message, never published or failed.
pub fn outbox_message(id: &str, created_at: DateTime, correlation_id: Option<&str>) -> Document {
    doc! {
        "_id": id,
        "event_type": "OrderPlaced",
        "payload": { "order_id": "o-1", "total": 250 },
        "metadata": { "source": "legacy" },
        "status": "pending",
        "created_at": created_at,
        "published_at": Bson::Null,
        "retry_count": 0_i32,
        "error": Bson::Null,
        "correlation_id": correlation_id,
        "causation_id": Bson::Null,
    }
}

/// Runs one relay round, returning the report and the messages handed to `publish`.
pub async fn relay_round(relay: &OutboxRelay, fail_with: Option<&str>) -> (RelayReport, Vec<ClaimedMessage>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let outcome = fail_with.map(str::to_owned);
    let report = relay
        .run_once(|m: ClaimedMessage| {
            seen.lock().unwrap().push(m);
            let outcome = outcome.clone();
            async move { outcome.map_or(Ok(()), Err) }
        })
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    (report, seen)
}

/// What legacy `get_pending` returns: pending messages by creation time.
pub async fn legacy_pending(db: &Connection) -> Vec<Document> {
    use futures::TryStreamExt;
    let messages = db.database().collection::<Document>("outbox_messages");
    let found = messages.find(doc! { "status": "pending" }).sort(doc! { "created_at": 1 }).await.unwrap();
    found.try_collect().await.unwrap()
}

/// `BaseBackgroundJob.create(job_type=..., metadata={"to": "a@b.c"})` saved by
/// `MongoRepository.add` (an insert with `version: 1`).
pub fn background_job(id: &str, job_type: &str, created_at: DateTime) -> Document {
    doc! {
        "_id": id,
        "job_type": job_type,
        "status": "PENDING",
        "total_items": 0_i32,
        "processed_items": 0_i32,
        "result_data": {},
        "error_message": Bson::Null,
        "broker_message_id": Bson::Null,
        "retry_count": 0_i32,
        "max_retries": 3_i32,
        "created_at": created_at,
        "updated_at": created_at,
        "metadata": { "to": "a@b.c" },
        "correlation_id": Bson::Null,
        "version": 1_i32,
    }
}

/// A `SagaState` saved by `MongoRepository.add` (`version: 1`), with one recorded step and one
/// processed event.
pub fn saga_state(
    id: &str,
    status: &str,
    correlation_id: Option<&str>,
    updated_at: DateTime,
    timeout_at: Option<DateTime>,
) -> Document {
    let created_at = DateTime::from_millis(updated_at.timestamp_millis() - 60_000);
    doc! {
        "_id": id,
        "state_version": 1_i32,
        "saga_type": "OrderSaga",
        "status": status,
        "current_step": "init",
        "step_history": [
            { "step_name": "init", "event_type": "OrderCreated", "occurred_at": created_at, "metadata": {} },
        ],
        "tcc_steps": [],
        "processed_event_ids": [uuid(900)],
        "pending_commands": [],
        "compensation_stack": [],
        "failed_compensations": [],
        "suspended_at": Bson::Null,
        "suspension_reason": Bson::Null,
        "timeout_at": timeout_at,
        "retry_count": 0_i32,
        "max_retries": 3_i32,
        "error": Bson::Null,
        "completed_at": Bson::Null,
        "failed_at": Bson::Null,
        "correlation_id": correlation_id,
        "metadata": { "order_id": "o-1" },
        "created_at": created_at,
        "updated_at": updated_at,
        "version": 1_i32,
    }
}

/// The legacy sagas of the saga tests: two without a correlation id, one with.
pub fn sagas_fixture() -> Vec<Document> {
    vec![
        saga_state(&uuid(70), "RUNNING", None, ago(30 * MINUTE), None),
        saga_state(&uuid(71), "RUNNING", None, ago(20 * MINUTE), None),
        saga_state(&uuid(72), "RUNNING", Some("order-1"), ago(10 * MINUTE), None),
    ]
}

/// The fields the saga store owns; the rest of a legacy document is the saga's state.
pub const SAGA_OWNED: [&str; 8] =
    ["_id", "saga_type", "correlation_id", "status", "version", "created_at", "updated_at", "timeout_at"];

/// `MongoEventStore.append` of an `OrderPlaced` event of an `Order` stream, without a
/// correlation or causation id (both null).
pub fn domain_event(id: &str, aggregate_id: &str, version: i32, position: i32, occurred_at: DateTime) -> Document {
    doc! {
        "_id": id,
        "event_type": "OrderPlaced",
        "aggregate_id": aggregate_id,
        "aggregate_type": "Order",
        "version": version,
        "schema_version": 1_i32,
        "payload": { "n": version },
        "metadata": {},
        "occurred_at": occurred_at,
        "correlation_id": Bson::Null,
        "causation_id": Bson::Null,
        "position": position,
    }
}

/// The legacy position counter after `value` appends (`$inc` by 1 with upsert: an Int32).
pub fn position_counter(value: i32) -> Document {
    doc! { "_id": "domain_events_position", "value": value }
}

/// `MongoSnapshotStore.save_snapshot`.
pub fn snapshot(aggregate_type: &str, aggregate_id: &str, version: i32, data: Document, at: DateTime) -> Document {
    doc! { "_id": format!("{aggregate_type}|{aggregate_id}"), "snapshot_data": data, "version": version, "created_at": at }
}

/// `MongoCheckpointStore.save_position`.
pub fn checkpoint(projection: &str, position: i32, at: DateTime) -> Document {
    doc! { "_id": projection, "position": position, "updated_at": at }
}

/// What a legacy reader accepts in a field.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `str`.
    Str,
    /// `str | None`.
    OptStr,
    /// `int` (Int32 or Int64).
    Int,
    /// `dict`.
    Dict,
    /// `list`.
    List,
    /// `datetime`.
    Date,
    /// `datetime | None`.
    OptDate,
    /// An enum of these values.
    OneOf(&'static [&'static str]),
}

/// A field a legacy reader reads: its name, what it accepts, and whether it must be present
/// (`doc["x"]` in the reader, or a field whose default would misread the document).
pub type Read = (&'static str, Kind, bool);

/// `MongoOutboxStorage.get_pending` (and the `status` its queries match).
pub const OUTBOX_READER: &[Read] = &[
    ("_id", Kind::Str, true),
    ("event_type", Kind::Str, true),
    ("payload", Kind::Dict, true),
    ("created_at", Kind::Date, true),
    ("status", Kind::OneOf(&["pending", "published", "failed"]), true),
    ("metadata", Kind::Dict, false),
    ("published_at", Kind::OptDate, false),
    ("error", Kind::OptStr, false),
    ("retry_count", Kind::Int, false),
    ("correlation_id", Kind::OptStr, false),
    ("causation_id", Kind::OptStr, false),
];

/// `BaseBackgroundJob` validated by `MongoDBModelMapper.from_doc`.
pub const JOB_READER: &[Read] = &[
    ("_id", Kind::Str, true),
    ("job_type", Kind::Str, true),
    ("status", Kind::OneOf(&["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]), true),
    ("total_items", Kind::Int, false),
    ("processed_items", Kind::Int, false),
    ("result_data", Kind::Dict, false),
    ("error_message", Kind::OptStr, false),
    ("broker_message_id", Kind::OptStr, false),
    ("retry_count", Kind::Int, true),
    ("max_retries", Kind::Int, true),
    ("created_at", Kind::Date, true),
    ("updated_at", Kind::Date, true),
    ("metadata", Kind::Dict, false),
    ("correlation_id", Kind::OptStr, false),
    ("version", Kind::Int, true),
];

/// `SagaState` validated by `MongoDBModelMapper.from_doc` (and `version`, which
/// `MongoRepository.add` matches on).
pub const SAGA_READER: &[Read] = &[
    ("_id", Kind::Str, true),
    ("state_version", Kind::Int, false),
    ("saga_type", Kind::Str, true),
    (
        "status",
        Kind::OneOf(&["PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "FAILED", "COMPENSATING", "COMPENSATED"]),
        true,
    ),
    ("current_step", Kind::Str, false),
    ("step_history", Kind::List, false),
    ("tcc_steps", Kind::List, false),
    ("processed_event_ids", Kind::List, false),
    ("pending_commands", Kind::List, false),
    ("compensation_stack", Kind::List, false),
    ("failed_compensations", Kind::List, false),
    ("suspended_at", Kind::OptDate, false),
    ("suspension_reason", Kind::OptStr, false),
    ("timeout_at", Kind::OptDate, false),
    ("retry_count", Kind::Int, false),
    ("max_retries", Kind::Int, false),
    ("error", Kind::OptStr, false),
    ("completed_at", Kind::OptDate, false),
    ("failed_at", Kind::OptDate, false),
    ("correlation_id", Kind::OptStr, false),
    ("metadata", Kind::Dict, false),
    ("created_at", Kind::Date, true),
    ("updated_at", Kind::Date, true),
    ("version", Kind::Int, true),
];

/// `MongoEventStore._doc_to_stored_event` (and `get_latest_position`, which reads `position`).
pub const EVENT_READER: &[Read] = &[
    ("_id", Kind::Str, true),
    ("event_type", Kind::Str, true),
    ("aggregate_id", Kind::Str, true),
    ("aggregate_type", Kind::Str, true),
    ("version", Kind::Int, true),
    ("payload", Kind::Dict, true),
    ("occurred_at", Kind::Date, true),
    ("schema_version", Kind::Int, false),
    ("metadata", Kind::Dict, false),
    ("correlation_id", Kind::OptStr, false),
    ("causation_id", Kind::OptStr, false),
    ("position", Kind::Int, true),
];

/// `MongoSnapshotStore.get_latest_snapshot`.
pub const SNAPSHOT_READER: &[Read] = &[
    ("_id", Kind::Str, true),
    ("snapshot_data", Kind::Dict, true),
    ("version", Kind::Int, true),
    ("created_at", Kind::Date, true),
];

/// `MongoCheckpointStore.get_position`.
pub const CHECKPOINT_READER: &[Read] =
    &[("_id", Kind::Str, true), ("position", Kind::Int, true), ("updated_at", Kind::Date, false)];

fn accepts(kind: Kind, value: &Bson) -> bool {
    match (kind, value) {
        (Kind::Str | Kind::OptStr, Bson::String(_))
        | (Kind::Int, Bson::Int32(_) | Bson::Int64(_))
        | (Kind::Dict, Bson::Document(_))
        | (Kind::List, Bson::Array(_))
        | (Kind::Date | Kind::OptDate, Bson::DateTime(_))
        | (Kind::OptStr | Kind::OptDate, Bson::Null) => true,
        (Kind::OneOf(values), Bson::String(s)) => values.contains(&s.as_str()),
        _ => false,
    }
}

/// Asserts the legacy reader `reader` reads `document` (of `what`): required fields present,
/// every field it reads of a type it accepts.
pub fn assert_legacy_reads(what: &str, document: &Document, reader: &[Read]) {
    for (field, kind, required) in reader {
        match document.get(field) {
            None => assert!(!required, "{what}: the legacy reader needs {field:?}, missing in {document:?}"),
            Some(value) => {
                assert!(accepts(*kind, value), "{what}: the legacy reader reads {field:?} as {kind:?}, got {value:?}")
            }
        }
    }
}

/// An integer field as `i64`, failing on any other type (the legacy reader needs an `int`).
pub fn int(document: &Document, field: &str) -> i64 {
    match document.get(field) {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        other => panic!("{field} is {other:?}, not an integer"),
    }
}

/// A DateTime field, failing on any other type.
pub fn date(document: &Document, field: &str) -> DateTime {
    match document.get(field) {
        Some(Bson::DateTime(at)) => *at,
        other => panic!("{field} is {other:?}, not a BSON DateTime"),
    }
}

/// Asserts `field` is stored and null (not missing), as the legacy package writes `None`.
pub fn assert_null(document: &Document, field: &str) {
    assert_eq!(document.get(field), Some(&Bson::Null), "{field} stays an explicit null");
}

/// Asserts every field of the legacy `fixture` except `changed` is stored unchanged in
/// `stored`, with its BSON type (Int32 stays Int32, null stays null).
pub fn assert_kept(what: &str, stored: &Document, fixture: &Document, changed: &[&str]) {
    for (field, value) in fixture {
        if !changed.contains(&field.as_str()) {
            assert_eq!(stored.get(field), Some(value), "{what}: legacy field {field:?} kept, with its type");
        }
    }
}
