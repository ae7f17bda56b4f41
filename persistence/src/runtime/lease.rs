//! Leadership by a lease on a checkpoint document: exactly one of any number of replicas of a
//! runner (or subscription) processes at a time; the others stand by.
//!
//! The lease is a document of its own in `leases` (`_id` = the checkpoint's id): `leader` (who
//! holds it), `lease_until` (when it ends, **server clock**: `hello.localTime`, so replicas
//! with skewed clocks agree) and `lease_token`, a fencing token that grows by one at every
//! change of leader. Each checkpoint write of a leader carries its token and succeeds only if
//! no newer token has written the checkpoint, so once a new leader has committed a batch, a
//! leader that lost its lease without noticing (paused by the OS, partitioned) commits nothing
//! more; before that, the checkpoint's compare-and-set on the position keeps the two from
//! applying any batch twice.
//!
//! The lease is kept apart from the checkpoint so that a leader killed in the middle of a
//! batch transaction does not block the take-over: its unfinished transaction keeps the
//! checkpoint (and the read-model documents it wrote) locked until the server aborts it
//! (`transactionLifetimeLimitSeconds`, 60 s on mongod), so the new leader's first batch may
//! wait that long, but it leads, and renews its lease, meanwhile.
//!
//! A replica takes the lease when it is free or has ended; the leader renews it (same token)
//! well before it ends, and releases it on a clean shutdown (`lease_until` set to the epoch) so
//! a stand-by takes over at once. After a crash the stand-by takes over within one lease period
//! (plus its polling interval).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::{DateTime, Document, doc};
use mongodb::Collection;
use mongodb::options::ReturnDocument;

use crate::error::{Result, is_duplicate_key};
use crate::store::connection::Connection;
use crate::store::fields::int;

/// The collection of leases.
pub const LEASES: &str = "leases";

/// The lease of one checkpoint document.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    connection: Connection,
    collection: Collection<Document>,
    key: String,
    owner: String,
    period: Duration,
}

/// A lease this replica holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// The fencing token every checkpoint write must carry.
    pub(crate) token: i64,
    /// When it ends (server clock).
    pub(crate) until: DateTime,
}

/// Who holds a lease, as read from the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The holder (`None` when the lease was never taken).
    pub leader: Option<String>,
    /// When the lease ends (server clock); in the past when it is free.
    pub until: Option<DateTime>,
    /// The current fencing token (0 before the first leader).
    pub token: i64,
}

impl Lease {
    /// The lease of checkpoint `key`, taken as `owner` for `period` at a time.
    pub(crate) fn new(connection: &Connection, key: &str, owner: &str, period: Duration) -> Self {
        Lease {
            connection: connection.clone(),
            collection: connection.database().collection(LEASES),
            key: key.to_owned(),
            owner: owner.to_owned(),
            period,
        }
    }

