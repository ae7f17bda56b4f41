//! Rebuild: replay every event into fresh `<collection>_v<N>` collections, then swap them in.

use std::time::{Duration, Instant};

use bson::{Document, doc};

use super::checkpoint::Checkpoint;
use super::{Projection, ProjectionRunner, Targets};
use crate::error::{Error, Result};

/// Where a rebuild is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RebuildProgress {
    /// Events replayed so far.
    pub done: u64,
    /// Events to replay (the head position; it grows if events arrive meanwhile).
    pub total: u64,
    /// Events per second so far.
    pub rate: f64,
    /// Estimated time left at that rate.
    pub remaining: Option<Duration>,
}

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RebuildReport {
    /// The `N` of the `<collection>_v<N>` collections built and swapped in.
    pub version: u32,
    /// Events replayed before the swap.
    pub events: u64,
    /// Events applied after the swap (appended while the rebuild ran).
    pub events_after_swap: u64,
    /// How long it took.
    pub elapsed: Duration,
}

impl<P: Projection> ProjectionRunner<P> {
    /// Replays the whole event store into fresh collections (`<collection>_v<N>`, with the
    /// projection's indexes), renames them over the live collections, moves the projection's
    /// position to where the replay ended, and catches up with events appended meanwhile.
    /// `progress` is called after every batch.
    ///
    /// Live runners of the same projection may keep running, and events may keep coming.
    /// Until the replay has caught up, live runners write the old collections. Then the
    /// rebuild pauses the projection's checkpoint (a live runner's next batch does not commit;
    /// it stands by, polling), replays what arrived meanwhile, renames the new collections over
    /// the old ones, and sets the checkpoint to the replay's position while lifting the pause,
    /// in one update: live runners go on from there into the new collections. A rebuild that
    /// is interrupted during the swap leaves the projection paused; running the rebuild again
    /// finishes it.
    ///
    /// In a tenant scope it is [`Error::Unsupported`]: the collections hold every tenant's
    /// documents.
    pub async fn rebuild(&self, mut progress: impl FnMut(&RebuildProgress) + Send) -> Result<RebuildReport> {
        if self.tenant.is_some() {
            return Err(Error::Unsupported {
                operation: "ProjectionRunner::rebuild",
                option: "a tenant scope",
                reason: "a rebuild replaces the projection's collections, which hold every tenant's documents; \
                         rebuild with an unscoped runner"
                    .into(),
            });
        }
        let start = Instant::now();
        let database = self.connection.database();
        let name = self.projection.name();
        let collections = self.projection.collections();
        let live = self.live_checkpoint();
        // The last rebuild's number is kept on the checkpoint (its collections were renamed
        // away); leftovers of an interrupted rebuild are skipped too.
        let previous = live.field("rebuild_version").await?.and_then(|v| v.as_i64()).unwrap_or(1);
        let existing = database.list_collection_names().await?;
        let leftover = collections
            .iter()
            .flat_map(|c| existing.iter().filter_map(move |e| e.strip_prefix(&format!("{c}_v"))?.parse::<i64>().ok()))
            .max()
            .unwrap_or(1);
        let version = u32::try_from(previous.max(leftover) + 1).unwrap_or(u32::MAX);
        let targets = Targets(collections.iter().map(|c| (c.clone(), format!("{c}_v{version}"))).collect());
        for physical in targets.0.values() {
            database.collection::<Document>(physical).drop().await?;
            database.create_collection(physical).await?;
        }
        let indexes: Vec<_> = self
            .projection
            .indexes()
            .into_iter()
            .map(|mut index| {
                index.collection = targets.resolve(&index.collection).to_owned();
                index
            })
            .collect();
        self.connection.ensure_indexes(&indexes).await?;

        // Not `<name>@…`: that is a tenant's checkpoint.
        let replay = Checkpoint::new(&self.connection, &format!("rebuild:{name}:v{version}"), None);
        replay.delete().await?;
        let mut total = self.events.latest_position().await?.max(0) as u64;
        let mut done = 0_u64;
        let mut report_progress = |position: i64, events: u64| {
            done += events;
            total = total.max(position.max(0) as u64);
            let seconds = start.elapsed().as_secs_f64();
            let rate = if seconds > 0.0 { done as f64 / seconds } else { 0.0 };
            let left = total.saturating_sub(position.max(0) as u64);
            let remaining = (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate));
            progress(&RebuildProgress { done, total, rate, remaining });
        };
        let mut events = self.catch_up_to_head(&replay, &targets, &mut report_progress).await?;

        // The swap. Live runners stop committing, the replay takes what arrived meanwhile,
        // each rebuilt collection replaces the live one, and the position follows.
        live.pause(&format!("rebuild v{version}")).await?;
        events += self.catch_up_to_head(&replay, &targets, &mut report_progress).await?;
        let position = replay.read().await?.position;
        let admin = self.connection.client().database("admin");
        for (logical, physical) in &targets.0 {
            let db = database.name();
            admin
                .run_command(doc! {
                    "renameCollection": format!("{db}.{physical}"),
                    "to": format!("{db}.{logical}"),
                    "dropTarget": true,
                })
                .await?;
        }
        live.resume_at(position, doc! { "rebuild_version": i64::from(version) }).await?;
        replay.delete().await?;
        let events_after_swap = self.catch_up().await?;
        Ok(RebuildReport { version, events, events_after_swap, elapsed: start.elapsed() })
    }
}
