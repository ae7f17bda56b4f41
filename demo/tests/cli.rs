//! `cqrs-mongo-orders`, the command-line tool with the orders example's projection registered,
//! on the real test server: `projections status` and `projections rebuild order_summaries`
//! with a real projection, and `indexes ensure` creating its index. (The commands that need no
//! projection are tested on the generic `cqrs-mongo` in cli/tests/.)

#[path = "../../cli/tests/support/binary.rs"]
mod binary;
use cqrs_mongo_persistence::testing as server;

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
    pay_order(&order_store(&db, &events, &Outbox::new(&db)), "o2").await.unwrap();
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
    let db = server::database(test).await;
    let stdout = stdout_ok(&run(test, &["indexes", "ensure"]).await);
    let projection: Vec<&str> = stdout.lines().filter(|l| l.contains("projection order_summaries")).collect();
    assert_eq!(projection.len(), 1, "{stdout}");
    assert!(projection[0].starts_with("created  "), "{stdout}");
    assert!(projection[0].ends_with("order_summaries.status_1_total_-1"), "{stdout}");
    // The dead letters' index too: the runner of order_summaries parks events there.
    let names = db.database().collection::<Document>("dead_letters").list_index_names().await.unwrap();
    assert!(names.contains(&"subscription_1_status_1_position_1".to_owned()), "{names:?}\n{stdout}");
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

/// The order_summaries lease holder and checkpoint position.
async fn lease_of(db: &Connection) -> (Option<String>, i64) {
    let database = db.database();
    let find =
        async |collection: &str| database.collection::<Document>(collection).find_one(doc! { "_id": SUMMARIES }).await;
    let lease = find("leases").await.unwrap();
    let leader = lease.as_ref().and_then(|d| d.get_str("leader").ok()).map(str::to_owned);
    let checkpoint = find("projection_checkpoints").await.unwrap();
    let position = checkpoint.as_ref().and_then(|d| d.get("position")).and_then(bson::Bson::as_i64).unwrap_or(0);
    (leader, position)
}

/// Waits (bounded) until `condition` holds for the checkpoint's (leader, position).
async fn wait_for_lease(db: &Connection, what: &str, condition: impl Fn(&(Option<String>, i64)) -> bool) {
    // Up to 200 s: a runner killed inside a batch transaction leaves the checkpoint locked
    // until the server aborts that transaction (60 s idle, as mongod's lifetime limit).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(200);
    loop {
        let lease = lease_of(db).await;
        if condition(&lease) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: the checkpoint is at {lease:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The read model without its bookkeeping fields.
async fn summaries_of(db: &Connection) -> Vec<Document> {
    let found: Vec<Document> = db
        .database()
        .collection::<Document>(SUMMARIES)
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    found
        .into_iter()
        .map(|mut d| {
            for key in ["_version", "_last_event_id", "_last_event_position"] {
                d.remove(key);
            }
            d
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_process_killed_with_sigkill_is_replaced_by_its_standby() {
    let test = "orders_cli_projections_run";
    let db = server::database(test).await;
    place_orders(&db, 20).await;
    let runner = |replica: &str| {
        let mut command = binary::command(env!("CARGO_BIN_EXE_cqrs-mongo-orders"), test);
        command.args(["projections", "run", SUMMARIES, "--lease", "2", "--replica", replica]);
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        command.spawn().expect("start the runner")
    };
    let mut a = runner("a");
    wait_for_lease(&db, "a leads and catches up", |(leader, position)| {
        leader.as_deref() == Some("a") && *position == 20
    })
    .await;
    let b = runner("b");
    place_orders_from(&db, 21, 40).await;
    // Killed without a chance to release its lease or finish a batch.
    a.kill().expect("SIGKILL");
    a.wait().unwrap();
    let head = EventStore::new(&db).latest_position().await.unwrap();
    assert_eq!(head, 40);
    wait_for_lease(&db, "b takes over and catches up", |(leader, position)| {
        leader.as_deref() == Some("b") && *position == head
    })
    .await;

    // A clean stop hands the lease back and reports what this replica did.
    let pid = b.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let output = tokio::task::spawn_blocking(move || b.wait_with_output().unwrap()).await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("stopped order_summaries: ") && stdout.contains("led 1 times"), "{stdout}");
    assert_eq!(lease_of(&db).await.0, None, "released");

    // The read model equals a fresh rebuild.
    let live = summaries_of(&db).await;
    assert_eq!(live.len(), 40);
    stdout_ok(&run(test, &["projections", "rebuild", SUMMARIES]).await);
    assert_eq!(summaries_of(&db).await, live);
}

/// Places orders `o{from}` ..= `o{to}`.
async fn place_orders_from(db: &Connection, from: usize, to: usize) {
    let orders = order_store(db, &EventStore::new(db), &Outbox::new(db));
    for i in from..=to {
        let lines = [Line { sku: format!("sku-{i}"), quantity: 1, price_cents: 1_000 }];
        place_order(&orders, &format!("o{i}"), "late", &lines).await.expect("place an order");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_retried_and_skipped_from_the_command_line() {
    let test = "orders_cli_dead_letters";
    let db = server::database(test).await;
    place_orders(&db, 2).await;
    // An OrderPlaced whose payload does not decode: the projection parks it.
    let events = EventStore::new(&db);
    let broken = cqrs_mongo_persistence::event_store::NewEvent::new("broken-1", "OrderPlaced", doc! { "customer": 7 });
    let stream = cqrs_mongo_persistence::event_store::Stream { aggregate_id: "o9", aggregate_type: "Order" };
    events
        .append(stream, cqrs_mongo_persistence::event_store::ExpectedVersion::NoStream, &[broken], Alone)
        .await
        .unwrap();
    let policy = cqrs_mongo_persistence::runtime::RetryPolicy::park_after(1);
    let runner = ProjectionRunner::new(&db, &events, order_summaries()).on_failure(policy);
    assert_eq!(runner.catch_up().await.unwrap(), 2, "the two orders; the broken event is parked");

    let listed = stdout_ok(&run(test, &["dead-letters", "list"]).await);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    let columns: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(columns[..5], ["order_summaries", "3", "broken-1", "OrderPlaced", "1"], "{listed}");
    assert!(columns[6].contains("customer"), "the error names the field: {listed}");

    // Still undecodable: the retry fails (exit 1) and counts an attempt.
    let retried = run(test, &["dead-letters", "retry", SUMMARIES, "broken-1"]).await;
    assert_eq!(retried.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&retried.stderr).contains("cannot retry event broken-1"));
    let again = stdout_ok(&run(test, &["dead-letters", "list", SUMMARIES]).await);
    assert_eq!(again.lines().nth(1).unwrap().split('\t').nth(4), Some("2"));

    assert_eq!(
        stdout_ok(&run(test, &["dead-letters", "skip", SUMMARIES, "broken-1"]).await),
        "skipped broken-1 of order_summaries\n"
    );
    assert_eq!(stdout_ok(&run(test, &["dead-letters", "list"]).await).lines().count(), 1, "nothing parked");
    let twice = run(test, &["dead-letters", "skip", SUMMARIES, "broken-1"]).await;
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&twice.stderr).starts_with("error: event broken-1 is not parked by order_summaries")
    );
    let unknown = run(test, &["dead-letters", "retry", "nope", "broken-1"]).await;
    assert_eq!(unknown.status.code(), Some(2), "not a registered projection");
}
