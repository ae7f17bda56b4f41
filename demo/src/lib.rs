//! The orders example used by the end-to-end demo and the `cqrs-mongo-orders` CLI binary.
//!
//! - [`Order`]: an event-sourced aggregate ([`OrderPlaced`], [`OrderPaid`]), stored by
//!   [`order_store`] with an outbox message for every `OrderPlaced`.
//! - [`place_order`]: the order's event and its outbox message in one transaction;
//!   [`pay_order`]: the command workflow (load, decide, save in one transaction, retried), with
//!   its own error ([`PayError`]).
//! - [`order_summaries`]: the `order_summaries` read model ([`OrderSummary`]), built from the
//!   typed events by the projection runner.
//! - [`SUMMARY_SPEC`]: the JSON specification the demo queries the summaries with (the shape
//!   the browser demo builds and the npm/pip packages compile identically).

pub mod replicas;

use bson::doc;
use cqrs_mongo_persistence::aggregates::{EventSourced, Root};
use cqrs_mongo_persistence::projections::{Handlers, ReadModel};
use cqrs_mongo_persistence::store::IndexSpec;
use cqrs_mongo_persistence::{AggregateStore, Alone, Connection, Error, EventStore, Outbox, Result};
use serde::{Deserialize, Serialize};

/// One order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Stock-keeping unit.
    pub sku: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price in cents.
    pub price_cents: i64,
}

/// An order was placed (published to the outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// Customer id.
    pub customer: String,
    /// Total in cents.
    pub total_cents: i64,
    /// Number of lines.
    pub items: i64,
}
cqrs_mongo_persistence::event!(OrderPlaced, "OrderPlaced");

/// An order was paid (kept in the event store only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPaid {}
cqrs_mongo_persistence::event!(OrderPaid, "OrderPaid");

cqrs_mongo_persistence::event_set! {
    /// The order's events.
    #[derive(Debug, Clone, PartialEq)]
    pub enum OrderEvent {
        /// [`OrderPlaced`].
        Placed(OrderPlaced),
        /// [`OrderPaid`].
        Paid(OrderPaid),
    }
}

/// The order aggregate, event-sourced (streams of type `Order` in `domain_events`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Customer id.
    pub customer: String,
    /// Total in cents.
    pub total_cents: i64,
    /// `placed`, then `paid` (empty before it is placed).
    pub status: String,
}

impl EventSourced for Order {
    type Event = OrderEvent;
    const AGGREGATE_TYPE: &'static str = "Order";

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed(placed) => {
                self.customer = placed.customer.clone();
                self.total_cents = placed.total_cents;
                self.status = "placed".into();
            }
            OrderEvent::Paid(_) => self.status = "paid".into(),
        }
    }
}

/// The orders: their events, and an outbox message for every `OrderPlaced`, in one transaction.
pub fn order_store(db: &Connection, events: &EventStore, outbox: &Outbox) -> AggregateStore<Order> {
    AggregateStore::new(db, events).with_outbox_when(outbox, |event| matches!(event, OrderEvent::Placed(_)))
}

/// Places an order: its `OrderPlaced` event and outbox message, stored in one transaction.
pub async fn place_order(
    orders: &AggregateStore<Order>,
    id: &str,
    customer: &str,
    lines: &[Line],
) -> Result<Root<Order>> {
    let total_cents = lines.iter().map(|l| l.quantity * l.price_cents).sum();
    let mut order = Root::<Order>::new(id);
    order.record(OrderPlaced { customer: customer.into(), total_cents, items: lines.len() as i64 });
    orders.save(&mut order, Alone).await?;
    Ok(order)
}

/// Why an order cannot be paid.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// There is no such order.
    #[error("no order {0:?}")]
    NotFound(String),
    /// The order is not `placed` (it is `paid` already).
    #[error("order {id:?} is {status}, not placed")]
    NotPayable {
        /// The order.
        id: String,
        /// Its status.
        status: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Marks a placed order paid (`OrderPaid`): the command workflow
/// ([`AggregateStore::update`]) loads the order, decides, and saves the event in one
/// transaction, retried on transient errors and conflicts.
pub async fn pay_order(orders: &AggregateStore<Order>, id: &str) -> std::result::Result<Root<Order>, PayError> {
    orders
        .update(id, |order| match order.status.as_str() {
            "placed" => {
                order.record(OrderPaid {});
                Ok(())
            }
            "" => Err(PayError::NotFound(id.to_owned())),
            status => Err(PayError::NotPayable { id: id.to_owned(), status: status.to_owned() }),
        })
        .await
}

/// The read model's collection.
pub const SUMMARIES: &str = "order_summaries";

/// A document of `order_summaries` (fields a write leaves out keep their stored value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// The order id (the document's `_id`: read, never written by the handlers).
    #[serde(rename = "_id", default, skip_serializing)]
    pub id: String,
    /// Customer id.
    pub customer: String,
    /// Total in currency units.
    pub total: f64,
    /// Number of lines.
    pub items: i64,
    /// `placed` or `paid`.
    pub status: String,
    /// When the order was placed.
    pub placed_at: bson::DateTime,
}

/// The `order_summaries` read model: its collection and document type, written by
/// [`order_summaries`] and read by the demo's report and the service's search.
pub fn summary_model() -> ReadModel<OrderSummary> {
    ReadModel::new(SUMMARIES)
}

#[derive(Serialize)]
struct StatusOnly {
    status: &'static str,
}

/// The `order_summaries` projection: one document per order, from its typed events.
pub fn order_summaries() -> Handlers {
    let (placed, paid) = (summary_model(), summary_model());
    Handlers::new(SUMMARIES)
        .writes(&placed)
        .index(IndexSpec::new(SUMMARIES, doc! { "status": 1, "total": -1 }))
        .on(move |order: OrderPlaced, meta| {
            let summary = OrderSummary {
                id: meta.aggregate_id.clone(),
                customer: order.customer,
                total: order.total_cents as f64 / 100.0,
                items: order.items,
                status: "placed".into(),
                placed_at: meta.occurred_at,
            };
            Ok(vec![placed.set(meta.aggregate_id.as_str(), &summary)?])
        })
        .on(move |_: OrderPaid, meta| {
            Ok(vec![paid.set_fields(meta.aggregate_id.as_str(), &StatusOnly { status: "paid" })?])
        })
}

/// The specification the demo queries `order_summaries` with: orders of 100 or more that are
/// placed or paid. It lives in `demo/summary_spec.json`, which the browser test builds by
/// clicking in the filter-builder page, so the browser, Rust, Node and Python agree on it.
pub const SUMMARY_SPEC: &str = include_str!("../summary_spec.json");

/// The query options that go with it: largest first, five at most.
pub const SUMMARY_OPTIONS: &str = r#"{"order_by":["-total"],"limit":5}"#;

/// A summary as the report prints it.
pub fn describe(summary: &OrderSummary) -> String {
    format!("{:<8} {:<10} {:>9.2}  {}", summary.id, summary.customer, summary.total, summary.status)
}

/// The README's Rust examples (the compiler's and the application layer's), compiled and run
/// as doctests of this crate, which depends on both.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
