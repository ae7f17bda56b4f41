//! Repository integration tests on the real test server.

mod support;

use bson::doc;
use cqrs_mongo_persistence::store::Version;
use cqrs_mongo_persistence::{Alone, Error, Repository};
use cqrs_mongo_spec::QueryOptions;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    customer: String,
    total: bson::Decimal128,
    placed_at: bson::DateTime,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Order, "orders", String);

fn order(id: &str, customer: &str, total: &str) -> Order {
    Order {
        id: id.into(),
        customer: customer.into(),
        total: total.parse().unwrap(),
        placed_at: bson::DateTime::from_millis(1_700_000_000_123),
        version: Version::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn crud_round_trip_keeps_types_and_legacy_format() {
    let db = support::database("crud_round_trip").await;
    let repo = Repository::<Order>::new(&db);
    let mut o = order("o1", "ann", "10.50");
    repo.save(&mut o, Alone).await.unwrap();
    assert_eq!(o.version, 1);
    let stored = repo.collection().find_one(doc! { "_id": "o1" }).await.unwrap().unwrap();
    assert_eq!(stored.get_str("_id").unwrap(), "o1");
    assert_eq!(stored.get_i64("version").unwrap(), 1);
    assert!(stored.get("id").is_none(), "id is stored as _id only");
    let loaded = repo.get(&"o1".to_string(), Alone).await.unwrap().unwrap();
    assert_eq!(loaded, o, "Decimal128 and dates round-trip, version restored");
    assert!(repo.exists(&"o1".to_string(), Alone).await.unwrap());
    assert!(repo.delete(&"o1".to_string(), Some(1), Alone).await.unwrap());
    assert!(repo.get(&"o1".to_string(), Alone).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn load_modify_save_twice_in_a_row_just_works() {
    // Legacy defect: a loaded aggregate had version 0 and the second save failed.
    let db = support::database("save_twice").await;
    let repo = Repository::<Order>::new(&db);
    repo.save(&mut order("o1", "ann", "1"), Alone).await.unwrap();
    let mut loaded = repo.get(&"o1".to_string(), Alone).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    loaded.customer = "bob".into();
    repo.save(&mut loaded, Alone).await.unwrap();
    repo.save(&mut loaded, Alone).await.unwrap();
    assert_eq!(loaded.version, 3);
    let reloaded = repo.get(&"o1".to_string(), Alone).await.unwrap().unwrap();
    assert_eq!((reloaded.customer.as_str(), reloaded.version.get()), ("bob", 3));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_updates_from_one_version_let_exactly_one_win() {
    let db = support::database("concurrent_updates").await;
    let repo = Repository::<Order>::new(&db);
    repo.save(&mut order("o1", "ann", "1"), Alone).await.unwrap();
    let mut a = repo.get(&"o1".to_string(), Alone).await.unwrap().unwrap();
    let mut b = a.clone();
    a.customer = "a".into();
    b.customer = "b".into();
    let (ra, rb) = tokio::join!(repo.save(&mut a, Alone), repo.save(&mut b, Alone));
    let results = [ra, rb];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let err = results.into_iter().find_map(Result::err).unwrap();
    match err {
        Error::Concurrency { expected, actual, .. } => assert_eq!((expected, actual), (1, Some(2))),
        other => panic!("expected a concurrency error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_of_one_id_give_the_typed_concurrency_error() {
    let db = support::database("concurrent_creates").await;
    let repo = Repository::<Order>::new(&db);
    let (mut a, mut b) = (order("o1", "a", "1"), order("o1", "b", "1"));
    let (ra, rb) = tokio::join!(repo.save(&mut a, Alone), repo.save(&mut b, Alone));
    let errors: Vec<Error> = [ra, rb].into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], Error::Concurrency { expected: 0, actual: Some(1), .. }), "{:?}", errors[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_compile_specs_and_keep_order() {
    let db = support::database("queries").await;
    let repo = Repository::<Order>::new(&db);
    for (id, customer, total) in [("o1", "ann", "5"), ("o2", "bob", "50"), ("o3", "ann", "500"), ("o4", "cid", "7")] {
        repo.save(&mut order(id, customer, total), Alone).await.unwrap();
    }
    let ids: Vec<String> = ["o3", "zz", "o1"].iter().map(|s| s.to_string()).collect();
    let many = repo.get_many(&ids, Alone).await.unwrap();
    assert_eq!(many.found.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["o3", "o1"]);
    assert_eq!(many.missing, ["zz".to_string()]);

    let anns = json!({"op": "=", "attr": "customer", "val": "ann"});
    assert_eq!(repo.count(&anns, Alone).await.unwrap(), 2);
    let big = json!({"op": ">=", "attr": "total", "val": "50", "value_type": "decimal"});
    let found = repo.search(&big, Some(&QueryOptions::default().order_by("-total")), Alone).await.unwrap();
    assert_eq!(found.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["o3", "o2"]);
    assert_eq!(
        repo.find_one(&json!({"op": "=", "attr": "customer", "val": "cid"}), Alone).await.unwrap().unwrap().id,
        "o4"
    );
    let bad = repo.count(&json!({"op": "nope", "attr": "a", "val": 1}), Alone).await.unwrap_err();
    assert!(matches!(bad, Error::Spec(_)));
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_with_a_stale_version_is_a_concurrency_error() {
    let db = support::database("delete_stale").await;
    let repo = Repository::<Order>::new(&db);
    let mut o = order("o1", "ann", "1");
    repo.save(&mut o, Alone).await.unwrap();
    repo.save(&mut o, Alone).await.unwrap();
    let err = repo.delete(&"o1".to_string(), Some(1), Alone).await.unwrap_err();
    assert!(matches!(err, Error::Concurrency { expected: 1, actual: Some(2), .. }), "{err:?}");
    assert!(!repo.delete(&"missing".to_string(), None, Alone).await.unwrap());
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Customer {
    key: bson::Uuid,
    name: String,
    #[serde(default)]
    cached_score: u32,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Customer, "customers", bson::Uuid, id = key);

#[tokio::test(flavor = "multi_thread")]
async fn mappings_rename_exclude_and_keep_uuids_as_subtype_4() {
    use cqrs_mongo_persistence::repository::Mapping;
    let db = support::database("mapping").await;
    let mapping = Mapping::default().id_field("key").rename("name", "full_name").exclude("cached_score");
    let repo = Repository::<Customer>::with_mapping(&db, mapping);
    let key = bson::Uuid::parse_str("123e4567-e89b-12d3-a456-426614174000").unwrap();
    let mut customer = Customer { key, name: "Ann".into(), cached_score: 99, version: Version::default() };
    repo.save(&mut customer, Alone).await.unwrap();
    let stored = repo.collection().find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(stored.get_str("full_name").unwrap(), "Ann");
    assert!(stored.get("name").is_none() && stored.get("cached_score").is_none() && stored.get("key").is_none());
    match stored.get("_id") {
        Some(bson::Bson::Binary(b)) => assert_eq!(b.subtype, bson::spec::BinarySubtype::Uuid),
        other => panic!("the UUID id must be binary subtype 4, got {other:?}"),
    }
    let loaded = repo.get(&key, Alone).await.unwrap().unwrap();
    assert_eq!(loaded, Customer { cached_score: 0, version: Version::new(1), ..customer });
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_inside_a_unit_of_work_sees_its_own_writes() {
    let db = support::database("streaming_in_uow").await;
    let repo = Repository::<Order>::new(&db);
    let uow = db.begin().await.unwrap();
    for i in 0..25 {
        repo.save(&mut order(&format!("o{i:02}"), "t", "1"), &uow).await.unwrap();
    }
    let spec = json!({"op": "=", "attr": "customer", "val": "t"});
    let ids: Vec<String> = repo
        .search_stream_in(&spec, Some(&QueryOptions::default().order_by("_id")), 10, &uow)
        .await
        .unwrap()
        .map_ok(|o| o.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[24], "o24");
    uow.rollback().await.unwrap();
    assert_eq!(repo.count(&spec, Alone).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_field_named_in_the_macro_is_the_stored_id_with_the_default_repository() {
    let db = support::database("macro_id_field").await;
    let repo = Repository::<Customer>::new(&db);
    let key = bson::Uuid::parse_str("00000000-0000-4000-8000-000000000001").unwrap();
    let mut customer = Customer { key, name: "Bo".into(), cached_score: 1, version: Version::default() };
    repo.save(&mut customer, Alone).await.unwrap();
    customer.name = "Bo B.".into();
    repo.save(&mut customer, Alone).await.unwrap();
    let stored = repo.collection().find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(stored.get("_id"), Some(&bson::Bson::from(key)), "the id is Aggregate::id(), never null");
    assert!(stored.get("key").is_none(), "stored once, as _id");
    let loaded = repo.get(&key, Alone).await.unwrap().unwrap();
    assert_eq!((loaded.name.as_str(), loaded.version.get()), ("Bo B.", 2));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Draft {
    id: Option<String>,
    #[serde(default)]
    version: Version,
}

cqrs_mongo_persistence::aggregate!(Draft, "drafts", Option<String>);

#[tokio::test(flavor = "multi_thread")]
async fn a_null_id_or_an_id_field_the_struct_lacks_is_refused_before_writing() {
    use cqrs_mongo_persistence::repository::Mapping;
    let db = support::database("null_id").await;
    let drafts = Repository::<Draft>::new(&db);
    let mut draft = Draft { id: None, version: Version::default() };
    let err = drafts.save(&mut draft, Alone).await.unwrap_err();
    assert!(matches!(&err, Error::NullId { collection } if collection == "drafts"), "{err:?}");
    assert_eq!(draft.version, 0);
    let uow = db.begin().await.unwrap();
    assert!(matches!(drafts.save(&mut draft, &uow).await, Err(Error::NullId { .. })));
    uow.commit().await.unwrap();
    assert_eq!(drafts.collection().count_documents(doc! {}).await.unwrap(), 0, "nothing was written");

    // A mapping naming an id field the struct does not have.
    let customers = Repository::<Customer>::with_mapping(&db, Mapping::default().id_field("id"));
    let key = bson::Uuid::new();
    let err = customers
        .save(&mut Customer { key, name: "x".into(), cached_score: 0, version: Version::default() }, Alone)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::InvalidDocument { problem, .. } if problem.contains("\"id\"")), "{err:?}");
    assert_eq!(customers.collection().count_documents(doc! {}).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn selected_fields_are_refused_by_aggregate_searches_and_honoured_as_documents() {
    let db = support::database("search_options").await;
    let repo = Repository::<Order>::new(&db);
    for (id, customer, total) in [("o1", "ann", "10"), ("o2", "bob", "20"), ("o3", "ann", "30")] {
        repo.save(&mut order(id, customer, total), Alone).await.unwrap();
    }
    let all = json!({"op": "is_not_null", "attr": "_id"});
    let selected = QueryOptions::default().select(["customer"]).order_by("_id");
    for refused in [
        repo.search(&all, Some(&selected), Alone).await.map(|_| ()),
        repo.search_stream(&all, Some(&selected), 10).await.map(|_| ()),
        repo.search(&all, Some(&QueryOptions::default().distinct().select(["customer"])), Alone).await.map(|_| ()),
        repo.search(&all, Some(&QueryOptions::default().group_by(["customer"])), Alone).await.map(|_| ()),
    ] {
        assert!(
            matches!(&refused, Err(Error::Unsupported { reason, .. }) if reason.contains("search_documents")),
            "{refused:?}"
        );
    }
    let uow = db.begin().await.unwrap();
    let streamed = repo.search_stream_in(&all, Some(&selected), 10, &uow).await.map(|_| ());
    assert!(matches!(streamed, Err(Error::Unsupported { option: "select_fields", .. })), "{streamed:?}");
    drop(uow);

    let documents = repo.search_documents(&all, &selected, Alone).await.unwrap();
    assert_eq!(
        documents,
        [
            doc! { "_id": "o1", "customer": "ann" },
            doc! { "_id": "o2", "customer": "bob" },
            doc! { "_id": "o3", "customer": "ann" }
        ]
    );
    let distinct = QueryOptions::default().distinct().select(["customer"]).order_by("customer");
    let customers: Vec<String> = repo
        .search_documents(&all, &distinct, Alone)
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_str("customer").unwrap().to_owned())
        .collect();
    assert_eq!(customers, ["ann", "bob"]);
}
