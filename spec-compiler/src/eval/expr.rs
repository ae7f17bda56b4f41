//! `$expr`: aggregation expressions inside a filter, as the field-to-field comparisons use
//! them (`{"$expr": {"$gt": ["$a", "$b"]}}`). Aggregation semantics, not query semantics:
//! values compare by the total BSON order across types (no type brackets: `"9" > 5`), a missing
//! field is *missing* (below null, not equal to it), an array is one value (no element-wise
//! matching), and the answer is the truthiness of the result.

use std::borrow::Cow;
use std::cmp::Ordering;

use bson::{Bson, Document};

use super::error::{At, EvalError, EvalErrorCode, Failure, TooDeep};
use super::number::Num;
use super::ops::Cmp;
use super::order::compare_bson;
use super::path::{FieldPath, Resolved, clone_bounded, clone_document, resolve};

/// A parsed aggregation expression.
#[derive(Debug)]
pub(crate) enum Expr {
    /// `"$a.b"`.
    Field(FieldPath),
    /// `"$$ROOT"`, `"$$CURRENT"`.
    Root,
    Literal(Bson),
    Array(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Compare(Cmp, bool, Box<[Expr; 2]>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    /// The body of a `$expr`.
    pub(crate) fn parse_top(value: &Bson, at: &At<'_>) -> Result<Expr, EvalError> {
        Expr::parse(value, at)
    }

    fn parse(value: &Bson, at: &At<'_>) -> Result<Expr, EvalError> {
        at.check_depth()?;
        Ok(match value {
            Bson::String(text) if text.starts_with("$$") => match &text[2..] {
                "ROOT" | "CURRENT" => Expr::Root,
                "NOW" | "CLUSTER_TIME" | "USER_ROLES" | "SEARCH_META" => {
                    return Err(at.error(EvalErrorCode::NeedsServer, format!("{text} is known to the server only")));
                }
                _ => return Err(at.invalid(format!("use of undefined variable: {}", &text[2..]))),
            },
            Bson::String(text) if text.starts_with('$') => {
                let path = &text[1..];
                if path.is_empty() || path.split('.').any(|part| part.is_empty() || part.starts_with('$')) {
                    return Err(at.invalid(format!("invalid field path: {text}")));
                }
                Expr::Field(FieldPath::new(path))
            }
            Bson::Array(items) => Expr::Array(
                items.iter().enumerate().map(|(i, item)| Expr::parse(item, &at.index(i))).collect::<Result<_, _>>()?,
            ),
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| k.starts_with('$')) => operator(doc, at)?,
            Bson::Document(doc) => {
                let mut fields = Vec::with_capacity(doc.len());
                for (key, value) in doc {
                    let at = at.key(key);
                    if key.starts_with('$') || key.contains('.') {
                        return Err(at.invalid(format!("an expression object cannot hold the field name {key}")));
                    }
                    fields.push((key.clone(), Expr::parse(value, &at)?));
                }
                Expr::Object(fields)
            }
            other => Expr::Literal(other.clone()),
        })
    }

    /// Whether the expression's value is truthy for `doc` (the top-level document).
    pub(crate) fn holds(&self, doc: &Document) -> Result<bool, Failure> {
        Ok(truthy(self.evaluate(doc)?.as_deref()))
    }

    /// The value for `doc`; `None` is missing. Values of the document are borrowed, not copied;
    /// a copy (an array built from them, `$$ROOT`) is bounded by MongoDB's nesting limit.
    fn evaluate<'a>(&'a self, doc: &'a Document) -> Result<Option<Cow<'a, Bson>>, Failure> {
        Ok(match self {
            Expr::Field(path) => resolve(doc, path)?.map(|value| match value {
                Resolved::Borrowed(value) => Cow::Borrowed(value),
                Resolved::Built(value) => Cow::Owned(value),
            }),
            Expr::Root => Some(Cow::Owned(Bson::Document(clone_document(doc, 1)?))),
            Expr::Literal(value) => Some(Cow::Borrowed(value)),
            // A missing value inside an array keeps its place as `undefined`, which sorts with
            // missing.
            Expr::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(match item.evaluate(doc)? {
                        Some(value) => owned(value)?,
                        None => Bson::Undefined,
                    });
                }
                Some(Cow::Owned(Bson::Array(out)))
            }
            Expr::Object(fields) => {
                let mut out = Document::new();
                for (key, item) in fields {
                    if let Some(value) = item.evaluate(doc)? {
                        out.insert(key.clone(), owned(value)?);
                    }
                }
                Some(Cow::Owned(Bson::Document(out)))
            }
            Expr::Compare(op, negated, operands) => {
                let [left, right] = &**operands;
                let (left, right) = (left.evaluate(doc)?, right.evaluate(doc)?);
                let order = compare_bson(left.as_deref(), right.as_deref(), 1)?;
                let holds = match op {
                    Cmp::Eq => order == Ordering::Equal,
                    Cmp::Lt => order == Ordering::Less,
                    Cmp::Lte => order != Ordering::Greater,
                    Cmp::Gt => order == Ordering::Greater,
                    Cmp::Gte => order != Ordering::Less,
                };
                Some(Cow::Owned(Bson::Boolean(holds != *negated)))
            }
            Expr::And(items) => {
                let mut holds = true;
                for item in items {
                    if !item.holds(doc)? {
                        holds = false;
                        break;
                    }
                }
                Some(Cow::Owned(Bson::Boolean(holds)))
            }
            Expr::Or(items) => {
                let mut holds = false;
                for item in items {
                    if item.holds(doc)? {
                        holds = true;
                        break;
                    }
                }
                Some(Cow::Owned(Bson::Boolean(holds)))
            }
            Expr::Not(inner) => Some(Cow::Owned(Bson::Boolean(!inner.holds(doc)?))),
        })
    }
}

