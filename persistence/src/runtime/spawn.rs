//! The runtime loops in a task of their own: [`Running`], what
//! [`ProjectionRunner::spawn`](crate::ProjectionRunner::spawn),
//! [`Subscription::spawn`](crate::Subscription::spawn),
//! [`OutboxRelay::spawn`](crate::OutboxRelay::spawn) and
//! [`JobWorker::spawn`](crate::JobWorker::spawn) return, and the counters the loops keep.
//!
//! The handle has the shape of axum's `serve(..).with_graceful_shutdown(..)` plus Tokio's
//! `JoinHandle`: [`stop`](Running::stop) asks the loop to finish what it has in hand and waits
//! for its outcome, [`abort`](Running::abort) cancels it at once, awaiting the handle itself
//! waits until the loop ends on its own (only an error ends it), and the loop itself (its
//! stats, position, leader) stays readable through the handle all along.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// How a spawned loop learns that its handle asks it to stop.
pub(crate) struct Shutdown {
    /// Set at once when the stop is asked for (a leased loop's catch-up reads it between
    /// batches, so the batch in hand is the last one).
    pub(crate) requested: Arc<AtomicBool>,
    /// Completes when the stop is asked for, or the handle is dropped.
    pub(crate) signal: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// A loop `L` running in a task of its own. It derefs to the loop, so its counters and
/// queries stay at hand: `runner.stats().events()`, `runner.position().await?`,
/// `runner.leader().await?`.
///
/// - [`stop`](Self::stop) is the graceful stop: the loop finishes the batch (runner,
///   subscription), round (relay) or jobs (worker, within its shutdown grace) it has in hand,
///   releases what it holds (a runner's or subscription's lease, so a stand-by takes over at
///   once; a round's unattempted claims) and returns; `stop` gives its outcome.
/// - [`abort`](Self::abort) cancels the task at once, as if the process died there: nothing is
///   released, a lease expires after its period, claims after theirs. Awaiting the handle
///   afterwards gives [`Error::BackgroundTaskStopped`] (or the outcome, if the loop had ended
///   already).
/// - Awaiting the handle (it is a [`Future`]; `&mut handle` too, in a `select!`) waits for the
///   loop to end without asking it to: a loop only ends on its own with an error (a
///   misconfiguration, or an item its policy stops on). The outcome is given once: awaiting
///   the handle (or `stop`) after that gives `Ok(())`.
/// - **Dropping the handle stops the loop gracefully**, as [`stop`](Self::stop) does, without
///   waiting for it: the task finishes its item and releases its lease in the background
///   (unless the runtime shuts down first). So a loop never outlives the last handle that can
///   stop it; keep the handle for as long as the loop should run (`let _ = runner.spawn();`
///   stops it at once).
///
/// A panic in the loop is resumed in the task that awaits the handle (or calls `stop`).
#[must_use = "dropping the handle stops the loop; keep it for as long as the loop should run"]
pub struct Running<L> {
    task: &'static str,
    inner: Arc<L>,
    requested: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    join: JoinHandle<Result<()>>,
    /// The outcome was given already (a `JoinHandle` must not be polled again).
    taken: bool,
}

impl<L> fmt::Debug for Running<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running").field("task", &self.task).field("finished", &self.is_finished()).finish()
    }
}

impl<L: Send + Sync + 'static> Running<L> {
    /// Spawns `run(inner, shutdown)` on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub(crate) fn spawn<F>(task: &'static str, inner: L, run: impl FnOnce(Arc<L>, Shutdown) -> F) -> Self
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let inner = Arc::new(inner);
        let requested = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = oneshot::channel::<()>();
        // A sent stop and a dropped sender both end the wait.
        let signal = Box::pin(async move {
            let _ = stopped.await;
        });
        let join = tokio::spawn(run(inner.clone(), Shutdown { requested: requested.clone(), signal }));
        Running { task, inner, requested, stop: Some(stop), join, taken: false }
    }
}

impl<L> Running<L> {
    /// True once the loop has ended (stopped, aborted, or ended on its own with an error).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Asks the loop to stop gracefully, at once (before the returned future is first
    /// polled), and returns the future of its outcome: `Ok(())` after a clean stop, or the
    /// error it ended with (possibly before this call). See the type's docs for what
    /// "gracefully" means for each loop. Dropping the future leaves the loop stopping in the
    /// background.
    pub fn stop(mut self) -> impl Future<Output = Result<()>> {
        self.ask_to_stop();
        self
    }

    /// Cancels the loop at once, wherever it is (nothing released: its lease and claims
    /// expire). Await the handle to wait until it is gone.
    pub fn abort(&self) {
        self.join.abort();
    }

    fn ask_to_stop(&mut self) {
        self.requested.store(true, Ordering::Relaxed);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asks the loop to stop gracefully (without waiting for it).
impl<L> Drop for Running<L> {
    fn drop(&mut self) {
        self.ask_to_stop();
    }
}

/// The loop: its settings, counters and queries.
impl<L> Deref for Running<L> {
    type Target = L;

    fn deref(&self) -> &L {
        &self.inner
    }
}

impl<L> Future for Running<L> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.taken {
            return Poll::Ready(Ok(()));
        }
        let task = self.task;
        let joined = std::task::ready!(Pin::new(&mut self.join).poll(cx));
        self.taken = true;
        Poll::Ready(match joined {
            Ok(outcome) => outcome,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => Err(Error::BackgroundTaskStopped { task }),
        })
    }
}

/// One counter of a loop's stats (relaxed: a monitoring number, not a synchronisation point).
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// One more.
    pub(crate) fn bump(&self) {
        self.add(1);
    }

    /// `n` more.
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Raised to `n` if it is lower.
    pub(crate) fn raise_to(&self, n: u64) {
        self.0.fetch_max(n, Ordering::Relaxed);
    }

    /// The count now.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// A stats struct of [`Counter`]s, each read through a method of its name (as Tokio's
/// `RuntimeMetrics` does), and optional embedded stats read through a method of theirs.
macro_rules! stats {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$doc:meta])* $field:ident,)*
        }
        $($(#[$embed_doc:meta])* embed $embed:ident: $embedded:ty;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name {
            $(pub(crate) $embed: $embedded,)?
            $(pub(crate) $field: $crate::runtime::spawn::Counter,)*
        }

        impl $name {
            $(
                $(#[$embed_doc])*
                pub fn $embed(&self) -> &$embedded {
                    &self.$embed
                }
            )?
            $(
                $(#[$doc])*
                pub fn $field(&self) -> u64 {
                    self.$field.get()
                }
            )*
        }
    };
}
pub(crate) use stats;
