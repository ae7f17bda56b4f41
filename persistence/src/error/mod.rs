//! The crate's one error type. Driver errors are classified once, here.

mod classify;

use cqrs_mongo_spec::SpecError;

use self::classify::Class;

/// Errors of every store in this crate. Cloning one is cheap (a handler's error is shared).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Optimistic concurrency: the stored version is not the one the writer expected (also two
    /// creates of the same id).
    #[error("concurrency conflict on {collection}/{id}: expected version {expected}, found {actual:?}")]
    Concurrency {
        /// The collection.
        collection: String,
        /// The aggregate id, as Extended JSON text.
        id: String,
        /// The version the writer loaded (0 for a create).
        expected: i64,
        /// The stored version, `None` when the document does not exist.
        actual: Option<i64>,
    },
    /// A specification or query options did not compile.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A stored event's payload does not decode into the event type asked for: the type does
    /// not match, the schema version is not the type's (after upcasters), or a field does not
    /// deserialize (`path` is its serde path, e.g. `lines[2].quantity`).
    #[error("cannot decode event {event_id} ({event_type}){}: {message}", if path.is_empty() || path == "." { String::new() } else { format!(" at {path}") })]
    Decode {
        /// The stored event id.
        event_id: String,
        /// The stored event type.
        event_type: String,
        /// The serde path of the field that failed (empty when the whole event did not fit).
        path: String,
        /// What went wrong.
        message: String,
        /// The deserializer's error, when a field did not deserialize.
        #[source]
        source: Option<Box<bson::error::Error>>,
    },
    /// A value could not be serialised to BSON or deserialised from it (an aggregate, an id, a
    /// typed event, a read model).
    #[error("cannot {direction} {what}: {source}")]
    Serialization {
        /// `serialise` or `deserialise`.
        direction: &'static str,
        /// What was being mapped (a type name, `id`, `event OrderPlaced`).
        what: String,
        /// The bson error.
        #[source]
        source: Box<bson::error::Error>,
    },
    /// A stored document does not have the shape this store needs (a saga whose status is not
    /// one it knows, a field of the wrong type), or a model's mapping does not fit the model.
    #[error("{collection}/{id}: {problem}")]
    InvalidDocument {
        /// The collection.
        collection: String,
        /// The document id (empty when it is not known).
        id: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A task of this crate that an operation waits for stopped before answering (the group
    /// commit task, when the runtime shuts down).
    #[error("the {task} task stopped before answering (is the runtime shutting down?)")]
    BackgroundTaskStopped {
        /// The task.
        task: &'static str,
    },
    /// Inside a transaction, another transaction wrote the same document first (the server's
    /// `WriteConflict`, code 112). Transient: the whole unit of work can be retried, and
    /// [`Connection::transaction`](crate::Connection::transaction) does that itself.
    #[error("write conflict: a concurrent transaction wrote the same document; retry the unit of work ({})", describe(.0))]
    WriteConflict(#[source] mongodb::error::Error),
    /// The deployment does not support transactions (a standalone server) and the operation
    /// needs one.
    #[error(
        "this MongoDB deployment does not support transactions (it is not a replica set or sharded cluster): {operation} needs one; {alternative}"
    )]
    TransactionsUnsupported {
        /// The operation that needs a transaction.
        operation: &'static str,
        /// What works without one (an API that exists).
        alternative: &'static str,
    },
    /// An aggregate's id serialises to null; a document is never stored with `_id: null`.
    #[error("an aggregate of {collection} has a null id; set its id before saving it")]
    NullId {
        /// The aggregate's collection.
        collection: String,
    },
    /// An event id that cannot be appended.
    #[error("event {event_id}: {problem}")]
    EventId {
        /// The event id.
        event_id: String,
        /// What is wrong with it.
        problem: EventIdProblem,
    },
    /// An argument outside what the operation accepts (a batch of 0 events, a page of -1
    /// results): refused rather than silently changed.
    #[error("{operation}: {argument} {message}")]
    InvalidArgument {
        /// The operation, e.g. `EventStore::read_all`.
        operation: &'static str,
        /// The argument, e.g. `limit`.
        argument: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An option or argument this operation cannot honour (it is refused rather than ignored).
    #[error("{operation} does not support {option}: {reason}")]
    Unsupported {
        /// The operation, e.g. `Repository::search`.
        operation: &'static str,
        /// The option or argument, e.g. `select_fields`.
        option: &'static str,
        /// Why, and what to use instead.
        reason: String,
    },
    /// An index that already exists with the same name but other keys or options.
    #[error("index {name} on {collection} exists with different keys or options: {existing}")]
    IndexConflict {
        /// The collection.
        collection: String,
        /// The index name.
        name: String,
        /// The existing index specification.
        existing: String,
    },
    /// A duplicate key outside the stores' own checks (a unique index of the application's):
    /// a conflict with what is stored.
    #[error("duplicate key: {}", describe(.0))]
    DuplicateKey(#[source] mongodb::error::Error),
    /// Something unique already exists: a saga with this type and correlation id, a live job with
    /// this de-duplication key.
    #[error("{collection}: {key} already exists (id {existing_id})")]
    AlreadyExists {
        /// The collection.
        collection: String,
        /// What is unique, e.g. `OrderSaga/order-7`.
        key: String,
        /// The id of the document that holds it.
        existing_id: String,
    },
    /// A status change that is not allowed from the stored status (a completed saga cannot be
    /// resumed, a finished job cannot be reset).
    #[error("{collection}/{id}: cannot go from {from} to {to}")]
    InvalidTransition {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
        /// The current status.
        from: String,
        /// The refused status.
        to: String,
    },
    /// A handler failed on an item and the loop's [`RetryPolicy`](crate::runtime::RetryPolicy) stops
    /// (or a retry of a parked item failed again): a projection's `project` or its writes, a
    /// subscription's handler, a publisher, a job's handler.
    #[error("{consumer}: failed on {item}: {}", crate::runtime::retry::chain(&**source))]
    Handler {
        /// The projection, subscription, relay worker or job queue.
        consumer: String,
        /// The item: an event id, a message id, a job id.
        item: String,
        /// The handler's error.
        #[source]
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Something the operation needs is not stored (the event of a parked dead letter).
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// The caller no longer holds the lease (it expired and another worker took over, or the
    /// work was cancelled): its outcome is not recorded.
    #[error("{collection}/{id}: the lease was lost (fencing token {fencing_token} is no longer current)")]
    LeaseLost {
        /// The collection.
        collection: String,
        /// The document id.
        id: String,
        /// The caller's fencing token.
        fencing_token: i64,
    },
    /// The document belongs to another tenant than the scope the store was opened with.
    #[error("{collection}/{id} belongs to another tenant than {tenant}")]
    CrossTenant {
        /// The collection.
        collection: String,
        /// The document id, as Extended JSON text.
        id: String,
        /// The tenant of the scope that tried to touch it.
        tenant: String,
    },
    /// [`Connection::transaction`](crate::Connection::transaction) kept meeting transient
    /// errors (write conflicts, an unreachable primary) until its deadline: retry later.
    #[error("{operation}: gave up after {attempts} attempts in {elapsed:?}: {source}")]
    TransactionTimedOut {
        /// The operation.
        operation: &'static str,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: std::time::Duration,
        /// The last attempt's error.
        #[source]
        source: Box<Error>,
    },
    /// A unit of work held positions it reserved for its events
    /// ([`PositionAllocation::Reserved`](crate::event_store::PositionAllocation::Reserved)) longer than their
    /// limit (half the readers' gap grace) before committing: it was rolled back and its
    /// positions burnt, since readers may already have stepped over them. Start it again
    /// ([`Connection::transaction`](crate::Connection::transaction) does, with new positions).
    #[error(
        "a unit of work held its reserved event positions {age:?}, longer than their limit of {limit:?}; it was rolled back: run it again"
    )]
    ReservationExpired {
        /// How long it held them.
        age: std::time::Duration,
        /// The limit.
        limit: std::time::Duration,
    },
    /// An [append condition](crate::event_store::AppendCondition) failed: events its query
    /// selects were stored after the decision read (or, for `none_match`, exist at all). Read
    /// again and decide again.
    #[error("append condition failed: events matching {} were stored since the decision read", list(.conflicts))]
    ConditionFailed {
        /// The query items that selected new events.
        conflicts: Vec<crate::event_store::QueryItem>,
    },
    /// [`PositionStore::wait_for`](crate::PositionStore::wait_for): the projection or
    /// subscription had not processed the position when the timeout passed.
    #[error("{name} had processed up to position {reached}, not {position}, after {waited:?}")]
    WaitTimedOut {
        /// The projection or subscription.
        name: String,
        /// The position waited for.
        position: i64,
        /// The checkpoint it had reached.
        reached: i64,
        /// How long it waited.
        waited: std::time::Duration,
    },
    /// The deployment cannot be reached or is overloaded: a network error, no suitable server
    /// within the server selection timeout, a primary stepping down, a node shutting down, a
    /// server's "retry later" (labels such as `RetryableWriteError`, codes such as
    /// `ExceededTimeLimit`). Back off and retry ([`Error::is_unavailable`]).
    #[error("the database is unavailable: {}", describe(.0))]
    Unavailable(#[source] mongodb::error::Error),
    /// The server refused the command for what it asks (an unknown update operator, a document
    /// over 16 MB, a validator's rejection, a regex it does not accept, `MaxTimeMSExpired`):
    /// retrying the same input fails the same way.
    #[error("the server refused the command: {}", describe(.0))]
    Refused(#[source] mongodb::error::Error),
    /// The driver failed on this side, before or without a server's answer (an invalid
    /// argument, BSON it cannot encode, a TLS configuration, a client already shut down,
    /// failed authentication): not transient.
    #[error("driver error: {}", describe(.0))]
    Client(#[source] mongodb::error::Error),
}

fn list(items: &[crate::event_store::QueryItem]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Why an event id cannot be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventIdProblem {
    /// The batch holds the id more than once.
    #[error("the batch holds this event id more than once")]
    RepeatedInBatch,
    /// The id is stored already, in another stream.
    #[error("this event id is already stored in stream {stream}")]
    InAnotherStream {
        /// The stream (aggregate id) that holds it.
        stream: String,
    },
    /// The id is stored already in this stream, with another type or payload (the same content
    /// is an idempotent retry and is not an error).
    #[error("this event id is already stored with other content")]
    OtherContent,
}

impl Error {
    /// [`Error::InvalidArgument`] unless `value` is at least 1.
    pub(crate) fn at_least_one(operation: &'static str, argument: &'static str, value: i64) -> Result<()> {
        if value >= 1 {
            return Ok(());
        }
        Err(Error::InvalidArgument { operation, argument, message: format!("must be at least 1, got {value}") })
    }

    /// [`Error::TransactionsUnsupported`] for an operation whose writes can instead run one by
    /// one in a non-transactional unit of work.
    pub(crate) fn needs_transaction(operation: &'static str) -> Self {
        Error::TransactionsUnsupported {
            operation,
            alternative: "run the writes in Connection::begin_non_transactional() instead, where each applies on its own",
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when the whole transaction can be retried (the server's or driver's
    /// `TransientTransactionError` label: a write conflict, a network error inside a
    /// transaction, a transaction the server aborted); [`Connection::transaction`](crate::Connection::transaction)
    /// does that itself.
    pub fn is_transient(&self) -> bool {
        self.driver_error().is_some_and(|err| err.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR))
    }

    /// True when the deployment (or, for [`Error::Handler`], what the handler talks to) is
    /// unreachable or overloaded: back off and retry the same work later, it says nothing about
    /// the input. The runtime's loops back off on it without counting an attempt against the
    /// item; a web service answers 503. [`Error::Unavailable`], transient errors that escaped a
    /// transaction's retries ([`Error::TransactionTimedOut`]), and a handler's error whose chain
    /// holds an [`Unavailable`](crate::runtime::Unavailable) or an unavailable error of this crate.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable(_) | Error::TransactionTimedOut { .. } | Error::ReservationExpired { .. } => true,
            Error::WriteConflict(_) => false,
            Error::Handler { source, .. } => crate::runtime::retry::is_unavailable(&**source),
            other => other.is_transient(),
        }
    }

    /// True for a lost race with another writer: [`Error::Concurrency`] (the stored version
    /// moved), [`Error::WriteConflict`], [`Error::AlreadyExists`] and [`Error::DuplicateKey`].
    /// Reload and decide again; a web service answers 409.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::Concurrency { .. } | Error::WriteConflict(_) | Error::AlreadyExists { .. } | Error::DuplicateKey(_)
        )
    }

    /// True when the server refused the command for what it asks ([`Error::Refused`]): the
    /// same input fails again.
    pub fn is_refused(&self) -> bool {
        matches!(self, Error::Refused(_))
    }

    /// The driver error inside, if this is one.
    pub fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            Error::WriteConflict(err)
            | Error::DuplicateKey(err)
            | Error::Unavailable(err)
            | Error::Refused(err)
            | Error::Client(err) => Some(err),
            Error::TransactionTimedOut { source, .. } => source.driver_error(),
            _ => None,
        }
    }

    /// True when the server answered with a duplicate key (E11000).
    pub(crate) fn is_duplicate_key(&self) -> bool {
        self.driver_error().is_some_and(is_duplicate_key)
    }

    /// [`Error::Handler`]: `consumer` failed on `item` with `source`.
    pub(crate) fn handler(consumer: &str, item: &str, source: impl Into<crate::runtime::retry::BoxError>) -> Self {
        Error::Handler {
            consumer: consumer.to_owned(),
            item: item.to_owned(),
            source: std::sync::Arc::from(source.into()),
        }
    }

    /// [`Error::Serialization`] of a value to BSON.
    pub(crate) fn serialise(what: impl Into<String>, source: bson::error::Error) -> Self {
        Error::Serialization { direction: "serialise", what: what.into(), source: Box::new(source) }
    }

    /// [`Error::Serialization`] of a value from BSON.
    pub(crate) fn deserialise(what: impl Into<String>, source: bson::error::Error) -> Self {
        Error::Serialization { direction: "deserialise", what: what.into(), source: Box::new(source) }
    }
}

impl From<mongodb::error::Error> for Error {
    /// Classifies a driver error once: by code and label, into the variants above.
    fn from(err: mongodb::error::Error) -> Self {
        crate::store::uow::note_driver_error(&err);
        match classify::class_of(&err) {
            Class::WriteConflict => Error::WriteConflict(err),
            Class::DuplicateKey => Error::DuplicateKey(err),
            Class::Unavailable => Error::Unavailable(err),
            Class::Refused => Error::Refused(err),
            Class::Client => Error::Client(err),
        }
    }
}

/// True when a driver error is a duplicate key (E11000).
pub(crate) fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    codes_of(err).any(|code| code == classify::DUPLICATE_KEY)
}

/// The server codes in a driver error (the command's, its write errors', its write concern
/// error's, and those of the errors it was caused by).
pub(crate) fn codes_of(err: &mongodb::error::Error) -> impl Iterator<Item = i32> + '_ {
    classify::codes(err).map(|(code, _)| code)
}

/// A driver error in one line: its kind (code, name and message for a server error), then its
/// labels.
pub(crate) fn describe(err: &mongodb::error::Error) -> String {
    let mut text = err.kind.to_string();
    if !err.labels().is_empty() {
        let mut labels: Vec<&str> = err.labels().iter().map(String::as_str).collect();
        labels.sort_unstable();
        text.push_str(&format!(" [{}]", labels.join(", ")));
    }
    text
}
