//! The orders example as a web service: what wiring this library into a web framework looks
//! like (the legacy package's README shows the same with FastAPI).
//!
//! - `POST /orders`, `POST /orders/{id}/pay`: one unit of work per request (the order's event and
//!   its outbox message commit together); `GET /orders/{id}`: a read without one.
//! - `POST /orders/search`: a specification and query options as JSON from the browser,
//!   compiled with the field schema (`schema.json`) the page builds its filters from; one page
//!   of `order_summaries` and the total count.
//! - `GET /schema`: the schema and react-querybuilder's `fields` for it.
//! - `GET /health` (the process answers), `GET /ready` (the database answers).
//! - `GET /`: the page (`web/`) and the npm package it loads (`/pkg/`).
//!
//! Every answer that is not a success is JSON `{"code", "path"?, "message"}` ([`error`], and
//! [`json_errors`] for what the framework and the static files answer), logged in one place
//! ([`observe`], which also carries a request's W3C `traceparent` into the events and outbox
//! messages its handler writes); bodies are bounded
//! ([`MAX_BODY`]); a path with a control character is refused before it reaches the file system
//! ([`paths`]); a panic in a handler is a 500, never a dead connection. The binary serves the
//! router with bounds on time and connections and a bounded stop ([`serve`], [`deadlines`],
//! [`settings`]). The projection runner and the outbox relay run in the same process
//! ([`background`]), so a placed order shows up in the search moments later.

pub mod background;
pub mod deadlines;
pub mod error;
pub mod json_errors;
pub mod observe;
pub mod orders;
pub mod paths;
pub mod search;
pub mod serve;
pub mod settings;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cqrs_mongo_demo::{Order, OrderSummary, order_store, summary_model};
use cqrs_mongo_persistence::event_store::PositionAllocation;
use cqrs_mongo_persistence::projections::ReadModel;
use cqrs_mongo_persistence::{AggregateStore, Connection, EventStore, Outbox, ProjectionStore};
use cqrs_mongo_spec::{Compiler, CompilerConfig, FieldSchema, RegexPolicy};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeDir;

use crate::error::{ApiError, answer};

/// Largest request body: 64 KiB (a search with a few hundred conditions fits; more is 413).
pub const MAX_BODY: usize = 64 * 1024;

/// Longest string in a search, in bytes (`string_too_long`), and longest `regex` pattern
/// (`regex_too_long`). Text searches (`contains`, `like`, …) become regular expressions of up
/// to twice their text (escapes) and servers cap patterns (SecantusDB at 1 000 characters): a
/// longer string would be the server's refusal instead of the compiler's, with its code and
/// path.
pub const MAX_STRING_LEN: usize = 256;

/// The field schema of `order_summaries` the search compiles with and the page offers.
pub const SCHEMA: &str = include_str!("../schema.json");

/// What every handler shares (cheap to clone).
#[derive(Clone)]
pub struct App {
    /// The database.
    pub db: Connection,
    /// The orders (event-sourced, with their outbox messages).
    pub orders: AggregateStore<Order>,
    /// The read models, searched with a compiler holding the schema and the service's limits,
    /// and a time limit.
    pub summaries: ProjectionStore,
    /// The summaries' read model (collection and document type).
    pub summary_model: ReadModel<OrderSummary>,
    /// The schema.
    pub schema: FieldSchema,
    /// The compiler `summaries` searches with, to parse a spec's JSON text with its checks.
    pub compiler: Arc<Compiler>,
}

impl App {
    /// The application on `db`, with the schema of [`SCHEMA`].
    pub fn new(db: &Connection) -> Self {
        App::with_positions(db, PositionAllocation::Reserved)
    }

    /// The application on `db`, its orders' events taking their positions as `positions` says
    /// ([`App::new`]: reserved outside the transaction, since every reader of its events is this
    /// crate's).
    pub fn with_positions(db: &Connection, positions: PositionAllocation) -> Self {
        let schema: FieldSchema = serde_json::from_str(SCHEMA).expect("schema.json is a field schema");
        let config = CompilerConfig::default()
            .with_schema(schema.clone())
            .with_max_spec_len(MAX_BODY)
            .with_max_string_len(MAX_STRING_LEN)
            .with_regex(RegexPolicy::default().with_max_len(MAX_STRING_LEN));
        let compiler = Compiler::try_new(config).expect("schema.json is a usable schema");
        let events = EventStore::new(db).position_allocation(positions);
        let outbox = Outbox::new(db);
        App {
            db: db.clone(),
            orders: order_store(db, &events, &outbox),
            summaries: ProjectionStore::new(db).with_compiler(compiler.clone()).max_time(Duration::from_secs(5)),
            summary_model: summary_model(),
            schema,
            compiler: Arc::new(compiler),
        }
    }
}

/// The service's routes; with `web` (the page's folder, the npm package's folder), also the page
/// (`service/web/`) and what it loads from the npm package (`/pkg/…`) as static files.
pub fn router(app: App, web: Option<(&Path, &Path)>) -> Router {
    let api = Router::new()
        .route("/orders", post(orders::place))
        .route("/orders/search", post(search::search))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/pay", post(orders::pay))
        .route("/schema", get(search::schema))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app);
    let routes = match web {
        // Only what the page loads from the npm package: its ES modules, the WebAssembly build
        // for browsers, the builder module and styles of its demo.
        Some((page, package)) => api
            .nest_service("/pkg/js", ServeDir::new(package.join("js")))
            .nest_service("/pkg/pkg/web", ServeDir::new(package.join("pkg/web")))
            .nest_service("/pkg/demo", ServeDir::new(package.join("demo")))
            .fallback_service(ServeDir::new(page).fallback(axum::routing::any(not_found))),
        None => api.fallback(not_found),
    };
    guarded(routes)
}

/// What every route gets: bodies bounded at [`MAX_BODY`], a panic in a handler answered as a
/// JSON 500 (the connection and the process go on), paths with control characters refused
/// first, every error answer in the JSON shape and logged, each request in a span and under
/// its caller's trace context ([`observe`]).
pub fn guarded(routes: Router) -> Router {
    let routes = routes
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(CatchPanicLayer::custom(|panic: Box<dyn std::any::Any + Send>| {
            let what =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            ApiError::internal(format!("a handler panicked: {}", what.unwrap_or_default())).into_response()
        }))
        .layer(axum::middleware::from_fn(paths::refuse_control_characters));
    observe::traced(observe::log_errors(json_errors::json_errors(routes)))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// `GET /health`: the process answers.
async fn health() -> Response {
    answer(StatusCode::OK, serde_json::json!({ "status": "ok" }))
}

/// How long `GET /ready` waits for the database's answer to `ping`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /ready`: 200 when the database answers `ping`, else 503 `database_unavailable` in the
/// common error shape (the driver's error is logged, not sent).
async fn ready(State(app): State<App>) -> Result<Response, ApiError> {
    let unavailable = || {
        let message = "the database did not answer; the service is not ready";
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", message)
    };
    match tokio::time::timeout(READY_TIMEOUT, app.db.health()).await {
        Ok(Ok(health)) => Ok(answer(
            StatusCode::OK,
            serde_json::json!({
                "status": "ready",
                "ping_ms": health.latency.as_secs_f64() * 1000.0,
                "replica_set": health.replica_set,
            }),
        )),
        Ok(Err(err)) => Err(unavailable().with_source(err)),
        Err(_) => {
            Err(unavailable().with_source(format!("no answer to ping within {}", deadlines::seconds(READY_TIMEOUT))))
        }
    }
}
