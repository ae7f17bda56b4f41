//! [`Connection::transaction`] and [`Connection::transaction_with`]: the one transaction loop,
//! with the driver's rules (a jittered, growing backoff between attempts after a
//! `TransientTransactionError`, the commit sent again after an `UnknownTransactionCommitResult`
//! that is not `MaxTimeMSExpired`, a deadline), also used by the projection runner's batches and
//! the event store's group commit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::UnitOfWork;
use crate::error::{Error, Result};
use crate::store::connection::Connection;

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
    ///
    /// The callback returns your error type, anything that a store error converts into
    /// (`E: From<Error>`, as sqlx's `Connection::transaction`): a domain refusal ("no such
    /// order") is yours, not a persistence error. An attempt whose callback fails is retried
    /// when a store operation in it failed with a transient error (the unit of work notes it
    /// itself, even if the callback turned it into another error); any other error of yours
    /// aborts the transaction and comes back as it is.
    ///
    /// ```no_run
    /// # use cqrs_mongo_persistence::{Connection, Error, Repository};
    /// # use cqrs_mongo_persistence::store::Version;
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Order { id: String, status: String, version: Version }
    /// # cqrs_mongo_persistence::aggregate!(Order, "orders", String);
    /// #[derive(Debug)]
    /// enum PayError { NotFound, Store(Error) }
    /// impl From<Error> for PayError { fn from(err: Error) -> Self { PayError::Store(err) } }
    ///
    /// # async fn demo(db: Connection, orders: Repository<Order>) -> Result<(), PayError> {
    /// let paid = db
    ///     .transaction(async |uow| -> Result<Order, PayError> {
    ///         let mut order = orders.get(&"o-1".to_owned(), uow).await?.ok_or(PayError::NotFound)?;
    ///         order.status = "paid".into();
    ///         orders.save(&mut order, uow).await?;
    ///         Ok(order)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<R, E>(
        &self,
        mut work: impl AsyncFnMut(&UnitOfWork) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E>
    where
        E: From<Error>,
    {
        retry_loop!(self, "Connection::transaction", |uow| work(uow).await)
    }

    /// Like [`transaction`](Self::transaction), with a context value handed to the callback
    /// and a boxed future. Use it where the future must be `Send` (`tokio::spawn`, web
    /// handlers) and an async closure capturing references hits rust-lang/rust#96865
    /// ("implementation of `Send` is not general enough"). For the command workflow on an
    /// event-sourced aggregate, [`AggregateStore::update`](crate::AggregateStore::update) needs
    /// neither.
    ///
    /// ```no_run
    /// # use cqrs_mongo_persistence::{Connection, Result};
    /// # use cqrs_mongo_persistence::store::Version;
    /// # use futures::FutureExt;
    /// # async fn demo(db: Connection, repo: cqrs_mongo_persistence::Repository<Order>, mut order: Order) -> Result<()> {
    /// db.transaction_with((&repo, &mut order), |uow, (repo, order)| async move { repo.save(order, uow).await }.boxed())
    ///     .await
    /// # }
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Order { id: String, version: Version }
    /// # cqrs_mongo_persistence::aggregate!(Order, "orders", String);
    /// ```
    pub async fn transaction_with<C, R, E, F>(&self, mut context: C, mut work: F) -> std::result::Result<R, E>
    where
        C: Send,
        R: Send,
        E: From<Error> + Send,
        F: for<'a> FnMut(&'a UnitOfWork, &'a mut C) -> BoxFuture<'a, std::result::Result<R, E>> + Send,
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
            return Err(Error::needs_transaction($operation).into());
        }
        let (backoff, deadline) = (connection.transaction_backoff_setting(), connection.transaction_deadline_setting());
        let started = Instant::now();
        let span = tracing::info_span!("store", operation = "transaction", attempts = tracing::field::Empty);
        let mut session = connection.client().start_session().await.map_err(Error::from)?;
        let mut attempts = 0_u32;
        let result = loop {
            attempts += 1;
            session.start_transaction().await.map_err(Error::from)?;
            let unit = UnitOfWork::new(Some(session));
            // Store errors of this attempt are noted, so a transient one is seen whatever error
            // the callback returns.
            let noted = Noted::default();
            let outcome = ATTEMPT
                .scope(noted.clone(), async {
                    let $uow = &unit;
                    $attempt
                })
                .await;
            let outcome = unit.finish_attempt(outcome, noted.take(), started, deadline).await;
            let back = unit.session.lock().await.take();
            let last = match (outcome, back) {
                (Attempt::Again(err), Some(back)) => {
                    session = back;
                    err
                }
                (Attempt::Again(err), None) => break Err(err.into()),
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
                }
                .into());
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

tokio::task_local! {
    /// The transient store error of the transaction attempt running in this task, if any.
    static ATTEMPT: Noted;
}

/// A transient driver error noted during one attempt.
#[derive(Clone, Default)]
struct Noted(Arc<Mutex<Option<mongodb::error::Error>>>);

impl Noted {
    fn take(&self) -> Option<mongodb::error::Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Notes a driver error met by a store operation: inside an attempt of
/// [`Connection::transaction`], a transient one makes a failed callback run again, whatever
/// error the callback returned. Every driver error becomes a store [`Error`] through here.
pub(crate) fn note_driver_error(err: &mongodb::error::Error) {
    if err.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR) {
        let _ = ATTEMPT.try_with(|noted| *noted.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.clone()));
    }
}

/// How an attempt of [`Connection::transaction`] ended.
enum Attempt<R, E> {
    /// Committed, or failed for good.
    Done(std::result::Result<R, E>),
    /// Failed with a transient error: run the whole unit of work again.
    Again(Error),
}

impl UnitOfWork {
    /// Ends an attempt of [`Connection::transaction`]: commits after success (retrying an
    /// unknown commit result), aborts after failure. `transient` is the transient store error
    /// the attempt met, if any.
    async fn finish_attempt<R, E: From<Error>>(
        &self,
        outcome: std::result::Result<R, E>,
        transient: Option<mongodb::error::Error>,
        started: Instant,
        deadline: Duration,
    ) -> Attempt<R, E> {
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
                self.reservations.burn().await;
                return match transient {
                    Some(transient) => Attempt::Again(Error::from(transient)),
                    None => Attempt::Done(Err(err)),
                };
            }
        };
        // Held too long, its positions were burnt: again, with new ones.
        let again = failed.is_transient() || matches!(failed, Error::ReservationExpired { .. });
        if again { Attempt::Again(failed) } else { Attempt::Done(Err(failed.into())) }
    }

    /// Commits, sending the commit again after an `UnknownTransactionCommitResult` (unless it is
    /// `MaxTimeMSExpired`, as the driver does) until the deadline; then settles versions and runs
    /// the hooks. On failure the attempt is abandoned.
    async fn commit_retrying(&self, started: Instant, deadline: Duration) -> Result<()> {
        self.refuse_expired().await?;
        let mut guard = self.session.lock().await;
        let Some(session) = guard.as_mut() else { return Ok(()) };
        loop {
            match session.commit_transaction().await {
                Ok(()) => break,
                Err(err) if commit_unknown(&err) && started.elapsed() < deadline => continue,
                Err(err) => {
                    drop(guard);
                    self.abandon();
                    self.commit_failed(&err).await;
                    return Err(err.into());
                }
            }
        }
        drop(guard);
        self.reservations.committed();
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
