//! Decision models: state folded from the typed events a query selects, decided on and
//! appended with the read's condition in one call.

use futures::FutureExt;

use super::{AppendCondition, EventSet, EventStore, ExpectedVersion, NewEvent, Query, Stream};
use crate::error::Error;
use crate::store::uow::UnitOfWork;

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
    /// Transaction attempts it took (more than 1 when concurrent appends conflicted with it).
    pub attempts: u32,
}

impl EventStore {
    /// Reads the events the model's query selects, folds them into a clone of `model`, runs
    /// `decide` on it and appends the events it returns to `stream` (any version), conditional
    /// on nothing new matching the query, all in one transaction retried on transient errors
    /// (a concurrent append the query selects conflicts with it: the whole read, fold and
    /// decision run again on the new state). The future is `Send`: call it from `tokio::spawn`
    /// or a web handler. `decide`'s error is the caller's; store errors convert into it.
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
        let mut attempts = 0_u32;
        let context = (self, stream, &model, &mut decide, &mut attempts);
        let mut decided = self
            .connection
            .transaction_with(context, |uow, (store, stream, model, decide, attempts)| {
                **attempts += 1;
                async move { store.decide_in(uow, *stream, (*model).clone(), &mut **decide).await }.boxed()
            })
            .await?;
        decided.attempts = attempts;
        Ok(decided)
    }

    /// [`decide`](Self::decide) inside your unit of work (retrying is the unit of work's).
    pub async fn decide_in<M, E>(
        &self,
        uow: &UnitOfWork,
        stream: Stream<'_>,
        mut model: M,
        decide: impl FnOnce(&M) -> Result<Vec<M::Event>, E>,
    ) -> Result<Decided<M>, E>
    where
        M: DecisionModel,
        E: From<Error>,
    {
        let query = model.query();
        let read = self.read_query(&query, uow).await?;
        for stored in &read.events {
            if let Some(event) = M::Event::decode(stored)? {
                model.apply(&event);
            }
        }
        let events = decide(&model)?;
        let new: Vec<NewEvent> = events
            .iter()
            .map(|event| NewEvent::from_set(bson::Uuid::new().to_string(), event))
            .collect::<Result<_, Error>>()?;
        let positions =
            self.append_if(stream, ExpectedVersion::Any, &new, &AppendCondition::after(read.token), uow).await?;
        for event in &events {
            model.apply(event);
        }
        Ok(Decided { model, positions, attempts: 1 })
    }
}
