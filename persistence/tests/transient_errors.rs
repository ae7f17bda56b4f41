//! Transient transaction errors injected with `configureFailPoint` (`failCommand`) are retried
//! by `transaction` and the data is written exactly once.
//!
//! A failpoint is server-wide, and this test server does not apply failCommand's `appName`
//! filter to this driver's clients, so these tests live in their own test binary (with their
//! own server) and take turns.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bson::doc;
use cqrs_mongo_persistence::store::Version;
use cqrs_mongo_persistence::{Alone, Error, Repository};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    id: String,
    balance: i64,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Account, "accounts", String);

fn account(id: &str, balance: i64) -> Account {
    Account { id: id.into(), balance, version: Version::default() }
}

/// Arms `failCommand` once for `command` with the given error labels.
async fn fail_once(db: &cqrs_mongo_persistence::Connection, command: &str, labels: &[&str]) {
    db.client()
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": { "times": 1 },
            "data": { "failCommands": [command], "errorCode": 112, "errorLabels": labels },
        })
        .await
        .expect("configureFailPoint (the server must run with --enable-test-commands)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_error_on_insert_is_retried_and_written_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("transient_insert").await;
    let repo = Repository::<Account>::new(&db);
    let attempts = Arc::new(AtomicUsize::new(0));
    fail_once(&db, "insert", &["TransientTransactionError"]).await;
    db.transaction(async |uow| {
        attempts.fetch_add(1, Ordering::SeqCst);
        repo.save(&mut account("a", 1), uow).await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the whole callback ran again");
    assert_eq!(repo.collection().count_documents(doc! {}).await.unwrap(), 1, "written exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_error_on_commit_is_retried_and_written_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("transient_commit").await;
    let repo = Repository::<Account>::new(&db);
    fail_once(&db, "commitTransaction", &["TransientTransactionError"]).await;
    let ran = Arc::new(AtomicUsize::new(0));
    db.transaction(async |uow| {
        repo.save(&mut account("a", 1), uow).await?;
        let counter = ran.clone();
        uow.after_commit(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(repo.collection().count_documents(doc! {}).await.unwrap(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "hooks of the committed attempt ran once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_commit_leaves_no_partial_events_or_outbox_rows() {
    use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
    use cqrs_mongo_persistence::outbox::OutboxMessage;
    use cqrs_mongo_persistence::{EventStore, Outbox};
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("failed_commit").await;
    let events = EventStore::new(&db);
    let outbox = Outbox::new(&db);
    let repo = Repository::<Account>::new(&db);
    let uow = db.begin().await.unwrap();
    repo.save(&mut account("a", 1), &uow).await.unwrap();
    let stream = Stream { aggregate_id: "a", aggregate_type: "Account" };
    events.append(stream, ExpectedVersion::NoStream, &[NewEvent::new("e1", "Opened", doc! {})], &uow).await.unwrap();
    outbox.save(&[OutboxMessage::new("m1", "Opened", doc! {}, "c")], &uow).await.unwrap();
    // A non-transient failure of commitTransaction (no retry label).
    db.client()
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand", "mode": { "times": 1 },
            "data": { "failCommands": ["commitTransaction"], "errorCode": 8 },
        })
        .await
        .unwrap();
    assert!(uow.commit().await.is_err());
    for collection in ["accounts", "domain_events", "outbox_messages"] {
        let count = db.database().collection::<bson::Document>(collection).count_documents(doc! {}).await.unwrap();
        assert_eq!(count, 0, "{collection} holds nothing of the failed commit");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn grouped_appends_survive_a_transient_error_and_share_a_failed_commit() {
    use cqrs_mongo_persistence::EventStore;
    use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("grouped_failures").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);
    let append = |store: &EventStore, id: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let stream = Stream { aggregate_id: id, aggregate_type: "Account" };
            store.append(stream, ExpectedVersion::NoStream, &[NewEvent::new(id, "Opened", doc! {})], Alone).await
        })
    };
    // A transient error on the batch's insert: the batch transaction runs again, once.
    fail_once(&db, "insert", &["TransientTransactionError"]).await;
    let (a, b) = (append(&store, "a"), append(&store, "b"));
    let mut positions = [a.await.unwrap().unwrap(), b.await.unwrap().unwrap()].concat();
    positions.sort();
    assert_eq!(positions, [1, 2], "both appended once, no position lost to the retry");

    // A commit that fails for good: every append of the batch gets the error, nothing is stored.
    db.client()
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand", "mode": { "times": 1 },
            "data": { "failCommands": ["commitTransaction"], "errorCode": 8 },
        })
        .await
        .unwrap();
    let failed = append(&store, "c").await.unwrap();
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(store.latest_position().await.unwrap(), 2, "the failed batch took no position");
    assert!(store.read_stream("c", 0, None, Alone).await.unwrap().is_empty());
    // The store keeps working after the failure, and the stream can still be started.
    assert_eq!(append(&store, "c").await.unwrap().unwrap(), [3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_callback_saves_again_the_aggregates_it_saved_before_the_retry() {
    use cqrs_mongo_persistence::EventStore;
    use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, Stream};
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("transient_retry_versions").await;
    let repo = Repository::<Account>::new(&db);
    let events = EventStore::new(&db);
    repo.save(&mut account("old", 1), Alone).await.unwrap();
    let mut fresh = account("new", 1);
    let mut stored = repo.get(&"old".to_string(), Alone).await.unwrap().unwrap();
    let attempts = AtomicUsize::new(0);
    // The append's counter update fails once after both saves succeeded: the driver runs the
    // whole callback again with the same two aggregates.
    fail_once(&db, "findAndModify", &["TransientTransactionError"]).await;
    db.transaction(async |uow| {
        attempts.fetch_add(1, Ordering::SeqCst);
        repo.save(&mut fresh, uow).await?;
        stored.balance += 1;
        repo.save(&mut stored, uow).await?;
        let stream = Stream { aggregate_id: "new", aggregate_type: "Account" };
        events.append(stream, ExpectedVersion::NoStream, &[NewEvent::new("e1", "Opened", doc! {})], uow).await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the callback ran again");
    assert_eq!((fresh.version.get(), stored.version.get()), (1, 2));
    assert_eq!(repo.get(&"new".to_string(), Alone).await.unwrap().unwrap().version, 1);
    let old = repo.get(&"old".to_string(), Alone).await.unwrap().unwrap();
    assert_eq!((old.version.get(), old.balance), (2, 3), "the retried attempt's change (balance + 1 twice)");

    // The same when the commit itself fails transiently.
    fail_once(&db, "commitTransaction", &["TransientTransactionError"]).await;
    let mut again = old;
    db.transaction(async |uow| repo.save(&mut again, uow).await).await.unwrap();
    assert_eq!(repo.get(&"old".to_string(), Alone).await.unwrap().unwrap().version, 3);
    assert_eq!(again.version, 3);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
}
cqrs_mongo_persistence::event!(Deposited, "Deposited");

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone, PartialEq)]
    enum LedgerEvent {
        Deposited(Deposited),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    balance: i64,
}

impl cqrs_mongo_persistence::aggregates::EventSourced for Ledger {
    type Event = LedgerEvent;
    const AGGREGATE_TYPE: &'static str = "Ledger";
    fn apply(&mut self, event: &LedgerEvent) {
        let LedgerEvent::Deposited(deposited) = event;
        self.balance += deposited.amount;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aggregate_save_retried_after_a_transient_commit_error_stores_its_events_and_messages_once() {
    use cqrs_mongo_persistence::AggregateStore;
    use cqrs_mongo_persistence::aggregates::Root;
    use cqrs_mongo_persistence::{EventStore, Outbox};
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("transient_aggregate").await;
    let events = EventStore::new(&db);
    let store = AggregateStore::<Ledger>::new(&db, &events).with_outbox(&Outbox::new(&db));
    let mut ledger = Root::<Ledger>::new("l1");
    ledger.record(Deposited { amount: 5 });
    ledger.record(Deposited { amount: 7 });
    fail_once(&db, "commitTransaction", &["TransientTransactionError"]).await;
    let attempts = AtomicUsize::new(0);
    db.transaction(async |uow| {
        attempts.fetch_add(1, Ordering::SeqCst);
        store.save(&mut ledger, uow).await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the whole callback ran again");
    assert_eq!((ledger.version(), ledger.pending().len()), (2, 0), "the retry saved the same two events");
    let count =
        async |name: &str| db.database().collection::<bson::Document>(name).count_documents(doc! {}).await.unwrap();
    assert_eq!((count("domain_events").await, count("outbox_messages").await), (2, 2));
    let loaded = store.load("l1", Alone).await.unwrap().unwrap();
    assert_eq!((loaded.balance, loaded.version()), (12, 2));
}

/// The caller's own error type: a domain refusal, or a store error it kept only as text.
#[derive(Debug, PartialEq)]
enum Refusal {
    Overdrawn,
    Store(String),
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        Refusal::Store(err.to_string())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_store_error_turned_into_the_callers_error_is_still_retried() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("transient_as_own_error").await;
    let repo = Repository::<Account>::new(&db);
    let attempts = Arc::new(AtomicUsize::new(0));
    fail_once(&db, "insert", &["TransientTransactionError"]).await;
    let saved: Result<i64, Refusal> = db
        .transaction(async |uow| {
            attempts.fetch_add(1, Ordering::SeqCst);
            // The store error is mapped into the caller's type, which keeps no label.
            repo.save(&mut account("a", 1), uow).await.map_err(|err| Refusal::Store(err.to_string()))?;
            Ok(1)
        })
        .await;
    assert_eq!(saved, Ok(1));
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the unit of work noted the transient error itself");
    assert_eq!(repo.collection().count_documents(doc! {}).await.unwrap(), 1, "written exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_error_aborts_at_once_and_comes_back_as_it_is() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = support::database("domain_error").await;
    let repo = Repository::<Account>::new(&db);
    let attempts = Arc::new(AtomicUsize::new(0));
    let refused: Result<(), Refusal> = db
        .transaction(async |uow| {
            attempts.fetch_add(1, Ordering::SeqCst);
            repo.save(&mut account("a", 1), uow).await?;
            Err(Refusal::Overdrawn)
        })
        .await;
    assert_eq!(refused, Err(Refusal::Overdrawn));
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(repo.collection().count_documents(doc! {}).await.unwrap(), 0, "the save was rolled back");
}
