//! Logs and traces.
//!
//! - [`init_tracing`]: the binary's log output, through `tracing` on standard error, filtered
//!   by `RUST_LOG` (default `info`: the service's errors, the loops' warnings, leases taken).
//! - [`traced`]: each request runs in a `request` span (method, path, and the trace id when
//!   there is one). An incoming W3C `traceparent` header is made the current
//!   [`TraceContext`] for the handler (with a span id of the service's own), so every event
//!   appended and outbox message saved while handling it carries that trace in its
//!   `metadata.traceparent`, and the runner and the relay continue it. A header that is not a
//!   valid version-00 `traceparent` is ignored, as the W3C spec asks: the request is served
//!   without a trace context.
//! - [`log_errors`]: error answers are logged in one place, from the [`Failure`] an
//!   [`ApiError`](crate::error::ApiError) puts in its response (as axum's error-handling
//!   example does): server errors (5xx) with `tracing::error!` and the cause's source chain,
//!   client errors (4xx) at `debug`. The handlers log nothing themselves.

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
pub use cqrs_mongo_persistence::telemetry::error_chain as chain;
use cqrs_mongo_persistence::telemetry::{TraceContext, with_trace};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::error::Failure;

/// The header carrying the caller's trace context.
pub const TRACEPARENT: &str = "traceparent";

/// Installs the binary's subscriber: formatted lines on standard error, filtered by `RUST_LOG`
/// (`info` when unset or invalid). Call once, first thing in `main`.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// `routes` with each request in its span and under its caller's trace context.
pub fn traced(routes: Router) -> Router {
    routes.layer(from_fn(trace_request))
}

/// `routes` with every error answer logged once (see the module documentation).
pub fn log_errors(routes: Router) -> Router {
    routes.layer(from_fn(log_error_answer))
}

/// The trace context of a request's `traceparent` header, if it has a valid one.
pub fn incoming_trace(request: &Request) -> Option<TraceContext> {
    let mut headers = request.headers().get_all(TRACEPARENT).iter();
    // Two headers are as invalid as a malformed one (the W3C spec: ignore them).
    match (headers.next(), headers.next()) {
        (Some(header), None) => header.to_str().ok().and_then(TraceContext::parse),
        _ => None,
    }
}

async fn trace_request(request: Request, next: Next) -> Response {
    let context = incoming_trace(&request);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        trace_id = tracing::field::Empty,
    );
    match context {
        Some(context) => {
            span.record("trace_id", context.trace_id());
            // The service's own span in the caller's trace: what it writes names it as parent.
            with_trace(context.child(), next.run(request)).instrument(span).await
        }
        None => next.run(request).instrument(span).await,
    }
}

async fn log_error_answer(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    // Taken out once logged: a layer further out (the server's deadlines) logs only its own.
    if let Some(failure) = response.extensions_mut().remove::<Failure>() {
        log(&method, &path, response.status(), &failure);
    }
    response
}

/// Logs an error answer: a server error with `error!` and its cause, a client error at `debug`.
pub fn log(method: &Method, path: &str, status: StatusCode, failure: &Failure) {
    let cause = failure.source.as_deref().map(|source| chain(source));
    let cause = cause.as_deref();
    let (status, code, message) = (status.as_u16(), failure.code, failure.message.as_str());
    if status >= 500 {
        tracing::error!(%method, path, status, code, cause, "{message}");
    } else {
        tracing::debug!(%method, path, status, code, cause, "{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("the database did not answer")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_chain_names_every_source_once() {
        let err = Wrapper(std::io::Error::other("connection refused"));
        assert_eq!(chain(&err), "the database did not answer: connection refused");
        let repeated = std::io::Error::other("connection refused");
        assert_eq!(chain(&repeated), "connection refused");
    }

    fn request(headers: &[&str]) -> Request {
        let mut builder = Request::builder().uri("/");
        for header in headers {
            builder = builder.header(TRACEPARENT, *header);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn only_one_valid_traceparent_is_a_trace_context() {
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let trace = incoming_trace(&request(&[valid])).expect("a valid traceparent");
        assert_eq!(trace.trace_id(), "0af7651916cd43dd8448eb211c80319c");
        for ignored in [
            &[][..],
            &["nonsense"],
            &["00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"],
            &["00-00000000000000000000000000000000-b7ad6b7169203331-01"],
            &[valid, valid],
        ] {
            assert_eq!(incoming_trace(&request(ignored)), None, "{ignored:?}");
        }
    }
}
