//! What the service does when things fail on its side: a panicking handler is a JSON 500, logged
//! once as an error, and the service goes on; a database that does not answer makes `/ready` a
//! 503 in the common error shape, the driver's error logged and not sent (and `/health` stays
//! 200). Its own test binary: the fail point it arms is server-wide.

mod common;

use std::sync::{Arc, Mutex};

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

/// What a `tracing` subscriber writes, captured (plain text, no colours).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// A subscriber writing every event, `debug` and above, here.
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let logs = self.clone();
        tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_writer(move || logs.clone()).finish()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_handler_is_a_json_500_and_the_service_goes_on() {
    let routes = axum::Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "fine" }));
    let app = guarded(routes);
    let logs = Logs::default();
    let (status, body) = {
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        send(&app, "GET", "/boom", None).await
    };
    assert_eq!(body, json!({"code": "internal", "message": "internal error"}));
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // Logged once, as an error, with what panicked.
    let logged = logs.text();
    let lines: Vec<&str> = logged.lines().filter(|line| line.contains("a bug in a handler")).collect();
    assert!(lines.len() == 1 && lines[0].contains("ERROR") && lines[0].contains("/boom"), "{logged}");
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
    let logs = Logs::default();
    let (status, ready) = {
        let _capture = tracing::subscriber::set_default(logs.subscriber());
        send(&app, "GET", "/ready", None).await
    };
    // The service's common error shape, and nothing of the driver's text: that is logged.
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready, json!({"code": "database_unavailable", "message": ready["message"]}), "{ready}");
    let message = ready["message"].as_str().unwrap();
    assert!(message.contains("not ready") && !message.contains("BadValue") && !message.contains("ail"), "{message}");
    let logged = logs.text();
    let line = logged.lines().find(|line| line.contains("database_unavailable")).unwrap_or_else(|| panic!("{logged}"));
    assert!(line.contains("ERROR") && line.contains("/ready") && line.contains("BadValue"), "{line}");
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
