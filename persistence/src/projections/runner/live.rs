//! The live loop of a runner: the shared [`follow`](crate::runtime::follow) loop around catch-ups
//! fenced by the lease token.

use std::future::Future;
use std::sync::PoisonError;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{Projection, ProjectionRunner, Targets};
use crate::error::Result;
use crate::runtime::follow::{CatchUp, Follow};
use crate::runtime::lease::Leader;
use crate::runtime::spawn::Running;

impl<P: Projection> ProjectionRunner<P> {
    /// Keeps the projection up to date until `shutdown` completes, as one of any number of
    /// replicas: the one holding the checkpoint's lease processes, the others stand by and
    /// check the lease every poll interval. The leader renews its lease between batches and
    /// while it waits; every checkpoint it writes is fenced by its lease token, so a leader
    /// that lost the lease commits nothing more. On return (shutdown or error) the lease is
    /// released, so a stand-by takes over at once; after a crash, within the lease period
    /// (plus a poll interval).
    ///
    /// While the database is unavailable (the server going away, a failover, an overloaded
    /// server) the runner backs off ([`on_unavailable`](Self::on_unavailable)) and tries again,
    /// counting nothing against any event. An event that fails (its `project`, or a write the
    /// server refuses) is handled by the [`on_failure`](Self::on_failure) policy: retried after
    /// its backoff, then parked (the default) or the run ends with [`Error::Handler`](crate::Error::Handler).
    /// Any other error ends the run. Backoff streaks, parked events and the stop are logged
    /// (`tracing`) and counted (see [`telemetry`](crate::telemetry)).
    ///
    /// When `shutdown` completes during a catch-up, the batch in hand commits and the run
    /// returns before the next one. [`spawn`](Self::spawn) runs this in a task of its own.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        self.live(Leader::new(self.lease()), shutdown).await
    }

    async fn live(&self, mut leader: Leader, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let follow = Follow {
            connection: &self.connection,
            events: &self.events,
            kind: "projection",
            name: self.projection.name(),
            poll: self.poll,
            change_stream: self.change_stream,
            unavailable: self.unavailable,
            stats: &self.stats.follow,
        };
        follow.run(&mut leader, self, shutdown).await
    }

    /// Runs [`run`](Self::run) in a task of its own and returns its handle:
    /// [`stop`](Running::stop) ends it after the batch in hand and releases the lease (a
    /// stand-by takes over at once), [`abort`](Running::abort) kills it where it is (a stand-by
    /// takes over once the lease expires), and the handle derefs to the runner (its stats,
    /// position, leader). Dropping the handle stops it as `stop` does, without waiting.
    ///
    /// ```no_run
    /// # async fn demo(db: &cqrs_mongo_persistence::Connection, events: &cqrs_mongo_persistence::EventStore,
    /// #     summaries: cqrs_mongo_persistence::projections::Handlers) -> cqrs_mongo_persistence::Result<()> {
    /// use cqrs_mongo_persistence::ProjectionRunner;
    ///
    /// let runner = ProjectionRunner::new(db, events, summaries).replica_name("web-1").spawn();
    /// // ... serve requests ...
    /// println!("{} events applied", runner.stats().events());
    /// runner.stop().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn spawn(self) -> Running<Self> {
        Running::spawn("projection runner", self, |runner, shutdown| async move {
            let leader = Leader::new(runner.lease()).stopping_on(shutdown.requested);
            runner.live(leader, shutdown.signal).await
        })
    }
}

impl<P: Projection> CatchUp for ProjectionRunner<P> {
    fn catch_up<'a>(&'a self, leader: &'a mut Leader, token: i64) -> BoxFuture<'a, Result<Option<Duration>>> {
        async move {
            let targets = Targets::live(self.projection.as_ref());
            let checkpoint = self.live_checkpoint().fenced(token);
            // The failing event's attempts are kept between catch-ups.
            let mut failing = std::mem::take(&mut *self.failing.lock().unwrap_or_else(PoisonError::into_inner));
            let progress = self.catch_up_into(&checkpoint, &targets, &mut |_, _| {}, Some(leader), &mut failing).await;
            *self.failing.lock().unwrap_or_else(PoisonError::into_inner) = failing;
            let progress = progress?;
            let lag = self.events.latest_position().await? - checkpoint.read().await?.position;
            crate::telemetry::consumer_lag("projection", self.projection.name(), lag.max(0));
            Ok(progress.retry_in)
        }
        .boxed()
    }
}
