//! The unit of work: a driver session with a real multi-document transaction.
//!
//! Components take the unit of work explicitly (`repo.save(&mut order, Some(&mut uow))`).
//! [`Connection::run_in_transaction`] is built on the driver's own transaction helper, so
//! `TransientTransactionError` and `UnknownTransactionCommitResult` are retried as the MongoDB
//! specification prescribes. Dropping an uncommitted unit of work aborts its transaction (the
//! driver does that for a dropped session).

use futures::FutureExt;
use futures::future::BoxFuture;
use mongodb::ClientSession;

use std::sync::Arc;

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::version::Fate;

/// Code to run once the transaction has committed.
pub type AfterCommit = Box<dyn FnOnce() + Send>;

enum SessionSlot<'s> {
    /// A transaction started by [`Connection::begin`].
    Owned(Box<ClientSession>),
    /// The driver helper's session inside [`Connection::run_in_transaction`].
    Borrowed(&'s mut ClientSession),
    /// The caller chose [`Connection::begin_non_transactional`]: writes apply one by one.
    None,
}

/// A transaction in progress.
///
/// Versions that saves give aggregates and sagas inside it are provisional until it commits:
/// a rollback, a drop without commit, or a retry by
/// [`Connection::run_in_transaction`] puts them back (see [`Version`](crate::Version)).
pub struct UnitOfWork<'s> {
    session: SessionSlot<'s>,
    after_commit: Vec<AfterCommit>,
    /// Whether this attempt committed (`None` without a transaction: writes settle at once).
    fate: Option<Arc<Fate>>,
}

impl std::fmt::Debug for UnitOfWork<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.session {
            SessionSlot::Owned(_) => "transaction",
            SessionSlot::Borrowed(_) => "transaction (driver helper)",
            SessionSlot::None => "non-transactional",
        };
        f.debug_struct("UnitOfWork").field("kind", &kind).field("after_commit", &self.after_commit.len()).finish()
    }
}

impl<'s> UnitOfWork<'s> {
    /// A unit of work over a session whose transaction someone else drives.
    pub(crate) fn borrowed(session: &'s mut ClientSession) -> Self {
        UnitOfWork { session: SessionSlot::Borrowed(session), after_commit: Vec::new(), fate: Some(Arc::default()) }
    }

    /// How versions written in this unit of work settle (`None`: at once).
    pub(crate) fn fate(&self) -> Option<&Arc<Fate>> {
        self.fate.as_ref()
    }

    /// The session operations must use (`None` in non-transactional mode).
    pub fn session(&mut self) -> Option<&mut ClientSession> {
        match &mut self.session {
            SessionSlot::Owned(session) => Some(&mut **session),
            SessionSlot::Borrowed(session) => Some(&mut **session),
            SessionSlot::None => None,
        }
    }

    /// True inside a real transaction.
    pub fn is_transactional(&self) -> bool {
        !matches!(self.session, SessionSlot::None)
    }

    /// Registers code to run after a successful commit; discarded on rollback.
    pub fn after_commit(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(hook));
    }

    /// Commits the transaction, then runs the after-commit hooks.
    pub async fn commit(mut self) -> Result<()> {
        if let SessionSlot::Owned(session) = &mut self.session {
            // An unknown commit result counts as abandoned: a version that reverts costs a
            // conflict at worst, one that stays without its write could hide a lost update.
            session.commit_transaction().await?;
        }
        if let Some(fate) = &self.fate {
            fate.commit();
        }
        for hook in self.after_commit.drain(..) {
            hook();
        }
        Ok(())
    }

    /// Aborts the transaction; the hooks are dropped.
    pub async fn rollback(mut self) -> Result<()> {
        self.after_commit.clear();
        if let Some(fate) = &self.fate {
            fate.abandon();
        }
        if let SessionSlot::Owned(session) = &mut self.session {
            session.abort_transaction().await?;
        }
        Ok(())
    }
}

impl Drop for UnitOfWork<'_> {
    /// An owned transaction that was not committed is aborted by the driver when its session
    /// is dropped; its provisional versions revert. (A borrowed one is decided by its helper.)
    fn drop(&mut self) {
        if let (SessionSlot::Owned(_), Some(fate)) = (&self.session, &self.fate) {
            fate.abandon();
        }
    }
}

