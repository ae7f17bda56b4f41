//! Conditional appends (dynamic consistency boundaries) against unconditional ones, same
//! server, same run: each writer joins its own students to its own courses of 20 (disjoint
//! boundaries, the common case), one event (two tags) per append.
//!
//! `bash scripts/bench-persistence.sh dcb` (starts secantusd-rs, sets MONGODB_URI;
//! `BENCH_SERVER=python` for the Python test server).

use std::time::Instant;

use bson::{Document, doc};
use cqrs_mongo_persistence::event_store::{
    AppendCondition, DecisionModel, ExpectedVersion, NewEvent, Query, QueryItem, Stream,
};
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_persistence::{Alone, Connection, Error, EventStore};
use serde::{Deserialize, Serialize};

/// Appends per run, split over the writers.
const APPENDS: usize = 800;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Joined {
    student: String,
    course: String,
}
cqrs_mongo_persistence::event!(
    Joined,
    "Joined",
    tags = |e| vec![format!("student:{}", e.student), format!("course:{}", e.course)]
);
cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone)]
    enum CourseEvent { Joined(Joined) }
}

#[derive(Clone)]
struct Seats {
    course: String,
    taken: usize,
}

impl DecisionModel for Seats {
    type Event = CourseEvent;
    fn query(&self) -> Query {
        QueryItem::of::<CourseEvent>().with_tags([format!("course:{}", self.course)]).into()
    }
    fn apply(&mut self, _: &CourseEvent) {
        self.taken += 1;
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// `append`, alone: the group commit.
    Grouped,
    /// `read_query` of the course, then `append_if` after its token.
    ReadThenAppendIf,
    /// `decide`: read, fold, decide and append in one transaction.
    Decide,
}

async fn run(db: &Connection, writers: usize, mode: Mode) -> f64 {
    for collection in ["domain_events", "counters", "consistency_markers"] {
        db.database().collection::<Document>(collection).drop().await.unwrap();
    }
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(db);
    let per_writer = APPENDS / writers;
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    // A course holds 20 students: a decision reads a bounded boundary.
                    let course = format!("w{w}c{}", i / 20);
                    let id = format!("w{w}s{i}");
                    let stream = Stream { aggregate_id: &id, aggregate_type: "Subscription" };
                    let joined = Joined { student: format!("w{w}s{i}"), course: course.clone() };
                    let event = NewEvent::typed(format!("e-{id}"), &joined).unwrap();
                    match mode {
                        Mode::Grouped => {
                            store.append(stream, ExpectedVersion::NoStream, &[event], Alone).await.unwrap();
                        }
                        Mode::ReadThenAppendIf => {
                            let seats = Seats { course: course.clone(), taken: 0 };
                            let read = store.read_query(&seats.query(), Alone).await.unwrap();
                            let condition = AppendCondition::after(read.token);
                            store
                                .append_if(stream, ExpectedVersion::NoStream, &[event], &condition, Alone)
                                .await
                                .unwrap();
                        }
                        Mode::Decide => {
                            let seats = Seats { course: course.clone(), taken: 0 };
                            store.decide(stream, seats, |_| Ok::<_, Error>(vec![joined.clone().into()])).await.unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (per_writer * writers) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let uri = std::env::var("MONGODB_URI").expect("MONGODB_URI");
    let db = Connection::connect(&uri, "bench_dcb", PoolOptions::default()).await.unwrap();
    db.database().drop().await.unwrap();
    println!("{APPENDS} single-event appends of events with two tags, disjoint boundaries (courses of 20 per writer)");
    for writers in [1, 16] {
        // Alternated twice, so a drift of the machine falls on every mode alike.
        let mut rates = [0.0; 3];
        for _ in 0..2 {
            for (slot, mode) in [Mode::Grouped, Mode::ReadThenAppendIf, Mode::Decide].into_iter().enumerate() {
                rates[slot] += run(&db, writers, mode).await / 2.0;
            }
        }
        let [grouped, read_then, decide] = rates;
        println!(
            "  {writers:>2} writers: append {grouped:>6.0}/s; read + append_if {read_then:>6.0}/s; decide {decide:>6.0}/s"
        );
        println!(
            "      time per append, conditional / unconditional (goal ≤ 1.5): read + append_if {:.2}, decide {:.2}",
            grouped / read_then,
            grouped / decide
        );
    }
}
