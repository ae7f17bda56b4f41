//! The demo's long-running parts, two replicas of each: projection runners of
//! `order_summaries` (one leads, one stands by) and outbox relays (competing for messages),
//! publishing to stdout through a publisher that counts every delivery.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_mongo_persistence::{
    ClaimedMessage, Connection, EventStore, Handlers, Outbox, OutboxRelay, ProjectionRunner, Publisher, Result,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::order_summaries;

/// Prints each message and counts its deliveries by message id.
#[derive(Debug, Default)]
pub struct Stdout {
    deliveries: Mutex<BTreeMap<String, u32>>,
}

impl Stdout {
    /// (distinct messages delivered, deliveries beyond the first of each).
    pub fn tally(&self) -> (usize, u32) {
        let deliveries = self.deliveries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (deliveries.len(), deliveries.values().map(|n| n - 1).sum())
    }
}

impl Publisher for Stdout {
    type Error = std::convert::Infallible;

    async fn publish(&self, message: &ClaimedMessage) -> std::result::Result<(), Self::Error> {
        let payload = bson::Bson::Document(message.payload.clone()).into_relaxed_extjson();
        println!("   -> {} {} {payload}", message.event_type, message.message_id);
        let mut deliveries = self.deliveries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *deliveries.entry(message.message_id.clone()).or_default() += 1;
        Ok(())
    }
}

/// One running replica: its task and what stops it cleanly.
pub struct Replica<T> {
    /// What it runs.
    pub inner: Arc<T>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<()>>,
}

impl<T> Replica<T> {
    /// Kills it: the task is aborted mid-run, nothing is released.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Stops it cleanly and returns how its run ended.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap_or(Ok(()))
    }
}

/// A replica of the `order_summaries` runner named `name`, with a short lease.
pub fn runner(db: &Connection, events: &EventStore, name: &str) -> Replica<ProjectionRunner<Handlers>> {
    let runner = Arc::new(
        ProjectionRunner::new(db, events, order_summaries())
            .poll_interval(Duration::from_millis(100))
            .lease_period(Duration::from_secs(1))
            .replica_name(name),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let inner = runner.clone();
    let task = tokio::spawn(async move {
        inner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    Replica { inner: runner, stop: Some(stop), task }
}

/// A relay named `name` publishing through `publisher`.
pub fn relay(outbox: &Outbox, name: &str, publisher: &Arc<Stdout>) -> Replica<OutboxRelay> {
    let relay = Arc::new(
        OutboxRelay::new(outbox, name)
            .batch_size(50)
            .lease_period(Duration::from_secs(2))
            .poll_interval(Duration::from_millis(100)),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let (inner, publisher) = (relay.clone(), publisher.clone());
    let task = tokio::spawn(async move {
        inner
            .run(publisher.as_ref(), async {
                let _ = stopped.await;
            })
            .await
    });
    Replica { inner: relay, stop: Some(stop), task }
}

/// Waits (at most `limit`) until `done` says so.
pub async fn wait_for(
    what: &str,
    limit: Duration,
    mut done: impl AsyncFnMut() -> Result<bool>,
) -> std::result::Result<(), String> {
    let started = std::time::Instant::now();
    while !done().await.map_err(|e| e.to_string())? {
        if started.elapsed() > limit {
            return Err(format!("{what}: not done in {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
