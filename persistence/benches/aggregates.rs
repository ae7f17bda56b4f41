//! The aggregate store against the raw driver doing the same reads and writes, on the same
//! server in the same run: prints the mean time per operation of each pair and the ratio
//! (goal ≤ 1.10).
//!
//! - `load`: the latest snapshot and the 20 events after it, decoded and folded; raw: the same
//!   `find_one` on `snapshots`, the same sorted `find` on `domain_events`, serde decoding of
//!   every payload and the same fold.
//! - `save`: 2 events and 1 outbox message in one transaction; raw: a session, the same probe
//!   `find` (event ids, expected version), the counter's `findAndModify`, `insert_many` of the
//!   two events in the legacy shape, `insert_many` of the message, commit.
//!
//! `bash scripts/bench-persistence.sh aggregates` builds and starts the Rust test server
//! (`secantusd-rs`) and runs this with `MONGODB_URI` set.

use bson::{DateTime, Document, doc};
use cqrs_mongo_persistence::aggregates::{EventSourced, Root, SnapshotPolicy};
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{AggregateStore, Alone, Connection, EventStore, Outbox, SnapshotStore};
use futures::TryStreamExt;
use mongodb::options::{FindOneAndUpdateOptions, ReturnDocument};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
    note: String,
}
cqrs_mongo_persistence::event!(Deposited, "Deposited");

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Audited {
    by: String,
}
cqrs_mongo_persistence::event!(Audited, "Audited");

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone)]
    enum AccountEvent {
        Deposited(Deposited),
        Audited(Audited),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Account {
    balance: i64,
    deposits: i64,
    audits: i64,
}

impl EventSourced for Account {
    type Event = AccountEvent;
    const AGGREGATE_TYPE: &'static str = "Account";
    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Deposited(d) => {
                self.balance += d.amount;
                self.deposits += 1;
            }
            AccountEvent::Audited(_) => self.audits += 1,
        }
    }
}

#[path = "support/pair.rs"]
mod pair;
use pair::{pair, report};

fn deposit(i: usize) -> Deposited {
    Deposited { amount: i as i64, note: format!("deposit number {i}") }
}

/// The raw fold: decode each payload by its type and apply it.
fn fold_raw(state: &mut Account, event: &Document) {
    let payload = event.get_document("payload").unwrap().clone();
    let decoded = match event.get_str("event_type").unwrap() {
        "Deposited" => AccountEvent::Deposited(bson::deserialize_from_document(payload).unwrap()),
        "Audited" => AccountEvent::Audited(bson::deserialize_from_document(payload).unwrap()),
        other => panic!("unknown {other}"),
    };
    state.apply(&decoded);
}

