//! Time bounds on each request, answered in JSON. The body is read first, whole, within the body
//! timeout and at most [`MAX_BODY`] bytes: a body that does not arrive in time is 408
//! `body_timeout` (and the connection is closed, as its rest is never read), a larger one 413
//! `body_too_large`. Then the handler has the request timeout to answer, else 503
//! `request_timeout` (its work is dropped: a unit of work rolls back). Headers have their own
//! bound in the server ([`serve`](crate::serve)).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;
use crate::{MAX_BODY, observe};

/// `routes` with bodies read within `body` and handlers answering within `request`. The
/// answers made here are logged as the router's are ([`observe::log_errors`]).
pub fn bounded(routes: Router, body: Duration, request: Duration) -> Router {
    let routes =
        routes.layer(from_fn_with_state(request, answer_within)).layer(from_fn_with_state(body, read_body_within));
    observe::log_errors(routes)
}

/// Reads the whole body (at most [`MAX_BODY`] bytes) within `limit`, then passes the request on.
async fn read_body_within(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(limit, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return ApiError::body_too_large(MAX_BODY).into_response();
        }
        Ok(Err(err)) => {
            let message = format!("the request body could not be read: {err}");
            return ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message).into_response();
        }
        Err(_) => {
            let message = format!("the request body did not arrive within {}", seconds(limit));
            let mut response = ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", message).into_response();
            // The rest of the body is never read: the connection cannot carry another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The handler's answer, or a 503 when it takes longer than `limit`.
async fn answer_within(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!("the service did not answer within {}; try again", seconds(limit));
            let cause = format!("the handler took longer than {} (its work is dropped)", seconds(limit));
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "request_timeout", message)
                .with_source(cause)
                .into_response()
        }
    }
}

/// `1.5 s`.
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use axum::routing::post;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn echo(body: axum::body::Bytes) -> axum::body::Bytes {
        body
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        "late"
    }

    fn routes() -> Router {
        let routes = Router::new().route("/echo", post(echo)).route("/slow", post(slow));
        bounded(routes, Duration::from_secs(3600), Duration::from_millis(50))
    }

    async fn call(path: &str, body: Body) -> (StatusCode, serde_json::Value, Vec<u8>) {
        let request = Request::builder().method("POST").uri(path).body(body).unwrap();
        let response = routes().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, serde_json::from_slice(&bytes).unwrap_or_default(), bytes)
    }

    #[tokio::test]
    async fn a_body_within_the_limits_reaches_the_handler() {
        assert_eq!(call("/echo", Body::from("hello")).await.2, b"hello");
    }

    #[tokio::test]
    async fn a_body_over_the_size_limit_is_413() {
        let (status, body, _) = call("/echo", Body::from(vec![b'x'; MAX_BODY + 1])).await;
        assert_eq!((status, &body["code"]), (StatusCode::PAYLOAD_TOO_LARGE, &serde_json::json!("body_too_large")));
    }

    #[tokio::test]
    async fn a_handler_over_the_request_timeout_is_a_json_503() {
        let (status, body, _) = call("/slow", Body::empty()).await;
        assert_eq!((status, &body["code"]), (StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!("request_timeout")));
    }
}
