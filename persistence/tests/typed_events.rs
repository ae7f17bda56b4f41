//! Typed events: stored names and schema versions, decoding with serde paths in errors, event
//! sets dispatching on `event_type`, upcasters before decoding, and typed projections.

mod support;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{EventSet, ExpectedVersion, NewEvent, StoredEvent, Stream, Upcasters};
use cqrs_mongo_persistence::projections::{Handlers, Write};
use cqrs_mongo_persistence::{Alone, Error, EventStore, ProjectionRunner};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderPlaced {
    customer: String,
    lines: Vec<Line>,
}
cqrs_mongo_persistence::event!(OrderPlaced, "OrderPlaced");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderPaid {
    amount_cents: i64,
}
cqrs_mongo_persistence::event!(OrderPaid, "OrderPaid", version = 2);

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone, PartialEq)]
    enum OrderEvent {
        Placed(OrderPlaced),
        Paid(OrderPaid),
    }
}

fn stream(id: &str) -> Stream<'_> {
    Stream { aggregate_id: id, aggregate_type: "Order" }
}

fn placed() -> OrderPlaced {
    OrderPlaced {
        customer: "ada".into(),
        lines: vec![Line { sku: "a".into(), quantity: 1 }, Line { sku: "b".into(), quantity: 2 }],
    }
}

