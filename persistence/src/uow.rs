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

use crate::connection::Connection;
use crate::error::{Error, Result};

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
pub struct UnitOfWork<'s> {
    session: SessionSlot<'s>,
    after_commit: Vec<AfterCommit>,
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
        UnitOfWork { session: SessionSlot::Borrowed(session), after_commit: Vec::new() }
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
            session.commit_transaction().await?;
        }
        for hook in self.after_commit.drain(..) {
            hook();
        }
        Ok(())
    }

    /// Aborts the transaction; the hooks are dropped.
    pub async fn rollback(mut self) -> Result<()> {
        self.after_commit.clear();
        if let SessionSlot::Owned(session) = &mut self.session {
            session.abort_transaction().await?;
        }
        Ok(())
    }
}

impl Connection {
    /// Starts a unit of work with a transaction. Fails with
    /// [`Error::TransactionsUnsupported`] on a deployment without transactions.
    pub async fn begin(&self) -> Result<UnitOfWork<'static>> {
        if !self.supports_transactions() {
            return Err(Error::TransactionsUnsupported);
        }
        let mut session = self.client().start_session().await?;
        session.start_transaction().await?;
        Ok(UnitOfWork { session: SessionSlot::Owned(Box::new(session)), after_commit: Vec::new() })
    }

    /// A unit of work without a transaction, chosen explicitly: each write applies on its own
    /// and `rollback` cannot undo anything.
    pub fn begin_non_transactional(&self) -> UnitOfWork<'static> {
        UnitOfWork { session: SessionSlot::None, after_commit: Vec::new() }
    }

    /// Like [`run_in_transaction`](Self::run_in_transaction), with a context value handed to
    /// the callback and a boxed future, the driver's `and_run` style. Use it where the future must
    /// be `Send` (`tokio::spawn`, web handlers): async closures that capture references can hit
    /// rust-lang/rust#96865 ("implementation of `Send` is not general enough").
    ///
    /// ```no_run
    /// # use cqrs_mongo_persistence::{Connection, Result};
    /// # use futures::FutureExt;
    /// # async fn demo(db: Connection, repo: cqrs_mongo_persistence::Repository<Order>, mut order: Order) -> Result<()> {
    /// db.run_in_transaction_with((&repo, &mut order), |uow, (repo, order)| {
    ///     async move { repo.save(order, Some(uow)).await }.boxed()
    /// })
    /// .await
    /// # }
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct Order { id: String, version: i64 }
    /// # impl cqrs_mongo_persistence::Aggregate for Order { const COLLECTION: &'static str = "o"; type Id = String;
    /// #   fn id(&self) -> &String { &self.id } fn version(&self) -> i64 { self.version } fn set_version(&mut self, v: i64) { self.version = v } }
    /// ```
    pub async fn run_in_transaction_with<C, R, F>(&self, context: C, work: F) -> Result<R>
    where
        C: Send,
        R: Send,
        F: for<'a, 'b> FnMut(&'a mut UnitOfWork<'b>, &'a mut C) -> BoxFuture<'a, Result<R>> + Send,
    {
        if !self.supports_transactions() {
            return Err(Error::TransactionsUnsupported);
        }
        let mut session = self.client().start_session().await?;
        let mut hooks: Vec<AfterCommit> = Vec::new();
        let state = (context, work, &mut hooks);
        let value = session
            .start_transaction()
            .and_run(state, |session, state| {
                let (context, work, hooks) = state;
                async move {
                    let mut uow = UnitOfWork::borrowed(session);
                    let outcome = work(&mut uow, context).await;
                    // Only the attempt that reaches the commit keeps its hooks.
                    **hooks = std::mem::take(&mut uow.after_commit);
                    outcome.map_err(Error::into_driver)
                }
                .boxed()
            })
            .await?;
        for hook in hooks {
            hook();
        }
        Ok(value)
    }

    /// Runs `work` in a transaction with the driver's retry rules: the whole callback is retried
    /// after a `TransientTransactionError`, the commit after an
    /// `UnknownTransactionCommitResult` (for up to 120 s), other errors abort. After-commit hooks
    /// of the successful attempt run once the commit succeeded.
    pub async fn run_in_transaction<R, F>(&self, mut work: F) -> Result<R>
    where
        F: for<'a, 'b> AsyncFnMut(&'a mut UnitOfWork<'b>) -> Result<R>,
    {
        if !self.supports_transactions() {
            return Err(Error::TransactionsUnsupported);
        }
        let mut session = self.client().start_session().await?;
        let mut hooks: Vec<AfterCommit> = Vec::new();
        let hooks_slot = &mut hooks;
        let mut attempts = 0_u32;
        let attempts_slot = &mut attempts;
        let span = tracing::info_span!("store", operation = "transaction", attempts = tracing::field::Empty);
        let start = std::time::Instant::now();
        let result = session
            .start_transaction()
            .and_run2(async |session| {
                *attempts_slot += 1;
                let mut uow = UnitOfWork { session: SessionSlot::Borrowed(session), after_commit: Vec::new() };
                let outcome = work(&mut uow).await;
                // Only the attempt that reaches the commit keeps its hooks.
                *hooks_slot = std::mem::take(&mut uow.after_commit);
                outcome.map_err(Error::into_driver)
            })
            .await;
        span.record("attempts", attempts);
        tracing::debug!(parent: &span, attempts, ok = result.is_ok(), duration_us = start.elapsed().as_micros() as u64, "transaction");
        let value = result?;
        for hook in hooks {
            hook();
        }
        Ok(value)
    }
}
