//! # cqrs-mongo-persistence
//!
//! MongoDB persistence for CQRS/DDD applications on the official `mongodb` driver and `tokio`:
//!
//! - [`Connection`] (pool, health, transaction detection, server clock), [`Repository`] with
//!   optimistic concurrency, [`UnitOfWork`] over real multi-document transactions, and
//!   [`Connection::ensure_indexes_of`] (every store and loop is [`store::Indexed`]: one call ensures
//!   the indexes of all it names);
//! - the [`EventStore`] (gap-free global positions, group commit, gap-aware readers next to
//!   legacy writers, upcasters), the transactional
//!   [`Outbox`] and its [`OutboxRelay`], the [`ProjectionStore`], [`SnapshotStore`] and
//!   [`PositionStore`];
//! - the [`ProjectionRunner`] (exactly-once batches, change-stream wake-ups, rebuild and swap),
//!   the [`SagaRepository`] and the [`JobQueue`];
//! - the application layer: typed events ([`event_store::Event`], [`event!`], [`event_set!`],
//!   [`event_store::StoredEvent::decode`]), event-sourced aggregates ([`aggregates::EventSourced`],
//!   [`aggregates::Root`], [`AggregateStore`] with snapshot policies and outbox
//!   messages in the same transaction) and typed projections ([`projections::Handlers`]);
//! - the production runtime: [`Subscription`]s for any async handler, [`ProjectionRunner`] and
//!   subscription replicas led by a lease, failure policies with [`DeadLetters`], the
//!   [`OutboxRelay::run`] loop with a [`outbox::Publisher`], the [`JobWorker`], metrics and trace
//!   context ([`telemetry`]); each loop's `spawn()` runs it in a task of its own and returns a
//!   [`runtime::Running`] handle (`stop` after the item in hand, `abort`, its stats read through
//!   methods);
//! - [`store::Tenant`] scopes for all of the stores above (`for_tenant`): documents carry `tenant_id`,
//!   every filter includes a clause compiled by the specification compiler (ANDed onto the
//!   caller's specification, which compiles exactly as given), and touching another tenant's
//!   document is [`Error::CrossTenant`].
//!
//! # Finding your way
//!
//! The crate root holds what an application starts from: the [`Connection`], where an
//! operation runs ([`UnitOfWork`], [`On`], [`Alone`]), the [`Error`], and every store and loop
//! constructed from a connection. What those take and return lives in the module of their
//! layer, each type at exactly one path:
//!
//! | module | holds | its stores and loops (at the root) |
//! |---|---|---|
//! | [`store`] | pool options, health, indexes, paging, tenancy, versions, commit hooks | [`Connection`] |
//! | [`repository`] | state-stored aggregates: [`repository::Aggregate`], [`repository::Mapping`] | [`Repository`] |
//! | [`event_store`] | events: [`event_store::NewEvent`], [`event_store::StoredEvent`], typed [`event_store::Event`]s, expected versions, upcasters | [`EventStore`] |
//! | [`aggregates`] | event-sourced aggregates: [`aggregates::EventSourced`], [`aggregates::Root`], snapshots | [`AggregateStore`], [`SnapshotStore`] |
//! | [`projections`] | the read side: [`projections::ReadModel`], [`projections::Handlers`], [`projections::Projection`], rebuilds | [`ProjectionStore`], [`ProjectionRunner`], [`PositionStore`] |
//! | [`outbox`] | outbox messages and the relay's [`outbox::Publisher`] | [`Outbox`], [`OutboxRelay`] |
//! | [`jobs`] | [`jobs::NewJob`], claimed jobs, [`jobs::JobHandler`] | [`JobQueue`], [`JobWorker`] |
//! | [`sagas`] | [`sagas::Saga`] state and status | [`SagaRepository`] |
//! | [`dead_letters`] | parked events | [`DeadLetters`] |
//! | [`runtime`] | what the loops share: [`runtime::RetryPolicy`], [`runtime::Running`], leases, stats, [`runtime::EventHandler`] | [`Subscription`] |
//! | [`telemetry`] | metrics, trace context, error chains | |
//! | `testing` (feature `testing`) | the embedded test server, a database per test, fail points | |
//!
//! # Where an operation runs
//!
//! Every store operation on application data, reads and writes, takes `on: impl Into<On>`:
//! [`Alone`] runs it on its own (an event append then shares a group-commit transaction with
//! concurrent appends), `&uow` runs it inside a [`UnitOfWork`] (a read sees the unit's writes
//! before the commit). Run on their own by design: the runtime's bookkeeping (job claims and
//! outcomes, leases, the checkpoints a runner advances, the global event feed
//! [`EventStore::read_all`] and friends, monitoring counts such as `stats`), dead-letter
//! administration, and `ProjectionStore::drop` (MongoDB drops no collection inside a
//! transaction). A unit of work
//! comes from [`Connection::transaction`] (an async closure, retried under the driver's rules:
//! jittered backoff between attempts, within a deadline),
//! [`Connection::transaction_with`] (the same with a boxed, `Send` future) or
//! [`Connection::begin`] / [`UnitOfWork::commit`] (explicit; a transient error is the caller's
//! to retry).
//!
//! # Versions and units of work
//!
//! An aggregate's [`store::Version`] (and an event-sourced [`aggregates::Root`]'s version and pending
//! events) changes for good only when the unit of work that saved it commits. Inside the unit
//! of work the new version shows (a second save expects it); a rollback, a unit of work dropped
//! without a commit, and every retry of [`Connection::transaction`] put the version back, so the
//! retried callback, or a later save of the same aggregate, expects what is really stored:
//!
//! ```no_run
//! use cqrs_mongo_persistence::{Alone, Connection, Repository, Result};
//! use cqrs_mongo_persistence::store::Version;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Order { id: String, total: i64, #[serde(default)] version: Version }
//! cqrs_mongo_persistence::aggregate!(Order, "orders", String);
//!
//! async fn place(db: &Connection, orders: &Repository<Order>, order: &mut Order) -> Result<()> {
//!     // Retried on TransientTransactionError (a lost race on a document or the event
//!     // counter): each attempt saves `order` from the version it had before the first one.
//!     db.transaction(async |uow| orders.save(order, uow).await).await
//! }
//!
//! async fn rename(orders: &Repository<Order>, order: &mut Order) -> Result<()> {
//!     orders.save(order, Alone).await // a single write, no transaction needed
//! }
//! ```
//!
//! A write inside an explicit [`Connection::begin`] unit of work that loses a race with another
//! transaction is [`Error::WriteConflict`] (transient: retry the unit of work); a stored
//! version that is not the expected one is [`Error::Concurrency`].
//!
//! # Errors
//!
//! [`Error`] classifies every failure once, and keeps its source: ask
//! [`is_transient`](Error::is_transient) (the whole transaction can run again),
//! [`is_unavailable`](Error::is_unavailable) (back off and retry later; a web service answers
//! 503), [`is_conflict`](Error::is_conflict) (a lost race: reload and decide again; 409) and
//! [`is_refused`](Error::is_refused) (the server refused the command for what it asks: the same
//! input fails again). Server answers are sorted by error label and code
//! ([`Error::Unavailable`], [`Error::Refused`], [`Error::WriteConflict`], [`Error::DuplicateKey`]),
//! what the driver raises on this side is [`Error::Client`].
//!
//! # Running in production: what is guaranteed, and its limits
//!
//! | loop | delivery | replicas | an item fails ([`runtime::RetryPolicy`], `on_failure`) | unavailable (`on_unavailable`) |
//! |---|---|---|---|---|
//! | [`ProjectionRunner::run`] | exactly once per batch: the read-model writes and the checkpoint commit in one transaction, each write guarded per document by `_version` | any number; the holder of the checkpoint's lease (in `leases`) applies, the others stand by | an event whose `project` fails or whose write the server refuses: the events before it commit, it is retried after the backoff, then parked in `dead_letters` with the checkpoint past it (default: 3 attempts) or the run ends with [`Error::Handler`] | the database: back off, the same batch again, no attempt counted |
//! | [`Subscription::run`] | at least once; after a crash or take-over at most one batch is delivered again (use the event id as idempotency key) | the same lease | a handler error: retried, then parked (default: 3 attempts) or the run ends | the database, or a handler error holding an [`runtime::Unavailable`]: back off, the event again, no attempt counted |
//! | [`OutboxRelay::run`] | at least once; a relay killed after publishing and before recording leaves at most its claimed round to be published again once its lease expires, as does a round that outlives its lease (counted as lost claims); use the message id as idempotency key | any number, competing per message | a message the publisher refuses: retried after the backoff (`next_attempt_at`), then `failed` (dead; default: 5 attempts) or the run ends with the message pending | the database, or a publisher error holding an [`runtime::Unavailable`]: the message handed back, back off, no attempt counted |
//! | [`JobWorker::run`] | at least once; a worker that dies mid-job leaves the job to another worker once its lease expires | any number, competing per job | a handler error: the queue's policy ([`JobQueue::on_failure`]; the job's own attempts): retried, then `FAILED` or the worker stops with the job pending | the database, or a handler error holding an [`runtime::Unavailable`]: the job handed back due after the backoff, no claims meanwhile, no attempt counted |
//!
//! **One rule for failures** ([`Error`]'s predicates decide it once): an unavailable deployment
//! ([`Error::is_unavailable`]: unreachable, overloaded, stepping down, a transaction that kept
//! meeting transient errors) is never an item's fault, so every loop backs off with a growing,
//! jittered wait and tries the same item again; anything an item causes goes through its
//! policy and the loop goes on with the next item; any other error (a misconfiguration) ends the
//! run. Each park, each stop and each backoff streak (when it starts and when it ends) is
//! logged through `tracing` with the loop, the item and the error chain, and counted
//! (`cqrs_consumer_parked_total`, `cqrs_stops_total`, `cqrs_backoffs_total`, see [`telemetry`]).
//!
//! **Leases.** A replica takes a free or expired lease with a new fencing token (server clock).
//! The leader renews it every third of its period and releases it on shutdown, so a stand-by
//! (checking every poll interval) takes over at once after a clean stop and within one lease
//! period plus a poll interval after a crash. Every checkpoint write carries the leader's
//! token and is refused once a newer leader has written the checkpoint; until then, the
//! compare-and-set on the position keeps two leaders from applying one batch twice. A leader
//! killed inside a batch transaction leaves that transaction to the server, which keeps its
//! documents locked until it aborts it (`transactionLifetimeLimitSeconds`, 60 s on mongod): the
//! new leader leads at once but its first batch may wait that long.
//!
//! **Parked events** ([`DeadLetters`]) are listed, retried ([`ProjectionRunner::retry_parked`],
//! [`Subscription::retry_parked`]) or skipped, also from the CLI (`dead-letters list|retry|skip`).
//! A retried projection event is applied under the same `_version` guard, so a document a later
//! event already changed keeps the later state, exactly as if the event had never failed.
//!
//! **Metrics and traces** go through the `metrics` facade and W3C `traceparent` metadata; the
//! names and the propagation rules are listed in [`telemetry`].
//!
//! # Without a replica set
//!
//! On a standalone server (for development, as the legacy package documents) there are no
//! transactions. The single-document work of every store runs as usual: repository reads and
//! saves, outbox saves and the relay, projections, snapshots, positions, sagas, jobs, index
//! creation. What needs a transaction fails before writing with
//! [`Error::TransactionsUnsupported`], naming what works instead: [`Connection::begin`] and
//! [`Connection::transaction`] (use [`Connection::begin_non_transactional`], where each write applies on
//! its own), [`EventStore::append`] without a unit of work (append in a non-transactional unit of
//! work: positions are taken before the insert, as the legacy store did), and the
//! [`ProjectionRunner`]'s batches (use [`ProjectionRunner::without_transactions`]).
//!
//! Every filter built from a specification is compiled by `cqrs-mongo-spec`, the same compiler
//! as the npm and pip packages. Storage formats are the legacy Python package's (`_id`,
//! `version`, `domain_events`, `counters`, `outbox_messages`, `snapshots`,
//! `projection_checkpoints`, `sagas`, `background_jobs`, `tenant_id`), so both stacks can share
//! one database: the README's "Sharing a database with the Python package" says what is shared
//! safely (legacy outbox messages are published, legacy jobs claimed, legacy sagas with a null
//! correlation id read, legacy positions waited for) and what must run on one side only.
//!
//! The event store's position design and its measured cost are explained on [`EventStore`]: one
//! legacy counter; appends (and aggregate saves with their outbox messages) outside a unit of
//! work share a group-commit transaction that takes it; appends inside a unit of work take it in
//! their transaction (commit order, the default) or reserve it outside
//! ([`event_store::PositionAllocation::Reserved`], which scales under contention), and readers wait for
//! positions in flight.
//!
//! # When one replica set is not enough (sharding)
//!
//! | collection | shard key | notes |
//! |---|---|---|
//! | aggregate collections | `{_id: "hashed"}` | every repository operation targets one shard |
//! | `domain_events` | `{aggregate_id: "hashed"}` | stream reads and the unique `(aggregate_id, version)` index stay on one shard; `read_all` by position becomes a merge across shards |
//! | `counters` | unsharded | one tiny document; every append then runs a distributed transaction (the counter's shard plus the stream's), which costs a two-phase commit per append |
//! | `outbox_messages` | `{aggregate_id: "hashed"}` with per-aggregate ordering, else `{_id: "hashed"}` | claims are single-document updates; the relay's candidate query is scatter-gather |
//! | `snapshots` | `{_id: "hashed"}` | |
//! | `projection_checkpoints` | unsharded | one document per projection (and tenant) |
//! | `sagas` | `{saga_type: 1, correlation_id: "hashed"}` | the unique `(saga_type, correlation_id)` index must contain the shard key; supervisor queries filter by `saga_type` and target its chunks |
//! | `background_jobs` | unsharded | a claim picks the globally best job (priority, run-at, age) from one ordered index; a queue that outgrows a replica set is better split by queue into databases of their own |
//! | read models | `{_id: "hashed"}` | conditional upserts target one document |
//!
//! On a sharded cluster positions stay unique and readers gap-aware exactly as on a replica set
//! (the counter document serialises the appends that take it in their transaction). A group-commit batch then becomes one
//! distributed transaction over the counter's shard and the shards of its streams, so its
//! two-phase commit is paid once per batch, not per append; `read_all`'s position ranges are
//! answered by every shard and merged. The outbox's leases use the server clock
//! (`hello.localTime` of the `mongos` the relay talks to), so lease lengths should leave room
//! for clock skew between routers; batch claims are multi-document updates that each shard
//! applies to its own messages, and every message's claim stays atomic.
#![forbid(unsafe_code)]

pub mod aggregates;
pub mod dead_letters;
mod error;
pub mod event_store;
pub mod jobs;
pub mod outbox;
pub mod projections;
pub mod repository;
pub mod runtime;
pub mod sagas;
mod snapshots;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

/// The `bson` crate this crate uses (for the macros).
pub use bson;
pub use error::{Error, Result};
#[doc(hidden)]
pub use event_store::typed::encode as __encode_event;

// The connection and where an operation runs.
pub use store::connection::Connection;
pub use store::uow::{Alone, On, UnitOfWork};

// The stores and loops an application constructs from a connection; what they take and
// return lives in the module of their layer.
pub use aggregates::store::AggregateStore;
pub use dead_letters::store::DeadLetters;
pub use event_store::store::EventStore;
pub use jobs::store::JobQueue;
pub use jobs::worker::JobWorker;
pub use outbox::relay::OutboxRelay;
pub use outbox::store::Outbox;
pub use projections::positions::PositionStore;
pub use projections::runner::ProjectionRunner;
pub use projections::store::ProjectionStore;
pub use repository::store::Repository;
pub use runtime::subscription::Subscription;
pub use sagas::store::SagaRepository;
pub use snapshots::SnapshotStore;