async fn raw(db: &cqrs_mongo_persistence::Connection, id: &str) -> Document {
    db.database().collection::<Document>("domain_events").find_one(doc! { "_id": id }).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_events_are_stored_in_the_legacy_shape_and_decode_back_with_their_metadata() {
    let (db, store) = support::runner::setup("typed_roundtrip").await;
    let mut first = NewEvent::typed("e1", &placed()).unwrap();
    first.correlation_id = Some("corr".into());
    let second = NewEvent::from_set("e2", &OrderEvent::Paid(OrderPaid { amount_cents: 300 })).unwrap();
    store.append(stream("o1"), ExpectedVersion::NoStream, &[first, second], Alone).await.unwrap();

    let stored = raw(&db, "e2").await;
    assert_eq!(stored.get_str("event_type").unwrap(), "OrderPaid");
    assert_eq!(stored.get_i32("schema_version").unwrap(), 2);
    assert_eq!(stored.get_document("payload").unwrap(), &doc! { "amount_cents": 300_i64 });
    let lines = raw(&db, "e1").await.get_document("payload").unwrap().get_array("lines").unwrap().len();
    assert_eq!(lines, 2);

    let events = store.read_stream("o1", 0, None, Alone).await.unwrap();
    assert_eq!(events[0].decode::<OrderPlaced>().unwrap(), placed());
    assert_eq!(events[0].correlation_id.as_deref(), Some("corr"), "metadata next to the decoded event");
    let decoded: Vec<OrderEvent> = events.iter().map(|e| e.decode_set::<OrderEvent>().unwrap().unwrap()).collect();
    assert_eq!(decoded, [OrderEvent::Placed(placed()), OrderEvent::Paid(OrderPaid { amount_cents: 300 })]);
    assert_eq!(OrderEvent::event_types(), ["OrderPlaced", "OrderPaid"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_that_does_not_decode_is_a_typed_error_naming_the_event_and_the_field_path() {
    let (_db, store) = support::runner::setup("typed_errors").await;
    let bad = NewEvent::new(
        "bad-1",
        "OrderPlaced",
        doc! { "customer": "ada", "lines": [ { "sku": "a", "quantity": 1 }, { "sku": "b", "quantity": "two" } ] },
    );
    let missing = NewEvent::new("bad-2", "OrderPlaced", doc! { "lines": [] });
    let old = NewEvent::new("old-1", "OrderPaid", doc! { "cents": 5 }); // schema version 1
    let other = NewEvent::new("other-1", "Shipped", doc! { "anything": true });
    store.append(stream("o2"), ExpectedVersion::NoStream, &[bad, missing, old, other], Alone).await.unwrap();
    let events = store.read_stream("o2", 0, None, Alone).await.unwrap();

    match events[0].decode::<OrderPlaced>().unwrap_err() {
        Error::Decode { event_id, event_type, path, message, source } => {
            assert!(source.is_some(), "the deserializer's error is kept");
            assert_eq!(
                (event_id.as_str(), event_type.as_str(), path.as_str()),
                ("bad-1", "OrderPlaced", "lines[1].quantity")
            );
            assert!(message.contains("string") || message.contains("invalid type"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let err = events[1].decode::<OrderPlaced>().unwrap_err();
    assert!(
        matches!(&err, Error::Decode { message, .. } if message.contains("customer")),
        "a missing field is named: {err}"
    );
    let err = events[2].decode::<OrderPaid>().unwrap_err();
    assert!(matches!(&err, Error::Decode { message, .. } if message.contains("schema version 1")), "{err}");
    let err = events[0].decode::<OrderPaid>().unwrap_err();
    assert!(matches!(&err, Error::Decode { message, .. } if message.contains("not a OrderPaid")), "{err}");
    // The whole set: an event of the set that does not decode is an error; one outside it is None.
    assert!(events[0].decode_set::<OrderEvent>().is_err());
    assert_eq!(events[3].decode_set::<OrderEvent>().unwrap(), None);

    // With an upcaster from version 1, the old payload decodes as version 2.
    fn cents_to_amount(mut payload: Document) -> Document {
        let cents = payload.remove("cents").unwrap_or(bson::Bson::Int64(0));
        payload.insert("amount_cents", cents);
        payload
    }
    let store = store.with_upcasters(Upcasters::default().register("OrderPaid", 1, cents_to_amount));
    let events = store.read_stream("o2", 0, None, Alone).await.unwrap();
    assert_eq!(events[2].decode::<OrderPaid>().unwrap(), OrderPaid { amount_cents: 5 });
}

/// The typed read model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Summary {
    customer: String,
    items: i64,
    paid_cents: Option<i64>,
}

#[derive(Serialize)]
struct PaidPart {
    paid_cents: i64,
}

/// Summaries from OrderPlaced and OrderPaid.
fn summaries_projection() -> Handlers {
    Handlers::new("typed_summaries")
        .collection("typed_summaries")
        .on(|e: OrderPlaced, meta: &StoredEvent| {
            let items = e.lines.iter().map(|l| l.quantity).sum();
            let summary = Summary { customer: e.customer, items, paid_cents: None };
            Ok(vec![Write::set_from("typed_summaries", meta.aggregate_id.as_str(), &summary)?])
        })
        .on(|e: OrderPaid, meta: &StoredEvent| {
            Ok(vec![Write::set_from(
                "typed_summaries",
                meta.aggregate_id.as_str(),
                &PaidPart { paid_cents: e.amount_cents },
            )?])
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typed_projection_builds_a_serde_read_model_and_skips_other_types_undecoded() {
    let (db, store) = support::runner::setup("typed_projection").await;
    let summaries = summaries_projection();
    let placed_event = NewEvent::typed("p1", &placed()).unwrap();
    // Not handled, and not decodable as anything: skipped without decoding.
    let noise = NewEvent::new("n1", "Audited", doc! { "lines": "not a list" });
    let paid = NewEvent::typed("q1", &OrderPaid { amount_cents: 700 }).unwrap();
    store.append(stream("o3"), ExpectedVersion::NoStream, &[placed_event, noise, paid], Alone).await.unwrap();
    let runner = ProjectionRunner::new(&db, &store, summaries);
    assert_eq!(runner.catch_up().await.unwrap(), 3);
    let stored =
        db.database().collection::<Document>("typed_summaries").find_one(doc! { "_id": "o3" }).await.unwrap().unwrap();
    let summary: Summary = bson::deserialize_from_document(stored).unwrap();
    assert_eq!(summary, Summary { customer: "ada".into(), items: 3, paid_cents: Some(700) });

    // A handled event that does not decode is parked by the default policy, with the path in
    // its error; a stopping policy ends the catch-up with the typed error.
    let broken = NewEvent::new("b1", "OrderPaid", doc! { "amount_cents": "seven" });
    let mut broken = broken;
    broken.schema_version = 2;
    store.append(stream("o4"), ExpectedVersion::NoStream, &[broken], Alone).await.unwrap();
    let strict = ProjectionRunner::new(&db, &store, summaries_projection())
        .on_failure(cqrs_mongo_persistence::runtime::RetryPolicy::stop_after(1));
    let err = strict.catch_up().await.unwrap_err();
    let Error::Handler { consumer, item, source } = &err else { panic!("{err:?}") };
    assert_eq!((consumer.as_str(), item.as_str()), ("typed_summaries", "b1"));
    assert!(
        matches!(source.downcast_ref::<Error>(), Some(Error::Decode { event_id, path, .. }) if event_id == "b1" && path == "amount_cents"),
        "{err}"
    );
    let lenient = runner.on_failure(cqrs_mongo_persistence::runtime::RetryPolicy::park_after(1));
    assert_eq!(lenient.catch_up().await.unwrap(), 0, "parked, not applied");
    let letter = cqrs_mongo_persistence::DeadLetters::new(&db).get("typed_summaries", "b1").await.unwrap().unwrap();
    assert!(letter.error.contains("amount_cents"), "{}", letter.error);
    let _: &EventStore = &store;
}
