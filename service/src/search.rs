//! `POST /orders/search` (a spec and query options from the browser, compiled with the field
//! schema, one page of `order_summaries` and the total count) and `GET /schema` (the fields the
//! UI may offer, from the same schema).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cqrs_mongo_demo::OrderSummary;
use cqrs_mongo_persistence::store::Page;
use cqrs_mongo_persistence::{Alone, Error};
use cqrs_mongo_spec::{ErrorCode, PathSegment, QueryOptions, SpecError, parse_options_json};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::App;
use crate::error::{ApiError, JsonBody, answer};

/// Rows per page unless the request says otherwise.
pub const DEFAULT_LIMIT: u64 = 10;
/// Most rows per page.
pub const MAX_LIMIT: u64 = 100;

/// The body of `POST /orders/search`. The spec and the options stay JSON text until the
/// compiler parses them, as the npm and pip packages do: an integer beyond Int64 is its
/// `invalid_value` at the number's path, not a double serde_json made of it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// The specification (field names from the schema). Left out: every order (an empty
    /// filter in the page). A spec that is there is compiled as it is: `null` or an empty group
    /// is refused, as the compiler refuses them.
    #[serde(default, deserialize_with = "present")]
    pub spec: Option<Box<RawValue>>,
    /// Legacy query options: `order_by`, `limit` (at most [`MAX_LIMIT`]), `offset`.
    #[serde(default)]
    pub options: Option<Box<RawValue>>,
}

/// One row of the results.
#[derive(Debug, Serialize)]
pub struct Row {
    id: String,
    customer: String,
    total: f64,
    items: i64,
    status: String,
    placed_at: String,
}

/// A page of results.
#[derive(Debug, Serialize)]
pub struct Found {
    /// Every matching order.
    pub total: u64,
    /// Rows skipped.
    pub offset: u64,
    /// Page size.
    pub limit: u64,
    /// This page.
    pub rows: Vec<Row>,
}

/// A field that is there, `null` included (serde reads a `null` `Option` as `None`).
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(value).map(Some)
}

/// What a search without a spec compiles: `{"_id": {"$nin": []}}`, every order (SEMANTICS.md:
/// `$nin: []` matches everything), in the schema's terms.
pub const EVERY_ORDER: &str = r#"{"op": "not_in", "attr": "id", "val": []}"#;

fn options_error(key: &str, message: impl Into<String>) -> SpecError {
    let path = vec![PathSegment::Key("options".into()), PathSegment::Key(key.into())];
    SpecError::new(ErrorCode::InvalidOption, path, message)
}

/// The options, with the page size defaulted and bounded. Options that change the shape of the
/// rows are the typed reader's to refuse ([`options_refused`]).
fn page_options(options: Option<&RawValue>) -> Result<QueryOptions, SpecError> {
    let mut parsed = match options {
        Some(text) => QueryOptions::from_value(&parse_options_json(text.get())?)?,
        None => QueryOptions::default(),
    };
    match parsed.limit {
        None => parsed.limit = Some(DEFAULT_LIMIT),
        Some(limit) if limit > MAX_LIMIT => {
            return Err(options_error("limit", format!("at most {MAX_LIMIT} rows per page")));
        }
        Some(_) => {}
    }
    Ok(parsed)
}

/// The typed reader's refusal of an option (`select_fields`, `distinct`, `group_by`: the rows
/// are whole orders) as the client's error at that option; other errors as they are.
fn options_refused(err: Error) -> ApiError {
    match err {
        Error::Unsupported { option, .. } => {
            options_error(option, format!("{option} is not supported here: the rows are whole orders")).into()
        }
        other => other.into(),
    }
}

/// `POST /orders/search`: a spec from the browser, compiled with the schema; 400 with the
/// compiler's code and path when it does not compile.
pub async fn search(State(app): State<App>, JsonBody(body): JsonBody<Search>) -> Result<Response, ApiError> {
    let spec = body.spec.as_deref().map_or(EVERY_ORDER, RawValue::get); // no spec: every order
    let spec = app.compiler.parse_spec_json(spec)?; // the compiler's checks of the text
    let options = page_options(body.options.as_deref())?; // order_by, limit <= 100, offset
    // One page of typed rows and the total, through the read model's handle.
    let found = app.summaries.read(&app.summary_model).page(&spec, &options, Alone).await.map_err(options_refused)?;
    Ok(answer(StatusCode::OK, Found::from(found)))
}

impl From<Page<OrderSummary>> for Found {
    fn from(page: Page<OrderSummary>) -> Self {
        let rows = page
            .rows
            .into_iter()
            .map(|summary| Row {
                id: summary.id,
                customer: summary.customer,
                total: summary.total,
                items: summary.items,
                status: summary.status,
                placed_at: summary.placed_at.try_to_rfc3339_string().unwrap_or_default(),
            })
            .collect();
        Found { total: page.total, offset: page.skip, limit: page.limit.unwrap_or(DEFAULT_LIMIT), rows }
    }
}

/// `GET /schema`: the schema document and react-querybuilder's `fields` for it.
pub async fn schema(State(app): State<App>) -> Response {
    let fields = app.schema.querybuilder_fields();
    answer(StatusCode::OK, serde_json::json!({ "schema": app.schema, "fields": fields }))
}
