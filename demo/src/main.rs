//! The end-to-end demo: orders placed in units of work, the projection runner building
//! `order_summaries`, a specification query, the outbox relay, a background job and a saga.
//!
//! `bash scripts/demo.sh` starts the embedded test server and runs this; with `MONGODB_URI` set
//! it runs against that deployment instead (database `orders_demo`, dropped first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use cqrs_mongo_demo::replicas::{self, Stdout};
use cqrs_mongo_demo::{
    Line, SUMMARIES, SUMMARY_OPTIONS, SUMMARY_SPEC, describe, order_store, pay_order, place_order, summary_model,
};
use cqrs_mongo_persistence::jobs::NewJob;
use cqrs_mongo_persistence::sagas::{IfStarted, Saga, SagaStatus};
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{Alone, Connection, EventStore, JobQueue, Outbox, ProjectionStore, SagaRepository};
use cqrs_mongo_spec::{Compiler, ExtJsonFormat, QueryOptions};
use futures::TryStreamExt;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let start = Instant::now();
    let uri =
        std::env::var("MONGODB_URI").map_err(|_| "set MONGODB_URI (scripts/demo.sh starts a server and sets it)")?;
    let db = Connection::connect(&uri, "orders_demo", PoolOptions::default()).await?;
    db.database().drop().await?;
    let health = db.health().await?;
    println!("connected: replica set {:?}, ping {:?}", health.replica_set.unwrap_or_default(), health.latency);

    let events = EventStore::new(&db);
    let outbox = Outbox::new(&db);
    let orders = order_store(&db, &events, &outbox);
    let jobs = JobQueue::new(&db);
    let sagas = SagaRepository::new(&db);
    // One call for every store and loop: a runner of order_summaries (not running; it rebuilds
    // the read model at the end) brings the indexes of order_summaries and dead_letters.
    let summaries_runner = replicas::summaries_runner(&db, &events, "demo");
    let report = db.ensure_indexes_of(&[&events, &outbox, &jobs, &sagas, &summaries_runner]).await?;
    println!("indexes: {} created, {} already there", report.created.len(), report.unchanged.len());

    // Two replicas of the projection runner (one leads by a lease, one stands by) and two
    // outbox relays, all following the stores from now on.
    let publisher = Arc::new(Stdout::default());
    let runners = [replicas::runner(&db, &events, "runner-a"), replicas::runner(&db, &events, "runner-b")];
    let relays = [replicas::relay(&outbox, "relay-a", &publisher), replicas::relay(&outbox, "relay-b", &publisher)];
    let limit = Duration::from_secs(120);

    println!("\n1. placing 12 orders (OrderPlaced event + outbox message, one transaction each), in two waves");
    let customers = ["ada", "grace", "linus", "barbara"];
    let mut placed = Vec::new();
    for n in 1..=6_i64 {
        placed.push(place_order(&orders, &format!("o-{n:03}"), customers[n as usize % 4], &lines(n)).await?);
    }
    replicas::wait_for("the first wave", limit, async || {
        Ok(runners[0].position().await? == 6 && publisher.tally().0 == 6)
    })
    .await?;
    println!("   first wave of 6 applied and published; killing the leading runner and a relay");
    // Kill the runner that leads and one relay, mid-run (their tasks aborted, nothing released).
    let leader = runners[0].leader().await?.leader.unwrap_or_default();
    let [a, b] = runners;
    let (mut killed, standby) = if leader == "runner-a" { (a, b) } else { (b, a) };
    killed.abort();
    let _ = (&mut killed).await; // gone: BackgroundTaskStopped
    let [relay_a, relay_b] = relays;
    relay_a.abort();
    let _ = relay_a.await;
    for n in 7..=12_i64 {
        placed.push(place_order(&orders, &format!("o-{n:03}"), customers[n as usize % 4], &lines(n)).await?);
    }
    let to_pay: Vec<String> =
        placed.iter().filter(|o| o.total_cents > 20_000).take(3).map(|o| o.id().to_owned()).collect();
    for id in &to_pay {
        pay_order(&orders, id).await?;
    }
    let head = events.latest_position().await?;
    println!("   {} orders, event store head at position {head}", placed.len());

    println!("\n2. the stand-by runner takes over {SUMMARIES}; the other relay publishes the rest");
    let waited = Instant::now();
    replicas::wait_for("the stand-by", limit, async || Ok(standby.position().await? == head)).await?;
    replicas::wait_for("the surviving relay", limit, async || Ok(publisher.tally().0 == 12)).await?;
    println!(
        "   {} took over and caught up to position {head} in {:?} ({} events applied by it)",
        standby.leader().await?.leader.unwrap_or_default(),
        waited.elapsed(),
        standby.stats().events(),
    );

    println!("\n3. querying the summaries with a JSON specification");
    let spec: serde_json::Value = serde_json::from_str(SUMMARY_SPEC)?;
    let options_json: serde_json::Value = serde_json::from_str(SUMMARY_OPTIONS)?;
    println!("   spec:    {}\n   options: {SUMMARY_OPTIONS}", SUMMARY_SPEC.trim());
    let compiled = Compiler::default().compile_query(&spec, Some(&options_json))?;
    let filter = bson::RawDocumentBuf::try_from(&compiled.filter)?;
    println!("   filter:  {}", cqrs_mongo_spec::to_extjson_string(&filter, ExtJsonFormat::Relaxed));
    let options = QueryOptions::from_value(&options_json)?;
    let found = ProjectionStore::new(&db).read(&summary_model()).find(&spec, &options, Alone).await?;
    for summary in &found {
        println!("   {}", describe(summary));
    }

    println!("\n4. the outbox, published by the relays (to stdout, above)");
    println!("   outbox now {:?}", outbox.stats().await?);

    println!("\n5. a background job and a saga step");
    let paid =
        orders.load(to_pay.first().ok_or("no paid order")?, Alone).await?.ok_or("the paid order is not stored")?;
    assert_eq!(paid.status, "paid", "loaded from its events");
    let job =
        NewJob::new(format!("invoice-{}", paid.id()), "invoices", doc! { "order": paid.id() }).dedup_key(paid.id());
    jobs.enqueue(job, Alone).await?;
    let claimed = jobs.claim("demo-worker", &["invoices"], Duration::from_secs(30)).await?.ok_or("no job")?;
    println!("   worker claimed {} (attempt {}, fencing token {})", claimed.id, claimed.attempt, claimed.fencing_token);
    jobs.complete(&claimed).await?;
    println!("   jobs: {:?}", jobs.stats().await?);
    let saga = Saga::new(format!("fulfil-{}", paid.id()), "Fulfilment", paid.id(), doc! { "step": "reserve-stock" });
    let mut saga = sagas.start(saga, IfStarted::ReturnExisting, Alone).await?;
    saga.transition(SagaStatus::Running)?;
    saga.state.insert("step", "ship");
    sagas.save(&mut saga, Alone).await?;
    saga.transition(SagaStatus::Completed)?;
    sagas.save(&mut saga, Alone).await?;
    println!(
        "   saga {} for {} is {:?} at version {}",
        saga.id,
        saga.correlation_id.as_deref().unwrap_or("-"),
        saga.status(),
        saga.version()
    );
    if let Err(refused) = saga.transition(SagaStatus::Running) {
        println!("   resuming it is refused: {refused}");
    }

    // The read model against a fresh rebuild, and every delivery counted.
    let applied = killed.stats().events() + standby.stats().events();
    standby.stop().await?;
    relay_b.stop().await?;
    let live = summaries(&db).await?;
    summaries_runner.rebuild(|_| {}).await?;
    let rebuilt = summaries(&db).await?;
    let lost_updates = rebuilt.iter().filter(|d| !live.contains(d)).count();
    let duplicated_updates = applied.saturating_sub(head as u64);
    let (delivered, duplicated_publications) = publisher.tally();
    let lost_publications = 12_usize.saturating_sub(delivered);

    // Orders are event-sourced: one stream of type Order each.
    let streams = db.database().collection::<Document>("domain_events");
    let mut counts = vec![streams.distinct("aggregate_id", doc! { "aggregate_type": "Order" }).await?.len() as u64];
    for name in ["domain_events", SUMMARIES] {
        counts.push(db.database().collection::<Document>(name).count_documents(doc! {}).await?);
    }
    println!(
        "failover: {lost_updates} lost, {duplicated_updates} duplicated read-model updates; \
         {lost_publications} lost, {duplicated_publications} duplicated outbox publications"
    );
    println!(
        "\nreport: {} orders, {} events, {} summaries, {} outbox messages published, done in {:.1?}",
        counts[0],
        counts[1],
        counts[2],
        outbox.stats().await?.get("published").copied().unwrap_or(0),
        start.elapsed()
    );
    Ok(())
}

/// The summaries, without the runner's bookkeeping fields, by id.
async fn summaries(db: &Connection) -> Result<Vec<Document>, Failure> {
    let found: Vec<Document> = db
        .database()
        .collection::<Document>(SUMMARIES)
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await?
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .map(|mut d| {
            for key in ["_version", "_last_event_id", "_last_event_position"] {
                d.remove(key);
            }
            d
        })
        .collect())
}

/// Order `n`'s lines.
fn lines(n: i64) -> Vec<Line> {
    vec![
        Line { sku: format!("sku-{}", n % 5), quantity: n % 3 + 1, price_cents: 1_250 * n },
        Line { sku: "gift-wrap".into(), quantity: 1, price_cents: 300 },
    ]
}
