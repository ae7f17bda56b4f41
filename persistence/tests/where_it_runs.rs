//! "Where it runs" is total: the store operations on application data that used to run only on
//! their own now take `on`, and with a unit of work they run inside its transaction: a read sees
//! the unit's own writes before the commit (a read alone does not), and a write rolls back with
//! the unit.

mod support;

use bson::{Bson, doc};
use cqrs_mongo_persistence::jobs::NewJob;
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::projections::Applied;
use cqrs_mongo_persistence::sagas::{IfStarted, Saga};
use cqrs_mongo_persistence::{
    Alone, Connection, Error, JobQueue, Outbox, PositionStore, ProjectionStore, SagaRepository,
};
use serde_json::json;

/// Why the test's transactions end: on purpose, or a store error.
#[derive(Debug, PartialEq)]
enum End {
    RollBack,
    Store(String),
}

impl From<Error> for End {
    fn from(err: Error) -> Self {
        End::Store(err.to_string())
    }
}

/// Runs `work` in a transaction that is then rolled back (the callback's error aborts it).
async fn rolled_back(
    db: &Connection,
    mut work: impl AsyncFnMut(&cqrs_mongo_persistence::UnitOfWork) -> Result<(), Error>,
) {
    let ended: Result<(), End> = db
        .transaction(async |uow| {
            work(uow).await?;
            Err(End::RollBack)
        })
        .await;
    assert_eq!(ended, Err(End::RollBack));
}

#[tokio::test(flavor = "multi_thread")]
async fn read_models_are_read_and_written_inside_the_unit_of_work() {
    let db = support::database("where_projections").await;
    let store = ProjectionStore::new(&db);
    let applied = |position| Applied { event_id: "e", position };
    store.upsert("rm", "a", doc! { "n": 1 }, applied(1), Alone).await.unwrap();
    rolled_back(&db, async |uow| {
        store.upsert("rm", "b", doc! { "n": 2 }, applied(2), uow).await?;
        assert!(store.get("rm", "b", uow).await?.is_some(), "its own write");
        assert!(store.get("rm", "b", Alone).await?.is_none(), "not committed yet");
        assert_eq!(store.get_many("rm", vec![Bson::from("a"), Bson::from("b")], uow).await?.len(), 2);
        assert_eq!(store.count("rm", &json!({"op": ">", "attr": "n", "val": 0}), uow).await?, 2);
        assert_eq!(store.find("rm", &json!({"op": "=", "attr": "n", "val": 2}), None, uow).await?.len(), 1);
        assert!(store.delete("rm", "a", uow).await?);
        assert_eq!(store.truncate("rm", uow).await?, 1);
        assert_eq!(store.count("rm", &json!({"op": ">", "attr": "n", "val": 0}), uow).await?, 0);
        Ok(())
    })
    .await;
    let left = store.find("rm", &json!({"op": ">", "attr": "n", "val": 0}), None, Alone).await.unwrap();
    assert_eq!(left.len(), 1, "the insert, the delete and the truncate rolled back");
}

#[tokio::test(flavor = "multi_thread")]
async fn sagas_jobs_the_outbox_and_positions_join_the_unit_of_work() {
    let db = support::database("where_messaging").await;
    let sagas = SagaRepository::new(&db);
    let jobs = JobQueue::new(&db);
    let outbox = Outbox::new(&db);
    let positions = PositionStore::new(&db);
    jobs.enqueue(NewJob::new("j1", "mail", doc! {}), Alone).await.unwrap();
    positions.save("p", 7, Alone).await.unwrap();
    outbox.save(&[OutboxMessage::new("m1", "Placed", doc! {}, "c")], Alone).await.unwrap();
    db.database()
        .collection::<bson::Document>("outbox_messages")
        .update_one(doc! { "_id": "m1" }, doc! { "$set": { "status": "failed" } })
        .await
        .unwrap();
    rolled_back(&db, async |uow| {
        let saga = Saga::new("s1", "Checkout", "c-1", doc! {});
        sagas.start(saga, IfStarted::Error, uow).await?;
        assert!(sagas.get("s1", uow).await?.is_some(), "its own write");
        assert!(sagas.get("s1", Alone).await?.is_none(), "not committed yet");
        assert!(sagas.find_by_correlation("Checkout", "c-1", uow).await?.is_some());
        assert!(jobs.cancel("j1", uow).await?);
        let listed = jobs.list("CANCELLED", cqrs_mongo_persistence::store::PageRequest::first(10), uow).await?;
        assert_eq!(listed.len(), 1, "the cancel, seen inside");
        assert_eq!(outbox.retry_dead(uow).await?, 1);
        positions.reset("p", uow).await?;
        assert_eq!(positions.get("p", uow).await?, 0);
        Ok(())
    })
    .await;
    assert!(sagas.get("s1", Alone).await.unwrap().is_none());
    assert_eq!(
        jobs.list("PENDING", cqrs_mongo_persistence::store::PageRequest::first(10), Alone).await.unwrap().len(),
        1
    );
    assert_eq!(positions.get("p", Alone).await.unwrap(), 7);
    let message = db.database().collection::<bson::Document>("outbox_messages").find_one(doc! {}).await.unwrap();
    assert_eq!(message.unwrap().get_str("status").unwrap(), "failed", "retry_dead rolled back");
}

