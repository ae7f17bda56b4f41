//! A `tracing` span around every store operation, with its collection, operation name,
//! duration and outcome.

use std::future::Future;
use std::time::Instant;

use tracing::Instrument;

use crate::error::Result;

/// Runs `operation` in a span `store.<name>` and records how it went.
pub(crate) async fn traced<T>(
    collection: &str,
    name: &'static str,
    operation: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = tracing::info_span!(
        "store",
        collection,
        operation = name,
        duration_us = tracing::field::Empty,
        outcome = tracing::field::Empty
    );
    let start = Instant::now();
    let result = operation.instrument(span.clone()).await;
    span.record("duration_us", start.elapsed().as_micros() as u64);
    let outcome = match &result {
        Ok(_) => "ok",
        Err(crate::Error::Concurrency { .. }) => "concurrency_conflict",
        Err(_) => "error",
    };
    span.record("outcome", outcome);
    tracing::debug!(parent: &span, collection, operation = name, outcome, "store operation");
    result
}
