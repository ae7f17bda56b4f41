//! The service's HTTP API on the real test server: orders placed, read and paid through
//! units of work, searched through the projection the runner builds in the same process,
//! errors as JSON with the right statuses.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{send, service};
use cqrs_mongo_persistence::testing::{database, test_name};
use cqrs_mongo_service::background;
use serde_json::{Value, json};

fn order(id: &str, customer: &str, quantity: i64, price_cents: i64) -> Value {
    json!({"id": id, "customer": customer, "lines": [{"sku": "sku-1", "quantity": quantity, "price_cents": price_cents}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn orders_are_placed_read_and_paid_with_typed_errors() {
    let db = database(test_name!()).await;
    let app = service(&db).await;
    let (status, placed) = send(&app, "POST", "/orders", Some(order("o-1", "ada", 3, 2_500))).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed, json!({"id": "o-1", "customer": "ada", "total_cents": 7_500, "status": "placed", "version": 1}));
    assert_eq!(send(&app, "GET", "/orders/o-1", None).await, (StatusCode::OK, placed.clone()));
    // The event and its outbox message were stored together.
    assert_eq!(
        db.database().collection::<bson::Document>("outbox_messages").count_documents(bson::doc! {}).await.unwrap(),
        1
    );

    let (status, paid) = send(&app, "POST", "/orders/o-1/pay", None).await;
    assert_eq!((status, &paid["status"], &paid["version"]), (StatusCode::OK, &json!("paid"), &json!(2)));
    let (status, again) = send(&app, "POST", "/orders/o-1/pay", None).await;
    assert_eq!((status, &again["code"]), (StatusCode::CONFLICT, &json!("invalid_transition")));
    let (status, taken) = send(&app, "POST", "/orders", Some(order("o-1", "bob", 1, 1))).await;
    assert_eq!((status, &taken["code"]), (StatusCode::CONFLICT, &json!("conflict")));
    for (method, path) in [("GET", "/orders/nope"), ("POST", "/orders/nope/pay"), ("GET", "/no/such/route")] {
        let (status, body) = send(&app, method, path, None).await;
        assert_eq!((status, &body["code"]), (StatusCode::NOT_FOUND, &json!("not_found")), "{method} {path}");
    }
    let (status, bad) = send(&app, "POST", "/orders", Some(order("o-2", "ada", 0, 100))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!((&bad["code"], &bad["path"]), (&json!("invalid_request"), &json!(["lines", 0, "quantity"])));
    let (status, generated) = send(
        &app,
        "POST",
        "/orders",
        Some(json!({"customer": "cy", "lines": [{"sku": "a", "quantity": 1, "price_cents": 5}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(generated["id"].as_str().unwrap().starts_with("o-"), "{generated}");
    let (status, body) = send(&app, "DELETE", "/orders/o-1", None).await;
    assert_eq!((status, &body["code"]), (StatusCode::METHOD_NOT_ALLOWED, &json!("method_not_allowed")));
}

/// Waits (at most a minute, whatever the machine's speed) until the search counts `n` orders.
async fn wait_for_summaries(app: &axum::Router, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, found) =
            send(app, "POST", "/orders/search", Some(json!({"spec": {"op": ">=", "attr": "total", "val": 0}}))).await;
        if found["total"] == json!(n) {
            return;
        }
        assert!(Instant::now() < deadline, "the runner did not apply {n} orders: {found}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn search_pages_the_read_model_with_the_schema_and_reports_spec_errors() {
    let db = database(test_name!()).await;
    let app = service(&db).await;
    let loops = background::start(&db, "api-test");
    // Totals 10, 20, ..., 120 (quantity n, price 10.00).
    for n in 1..=12_i64 {
        let (status, _) = send(&app, "POST", "/orders", Some(order(&format!("o-{n:02}"), "ada", n, 1_000))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    send(&app, "POST", "/orders/o-12/pay", None).await;
    wait_for_summaries(&app, 12).await;

    let search = json!({
        "spec": {"op": "and", "conditions": [{"op": ">=", "attr": "total", "val": 50}, {"op": "in", "attr": "status", "val": ["placed", "paid"]}]},
        "options": {"order_by": ["-total"], "limit": 3, "offset": 1},
    });
    let (status, page) = send(&app, "POST", "/orders/search", Some(search)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!((&page["total"], &page["offset"], &page["limit"]), (&json!(8), &json!(1), &json!(3)));
    let ids: Vec<&str> = page["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["o-11", "o-10", "o-09"]);
    assert_eq!(page["rows"][0]["total"], json!(110.0));
    assert_eq!(page["rows"][0]["status"], json!("placed"));

    // No spec (the page's empty filter): every order, paged and counted. A spec that is there is
    // compiled as it is: `null` and an empty group stay refused.
    for (body, limit) in [(json!({}), 10), (json!({"options": {"order_by": ["id"], "limit": 5}}), 5)] {
        let (status, all) = send(&app, "POST", "/orders/search", Some(body.clone())).await;
        assert_eq!(
            (status, &all["total"], &all["limit"]),
            (StatusCode::OK, &json!(12), &json!(limit)),
            "{body}: {all}"
        );
        assert_eq!(all["rows"].as_array().map(Vec::len), Some(limit), "{all}");
    }
    let (_, first) =
        send(&app, "POST", "/orders/search", Some(json!({"options": {"order_by": ["id"], "limit": 2}}))).await;
    assert_eq!((&first["rows"][0]["id"], &first["rows"][1]["id"]), (&json!("o-01"), &json!("o-02")));
    for (spec, code) in [(json!(null), "invalid_node"), (json!({"op": "and", "conditions": []}), "empty_group")] {
        let (status, err) = send(&app, "POST", "/orders/search", Some(json!({"spec": spec}))).await;
        assert_eq!((status, &err["code"]), (StatusCode::BAD_REQUEST, &json!(code)), "{spec}: {err}");
    }

    // `id` is the UI name of `_id` (the schema's stored path); the paid order shows as paid
    // once the runner has applied OrderPaid.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, one) =
            send(&app, "POST", "/orders/search", Some(json!({"spec": {"op": "=", "attr": "id", "val": "o-12"}}))).await;
        if one["rows"][0]["status"] == json!("paid") {
            assert_eq!(one["total"], json!(1));
            break;
        }
        assert!(Instant::now() < deadline, "OrderPaid not applied: {one}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A spec the schema refuses: 400 with the compiler's code and the path in the spec.
    let refused = json!({"spec": {"op": "and", "conditions": [
        {"op": "=", "attr": "status", "val": "placed"}, {"op": "like", "attr": "status", "val": "pl%"}]}});
    let (status, err) = send(&app, "POST", "/orders/search", Some(refused)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!((&err["code"], &err["path"]), (&json!("operator_not_allowed"), &json!(["conditions", 1, "op"])));
    let cases = [
        (json!({"spec": {"op": "=", "attr": "password", "val": "x"}}), "field_not_allowed", json!(["attr"])),
        (json!({"spec": {"op": "=", "attr": "status", "val": "lost"}}), "value_not_allowed", json!(["val"])),
        (json!({"spec": {"op": "=", "attr": "total", "val": "ten"}}), "invalid_cast", json!(["val"])),
        (
            json!({"spec": {"op": ">=", "attr": "total", "val": 1}, "options": {"limit": 1000}}),
            "invalid_option",
            json!(["options", "limit"]),
        ),
        (
            json!({"spec": {"op": ">=", "attr": "total", "val": 1}, "options": {"select_fields": ["customer"]}}),
            "invalid_option",
            json!(["options", "select_fields"]),
        ),
        (
            json!({"spec": {"op": ">=", "attr": "total", "val": 1}, "options": {"order_by": ["-password"]}}),
            "field_not_allowed",
            json!(["options", "order_by", 0]),
        ),
    ];
    for (body, code, path) in cases {
        let (status, err) = send(&app, "POST", "/orders/search", Some(body.clone())).await;
        assert_eq!((status, &err["code"], &err["path"]), (StatusCode::BAD_REQUEST, &json!(code), &path), "{body}");
    }
    loops.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_payments_of_one_order_pay_it_once() {
    let db = database(test_name!()).await;
    let app = service(&db).await;
    assert_eq!(send(&app, "POST", "/orders", Some(order("o-1", "ada", 1, 100))).await.0, StatusCode::CREATED);
    let payments: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { send(&app, "POST", "/orders/o-1/pay", None).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for payment in payments {
        let (status, body) = payment.await.unwrap();
        // The losers: already paid when they loaded it, or a lost race on the stream (both 409).
        let lost = body["code"] == json!("invalid_transition") || body["code"] == json!("conflict");
        assert!(status == StatusCode::OK || (status == StatusCode::CONFLICT && lost), "{status} {body}");
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    let (_, paid) = send(&app, "GET", "/orders/o-1", None).await;
    assert_eq!((&paid["status"], &paid["version"]), (&json!("paid"), &json!(2)), "one OrderPaid event");
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_health_and_readiness() {
    let db = database(test_name!()).await;
    let app = service(&db).await;
    let (status, schema) = send(&app, "GET", "/schema", None).await;
    assert_eq!(status, StatusCode::OK);
    let declared: cqrs_mongo_spec::FieldSchema = serde_json::from_str(cqrs_mongo_service::SCHEMA).unwrap();
    assert_eq!(schema["schema"], serde_json::to_value(&declared).unwrap());
    assert_eq!(schema["fields"], declared.querybuilder_fields());
    let names: Vec<&str> = schema["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["id", "customer", "total", "items", "status", "placed_at"]);
    assert_eq!(send(&app, "GET", "/health", None).await, (StatusCode::OK, json!({"status": "ok"})));
    let (status, ready) = send(&app, "GET", "/ready", None).await;
    assert_eq!((status, &ready["status"]), (StatusCode::OK, &json!("ready")));
}
