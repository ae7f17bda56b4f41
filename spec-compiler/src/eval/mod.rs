//! Evaluating a MongoDB filter on a document in memory, with the server's semantics: what
//! `find` with that filter would return, without a server.
//!
//! ```
//! use bson::doc;
//! use cqrs_mongo_spec::{matches, Matcher};
//!
//! let order = doc! {"total": 1500_i64, "items": [{"sku": "AB-1", "qty": 2}], "note": "Urgent"};
//! assert!(matches(&doc! {"total": {"$gte": 1000}, "items.sku": "AB-1"}, &order).unwrap());
//! assert!(!matches(&doc! {"total": {"$gt": "1000"}}, &order).unwrap()); // a string is no number
//!
//! let urgent = Matcher::new(&doc! {"note": {"$regex": "^urgent", "$options": "i"}}).unwrap();
//! assert!(urgent.matches(&order).unwrap());
//! ```
//!
//! Every operator the compiler emits is evaluated, and the common hand-written forms; what
//! only the server can answer (`$text`, `$near`, `$where`) and what this module does not
//! implement are a typed [`EvalError`], never a guess. SEMANTICS.md ("Evaluating in memory")
//! lists the rules.

mod compiler;
#[cfg(test)]
mod depth_tests;
mod error;
mod expr;
mod filter;
mod geo;
mod number;
mod ops;
mod order;
mod path;
mod regex;

use bson::Document;

pub use compiler::MatchError;
pub use error::{EvalError, EvalErrorCode};
pub use regex::{REGEX_STEP_BUDGET, STEPS_PER_BYTE};

use error::At;

/// A filter parsed once, to evaluate on many documents.
///
/// Parsing refuses, for every document alike, what cannot be evaluated (`$text`, an unknown
/// operator, a backreference in a regex, a filter nested past MongoDB's 200 levels); evaluating
/// fails only when a regex runs out of its step budget on a string, or when the document nests
/// past those 200 levels where the filter reaches.
#[derive(Debug)]
pub struct Matcher {
    root: filter::Node,
}

impl Matcher {
    /// Parses a filter.
    pub fn new(filter: &Document) -> Result<Matcher, EvalError> {
        error::check_filter_depth(filter)?;
        Ok(Matcher { root: filter::parse(filter, &At::Root, filter::Level::Top)? })
    }

    /// Whether `find` with the filter would return `document`.
    pub fn matches(&self, document: &Document) -> Result<bool, EvalError> {
        self.root.matches(path::Obj::Doc(document), 1).map_err(|failure| *failure)
    }
}

/// Whether `find` with `filter` would return `document`.
pub fn matches(filter: &Document, document: &Document) -> Result<bool, EvalError> {
    Matcher::new(filter)?.matches(document)
}
