//! Metrics (through the `metrics` facade: the crate installs no recorder, the application
//! picks the exporter) and W3C trace context carried with events, outbox messages and jobs.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `cqrs_consumer_lag_positions` | gauge | `kind` (`projection`, `subscription`), `name` | committed head minus the consumer's checkpoint, after each live catch-up |
//! | `cqrs_consumer_retries_total` | counter | `kind`, `name` | failed handler or `project` attempts that were retried |
//! | `cqrs_consumer_parked_total` | counter | `kind`, `name` | events parked in `dead_letters` |
//! | `cqrs_outbox_published_total` | counter | `worker` | messages the relay marked published |
//! | `cqrs_outbox_retries_total` | counter | `worker` | failed publish attempts scheduled again |
//! | `cqrs_outbox_dead_total` | counter | `worker` | messages parked as dead |
//! | `cqrs_outbox_backlog` | gauge | | pending messages (at most once a second, by the relay loop) |
//! | `cqrs_outbox_oldest_pending_seconds` | gauge | | age of the oldest pending message (0 when none) |
//! | `cqrs_jobs` | gauge | `status` | jobs by status (at most once a second, by an idle worker) |
//! | `cqrs_transaction_attempts` | histogram | | attempts per [`Connection::transaction`](crate::Connection::transaction) (also the runner's batches and the group commit); above 1 under contention |
//! | `cqrs_backoffs_total` | counter | `kind` (`projection`, `subscription`, `relay`, `worker`), `name` | waits of a loop because the database, or a handler's destination, was unavailable |
//! | `cqrs_stops_total` | counter | `kind`, `name` | runs ended by an error (a stopping policy, or a failure not caused by an item) |
//! | `cqrs_jobs_finished_total` | counter | `queue`, `outcome` (`completed`, `retried`, `parked`, `released`, `lease_lost`) | job attempts by outcome |
//!
//! **Trace context.** [`with_trace`] runs a future with a current [`TraceContext`] (for
//! example parsed from an incoming request's `traceparent` header, or taken from an
//! OpenTelemetry span). While one is current, every event appended, outbox message saved and
//! job enqueued gets `metadata.traceparent` (unless it already has one). The runner, a
//! subscription, the relay and the job worker restore it when they handle that event,
//! message or job: the handler runs in a `tracing` span carrying `trace_id` and
//! `traceparent`, with a child context current, so what it writes in turn continues the trace.
//! (A publisher's own `publish_batch` sends many messages at once: it gets each message's
//! `traceparent` in its metadata to forward, as the JetStream publisher does in a header.)

pub(crate) mod spans;

/// An error and its sources, `: `-separated, for logs: a source whose text the chain shows
/// already is left out, a driver error is given in one line. The form every loop of this crate
/// logs errors in.
pub use crate::runtime::retry::chain as error_chain;

use std::future::Future;

use bson::Document;

/// The metadata field holding the W3C `traceparent`.
pub const TRACEPARENT: &str = "traceparent";

/// A W3C trace context: trace id, parent span id, flags (`00-<trace>-<parent>-<flags>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0_u8; N];
    let mut filled = 0;
    while filled < N {
        let uuid = bson::Uuid::new().bytes();
        let take = (N - filled).min(uuid.len());
        out[filled..filled + take].copy_from_slice(&uuid[..take]);
        filled += take;
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0_u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl TraceContext {
    /// A new trace (random ids, sampled).
    pub fn new_root() -> Self {
        TraceContext { trace_id: random_bytes(), parent_id: random_bytes(), flags: 1 }
    }

    /// Parses a `traceparent` header (version `00`); `None` when it is not one (all-zero ids
    /// are invalid, as the W3C spec says).
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version != "00" || parts.next().is_some() {
            return None;
        }
        let context = TraceContext { trace_id: unhex(trace)?, parent_id: unhex(parent)?, flags: unhex::<1>(flags)?[0] };
        let zero = context.trace_id == [0; 16] || context.parent_id == [0; 8];
        (!zero).then_some(context)
    }

    /// The `traceparent` header.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.parent_id), self.flags)
    }

    /// The trace id as 32 hex digits.
    pub fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// A context for work caused by this one: same trace, new span id.
    pub fn child(&self) -> Self {
        TraceContext { parent_id: random_bytes(), ..*self }
    }

    /// The context current in this task, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|context| *context).ok()
    }
}

/// Runs `future` with `context` current (see the module docs).
pub async fn with_trace<F: Future>(context: TraceContext, future: F) -> F::Output {
    CURRENT.scope(context, future).await
}

