//! # cqrs-mongo-spec
//!
//! Compiles *specifications* (the JSON filter AST of the legacy Python package
//! `cqrs-ddd-specifications`) into MongoDB filter documents, and query options into a find plan
//! and an equivalent aggregation pipeline. The crate is pure: no IO, no async, no driver; it
//! builds for `wasm32-unknown-unknown`, and the npm and pip packages wrap exactly this code.
//!
//! ```
//! use serde_json::json;
//!
//! let spec = json!({"op": "and", "conditions": [
//!     {"op": ">=", "attr": "total", "val": 100},
//!     {"op": "ilike", "attr": "note", "val": "%urgent%"},
//! ]});
//! let filter = cqrs_mongo_spec::compile(&spec).unwrap();
//! assert_eq!(filter, bson::doc! {"$and": [
//!     {"total": {"$gte": 100}},
//!     {"note": {"$regex": "^.*urgent.*$", "$options": "is"}},
//! ]});
//!
//! let options = json!({"order_by": ["-total"], "limit": 10});
//! let query = cqrs_mongo_spec::compile_query(&spec, Some(&options)).unwrap();
//! assert_eq!(query.sort, Some(bson::doc! {"total": -1}));
//! assert_eq!(query.pipeline.unwrap().len(), 3); // $match, $sort, $limit
//! ```
//!
//! [`compile_raw`] produces the same filter as BSON bytes (`bson::RawDocumentBuf`) without
//! building a `Document` tree: the fast path when the filter is only passed on.
//!
//! [`decompile`] goes the other way: a MongoDB filter (a `Document`, or Extended JSON with
//! [`decompile_json`] / [`decompile_str`]) back into a [`Spec`] that compiles to that very filter
//! for every filter the compiler emits, and to an equivalent one for the usual hand-written
//! forms; anything a specification cannot express is a [`DecompileError`] with a stable
//! [`DecompileErrorCode`] and the path into the filter.
//!
//! [`matches()`] (or [`Matcher`], [`Compiler::matches`], [`Compiler::filter`]) evaluates a filter on
//! a document in memory with the server's semantics, refusing with a typed [`EvalError`] what only
//! the server can answer (`$text`, `$near`): SEMANTICS.md, "Evaluating in memory". Documents
//! given as Extended JSON text are read straight into BSON by [`document_from_extended_json`];
//! documents as BSON bytes (a `RawDocumentBuf` from the driver) are evaluated where they are by
//! [`Matcher::matches_raw`], which decodes only the fields the filter reaches.
//!
//! Every error is a [`SpecError`] with a stable [`ErrorCode`], the path of the offending node
//! and a message; [`validate`] returns all of them. What each operator compiles to is described
//! in `SEMANTICS.md` and checked by the golden files shared with the Node and Python packages.
#![forbid(unsafe_code)]

mod builder;
mod compile;
mod config;
mod decompile;
mod diag;
mod error;
mod eval;
pub mod input;
mod operator;
mod ops;
mod options;
mod out;
mod plan;
mod regex;
mod spec;
mod values;

use bson::{Document, RawDocumentBuf};
use serde_json::Value;

pub use builder::{Field, and, elem_match, not, or};
pub use config::schema::{FieldDef, FieldSchema, FieldType};
pub use config::{
    CompilerConfig, ConfigError, DEFAULT_MAX_PATTERN_LEN, DEFAULT_MAX_SPEC_LEN, DEFAULT_MAX_STRING_LEN,
    MAX_DEPTH_LIMIT, MAX_FIELD_PATH_LEN, MAX_FILTER_DEPTH, RegexPolicy,
};
pub use decompile::{
    DecompileError, DecompileErrorCode, TEXT_SEARCH_ATTR, decompile, decompile_json, decompile_str, decompile_utf16,
    display_filter_path,
};
pub use error::{ErrorCode, PathSegment, SpecError, display_path};
pub use eval::{EvalError, EvalErrorCode, MatchError, Matcher, REGEX_STEP_BUDGET, STEPS_PER_BYTE, matches};
pub use input::{
    bson_from_extended_json, bson_from_json, document_from_extended_json, parse_json, parse_json_utf16,
    parse_options_json, parse_options_json_utf16,
};
pub use operator::{Family, Operator, OperatorInfo, ValueShape, operators};
pub use options::{QueryOptions, SortKey};
pub use out::json::{ExtJsonFormat, to_extjson_string};
pub use plan::{CompiledQuery, match_stage};
pub use spec::{ElemMatch, FieldComparison, Leaf, Not, Spec};
pub use values::ValueType;

