//! `cqrs-mongo-service`: the orders web service. Its environment ([`settings`]):
//!
//! - `MONGODB_URI` names the deployment (`scripts/service.sh` starts an embedded SecantusDB
//!   when it is unset); `DATABASE` the database (default `orders_service`); `PORT` the port on
//!   127.0.0.1 (default 8080, 0 for any free one); `WEB_ROOT` the folder of the page (default
//!   `service/web`) and `PKG_ROOT` the npm package's (default `bindings-wasm`).
//! - `DB_TIMEOUT` (default 5 s): how long to wait for a database server and to retry a unit of
//!   work, so a request that needs an unreachable database is a 503 within about that.
//! - `HEADER_READ_TIMEOUT` (10 s), `BODY_TIMEOUT` (10 s, 408), `REQUEST_TIMEOUT` (30 s, 503),
//!   `MAX_CONNECTIONS` (512, 503 beyond): the server's bounds ([`serve`]).
//! - `POSITIONS` (`reserved`): orders' events take their positions outside the transaction
//!   (`in_transaction`: in commit order, for readers of `domain_events` that are not
//!   gap-aware, such as the legacy package's).
//! - `SHUTDOWN_GRACE` (10 s): on Ctrl-C or SIGTERM the service stops accepting, lets in-flight
//!   requests finish for at most this long, closes what is left, stops the background loops
//!   within this long again, prints `stopped` and exits 0.
//!
//! Durations are in seconds (`0.5` allowed). It prints `listening on http://…` once it accepts
//! connections (on standard output, as `stopped`). It logs through `tracing` on standard
//! error, filtered by `RUST_LOG` (default `info`; `RUST_LOG=debug` adds the client errors,
//! `cqrs_mongo_persistence=debug` the store operations and transactions).
//!
//! [`settings`]: cqrs_mongo_service::settings
//! [`serve`]: cqrs_mongo_service::serve

use std::process::ExitCode;
use std::time::Duration;

use cqrs_mongo_persistence::Connection;
use cqrs_mongo_persistence::store::PoolOptions;
use cqrs_mongo_service::deadlines::seconds;
use cqrs_mongo_service::observe::{chain, init_tracing};
use cqrs_mongo_service::serve::serve;
use cqrs_mongo_service::settings::Settings;
use cqrs_mongo_service::{App, background, router};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long the runtime waits for blocking work (a DNS lookup) once everything else stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %chain(&err), "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run());
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %chain(err.as_ref()), "the service could not start");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    let settings = Settings::from_env()?;
    for (name, dir) in [("WEB_ROOT", &settings.web), ("PKG_ROOT", &settings.pkg)] {
        if !dir.is_dir() {
            return Err(format!("{name} {} is not a folder (run from the repository root)", dir.display()).into());
        }
    }
    let pool = PoolOptions::default().with_server_selection_timeout(settings.db_timeout);
    let db =
        Connection::connect(&settings.uri, &settings.database, pool).await?.transaction_deadline(settings.db_timeout);
    background::ensure_indexes(&db).await?;
    let loops = background::start(&db, &format!("service-{}", std::process::id()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", settings.port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let routes = router(App::with_positions(&db, settings.positions), Some((&settings.web, &settings.pkg)));
    serve(listener, routes, settings.limits, stop_signal()).await;
    let grace = settings.limits.shutdown_grace;
    match tokio::time::timeout(grace, loops.stop()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %chain(&err), "the background loops stopped with an error"),
        Err(_) => tracing::error!("the background loops did not stop within {}; left behind", seconds(grace)),
    }
    println!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (later ones change nothing: the stop is bounded already).
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