/// Writes the current trace context into `metadata` unless it already has one.
pub(crate) fn stamp(metadata: &mut Document) {
    if !metadata.contains_key(TRACEPARENT)
        && let Some(context) = TraceContext::current()
    {
        metadata.insert(TRACEPARENT, context.header());
    }
}

/// Runs `future` (handling something whose metadata is `metadata`) under the trace it carries:
/// a `tracing` span with its ids, and a child context current.
pub(crate) async fn continue_trace<F: Future>(metadata: &Document, operation: &'static str, future: F) -> F::Output {
    use tracing::Instrument;
    match metadata.get_str(TRACEPARENT).ok().and_then(TraceContext::parse) {
        Some(context) => {
            let span = tracing::info_span!("handle", operation, trace_id = %context.trace_id(), traceparent = %context.header());
            with_trace(context.child(), future).instrument(span).await
        }
        None => future.await,
    }
}

/// The same for synchronous work (a projection's `project`).
pub(crate) fn in_trace<T>(metadata: &Document, operation: &'static str, work: impl FnOnce() -> T) -> T {
    match metadata.get_str(TRACEPARENT).ok().and_then(TraceContext::parse) {
        Some(context) => {
            let span = tracing::info_span!("handle", operation, trace_id = %context.trace_id(), traceparent = %context.header());
            span.in_scope(|| CURRENT.sync_scope(context.child(), work))
        }
        None => work(),
    }
}

pub(crate) fn consumer_lag(kind: &'static str, name: &str, lag: i64) {
    metrics::gauge!("cqrs_consumer_lag_positions", "kind" => kind, "name" => name.to_owned()).set(lag as f64);
}

pub(crate) fn consumer_retry(kind: &'static str, name: &str) {
    metrics::counter!("cqrs_consumer_retries_total", "kind" => kind, "name" => name.to_owned()).increment(1);
}

pub(crate) fn consumer_parked(kind: &'static str, name: &str, events: u64) {
    if events > 0 {
        metrics::counter!("cqrs_consumer_parked_total", "kind" => kind, "name" => name.to_owned()).increment(events);
    }
}

pub(crate) fn outbox_round(worker: &str, published: usize, retried: usize, dead: usize) {
    let worker = worker.to_owned();
    metrics::counter!("cqrs_outbox_published_total", "worker" => worker.clone()).increment(published as u64);
    metrics::counter!("cqrs_outbox_retries_total", "worker" => worker.clone()).increment(retried as u64);
    metrics::counter!("cqrs_outbox_dead_total", "worker" => worker).increment(dead as u64);
}

pub(crate) fn outbox_backlog(pending: u64, oldest_seconds: f64) {
    metrics::gauge!("cqrs_outbox_backlog").set(pending as f64);
    metrics::gauge!("cqrs_outbox_oldest_pending_seconds").set(oldest_seconds);
}

pub(crate) fn jobs_by_status(status: &str, count: u64) {
    metrics::gauge!("cqrs_jobs", "status" => status.to_owned()).set(count as f64);
}

pub(crate) fn transaction_attempts(attempts: u32) {
    metrics::histogram!("cqrs_transaction_attempts").record(f64::from(attempts));
}

pub(crate) fn backoff(kind: &'static str, name: &str) {
    metrics::counter!("cqrs_backoffs_total", "kind" => kind, "name" => name.to_owned()).increment(1);
}

pub(crate) fn stopped(kind: &'static str, name: &str) {
    metrics::counter!("cqrs_stops_total", "kind" => kind, "name" => name.to_owned()).increment(1);
}

pub(crate) fn job_finished(queue: &str, outcome: &'static str) {
    metrics::counter!("cqrs_jobs_finished_total", "queue" => queue.to_owned(), "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_headers_parse_and_print_back() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContext::parse(header).unwrap();
        assert_eq!(context.header(), header);
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = context.child();
        assert_eq!(child.trace_id(), context.trace_id());
        assert_ne!(child.header(), header);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
        let root = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&root.header()), Some(root));
    }

    #[test]
    fn stamping_uses_the_current_context_and_keeps_an_existing_one() {
        let mut empty = Document::new();
        stamp(&mut empty);
        assert!(empty.is_empty(), "no current context");
        let context = TraceContext::new_root();
        let (mut fresh, mut kept) = (Document::new(), bson::doc! { TRACEPARENT: "given" });
        CURRENT.sync_scope(context, || {
            stamp(&mut fresh);
            stamp(&mut kept);
        });
        assert_eq!(fresh.get_str(TRACEPARENT).unwrap(), context.header());
        assert_eq!(kept.get_str(TRACEPARENT).unwrap(), "given");
    }
}