use diag::Diag;

/// A compiler with its settings. The free functions use `Compiler::default()`.
#[derive(Debug, Clone, Default)]
pub struct Compiler {
    config: CompilerConfig,
    /// Why the settings are refused, if they are: every compile then fails with it.
    refused: Option<ConfigError>,
    /// The settings, prepared for the walkers.
    rules: config::prepared::Rules,
}

impl Compiler {
    /// A compiler with the given limits and whitelist. Settings that
    /// [`CompilerConfig::validate`] refuses (`max_depth` above [`MAX_DEPTH_LIMIT`]) are not
    /// changed silently: every compile and validation then fails with `invalid_option` at
    /// `settings.<name>`. Use [`try_new`](Self::try_new) to find out at construction.
    ///
    /// ```
    /// use cqrs_mongo_spec::{Compiler, CompilerConfig, ErrorCode};
    /// let compiler = Compiler::new(CompilerConfig::default().with_max_depth(400));
    /// let err = compiler.compile(&serde_json::json!({"op": "=", "attr": "a", "val": 1})).unwrap_err();
    /// assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidOption, "<root>.settings.max_depth"));
    /// ```
    pub fn new(config: CompilerConfig) -> Self {
        let refused = config.validate().err();
        let rules = config::prepared::Rules::new(&config);
        Compiler { config, refused, rules }
    }

    /// The settings error every compile reports, if the settings are refused.
    fn usable(&self) -> Result<(), SpecError> {
        match &self.refused {
            None => Ok(()),
            Some(err) => Err(SpecError::new(
                ErrorCode::InvalidOption,
                vec![error::PathSegment::Key("settings".into()), error::PathSegment::Key(err.setting().into())],
                err.to_string(),
            )),
        }
    }

    /// A compiler with the given limits and whitelist, or the [`ConfigError`] that refuses them.
    ///
    /// ```
    /// use cqrs_mongo_spec::{Compiler, CompilerConfig, MAX_DEPTH_LIMIT};
    /// assert!(Compiler::try_new(CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT)).is_ok());
    /// let err = Compiler::try_new(CompilerConfig::default().with_max_depth(400)).unwrap_err();
    /// assert_eq!(err.setting(), "max_depth");
    /// ```
    pub fn try_new(config: CompilerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let rules = config::prepared::Rules::new(&config);
        Ok(Compiler { config, refused: None, rules })
    }

    /// The settings.
    pub fn config(&self) -> &CompilerConfig {
        &self.config
    }

    /// Compiles a spec given as JSON into a filter.
    pub fn compile(&self, spec: &Value) -> Result<Document, SpecError> {
        self.usable()?;
        let parsed = Spec::parse_with(spec, &self.config)?;
        self.compile_spec(&parsed)
    }

    /// Compiles a spec given as JSON text into a filter.
    pub fn compile_str(&self, spec_json: &str) -> Result<Document, SpecError> {
        self.compile(&self.parse_spec_json(spec_json)?)
    }

    /// Parses a spec's JSON text ([`parse_json`]), refusing text longer than
    /// [`max_spec_len`](CompilerConfig::max_spec_len) bytes (`spec_too_large`) before reading
    /// any of it: an oversized request costs nothing to refuse.
    pub fn parse_spec_json(&self, spec_json: &str) -> Result<Value, SpecError> {
        self.check_text_len(spec_json.len())?;
        parse_json(spec_json)
    }

    /// [`parse_spec_json`](Self::parse_spec_json) of UTF-16 code units ([`parse_json_utf16`]);
    /// a unit is at least one byte of UTF-8, so more units than `max_spec_len` are refused.
    pub fn parse_spec_json_utf16(&self, units: &[u16]) -> Result<Value, SpecError> {
        self.check_text_len(units.len())?;
        parse_json_utf16(units)
    }

