//! `cqrs-mongo-orders`, the command-line tool with the orders example's projection registered,
//! on the real test server: `projections status` and `projections rebuild order_summaries`
//! with a real projection, and `indexes ensure` creating its index. (The commands that need no
//! projection are tested on the generic `cqrs-mongo` in cli/tests/.)

#[path = "../../cli/tests/support/binary.rs"]
mod binary;
#[path = "../../persistence/tests/support/mod.rs"]
mod server;

use std::process::{Command, Output};

use binary::{status_row, stdout_ok};

use bson::{DateTime, Document, doc};
use cqrs_mongo_demo::{Line, SUMMARIES, order_store, order_summaries, pay_order, place_order};
use cqrs_mongo_persistence::{Alone, Connection, EventStore, Outbox, PositionStore, ProjectionRunner};
use futures::TryStreamExt;

/// Runs `cqrs-mongo-orders ARGS` against the test's database to completion.
async fn run(test: &str, args: &[&str]) -> Output {
    binary::output(binary::command(env!("CARGO_BIN_EXE_cqrs-mongo-orders"), test), args).await
}

/// Places `count` orders (`o1`, `o2`, ...): each stores its `OrderPlaced` event (positions
/// 1..=count) and an outbox message in one transaction.
async fn place_orders(db: &Connection, count: usize) {
    let orders = order_store(db, &EventStore::new(db), &Outbox::new(db));
    for i in 1..=count {
        let lines = [Line { sku: format!("sku-{i}"), quantity: i as i64, price_cents: 10_000 }];
        place_order(&orders, &format!("o{i}"), &format!("customer-{i}"), &lines).await.expect("place an order");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_status_shows_saved_position_head_and_lag() {
    let test = "orders_cli_projections_status";
    let db = server::database(test).await;
    place_orders(&db, 3).await;
    let at = DateTime::from_millis(1_700_000_000_000);
    db.database()
        .collection::<Document>("projection_checkpoints")
        .insert_one(doc! { "_id": "legacy_report", "position": 1_i64, "updated_at": at })
        .await
        .unwrap();

    let stdout = stdout_ok(&run(test, &["projections", "status"]).await);
    let header: Vec<&str> = stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["PROJECTION", "POSITION", "HEAD", "LAG", "UPDATED", "REGISTERED"]);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert_eq!(status_row(&stdout, SUMMARIES), ["order_summaries", "0", "3", "3", "never", "yes"]);
    assert_eq!(status_row(&stdout, "legacy_report"), ["legacy_report", "1", "3", "2", "2023-11-14T22:13:20Z", "no"]);
    // Named: that projection alone.
    let one = stdout_ok(&run(test, &["projections", "status", SUMMARIES]).await);
    assert_eq!(one.lines().count(), 2, "{one}");
    assert_eq!(status_row(&one, SUMMARIES), ["order_summaries", "0", "3", "3", "never", "yes"]);

    // After a catch-up the registered projection has no lag.
    let events = EventStore::new(&db);
    ProjectionRunner::new(&db, &events, order_summaries()).catch_up().await.unwrap();
    let stdout = stdout_ok(&run(test, &["projections", "status"]).await);
    let row = status_row(&stdout, SUMMARIES);
    assert_eq!(row[..4], ["order_summaries", "3", "3", "0"]);
    assert_ne!(row[4], "never");
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_rebuild_builds_the_read_model_and_moves_the_checkpoint() {
    let test = "orders_cli_projections_rebuild";
    let db = server::database(test).await;
    place_orders(&db, 3).await;
    let events = EventStore::new(&db);
    pay_order(&db, &order_store(&db, &events, &Outbox::new(&db)), "o2").await.unwrap();
    let head = events.latest_position().await.unwrap();
    assert_eq!(head, 4);
    let summaries = db.database().collection::<Document>(SUMMARIES);
    assert_eq!(summaries.count_documents(doc! {}).await.unwrap(), 0);

    let stdout = stdout_ok(&run(test, &["projections", "rebuild", SUMMARIES]).await);
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
    assert_eq!(PositionStore::new(&db).get(SUMMARIES, Alone).await.unwrap(), head, "the checkpoint moved to the head");
    let indexes = summaries.list_index_names().await.unwrap();
    assert!(indexes.contains(&"status_1_total_-1".to_owned()), "the projection's index: {indexes:?}");
    let collections = db.database().list_collection_names().await.unwrap();
    assert!(!collections.iter().any(|c| c.starts_with("order_summaries_v")), "swapped in: {collections:?}");

    // Status agrees; a damaged read model is repaired by another rebuild.
    let status = stdout_ok(&run(test, &["projections", "status"]).await);
    assert_eq!(status_row(&status, SUMMARIES)[..4], ["order_summaries", "4", "4", "0"]);
    summaries.delete_one(doc! { "_id": "o3" }).await.unwrap();
    summaries.update_one(doc! { "_id": "o2" }, doc! { "$set": { "status": "lost" } }).await.unwrap();
    let again = stdout_ok(&run(test, &["projections", "rebuild", SUMMARIES]).await);
    assert!(again.starts_with("rebuilt order_summaries\nversion: "), "{again}");
    assert!(again.contains("\nevents: 4\n"), "{again}");
    let repaired: Vec<Document> =
        summaries.find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap().try_collect().await.unwrap();
    let statuses: Vec<_> = repaired.iter().map(|d| (d.get_str("_id").unwrap(), d.get_str("status").unwrap())).collect();
    assert_eq!(statuses, [("o1", "placed"), ("o2", "paid"), ("o3", "placed")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_ensure_creates_the_projection_index_too() {
    let test = "orders_cli_indexes_ensure";
    server::database(test).await;
    let stdout = stdout_ok(&run(test, &["indexes", "ensure"]).await);
    let projection: Vec<&str> = stdout.lines().filter(|l| l.contains("projection order_summaries")).collect();
    assert_eq!(projection.len(), 1, "{stdout}");
    assert!(projection[0].starts_with("created  "), "{stdout}");
    assert!(projection[0].ends_with("order_summaries.status_1_total_-1"), "{stdout}");
}

#[test]
fn a_projection_it_does_not_register_is_refused_listing_order_summaries() {
    // Checked before connecting: nothing listens on port 1 and nothing needs to.
    let output = Command::new(env!("CARGO_BIN_EXE_cqrs-mongo-orders"))
        .args(["--uri", "mongodb://127.0.0.1:1/?directConnection=true", "projections", "rebuild", "orders_by_customer"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected = "error: no projection named \"orders_by_customer\" is registered in this binary \
                    (registered: order_summaries)\n";
    assert!(stderr.starts_with(expected), "{stderr}");
}
