//! What the service does when things fail on its side: a panicking handler is a JSON 500 and
//! the service goes on; a database that does not answer makes `/ready` 503 (and `/health` stays
//! 200). Its own test binary: the fail point it arms is server-wide.

mod common;

use axum::http::StatusCode;
use axum::routing::get;
use bson::doc;
use common::{send, service};
use cqrs_mongo_persistence::testing::{database, test_name};
use cqrs_mongo_service::guarded;
use serde_json::json;

async fn boom() -> &'static str {
    panic!("a bug in a handler")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_handler_is_a_json_500_and_the_service_goes_on() {
    let routes = axum::Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "fine" }));
    let app = guarded(routes);
    let (status, body) = send(&app, "GET", "/boom", None).await;
    assert_eq!((status, &body["code"]), (StatusCode::INTERNAL_SERVER_ERROR, &json!("internal")));
    assert_eq!(send(&app, "GET", "/fine", None).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_is_503_while_the_database_fails_and_health_stays_200() {
    let db = database(test_name!()).await;
    let app = service(&db).await;
    assert_eq!(send(&app, "GET", "/ready", None).await.0, StatusCode::OK);
    db.client()
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": { "times": 1 },
            // A plain command failure (BadValue): the driver keeps the server, the ping fails.
            "data": { "failCommands": ["ping"], "errorCode": 2 },
        })
        .await
        .expect("configureFailPoint (the server must run with --enable-test-commands)");
    let (status, ready) = send(&app, "GET", "/ready", None).await;
    assert_eq!((status, &ready["status"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("unavailable")), "{ready}");
    assert_eq!(send(&app, "GET", "/health", None).await.0, StatusCode::OK);
    // Ready again once the database answers (bounded in time and tries, whatever the machine).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for attempt in 0.. {
        if send(&app, "GET", "/ready", None).await.0 == StatusCode::OK {
            break;
        }
        assert!(attempt < 600 && std::time::Instant::now() < deadline, "not ready again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
