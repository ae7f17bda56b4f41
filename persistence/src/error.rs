//! The crate's one error type. Driver errors are classified once, here.

use cqrs_mongo_spec::SpecError;

/// Errors of every store in this crate.
#[derive(Debug, thiserror::Error)]
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
    },
    /// A document could not be mapped to or from the model type.
    #[error("cannot map {what}: {message}")]
    Mapping {
        /// What was being mapped.
        what: String,
        /// The serde error.
        message: String,
    },
    /// Inside a transaction, another transaction wrote the same document first (the server's
    /// `WriteConflict`, code 112). Transient: the whole unit of work can be retried, and
    /// [`Connection::transaction`](crate::Connection::transaction) does that itself.
    #[error("write conflict: a concurrent transaction wrote the same document; retry the unit of work ({0})")]
    WriteConflict(mongodb::error::Error),
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
    /// A duplicate key outside the version check (a user-declared unique index).
    #[error("duplicate key in {collection}: {message}")]
    DuplicateKey {
        /// The collection.
        collection: String,
        /// The server's message.
        message: String,
    },
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
    /// A subscription's handler failed on an event and the failure policy stops (or a retry
    /// of a parked event failed again).
    #[error("subscription {name}: the handler failed on event {event_id}: {message}")]
    Handler {
        /// The subscription.
        name: String,
        /// The event.
        event_id: String,
        /// The handler's error.
        message: String,
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
    /// The operation timed out (server selection, connection or socket).
    #[error("timed out: {0}")]
    Timeout(mongodb::error::Error),
    /// Any other driver error; transient labels are kept on it.
    #[error(transparent)]
    Driver(mongodb::error::Error),
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

impl From<mongodb::error::Error> for Error {
    fn from(err: mongodb::error::Error) -> Self {
        if let Some(ours) = err.get_custom::<SharedError>() {
            return ours.take();
        }
        use mongodb::error::ErrorKind;
        if has_code(&err, WRITE_CONFLICT) {
            return Error::WriteConflict(err);
        }
        match *err.kind {
            ErrorKind::ServerSelection { .. } => Error::Timeout(err),
            ErrorKind::Io(ref io) if io.kind() == std::io::ErrorKind::TimedOut => Error::Timeout(err),
            _ => Error::Driver(err),
        }
    }
}

impl Error {
    /// True for errors a whole transaction can be retried after (driver label).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Driver(err) | Error::Timeout(err) | Error::WriteConflict(err) => {
                err.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
            }
            _ => false,
        }
    }

    /// Converts back into a driver error for the driver's transaction helper: driver errors stay
    /// themselves (so their retry labels are seen), ours travel as a custom payload.
    pub(crate) fn into_driver(self) -> mongodb::error::Error {
        match self {
            Error::Driver(err) | Error::Timeout(err) | Error::WriteConflict(err) => err,
            other => mongodb::error::Error::custom(SharedError::new(other)),
        }
    }
}

/// The server's code for a write that lost to a concurrent transaction.
const WRITE_CONFLICT: i32 = 112;

/// True when a driver error is a duplicate key (E11000).
pub(crate) fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    has_code(err, 11000)
}

/// True when the server answered with `code` (for the command, or for one of its writes).
fn has_code(err: &mongodb::error::Error, code: i32) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == code,
        ErrorKind::Command(e) => e.code == code,
        ErrorKind::InsertMany(e) => e.write_errors.iter().flatten().any(|w| w.code == code),
        _ => false,
    }
}

/// Carries our error through the driver's `Error::custom` (which needs `Send + Sync`).
pub(crate) struct SharedError(std::sync::Mutex<Option<Error>>);

impl SharedError {
    fn new(err: Error) -> Self {
        SharedError(std::sync::Mutex::new(Some(err)))
    }

    fn take(&self) -> Error {
        self.0
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or(Error::Mapping { what: "error".into(), message: "an error was reported twice".into() })
    }
}
