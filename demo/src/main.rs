//! The end-to-end demo: orders placed in units of work, the projection runner building
//! `order_summaries`, a specification query, the outbox relay, a background job and a saga.
//!
//! `bash scripts/demo.sh` starts the embedded test server and runs this; with `MONGODB_URI` set
//! it runs against that deployment instead (database `orders_demo`, dropped first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use cqrs_mongo_demo::{
    Line, SUMMARIES, SUMMARY_OPTIONS, SUMMARY_SPEC, describe, order_store, order_summaries, pay_order, place_order,
};
use cqrs_mongo_persistence::{
    Alone, Connection, EventStore, IfStarted, JobQueue, NewJob, Outbox, OutboxRelay, PoolOptions, Projection,
    ProjectionRunner, ProjectionStore, Saga, SagaRepository, SagaStatus,
};
use cqrs_mongo_spec::{Compiler, ExtJsonFormat, QueryOptions};

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
    let mut indexes = EventStore::indexes();
    indexes.extend(Outbox::indexes());
    indexes.extend(JobQueue::indexes());
    indexes.extend(SagaRepository::indexes());
    indexes.extend(order_summaries().indexes());
    let report = db.ensure_indexes(&indexes).await?;
    println!("indexes: {} created, {} already there", report.created.len(), report.unchanged.len());

    // The projection runner follows the event store from now on (change stream + polling).
    let runner =
        Arc::new(ProjectionRunner::new(&db, &events, order_summaries()).poll_interval(Duration::from_millis(200)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = {
        let runner = runner.clone();
        tokio::spawn(async move {
            runner
                .run(async {
                    let _ = stopped.await;
                })
                .await
        })
    };

    println!("\n1. placing 12 orders (OrderPlaced event + outbox message, one transaction each)");
    let customers = ["ada", "grace", "linus", "barbara"];
    let mut placed = Vec::new();
    for n in 1..=12_i64 {
        let lines = vec![
            Line { sku: format!("sku-{}", n % 5), quantity: n % 3 + 1, price_cents: 1_250 * n },
            Line { sku: "gift-wrap".into(), quantity: 1, price_cents: 300 },
        ];
        placed.push(place_order(&orders, &format!("o-{n:03}"), customers[n as usize % 4], &lines).await?);
    }
    let to_pay: Vec<String> =
        placed.iter().filter(|o| o.total_cents > 20_000).take(3).map(|o| o.id().to_owned()).collect();
    for id in &to_pay {
        pay_order(&db, &orders, id).await?;
    }
    let head = events.latest_position().await?;
    println!("   {} orders, event store head at position {head}", placed.len());

    println!("\n2. the projection runner builds {SUMMARIES}");
    let waited = Instant::now();
    while runner.position().await? < head {
        if waited.elapsed() > Duration::from_secs(120) {
            return Err("the projection runner did not catch up in 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = runner.stats();
    println!(
        "   caught up to position {head} in {:?} ({} events, change-stream wake-ups {})",
        waited.elapsed(),
        stats.events.load(std::sync::atomic::Ordering::Relaxed),
        stats.change_stream_wakeups.load(std::sync::atomic::Ordering::Relaxed)
    );

    println!("\n3. querying the summaries with a JSON specification");
    let spec: serde_json::Value = serde_json::from_str(SUMMARY_SPEC)?;
    let options_json: serde_json::Value = serde_json::from_str(SUMMARY_OPTIONS)?;
    println!("   spec:    {}\n   options: {SUMMARY_OPTIONS}", SUMMARY_SPEC.trim());
    let compiled = Compiler::default().compile_query(&spec, Some(&options_json))?;
    let filter = bson::RawDocumentBuf::try_from(&compiled.filter)?;
    println!("   filter:  {}", cqrs_mongo_spec::to_extjson_string(&filter, ExtJsonFormat::Relaxed));
    let options = QueryOptions::from_value(&options_json)?;
    let found = ProjectionStore::new(&db).find(SUMMARIES, &spec, Some(&options)).await?;
    for summary in &found {
        println!("   {}", describe(summary));
    }

    println!("\n4. the outbox relay publishes (to stdout)");
    let relay = OutboxRelay::new(&outbox, "demo-relay").batch(50);
    let report = relay
        .run_once(|message| async move {
            println!("   -> {} {} {}", message.event_type, message.message_id, compact(&message.payload));
            Ok(())
        })
        .await?;
    println!("   published {}, outbox now {:?}", report.published, outbox.stats().await?);

    println!("\n5. a background job and a saga step");
    let paid = orders.load(to_pay.first().ok_or("no paid order")?).await?.ok_or("the paid order is not stored")?;
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

    stop.send(()).ok();
    live.await??;
    // Orders are event-sourced: one stream of type Order each.
    let streams = db.database().collection::<Document>("domain_events");
    let mut counts = vec![streams.distinct("aggregate_id", doc! { "aggregate_type": "Order" }).await?.len() as u64];
    for name in ["domain_events", SUMMARIES] {
        counts.push(db.database().collection::<Document>(name).count_documents(doc! {}).await?);
    }
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

fn compact(document: &Document) -> String {
    serde_json::to_string(&bson::Bson::Document(document.clone()).into_relaxed_extjson()).unwrap_or_default()
}
