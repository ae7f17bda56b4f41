//! The demo's long-running parts, two replicas of each: projection runners of
//! `order_summaries` (one leads, one stands by) and outbox relays (competing for messages),
//! publishing to stdout through a publisher that counts every delivery. Each runs in a task of
//! its own ([`Running`]: `stop` ends it cleanly, `abort` kills it mid-run; the handle derefs to
//! the loop, for its position, leader and stats).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cqrs_mongo_persistence::outbox::{ClaimedMessage, Publisher};
use cqrs_mongo_persistence::projections::Handlers;
use cqrs_mongo_persistence::runtime::Running;
use cqrs_mongo_persistence::{Connection, EventStore, Outbox, OutboxRelay, ProjectionRunner, Result};

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

/// The `order_summaries` runner named `name`, with a short lease (not running yet: for its
/// indexes, a rebuild, or [`ProjectionRunner::spawn`]).
pub fn summaries_runner(db: &Connection, events: &EventStore, name: &str) -> ProjectionRunner<Handlers> {
    ProjectionRunner::new(db, events, order_summaries())
        .poll_interval(Duration::from_millis(100))
        .lease_period(Duration::from_secs(1))
        .replica_name(name)
}

/// A running replica of the `order_summaries` runner named `name`.
pub fn runner(db: &Connection, events: &EventStore, name: &str) -> Running<ProjectionRunner<Handlers>> {
    summaries_runner(db, events, name).spawn()
}

/// The relay named `name` (not running).
pub fn outbox_relay(outbox: &Outbox, name: &str) -> OutboxRelay {
    OutboxRelay::new(outbox, name)
        .batch_size(50)
        .lease_period(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(100))
}

/// A running relay named `name` publishing through `publisher`.
pub fn relay(outbox: &Outbox, name: &str, publisher: &Arc<Stdout>) -> Running<OutboxRelay> {
    outbox_relay(outbox, name).spawn(publisher.clone())
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
