//! Snapshots and projection checkpoints only move forward, atomically.

mod support;

use bson::doc;
use cqrs_mongo_persistence::{Alone, PositionStore, SnapshotStore};

#[tokio::test(flavor = "multi_thread")]
async fn an_older_snapshot_never_overwrites_a_newer_one() {
    let db = support::database("snapshots").await;
    let store = SnapshotStore::new(&db);
    assert!(store.save("Order", "o1", 5, doc! { "total": 5 }, Alone).await.unwrap());
    assert!(!store.save("Order", "o1", 3, doc! { "total": 3 }, Alone).await.unwrap(), "older is a no-op");
    assert!(!store.save("Order", "o1", 5, doc! { "total": 5 }, Alone).await.unwrap(), "same is a no-op");
    assert!(store.save("Order", "o1", 8, doc! { "total": 8 }, Alone).await.unwrap());
    let latest = store.latest("Order", "o1", Alone).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.data.get_i32("total").unwrap()), (8, 8));
    let stored = db.database().collection::<bson::Document>("snapshots").find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(stored.get_str("_id").unwrap(), "Order|o1", "legacy _id format");
    assert!(store.latest("Order", "none", Alone).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_snapshot_writers_keep_the_newest() {
    let db = support::database("snapshots_concurrent").await;
    let store = SnapshotStore::new(&db);
    let writes = (1..=20).map(|v| {
        let store = store.clone();
        tokio::spawn(async move { store.save("Order", "o1", v, doc! { "v": v }, Alone).await.unwrap() })
    });
    for write in writes {
        write.await.unwrap();
    }
    assert_eq!(store.latest("Order", "o1", Alone).await.unwrap().unwrap().version, 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn positions_never_move_backwards_and_join_transactions() {
    let db = support::database("positions").await;
    let store = PositionStore::new(&db);
    assert_eq!(store.get("summaries", Alone).await.unwrap(), 0);
    assert!(store.save("summaries", 10, Alone).await.unwrap());
    assert!(!store.save("summaries", 7, Alone).await.unwrap());
    assert_eq!(store.get("summaries", Alone).await.unwrap(), 10);
    let uow = db.begin().await.unwrap();
    assert!(store.save("summaries", 12, &uow).await.unwrap());
    uow.rollback().await.unwrap();
    assert_eq!(store.get("summaries", Alone).await.unwrap(), 10, "rolled back with the transaction");
    store.reset("summaries", Alone).await.unwrap();
    assert_eq!(store.get("summaries", Alone).await.unwrap(), 0);
    assert!(store.save("summaries", 1, Alone).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_position_that_is_not_newer_inside_a_unit_of_work_keeps_the_transaction() {
    let db = support::database("positions_in_uow").await;
    let positions = PositionStore::new(&db);
    assert!(positions.save("summaries", 9, Alone).await.unwrap());
    let uow = db.begin().await.unwrap();
    assert!(!positions.save("summaries", 4, &uow).await.unwrap());
    assert!(positions.save("other", 2, &uow).await.unwrap());
    uow.commit().await.expect("the refused move did not abort the transaction");
    assert_eq!(
        (positions.get("summaries", Alone).await.unwrap(), positions.get("other", Alone).await.unwrap()),
        (9, 2)
    );
}
