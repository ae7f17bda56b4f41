//! Metrics through the `metrics` facade (a debugging recorder installed for this test binary)
//! and W3C trace context written with events, outbox messages and jobs, and restored by the
//! runner, subscriptions, the relay and the job worker.

mod support;

use cqrs_mongo_persistence::runtime::Backoff;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, StoredEvent, Stream};
use cqrs_mongo_persistence::jobs::{ClaimedJob, NewJob};
use cqrs_mongo_persistence::outbox::{ClaimedMessage, OutboxMessage};
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::runtime::RetryPolicy;
use cqrs_mongo_persistence::telemetry::{TraceContext, with_trace};
use cqrs_mongo_persistence::{Alone, JobQueue, JobWorker, Outbox, OutboxRelay, ProjectionRunner, Result, Subscription};
use support::metrics::{metric, snapshotter};
use support::runner::wait_until;

/// Records the trace context current while it projects, and fails on `*-poison` events.
struct Tracing(Arc<Mutex<Vec<Option<TraceContext>>>>);

impl Projection for Tracing {
    fn name(&self) -> &str {
        "traced"
    }
    fn collections(&self) -> Vec<String> {
        vec!["traced".into()]
    }
    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        if event.event_id.ends_with("-poison") {
            return Err(cqrs_mongo_persistence::Error::InvalidDocument {
                collection: "domain_events".into(),
                id: "poison".into(),
                problem: "no".into(),
            });
        }
        self.0.lock().unwrap().push(TraceContext::current());
        Ok(vec![Write::set("traced", event.aggregate_id.as_str(), doc! { "seen": true })])
    }
}