    fn check_text_len(&self, len: usize) -> Result<(), SpecError> {
        self.usable()?;
        let limit = self.config.max_spec_len;
        if len <= limit {
            return Ok(());
        }
        let message = format!("the specification is larger than {limit} bytes of JSON");
        Err(SpecError::new(ErrorCode::SpecTooLarge, Vec::new(), message))
    }

    /// Parses a spec with this compiler's limits (depth, size), for
    /// [`compile_spec_query`](Self::compile_spec_query) and the other `compile_spec*` methods;
    /// [`Spec::from_value`] applies the default limits instead.
    pub fn parse_spec<'a>(&self, spec: &'a Value) -> Result<Spec<'a>, SpecError> {
        self.usable()?;
        Spec::parse_with(spec, &self.config)
    }

    /// Compiles an already built spec into a filter.
    pub fn compile_spec(&self, spec: &Spec<'_>) -> Result<Document, SpecError> {
        self.compile_into::<out::DocWriter>(spec)
    }

    /// Compiles a spec given as JSON straight into BSON bytes: the fastest path, for callers
    /// that send the filter on (bindings, raw driver commands) without inspecting it.
    pub fn compile_raw(&self, spec: &Value) -> Result<RawDocumentBuf, SpecError> {
        self.usable()?;
        let parsed = Spec::parse_with(spec, &self.config)?;
        self.compile_spec_raw(&parsed)
    }

    /// Compiles an already built spec into BSON bytes.
    pub fn compile_spec_raw(&self, spec: &Spec<'_>) -> Result<RawDocumentBuf, SpecError> {
        self.compile_into::<out::RawWriter>(spec)
    }

    fn compile_into<W: out::Out>(&self, spec: &Spec<'_>) -> Result<W::Output, SpecError> {
        self.usable()?;
        let mut diag = Diag::new(false);
        match compile::compile_tree::<W>(spec, &self.config, &self.rules, &mut diag) {
            Some(filter) => Ok(filter),
            None => Err(diag.into_first().expect("a failed compile reports an error")),
        }
    }

    /// Compiles a spec and optional query options (legacy `QueryOptions` JSON).
    pub fn compile_query(&self, spec: &Value, options: Option<&Value>) -> Result<CompiledQuery, SpecError> {
        let filter = self.compile(spec)?;
        let Some(options) = options else {
            return Ok(CompiledQuery::filter_only(filter));
        };
        let options = QueryOptions::from_value(options)?;
        self.plan(filter, &options)
    }

    /// [`compile_query`](Self::compile_query) from JSON text.
    pub fn compile_query_str(&self, spec_json: &str, options_json: Option<&str>) -> Result<CompiledQuery, SpecError> {
        let spec = self.parse_spec_json(spec_json)?;
        let options = options_json.map(parse_options_json).transpose()?;
        self.compile_query(&spec, options.as_ref())
    }

    /// Compiles a built spec with typed options.
    pub fn compile_spec_query(&self, spec: &Spec<'_>, options: &QueryOptions) -> Result<CompiledQuery, SpecError> {
        let filter = self.compile_spec(spec)?;
        self.plan(filter, options)
    }

    /// The query as Extended JSON text with `pipeline` always present (`[{"$match": filter}]`
    /// without options): what the npm and pip packages return. Without options the filter is
    /// compiled straight to BSON bytes and written once (the fast path).
    pub fn compile_query_extjson(
        &self,
        spec: &Value,
        options: Option<&Value>,
        format: ExtJsonFormat,
    ) -> Result<String, SpecError> {
        if let Some(options) = options {
            return Ok(self.compile_query(spec, Some(options))?.to_extjson_string(format));
        }
        let filter = to_extjson_string(&self.compile_raw(spec)?, format);
        Ok(format!("{{\"filter\":{filter},\"pipeline\":[{{\"$match\":{filter}}}]}}"))
    }

    fn plan(&self, filter: Document, options: &QueryOptions) -> Result<CompiledQuery, SpecError> {
        let mut diag = Diag::with_root(false, "options");
        options::check(options, &self.config, &mut diag);
        match (diag.into_first(), &self.config.schema) {
            (Some(err), _) => Err(err),
            (None, None) => Ok(CompiledQuery::plan(filter, options)),
            // Option fields are UI names too: the plan uses their stored paths.
            (None, Some(schema)) => Ok(CompiledQuery::plan(filter, &schema.stored_options(options))),
        }
    }

    /// Every error in a spec (empty when it compiles).
    pub fn validate(&self, spec: &Value) -> Vec<SpecError> {
        self.validate_query(spec, None)
    }

    /// Every error in a spec and its options (empty when they compile).
    pub fn validate_query(&self, spec: &Value, options: Option<&Value>) -> Vec<SpecError> {
        if let Err(err) = self.usable() {
            return vec![err];
        }
        let mut diag = Diag::new(true);
        let parsed = spec::parse_node(spec, 1, &self.config, &mut diag);
        let mut errors = diag.into_errors();
        if let Some(parsed) = parsed {
            let mut diag = Diag::new(true);
            compile::compile_tree::<out::RawWriter>(&parsed, &self.config, &self.rules, &mut diag);
            errors.extend(diag.into_errors());
        }
        if let Some(options) = options {
            let mut diag = Diag::with_root(true, "options");
            if let Some(parsed) = options::parse(options, &mut diag) {
                options::check(&parsed, &self.config, &mut diag);
            }
            errors.extend(diag.into_errors());
        }
        errors
    }

    /// Every error in a spec given as JSON text.
    pub fn validate_str(&self, spec_json: &str) -> Vec<SpecError> {
        match self.parse_spec_json(spec_json) {
            Ok(spec) => self.validate(&spec),
            Err(err) => vec![err],
        }
    }
}

