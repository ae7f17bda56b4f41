//! `cqrs-mongo indexes ensure` on the real test server: the generic binary registers no
//! projection, so it ensures the built-in stores' indexes and nothing else.

mod support;

use bson::Document;
use cqrs_mongo_persistence::store::IndexSpec;
use cqrs_mongo_persistence::{DeadLetters, EventStore, JobQueue, Outbox, SagaRepository};

fn declared() -> Vec<IndexSpec> {
    [EventStore::indexes(), Outbox::indexes(), SagaRepository::indexes(), JobQueue::indexes(), DeadLetters::indexes()]
        .concat()
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_ensure_creates_every_declared_index_then_finds_them_present() {
    let test = "cli_indexes_ensure";
    let db = support::database(test).await;
    let specs = declared();
    assert!(specs.len() >= 11, "every store declares indexes");
    for spec in &specs {
        let names = db.database().collection::<Document>(&spec.collection).list_index_names().await.unwrap_or_default();
        assert!(!names.contains(&spec.name), "{} exists before the command", spec.name);
    }

    let stdout = support::stdout_ok(&support::run(test, &["indexes", "ensure"]).await);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), specs.len() + 1, "{stdout}");
    assert!(lines.iter().take(specs.len()).all(|l| l.starts_with("created  ")), "{stdout}");
    assert_eq!(lines[specs.len()], format!("{} created, 0 already present", specs.len()));
    assert!(stdout.contains("created  event store  ") && stdout.contains("domain_events.aggregate_id_1_version_1"));
    // Where every runner and subscription parks events: listed like any other store.
    assert!(stdout.contains("created  dead letters  dead_letters.subscription_1_status_1_position_1"), "{stdout}");
    assert!(!stdout.contains("projection"), "no projection is registered: {stdout}");
    for spec in &specs {
        let names = db.database().collection::<Document>(&spec.collection).list_index_names().await.unwrap();
        assert!(names.contains(&spec.name), "{}.{} was not created: {names:?}", spec.collection, spec.name);
    }
    // The options came along: the event store's stream index is unique.
    let unique = db.database().collection::<Document>("domain_events").list_indexes().await.unwrap();
    let indexes: Vec<_> = futures::TryStreamExt::try_collect(unique).await.unwrap();
    let stream_index = indexes
        .iter()
        .find(|i| i.options.as_ref().and_then(|o| o.name.as_deref()) == Some("aggregate_id_1_version_1"))
        .unwrap();
    assert_eq!(stream_index.options.as_ref().unwrap().unique, Some(true));

    // Idempotent: a second run creates nothing.
    let again = support::stdout_ok(&support::run(test, &["indexes", "ensure"]).await);
    assert!(again.lines().take(specs.len()).all(|l| l.starts_with("present  ")), "{again}");
    assert!(again.ends_with(&format!("0 created, {} already present\n", specs.len())), "{again}");
}
