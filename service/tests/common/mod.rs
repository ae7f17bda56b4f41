//! Calling the service's router in process (no socket), on a test database; [`binary`]: the
//! real binary on a real socket.

#![allow(dead_code)]

pub mod binary;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cqrs_mongo_persistence::Connection;
use cqrs_mongo_service::{App, background, router};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The router on `db` (indexes ensured), without the static page.
pub async fn service(db: &Connection) -> Router {
    background::ensure_indexes(db).await.unwrap();
    router(App::new(db), None)
}

/// Sends `method path` with `body` (raw bytes, JSON content type unless `content_type` says
/// otherwise); the status and the body parsed as JSON (`Value::Null` when it is not JSON).
pub async fn send_raw(
    app: &Router,
    method: &str,
    path: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = app.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Sends JSON.
pub async fn send(app: &Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    send_raw(app, method, path, bytes, Some("application/json")).await
}