#[tokio::main]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("set MONGODB_URI (scripts/bench-persistence.sh starts a server)");
    let db = Connection::connect(&uri, "bench_aggregates", PoolOptions::default()).await.expect("connect");
    db.database().drop().await.expect("drop");
    let events = EventStore::new(&db);
    let mut indexes = EventStore::indexes();
    indexes.extend(Outbox::indexes());
    db.ensure_indexes(&indexes).await.expect("indexes");
    let snapshots = SnapshotStore::new(&db);
    println!("server: {uri}\n");

    // One account with a snapshot at version 10 and 20 events after it.
    let store = AggregateStore::<Account>::new(&db, &events).with_snapshots(&snapshots, SnapshotPolicy::every(10));
    let mut account = Root::<Account>::new("loaded");
    for i in 0..10 {
        account.record(deposit(i));
    }
    store.save(&mut account, Alone).await.unwrap();
    for i in 0..20 {
        account.record(deposit(i));
    }
    let plain = AggregateStore::<Account>::new(&db, &events);
    plain.save(&mut account, Alone).await.unwrap();
    assert_eq!(snapshots.latest("Account", "loaded", Alone).await.unwrap().unwrap().version, 10);

    let raw_snapshots = db.database().collection::<Document>("snapshots");
    let raw_events = db.database().collection::<Document>("domain_events");
    report(
        "load (snapshot + 20 events) vs find_one + find + fold",
        pair(
            200,
            async |_| {
                let loaded = store.load("loaded", Alone).await.unwrap().unwrap();
                assert_eq!(loaded.version(), 30);
            },
            async |_| {
                let snapshot = raw_snapshots.find_one(doc! { "_id": "Account|loaded" }).await.unwrap().unwrap();
                let mut state: Account =
                    bson::deserialize_from_document(snapshot.get_document("snapshot_data").unwrap().clone()).unwrap();
                let from = snapshot.get_i64("version").unwrap();
                let mut cursor = raw_events
                    .find(doc! { "aggregate_id": "loaded", "version": { "$gt": from } })
                    .sort(doc! { "version": 1 })
                    .await
                    .unwrap();
                let mut version = from;
                while let Some(event) = cursor.try_next().await.unwrap() {
                    fold_raw(&mut state, &event);
                    version = event.get_i64("version").unwrap();
                }
                assert_eq!(version, 30);
            },
        )
        .await,
    );

    // Saves: a new stream per iteration, 2 events, the first of them published.
    let outbox = Outbox::new(&db);
    let publishing = AggregateStore::<Account>::new(&db, &events)
        .with_outbox_when(&outbox, |event| matches!(event, AccountEvent::Deposited(_)));
    let raw_outbox = db.database().collection::<Document>("outbox_messages");
    let counters = db.database().collection::<Document>("counters");
    report(
        "save (2 events + 1 outbox message) vs raw transaction",
        pair(
            100,
            async |i| {
                let mut account = Root::<Account>::new(format!("ours-{i}"));
                account.record(deposit(i));
                account.record(Audited { by: "bench".into() });
                publishing.save(&mut account, Alone).await.unwrap();
            },
            async |i| {
                let stream = format!("raw-{i}");
                let ids = [bson::Uuid::new().to_string(), bson::Uuid::new().to_string()];
                let payloads = [
                    bson::serialize_to_document(&deposit(i)).unwrap(),
                    bson::serialize_to_document(&Audited { by: "bench".into() }).unwrap(),
                ];
                let mut session = db.client().start_session().await.unwrap();
                session.start_transaction().await.unwrap();
                let probe = doc! { "$or": [
                    { "_id": { "$in": [&ids[0], &ids[1]] } },
                    { "aggregate_id": &stream, "version": { "$in": [0_i64, 1_i64] } },
                ] };
                let found: Vec<Document> =
                    raw_events.find(probe).session(&mut session).await.unwrap().stream(&mut session).try_collect().await.unwrap();
                assert!(found.is_empty());
                let mut options = FindOneAndUpdateOptions::default();
                options.upsert = Some(true);
                options.return_document = Some(ReturnDocument::After);
                let counter = counters
                    .find_one_and_update(doc! { "_id": "domain_events_position" }, doc! { "$inc": { "value": 2 } })
                    .with_options(options)
                    .session(&mut session)
                    .await
                    .unwrap()
                    .unwrap();
                let last = match counter.get("value").unwrap() {
                    bson::Bson::Int32(v) => i64::from(*v),
                    other => other.as_i64().unwrap(),
                };
                let now = DateTime::now();
                let types = ["Deposited", "Audited"];
                let documents: Vec<Document> = (0..2)
                    .map(|k| {
                        doc! {
                            "_id": &ids[k], "event_type": types[k], "aggregate_id": &stream, "aggregate_type": "Account",
                            "version": k as i64 + 1, "schema_version": 1, "payload": payloads[k].clone(),
                            "metadata": {}, "occurred_at": now, "position": last - 1 + k as i64,
                        }
                    })
                    .collect();
                raw_events.insert_many(documents).session(&mut session).await.unwrap();
                let message = doc! {
                    "_id": &ids[0], "event_type": "Deposited", "payload": payloads[0].clone(), "metadata": {},
                    "status": "pending", "created_at": now, "retry_count": 0, "correlation_id": "",
                    "next_attempt_at": now, "fencing_token": 0_i64, "sequence": i as i64, "aggregate_id": &stream,
                };
                raw_outbox.insert_many([message]).session(&mut session).await.unwrap();
                session.commit_transaction().await.unwrap();
            },
        )
        .await,
    );
    let published = raw_outbox.count_documents(doc! {}).await.unwrap();
    let stored = raw_events.count_documents(doc! { "aggregate_type": "Account" }).await.unwrap();
    println!("\nstored {stored} account events and {published} outbox messages");
}
