//! The service's one call for its indexes, on the real test server: every store and loop it
//! runs, `dead_letters` (where its projection runner parks events) included.

use bson::Document;
use cqrs_mongo_persistence::testing::{database, test_name};
use cqrs_mongo_persistence::{DeadLetters, EventStore, Outbox};
use cqrs_mongo_service::background;

#[tokio::test(flavor = "multi_thread")]
async fn the_service_ensures_the_indexes_of_its_stores_its_read_model_and_dead_letters() {
    let db = database(test_name!()).await;
    let report = background::ensure_indexes(&db).await.unwrap();
    let expected = [EventStore::indexes(), Outbox::indexes(), DeadLetters::indexes()].concat();
    for spec in &expected {
        let label = format!("{}.{}", spec.collection, spec.name);
        assert!(report.created.contains(&label), "{label} not created: {report:?}");
    }
    assert!(report.created.contains(&"order_summaries.status_1_total_-1".to_owned()), "{report:?}");
    let names = db.database().collection::<Document>("dead_letters").list_index_names().await.unwrap();
    assert!(names.contains(&"subscription_1_status_1_position_1".to_owned()), "{names:?}");
    let again = background::ensure_indexes(&db).await.unwrap();
    assert!(again.created.is_empty(), "{again:?}");
}