    /// The holder's name.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// The lease period.
    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    fn ends(&self, now: DateTime) -> DateTime {
        let millis = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX / 2);
        DateTime::from_millis(now.timestamp_millis().saturating_add(millis))
    }

    /// Takes the lease if it is free, has ended, or is already ours (then it is renewed with
    /// the same token); `None` while another replica holds it.
    pub(crate) async fn acquire(&self) -> Result<Option<Held>> {
        let now = self.connection.server_time().await?;
        let until = self.ends(now);
        // Ours already: renew, keep the token.
        let mine = doc! { "_id": &self.key, "leader": &self.owner };
        let renewed = self
            .collection
            .find_one_and_update(mine, doc! { "$set": { "lease_until": until } })
            .return_document(ReturnDocument::After)
            .await?;
        if let Some(document) = renewed {
            return Ok(Some(Held { token: int(document.get("lease_token")), until }));
        }
        // Free or ended: take it with a new token. A missing document is created (the
        // duplicate key of a lost creation race means someone else took it).
        let free = doc! { "_id": &self.key, "$or": [
            { "lease_until": { "$exists": false } },
            { "lease_until": null },
            { "lease_until": { "$lte": now } },
        ] };
        let update = doc! {
            "$set": { "leader": &self.owner, "lease_until": until, "lease_taken_at": now },
            "$inc": { "lease_token": 1_i64 },
        };
        let taken =
            self.collection.find_one_and_update(free, update).upsert(true).return_document(ReturnDocument::After).await;
        match taken {
            Ok(Some(document)) => {
                tracing::info!(checkpoint = %self.key, owner = %self.owner, token = int(document.get("lease_token")), "lease taken");
                Ok(Some(Held { token: int(document.get("lease_token")), until }))
            }
            Ok(None) => Ok(None),
            Err(err) if is_duplicate_key(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Extends a held lease; `None` when it was lost (another replica took it over).
    pub(crate) async fn renew(&self, held: Held) -> Result<Option<Held>> {
        let now = self.connection.server_time().await?;
        let until = self.ends(now);
        let filter = doc! { "_id": &self.key, "leader": &self.owner, "lease_token": held.token };
        let renewed = self.collection.update_one(filter, doc! { "$set": { "lease_until": until } }).await?;
        Ok((renewed.matched_count == 1).then_some(Held { token: held.token, until }))
    }

    /// Gives the lease up (a stand-by takes over at once); a lease already lost is left alone.
    pub(crate) async fn release(&self, held: Held) -> Result<()> {
        let filter = doc! { "_id": &self.key, "leader": &self.owner, "lease_token": held.token };
        let update = doc! { "$set": { "lease_until": DateTime::from_millis(0) }, "$unset": { "leader": "" } };
        self.collection.update_one(filter, update).await?;
        tracing::info!(checkpoint = %self.key, owner = %self.owner, "lease released");
        Ok(())
    }

    /// Who holds the lease now.
    pub(crate) async fn info(&self) -> Result<LeaseInfo> {
        let found = self.collection.find_one(doc! { "_id": &self.key }).await?;
        Ok(info_of(found.as_ref()))
    }
}

/// The lease fields of a checkpoint document.
pub(crate) fn info_of(document: Option<&Document>) -> LeaseInfo {
    LeaseInfo {
        leader: document.and_then(|d| d.get_str("leader").ok()).map(str::to_owned),
        until: document.and_then(|d| d.get_datetime("lease_until").ok()).copied(),
        token: document.map_or(0, |d| int(d.get("lease_token"))),
    }
}

/// A name for this replica: host, process and a random suffix.
pub(crate) fn default_owner() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{}", std::process::id(), &bson::Uuid::new().to_string()[..8])
}

/// A replica's side of a lease: takes it, renews it once a third of the period has passed,
/// and says whether this replica leads.
#[derive(Debug)]
pub(crate) struct Leader {
    lease: Lease,
    held: Option<(Held, std::time::Instant)>,
    /// Set when the loop is asked to stop: a catch-up in progress ends after its batch.
    stopping: Arc<AtomicBool>,
}

impl Leader {
    pub(crate) fn new(lease: Lease) -> Self {
        Leader { lease, held: None, stopping: Arc::default() }
    }

    /// This leader, stopping once `flag` is set (by the handle of a spawned loop).
    pub(crate) fn stopping_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stopping = flag;
        self
    }

    /// The flag that makes [`ensure`](Self::ensure) answer "not leading" from now on (set
    /// while a catch-up holds the leader, so that it stops after the batch in hand).
    pub(crate) fn stopping(&self) -> Arc<AtomicBool> {
        self.stopping.clone()
    }

    /// True once the loop is stopping.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// The fencing token while this replica leads.
    pub(crate) fn token(&self) -> Option<i64> {
        self.held.map(|(held, _)| held.token)
    }

    /// When the next renewal is due (now when it does not lead).
    pub(crate) fn renew_in(&self) -> Duration {
        match self.held {
            Some((_, renewed)) => (self.lease.period() / 3).saturating_sub(renewed.elapsed()),
            None => Duration::ZERO,
        }
    }

    /// Takes the lease, or renews it when due; the token while it leads. `None` once the loop
    /// is stopping: a catch-up asks between batches, so it ends after the batch in hand (the
    /// lease is kept until [`release`](Self::release)).
    pub(crate) async fn ensure(&mut self) -> Result<Option<i64>> {
        if self.is_stopping() {
            return Ok(None);
        }
        if self.held.is_some() && !self.renew_in().is_zero() {
            return Ok(self.token());
        }
        self.refresh().await
    }

    /// Renews (or takes) the lease now, to learn whether it still leads.
    pub(crate) async fn refresh(&mut self) -> Result<Option<i64>> {
        let outcome = match self.held {
            Some((held, _)) => self.lease.renew(held).await?,
            None => self.lease.acquire().await?,
        };
        if self.held.is_some() && outcome.is_none() {
            tracing::warn!(owner = %self.lease.owner(), "lease lost; standing by");
        }
        self.held = outcome.map(|held| (held, std::time::Instant::now()));
        Ok(self.token())
    }

    /// Gives the lease up if it holds it.
    pub(crate) async fn release(&mut self) -> Result<()> {
        match self.held.take() {
            Some((held, _)) => self.lease.release(held).await,
            None => Ok(()),
        }
    }

    /// The lease.
    pub(crate) fn lease(&self) -> &Lease {
        &self.lease
    }
}
