//! Decision models: state folded from the typed events a query selects, decided on and
//! appended with the read's condition in one call.

use super::{AppendCondition, EventSet, EventStore, ExpectedVersion, NewEvent, Query, Stream};
use crate::error::Error;
use crate::store::uow::{On, UnitOfWork};

/// State built from the events a [query](Query) selects, to decide on. It is rebuilt from a
/// fresh clone on every attempt of [`EventStore::decide`].
///
/// The course example: a student joins a course unless it is full (30) or the student has
/// joined 3 courses already; two concurrent joins that would break a limit cannot both commit.
///
/// ```no_run
/// use cqrs_mongo_persistence::event_store::{DecisionModel, Query, QueryItem, Stream};
/// use cqrs_mongo_persistence::{Error, EventStore};
/// # use serde::{Deserialize, Serialize};
/// #[derive(Debug, Clone, Serialize, Deserialize)]
/// struct StudentJoined { student: String, course: String }
/// cqrs_mongo_persistence::event!(StudentJoined, "StudentJoined",
///     tags = |e| vec![format!("student:{}", e.student), format!("course:{}", e.course)]);
/// cqrs_mongo_persistence::event_set! { #[derive(Debug, Clone)] enum CourseEvent { Joined(StudentJoined) } }
///
/// /// What joining needs to know: how full the course is, how many courses the student has.
/// #[derive(Clone)]
/// struct Joining { student: String, course: String, in_course: usize, of_student: usize }
///
/// impl DecisionModel for Joining {
///     type Event = CourseEvent;
///     fn query(&self) -> Query {
///         Query::new([
///             QueryItem::of::<CourseEvent>().with_tags([format!("course:{}", self.course)]),
///             QueryItem::of::<CourseEvent>().with_tags([format!("student:{}", self.student)]),
///         ])
///     }
///     fn apply(&mut self, CourseEvent::Joined(joined): &CourseEvent) {
///         self.in_course += usize::from(joined.course == self.course);
///         self.of_student += usize::from(joined.student == self.student);
///     }
/// }
///
/// #[derive(Debug)]
/// enum JoinError { CourseFull, TooManyCourses, Store(Error) }
/// impl From<Error> for JoinError { fn from(err: Error) -> Self { JoinError::Store(err) } }
///
/// # async fn demo(store: EventStore) -> Result<(), JoinError> {
/// let joining = Joining { student: "s7".into(), course: "c1".into(), in_course: 0, of_student: 0 };
/// let stream = Stream { aggregate_id: "s7@c1", aggregate_type: "Subscription" };
/// store
///     .decide(stream, joining, |now| {
///         if now.in_course >= 30 {
///             return Err(JoinError::CourseFull);
///         }
///         if now.of_student >= 3 {
///             return Err(JoinError::TooManyCourses);
///         }
///         Ok(vec![StudentJoined { student: now.student.clone(), course: now.course.clone() }.into()])
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub trait DecisionModel: Clone + Send + Sync {
    /// The events it folds (a selected event of a type outside the set is skipped).
    type Event: EventSet;
    /// The events it is built from; the append is conditional on no new one.
    fn query(&self) -> Query;
    /// Folds one event in, in position order.
    fn apply(&mut self, event: &Self::Event);
}

/// What [`EventStore::decide`] appended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Decided<M> {
    /// The model with the appended events applied.
    pub model: M,
    /// The appended events' positions (empty when the decision appended nothing).
    pub positions: Vec<i64>,
    /// Decisions it took (more than 1 when events the query selects were appended between a
    /// read and its append: each attempt reads and decides again).
    pub attempts: u32,
}

/// How many times [`EventStore::decide`] decides before it gives up on a boundary that keeps
/// moving (each attempt after a failed condition: one more event appended in the boundary).
pub const DECIDE_ATTEMPTS: u32 = 50;

