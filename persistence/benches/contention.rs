//! Contention (issue 21), each ratio measured in this run against its own baseline:
//!
//! - units of work that append (an aggregate document, its event, an outbox message, one
//!   transaction), 16 concurrent writers against 1, with the transaction attempts they took;
//! - job claims, 8 workers against 1 (`claim` and `claim_batch(20)`);
//! - many processes: 4 processes × 8 writers against 1 process × 32 writers, appending in units
//!   of work and through the group commit (children are this binary, started again).
//!
//! `bash scripts/bench-persistence.sh contention` (starts secantusd-rs, sets MONGODB_URI).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{ExpectedVersion, NewEvent, PositionAllocation, Stream as EventStream};
use cqrs_mongo_persistence::outbox::OutboxMessage;
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{Alone, Connection, EventStore, JobQueue, Outbox};
use futures::{FutureExt, TryStreamExt};

/// Units of work per writer (`CONTENTION_UNITS`, default 100; the Python test server is slower).
fn units() -> usize {
    std::env::var("CONTENTION_UNITS").ok().and_then(|n| n.parse().ok()).unwrap_or(100)
}
const JOBS: usize = 2_000;

/// What one writer does `count` times, `n` numbering its units across the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// An aggregate document, its event and an outbox message in one unit of work.
    Unit,
    /// One event appended on its own (the group commit).
    Grouped,
    /// The server's own scaling: the same three documents inserted in a transaction through the
    /// driver alone, into the same collections and indexes (no counter: the event's position is
    /// its unique id; no checks).
    Raw,
}

struct Stores {
    db: Connection,
    events: EventStore,
    outbox: Outbox,
}

impl Stores {
    fn new(db: &Connection, allocation: PositionAllocation) -> Self {
        let events = EventStore::new(db).position_allocation(allocation);
        Stores { db: db.clone(), events, outbox: Outbox::new(db) }
    }
}

/// One unit: returns the attempts it took.
async fn once(stores: &Stores, work: Work, writer: &str, n: usize) -> u64 {
    let id = format!("{writer}-{n}");
    let event = NewEvent::new(format!("e-{id}"), "Placed", doc! { "n": n as i64 });
    if work == Work::Grouped {
        let stream = EventStream { aggregate_id: &id, aggregate_type: "Order" };
        stores.events.append(stream, ExpectedVersion::NoStream, &[event], Alone).await.unwrap();
        return 1;
    }
    if work == Work::Raw {
        return raw_transaction(&stores.db, &id, n).await;
    }
    let attempts = AtomicU64::new(0);
    let message = OutboxMessage::new(format!("m-{id}"), "Placed", doc! { "n": n as i64 }, "c").for_aggregate(&id);
    let orders = stores.db.database().collection::<Document>("orders");
    let context = (stores, &attempts, &orders, event, message, id.as_str());
    stores
        .db
        .transaction_with(context, |uow, &mut (stores, attempts, orders, ref event, ref message, id)| {
            async move {
                attempts.fetch_add(1, Ordering::Relaxed);
                {
                    let mut session = uow.session().await;
                    let insert = orders.insert_one(doc! { "_id": id, "status": "placed", "version": 1_i64 });
                    insert.session(session.get().expect("a transaction")).await?;
                }
                let stream = EventStream { aggregate_id: id, aggregate_type: "Order" };
                stores.events.append(stream, ExpectedVersion::NoStream, std::slice::from_ref(event), uow).await?;
                stores.outbox.save(std::slice::from_ref(message), uow).await
            }
            .boxed()
        })
        .await
        .unwrap();
    attempts.load(Ordering::Relaxed)
}

/// The three inserts of a unit in a transaction of the driver's (its own retry helper): the
/// attempts it took.
async fn raw_transaction(db: &Connection, id: &str, n: usize) -> u64 {
    let attempts = AtomicU64::new(0);
    let database = db.database().clone();
    let mut session = db.client().start_session().await.unwrap();
    session
        .start_transaction()
        .and_run((&database, &attempts, id, n), |session, (database, attempts, id, n)| {
            async move {
                attempts.fetch_add(1, Ordering::Relaxed);
                let order = doc! { "_id": *id, "status": "placed", "version": 1_i64 };
                database.collection::<Document>("orders").insert_one(order).session(&mut *session).await?;
                // A unique position without a counter (the id; the index is the same).
                let event = doc! {
                    "_id": format!("e-{id}"), "aggregate_id": *id, "version": 1_i64, "position": *id,
                    "event_type": "Placed", "n": *n as i64,
                };
                database.collection::<Document>("domain_events").insert_one(event).session(&mut *session).await?;
                let message = doc! { "_id": format!("m-{id}"), "status": "pending", "n": *n as i64 };
                database.collection::<Document>("outbox_messages").insert_one(message).session(&mut *session).await?;
                Ok(())
            }
            .boxed()
        })
        .await
        .unwrap();
    attempts.load(Ordering::Relaxed)
}