impl Connection {
    /// Starts a unit of work with a transaction. Fails with
    /// [`Error::TransactionsUnsupported`] on a deployment without transactions.
    pub async fn begin(&self) -> Result<UnitOfWork<'static>> {
        if !self.supports_transactions() {
            return Err(Error::needs_transaction("Connection::begin"));
        }
        let mut session = self.client().start_session().await?;
        session.start_transaction().await?;
        Ok(UnitOfWork {
            session: SessionSlot::Owned(Box::new(session)),
            after_commit: Vec::new(),
            fate: Some(Arc::default()),
        })
    }

    /// A unit of work without a transaction, chosen explicitly: each write applies on its own
    /// and `rollback` cannot undo anything.
    pub fn begin_non_transactional(&self) -> UnitOfWork<'static> {
        UnitOfWork { session: SessionSlot::None, after_commit: Vec::new(), fate: None }
    }

    /// Like [`run_in_transaction`](Self::run_in_transaction), with a context value handed to
    /// the callback and a boxed future, the driver's `and_run` style. Use it where the future must
    /// be `Send` (`tokio::spawn`, web handlers): async closures that capture references can hit
    /// rust-lang/rust#96865 ("implementation of `Send` is not general enough").
    ///
    /// ```no_run
    /// # use cqrs_mongo_persistence::{Connection, Result, Version};
    /// # use futures::FutureExt;
    /// # async fn demo(db: Connection, repo: cqrs_mongo_persistence::Repository<Order>, mut order: Order) -> Result<()> {
    /// db.run_in_transaction_with((&repo, &mut order), |uow, (repo, order)| {
    ///     async move { repo.save(order, Some(uow)).await }.boxed()
    /// })
    /// .await
    /// # }
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Order { id: String, version: Version }
    /// # cqrs_mongo_persistence::aggregate!(Order, "orders", String);
    /// ```
    pub async fn run_in_transaction_with<C, R, F>(&self, context: C, work: F) -> Result<R>
    where
        C: Send,
        R: Send,
        F: for<'a, 'b> FnMut(&'a mut UnitOfWork<'b>, &'a mut C) -> BoxFuture<'a, Result<R>> + Send,
    {
        if !self.supports_transactions() {
            return Err(Error::needs_transaction("Connection::run_in_transaction_with"));
        }
        let mut session = self.client().start_session().await?;
        let mut attempts = Attempts::default();
        let state = (context, work, &mut attempts);
        let result = session
            .start_transaction()
            .and_run(state, |session, state| {
                let (context, work, attempts) = state;
                async move {
                    let mut uow = attempts.start(session);
                    let outcome = work(&mut uow, context).await;
                    attempts.end(uow);
                    outcome.map_err(Error::into_driver)
                }
                .boxed()
            })
            .await;
        attempts.finish(result.map_err(Error::from))
    }

    /// Runs `work` in a transaction with the driver's retry rules: the whole callback is retried
    /// after a `TransientTransactionError`, the commit after an
    /// `UnknownTransactionCommitResult` (for up to 120 s), other errors abort. After-commit hooks
    /// of the successful attempt run once the commit succeeded. Before each retry, the versions
    /// the failed attempt gave aggregates revert, so the callback can simply save them again.
    pub async fn run_in_transaction<R, F>(&self, mut work: F) -> Result<R>
    where
        F: for<'a, 'b> AsyncFnMut(&'a mut UnitOfWork<'b>) -> Result<R>,
    {
        if !self.supports_transactions() {
            return Err(Error::needs_transaction("Connection::run_in_transaction"));
        }
        let mut session = self.client().start_session().await?;
        let mut attempts = Attempts::default();
        let attempts_slot = &mut attempts;
        let span = tracing::info_span!("store", operation = "transaction", attempts = tracing::field::Empty);
        let start = std::time::Instant::now();
        let result = session
            .start_transaction()
            .and_run2(async |session| {
                let mut uow = attempts_slot.start(session);
                let outcome = work(&mut uow).await;
                attempts_slot.end(uow);
                outcome.map_err(Error::into_driver)
            })
            .await;
        span.record("attempts", attempts.count);
        tracing::debug!(parent: &span, attempts = attempts.count, ok = result.is_ok(), duration_us = start.elapsed().as_micros() as u64, "transaction");
        attempts.finish(result.map_err(Error::from))
    }
}

/// The attempts of one transaction run by the driver's helper.
#[derive(Default)]
struct Attempts {
    count: u32,
    /// The after-commit hooks of the latest attempt (only the attempt that commits keeps them).
    hooks: Vec<AfterCommit>,
    /// The latest attempt's fate.
    fate: Option<Arc<Fate>>,
}

impl Attempts {
    /// A new attempt: the previous one (if any) is being retried, so it is abandoned.
    fn start<'s>(&mut self, session: &'s mut ClientSession) -> UnitOfWork<'s> {
        self.count += 1;
        if let Some(previous) = self.fate.take() {
            previous.abandon();
        }
        let uow = UnitOfWork::borrowed(session);
        self.fate = uow.fate.clone();
        uow
    }

    fn end(&mut self, mut uow: UnitOfWork<'_>) {
        self.hooks = std::mem::take(&mut uow.after_commit);
    }

    /// After the helper returned: the latest attempt committed or not.
    fn finish<R>(self, result: Result<R>) -> Result<R> {
        match &result {
            Ok(_) => self.fate.iter().for_each(|fate| fate.commit()),
            Err(_) => self.fate.iter().for_each(|fate| fate.abandon()),
        }
        if result.is_ok() {
            for hook in self.hooks {
                hook();
            }
        }
        result
    }
}
