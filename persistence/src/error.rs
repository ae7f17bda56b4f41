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
    /// A document could not be mapped to or from the model type.
    #[error("cannot map {what}: {message}")]
    Mapping {
        /// What was being mapped.
        what: String,
        /// The serde error.
        message: String,
    },
    /// The deployment does not support transactions and the caller did not choose the
    /// non-transactional mode.
    #[error(
        "this MongoDB deployment does not support transactions (it is not a replica set or sharded cluster); use UnitOfWork::non_transactional to run without one"
    )]
    TransactionsUnsupported,
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

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<mongodb::error::Error> for Error {
    fn from(err: mongodb::error::Error) -> Self {
        if let Some(ours) = err.get_custom::<SharedError>() {
            return ours.take();
        }
        use mongodb::error::ErrorKind;
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
            Error::Driver(err) | Error::Timeout(err) => err.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR),
            _ => false,
        }
    }

    /// Converts back into a driver error for the driver's transaction helper: driver errors stay
    /// themselves (so their retry labels are seen), ours travel as a custom payload.
    pub(crate) fn into_driver(self) -> mongodb::error::Error {
        match self {
            Error::Driver(err) | Error::Timeout(err) => err,
            other => mongodb::error::Error::custom(SharedError::new(other)),
        }
    }
}

/// True when a driver error is a duplicate key (E11000).
pub(crate) fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        ErrorKind::InsertMany(e) => e.write_errors.iter().flatten().any(|w| w.code == 11000),
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
