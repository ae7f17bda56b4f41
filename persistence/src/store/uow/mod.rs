//! The unit of work, and the one way every store is told where an operation runs.
//!
//! Every store operation that can join a transaction takes `on: impl Into<On>`: pass the unit
//! of work (`&UnitOfWork`, a shared reference, so it can be passed to any number of calls) to
//! run inside its transaction, or [`Alone`] to run on its own:
//!
//! ```no_run
//! # use cqrs_mongo_persistence::{Alone, Connection, Outbox, Repository, Result};
//! # use cqrs_mongo_persistence::outbox::OutboxMessage;
//! # use cqrs_mongo_persistence::store::Version;
//! # #[derive(serde::Serialize, serde::Deserialize)] struct Order { id: String, #[serde(default)] version: Version }
//! # cqrs_mongo_persistence::aggregate!(Order, "orders", String);
//! # async fn demo(db: &Connection, orders: &Repository<Order>, outbox: &Outbox, mut order: Order, message: OutboxMessage) -> Result<()> {
//! db.transaction(async |uow| {
//!     orders.save(&mut order, uow).await?;
//!     outbox.save(std::slice::from_ref(&message), uow).await
//! })
//! .await?;
//! let again = orders.get(&order.id, Alone).await?;
//! # Ok(()) }
//! ```
//!
//! [`Connection::transaction`](crate::Connection::transaction) retries under the driver's rules: after a
//! `TransientTransactionError` the whole callback runs again, after a jittered backoff (5 ms ×
//! 1.5^n, at most 500 ms: competing units of work spread out instead of colliding again at
//! once); after an `UnknownTransactionCommitResult` (but not `MaxTimeMSExpired`) the commit is
//! sent again; all within a deadline (120 s by default, [`Connection::transaction_deadline`](crate::Connection::transaction_deadline)),
//! after which it is [`Error::TransactionTimedOut`].
//! [`Connection::begin`](crate::Connection::begin) / [`UnitOfWork::commit`] is the explicit style. Dropping an
//! uncommitted unit of work aborts its transaction (the driver does that for a dropped session).

mod reservations;
mod transaction;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongodb::ClientSession;

pub(crate) use self::reservations::Reservation;
use self::reservations::Reservations;
pub(crate) use self::transaction::note_driver_error;
use crate::error::{Error, Result};
use crate::store::version::Fate;

/// Code to run once the transaction has committed.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// How long [`Connection::transaction`](crate::Connection::transaction) retries by default, as the driver's own helper does.
pub const DEFAULT_TRANSACTION_DEADLINE: Duration = Duration::from_secs(120);

/// A transaction in progress (or, from [`Connection::begin_non_transactional`](crate::Connection::begin_non_transactional), a scope whose
/// writes apply one by one).
///
/// Versions that saves give aggregates and sagas inside it are provisional until it commits:
/// a rollback, a drop without commit, or a retry by [`Connection::transaction`](crate::Connection::transaction) puts them back
/// (see [`Version`](crate::store::Version)). Operations on one unit of work run one at a time (they
/// share its session); the unit of work is passed by shared reference.
pub struct UnitOfWork {
    /// `None` for a non-transactional unit of work.
    session: tokio::sync::Mutex<Option<ClientSession>>,
    transactional: bool,
    after_commit: Mutex<Vec<AfterCommit>>,
    /// Whether this attempt committed (`None` without a transaction: writes settle at once).
    fate: Option<Arc<Fate>>,
    /// Positions reserved outside the transaction for the events it appends.
    reservations: Reservations,
}

impl std::fmt::Debug for UnitOfWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.transactional { "transaction" } else { "non-transactional" };
        f.debug_struct("UnitOfWork").field("kind", &kind).finish_non_exhaustive()
    }
}

/// The unit of work's session, held for one operation (see [`UnitOfWork::session`]).
pub struct SessionGuard<'a>(Option<tokio::sync::MutexGuard<'a, Option<ClientSession>>>);

impl SessionGuard<'_> {
    /// The session to pass to driver operations (`None`: run them without one).
    pub fn get(&mut self) -> Option<&mut ClientSession> {
        self.0.as_mut().and_then(|guard| guard.as_mut())
    }
}

impl UnitOfWork {
    fn new(session: Option<ClientSession>) -> Self {
        let transactional = session.is_some();
        UnitOfWork {
            session: tokio::sync::Mutex::new(session),
            transactional,
            after_commit: Mutex::default(),
            fate: transactional.then(Arc::default),
            reservations: Reservations::default(),
        }
    }

    /// Positions reserved for events appended in this unit of work: burnt unless it commits.
    pub(crate) fn reserved(&self, reservation: Reservation) {
        self.reservations.add(reservation);
    }

    /// How versions written in this unit of work settle (`None`: at once).
    pub(crate) fn fate(&self) -> Option<&Arc<Fate>> {
        self.fate.as_ref()
    }