/// Compiles a spec (JSON) into a filter with the default settings.
pub fn compile(spec: &Value) -> Result<Document, SpecError> {
    Compiler::default().compile(spec)
}

/// Compiles a spec (JSON) straight into BSON bytes with the default settings.
pub fn compile_raw(spec: &Value) -> Result<RawDocumentBuf, SpecError> {
    Compiler::default().compile_raw(spec)
}

/// Compiles a spec given as JSON text into a filter.
pub fn compile_str(spec_json: &str) -> Result<Document, SpecError> {
    Compiler::default().compile_str(spec_json)
}

/// Compiles a built spec into a filter.
pub fn compile_spec(spec: &Spec<'_>) -> Result<Document, SpecError> {
    Compiler::default().compile_spec(spec)
}

/// Compiles a spec and optional query options.
pub fn compile_query(spec: &Value, options: Option<&Value>) -> Result<CompiledQuery, SpecError> {
    Compiler::default().compile_query(spec, options)
}

/// Every error in a spec.
pub fn validate(spec: &Value) -> Vec<SpecError> {
    Compiler::default().validate(spec)
}

/// The package README's example runs as a doctest, so the crates.io page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validate_collects_every_error() {
        let spec = json!({"op": "and", "conditions": [
            {"op": "=", "attr": "a", "vale": 1},
            {"op": "nope", "attr": "b", "val": 1},
            {"op": "between", "attr": "c", "val": 1},
            {"op": "=", "attr": "$d", "val": 1},
        ]});
        let codes: Vec<_> = validate(&spec).iter().map(|e| (e.code().as_str(), e.path_string())).collect();
        assert_eq!(
            codes,
            [
                ("unknown_key", "<root>.conditions[0].vale".to_owned()),
                ("missing_field", "<root>.conditions[0].val".to_owned()),
                ("unknown_operator", "<root>.conditions[1].op".to_owned()),
                ("invalid_value", "<root>.conditions[2].val".to_owned()),
                ("invalid_field_path", "<root>.conditions[3].attr".to_owned()),
            ]
        );
        assert_eq!(compile(&spec).unwrap_err().code(), ErrorCode::UnknownKey);
    }

    #[test]
    fn a_hand_built_leaf_with_the_placeholder_path_is_an_error_not_a_panic() {
        let leaf =
            Spec::Leaf(Leaf { op: Operator::IsNull, attr: spec::PLACEHOLDER_ATTR.into(), val: None, value_type: None });
        assert_eq!(compile_spec(&leaf).unwrap_err().code(), ErrorCode::InvalidFieldPath);
    }

    #[test]
    fn json_text_errors() {
        assert_eq!(compile_str("{\"op\": ").unwrap_err().code(), ErrorCode::InvalidJson);
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = compile_str(&deep).unwrap_err();
        assert_eq!((err.code(), err.path().len()), (ErrorCode::TooDeep, input::MAX_JSON_DEPTH));
    }
}
