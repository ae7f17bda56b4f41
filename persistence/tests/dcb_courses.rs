//! The course example under adversarial concurrency (real server; bounded and counted, never
//! timed): 16 writers × 50 attempts to join courses of capacity 30 with at most 3 courses per
//! student, on overlapping and on disjoint boundaries.

mod support;

use std::collections::{HashMap, HashSet};

use cqrs_mongo_persistence::event_store::{
    AppendCondition, DecisionModel, ExpectedVersion, NewEvent, PositionAllocation, Query, QueryItem, Stream,
};
use cqrs_mongo_persistence::{Alone, Error, EventStore};
use serde::{Deserialize, Serialize};

const CAPACITY: usize = 30;
const PER_STUDENT: usize = 3;
const WRITERS: usize = 16;
const ATTEMPTS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StudentJoined {
    student: String,
    course: String,
}
cqrs_mongo_persistence::event!(
    StudentJoined,
    "StudentJoined",
    tags = |e| vec![format!("student:{}", e.student), format!("course:{}", e.course)]
);

cqrs_mongo_persistence::event_set! {
    #[derive(Debug, Clone)]
    enum CourseEvent { Joined(StudentJoined) }
}

#[derive(Debug, Clone)]
struct Joining {
    student: String,
    course: String,
    in_course: usize,
    of_student: usize,
    already: bool,
}

impl Joining {
    fn new(student: String, course: String) -> Self {
        Joining { student, course, in_course: 0, of_student: 0, already: false }
    }
}

impl DecisionModel for Joining {
    type Event = CourseEvent;
    fn query(&self) -> Query {
        Query::new([
            QueryItem::of::<CourseEvent>().with_tags([format!("course:{}", self.course)]),
            QueryItem::of::<CourseEvent>().with_tags([format!("student:{}", self.student)]),
        ])
    }
    fn apply(&mut self, CourseEvent::Joined(joined): &CourseEvent) {
        let (course, student) = (joined.course == self.course, joined.student == self.student);
        self.in_course += usize::from(course);
        self.of_student += usize::from(student);
        self.already |= course && student;
    }
}

#[derive(Debug)]
enum Refused {
    Full,
    Limit,
    Already,
    Store(Error),
}

impl From<Error> for Refused {
    fn from(err: Error) -> Self {
        Refused::Store(err)
    }
}

/// What one writer saw: the joins it made (with their positions) and what it was refused.
#[derive(Default)]
struct Outcomes {
    joined: Vec<(String, String, i64)>,
    refused: Vec<(&'static str, String, String)>,
    attempts: u64,
}

/// A small deterministic generator (each writer its own seed).
fn next(state: &mut u64) -> usize {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (*state >> 33) as usize
}

/// The decision: join unless a limit says no.
fn join(now: &Joining) -> Result<Vec<CourseEvent>, Refused> {
    if now.already {
        Err(Refused::Already)
    } else if now.in_course >= CAPACITY {
        Err(Refused::Full)
    } else if now.of_student >= PER_STUDENT {
        Err(Refused::Limit)
    } else {
        Ok(vec![StudentJoined { student: now.student.clone(), course: now.course.clone() }.into()])
    }
}

/// A decision read, then a conditional append in a transaction of its own: a condition that
/// fails is checked to be real (the query selects more events than the read did).
async fn two_steps(store: &EventStore, stream: Stream<'_>, mut model: Joining) -> Result<Vec<i64>, Refused> {
    let read = store.read_query(&model.query(), Alone).await?;
    for stored in &read.events {
        model.apply(&stored.decode_set::<CourseEvent>()?.unwrap());
    }
    let events = join(&model)?;
    let new: Vec<NewEvent> =
        events.iter().map(|e| NewEvent::from_set(bson::Uuid::new().to_string(), e)).collect::<Result<_, _>>()?;
    let condition = AppendCondition::after(read.token);
    let appended = store.append_if(stream, ExpectedVersion::Any, &new, &condition, Alone).await;
    if let Err(Error::ConditionFailed { conflicts }) = &appended {
        let now = store.read_query(&model.query(), Alone).await?.events;
        for item in conflicts {
            let (before, after) = (
                read.events.iter().filter(|e| item.selects(e)).count(),
                now.iter().filter(|e| item.selects(e)).count(),
            );
            assert!(after > before, "a false conflict on {item}: {before} events before, {after} now");
        }
    }
    Ok(appended?)
}

#[derive(Clone, Copy)]
enum Steps {
    /// `EventStore::decide`: read, decide, append with the condition; again when it fails.
    One,
    /// `read_query`, then `append_if` in a transaction of its own.
    Two,
}

async fn race(
    store: &EventStore,
    steps: Steps,
    pick: impl Fn(usize, &mut u64) -> (String, String) + Send + Sync + Copy + 'static,
) -> Vec<Outcomes> {
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut seed = writer as u64 + 1;
            let mut outcomes = Outcomes::default();
            for _ in 0..ATTEMPTS {
                let (student, course) = pick(writer, &mut seed);
                let id = format!("{student}@{course}");
                let stream = Stream { aggregate_id: &id, aggregate_type: "Subscription" };
                let model = Joining::new(student.clone(), course.clone());
                let decided = match steps {
                    Steps::One => store.decide(stream, model, join).await.map(|d| (d.positions, d.attempts)),
                    Steps::Two => two_steps(&store, stream, model).await.map(|positions| (positions, 1)),
                };
                match decided {
                    Ok((positions, attempts)) => {
                        assert_eq!(positions.len(), 1);
                        outcomes.attempts += u64::from(attempts);
                        outcomes.joined.push((student, course, positions[0]));
                    }
                    Err(Refused::Store(Error::ConditionFailed { .. })) => {
                        outcomes.refused.push(("conflict", student, course))
                    }
                    Err(Refused::Full) => outcomes.refused.push(("full", student, course)),
                    Err(Refused::Limit) => outcomes.refused.push(("limit", student, course)),
                    Err(Refused::Already) => outcomes.refused.push(("already", student, course)),
                    Err(Refused::Store(err)) => panic!("a store error, not a decision: {err:?}"),
                }
            }
            outcomes
        }));
    }
    let mut all = Vec::new();
    for writer in writers {
        all.push(writer.await.unwrap());
    }
    all
}

