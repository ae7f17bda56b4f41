//! What a user sees when a loop meets a failure: each park, each stop and each backoff streak is
//! a `tracing` event naming the loop, the item and the error chain, and is counted in the
//! metrics (a capturing subscriber and a debugging recorder are installed for this binary).

mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bson::doc;
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::runtime::{Backoff, RetryPolicy};
use cqrs_mongo_persistence::testing::fail_command;
use cqrs_mongo_persistence::{ProjectionRunner, Result};
use support::metrics::metric;
use support::runner::{append, wait_until};
use tracing::field::{Field, Visit};

/// Every event logged in this process, as `message key=value …`.
fn logged() -> &'static Mutex<Vec<String>> {
    static LOGGED: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LOGGED.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture).expect("the only subscriber of this test binary");
        Mutex::default()
    })
}

struct Capture;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?} "));
        } else {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value} "));
        } else {
            self.0.push_str(&format!("{}={value} ", field.name()));
        }
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        logged().lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The lines that start with `message` and contain every one of `parts`.
fn lines(message: &str, parts: &[&str]) -> Vec<String> {
    let logged = logged().lock().unwrap();
    logged.iter().filter(|l| l.starts_with(message) && parts.iter().all(|p| l.contains(p))).cloned().collect()
}

/// Counts events per stream; `bad` asks for an update the server refuses.
struct Refusing(&'static str, &'static str);

impl Projection for Refusing {
    fn name(&self) -> &str {
        self.0
    }
    fn collections(&self) -> Vec<String> {
        vec![format!("{}_streams", self.0)]
    }
    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        let update = if event.event_id == self.1 {
            doc! { "$sett": { "x": 1 } }
        } else {
            doc! { "$inc": { "n": 1 } }
        };
        Ok(vec![Write::update(format!("{}_streams", self.0), event.aggregate_id.as_str(), update)])
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parks_stops_and_backoff_streaks_are_logged_with_the_loop_the_item_and_the_error_chain_and_counted() {
    logged();
    support::metrics::snapshotter();
    let (db, events) = support::runner::setup("logged").await;
    append(&events, "e", 2, 2).await;
    let quick = Backoff::new(Duration::from_millis(1), Duration::from_millis(5));

    // A park.
    let parking = ProjectionRunner::new(&db, &events, Refusing("parking", "e-1-0"))
        .on_failure(RetryPolicy::park_after(2).backoff(quick));
    assert_eq!(parking.catch_up().await.unwrap(), 3);
    let parked = lines("event parked", &["subscription=parking", "event_id=e-1-0", "refused"]);
    assert_eq!(parked.len(), 1, "{:?}", logged().lock().unwrap());
    assert_eq!(metric("cqrs_consumer_parked_total", &[("kind", "projection"), ("name", "parking")]), Some(1.0));

    // A stop.
    let stopping = ProjectionRunner::new(&db, &events, Refusing("stopping", "e-1-0"))
        .on_failure(RetryPolicy::stop_after(1))
        .poll_interval(Duration::from_millis(20));
    assert!(stopping.run(std::future::pending()).await.is_err());
    let stopped = lines("stopped", &["loop_kind=projection", "name=stopping", "failed on e-1-0", "refused"]);
    assert_eq!(stopped.len(), 1, "{:?}", logged().lock().unwrap());
    assert_eq!(metric("cqrs_stops_total", &[("kind", "projection"), ("name", "stopping")]), Some(1.0));

    // A backoff streak: logged when it starts and when it ends, each wait counted.
    let streaky = Arc::new(
        ProjectionRunner::new(&db, &events, Refusing("streaky", "none"))
            .on_unavailable(Backoff::new(Duration::from_millis(10), Duration::from_millis(20)))
            .poll_interval(Duration::from_millis(20)),
    );
    let armed = fail_command(&db, &["find", "findAndModify", "update"], "alwaysOn", doc! { "errorCode": 91 }).await;
    let running = support::runner::spawn_run(&streaky);
    wait_until(|| streaky.stats().follow().backoffs() >= 3).await;
    armed.disarm().await;
    wait_until(|| streaky.stats().events() == 4).await;
    running.stop().await;
    let started = lines("unavailable; backing off", &["loop_kind=projection", "name=streaky", "ShutdownInProgress"]);
    assert!(!started.is_empty(), "{:?}", logged().lock().unwrap());
    assert_eq!(lines("available again; resumed", &["name=streaky"]).len(), started.len(), "each streak ends once");
    let backoffs = metric("cqrs_backoffs_total", &[("kind", "projection"), ("name", "streaky")]).unwrap_or(0.0);
    assert_eq!(backoffs as u64, streaky.stats().follow().backoffs(), "every wait is counted");
}
