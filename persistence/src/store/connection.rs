//! The connection manager: one driver client and database per application.

use std::time::Duration;

use bson::{Document, doc};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use tracing::instrument;

use crate::error::Result;
use crate::runtime::retry::Backoff;
use crate::store::uow::DEFAULT_TRANSACTION_DEADLINE;

/// Pool and timeout settings; `None` keeps the driver's default.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Most connections per server.
    pub max_pool_size: Option<u32>,
    /// Connections kept open while idle.
    pub min_pool_size: Option<u32>,
    /// How long an idle connection is kept.
    pub max_idle_time: Option<Duration>,
    /// Connect timeout.
    pub connect_timeout: Option<Duration>,
    /// How long to wait for a suitable server.
    pub server_selection_timeout: Option<Duration>,
    /// Log every command the driver sends (name, duration, outcome) as `tracing` events at
    /// debug level: the Rust form of the legacy README's command-monitoring recipe.
    pub trace_commands: bool,
    /// The client's application name (`appName`, shown in the server's logs and `currentOp`).
    pub app_name: Option<String>,
    /// How often the driver checks each server (`heartbeatFrequencyMS`, 10 s by default, at
    /// least 500 ms): after a server stops answering, how soon the driver sees it back.
    pub heartbeat_frequency: Option<Duration>,
}

impl PoolOptions {
    /// Logs driver commands through `tracing`.
    pub fn with_command_tracing(mut self) -> Self {
        self.trace_commands = true;
        self
    }

    /// Sets the client's application name.
    pub fn with_app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// Sets how often the driver checks each server.
    pub fn with_heartbeat_frequency(mut self, every: Duration) -> Self {
        self.heartbeat_frequency = Some(every);
        self
    }

    /// Sets the server selection timeout (tests use a short one).
    pub fn with_server_selection_timeout(mut self, timeout: Duration) -> Self {
        self.server_selection_timeout = Some(timeout);
        self
    }
}

/// A connected database. Cheap to clone (the driver client is shared).
#[derive(Debug, Clone)]
pub struct Connection {
    client: Client,
    database: Database,
    transactions: bool,
    transaction_backoff: Backoff,
    transaction_deadline: Duration,
    app_name: Option<String>,
}

/// What `health()` reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// The server answered `ping`.
    pub ok: bool,
    /// Round trip of the ping.
    pub latency: Duration,
    /// Replica set name, if the server is a replica set member.
    pub replica_set: Option<String>,
}

impl Connection {
    /// Connects, verifies the server with `ping`, and records from `hello` whether the
    /// deployment supports transactions (a replica set member or a `mongos`).
    #[instrument(skip(uri, pool), fields(database = database))]
    pub async fn connect(uri: &str, database: &str, pool: PoolOptions) -> Result<Connection> {
        let mut options = ClientOptions::parse(uri).await?;
        options.max_pool_size = pool.max_pool_size.or(options.max_pool_size);
        options.min_pool_size = pool.min_pool_size.or(options.min_pool_size);
        options.max_idle_time = pool.max_idle_time.or(options.max_idle_time);
        options.connect_timeout = pool.connect_timeout.or(options.connect_timeout);
        options.server_selection_timeout = pool.server_selection_timeout.or(options.server_selection_timeout);
        options.app_name = pool.app_name.or(options.app_name);
        options.heartbeat_freq = pool.heartbeat_frequency.or(options.heartbeat_freq);
        if pool.trace_commands {
            options.command_event_handler = Some(EventHandler::callback(trace_command));
        }
        let app_name = options.app_name.clone();
        Connection::verified(Client::with_options(options)?, database, app_name).await
    }

    /// A connection on a driver client configured by the caller (TLS, monitoring, a command
    /// event handler), verified as [`connect`](Self::connect) does.
    pub async fn from_client(client: Client, database: &str) -> Result<Connection> {
        Connection::verified(client, database, None).await
    }