/// An evaluated value as an owned one: a value of the document is copied, within MongoDB's
/// nesting limit (it lands one level down, in an array or object the expression builds).
fn owned(value: Cow<'_, Bson>) -> Result<Bson, TooDeep> {
    match value {
        Cow::Owned(value) => Ok(value),
        Cow::Borrowed(value) => clone_bounded(value, 2),
    }
}

/// `{$op: args}`: one key, an operator this evaluator implements.
fn operator(doc: &Document, at: &At<'_>) -> Result<Expr, EvalError> {
    if doc.len() != 1 {
        return Err(at.invalid("an object representing an expression must have exactly one field"));
    }
    let (key, args) = doc.iter().next().unwrap();
    let at = at.key(key);
    let operands = |at: &At<'_>| -> Result<Vec<Expr>, EvalError> {
        match args {
            Bson::Array(items) => items.iter().enumerate().map(|(i, item)| Expr::parse(item, &at.index(i))).collect(),
            single => Ok(vec![Expr::parse(single, at)?]),
        }
    };
    let comparison = |op: Cmp, negated: bool| -> Result<Expr, EvalError> {
        let operands: [Expr; 2] =
            operands(&at)?.try_into().map_err(|_| at.invalid(format!("expression {key} takes exactly 2 arguments")))?;
        Ok(Expr::Compare(op, negated, Box::new(operands)))
    };
    Ok(match key.as_str() {
        "$eq" => comparison(Cmp::Eq, false)?,
        "$ne" => comparison(Cmp::Eq, true)?,
        "$gt" => comparison(Cmp::Gt, false)?,
        "$gte" => comparison(Cmp::Gte, false)?,
        "$lt" => comparison(Cmp::Lt, false)?,
        "$lte" => comparison(Cmp::Lte, false)?,
        "$and" => Expr::And(operands(&at)?),
        "$or" => Expr::Or(operands(&at)?),
        "$not" => {
            let [inner]: [Expr; 1] =
                operands(&at)?.try_into().map_err(|_| at.invalid("expression $not takes exactly 1 argument"))?;
            Expr::Not(Box::new(inner))
        }
        "$literal" => Expr::Literal(args.clone()),
        other => {
            return Err(
                at.error(EvalErrorCode::UnknownOperator, format!("the expression {other} is not evaluated in memory"))
            );
        }
    })
}

/// The aggregation's truthiness: missing, null, undefined, false and numeric zero are false.
fn truthy(value: Option<&Bson>) -> bool {
    match value {
        None | Some(Bson::Null | Bson::Undefined | Bson::Boolean(false)) => false,
        Some(number @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => {
            Num::of(number).is_some_and(|n| !n.is_zero())
        }
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use bson::{bson, doc};

    use super::*;

    fn holds(expr: Bson, doc: &Document) -> bool {
        Expr::parse_top(&expr, &At::Root).unwrap().holds(doc).unwrap()
    }

    #[test]
    fn fields_compare_by_the_total_order_without_brackets() {
        let d = doc! {"a": 5, "b": "3", "c": 5.0, "n": null};
        assert!(holds(bson!({"$gt": ["$b", "$a"]}), &d)); // a string is above every number
        assert!(holds(bson!({"$eq": ["$a", "$c"]}), &d));
        assert!(holds(bson!({"$gt": ["$a", "$n"]}), &d));
        assert!(!holds(bson!({"$gt": ["$a", "$b"]}), &d));
    }

    #[test]
    fn a_missing_field_is_not_null() {
        let d = doc! {"n": null};
        assert!(!holds(bson!({"$eq": ["$x", "$n"]}), &d));
        assert!(holds(bson!({"$lt": ["$x", "$n"]}), &d));
        assert!(holds(bson!({"$eq": ["$x", "$y"]}), &d)); // two missing fields are equal
        assert!(holds(bson!({"$ne": ["$x", null]}), &d));
    }

    #[test]
    fn arrays_are_single_values() {
        let d = doc! {"tags": [1, 9], "limit": 5, "items": [{"q": 1}, {"q": 2}]};
        assert!(!holds(bson!({"$gt": ["$tags", [9]]}), &d));
        assert!(holds(bson!({"$gt": ["$tags", "$limit"]}), &d)); // an array is above every number
        assert!(holds(bson!({"$eq": ["$items.q", [1, 2]]}), &d));
    }

    #[test]
    fn logic_truthiness_and_refusals() {
        let d = doc! {"a": 0, "b": "", "c": []};
        assert!(!holds(bson!("$a"), &d) && holds(bson!("$b"), &d) && holds(bson!("$c"), &d));
        assert!(holds(bson!({"$and": [{"$eq": ["$a", 0]}, {"$not": ["$a"]}]}), &d));
        assert!(holds(bson!({"$or": [false, {"$literal": "$a"}]}), &d));
        let err = |e: Bson| Expr::parse_top(&e, &At::Root).unwrap_err().code();
        assert_eq!(err(bson!({"$add": [1, 2]})), EvalErrorCode::UnknownOperator);
        assert_eq!(err(bson!({"$eq": [1]})), EvalErrorCode::InvalidFilter);
        assert_eq!(err(bson!("$$NOW")), EvalErrorCode::NeedsServer);
    }
}
