//! The aggregate most tests store: an order with a total.

use cqrs_mongo_persistence::store::Version;
use serde::{Deserialize, Serialize};

/// An order (collection `orders`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub total: i64,
    #[serde(default)]
    pub version: Version,
}

cqrs_mongo_persistence::aggregate!(Order, "orders", String);

/// A new order.
pub fn order(id: &str, total: i64) -> Order {
    Order { id: id.into(), total, version: Version::default() }
}