/// `writers` tasks doing `per_writer` units each: (units per second, attempts per unit).
async fn throughput(stores: &Arc<Stores>, work: Work, prefix: &str, writers: usize, per_writer: usize) -> (f64, f64) {
    let attempts = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (stores, attempts, writer) = (stores.clone(), attempts.clone(), format!("{prefix}{w}"));
            tokio::spawn(async move {
                for n in 0..per_writer {
                    attempts.fetch_add(once(&stores, work, &writer, n).await, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let units = (writers * per_writer) as f64;
    (units / start.elapsed().as_secs_f64(), attempts.load(Ordering::Relaxed) as f64 / units)
}

async fn fresh(db: &Connection) {
    for collection in ["orders", "domain_events", "counters", "outbox_messages", "background_jobs"] {
        db.database().collection::<Document>(collection).drop().await.unwrap();
    }
    let mut indexes = EventStore::indexes();
    indexes.extend(Outbox::indexes());
    indexes.extend(JobQueue::indexes());
    db.ensure_indexes(&indexes).await.unwrap();
}

async fn units_of_work(db: &Connection) {
    println!("units of work: an aggregate document + its event + an outbox message, one transaction each");
    // The raw driver's transactions (the server's own scaling), then the store with each
    // allocation, alternating so that all see the same machine.
    let cases = [
        ("raw driver", Work::Raw, PositionAllocation::InTransaction),
        ("InTransaction", Work::Unit, PositionAllocation::InTransaction),
        ("Reserved", Work::Unit, PositionAllocation::Reserved),
    ];
    let mut ratios = vec![Vec::new(); cases.len()];
    for round in 0..2 {
        for (c, (name, work, allocation)) in cases.into_iter().enumerate() {
            let stores = Arc::new(Stores::new(db, allocation));
            fresh(db).await;
            let (one, one_attempts) = throughput(&stores, work, &format!("r{round}a"), 1, units() * 4).await;
            fresh(db).await;
            let (many, many_attempts) = throughput(&stores, work, &format!("r{round}b"), 16, units()).await;
            println!(
                "  {name:<14} 1 writer {one:>7.0} units/s ({one_attempts:.2} attempts each)   16 writers \
                 {many:>7.0} units/s ({many_attempts:.2} attempts each)   16 / 1: {:.2}",
                many / one
            );
            ratios[c].push(many / one);
        }
    }
    for ((name, ..), ratios) in cases.iter().zip(ratios) {
        println!("  {name:<14} 16 / 1 writers, rounds: {ratios:.2?} (goal ≥ 1 for the store)");
    }
}

#[path = "support/claims.rs"]
mod support_claims;

async fn claims(db: &Connection, workers: usize, batch: usize) -> f64 {
    fresh(db).await;
    let jobs = JobQueue::new(db);
    support_claims::enqueue(&jobs, JOBS).await;
    support_claims::claims_per_second(&jobs, JOBS, workers, batch).await
}

/// The server's own scaling for the same work without a queue: each worker updates its own
/// share of the jobs by id (`PENDING` → `RUNNING`, then `COMPLETED`), so nothing is contended.
async fn raw_claims(db: &Connection, workers: usize) -> f64 {
    fresh(db).await;
    support_claims::enqueue(&JobQueue::new(db), JOBS).await;
    let collection = db.database().collection::<Document>("background_jobs");
    let ids: Vec<bson::Bson> = collection
        .find(doc! {})
        .projection(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|mut d| d.remove("_id"))
        .collect();
    let ids = Arc::new(ids);
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (collection, ids) = (collection.clone(), ids.clone());
            tokio::spawn(async move {
                let mut done = 0_usize;
                for id in ids.iter().skip(w).step_by(workers) {
                    let claim = doc! { "$set": { "status": "RUNNING", "locked_by": format!("w{w}") } };
                    let claimed = collection.find_one_and_update(doc! { "_id": id, "status": "PENDING" }, claim).await;
                    assert!(claimed.unwrap().is_some());
                    let complete = doc! { "$set": { "status": "COMPLETED" } };
                    collection.update_one(doc! { "_id": id }, complete).await.unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    support_claims::per_second(tasks, JOBS, start).await
}

async fn job_claims(db: &Connection) {
    println!("job claims, {JOBS} jobs, claim + complete each");
    let (one, eight) = (raw_claims(db, 1).await, raw_claims(db, 8).await);
    println!(
        "  {:<16} 1 worker {one:>7.0} jobs/s   8 workers {eight:>7.0} jobs/s   8 / 1: {:.2} (the server's own scaling)",
        "raw driver",
        eight / one
    );
    for batch in [1, 20] {
        let one = claims(db, 1, batch).await;
        let eight = claims(db, 8, batch).await;
        let name = if batch == 1 { "claim".to_owned() } else { format!("claim_batch({batch})") };
        println!(
            "  {name:<16} 1 worker {one:>7.0} jobs/s   8 workers {eight:>7.0} jobs/s   8 / 1: {:.2} (goal ≥ 1)",
            eight / one
        );
    }
}

fn epoch_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// Runs `processes` copies of this binary, each with `writers` writers doing `per_writer`
/// units of `work`, starting together: units per second over all of them.
async fn processes(
    work: Work,
    allocation: PositionAllocation,
    processes: usize,
    writers: usize,
    per_writer: usize,
) -> f64 {
    let start_at = epoch_millis() + 3_000;
    let children: Vec<_> = (0..processes)
        .map(|p| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .env("CONTENTION_CHILD", format!("{work:?}:{p}:{writers}:{per_writer}:{start_at}:{allocation:?}"))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("the bench binary runs again as a child")
        })
        .collect();
    let mut last_end = 0_u128;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a child failed");
        let end: u128 = String::from_utf8_lossy(&output.stdout).trim().parse().expect("the child prints its end");
        last_end = last_end.max(end);
    }
    (processes * writers * per_writer) as f64 / ((last_end - start_at) as f64 / 1000.0)
}

/// A child: its writers start at the agreed time; prints when the last one finished.
async fn child(spec: &str, uri: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let work = match parts[0] {
        "Unit" => Work::Unit,
        "Raw" => Work::Raw,
        _ => Work::Grouped,
    };
    let (p, writers, per_writer, start_at): (usize, usize, usize, u128) =
        (parts[1].parse().unwrap(), parts[2].parse().unwrap(), parts[3].parse().unwrap(), parts[4].parse().unwrap());
    let db = Connection::connect(uri, "bench_contention", PoolOptions::default()).await.unwrap();
    let allocation =
        if parts[5] == "Reserved" { PositionAllocation::Reserved } else { PositionAllocation::InTransaction };
    let stores = Arc::new(Stores::new(&db, allocation));
    tokio::time::sleep(Duration::from_millis(start_at.saturating_sub(epoch_millis()) as u64)).await;
    throughput(&stores, work, &format!("p{p}w"), writers, per_writer).await;
    println!("{}", epoch_millis());
}

async fn many_processes(db: &Connection) {
    println!("many processes: 4 processes x 8 writers against 1 process x 32 writers, same work");
    let cases = [
        (Work::Raw, PositionAllocation::InTransaction, 40),
        (Work::Unit, PositionAllocation::InTransaction, 40),
        (Work::Unit, PositionAllocation::Reserved, 40),
        (Work::Grouped, PositionAllocation::InTransaction, 100),
        (Work::Grouped, PositionAllocation::Reserved, 100),
    ];
    // CONTENTION_ALLOCATION=Reserved (or InTransaction) measures that allocation only.
    let only = std::env::var("CONTENTION_ALLOCATION").ok();
    for (work, allocation, per_writer) in cases {
        if only.as_ref().is_some_and(|only| *only != format!("{allocation:?}")) && work != Work::Raw {
            continue;
        }
        fresh(db).await;
        let one = processes(work, allocation, 1, 32, per_writer).await;
        fresh(db).await;
        let four = processes(work, allocation, 4, 8, per_writer).await;
        let what = match work {
            Work::Unit => format!("units of work, {allocation:?}"),
            Work::Raw => "raw driver transactions".to_owned(),
            Work::Grouped => format!("group commit, {allocation:?}"),
        };
        println!(
            "  {what:<28} 1 x 32 {one:>7.0} units/s   4 x 8 {four:>7.0} units/s   4x8 / 1x32: {:.2} (goal ≥ 0.8)",
            four / one
        );
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI (scripts/bench-persistence.sh sets it)");
    if let Ok(spec) = std::env::var("CONTENTION_CHILD") {
        child(&spec, &uri).await;
        return;
    }
    let db = Connection::connect(&uri, "bench_contention", PoolOptions::default()).await.unwrap();
    println!("server: {uri}\n");
    let only = std::env::var("CONTENTION_BENCH").unwrap_or_default();
    if only.is_empty() || only == "units" {
        units_of_work(&db).await;
    }
    if only.is_empty() || only == "claims" {
        job_claims(&db).await;
    }
    if only.is_empty() || only == "processes" {
        many_processes(&db).await;
    }
}
