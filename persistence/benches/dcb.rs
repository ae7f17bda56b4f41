//! Conditional appends (dynamic consistency boundaries) against unconditional ones, same
//! server, same run, one event (two tags) per append, disjoint boundaries (the common case).
//!
//! Two comparisons. The append itself: `append_if` with a token read beforehand (untimed: one
//! course per append, so every token is still current) against `append` of the same events.
//! The whole decision: each writer joins its own students to its own courses of 20, reading the
//! course's events first (`read_query` then `append_if`, or `decide`), against `append` of the
//! same events without any read.
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
    /// `decide`: read, fold, decide, append with the condition.
    Decide,
    /// `append`, alone, one course per append.
    GroupedOwnCourse,
    /// `append_if` after a token read before the clock starts, one course per append.
    AppendIfOwnCourse,
}

async fn run(db: &Connection, writers: usize, mode: Mode) -> f64 {
    for collection in ["domain_events", "counters", "consistency_markers"] {
        db.database().collection::<Document>(collection).drop().await.unwrap();
    }
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(db);
    let per_writer = APPENDS / writers;
    let own_course = |w: usize, i: usize| format!("w{w}a{i}");
    // The tokens of `AppendIfOwnCourse`, read before the clock starts.
    let mut tokens: Vec<Vec<AppendCondition>> = Vec::new();
    if mode == Mode::AppendIfOwnCourse {
        for w in 0..writers {
            let mut mine = Vec::new();
            for i in 0..per_writer {
                let seats = Seats { course: own_course(w, i), taken: 0 };
                mine.push(AppendCondition::after(store.read_query(&seats.query(), Alone).await.unwrap().token));
            }
            tokens.push(mine);
        }
    }
    let mut tokens = tokens.into_iter();
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let conditions = tokens.next().unwrap_or_default();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    // A course holds 20 students: a decision reads a bounded boundary.
                    let course = match mode {
                        Mode::GroupedOwnCourse | Mode::AppendIfOwnCourse => own_course(w, i),
                        _ => format!("w{w}c{}", i / 20),
                    };
                    let id = format!("w{w}s{i}");
                    let stream = Stream { aggregate_id: &id, aggregate_type: "Subscription" };
                    let joined = Joined { student: format!("w{w}s{i}"), course: course.clone() };
                    let event = NewEvent::typed(format!("e-{id}"), &joined).unwrap();
                    match mode {
                        Mode::Grouped | Mode::GroupedOwnCourse => {
                            store.append(stream, ExpectedVersion::NoStream, &[event], Alone).await.unwrap();
                        }
                        Mode::AppendIfOwnCourse => {
                            store
                                .append_if(
                                    stream,
                                    ExpectedVersion::NoStream,
                                    &[event],
                                    conditions.get(i).expect("a token per append"),
                                    Alone,
                                )
                                .await
                                .unwrap();
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
        let modes =
            [Mode::GroupedOwnCourse, Mode::AppendIfOwnCourse, Mode::Grouped, Mode::ReadThenAppendIf, Mode::Decide];
        let mut rates = [0.0; 5];
        for _ in 0..2 {
            for (slot, mode) in modes.into_iter().enumerate() {
                rates[slot] += run(&db, writers, mode).await / 2.0;
            }
        }
        let [own, append_if, grouped, read_then, decide] = rates;
        println!(
            "  {writers:>2} writers, the append: append {own:>6.0}/s; append_if (token in hand) {append_if:>6.0}/s"
        );
        println!("      time per append, conditional / unconditional (goal ≤ 1.5): {:.2}", own / append_if);
        println!(
            "  {writers:>2} writers, the whole decision: append {grouped:>6.0}/s; read + append_if {read_then:>6.0}/s; \
             decide {decide:>6.0}/s"
        );
        println!(
            "      time per decision / time per append without a read: read + append_if {:.2}, decide {:.2}",
            grouped / read_then,
            grouped / decide
        );
    }
}
