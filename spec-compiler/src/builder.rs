//! A small fluent builder for specs: `Spec::field("total").gte(100)`, `and(..)`, `or(..)`,
//! `not(..)`, `elem_match(..)`, and comparisons of two fields
//! (`Spec::field("shipped_at").gt_field("promised_at")`). What it builds serialises to the JSON
//! shape it parses from.

use std::borrow::Cow;

use serde_json::Value;

use crate::operator::Operator;
use crate::spec::{ElemMatch, FieldComparison, Leaf, Not, Spec};
use crate::values::ValueType;

/// A field waiting for an operator; see [`Spec::field`].
#[derive(Debug, Clone)]
pub struct Field {
    attr: String,
}

impl Spec<'static> {
    /// Starts a condition on a dotted field path.
    ///
    /// ```
    /// use cqrs_mongo_spec::{Spec, and, or, not};
    /// let spec = and([
    ///     Spec::field("total").gte(100),
    ///     or([Spec::field("sku").startswith("AB-"), Spec::field("sku").endswith("-X")]),
    ///     not(Spec::field("deleted").eq(true)),
    /// ]);
    /// assert_eq!(spec.to_json()["conditions"][0], serde_json::json!({"op": ">=", "attr": "total", "val": 100}));
    /// let filter = cqrs_mongo_spec::compile_spec(&spec).unwrap();
    /// assert_eq!(filter.get_array("$and").unwrap().len(), 3);
    /// ```
    pub fn field(attr: impl Into<String>) -> Field {
        Field { attr: attr.into() }
    }
}

macro_rules! value_ops {
    ($($(#[$doc:meta])* $method:ident => $op:ident;)*) => {
        impl Field {
            $(
                $(#[$doc])*
                pub fn $method(self, val: impl Into<Value>) -> Spec<'static> {
                    self.op(Operator::$op, val)
                }
            )*
        }
    };
}

value_ops! {
    /// `=`.
    eq => Eq;
    /// `!=`.
    ne => Ne;
    /// `>`.
    gt => Gt;
    /// `>=`.
    gte => Gte;
    /// `<`.
    lt => Lt;
    /// `<=`.
    lte => Lte;
    /// `in` (a list of values).
    is_in => In;
    /// `not_in`.
    not_in => NotIn;
    /// `all`.
    all => All;
    /// `like` (SQL pattern).
    like => Like;
    /// `ilike`.
    ilike => Ilike;
    /// `contains`.
    contains => Contains;
    /// `icontains`.
    icontains => Icontains;
    /// `startswith`.
    startswith => Startswith;
    /// `endswith`.
    endswith => Endswith;
    /// `regex`.
    regex => Regex;
    /// `json_contains`.
    json_contains => JsonContains;
    /// `json_has_key`.
    json_has_key => JsonHasKey;
    /// `intersects` (a GeoJSON geometry).
    intersects => Intersects;
    /// `within` (a GeoJSON polygon).
    within => Within;
    /// `fts` (full-text search).
    fts => Fts;
}

impl Field {
    /// Any operator with a value.
    pub fn op(self, op: Operator, val: impl Into<Value>) -> Spec<'static> {
        Spec::Leaf(Leaf { op, attr: Cow::Owned(self.attr), val: Some(Cow::Owned(val.into())), value_type: None })
    }

    /// `between [low, high]`.
    pub fn between(self, low: impl Into<Value>, high: impl Into<Value>) -> Spec<'static> {
        self.op(Operator::Between, Value::Array(vec![low.into(), high.into()]))
    }

    /// `is_null` (no value).
    pub fn is_null(self) -> Spec<'static> {
        Spec::Leaf(Leaf { op: Operator::IsNull, attr: Cow::Owned(self.attr), val: None, value_type: None })
    }

    /// `is_not_null` (no value).
    pub fn is_not_null(self) -> Spec<'static> {
        Spec::Leaf(Leaf { op: Operator::IsNotNull, attr: Cow::Owned(self.attr), val: None, value_type: None })
    }
}

macro_rules! field_ops {
    ($($(#[$doc:meta])* $method:ident => $op:ident;)*) => {
        impl Field {
            $(
                $(#[$doc])*
                pub fn $method(self, other: impl Into<String>) -> Spec<'static> {
                    self.compare_field(Operator::$op, other)
                }
            )*
        }
    };
}

field_ops! {
    /// `=` another field.
    eq_field => Eq;
    /// `!=` another field.
    ne_field => Ne;
    /// `>` another field: `{"$expr": {"$gt": ["$attr", "$other"]}}`.
    ///
    /// ```
    /// use cqrs_mongo_spec::Spec;
    /// let spec = Spec::field("shipped_at").gt_field("promised_at");
    /// assert_eq!(spec.to_json(), serde_json::json!({"op": ">", "attr": "shipped_at", "field": "promised_at"}));
    /// let filter = cqrs_mongo_spec::compile_spec(&spec).unwrap();
    /// assert_eq!(filter, bson::doc! {"$expr": {"$gt": ["$shipped_at", "$promised_at"]}});
    /// ```
    gt_field => Gt;
    /// `>=` another field.
    gte_field => Gte;
    /// `<` another field.
    lt_field => Lt;
    /// `<=` another field.
    lte_field => Lte;
}

impl Field {
    /// A comparison (`=` `!=` `>` `>=` `<` `<=`) with another field of the same document.
    pub fn compare_field(self, op: Operator, other: impl Into<String>) -> Spec<'static> {
        Spec::FieldComparison(FieldComparison { op, attr: Cow::Owned(self.attr), field: Cow::Owned(other.into()) })
    }
}

impl Spec<'_> {
    /// Sets the `value_type` cast of a leaf (no effect on groups).
    pub fn cast(mut self, value_type: ValueType) -> Self {
        if let Spec::Leaf(leaf) = &mut self {
            leaf.value_type = Some(value_type);
        }
        self
    }
}

/// All of the conditions.
pub fn and<'a>(conditions: impl IntoIterator<Item = Spec<'a>>) -> Spec<'a> {
    Spec::And(conditions.into_iter().collect())
}

/// At least one of the conditions.
pub fn or<'a>(conditions: impl IntoIterator<Item = Spec<'a>>) -> Spec<'a> {
    Spec::Or(conditions.into_iter().collect())
}

/// The negation of a condition.
pub fn not(condition: Spec<'_>) -> Spec<'_> {
    Spec::Not(Not { condition: Box::new(condition), listed: false })
}

/// One element of the array `attr` satisfies all the conditions, whose fields are relative to
/// the element: `{"items": {"$elemMatch": …}}`, the conditions' keys merged when distinct.
///
/// ```
/// use cqrs_mongo_spec::{Spec, elem_match};
/// let spec = elem_match("items", [Spec::field("sku").eq("AB-123"), Spec::field("qty").gte(3)]);
/// let filter = cqrs_mongo_spec::compile_spec(&spec).unwrap();
/// assert_eq!(filter, bson::doc! {"items": {"$elemMatch": {"sku": {"$eq": "AB-123"}, "qty": {"$gte": 3}}}});
/// ```
pub fn elem_match<'a>(attr: impl Into<String>, conditions: impl IntoIterator<Item = Spec<'a>>) -> Spec<'a> {
    Spec::ElemMatch(ElemMatch { attr: Cow::Owned(attr.into()), conditions: conditions.into_iter().collect() })
}
