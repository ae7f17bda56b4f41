//! `POST /orders`, `GET /orders/{id}`, `POST /orders/{id}/pay`: each write is one unit of work
//! (the order's event and its outbox message commit together, or neither does).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cqrs_mongo_demo::{Line, Order, pay_order, place_order};
use cqrs_mongo_persistence::aggregates::Root;
use cqrs_mongo_spec::PathSegment;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::{ApiError, JsonBody, NoBody, PathParam, answer};

/// Most lines an order may have.
pub const MAX_LINES: usize = 100;

/// The body of `POST /orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// The order id (default: a new one).
    #[serde(default)]
    pub id: Option<String>,
    /// Customer id.
    pub customer: String,
    /// The lines, 1 to [`MAX_LINES`].
    pub lines: Vec<LineBody>,
}

/// One line of [`PlaceOrder`] (unknown fields are refused, not ignored).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// Stock-keeping unit.
    pub sku: String,
    /// Quantity, 1 to 10 000.
    pub quantity: i64,
    /// Unit price in cents, 0 to 100 000 000.
    pub price_cents: i64,
}

impl From<LineBody> for Line {
    fn from(line: LineBody) -> Self {
        Line { sku: line.sku, quantity: line.quantity, price_cents: line.price_cents }
    }
}

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    id: String,
    customer: String,
    total_cents: i64,
    status: String,
    version: i64,
}

impl From<&Root<Order>> for OrderView {
    fn from(order: &Root<Order>) -> Self {
        OrderView {
            id: order.id().to_owned(),
            customer: order.customer.clone(),
            total_cents: order.total_cents,
            status: order.status.clone(),
            version: order.version(),
        }
    }
}

fn key(name: &str) -> PathSegment {
    PathSegment::Key(name.to_owned())
}

/// An id, a customer: 1 to 100 characters, no control characters.
fn check_name(value: &str, path: Vec<PathSegment>) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len == 0 || len > 100 || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_request", path, "1 to 100 characters, no control characters"));
    }
    Ok(())
}

impl PlaceOrder {
    fn check(&self) -> Result<(), ApiError> {
        if let Some(id) = &self.id {
            check_name(id, vec![key("id")])?;
        }
        check_name(&self.customer, vec![key("customer")])?;
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            let message = format!("an order has 1 to {MAX_LINES} lines");
            return Err(ApiError::bad_request("invalid_request", vec![key("lines")], message));
        }
        for (index, line) in self.lines.iter().enumerate() {
            let at = |field: &str| vec![key("lines"), PathSegment::Index(index), key(field)];
            check_name(&line.sku, at("sku"))?;
            if !(1..=10_000).contains(&line.quantity) {
                return Err(ApiError::bad_request("invalid_request", at("quantity"), "a quantity is 1 to 10 000"));
            }
            if !(0..=100_000_000).contains(&line.price_cents) {
                let message = "a price is 0 to 100 000 000 cents";
                return Err(ApiError::bad_request("invalid_request", at("price_cents"), message));
            }
        }
        Ok(())
    }
}

/// `POST /orders`: 201 with the order; 409 when the id is taken.
pub async fn place(State(app): State<App>, JsonBody(body): JsonBody<PlaceOrder>) -> Result<Response, ApiError> {
    body.check()?; // 400 {"code": "invalid_request", "path": ["lines", 0, "quantity"], ...}
    let id = body.id.unwrap_or_else(|| format!("o-{}", bson::oid::ObjectId::new().to_hex()));
    let lines: Vec<Line> = body.lines.into_iter().map(Line::from).collect();
    // The OrderPlaced event and its outbox message, in one transaction.
    let order = place_order(&app.orders, &id, &body.customer, &lines).await?;
    Ok(answer(StatusCode::CREATED, OrderView::from(&order)))
}

/// `GET /orders/{id}`: the order folded from its events; 404 when there is none.
pub async fn get(State(app): State<App>, PathParam(id): PathParam<String>) -> Result<Response, ApiError> {
    match app.orders.load(&id, cqrs_mongo_persistence::Alone).await? {
        Some(order) => Ok(answer(StatusCode::OK, OrderView::from(&order))),
        None => Err(ApiError::not_found(format!("no order {id:?}"))),
    }
}

/// `POST /orders/{id}/pay`: 200 with the paid order; 404 when missing, 409 when already paid.
pub async fn pay(State(app): State<App>, PathParam(id): PathParam<String>, _: NoBody) -> Result<Response, ApiError> {
    let order = pay_order(&app.orders, &id).await?;
    Ok(answer(StatusCode::OK, OrderView::from(&order)))
}
