//! `cqrs-mongo-service`: the orders web service. `MONGODB_URI` names the deployment
//! (`scripts/service.sh` starts an embedded SecantusDB when it is unset); `DATABASE` the
//! database (default `orders_service`); `PORT` the port on 127.0.0.1 (default 8080, 0 for any
//! free one); `WEB_ROOT` the folder of the page (default `service/web`) and `PKG_ROOT` the npm
//! package's (default `bindings-wasm`). Stops cleanly on Ctrl-C or SIGTERM.

use std::path::PathBuf;

use cqrs_mongo_persistence::{Connection, PoolOptions};
use cqrs_mongo_service::{App, background, router};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let uri =
        std::env::var("MONGODB_URI").map_err(|_| "set MONGODB_URI (scripts/service.sh starts a server and sets it)")?;
    let database = env_or("DATABASE", "orders_service");
    let port: u16 = env_or("PORT", "8080").parse().map_err(|_| "PORT must be a port number")?;
    let web = PathBuf::from(env_or("WEB_ROOT", "service/web"));
    let pkg = PathBuf::from(env_or("PKG_ROOT", "bindings-wasm"));
    for (name, dir) in [("WEB_ROOT", &web), ("PKG_ROOT", &pkg)] {
        if !dir.is_dir() {
            return Err(format!("{name} {} is not a folder (run from the repository root)", dir.display()).into());
        }
    }

    let db = Connection::connect(&uri, &database, PoolOptions::default()).await?;
    db.ensure_indexes(&background::indexes()).await?;
    let loops = background::start(&db, &format!("service-{}", std::process::id()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router(App::new(&db), Some((&web, &pkg)))).with_graceful_shutdown(shutdown()).await?;
    loops.stop().await?;
    println!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