/// Checks every limit on what is stored, every refusal against the final state, and that every
/// acknowledged join is stored; returns (joins, refusals, attempts of the joins).
async fn verify(store: &EventStore, outcomes: &[Outcomes]) -> (usize, usize, u64) {
    let stored = store.read_query(&QueryItem::of::<CourseEvent>().into(), Alone).await.unwrap().events;
    let mut per_course: HashMap<String, usize> = HashMap::new();
    let mut per_student: HashMap<String, usize> = HashMap::new();
    let mut pairs = HashSet::new();
    let mut positions = HashSet::new();
    for event in &stored {
        let joined: StudentJoined = event.decode().unwrap();
        *per_course.entry(joined.course.clone()).or_default() += 1;
        *per_student.entry(joined.student.clone()).or_default() += 1;
        assert!(pairs.insert((joined.student, joined.course)), "a student joined a course twice");
        positions.insert(event.position);
    }
    assert!(per_course.values().all(|n| *n <= CAPACITY), "{per_course:?}");
    assert!(per_student.values().all(|n| *n <= PER_STUDENT), "{per_student:?}");
    let joins: Vec<&(String, String, i64)> = outcomes.iter().flat_map(|o| &o.joined).collect();
    assert_eq!(joins.len(), stored.len(), "every acknowledged join stored, nothing else");
    assert!(joins.iter().all(|(_, _, position)| positions.contains(position)));
    // Counts only grow, so a refusal was right if the final state still justifies it.
    let refusals: Vec<&(&str, String, String)> = outcomes.iter().flat_map(|o| &o.refused).collect();
    for (why, student, course) in &refusals {
        let real = match *why {
            // Checked when it happened (`two_steps`).
            "conflict" => true,
            "full" => per_course.get(course) == Some(&CAPACITY),
            "limit" => per_student.get(student) == Some(&PER_STUDENT),
            _ => pairs.contains(&(student.clone(), course.clone())),
        };
        assert!(real, "refused {why} for {student} in {course} without a reason in the final state");
    }
    (joins.len(), refusals.len(), outcomes.iter().map(|o| o.attempts).sum())
}

async fn overlapping(test: &str, allocation: PositionAllocation, steps: Steps) {
    let db = support::database(test).await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db).position_allocation(allocation);
    // 4 courses (120 seats) and 48 students (144 places): both limits are reached.
    let outcomes =
        race(&store, steps, |_, seed| (format!("s{}", next(seed) % 48), format!("c{}", next(seed) % 4))).await;
    let (joins, refusals, _) = verify(&store, &outcomes).await;
    assert_eq!(joins + refusals, WRITERS * ATTEMPTS);
    let reasons: HashSet<&str> = outcomes.iter().flat_map(|o| &o.refused).map(|(why, ..)| *why).collect();
    assert!(reasons.contains("full") && reasons.contains("limit"), "both limits were met: {reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_boundaries_never_exceed_a_limit_and_refuse_only_for_real() {
    overlapping("dcb_overlap", PositionAllocation::InTransaction, Steps::One).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_boundaries_with_reserved_positions_and_a_read_before_the_append() {
    overlapping("dcb_overlap_reserved", PositionAllocation::Reserved, Steps::Two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disjoint_boundaries_never_conflict() {
    let db = support::database("dcb_disjoint").await;
    db.ensure_indexes(&EventStore::indexes()).await.unwrap();
    let store = EventStore::new(&db).position_allocation(PositionAllocation::Reserved);
    // Each writer has its own 2 courses and 20 students: 50 attempts, room for 60 joins.
    let outcomes = race(&store, Steps::Two, |writer, seed| {
        (format!("w{writer}s{}", next(seed) % 20), format!("w{writer}c{}", next(seed) % 2))
    })
    .await;
    let (joins, refusals, attempts) = verify(&store, &outcomes).await;
    let already = outcomes.iter().flat_map(|o| &o.refused).filter(|(why, ..)| *why == "already").count();
    let conflicts = outcomes.iter().flat_map(|o| &o.refused).filter(|(why, ..)| *why == "conflict").count();
    assert_eq!(conflicts, 0, "a condition failed on a boundary no other writer touches");
    assert_eq!(refusals, already, "no limit is reached on disjoint boundaries, so nothing else is refused");
    assert_eq!(joins + refusals, WRITERS * ATTEMPTS);
    eprintln!("disjoint: {joins} joins in {attempts} transaction attempts");
}