/// The operations that run on their own by design (the crate docs, "Where an operation runs"),
/// as `file: function`. Any other public async method of a store takes `on` (or a unit of work).
const ON_THEIR_OWN: &[&str] = &[
    // The global event feed, read by runners and subscriptions: committed positions only.
    "event_store/read.rs: read_all",
    "event_store/read.rs: read_by_types",
    "event_store/read.rs: latest_position",
    // Monitoring counts.
    "jobs/store.rs: stats",
    "outbox/store.rs: stats",
    "outbox/store.rs: backlog",
    // The job worker's protocol: claims, heartbeats and outcomes commit at once.
    "jobs/claim.rs: claim",
    "jobs/claim.rs: claim_batch",
    "jobs/outcome.rs: heartbeat",
    "jobs/outcome.rs: complete",
    "jobs/outcome.rs: fail",
    "jobs/outcome.rs: release",
    // MongoDB drops no collection inside a transaction.
    "projections/store.rs: drop",
    // Read-your-writes: waits for other transactions (a runner's batches) to commit.
    "projections/positions.rs: wait_for",
    // Dead-letter administration (the runtime's bookkeeping).
    "dead_letters/store.rs: parked",
    "dead_letters/store.rs: get",
    "dead_letters/store.rs: count_parked",
    "dead_letters/store.rs: skip",
];

/// Store files: what is not a store (the connection, units of work, the runtime's loops,
/// leases, telemetry, the repository's streaming variants) is not held to the rule.
fn is_store_file(path: &str) -> bool {
    let stores =
        ["aggregates/", "event_store/", "jobs/store.rs", "jobs/claim.rs", "jobs/outcome.rs", "outbox/store.rs"];
    let files = [
        "dead_letters/store.rs",
        "projections/positions.rs",
        "projections/store.rs",
        "repository/store.rs",
        "sagas/store.rs",
        "snapshots.rs",
    ];
    stores.iter().any(|s| path.starts_with(s)) || files.contains(&path)
}

#[test]
fn every_store_operation_takes_on_unless_documented_to_run_on_its_own() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut pending = vec![root.clone()];
    let mut missing = Vec::new();
    let mut seen = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            if !is_store_file(&relative) {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (at, _) in source.match_indices("pub async fn ") {
                let rest = &source[at + "pub async fn ".len()..];
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                // The signature up to the body.
                let signature = &rest[..rest.find('{').unwrap_or(rest.len())];
                seen += 1;
                let takes_on = signature.contains("impl Into<On") || signature.contains("UnitOfWork");
                // The command workflows run on their own (`update_in` and `decide_in` join a
                // unit of work).
                let workflow = (relative == "aggregates/store.rs" && name == "update")
                    || (relative == "event_store/decision.rs" && name == "decide");
                // `search_stream` has a twin for a unit of work, `search_stream_in`.
                let streaming = relative == "repository/store.rs" && name == "search_stream";
                if !takes_on
                    && !workflow
                    && !streaming
                    && !ON_THEIR_OWN.contains(&format!("{relative}: {name}").as_str())
                {
                    missing.push(format!("{relative}: {name}"));
                }
            }
        }
    }
    assert!(seen > 60, "the scan found the stores' methods ({seen})");
    assert!(missing.is_empty(), "these store operations take no `on` and are not documented to run alone: {missing:?}");
}
