//! The orders example on the real server: placing stores the event and its outbox message in
//! one transaction, paying is checked against the folded state, and the typed projection
//! builds `order_summaries` documents that decode as `OrderSummary`.

use cqrs_mongo_persistence::testing as server;

use bson::{Document, doc};
use cqrs_mongo_demo::{Line, OrderSummary, PayError, SUMMARIES, order_store, order_summaries, pay_order, place_order};
use cqrs_mongo_persistence::{Alone, Error, EventStore, Outbox, ProjectionRunner};
use futures::TryStreamExt;

fn lines() -> [Line; 2] {
    [Line { sku: "a".into(), quantity: 2, price_cents: 1_000 }, Line { sku: "b".into(), quantity: 1, price_cents: 550 }]
}

#[tokio::test(flavor = "multi_thread")]
async fn placing_and_paying_orders_builds_typed_summaries() {
    let db = server::database("orders_example").await;
    let events = EventStore::new(&db);
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let outbox = Outbox::new(&db);
    let orders = order_store(&db, &events, &outbox);

    let placed = place_order(&orders, "o1", "ada", &lines()).await.unwrap();
    assert_eq!((placed.total_cents, placed.status.as_str(), placed.version()), (2_550, "placed", 1));
    place_order(&orders, "o2", "grace", &lines()[..1]).await.unwrap();
    let again = place_order(&orders, "o1", "linus", &lines()).await;
    assert!(matches!(again, Err(Error::Concurrency { expected: 0, actual: Some(1), .. })), "{again:?}");

    let paid = pay_order(&orders, "o1").await.unwrap();
    assert_eq!((paid.status.as_str(), paid.version()), ("paid", 2));
    match pay_order(&orders, "o1").await {
        Err(PayError::NotPayable { id, status }) => assert_eq!((id.as_str(), status.as_str()), ("o1", "paid")),
        other => panic!("paying o1 again: {other:?}"),
    }
    assert!(matches!(pay_order(&orders, "nope").await, Err(PayError::NotFound(id)) if id == "nope"));

    let messages: Vec<Document> = db
        .database()
        .collection("outbox_messages")
        .find(doc! {})
        .sort(doc! { "aggregate_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let published: Vec<&str> = messages.iter().map(|m| m.get_str("event_type").unwrap()).collect();
    assert_eq!(published, ["OrderPlaced", "OrderPlaced"], "only OrderPlaced goes to the outbox");
    let ids: Vec<&str> = messages.iter().map(|m| m.get_str("aggregate_id").unwrap()).collect();
    assert_eq!(ids, ["o1", "o2"]);
    assert_eq!(events.latest_position().await.unwrap(), 3);

    ProjectionRunner::new(&db, &events, order_summaries()).catch_up().await.unwrap();
    let summaries = db.database().collection::<Document>(SUMMARIES);
    let o1 = summaries.find_one(doc! { "_id": "o1" }).await.unwrap().unwrap();
    let o1: OrderSummary = bson::deserialize_from_document(o1).unwrap();
    assert_eq!((o1.customer.as_str(), o1.total, o1.items, o1.status.as_str()), ("ada", 25.5, 2, "paid"));
    let stored = events.read_stream("o1", 0, None, Alone).await.unwrap();
    assert_eq!(o1.placed_at, stored[0].occurred_at, "placed_at is the event's occurred_at");
    let o2: OrderSummary =
        bson::deserialize_from_document(summaries.find_one(doc! { "_id": "o2" }).await.unwrap().unwrap()).unwrap();
    assert_eq!((o2.total, o2.items, o2.status.as_str()), (20.0, 1, "placed"));
}
