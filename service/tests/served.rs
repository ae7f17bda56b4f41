//! What the running binary answers over a real socket, with the page and the npm package mounted
//! as in production: every error in the service's JSON shape with the right status, whoever made
//! it (a route, the static files, the framework), HEAD included; a search refused by the
//! compiler or by the database server is the client's 400, never a 5xx.

mod common;

use bson::doc;
use common::binary::{Service, assert_json_error, fail_point, request};
use cqrs_mongo_persistence::testing::{database_name, test_name};
use serde_json::json;

async fn search(service: &Service, body: serde_json::Value) -> common::binary::Answer {
    request(service.addr, "POST", "/orders/search", Some(&body.to_string())).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_json_with_its_status_static_files_and_head_included() {
    let (service, _db) = Service::start(test_name!(), &[]).await;
    for (method, path, status, code) in [
        ("HEAD", "/%00", 400, "invalid_path"),
        ("GET", "/%00", 400, "invalid_path"),
        ("GET", "/pkg/js/%01.mjs", 400, "invalid_path"),
        ("POST", "/orders/", 405, "method_not_allowed"),
        ("DELETE", "/", 405, "method_not_allowed"),
        ("PUT", "/nope", 405, "method_not_allowed"),
        ("HEAD", "/nope", 404, "not_found"),
        ("GET", "/nope", 404, "not_found"),
        ("GET", "/pkg/js/nope.mjs", 404, "not_found"),
        ("HEAD", "/pkg/js/nope.mjs", 404, "not_found"),
        ("GET", "/pkg/demo/nope.css", 404, "not_found"),
        ("DELETE", "/orders/o-1", 405, "method_not_allowed"),
        ("GET", "/orders/nope", 404, "not_found"),
    ] {
        let answer = request(service.addr, method, path, None).await;
        assert_json_error(&answer, status, code, method == "HEAD");
    }
    // The static files and the API still answer as before.
    let page = request(service.addr, "GET", "/", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.header("content-type").unwrap().starts_with("text/html"), "{page:?}");
    assert_eq!(request(service.addr, "GET", "/health", None).await.json(), json!({"status": "ok"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_search_longer_than_the_servers_regex_cap_is_the_compilers_refusal() {
    let (service, _db) = Service::start(test_name!(), &[]).await;
    // `icontains` becomes a regex; SecantusDB refuses patterns over 1 000 characters.
    let spec = json!({"op": "icontains", "attr": "customer", "val": "a".repeat(1001)});
    let answer = search(&service, json!({"spec": spec})).await;
    assert_json_error(&answer, 400, "string_too_long", false);
    assert_eq!(answer.json()["path"], json!(["val"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integer_beyond_64_bits_is_the_compilers_invalid_value_at_its_path() {
    let (service, _db) = Service::start(test_name!(), &[]).await;
    // As text: serde_json would make the number a double before any check could see it.
    for (body, path) in [
        (r#"{"spec": {"op": "=", "attr": "total", "val": 18446744073709551616}}"#, json!(["val"])),
        (
            r#"{"spec": {"op": "=", "attr": "total", "val": 1}, "options": {"limit": 18446744073709551616}}"#,
            json!(["options", "limit"]),
        ),
    ] {
        let answer = request(service.addr, "POST", "/orders/search", Some(body)).await;
        assert_json_error(&answer, 400, "invalid_value", false);
        assert_eq!(answer.json()["path"], path, "{body}");
    }
    let fine = search(&service, json!({"spec": {"op": "=", "attr": "total", "val": 1}, "options": null})).await;
    assert_eq!(fine.status, 200, "{fine:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_the_database_refuses_is_a_400_naming_the_refusal() {
    let (service, db) = Service::start(test_name!(), &[]).await;
    let app = database_name(test_name!());
    let spec = json!({"spec": {"op": "=", "attr": "status", "val": "placed"}});
    assert_eq!(search(&service, spec.clone()).await.status, 200);
    // The server answers the service's queries with BadValue (what it says to a regex over its
    // cap): the database is up, the command is refused.
    fail_point(&db, &app, "alwaysOn".into(), doc! { "failCommands": ["find", "aggregate"], "errorCode": 2 }).await;
    let refused = search(&service, spec.clone()).await;
    fail_point(&db, &app, "off".into(), doc! {}).await;
    assert_json_error(&refused, 400, "query_refused", false);
    let message = refused.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("refused") && message.contains("BadValue"), "{message}");
    assert_eq!(search(&service, spec).await.status, 200);
}
