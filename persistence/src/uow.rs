//! The unit of work, and the one way every store is told where an operation runs.
//!
//! Every store operation that can join a transaction takes `on: impl Into<On>`: pass the unit
//! of work (`&UnitOfWork`, a shared reference, so it can be passed to any number of calls) to
//! run inside its transaction, or [`Alone`] to run on its own:
//!
//! ```no_run
//! # use cqrs_mongo_persistence::{Alone, Connection, Outbox, OutboxMessage, Repository, Result, Version};
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
//! [`Connection::transaction`] retries under the driver's rules: after a
//! `TransientTransactionError` the whole callback runs again, after a jittered backoff (5 ms ×
//! 1.5^n, at most 500 ms: competing units of work spread out instead of colliding again at
//! once); after an `UnknownTransactionCommitResult` (but not `MaxTimeMSExpired`) the commit is
//! sent again; all within a deadline (120 s by default, [`Connection::transaction_deadline`]),
//! after which it is [`Error::TransactionTimedOut`].
//! [`Connection::begin`] / [`UnitOfWork::commit`] is the explicit style. Dropping an
//! uncommitted unit of work aborts its transaction (the driver does that for a dropped session).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use mongodb::ClientSession;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::version::Fate;

/// Code to run once the transaction has committed.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

/// How long [`Connection::transaction`] retries by default, as the driver's own helper does.
pub const DEFAULT_TRANSACTION_DEADLINE: Duration = Duration::from_secs(120);

/// A transaction in progress (or, from [`Connection::begin_non_transactional`], a scope whose
/// writes apply one by one).
///
/// Versions that saves give aggregates and sagas inside it are provisional until it commits:
/// a rollback, a drop without commit, or a retry by [`Connection::transaction`] puts them back
/// (see [`Version`](crate::Version)). Operations on one unit of work run one at a time (they
/// share its session); the unit of work is passed by shared reference.
pub struct UnitOfWork {
    /// `None` for a non-transactional unit of work.
    session: tokio::sync::Mutex<Option<ClientSession>>,
    transactional: bool,
    after_commit: Mutex<Vec<AfterCommit>>,
    /// Whether this attempt committed (`None` without a transaction: writes settle at once).
    fate: Option<Arc<Fate>>,
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
        }
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

    /// Commits the transaction, then runs the after-commit hooks.
    pub async fn commit(self) -> Result<()> {
        if let Some(session) = self.session.lock().await.as_mut() {
            // An unknown commit result counts as abandoned: a version that reverts costs a
            // conflict at worst, one that stays without its write could hide a lost update.
            session.commit_transaction().await?;
        }
        self.settle_committed();
        Ok(())
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
        if let Some(session) = self.session.lock().await.as_mut() {
            session.abort_transaction().await?;
        }
        Ok(())
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
    }
}

/// Where a store operation runs: in a unit of work, or on its own. Functions take
/// `impl Into<On>`, so pass `&uow` (or `uow` inside [`Connection::transaction`]) or [`Alone`].
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

impl Connection {
    /// Starts a unit of work with a transaction. Fails with
    /// [`Error::TransactionsUnsupported`] on a deployment without transactions.
    pub async fn begin(&self) -> Result<UnitOfWork> {
        if !self.supports_transactions() {
            return Err(Error::needs_transaction("Connection::begin"));
        }
        let mut session = self.client().start_session().await?;
        session.start_transaction().await?;
        Ok(UnitOfWork::new(Some(session)))
    }

    /// A unit of work without a transaction, chosen explicitly: each write applies on its own
    /// and `rollback` cannot undo anything.
    pub fn begin_non_transactional(&self) -> UnitOfWork {
        UnitOfWork::new(None)
    }

    /// Runs `work` in a transaction with the driver's retry rules: the whole callback is
    /// retried after a `TransientTransactionError` (after a jittered backoff,
    /// [`Connection::transaction_backoff`]), the commit after an
    /// `UnknownTransactionCommitResult` that is not `MaxTimeMSExpired`, until the deadline
    /// ([`Connection::transaction_deadline`], 120 s by default), after which the last error comes
    /// back as [`Error::TransactionTimedOut`]; other errors abort. After-commit hooks of the
    /// attempt that committed run once the commit succeeded. Before each retry, the versions the
    /// failed attempt gave aggregates revert, so the callback can simply save them again.
    pub async fn transaction<R>(&self, mut work: impl AsyncFnMut(&UnitOfWork) -> Result<R>) -> Result<R> {
        retry_loop!(self, "Connection::transaction", |uow| work(uow).await)
    }

