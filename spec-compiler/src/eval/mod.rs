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
mod raw;
mod regex;
mod value;

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
        self.root.matches(path::Obj::Doc(value::DocRef::Owned(document)), 1).map_err(|failure| *failure)
    }

    /// Whether `find` with the filter would return the document held in BSON bytes, read where
    /// they are: nothing is decoded but the fields the filter reaches, and nothing is copied
    /// (but for `$expr`, which builds values from the document's). The answer is the one
    /// [`Matcher::matches`] gives for the same document decoded; bytes that do not decode where
    /// the evaluation reads them are an [`EvalErrorCode::InvalidDocument`].
    ///
    /// ```
    /// use bson::{RawDocumentBuf, doc};
    /// use cqrs_mongo_spec::Matcher;
    ///
    /// let matcher = Matcher::new(&doc! {"items.sku": "AB-1", "total": {"$gte": 100}}).unwrap();
    /// let order = RawDocumentBuf::try_from(&doc! {"total": 250, "items": [{"sku": "AB-1"}]}).unwrap();
    /// assert!(matcher.matches_raw(&order).unwrap());
    /// ```
    pub fn matches_raw(&self, document: &bson::RawDocument) -> Result<bool, EvalError> {
        let bytes = raw::Bytes::document(document.as_bytes()).map_err(|failure| *failure)?;
        self.matches_bytes(bytes).map_err(|failure| *failure)
    }

    /// The indexes of the documents `find` with the filter would return, of BSON documents
    /// back to back in `documents` (as a `.bson` dump holds them), each read in place as
    /// [`Matcher::matches_raw`] reads one. Bytes that do not split into documents are an
    /// [`EvalErrorCode::InvalidDocument`].
    ///
    /// ```
    /// use bson::{RawDocumentBuf, doc};
    /// use cqrs_mongo_spec::Matcher;
    ///
    /// let big = Matcher::new(&doc! {"total": {"$gte": 100}}).unwrap();
    /// let mut dump = Vec::new();
    /// for total in [50, 250, 100] {
    ///     dump.extend_from_slice(RawDocumentBuf::try_from(&doc! {"total": total}).unwrap().as_bytes());
    /// }
    /// assert_eq!(big.filter_raw(&dump).unwrap(), [1, 2]);
    /// ```
    pub fn filter_raw(&self, documents: &[u8]) -> Result<Vec<usize>, EvalError> {
        let mut kept = Vec::new();
        let (mut rest, mut index) = (documents, 0);
        while !rest.is_empty() {
            let (document, after) = raw::Bytes::first(rest).map_err(|failure| *failure)?;
            if self.matches_bytes(document).map_err(|failure| *failure)? {
                kept.push(index);
            }
            (rest, index) = (after, index + 1);
        }
        Ok(kept)
    }

    /// [`Matcher::matches_raw`] on checked bytes, their top-level fields sized once.
    fn matches_bytes(&self, bytes: raw::Bytes<'_>) -> Result<bool, error::Failure> {
        let indexed = raw::Indexed::new(bytes);
        self.root.matches(path::Obj::Doc(value::DocRef::Indexed(&indexed)), 1)
    }

    /// The top-level fields of a document the filter reads, sorted and without repeats
    /// (`["customer", "total"]` for `{"total": {"$gt": 1}, "customer.name": "x"}`), or `None`
    /// when it may read any of them (`$expr`). The other fields cannot change the answer, so a
    /// caller that converts documents (the npm and pip packages) may leave them out.
    ///
    /// ```
    /// use cqrs_mongo_spec::Matcher;
    /// let matcher = Matcher::new(&bson::doc! {"$or": [{"b.c": 1}, {"a": {"$exists": false}}]}).unwrap();
    /// assert_eq!(matcher.fields(), Some(vec!["a", "b"]));
    /// let expr = Matcher::new(&bson::doc! {"$expr": {"$gt": ["$a", "$b"]}}).unwrap();
    /// assert_eq!(expr.fields(), None);
    /// ```
    pub fn fields(&self) -> Option<Vec<&str>> {
        let mut fields = Vec::new();
        let mut todo = vec![&self.root];
        while let Some(node) = todo.pop() {
            match node {
                filter::Node::And(nodes) | filter::Node::Or(nodes) | filter::Node::Nor(nodes) => todo.extend(nodes),
                filter::Node::Const(_) => {}
                filter::Node::Field(path, _) => fields.push(path.top_level()),
                filter::Node::Expr(_) => return None,
            }
        }
        fields.sort_unstable();
        fields.dedup();
        Some(fields)
    }
}

/// Whether `find` with `filter` would return `document`.
pub fn matches(filter: &Document, document: &Document) -> Result<bool, EvalError> {
    Matcher::new(filter)?.matches(document)
}

#[cfg(test)]
mod fields_tests {
    use bson::doc;

    use super::*;

    fn fields(filter: Document) -> Option<Vec<String>> {
        let matcher = Matcher::new(&filter).unwrap();
        matcher.fields().map(|fields| fields.into_iter().map(str::to_owned).collect())
    }

    #[test]
    fn the_top_level_fields_a_filter_reads() {
        let names = |names: &[&str]| Some(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>());
        assert_eq!(fields(doc! {}), names(&[]));
        assert_eq!(fields(doc! {"$comment": "x", "$alwaysFalse": 1}), names(&[]));
        assert_eq!(
            fields(
                doc! {"z": 1, "$nor": [{"a.b": {"$not": {"$gt": 1}}}, {"$and": [{"z.y": 2}, {"m": {"$exists": false}}]}]}
            ),
            names(&["a", "m", "z"])
        );
        assert_eq!(fields(doc! {"items": {"$elemMatch": {"sku": "x", "qty": {"$gt": 1}}}}), names(&["items"]));
        assert_eq!(fields(doc! {"a": 1, "$expr": {"$lt": ["$b", 2]}}), None);
        assert_eq!(fields(doc! {"$or": [{"a": 1}, {"$expr": true}]}), None);
    }

    #[test]
    fn the_other_fields_cannot_change_the_answer() {
        let filter = doc! {"$or": [{"a.b": {"$in": [1, null]}}, {"c": {"$size": 0}}], "d": {"$ne": 5}};
        let matcher = Matcher::new(&filter).unwrap();
        let keep = matcher.fields().unwrap();
        for document in [
            doc! {"a": {"b": 1}, "x": 1},
            doc! {"c": [], "d": 5, "e": {"f": 1}},
            doc! {"x": [1, 2], "a": [{"b": 2}, {"c": 3}], "d": 4},
            doc! {"y": null},
        ] {
            let projected: Document = document
                .iter()
                .filter(|(key, _)| keep.contains(&key.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(matcher.matches(&projected), matcher.matches(&document), "{document}");
        }
    }
}