impl EventStore {
    /// Reads the events the model's query selects, folds them into a clone of `model`, runs
    /// `decide` on it and appends the events it returns to `stream` (any version), conditional
    /// on nothing new matching the query since the read. The read runs alone and the append
    /// goes through the group commit, where its condition is checked in the batch's
    /// transaction (see [`append_if`](Self::append_if)); when the condition fails (an event the
    /// query selects was appended since the read), the read, fold and decision run again on
    /// the new state, after a jittered backoff (5 ms × 1.5ⁿ up to 500 ms, as the driver waits
    /// between transaction attempts), up to [`DECIDE_ATTEMPTS`] times; then the last
    /// [`Error::ConditionFailed`] is returned. The future is `Send`: call it from
    /// `tokio::spawn` or a web handler. `decide`'s error is the caller's; store errors convert
    /// into it.
    pub async fn decide<M, E>(
        &self,
        stream: Stream<'_>,
        model: M,
        mut decide: impl FnMut(&M) -> Result<Vec<M::Event>, E> + Send,
    ) -> Result<Decided<M>, E>
    where
        M: DecisionModel,
        E: From<Error> + Send,
    {
        let backoff = crate::runtime::Backoff::transactions();
        let mut attempts = 0_u32;
        loop {
            attempts += 1;
            match self.decide_on(crate::Alone, stream, model.clone(), &mut decide).await {
                Ok(mut decided) => {
                    decided.attempts = attempts;
                    return Ok(decided);
                }
                Err(Decision::Moved(_)) if attempts < DECIDE_ATTEMPTS => {
                    tokio::time::sleep(backoff.delay(attempts)).await;
                }
                Err(Decision::Moved(err)) => return Err(E::from(err)),
                Err(Decision::Failed(err)) => return Err(err),
            }
        }
    }

    /// [`decide`](Self::decide) inside your unit of work: the read and the conditional append
    /// in its transaction (retrying is the unit of work's).
    pub async fn decide_in<M, E>(
        &self,
        uow: &UnitOfWork,
        stream: Stream<'_>,
        model: M,
        decide: impl FnOnce(&M) -> Result<Vec<M::Event>, E>,
    ) -> Result<Decided<M>, E>
    where
        M: DecisionModel,
        E: From<Error>,
    {
        self.decide_on(uow, stream, model, decide).await.map_err(|failure| match failure {
            Decision::Moved(err) => E::from(err),
            Decision::Failed(err) => err,
        })
    }

    /// One attempt: read, fold, decide, append with the read's condition, in `on`.
    async fn decide_on<M, E>(
        &self,
        on: impl Into<On<'_>>,
        stream: Stream<'_>,
        mut model: M,
        decide: impl FnOnce(&M) -> Result<Vec<M::Event>, E>,
    ) -> Result<Decided<M>, Decision<E>>
    where
        M: DecisionModel,
        E: From<Error>,
    {
        let on = on.into();
        let failed = |err: Error| Decision::Failed(E::from(err));
        let query = model.query();
        let read = self.read_query(&query, on).await.map_err(failed)?;
        for stored in &read.events {
            if let Some(event) = M::Event::decode(stored).map_err(failed)? {
                model.apply(&event);
            }
        }
        let events = decide(&model).map_err(Decision::Failed)?;
        let new: Vec<NewEvent> = events
            .iter()
            .map(|event| NewEvent::from_set(bson::Uuid::new().to_string(), event))
            .collect::<Result<_, Error>>()
            .map_err(failed)?;
        let condition = AppendCondition::after(read.token);
        let positions = match self.append_if(stream, ExpectedVersion::Any, &new, &condition, on).await {
            Ok(positions) => positions,
            Err(err @ Error::ConditionFailed { .. }) => return Err(Decision::Moved(err)),
            Err(err) => return Err(failed(err)),
        };
        for event in &events {
            model.apply(event);
        }
        Ok(Decided { model, positions, attempts: 1 })
    }
}

/// Why an attempt of a decision ended without appending.
enum Decision<E> {
    /// The condition failed: something the query selects was appended since the read.
    Moved(Error),
    /// The caller's error, or a store error converted into it.
    Failed(E),
}
