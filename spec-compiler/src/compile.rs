//! Walking a [`Spec`] into a filter document: limits (including MongoDB's 100 levels of nesting
//! for the filter written), field paths, the whitelist, text-search placement, and dispatch of
//! each leaf to its operator family, which writes BSON bytes.

use std::borrow::Cow;

use bson::Bson;
use serde_json::Value;

use crate::config::prepared::{FieldRules, Rules, casts_values};
use crate::config::schema::FieldDef;
use crate::config::{CompilerConfig, MAX_FILTER_DEPTH, key_problem};
use crate::diag::{Diag, Seg};
use crate::error::ErrorCode;
use crate::operator::{Family, Operator};
use crate::ops;
use crate::out::Out;
use crate::spec::{Leaf, PLACEHOLDER_ATTR, Spec};
use crate::values::{self, ValueType};

mod elem_match;
mod field_comparison;
mod fields;

/// Compiles a spec tree into BSON, reporting errors to `diag`; `None` when there was one.
pub(crate) fn compile_tree<W: Out>(
    spec: &Spec<'_>,
    config: &CompilerConfig,
    rules: &Rules,
    diag: &mut Diag<'static>,
) -> Option<W::Output> {
    let mut walker = Walker {
        config,
        rules,
        diag,
        out: W::new(),
        nodes: 0,
        text_clauses: 0,
        under_not: 0,
        scopes: Vec::new(),
        aborted: false,
    };
    walker.node(spec, 1);
    if walker.diag.has_errors() {
        return None;
    }
    walker.out.finish()
}

struct Walker<'w, 'c, W> {
    config: &'c CompilerConfig,
    rules: &'c Rules,
    diag: &'w mut Diag<'static>,
    out: W,
    nodes: usize,
    text_clauses: usize,
    under_not: usize,
    /// The elem_matches the walk is inside, innermost last.
    scopes: Vec<fields::Scope>,
    /// Set once the node limit is hit: the rest of the tree is not visited.
    aborted: bool,
}

impl<W: Out> Walker<'_, '_, W> {
    /// Writes the filter document of one node; `None` after an error.
    fn node(&mut self, spec: &Spec<'_>, depth: usize) -> Option<()> {
        self.nodes += 1;
        if self.nodes > self.config.max_nodes {
            self.diag.error(
                ErrorCode::TooManyNodes,
                format!("the specification has more than {} nodes", self.config.max_nodes),
            );
            self.aborted = true;
            return None;
        }
        if depth > self.config.depth_limit() {
            self.diag.error(
                ErrorCode::TooDeep,
                format!("the specification nests deeper than {} levels", self.config.depth_limit()),
            );
            return None;
        }
        match spec {
            Spec::Leaf(leaf) => self.leaf(leaf),
            Spec::And(children) => self.group("$and", Operator::And, children, depth),
            Spec::Or(children) => self.group("$or", Operator::Or, children, depth),
            Spec::Not(not) => {
                let key = if not.listed { "conditions" } else { "condition" };
                self.diag.push(Seg::Key(key));
                if not.listed {
                    self.diag.push(Seg::Index(0));
                }
                self.under_not += 1;
                self.out.begin("");
                self.out.begin_array("$nor");
                let inner = self.node(&not.condition, depth + 1);
                self.out.end();
                self.out.end();
                self.under_not -= 1;
                if not.listed {
                    self.diag.pop();
                }
                self.diag.pop();
                inner
            }
            Spec::ElemMatch(group) => self.elem_match(group, depth),
            Spec::FieldComparison(comparison) => self.field_comparison(comparison),
        }
    }

