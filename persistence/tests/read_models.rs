//! Typed read models: one handle (`ReadModel<T>`) names the collection and the document type;
//! projection handlers write through it, readers get, find, count and page `T`s; options that
//! would make partial rows are refused, and a document that does not decode is an error.

mod support;

use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent};
use cqrs_mongo_persistence::projections::{Applied, Handlers, ReadModel};
use cqrs_mongo_persistence::{Alone, Error, EventStore, ProjectionRunner, ProjectionStore};
use cqrs_mongo_spec::QueryOptions;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ticket {
    #[serde(rename = "_id", default, skip_serializing)]
    id: String,
    title: String,
    points: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Opened {
    title: String,
    points: i64,
}
cqrs_mongo_persistence::event!(Opened, "TicketOpened");

fn tickets() -> ReadModel<Ticket> {
    ReadModel::new("tickets")
}

fn options(json: serde_json::Value) -> QueryOptions {
    QueryOptions::from_value(&json).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn handlers_write_through_the_model_and_readers_get_typed_pages() {
    let db = support::database("read_model_pages").await;
    let events = EventStore::new(&db);
    for n in 1..=5_i64 {
        let opened = NewEvent::typed(format!("e{n}"), &Opened { title: format!("t{n}"), points: n }).unwrap();
        let stream =
            cqrs_mongo_persistence::event_store::Stream { aggregate_id: &format!("k{n}"), aggregate_type: "Ticket" };
        events.append(stream, ExpectedVersion::NoStream, &[opened], Alone).await.unwrap();
    }
    let model = tickets();
    let writes = model.clone();
    let handlers = Handlers::new("tickets").writes(&model).on(move |e: Opened, meta| {
        let ticket = Ticket { id: String::new(), title: e.title, points: e.points };
        Ok(vec![writes.set(meta.aggregate_id.as_str(), &ticket)?])
    });
    assert_eq!(ProjectionRunner::new(&db, &events, handlers).catch_up().await.unwrap(), 5);

    let store = ProjectionStore::new(&db);
    let reader = store.read(&model);
    let got = reader.get("k2", Alone).await.unwrap().unwrap();
    assert_eq!(got, Ticket { id: "k2".into(), title: "t2".into(), points: 2 }, "the id comes from `_id`");
    let over_one = json!({"op": ">", "attr": "points", "val": 1});
    let paging = options(json!({"order_by": ["-points"], "limit": 2, "offset": 1}));
    let page = reader.page(&over_one, &paging, Alone).await.unwrap();
    let ids: Vec<&str> = page.rows.iter().map(|t| t.id.as_str()).collect();
    assert_eq!((ids, page.total, page.skip, page.limit), (vec!["k4", "k3"], 4, 1, Some(2)));
    assert!(page.has_more());
    assert_eq!(reader.count(&over_one, Alone).await.unwrap(), 4);
    assert_eq!(reader.find(&over_one, &options(json!({"limit": 10})), Alone).await.unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn options_that_make_partial_rows_are_refused_and_bad_documents_are_errors() {
    let db = support::database("read_model_refusals").await;
    let store = ProjectionStore::new(&db);
    let applied = Applied { event_id: "e1", position: 1 };
    store.upsert("tickets", "ok", bson::doc! { "title": "fine", "points": 1 }, applied, Alone).await.unwrap();
    let all = json!({"op": "is_not_null", "attr": "title"});
    let model = tickets();
    let reader = store.read(&model);
    for (option, json) in [
        ("select_fields", json!({"select_fields": ["title"]})),
        ("distinct", json!({"distinct": true, "select_fields": ["title"]})),
        ("group_by", json!({"group_by": ["title"]})),
    ] {
        match reader.find(&all, &options(json), Alone).await {
            Err(Error::Unsupported { option: refused, .. }) => assert_eq!(refused, option),
            other => panic!("{option}: {other:?}"),
        }
    }
    let applied = Applied { event_id: "e2", position: 2 };
    store.upsert("tickets", "bad", bson::doc! { "title": "broken", "points": "many" }, applied, Alone).await.unwrap();
    assert!(matches!(reader.get("bad", Alone).await, Err(Error::Serialization { .. })));
    assert!(matches!(reader.find(&all, &QueryOptions::default(), Alone).await, Err(Error::Serialization { .. })));
    assert_eq!(reader.get("ok", Alone).await.unwrap().unwrap().title, "fine");
}