    /// The session, for driver operations of your own inside the transaction; hold the guard
    /// only for one operation (store operations on this unit of work wait while it is held).
    pub async fn session(&self) -> SessionGuard<'_> {
        SessionGuard(Some(self.session.lock().await))
    }

    /// True inside a real transaction.
    pub fn is_transactional(&self) -> bool {
        self.transactional
    }

    /// Registers code to run after a successful commit; discarded on rollback.
    pub fn after_commit(&self, hook: impl FnOnce() + Send + 'static) {
        self.after_commit.lock().unwrap_or_else(|p| p.into_inner()).push(Box::new(hook));
    }

    fn take_hooks(&self) -> Vec<AfterCommit> {
        std::mem::take(&mut *self.after_commit.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Commits the transaction, then runs the after-commit hooks. A unit of work that holds
    /// reserved positions past their limit is aborted instead:
    /// [`Error::ReservationExpired`] (start it again).
    pub async fn commit(self) -> Result<()> {
        self.refuse_expired().await?;
        if let Some(session) = self.session.lock().await.as_mut() {
            // An unknown commit result counts as abandoned: a version that reverts costs a
            // conflict at worst, one that stays without its write could hide a lost update.
            if let Err(err) = session.commit_transaction().await {
                self.commit_failed(&err).await;
                return Err(err.into());
            }
        }
        self.reservations.committed();
        self.settle_committed();
        Ok(())
    }

    /// [`Error::ReservationExpired`] (after aborting, and burning the reservations) when a
    /// reservation is held past its limit.
    async fn refuse_expired(&self) -> Result<()> {
        let Some((age, limit)) = self.reservations.expired() else { return Ok(()) };
        self.abandon();
        if let Some(session) = self.session.lock().await.as_mut() {
            let _ = session.abort_transaction().await;
        }
        self.reservations.burn().await;
        Err(Error::ReservationExpired { age, limit })
    }

    /// A commit failed: its reserved positions are burnt when it surely did not commit (the
    /// server answered with an error that is not an unknown commit result).
    async fn commit_failed(&self, err: &mongodb::error::Error) {
        if err.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT) {
            self.reservations.unknown();
        } else {
            self.reservations.burn().await;
        }
    }

    fn settle_committed(&self) {
        if let Some(fate) = &self.fate {
            fate.commit();
        }
        for hook in self.take_hooks() {
            hook();
        }
    }

    /// Aborts the transaction; the hooks are dropped.
    pub async fn rollback(self) -> Result<()> {
        self.abandon();
        let aborted = match self.session.lock().await.as_mut() {
            Some(session) => session.abort_transaction().await,
            None => Ok(()),
        };
        self.reservations.burn().await;
        Ok(aborted?)
    }

    fn abandon(&self) {
        self.take_hooks();
        if let Some(fate) = &self.fate {
            fate.abandon();
        }
    }
}

impl Drop for UnitOfWork {
    /// A transaction that was not committed is aborted by the driver when its session is
    /// dropped; its provisional versions revert.
    fn drop(&mut self) {
        if let Some(fate) = &self.fate {
            fate.abandon();
        }
        self.reservations.burn_later();
    }
}

/// Runs a driver action where `$on` (an [`On`]) says: with the unit of work's session, if there
/// is one.
macro_rules! with_session {
    ($action:expr, $on:expr) => {
        match $on.session().await.get() {
            Some(session) => $action.session(session).await,
            None => $action.await,
        }
    };
}
pub(crate) use with_session;

/// Every document of a find or aggregate `$action`, read where `$on` (an [`On`]) says: through
/// the unit of work's session, if there is one.
macro_rules! collect_with_session {
    ($action:expr, $on:expr) => {
        match $on.session().await.get() {
            Some(session) => {
                $crate::store::query::collect_in_session($action.session(&mut *session).await?, session).await
            }
            None => Ok(futures::TryStreamExt::try_collect::<Vec<_>>($action.await?).await?),
        }
    };
}
pub(crate) use collect_with_session;

/// Where a store operation runs: in a unit of work, or on its own. Functions take
/// `impl Into<On>`, so pass `&uow` (or `uow` inside [`Connection::transaction`](crate::Connection::transaction)) or [`Alone`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum On<'a> {
    /// On its own: a single write applies at once; an event append runs in a transaction of its
    /// own (shared with concurrent appends of the process).
    Alone,
    /// Inside this unit of work.
    Uow(&'a UnitOfWork),
}

/// Runs an operation on its own, outside any unit of work: `orders.get(&id, Alone)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alone;

impl From<Alone> for On<'_> {
    fn from(_: Alone) -> Self {
        On::Alone
    }
}

impl<'a> From<&'a UnitOfWork> for On<'a> {
    fn from(uow: &'a UnitOfWork) -> Self {
        On::Uow(uow)
    }
}

impl<'a> From<&'a mut UnitOfWork> for On<'a> {
    fn from(uow: &'a mut UnitOfWork) -> Self {
        On::Uow(uow)
    }
}

impl<'a> From<Option<&'a UnitOfWork>> for On<'a> {
    fn from(uow: Option<&'a UnitOfWork>) -> Self {
        uow.map_or(On::Alone, On::Uow)
    }
}

impl<'a> On<'a> {
    /// The unit of work, if any.
    pub fn unit_of_work(self) -> Option<&'a UnitOfWork> {
        match self {
            On::Alone => None,
            On::Uow(uow) => Some(uow),
        }
    }

    /// The session to run driver operations with, held for one operation.
    pub(crate) async fn session(self) -> SessionGuard<'a> {
        match self {
            On::Alone => SessionGuard(None),
            On::Uow(uow) => uow.session().await,
        }
    }

    /// How versions written here settle (`None`: at once).
    pub(crate) fn fate(self) -> Option<&'a Arc<Fate>> {
        self.unit_of_work().and_then(UnitOfWork::fate)
    }
}
