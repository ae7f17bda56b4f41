//! `ensure_indexes` on the real test server.

mod support;

use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::Error;
use cqrs_mongo_persistence::store::{IndexSpec, Version};

fn declared() -> Vec<IndexSpec> {
    vec![
        IndexSpec::new("domain_events", doc! { "aggregate_id": 1, "version": 1 }).unique(),
        IndexSpec::new("outbox_messages", doc! { "status": 1, "created_at": 1 }),
        IndexSpec::new("jobs", doc! { "finished_at": 1 }).expire_after(Duration::from_secs(86_400)),
        IndexSpec::new("jobs", doc! { "dedup_key": 1 })
            .unique()
            .partial(doc! { "status": { "$in": ["PENDING", "RUNNING"] } }),
        IndexSpec::new("places", doc! { "location": "2dsphere" }),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn ensure_indexes_creates_then_is_a_no_op() {
    let db = support::database("ensure_indexes").await;
    let first = db.ensure_indexes(&declared()).await.unwrap();
    assert_eq!(first.created.len(), 5, "{first:?}");
    assert!(first.unchanged.is_empty());
    let second = db.ensure_indexes(&declared()).await.unwrap();
    assert!(second.created.is_empty(), "{second:?}");
    assert_eq!(second.unchanged.len(), 5);
    let names = db.database().collection::<bson::Document>("domain_events").list_index_names().await.unwrap();
    assert!(names.contains(&"aggregate_id_1_version_1".to_string()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_with_the_same_name_and_other_options_is_a_conflict() {
    let db = support::database("index_conflict").await;
    db.ensure_indexes(&[IndexSpec::new("events", doc! { "aggregate_id": 1, "version": 1 })]).await.unwrap();
    let err = db
        .ensure_indexes(&[IndexSpec::new("events", doc! { "aggregate_id": 1, "version": 1 }).unique()])
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::IndexConflict { name, .. } if name == "aggregate_id_1_version_1"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_unique_index_turns_a_second_writer_into_a_duplicate_key() {
    let db = support::database("unique_index").await;
    db.ensure_indexes(&declared()[..1]).await.unwrap();
    let events = db.database().collection::<bson::Document>("domain_events");
    events.insert_one(doc! { "aggregate_id": "a", "version": 1 }).await.unwrap();
    let err = events.insert_one(doc! { "aggregate_id": "a", "version": 1 }).await.unwrap_err();
    assert!(err.to_string().contains("11000") || err.to_string().to_lowercase().contains("duplicate"), "{err}");
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Note {
    id: String,
    author: String,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Note, "notes", String);

#[tokio::test(flavor = "multi_thread")]
async fn repositories_declare_their_indexes() {
    let db = support::database("repository_indexes").await;
    let repo = cqrs_mongo_persistence::Repository::<Note>::new(&db).with_index(doc! { "author": 1 }, |i| i);
    let report = db.ensure_indexes(repo.indexes()).await.unwrap();
    assert_eq!(report.created, ["notes.author_1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_duplicates_make_the_unique_indexes_fail_until_they_are_resolved() {
    use cqrs_mongo_persistence::{EventStore, SagaRepository};
    let db = support::database("indexes_legacy_duplicates").await;
    // The legacy event store had no unique (aggregate_id, version): two writers could both store
    // version 1 of a stream.
    let events = db.database().collection::<bson::Document>("domain_events");
    for (id, position) in [("e1", 1), ("e2", 2)] {
        let event = doc! { "_id": id, "aggregate_id": "a", "version": 1, "position": position, "event_type": "Placed" };
        events.insert_one(event).await.unwrap();
    }
    let err = db.ensure_indexes(&EventStore::indexes()).await.unwrap_err();
    assert!(err.to_string().contains("E11000") || err.to_string().contains("duplicate"), "{err}");
    events.delete_one(doc! { "_id": "e2" }).await.unwrap();
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();

    // Sagas: duplicate real correlation ids fail; any number of null ones do not.
    let sagas = db.database().collection::<bson::Document>("sagas");
    for (id, correlation) in
        [("s1", bson::Bson::Null), ("s2", bson::Bson::Null), ("s3", "c".into()), ("s4", "c".into())]
    {
        sagas
            .insert_one(doc! { "_id": id, "saga_type": "T", "status": "RUNNING", "correlation_id": correlation })
            .await
            .unwrap();
    }
    assert!(db.ensure_indexes(&SagaRepository::indexes()).await.is_err(), "two sagas share T/c");
    sagas.delete_one(doc! { "_id": "s4" }).await.unwrap();
    db.ensure_indexes(&SagaRepository::indexes()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_call_ensures_the_indexes_of_every_store_and_loop_named_each_once() {
    use cqrs_mongo_persistence::store::Indexed;
    use cqrs_mongo_persistence::{
        DeadLetters, EventStore, JobQueue, Outbox, PositionStore, ProjectionRunner, SagaRepository, SnapshotStore,
    };
    let db = support::database("ensure_indexes_of").await;
    let (events, outbox, jobs, sagas) =
        (EventStore::new(&db), Outbox::new(&db), JobQueue::new(&db), SagaRepository::new(&db));
    let runner = ProjectionRunner::new(&db, &events, support::runner::Counts::new("indexed", "ix_"));
    let own = vec![IndexSpec::new("places", doc! { "location": "2dsphere" })];
    let (snapshots, positions) = (SnapshotStore::new(&db), PositionStore::new(&db));
    let owners: [&dyn Indexed; 8] = [&events, &outbox, &jobs, &sagas, &runner, &own, &snapshots, &positions];

    // The runner brings the event store's indexes again (named once), its projection's and
    // those of dead_letters, where it parks events.
    let expected: Vec<IndexSpec> = [
        EventStore::indexes(),
        Outbox::indexes(),
        JobQueue::indexes(),
        SagaRepository::indexes(),
        vec![IndexSpec::new("ix_streams", doc! { "last_version": 1 })],
        DeadLetters::indexes(),
        own.clone(),
    ]
    .concat();
    let first = db.ensure_indexes_of(&owners).await.unwrap();
    let labels: Vec<String> = expected.iter().map(|spec| format!("{}.{}", spec.collection, spec.name)).collect();
    assert_eq!(first.created, labels);
    let dead_letters = db.database().collection::<bson::Document>("dead_letters").list_index_names().await.unwrap();
    assert!(dead_letters.contains(&"subscription_1_status_1_position_1".to_owned()), "{dead_letters:?}");

    let again = db.ensure_indexes_of(&owners).await.unwrap();
    assert!(again.created.is_empty(), "{again:?}");
    assert_eq!(again.unchanged, labels);
}