    fn group(&mut self, operator: &str, op: Operator, children: &[Spec<'_>], depth: usize) -> Option<()> {
        self.diag.push(Seg::Key("conditions"));
        if children.is_empty() {
            self.diag.error(
                ErrorCode::EmptyGroup,
                format!("{:?} needs at least one condition (an empty group would match every document)", op.name()),
            );
        }
        let mut ok = !children.is_empty();
        self.out.begin("");
        self.out.begin_array(operator);
        for (index, child) in children.iter().enumerate() {
            self.diag.push(Seg::Index(index));
            ok &= self.node(child, depth + 1).is_some();
            self.diag.pop();
            if self.diag.stop() || self.aborted {
                break;
            }
        }
        self.out.end();
        self.out.end();
        self.diag.pop();
        ok.then_some(())
    }

    fn leaf(&mut self, leaf: &Leaf<'_>) -> Option<()> {
        // Only `validate` builds placeholders; elsewhere this attr is just an invalid path (NUL).
        if leaf.attr == PLACEHOLDER_ATTR && self.diag.collects_all() {
            return None;
        }
        let op = leaf.op;
        if op.is_logical() {
            self.diag.error_at_key("op", ErrorCode::InvalidNode, format!("{:?} is not a leaf operator", op.name()));
            return None;
        }
        if !op.is_supported() {
            self.diag.error_at_key("op", ErrorCode::UnsupportedOperator, unsupported_reason(op));
            return None;
        }
        if !self.rules.operators.contains(op) {
            let message = format!("the operator {:?} is not allowed here", op.name());
            self.diag.error_at_key("op", ErrorCode::OperatorNotAllowed, message);
            return None;
        }
        if matches!(op, Operator::Regex | Operator::Iregex) && !self.config.regex.enabled {
            let message = format!("regular expressions ({:?}) are switched off", op.name());
            self.diag.error_at_key("op", ErrorCode::RegexNotAllowed, message);
            return None;
        }
        let (field, entry) = self.resolve(&leaf.attr, "attr")?;
        let value_type = match entry {
            Some((def, rules)) => self.schema_leaf(def, rules, leaf)?,
            None => leaf.value_type,
        };
        if op.family() == Family::Text && !self.text_clause_allowed() {
            return None;
        }
        let val = leaf.val.as_deref();
        self.diag.push(Seg::Key("val"));
        self.out.take_deepest();
        let mut cx = LeafCx { diag: self.diag, config: self.config, val, value_type };
        let w = &mut self.out;
        let compiled = match op.family() {
            Family::Comparison => ops::comparison::compile(op, field, &mut cx, w),
            Family::Set => ops::set::compile(op, field, &mut cx, w),
            Family::String => ops::string::compile(op, field, &mut cx, w),
            Family::Null => ops::null::compile(op, field, &mut cx, w),
            Family::Json => ops::json::compile(op, field, &mut cx, w),
            Family::Geo => match val {
                Some(raw) => ops::geo::compile(op, field, raw, &mut cx, w),
                None => cx.value().map(drop),
            },
            Family::Text => ops::text::compile(op, &mut cx, w),
            Family::Logical => None,
        };
        let levels = self.out.take_deepest();
        if compiled.is_some() && levels > MAX_FILTER_DEPTH {
            self.diag.error(
                ErrorCode::TooDeep,
                format!(
                    "with this value the compiled filter would nest {levels} levels deep; MongoDB accepts \
                     {MAX_FILTER_DEPTH} (each and/or/not above this condition takes two)"
                ),
            );
            self.diag.pop();
            return None;
        }
        self.diag.pop();
        compiled
    }

    /// What the schema says about a leaf on field `def`: its operator must be allowed, its
    /// `value_type` (if any) the field's cast, its values among the enumerated ones. Returns the
    /// cast to apply; `None` after an error.
    fn schema_leaf(&mut self, def: &FieldDef, rules: &FieldRules, leaf: &Leaf<'_>) -> Option<Option<ValueType>> {
        let op = leaf.op;
        if !rules.operators.contains(op) {
            let message = format!("the operator {:?} is not allowed on the field {:?}", op.name(), def.name);
            self.diag.error_at_key("op", ErrorCode::OperatorNotAllowed, message);
            return None;
        }
        // Values are cast by the field's type, for the operators that compare values.
        let casts = casts_values(op);
        let cast = if casts { rules.cast } else { None };
        if let Some(given) = leaf.value_type
            && Some(given) != cast
        {
            let message =
                format!("the field {:?} is compared as {}; value_type may only repeat that", def.name, cast_name(cast));
            self.diag.error_at_key("value_type", ErrorCode::ValueTypeMismatch, message);
            return None;
        }
        if let (Some(allowed), Some(val)) = (&def.values, leaf.val.as_deref())
            && casts
        {
            let bad = match val {
                Value::Array(items) => {
                    items.iter().enumerate().find(|(_, v)| !allowed.contains(v)).map(|(i, v)| (Some(i), v))
                }
                other => (!allowed.contains(other)).then_some((None, other)),
            };
            if let Some((index, bad)) = bad {
                let message = format!("{bad} is not one of the values of the field {:?}", def.name);
                self.diag.push(Seg::Key("val"));
                match index {
                    Some(i) => self.diag.at(Seg::Index(i), |d| d.error(ErrorCode::ValueNotAllowed, message)),
                    None => self.diag.error(ErrorCode::ValueNotAllowed, message),
                }
                self.diag.pop();
                return None;
            }
        }
        // A cast that would leave every value as it is (a string to string, an integer to
        // integer, a boolean to boolean) is skipped: same result, less work.
        let cast = cast.filter(|&cast| !leaf.val.as_deref().is_some_and(|val| already(cast, val)));
        Some(cast)
    }

    /// One text clause per spec, never below `not` or inside `elem_match` (MongoDB rejects all three).
    fn text_clause_allowed(&mut self) -> bool {
        let problem = if self.under_not > 0 {
            Some("full-text search cannot be negated (MongoDB rejects $text inside $nor)")
        } else if !self.scopes.is_empty() {
            Some("full-text search cannot be inside elem_match (MongoDB accepts $text only at the top level)")
        } else if self.text_clauses > 0 {
            Some("a specification may hold only one full-text search clause")
        } else {
            None
        };
        self.text_clauses += 1;
        if let Some(problem) = problem {
            self.diag.error(ErrorCode::InvalidTextSearch, problem);
            return false;
        }
        true
    }
}

/// Whether every value in `val` already is what `cast` makes of it.
fn already(cast: ValueType, val: &Value) -> bool {
    let one = |v: &Value| match cast {
        ValueType::String => v.is_string(),
        ValueType::Integer => v.is_i64() || v.is_u64(),
        ValueType::Boolean => v.is_boolean(),
        _ => false,
    };
    match val {
        Value::Array(items) => items.iter().all(one),
        other => one(other),
    }
}

/// How a cast reads in messages.
fn cast_name(cast: Option<ValueType>) -> String {
    match cast {
        Some(cast) => format!("{cast:?}").to_lowercase(),
        None => "given (no cast)".to_owned(),
    }
}

fn unsupported_reason(op: Operator) -> String {
    let why = match op {
        Operator::JsonContainedBy => "MongoDB has no filter for \"the stored document is a subset of a value\"",
        Operator::BboxIntersects => "MongoDB has no bounding-box operator for GeoJSON fields; use \"intersects\"",
        _ => "MongoDB has no exact operator for this spatial relation; legacy approximated it with $geoIntersects",
    };
    format!("{:?} is not supported: {why}", op.name())
}

/// What an operator module sees: the leaf's value, and error reporting positioned at `val`.
pub(crate) struct LeafCx<'w, 'c, 'v> {
    diag: &'w mut Diag<'static>,
    config: &'c CompilerConfig,
    val: Option<&'v Value>,
    value_type: Option<ValueType>,
}

