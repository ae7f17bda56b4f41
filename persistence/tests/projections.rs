//! Projection writes are one conditional upsert per document.

mod support;

use bson::{Bson, doc};
use cqrs_mongo_persistence::projections::Applied;
use cqrs_mongo_persistence::{Alone, Error, ProjectionStore};
use cqrs_mongo_spec::ErrorCode;
use serde_json::json;

fn at(position: i64) -> Applied<'static> {
    Applied { position, event_id: "e" }
}

#[tokio::test(flavor = "multi_thread")]
async fn older_and_duplicate_events_are_no_ops() {
    let db = support::database("projection_versions").await;
    let store = ProjectionStore::new(&db);
    assert!(store.upsert("summaries", "o1", doc! { "total": 5 }, at(5), Alone).await.unwrap());
    assert!(!store.upsert("summaries", "o1", doc! { "total": 3 }, at(3), Alone).await.unwrap());
    assert!(!store.upsert("summaries", "o1", doc! { "total": 5 }, at(5), Alone).await.unwrap());
    assert!(
        store
            .upsert("summaries", "o1", doc! { "status": "paid" }, Applied { position: 9, event_id: "e9" }, Alone)
            .await
            .unwrap()
    );
    let stored = store.get("summaries", "o1", Alone).await.unwrap().unwrap();
    assert_eq!(stored.get_i32("total").unwrap(), 5, "a later event keeps fields it does not set");
    assert_eq!(stored.get_str("status").unwrap(), "paid");
    assert_eq!(
        (
            stored.get_i64("_version").unwrap(),
            stored.get_str("_last_event_id").unwrap(),
            stored.get_i64("_last_event_position").unwrap()
        ),
        (9, "e9", 9)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_event_updates_many_documents() {
    // Legacy defect: de-duplication by event id across the collection wrote only the first.
    let db = support::database("projection_many").await;
    let store = ProjectionStore::new(&db);
    let docs = (0..5).map(|i| (Bson::from(format!("c{i}")), doc! { "n": i })).collect();
    assert_eq!(store.upsert_many("counts", docs, at(7), Alone).await.unwrap(), 5);
    let ids = ["c4", "zz", "c0"].iter().map(|s| Bson::from(*s)).collect();
    let found = store.get_many("counts", ids, Alone).await.unwrap();
    assert_eq!(found.iter().map(|d| d.get_str("_id").unwrap()).collect::<Vec<_>>(), ["c4", "c0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_never_lose_the_newest_update() {
    let db = support::database("projection_concurrent").await;
    let store = ProjectionStore::new(&db);
    let writes = (1..=30).map(|p| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .upsert("summaries", "o1", doc! { "p": p }, Applied { position: p, event_id: "e" }, Alone)
                .await
                .unwrap()
        })
    });
    for write in writes {
        write.await.unwrap();
    }
    let stored = store.get("summaries", "o1", Alone).await.unwrap().unwrap();
    assert_eq!((stored.get_i64("_version").unwrap(), stored.get_i64("p").unwrap()), (30, 30));
}

#[tokio::test(flavor = "multi_thread")]
async fn find_truncate_delete_and_drop() {
    let db = support::database("projection_queries").await;
    let store = ProjectionStore::new(&db);
    for (i, region) in ["eu", "us", "eu"].iter().enumerate() {
        store
            .upsert("summaries", format!("o{i}"), doc! { "region": *region, "total": i as i32 }, at(1), Alone)
            .await
            .unwrap();
    }
    let eu = store.find("summaries", &json!({"op": "=", "attr": "region", "val": "eu"}), None, Alone).await.unwrap();
    assert_eq!(eu.len(), 2);
    assert_eq!(store.count("summaries", &json!({"op": "=", "attr": "region", "val": "eu"}), Alone).await.unwrap(), 2);
    assert_eq!(store.count("summaries", &json!({"op": ">", "attr": "total", "val": 5}), Alone).await.unwrap(), 0);
    // The store's compiler and its limits apply to find and count alike.
    let strict = store.clone().with_compiler(cqrs_mongo_spec::Compiler::new(
        cqrs_mongo_spec::CompilerConfig::default().allow_fields(["region"]).with_max_spec_len(60),
    ));
    let total = json!({"op": "=", "attr": "total", "val": 1});
    let long = json!({"op": "in", "attr": "region", "val": ["eu", "us", "apac", "latam", "mena", "anz"]});
    for (spec, code) in [(&total, ErrorCode::FieldNotAllowed), (&long, ErrorCode::SpecTooLarge)] {
        let refused = |result: Result<_, Error>| matches!(result, Err(Error::Spec(err)) if err.code() == code);
        assert!(refused(strict.find("summaries", spec, None, Alone).await.map(drop)), "find {spec}");
        assert!(refused(strict.count("summaries", spec, Alone).await.map(drop)), "count {spec}");
    }
    let grouped = store
        .find(
            "summaries",
            &json!({"op": "is_not_null", "attr": "region"}),
            Some(&cqrs_mongo_spec::QueryOptions::default().group_by(["region"]).order_by("-count")),
            Alone,
        )
        .await
        .unwrap();
    assert_eq!(grouped[0], doc! { "region": "eu", "count": 2 });
    assert!(store.delete("summaries", "o1", Alone).await.unwrap());
    assert_eq!(store.truncate("summaries", Alone).await.unwrap(), 2);
    store.drop("summaries").await.unwrap();
    let ttl = ProjectionStore::ttl_index("sessions", "expires_at", std::time::Duration::from_secs(60));
    assert_eq!(db.ensure_indexes(&[ttl]).await.unwrap().created, ["sessions.expires_at_1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_event_inside_a_unit_of_work_is_a_no_op_that_keeps_the_transaction() {
    let db = support::database("projections_in_uow").await;
    let store = ProjectionStore::new(&db);
    assert!(store.upsert("summaries", "o1", doc! { "total": 50 }, at(5), Alone).await.unwrap());
    let uow = db.begin().await.unwrap();
    assert!(!store.upsert("summaries", "o1", doc! { "total": 30 }, at(3), &uow).await.unwrap());
    assert!(store.upsert("summaries", "o2", doc! { "total": 70 }, at(6), &uow).await.unwrap());
    uow.commit().await.expect("the skipped older event did not abort the transaction");
    assert_eq!(store.get("summaries", "o1", Alone).await.unwrap().unwrap().get_i32("total").unwrap(), 50);
    assert_eq!(store.get("summaries", "o2", Alone).await.unwrap().unwrap().get_i32("total").unwrap(), 70);
}
