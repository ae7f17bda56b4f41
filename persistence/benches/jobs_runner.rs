//! Job claims per second (1 and 8 workers) and projection runner catch-up (with and without
//! the per-batch transaction), same server, same run.
//!
//! `bash scripts/bench-persistence.sh jobs_runner` (starts secantusd-rs, sets MONGODB_URI).

use std::time::Instant;

use bson::{DateTime, Document, doc};
use cqrs_mongo_persistence::event_store::StoredEvent;
use cqrs_mongo_persistence::projections::{Projection, Write};
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{Connection, EventStore, JobQueue, ProjectionRunner, Result};

const JOBS: usize = 4_000;
const EVENTS: i64 = 20_000;

#[path = "support/claims.rs"]
mod claims;

async fn claims_per_second(db: &Connection, workers: usize, batch: usize) -> f64 {
    db.database().collection::<Document>("background_jobs").drop().await.unwrap();
    db.ensure_indexes(&JobQueue::indexes()).await.unwrap();
    let jobs = JobQueue::new(db);
    claims::enqueue(&jobs, JOBS).await;
    claims::claims_per_second(&jobs, JOBS, workers, batch).await
}

/// Counts events per stream: one `$inc` per event.
struct Counts(&'static str);

impl Projection for Counts {
    fn name(&self) -> &str {
        self.0
    }

    fn collections(&self) -> Vec<String> {
        vec![format!("{}_streams", self.0)]
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        let collection = format!("{}_streams", self.0);
        Ok(vec![Write::update(collection, event.aggregate_id.as_str(), doc! { "$inc": { "count": 1 } })])
    }
}

#[tokio::main]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI");
    let db = Connection::connect(&uri, "bench_jobs_runner", PoolOptions::default()).await.unwrap();
    db.database().drop().await.unwrap();

    println!("job queue, {JOBS} jobs, claim + complete each (one atomic claim update per job)");
    for batch in [1, 20] {
        let one = claims_per_second(&db, 1, batch).await;
        let eight = claims_per_second(&db, 8, batch).await;
        let how = if batch == 1 { "claim".to_string() } else { format!("claim_batch({batch})") };
        println!(
            "  {how:<16} 1 worker: {one:>7.0} jobs/s   8 workers: {eight:>7.0} jobs/s   (8 / 1: {:.2})",
            eight / one
        );
    }

    // Events in the legacy shape, written directly (the runner's speed is what is measured).
    let events = db.database().collection::<Document>("domain_events");
    for chunk in 0..EVENTS / 1_000 {
        let docs: Vec<Document> = (0..1_000)
            .map(|i| {
                let n = chunk * 1_000 + i;
                doc! { "_id": format!("e{n}"), "event_type": "Placed", "aggregate_id": format!("a{}", n % 500),
                "aggregate_type": "Order", "version": n / 500 + 1, "schema_version": 1, "payload": {}, "metadata": {},
                "occurred_at": DateTime::now(), "position": n + 1 }
            })
            .collect();
        events.insert_many(docs).await.unwrap();
    }
    db.database()
        .collection::<Document>("counters")
        .insert_one(doc! { "_id": "domain_events_position", "value": EVENTS })
        .await
        .unwrap();
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db);

    println!("projection runner catch-up over {EVENTS} events (batches of 100, one $inc per event)");
    let mut rates = Vec::new();
    for (name, transactional) in [("with_tx", true), ("without_tx", false)] {
        let runner = ProjectionRunner::new(&db, &store, Counts(name)).batch_size(100);
        let runner = if transactional { runner } else { runner.without_transactions() };
        let start = Instant::now();
        let applied = runner.catch_up().await.unwrap();
        let rate = applied as f64 / start.elapsed().as_secs_f64();
        println!("  {name:<11} {rate:>7.0} events/s");
        rates.push(rate);
    }
    println!(
        "  exactly-once (per-batch transaction) costs {:.0} % of the throughput",
        100.0 * (1.0 - rates[0] / rates[1])
    );
}
