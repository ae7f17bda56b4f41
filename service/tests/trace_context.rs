//! An incoming W3C `traceparent` over a real socket: the events and the outbox message the
//! request writes carry its trace (read back from the database), the binary logs in the
//! request's span with that trace id; a malformed or repeated header is ignored, never an
//! error.

mod common;

use bson::{Document, doc};
use common::binary::{Service, request_with};
use cqrs_mongo_persistence::Connection;
use cqrs_mongo_persistence::testing::test_name;

const ORDER: &str = r#"{"customer": "ada", "lines": [{"sku": "a", "quantity": 1, "price_cents": 100}]}"#;

fn order_with_id(id: &str) -> String {
    format!(r#"{{"id": "{id}", "customer": "ada", "lines": [{{"sku": "a", "quantity": 1, "price_cents": 100}}]}}"#)
}

/// The `metadata.traceparent` of every document of `collection` matching `filter`.
async fn traceparents(db: &Connection, collection: &str, filter: Document) -> Vec<Option<String>> {
    let mut cursor = db.database().collection::<Document>(collection).find(filter).await.unwrap();
    let mut documents = Vec::new();
    while cursor.advance().await.unwrap() {
        documents.push(cursor.deserialize_current().unwrap());
    }
    documents
        .iter()
        .map(|document| {
            let metadata = document.get_document("metadata").ok();
            metadata.and_then(|m| m.get_str("traceparent").ok()).map(str::to_owned)
        })
        .collect()
}

/// The trace id of a `traceparent`.
fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incoming_traceparent_is_carried_into_the_events_and_the_outbox_message() {
    let (service, db) = Service::start(test_name!(), &[("RUST_LOG", "info,cqrs_mongo_service=debug")]).await;
    let placed_in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let headers = [("traceparent", placed_in)];
    let placed = request_with(service.addr, "POST", "/orders", &headers, Some(&order_with_id("o-traced"))).await;
    assert_eq!(placed.status, 201, "{placed:?}");
    let paid_in = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let headers = [("traceparent", paid_in)];
    let paid = request_with(service.addr, "POST", "/orders/o-traced/pay", &headers, None).await;
    assert_eq!(paid.status, 200, "{paid:?}");

    let placed_event = traceparents(&db, "domain_events", doc! {"aggregate_id": "o-traced", "version": 1}).await;
    let paid_event = traceparents(&db, "domain_events", doc! {"aggregate_id": "o-traced", "version": 2}).await;
    let message = traceparents(&db, "outbox_messages", doc! {"aggregate_id": "o-traced"}).await;
    for (what, stored, sent) in [
        ("OrderPlaced", &placed_event, placed_in),
        ("OrderPaid", &paid_event, paid_in),
        ("outbox", &message, placed_in),
    ] {
        let [Some(stored)] = stored.as_slice() else { panic!("{what}: one document with a traceparent: {stored:?}") };
        assert_eq!(trace_id(stored), trace_id(sent), "{what}: {stored}");
        // Written by the service's own span in the caller's trace.
        assert_ne!(stored.as_str(), sent, "{what}");
    }

    // A request that fails is logged in its span, with the trace id.
    let missing = request_with(service.addr, "GET", "/orders/nope", &[("traceparent", paid_in)], None).await;
    assert_eq!(missing.status, 404, "{missing:?}");
    let trace = trace_id(paid_in);
    service
        .line_where("for the 404 with its trace id", |line| line.contains("not_found") && line.contains(trace))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_or_repeated_traceparent_is_ignored() {
    let (service, db) = Service::start(test_name!(), &[]).await;
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let cases: [(&str, &[(&str, &str)]); 6] = [
        ("o-none", &[]),
        ("o-garbage", &[("traceparent", "not a trace")]),
        ("o-version", &[("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]),
        ("o-zero", &[("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")]),
        ("o-upper", &[("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")]),
        ("o-twice", &[("traceparent", valid), ("traceparent", valid)]),
    ];
    for (id, headers) in cases {
        let answer = request_with(service.addr, "POST", "/orders", headers, Some(&order_with_id(id))).await;
        assert_eq!(answer.status, 201, "{id}: {answer:?}");
        let events = traceparents(&db, "domain_events", doc! {"aggregate_id": id}).await;
        let messages = traceparents(&db, "outbox_messages", doc! {"aggregate_id": id}).await;
        assert_eq!((events, messages), (vec![None], vec![None]), "{id}");
    }
    // And the service answers as before.
    let answer = request_with(service.addr, "POST", "/orders", &[("traceparent", "x")], Some(ORDER)).await;
    assert_eq!(answer.status, 201, "{answer:?}");
}