    /// Like [`transaction`](Self::transaction), with a context value handed to the callback
    /// and a boxed future. Use it where the future must be `Send` (`tokio::spawn`, web
    /// handlers) and an async closure capturing references hits rust-lang/rust#96865
    /// ("implementation of `Send` is not general enough").
    ///
    /// ```no_run
    /// # use cqrs_mongo_persistence::{Connection, Result, Version};
    /// # use futures::FutureExt;
    /// # async fn demo(db: Connection, repo: cqrs_mongo_persistence::Repository<Order>, mut order: Order) -> Result<()> {
    /// db.transaction_with((&repo, &mut order), |uow, (repo, order)| async move { repo.save(order, uow).await }.boxed())
    ///     .await
    /// # }
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Order { id: String, version: Version }
    /// # cqrs_mongo_persistence::aggregate!(Order, "orders", String);
    /// ```
    pub async fn transaction_with<C, R, F>(&self, mut context: C, mut work: F) -> Result<R>
    where
        C: Send,
        R: Send,
        F: for<'a> FnMut(&'a UnitOfWork, &'a mut C) -> BoxFuture<'a, Result<R>> + Send,
    {
        retry_loop!(self, "Connection::transaction_with", |uow| work(uow, &mut context).await)
    }
}

/// The retry loop of [`Connection::transaction`] and [`Connection::transaction_with`] (and so
/// of the projection runner's batches and the event store's group commit), written once and
/// expanded in both (a shared generic function over an async closure would lose the boxed
/// variant's `Send`, rust-lang/rust#96865).
macro_rules! retry_loop {
    ($connection:expr, $operation:expr, |$uow:ident| $attempt:expr) => {{
        let connection: &Connection = $connection;
        if !connection.supports_transactions() {
            return Err(Error::needs_transaction($operation));
        }
        let (backoff, deadline) = (connection.transaction_backoff_setting(), connection.transaction_deadline_setting());
        let started = Instant::now();
        let span = tracing::info_span!("store", operation = "transaction", attempts = tracing::field::Empty);
        let mut session = connection.client().start_session().await?;
        let mut attempts = 0_u32;
        let result = loop {
            attempts += 1;
            session.start_transaction().await?;
            let unit = UnitOfWork::new(Some(session));
            let outcome = {
                let $uow = &unit;
                $attempt
            };
            let outcome = unit.finish_attempt(outcome, started, deadline).await;
            let back = unit.session.lock().await.take();
            let last = match (outcome, back) {
                (Attempt::Again(err), Some(back)) => {
                    session = back;
                    err
                }
                (Attempt::Again(err), None) => break Err(err),
                (Attempt::Done(result), _) => break result,
            };
            // The driver's rule: a jittered, growing wait before the next attempt, within the
            // deadline.
            let wait = backoff.delay(attempts);
            if started.elapsed() + wait >= deadline {
                break Err(Error::TransactionTimedOut {
                    operation: $operation,
                    attempts,
                    elapsed: started.elapsed(),
                    source: Box::new(last),
                });
            }
            tracing::debug!(parent: &span, attempts, wait_us = wait.as_micros() as u64, error = %last, "transaction retried");
            tokio::time::sleep(wait).await;
        };
        span.record("attempts", attempts);
        tracing::debug!(parent: &span, attempts, ok = result.is_ok(), duration_us = started.elapsed().as_micros() as u64, "transaction");
        crate::telemetry::transaction_attempts(attempts);
        result
    }};
}
use retry_loop;

/// How an attempt of [`Connection::transaction`] ended.
enum Attempt<R> {
    /// Committed, or failed for good.
    Done(Result<R>),
    /// Failed with a transient error: run the whole unit of work again.
    Again(Error),
}

impl UnitOfWork {
    /// Ends an attempt of [`Connection::transaction`]: commits after success (retrying an
    /// unknown commit result), aborts after failure.
    async fn finish_attempt<R>(&self, outcome: Result<R>, started: Instant, deadline: Duration) -> Attempt<R> {
        let failed = match outcome {
            Ok(value) => match self.commit_retrying(started, deadline).await {
                Ok(()) => return Attempt::Done(Ok(value)),
                Err(err) => err,
            },
            Err(err) => {
                self.abandon();
                // The callback's error may already have ended the transaction; an abort that
                // finds none is no error here.
                if let Some(session) = self.session.lock().await.as_mut() {
                    let _ = session.abort_transaction().await;
                }
                err
            }
        };
        if failed.is_transient() { Attempt::Again(failed) } else { Attempt::Done(Err(failed)) }
    }

    /// Commits, sending the commit again after an `UnknownTransactionCommitResult` (unless it is
    /// `MaxTimeMSExpired`, as the driver does) until the deadline; then settles versions and runs
    /// the hooks. On failure the attempt is abandoned.
    async fn commit_retrying(&self, started: Instant, deadline: Duration) -> Result<()> {
        let mut guard = self.session.lock().await;
        let Some(session) = guard.as_mut() else { return Ok(()) };
        loop {
            match session.commit_transaction().await {
                Ok(()) => break,
                Err(err) if commit_unknown(&err) && started.elapsed() < deadline => continue,
                Err(err) => {
                    drop(guard);
                    self.abandon();
                    return Err(err.into());
                }
            }
        }
        drop(guard);
        self.settle_committed();
        Ok(())
    }
}

/// An unknown commit result worth sending the commit again for: not one that ran out of its
/// `maxTimeMS` (the driver's exception).
fn commit_unknown(err: &mongodb::error::Error) -> bool {
    err.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT)
        && !crate::error::codes_of(err).any(|code| code == 50)
}
