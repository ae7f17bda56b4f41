//! The compiler's convenience: compile a spec once, evaluate the filter in memory.

use bson::Document;
use serde_json::Value;

use super::{EvalError, Matcher};
use crate::{Compiler, SpecError};

/// Why [`Compiler::matches`] or [`Compiler::filter`] gave no answer: the spec does not compile
/// ([`SpecError`], its path into the spec), or its filter cannot be evaluated in memory
/// ([`EvalError`], its path into the compiled filter). The two keep their own codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatchError {
    /// The spec does not compile.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The compiled filter cannot be evaluated in memory (a text search, a regex the matcher
    /// refuses or that runs out of steps).
    #[error(transparent)]
    Eval(#[from] EvalError),
}

impl MatchError {
    /// The stable code of either error (`"invalid_value"`, `"needs_server"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            MatchError::Spec(err) => err.code().as_str(),
            MatchError::Eval(err) => err.code().as_str(),
        }
    }
}

impl Compiler {
    /// Compiles a spec and evaluates its filter on one document: whether `find` would return it.
    ///
    /// ```
    /// use cqrs_mongo_spec::Compiler;
    /// let spec = serde_json::json!({"op": "ilike", "attr": "note", "val": "%urgent%"});
    /// let compiler = Compiler::default();
    /// assert!(compiler.matches(&spec, &bson::doc! {"note": "Very URGENT"}).unwrap());
    /// assert!(!compiler.matches(&spec, &bson::doc! {"note": 42}).unwrap());
    /// ```
    pub fn matches(&self, spec: &Value, document: &Document) -> Result<bool, MatchError> {
        let matcher = Matcher::new(&self.compile(spec)?)?;
        Ok(matcher.matches(document)?)
    }

    /// Compiles a spec once and keeps the documents its filter matches, in their order.
    ///
    /// ```
    /// use cqrs_mongo_spec::Compiler;
    /// let spec = serde_json::json!({"op": ">", "attr": "qty", "val": 2});
    /// let docs = [bson::doc! {"qty": 1}, bson::doc! {"qty": 3.5}, bson::doc! {"qty": "9"}];
    /// let kept = Compiler::default().filter(&spec, &docs).unwrap();
    /// assert_eq!(kept, [&docs[1]]);
    /// ```
    pub fn filter<'d>(
        &self,
        spec: &Value,
        documents: impl IntoIterator<Item = &'d Document>,
    ) -> Result<Vec<&'d Document>, MatchError> {
        let matcher = Matcher::new(&self.compile(spec)?)?;
        let mut kept = Vec::new();
        for document in documents {
            if matcher.matches(document)? {
                kept.push(document);
            }
        }
        Ok(kept)
    }
}