    async fn verified(client: Client, database: &str, app_name: Option<String>) -> Result<Connection> {
        let database = client.database(database);
        database.run_command(doc! { "ping": 1 }).await?;
        let hello = database.run_command(doc! { "hello": 1 }).await?;
        let transactions = supports_transactions(&hello);
        Ok(Connection {
            client,
            database,
            transactions,
            transaction_backoff: Backoff::transactions(),
            transaction_deadline: DEFAULT_TRANSACTION_DEADLINE,
            app_name,
        })
    }

    /// The client's application name, when it was set through [`connect`](Self::connect).
    pub fn app_name(&self) -> Option<&str> {
        self.app_name.as_deref()
    }

    /// The wait between attempts of [`Connection::transaction`] (and of the runner's batches and
    /// the group commit) after a transient error: by default the driver's, 5 ms × 1.5^n up to
    /// 500 ms with full jitter. `Backoff::none()` retries at once (under contention that makes
    /// conflicts worse: it is there to measure that).
    pub fn transaction_backoff(mut self, backoff: Backoff) -> Self {
        self.transaction_backoff = backoff;
        self
    }

    /// How long [`Connection::transaction`] keeps retrying transient errors before it gives up
    /// with [`Error::TransactionTimedOut`](crate::Error::TransactionTimedOut) (default 120 s, the
    /// driver's): a unit of work that keeps conflicting holds its caller at most this long.
    pub fn transaction_deadline(mut self, deadline: Duration) -> Self {
        self.transaction_deadline = deadline;
        self
    }

    pub(crate) fn transaction_backoff_setting(&self) -> Backoff {
        self.transaction_backoff
    }

    pub(crate) fn transaction_deadline_setting(&self) -> Duration {
        self.transaction_deadline
    }

    /// The driver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// True when the deployment supports multi-document transactions.
    pub fn supports_transactions(&self) -> bool {
        self.transactions
    }

    /// Pings the server.
    pub async fn health(&self) -> Result<Health> {
        let start = std::time::Instant::now();
        self.database.run_command(doc! { "ping": 1 }).await?;
        let latency = start.elapsed();
        let hello = self.database.run_command(doc! { "hello": 1 }).await?;
        Ok(Health { ok: true, latency, replica_set: hello.get_str("setName").ok().map(str::to_owned) })
    }

    /// The server's clock (`hello.localTime`): leases and "older than" queries use it, so
    /// clients with skewed clocks agree. Falls back to the local clock if the server omits it.
    pub async fn server_time(&self) -> Result<bson::DateTime> {
        let hello = self.database.run_command(doc! { "hello": 1 }).await?;
        Ok(hello.get_datetime("localTime").copied().unwrap_or_else(|_| bson::DateTime::now()))
    }

    /// Closes the client's connections (other clones become unusable).
    pub async fn close(self) {
        self.client.shutdown().await;
    }
}

/// One driver command event as a `tracing` event.
fn trace_command(event: CommandEvent) {
    match event {
        CommandEvent::Started(e) => {
            tracing::debug!(target: "cqrs_mongo_persistence::command", command = %e.command_name, db = %e.db, request_id = e.request_id, "started")
        }
        CommandEvent::Succeeded(e) => tracing::debug!(
            target: "cqrs_mongo_persistence::command",
            command = %e.command_name,
            request_id = e.request_id,
            duration_us = e.duration.as_micros() as u64,
            "succeeded"
        ),
        CommandEvent::Failed(e) => tracing::debug!(
            target: "cqrs_mongo_persistence::command",
            command = %e.command_name,
            request_id = e.request_id,
            duration_us = e.duration.as_micros() as u64,
            error = %e.failure,
            "failed"
        ),
        _ => {}
    }
}

/// A replica set member reports `setName`; a `mongos` reports `msg: "isdbgrid"`.
fn supports_transactions(hello: &Document) -> bool {
    hello.get_str("setName").is_ok() || hello.get_str("msg").ok() == Some("isdbgrid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_come_from_hello() {
        assert!(supports_transactions(&doc! { "isWritablePrimary": true, "setName": "secantus" }));
        assert!(supports_transactions(&doc! { "msg": "isdbgrid" }));
        assert!(!supports_transactions(&doc! { "isWritablePrimary": true }));
    }
}
