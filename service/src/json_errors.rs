//! Every error answer is JSON, whoever made it. The handlers answer with [`ApiError`]s already;
//! what they do not make — tower-http's `ServeDir` (a 404 for a missing file, a 405 for a method
//! other than GET and HEAD, a 500 for a path the file system refuses), a framework rejection —
//! comes back as a status with an empty or plain-text body. One layer over the whole router
//! gives any 4xx or 5xx answer without a JSON content type the service's shape for its status,
//! `{"code", "message"}`, keeping its status and its other headers (`Allow` on a 405). A HEAD
//! answer keeps its status and JSON content type; hyper sends no body for it.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// `routes`, with every 4xx and 5xx answer in the service's JSON error shape.
pub fn json_errors(routes: Router) -> Router {
    routes.layer(axum::middleware::map_response(as_json))
}

async fn as_json(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut error = ApiError::new(status, code_of(status), message_of(status));
    if status.is_server_error() {
        error = error.with_source(format!("a {status} answer without a JSON body (now answered as JSON)"));
    }
    let (answer, body) = error.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.extend(answer.headers);
    // What to log (see `observe`).
    parts.extensions.extend(answer.extensions);
    Response::from_parts(parts, body)
}

/// True when the `Content-Type` is JSON (`application/json`, with or without parameters).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The stable code of an answer made without one: the code the service uses for the same
/// status elsewhere, else `client_error` or `server_error`.
pub fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "body_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::RANGE_NOT_SATISFIABLE => "range_not_satisfiable",
        StatusCode::INTERNAL_SERVER_ERROR => "internal",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_server_error() => "server_error",
        _ => "client_error",
    }
}

fn message_of(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such route or file".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take that method".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal error".into(),
        status => status.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn call(routes: &Router, method: &str) -> (StatusCode, HeaderMap, serde_json::Value) {
        let request = Request::builder().method(method).uri("/x").body(Body::empty()).unwrap();
        let response = routes.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_bare_status_becomes_the_json_shape_and_keeps_its_headers() {
        let bare = || async { (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")], "plain text") };
        let routes = json_errors(Router::new().route("/x", get(bare)));
        let (status, headers, body) = call(&routes, "GET").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "GET, HEAD");
        assert!(is_json(&headers), "{headers:?}");
        assert_eq!(body["code"], "method_not_allowed");
        assert_eq!(body["message"], "this route does not take that method");
    }

    #[tokio::test]
    async fn json_answers_and_successes_are_left_as_they_are() {
        let routes = json_errors(
            Router::new()
                .route("/x", get(|| async { ApiError::new(StatusCode::CONFLICT, "mine", "as made") }))
                .route("/y", get(|| async { "fine" })),
        );
        let (status, _, body) = call(&routes, "GET").await;
        assert_eq!((status, &body["code"]), (StatusCode::CONFLICT, &serde_json::json!("mine")));
        let request = Request::builder().uri("/y").body(Body::empty()).unwrap();
        let response = routes.oneshot(request).await.unwrap();
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "fine");
    }

    #[test]
    fn codes_are_snake_case_for_every_error_status() {
        for code in 400..600 {
            let status = StatusCode::from_u16(code).unwrap();
            let name = code_of(status);
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}: {name}");
        }
        assert_eq!(code_of(StatusCode::IM_A_TEAPOT), "client_error");
    }
}