impl<'v> LeafCx<'_, '_, 'v> {
    /// The converted and cast value; `missing_field` when absent.
    pub(crate) fn value(&mut self) -> Option<Bson> {
        match self.val {
            Some(raw) => self.convert_raw(raw),
            None => {
                self.diag.error(ErrorCode::MissingField, "this operator needs a \"val\"");
                None
            }
        }
    }

    /// The value as text for the string operators: borrowed from the JSON when it is a plain
    /// string without a cast (the common case), converted otherwise. `None` when it is not a
    /// string, after reporting `invalid_value`.
    pub(crate) fn text(&mut self, op: Operator) -> Option<Cow<'v, str>> {
        // A plain string, uncast or cast to string, is borrowed as it is.
        if let (Some(Value::String(text)), None | Some(ValueType::String)) = (self.val, self.value_type) {
            if text.len() > self.config.max_string_len {
                let message = values::string_too_long(text.len(), self.config.max_string_len);
                self.error(ErrorCode::StringTooLong, message);
                return None;
            }
            return Some(Cow::Borrowed(text));
        }
        match self.value()? {
            Bson::String(text) => Some(Cow::Owned(text)),
            other => {
                self.error(
                    ErrorCode::InvalidValue,
                    format!("{:?} expects a string, got {}", op.name(), crate::diag::bson_type_name(&other)),
                );
                None
            }
        }
    }

    /// The converted value, or `Some(None)` when `val` is absent.
    pub(crate) fn optional_value(&mut self) -> Option<Option<Bson>> {
        match self.val {
            Some(raw) => self.convert_raw(raw).map(Some),
            None => Some(None),
        }
    }

    /// The compiler's settings.
    pub(crate) fn config(&self) -> &CompilerConfig {
        self.config
    }

    /// Converts a raw JSON value (or part of `val`) with the leaf's `value_type`.
    pub(crate) fn convert_raw(&mut self, raw: &Value) -> Option<Bson> {
        values::convert_val(raw, self.value_type, self.config, self.diag)
    }

    /// Reports an error at the current position.
    pub(crate) fn error(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.diag.error(code, message);
    }

    /// Reports an error one step below the current position.
    pub(crate) fn error_at(&mut self, segment: Seg<'static>, code: ErrorCode, message: impl Into<String>) {
        self.diag.at(segment, |diag| diag.error(code, message));
    }

    /// Runs `f` one step below the current position.
    pub(crate) fn at<T>(&mut self, segment: Seg<'static>, f: impl FnOnce(&mut Self) -> T) -> T {
        self.diag.push(segment);
        let result = f(self);
        self.diag.pop();
        result
    }

    /// Checks that a key taken from a value can be used as one path segment.
    pub(crate) fn check_key(&mut self, key: &str) -> Option<()> {
        match key_problem(key) {
            None => Some(()),
            Some(problem) => {
                self.error(ErrorCode::InvalidFieldPath, format!("invalid key {key:?}: {problem}"));
                None
            }
        }
    }
}
