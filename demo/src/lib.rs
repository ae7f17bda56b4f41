//! The orders example used by the end-to-end demo and the `cqrs-mongo-orders` CLI binary.
//!
//! - [`Order`]: a state-stored aggregate whose changes are also recorded as events.
//! - [`place_order`]: one unit of work that saves the order, appends its `OrderPlaced` event and
//!   queues an outbox message — one transaction, all or nothing.
//! - [`OrderSummaries`]: the `order_summaries` read model, built by the projection runner.
//! - [`SUMMARY_SPEC`]: the JSON specification the demo queries the summaries with (the shape
//!   the browser demo builds and the npm/pip packages compile identically).

use bson::{Document, doc};
use cqrs_mongo_persistence::{
    Connection, EventStore, EventStream, ExpectedVersion, NewEvent, Outbox, OutboxMessage, Projection, Repository,
    Result, StoredEvent, Version, Write,
};
use futures::FutureExt;
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

/// The order aggregate (collection `orders`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order id.
    pub id: String,
    /// Customer id.
    pub customer: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// `placed`, then `paid`.
    pub status: String,
    /// Optimistic-concurrency version.
    #[serde(default)]
    pub version: Version,
}

cqrs_mongo_persistence::aggregate!(Order, "orders", String);

impl Order {
    /// A new order.
    pub fn new(id: impl Into<String>, customer: impl Into<String>, lines: Vec<Line>) -> Self {
        Order { id: id.into(), customer: customer.into(), lines, status: "placed".into(), version: Version::default() }
    }

    /// Total in cents.
    pub fn total_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity * l.price_cents).sum()
    }

    fn placed_event(&self) -> NewEvent {
        NewEvent::new(
            format!("{}-placed", self.id),
            "OrderPlaced",
            doc! { "customer": &self.customer, "total_cents": self.total_cents(), "items": self.lines.len() as i64 },
        )
    }
}

/// Saves a new order, its `OrderPlaced` event and an outbox message in one transaction.
pub async fn place_order(
    db: &Connection,
    orders: &Repository<Order>,
    events: &EventStore,
    outbox: &Outbox,
    order: &mut Order,
) -> Result<()> {
    let event = order.placed_event();
    let message = OutboxMessage::new(format!("{}-placed", order.id), "OrderPlaced", event.payload.clone(), &order.id)
        .for_aggregate(order.id.clone());
    db.transaction_with((orders, events, outbox, order, event, message), |uow, context| {
        let (orders, events, outbox, order, event, message) = context;
        async move {
            orders.save(order, uow).await?;
            let stream = EventStream { aggregate_id: &order.id, aggregate_type: "Order" };
            events.append(stream, ExpectedVersion::NoStream, std::slice::from_ref(event), uow).await?;
            outbox.save(std::slice::from_ref(message), uow).await
        }
        .boxed()
    })
    .await
}

/// Marks an order paid: the aggregate and an `OrderPaid` event (version 2 of its stream).
pub async fn pay_order(
    db: &Connection,
    orders: &Repository<Order>,
    events: &EventStore,
    order: &mut Order,
) -> Result<()> {
    order.status = "paid".into();
    let event = NewEvent::new(format!("{}-paid", order.id), "OrderPaid", doc! {});
    db.transaction_with((orders, events, order, event), |uow, context| {
        let (orders, events, order, event) = context;
        async move {
            orders.save(order, uow).await?;
            let stream = EventStream { aggregate_id: &order.id, aggregate_type: "Order" };
            events.append(stream, ExpectedVersion::Exact(1), std::slice::from_ref(event), uow).await.map(|_| ())
        }
        .boxed()
    })
    .await
}

/// The `order_summaries` read model: one document per order.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderSummaries;

/// The read model's collection.
pub const SUMMARIES: &str = "order_summaries";

impl Projection for OrderSummaries {
    fn name(&self) -> &str {
        SUMMARIES
    }

    fn collections(&self) -> Vec<String> {
        vec![SUMMARIES.into()]
    }

    fn project(&self, event: &StoredEvent) -> Result<Vec<Write>> {
        let id = event.aggregate_id.as_str();
        Ok(match event.event_type.as_str() {
            "OrderPlaced" => {
                let payload = &event.payload;
                let total = payload.get_i64("total_cents").unwrap_or(0) as f64 / 100.0;
                let fields = doc! {
                    "customer": payload.get_str("customer").unwrap_or_default(),
                    "total": total,
                    "items": payload.get_i64("items").unwrap_or(0),
                    "status": "placed",
                    "placed_at": event.occurred_at,
                };
                vec![Write::set(SUMMARIES, id, fields)]
            }
            "OrderPaid" => vec![Write::set(SUMMARIES, id, doc! { "status": "paid" })],
            _ => Vec::new(),
        })
    }

    fn indexes(&self) -> Vec<cqrs_mongo_persistence::IndexSpec> {
        vec![cqrs_mongo_persistence::IndexSpec::new(SUMMARIES, doc! { "status": 1, "total": -1 })]
    }
}

/// The specification the demo queries `order_summaries` with: orders of 100 or more that are
/// placed or paid. It lives in `demo/summary_spec.json`, which the browser test builds by
/// clicking in the filter-builder page, so the browser, Rust, Node and Python agree on it.
pub const SUMMARY_SPEC: &str = include_str!("../summary_spec.json");

/// The query options that go with it: largest first, five at most.
pub const SUMMARY_OPTIONS: &str = r#"{"order_by":["-total"],"limit":5}"#;

/// A summary document as the report prints it.
pub fn describe(summary: &Document) -> String {
    format!(
        "{:<8} {:<10} {:>9.2}  {}",
        summary.get_str("_id").unwrap_or("?"),
        summary.get_str("customer").unwrap_or("?"),
        summary.get_f64("total").unwrap_or(0.0),
        summary.get_str("status").unwrap_or("?"),
    )
}