async fn stored(db: &cqrs_mongo_persistence::Connection, collection: &str, id: &str) -> Document {
    db.database().collection::<Document>(collection).find_one(doc! { "_id": id }).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_travels_from_the_writer_to_every_consumer_and_metrics_are_reported() {
    snapshotter();
    let (db, events) = support::runner::setup("telemetry").await;
    let (outbox, jobs) = (Outbox::new(&db), JobQueue::new(&db));
    let origin = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    with_trace(origin, async {
        let stream = Stream { aggregate_id: "o1", aggregate_type: "Order" };
        let batch = [NewEvent::new("e1", "Placed", doc! {}), NewEvent::new("e2-poison", "Placed", doc! {})];
        events.append(stream, ExpectedVersion::NoStream, &batch, Alone).await.unwrap();
        outbox.save(&[OutboxMessage::new("m1", "Placed", doc! {}, "c")], Alone).await.unwrap();
        jobs.enqueue(NewJob::new("j1", "mail", doc! {}), Alone).await.unwrap();
    })
    .await;
    let header = origin.header();
    for (collection, id) in [("domain_events", "e1"), ("outbox_messages", "m1"), ("background_jobs", "j1")] {
        let metadata = stored(&db, collection, id).await.get_document("metadata").unwrap().clone();
        assert_eq!(metadata.get_str("traceparent").unwrap(), header, "{collection}");
    }
    let outside = NewEvent::new("e3", "Paid", doc! {});
    let stream = Stream { aggregate_id: "o2", aggregate_type: "Order" };
    events.append(stream, ExpectedVersion::NoStream, &[outside], Alone).await.unwrap();
    assert!(
        stored(&db, "domain_events", "e3").await.get_document("metadata").unwrap().is_empty(),
        "no trace, no field"
    );

    // The runner: project runs under the event's trace (a child context); the poison event
    // is parked and counted.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let policy = RetryPolicy::park_after(2).backoff(Backoff::new(Duration::from_millis(1), Duration::from_millis(1)));
    let runner = Arc::new(
        ProjectionRunner::new(&db, &events, Tracing(seen.clone()))
            .on_failure(policy)
            .poll_interval(Duration::from_millis(20)),
    );
    let running = support::runner::spawn_run(&runner);
    wait_until(|| runner.stats().events() == 2 && runner.stats().parked() == 1).await;
    running.stop().await;
    let contexts = seen.lock().unwrap().clone();
    let traced = contexts[0].expect("e1 carries a trace");
    assert_eq!(traced.trace_id(), origin.trace_id());
    assert_ne!(traced.header(), header, "a child span, not the writer's");
    assert_eq!(contexts[1], None, "e3 has none");
    assert_eq!(metric("cqrs_consumer_parked_total", &[("kind", "projection"), ("name", "traced")]), Some(1.0));
    assert_eq!(metric("cqrs_consumer_retries_total", &[("kind", "projection"), ("name", "traced")]), Some(1.0));
    assert_eq!(metric("cqrs_consumer_lag_positions", &[("kind", "projection"), ("name", "traced")]), Some(0.0));

    // A subscription's handler.
    let subscription = Subscription::new(&db, &events, "traced-mails").event_types(&["Placed"]);
    let handled: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let handler = {
        let handled = handled.clone();
        move |_event: StoredEvent| {
            let handled = handled.clone();
            async move {
                handled.lock().unwrap().push(TraceContext::current().map(|c| c.trace_id()));
                Ok::<(), String>(())
            }
        }
    };
    assert_eq!(subscription.catch_up(&handler).await.unwrap(), 2);
    assert_eq!(*handled.lock().unwrap(), [Some(origin.trace_id()), Some(origin.trace_id())]);

    // The relay (loop and round) and the job worker.
    let published: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let relay = OutboxRelay::new(&outbox, "traced-relay");
    let report = relay
        .run_once(|_message: ClaimedMessage| {
            let published = published.clone();
            async move {
                published.lock().unwrap().push(TraceContext::current().map(|c| c.trace_id()));
                Ok::<(), String>(())
            }
        })
        .await
        .unwrap();
    assert_eq!(report.published, 1);
    assert_eq!(*published.lock().unwrap(), [Some(origin.trace_id())]);
    let ran: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let mail = {
        let ran = ran.clone();
        move |_job: ClaimedJob| {
            let ran = ran.clone();
            async move {
                ran.lock().unwrap().push(TraceContext::current().map(|c| c.trace_id()));
                Ok::<(), String>(())
            }
        }
    };
    let worker =
        Arc::new(JobWorker::new(&jobs, "traced-worker").handle("mail", mail).poll_interval(Duration::from_millis(20)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let worker = worker.clone();
        tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    wait_until(|| worker.stats().completed() == 1).await;
    // The idle worker reports the queue's counts.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while metric("cqrs_jobs", &[("status", "COMPLETED")]) != Some(1.0) {
        assert!(std::time::Instant::now() < deadline, "no cqrs_jobs gauge");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(*ran.lock().unwrap(), [Some(origin.trace_id())]);
    assert_eq!(metric("cqrs_jobs_finished_total", &[("queue", "mail"), ("outcome", "completed")]), Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_loop_reports_published_messages_and_the_backlog() {
    snapshotter();
    let db = support::database("telemetry_relay").await;
    let outbox = Outbox::new(&db);
    let origin = TraceContext::new_root();
    with_trace(origin, outbox.save(&[OutboxMessage::new("b1", "Placed", doc! {}, "c")], Alone)).await.unwrap();
    outbox.save(&[OutboxMessage::new("b2", "Placed", doc! {}, "c")], Alone).await.unwrap();
    assert_eq!(outbox.backlog().await.unwrap().pending, 2);
    /// Records the trace current while each message is published (through the default
    /// `publish_batch`).
    #[derive(Default)]
    struct Sink(Mutex<Vec<(String, Option<String>)>>);
    impl cqrs_mongo_persistence::outbox::Publisher for Sink {
        type Error = String;
        async fn publish(&self, message: &ClaimedMessage) -> std::result::Result<(), String> {
            let trace = TraceContext::current().map(|c| c.trace_id());
            self.0.lock().unwrap().push((message.message_id.clone(), trace));
            Ok(())
        }
    }
    let sink = Arc::new(Sink::default());
    let relay = Arc::new(OutboxRelay::new(&outbox, "metrics-relay").poll_interval(Duration::from_millis(20)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let relay = relay.clone();
        let sink = sink.clone();
        tokio::spawn(async move {
            relay
                .run(sink.as_ref(), async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    wait_until(|| relay.stats().published() == 2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while metric("cqrs_outbox_backlog", &[]) != Some(0.0) {
        assert!(std::time::Instant::now() < deadline, "no backlog gauge of 0");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(metric("cqrs_outbox_published_total", &[("worker", "metrics-relay")]), Some(2.0));
    assert_eq!(metric("cqrs_outbox_oldest_pending_seconds", &[]), Some(0.0));
    assert_eq!(outbox.backlog().await.unwrap().pending, 0);
    let mut traces = sink.0.lock().unwrap().clone();
    traces.sort();
    assert_eq!(traces, [("b1".to_owned(), Some(origin.trace_id())), ("b2".to_owned(), None)]);
}
