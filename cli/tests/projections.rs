//! `cqrs-mongo projections status` on the real test server. The generic binary registers no
//! projection: it lists the checkpoints it finds, each marked as not registered. (Rebuilding
//! and the status of a registered projection are tested on the orders example's binary,
//! `cqrs-mongo-orders`, in demo/tests/cli.rs; naming a projection here fails, see errors.rs.)

mod support;

use bson::{DateTime, Document, doc};

#[tokio::test(flavor = "multi_thread")]
async fn projections_status_lists_every_checkpoint_found_as_not_registered() {
    let test = "cli_projections_status";
    let db = support::database(test).await;

    // No events, no checkpoints: the header alone.
    let empty = support::stdout_ok(&support::run(test, &["projections", "status"]).await);
    let header: Vec<&str> = empty.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["PROJECTION", "POSITION", "HEAD", "LAG", "UPDATED", "REGISTERED"]);
    assert_eq!(empty.lines().count(), 1, "{empty}");

    support::append_orders(&db, 3).await;
    let at = DateTime::from_millis(1_700_000_000_000);
    let checkpoints = db.database().collection::<Document>("projection_checkpoints");
    checkpoints.insert_one(doc! { "_id": "order_summaries", "position": 2_i64, "updated_at": at }).await.unwrap();
    checkpoints.insert_one(doc! { "_id": "legacy_report", "position": 1 }).await.unwrap();

    let stdout = support::stdout_ok(&support::run(test, &["projections", "status"]).await);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.lines().nth(1).unwrap().starts_with("legacy_report "), "by name: {stdout}");
    assert_eq!(support::status_row(&stdout, "legacy_report"), ["legacy_report", "1", "3", "2", "-", "no"]);
    assert_eq!(
        support::status_row(&stdout, "order_summaries"),
        ["order_summaries", "2", "3", "1", "2023-11-14T22:13:20Z", "no"]
    );
}
