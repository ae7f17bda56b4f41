//! The HTTP server: the service's router on hyper's HTTP/1 connections, with the bounds
//! `axum::serve` does not set.
//!
//! - **Headers** must arrive within [`Limits::header_read`] (hyper's header-read timeout, which
//!   needs a timer: `axum::serve` runs without one). A connection that sends nothing, or half a
//!   request head, or sits idle between requests that long, is closed.
//! - **Bodies and handlers** have [`Limits::body`] and [`Limits::request`]
//!   ([`deadlines`](crate::deadlines)): 408 or 503, in JSON.
//! - **Connections**: at most [`Limits::max_connections`] are served at once. Another one is
//!   answered at once with a JSON 503 `too_many_connections` and closed, so a client that opens
//!   many idle connections cannot keep a new client's `/health` waiting.
//! - **Stopping**: when `stop` completes the listener closes (new connections are refused),
//!   each open connection finishes the request it is serving and closes (an idle one closes at
//!   once), and whatever is still open after [`Limits::shutdown_grace`] is closed. [`serve`]
//!   then returns: nothing is left waiting for an answer.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::deadlines::{bounded, seconds};

/// How long a connection over the limit is kept after its 503 was written, reading what the
/// client still sends (its request), so that closing it does not reset the connection before
/// the client has read the answer. At most as many refusals linger at once as there may be
/// connections; the others are answered and closed at once.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The server's bounds (see the module documentation). `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest wait for a request's headers, from the first byte expected (default 10 s).
    pub header_read: Duration,
    /// Longest wait for a request's whole body (default 10 s): 408 beyond.
    pub body: Duration,
    /// Longest a handler may take once the body is read (default 30 s): 503 beyond.
    pub request: Duration,
    /// Most connections served at once (default 512): a JSON 503 beyond.
    pub max_connections: usize,
    /// How long in-flight requests may go on once the service stops (default 10 s).
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            body: Duration::from_secs(10),
            request: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `routes` on `listener` within `limits` until `stop` completes, then stops as the
/// module documentation says and returns. Failed accepts (a client gone before it was
/// accepted, too many open files) are waited out and retried.
pub async fn serve(listener: TcpListener, routes: Router, limits: Limits, stop: impl Future<Output = ()>) {
    let service = TowerToHyperService::new(bounded(routes, limits.body, limits.request));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    let served = Arc::new(Semaphore::new(limits.max_connections));
    let lingering = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        wait_after_failed_accept(err).await;
                        continue;
                    }
                };
                if let Ok(permit) = served.clone().try_acquire_owned() {
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
                    connections.spawn(async move {
                        // A connection's errors (a client gone, headers too slow) end only it.
                        let _ = connection.await;
                        drop(permit);
                    });
                } else {
                    let linger = lingering.clone().try_acquire_owned().ok();
                    connections.spawn(refuse(stream, limits.max_connections, linger));
                }
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("closing the connections still open after {}", seconds(limits.shutdown_grace));
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// Answers a connection over the limit with a JSON 503 and closes it: with a `linger` permit
/// once the client has closed its side too or [`REFUSAL_LINGER`] is over, else once what the
/// client has sent so far is read.
async fn refuse(mut stream: TcpStream, limit: usize, linger: Option<OwnedSemaphorePermit>) {
    let body = serde_json::json!({
        "code": "too_many_connections",
        "message": format!("the service serves at most {limit} connections at once; try again"),
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0; 4096];
        if linger.is_some() {
            while stream.read(&mut sink).await? > 0 {}
        } else {
            while stream.try_read(&mut sink)? > 0 {}
        }
        io::Result::Ok(())
    })
    .await;
}

/// A failed accept: a connection reset before it was accepted is nothing; anything else (too
/// many open files) is waited out a moment, as `axum::serve` does.
async fn wait_after_failed_accept(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accept failed; accepting again in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
