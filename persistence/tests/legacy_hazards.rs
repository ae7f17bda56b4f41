//! What the README's "Sharing a database with the Python package" says about the limits of
//! sharing, checked: what the legacy side cannot honour (so it must run on one side only), and
//! how a Rust aggregate keeps fields only the Python model declares.

mod support;

use std::time::Duration;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::store::Version;
use cqrs_mongo_persistence::{Alone, JobQueue, Outbox, OutboxRelay, Repository};
use serde::{Deserialize, Serialize};
use support::legacy::{self, MINUTE, ago, legacy_pending, uuid};

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_publisher_would_resend_messages_a_rust_relay_holds() {
    let db = support::database("hazard_outbox").await;
    let outbox = Outbox::new(&db);
    outbox.save(&[OutboxMessage::new("m1", "Placed", doc! {}, "c")], Alone).await.unwrap();
    // The Rust relay holds m1 under its lease while it publishes...
    let relay = OutboxRelay::new(&outbox, "rust").lease_period(Duration::from_secs(600));
    let db_inner = db.clone();
    relay
        .run_once(move |message| {
            let db = db_inner.clone();
            async move {
                // ...and meanwhile the legacy `get_pending` returns it all the same.
                let pending = legacy_pending(&db).await;
                let ids: Vec<&str> = pending.iter().filter_map(|d| d.get_str("_id").ok()).collect();
                assert_eq!(ids, [message.message_id.as_str()], "legacy ignores the lease");
                Err("broker down".to_string())
            }
        })
        .await
        .unwrap();
    // Waiting for its backoff, it is still "pending" for the legacy publisher.
    let pending = legacy_pending(&db).await;
    assert_eq!(pending.len(), 1, "legacy ignores the backoff as well");
    assert!(pending[0].get_datetime("next_attempt_at").is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_legacy_claimer_took_is_never_recovered_by_the_rust_sweep() {
    let db = support::database("hazard_jobs").await;
    let mut job = legacy::background_job(&uuid(1), "send_email", ago(10 * MINUTE));
    // Legacy `claim_next_job`: RUNNING, started_at, worker_id, updated_at, retry_count + 1, no lease.
    job.insert("status", "RUNNING");
    job.insert("started_at", ago(9 * MINUTE));
    job.insert("worker_id", "legacy-worker-that-died");
    job.insert("updated_at", ago(9 * MINUTE));
    job.insert("retry_count", 1_i32);
    legacy::insert(&db, "background_jobs", vec![job]).await;
    let queue = JobQueue::new(&db).sweep_every(Duration::ZERO);
    for _ in 0..3 {
        assert!(queue.claim("rust", &["send_email"], Duration::from_secs(30)).await.unwrap().is_none());
    }
    let stored = legacy::stored(&db, "background_jobs", &uuid(1)).await;
    assert_eq!(stored.get_str("status").unwrap(), "RUNNING", "no lease, so no expired lease to sweep");
    // Reset by hand (the README's step): then Rust claims it.
    db.database()
        .collection::<Document>("background_jobs")
        .update_one(doc! { "_id": uuid(1) }, doc! { "$set": { "status": "PENDING" } })
        .await
        .unwrap();
    let claimed = queue.claim("rust", &["send_email"], Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!((claimed.id, claimed.attempt), (uuid(1), 2), "the legacy claim counted as an attempt");
}

/// A Rust model of a Python aggregate that declares fewer fields: `rest` carries the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Customer {
    id: String,
    name: String,
    #[serde(default)]
    version: Version,
    #[serde(flatten)]
    rest: Document,
}
cqrs_mongo_persistence::aggregate!(Customer, "customers", String);

/// The same model without it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NarrowCustomer {
    id: String,
    name: String,
    #[serde(default)]
    version: Version,
}
cqrs_mongo_persistence::aggregate!(NarrowCustomer, "narrow_customers", String);

#[tokio::test(flavor = "multi_thread")]
async fn fields_only_the_python_model_declares_survive_a_rust_save_through_a_flattened_document() {
    let db = support::database("hazard_fields").await;
    let python = |collection: &str| {
        let document = doc! {
            "_id": "c1", "name": "Ada", "loyalty": { "tier": "gold", "points": 120_i32 },
            "tags": ["a", "b"], "deleted_at": Bson::Null, "version": 1_i32,
        };
        (collection.to_owned(), document)
    };
    for (collection, document) in [python("customers"), python("narrow_customers")] {
        legacy::insert(&db, &collection, vec![document]).await;
    }
    let customers = Repository::<Customer>::new(&db);
    let mut customer = customers.get(&"c1".to_string(), Alone).await.unwrap().unwrap();
    customer.name = "Ada L.".into();
    customers.save(&mut customer, Alone).await.unwrap();
    let stored = legacy::stored(&db, "customers", "c1").await;
    assert_eq!(stored.get_str("name").unwrap(), "Ada L.");
    assert_eq!(stored.get_document("loyalty").unwrap(), &doc! { "tier": "gold", "points": 120_i32 });
    assert_eq!(stored.get_array("tags").unwrap().len(), 2);
    assert_eq!(stored.get("deleted_at"), Some(&Bson::Null));
    assert!(stored.get("id").is_none(), "the id stays in `_id`");

    // Without it a save replaces the document with what the Rust model declares.
    let narrow = Repository::<NarrowCustomer>::new(&db);
    let mut customer = narrow.get(&"c1".to_string(), Alone).await.unwrap().unwrap();
    narrow.save(&mut customer, Alone).await.unwrap();
    let stored = legacy::stored(&db, "narrow_customers", "c1").await;
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["_id", "name", "version"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_without_schema_version_reads_as_version_one_as_the_legacy_reader_does() {
    let (db, store) = support::runner::setup("hazard_schema_version").await;
    let mut event = legacy::domain_event(&uuid(7), "s1", 1, 1, ago(MINUTE));
    event.remove("schema_version");
    legacy::insert(&db, "domain_events", vec![event]).await;
    legacy::insert(&db, "counters", vec![legacy::position_counter(1)]).await;
    let read = store.read_stream("s1", 0, None, Alone).await.unwrap();
    assert_eq!(read[0].schema_version, 1);
}
