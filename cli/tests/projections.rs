//! `cqrs-mongo projections status` and `projections rebuild` on the real test server.

mod support;

use bson::{DateTime, Document, doc};
use cqrs_mongo_demo::{OrderSummaries, SUMMARIES};
use cqrs_mongo_persistence::{EventStore, PositionStore, ProjectionRunner};
use futures::TryStreamExt;

/// The status line of `name`, split into its columns.
fn status_row(stdout: &str, name: &str) -> Vec<String> {
    let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(name));
    line.unwrap_or_else(|| panic!("no status line for {name}: {stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_status_shows_saved_position_head_and_lag() {
    let test = "cli_projections_status";
    let db = support::database(test).await;
    support::place_orders(&db, 3).await;
    let at = DateTime::from_millis(1_700_000_000_000);
    db.database()
        .collection::<Document>("projection_checkpoints")
        .insert_one(doc! { "_id": "legacy_report", "position": 1_i64, "updated_at": at })
        .await
        .unwrap();

    let stdout = support::stdout_ok(&support::run(test, &["projections", "status"]).await);
    let header: Vec<&str> = stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["PROJECTION", "POSITION", "HEAD", "LAG", "UPDATED", "REGISTERED"]);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert_eq!(status_row(&stdout, SUMMARIES), ["order_summaries", "0", "3", "3", "never", "yes"]);
    assert_eq!(status_row(&stdout, "legacy_report"), ["legacy_report", "1", "3", "2", "2023-11-14T22:13:20Z", "no"]);

    // After a catch-up the registered projection has no lag.
    let events = EventStore::new(&db);
    ProjectionRunner::new(&db, &events, OrderSummaries).catch_up().await.unwrap();
    let stdout = support::stdout_ok(&support::run(test, &["projections", "status"]).await);
    let row = status_row(&stdout, SUMMARIES);
    assert_eq!(row[..4], ["order_summaries", "3", "3", "0"]);
    assert_ne!(row[4], "never");
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_rebuild_builds_the_read_model_and_moves_the_checkpoint() {
    let test = "cli_projections_rebuild";
    let db = support::database(test).await;
    let orders = support::place_orders(&db, 3).await;
    let events = EventStore::new(&db);
    let mut paid = orders[1].clone();
    let repository = cqrs_mongo_persistence::Repository::<cqrs_mongo_demo::Order>::new(&db);
    cqrs_mongo_demo::pay_order(&db, &repository, &events, &mut paid).await.unwrap();
    let head = events.latest_position().await.unwrap();
    assert_eq!(head, 4);
    let summaries = db.database().collection::<Document>(SUMMARIES);
    assert_eq!(summaries.count_documents(doc! {}).await.unwrap(), 0);

    let stdout = support::stdout_ok(&support::run(test, &["projections", "rebuild", SUMMARIES]).await);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..4], ["rebuilt order_summaries", "version: 2", "events: 4", "events after swap: 0"], "{stdout}");
    assert!(lines[4].starts_with("elapsed: ") && lines[4].ends_with(" s"), "{stdout}");

    // The read model: one summary per order, the paid one paid.
    let built: Vec<Document> =
        summaries.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap();
    let rows: Vec<_> = built
        .iter()
        .map(|d| (d.get_str("_id").unwrap(), d.get_f64("total").unwrap(), d.get_str("status").unwrap()))
        .collect();
    assert_eq!(rows, [("o1", 100.0, "placed"), ("o2", 200.0, "paid"), ("o3", 300.0, "placed")]);
    assert_eq!(PositionStore::new(&db).get(SUMMARIES, None).await.unwrap(), head, "the checkpoint moved to the head");
    let indexes = summaries.list_index_names().await.unwrap();
    assert!(indexes.contains(&"status_1_total_-1".to_owned()), "the projection's index: {indexes:?}");
    let collections = db.database().list_collection_names().await.unwrap();
    assert!(!collections.iter().any(|c| c.starts_with("order_summaries_v")), "swapped in: {collections:?}");

    // Status agrees; a damaged read model is repaired by another rebuild.
    let status = support::stdout_ok(&support::run(test, &["projections", "status"]).await);
    assert_eq!(status_row(&status, SUMMARIES)[..4], ["order_summaries", "4", "4", "0"]);
    summaries.delete_one(doc! { "_id": "o3" }).await.unwrap();
    summaries.update_one(doc! { "_id": "o2" }, doc! { "$set": { "status": "lost" } }).await.unwrap();
    let again = support::stdout_ok(&support::run(test, &["projections", "rebuild", SUMMARIES]).await);
    assert!(again.starts_with("rebuilt order_summaries\nversion: "), "{again}");
    assert!(again.contains("\nevents: 4\n"), "{again}");
    let repaired: Vec<Document> =
        summaries.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap();
    let statuses: Vec<_> = repaired.iter().map(|d| (d.get_str("_id").unwrap(), d.get_str("status").unwrap())).collect();
    assert_eq!(statuses, [("o1", "placed"), ("o2", "paid"), ("o3", "placed")]);
}
