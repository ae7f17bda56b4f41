//! The loops that run next to the handlers: the `order_summaries` projection runner and the
//! outbox relay (publishing to stdout). Several service processes may run: the runner leads by
//! a lease (the others stand by) and relays compete for messages.

use std::sync::Arc;

use cqrs_mongo_demo::replicas::{self, Stdout};
use cqrs_mongo_persistence::projections::Handlers;
use cqrs_mongo_persistence::runtime::Running;
use cqrs_mongo_persistence::store::IndexReport;
use cqrs_mongo_persistence::{Connection, EventStore, Outbox, OutboxRelay, ProjectionRunner, Result};

/// The running loops.
pub struct Background {
    runner: Running<ProjectionRunner<Handlers>>,
    relay: Running<OutboxRelay>,
}

/// Ensures every index the service's stores and loops need: the event store's, the outbox's,
/// `order_summaries`' and `dead_letters'` (where the runner parks events), in one call.
pub async fn ensure_indexes(db: &Connection) -> Result<IndexReport> {
    let events = EventStore::new(db);
    let runner = replicas::summaries_runner(db, &events, "indexes");
    db.ensure_indexes_of(&[&events, &Outbox::new(db), &runner]).await
}

/// Starts the runner and the relay, named after `replica` (e.g. the host name).
pub fn start(db: &Connection, replica: &str) -> Background {
    let events = EventStore::new(db);
    let outbox = Outbox::new(db);
    let publisher = Arc::new(Stdout::default());
    Background {
        runner: replicas::runner(db, &events, &format!("{replica}-runner")),
        relay: replicas::relay(&outbox, &format!("{replica}-relay"), &publisher),
    }
}

impl Background {
    /// Stops both cleanly (the runner finishes its batch and hands its lease over, the relay
    /// finishes its round) and returns the first failure.
    pub async fn stop(self) -> Result<()> {
        let (runner, relay) = tokio::join!(self.runner.stop(), self.relay.stop());
        runner.and(relay)
    }
}
