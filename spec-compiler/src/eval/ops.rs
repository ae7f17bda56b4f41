//! The query operators of one field (`{f: {$gt: 1, $lt: 5}}`), parsed once into predicates on
//! one value (MongoDB's `matchesSingleElement`), and how a predicate meets a path: any value the
//! path yields may satisfy it; the negations (`$ne`, `$nin`, `$not`) negate that whole answer.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::error::{At, EvalError, EvalErrorCode};
use super::filter::Node;
use super::geo::Geo;
use super::order::{bracket, compare, is_nan};
use super::path::{AtArray, FieldPath, visit};
use super::regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A predicate on one value (`None`: the field is missing).
#[derive(Debug)]
pub(crate) enum Pred {
    Cmp(Cmp, Bson),
    In {
        values: Vec<Bson>,
        regexes: Vec<Regex>,
        has_null: bool,
    },
    Exists,
    Type(Vec<i32>),
    Size(i64),
    Regex(Regex),
    ElemMatchValue(Vec<Pred>),
    ElemMatchObject(Box<Node>),
    Geo(Box<Geo>),
    /// True unless every predicate holds: `$ne`, `$nin`, `$not`, `$exists: false`.
    Not(Vec<Pred>),
    /// Every predicate holds, each on its own (`$all`: one element may meet one value, another
    /// the next).
    All(Vec<Pred>),
    /// `$all: []`.
    Never,
}

/// The `$type` alias `number`: every numeric type.
const NUMBER: i32 = 1000;

impl Pred {
    fn at_array(&self) -> AtArray {
        match self {
            Pred::Size(_) | Pred::ElemMatchValue(_) | Pred::ElemMatchObject(_) => AtArray::Whole,
            _ => AtArray::Traverse,
        }
    }

    /// Whether the predicate holds for the field at `path` of `doc`.
    pub(crate) fn on_path(&self, doc: &Document, path: &FieldPath) -> Result<bool, EvalError> {
        match self {
            Pred::Not(preds) => Ok(!all(preds, |p| p.on_path(doc, path))?),
            Pred::All(preds) => all(preds, |p| p.on_path(doc, path)),
            Pred::Never => Ok(false),
            _ => visit(doc, path, self.at_array(), &mut |value| self.on_value(value)),
        }
    }

    /// Whether the predicate holds for one value.
    pub(crate) fn on_value(&self, value: Option<&Bson>) -> Result<bool, EvalError> {
        Ok(match self {
            Pred::Cmp(op, rhs) => compares(*op, value, rhs),
            Pred::In { values, regexes, has_null } => {
                (*has_null && matches!(value, None | Some(Bson::Undefined)))
                    || values.iter().any(|v| bracket(value) == bracket(Some(v)) && compare(value, Some(v)).is_eq())
                    || any(regexes, |r| regex_matches(r, value))?
            }
            Pred::Exists => value.is_some(),
            Pred::Type(codes) => value.is_some_and(|v| {
                let code = type_code(v);
                codes.iter().any(|&c| c == code || (c == NUMBER && (matches!(code, 1 | 16 | 18 | 19))))
            }),
            Pred::Size(n) => matches!(value, Some(Bson::Array(items)) if items.len() as i64 == *n),
            Pred::Regex(regex) => regex_matches(regex, value)?,
            Pred::ElemMatchValue(preds) => match value {
                Some(Bson::Array(items)) => any(items, |item| all(preds, |p| p.on_value(Some(item))))?,
                _ => false,
            },
            Pred::ElemMatchObject(node) => match value {
                Some(Bson::Array(items)) => any(items, |item| match item {
                    Bson::Document(inner) => node.matches(inner),
                    Bson::Array(inner) => node.matches(&array_as_document(inner)),
                    _ => Ok(false),
                })?,
                _ => false,
            },
            Pred::Geo(geo) => geo.matches(value)?,
            Pred::Not(preds) => !all(preds, |p| p.on_value(value))?,
            Pred::All(preds) => all(preds, |p| p.on_value(value))?,
            Pred::Never => false,
        })
    }
}

/// MongoDB's comparison of a value with an operand: across brackets only null meets missing
/// (and undefined), and MinKey/MaxKey bound everything; NaN equals only NaN.
fn compares(op: Cmp, value: Option<&Bson>, rhs: &Bson) -> bool {
    let (left, right) = (bracket(value), bracket(Some(rhs)));
    if left != right {
        if left + right == 5 {
            return matches!(op, Cmp::Eq | Cmp::Lte | Cmp::Gte);
        }
        return matches!((rhs, op), (Bson::MaxKey, Cmp::Lt | Cmp::Lte) | (Bson::MinKey, Cmp::Gt | Cmp::Gte));
    }
    if is_nan(value) || is_nan(Some(rhs)) {
        let both = is_nan(value) && is_nan(Some(rhs));
        return both && matches!(op, Cmp::Eq | Cmp::Lte | Cmp::Gte);
    }
    let order = compare(value, Some(rhs));
    match op {
        Cmp::Eq => order == Ordering::Equal,
        Cmp::Lt => order == Ordering::Less,
        Cmp::Lte => order != Ordering::Greater,
        Cmp::Gt => order == Ordering::Greater,
        Cmp::Gte => order != Ordering::Less,
    }
}

/// A regex meets strings and symbols by matching, a stored regex by equality.
fn regex_matches(regex: &Regex, value: Option<&Bson>) -> Result<bool, EvalError> {
    match value {
        Some(Bson::String(text) | Bson::Symbol(text)) => regex.is_match(text),
        Some(Bson::RegularExpression(stored)) => Ok(regex.equals(stored)),
        _ => Ok(false),
    }
}

fn any<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<bool, EvalError> {
    for item in items {
        if f(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn all<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<bool, EvalError> {
    Ok(!any(items, |item| Ok(!f(item)?))?)
}

/// An array seen as the document `{"0": …, "1": …}` (what `$elemMatch` sees in a nested array).
fn array_as_document(items: &[Bson]) -> Document {
    items.iter().enumerate().map(|(i, item)| (i.to_string(), item.clone())).collect()
}

/// The BSON type number of a value, as `$type` names it.
fn type_code(value: &Bson) -> i32 {
    match value {
        Bson::Double(_) => 1,
        Bson::String(_) => 2,
        Bson::Document(_) => 3,
        Bson::Array(_) => 4,
        Bson::Binary(_) => 5,
        Bson::Undefined => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Null => 10,
        Bson::RegularExpression(_) => 11,
        Bson::DbPointer(_) => 12,
        Bson::JavaScriptCode(_) => 13,
        Bson::Symbol(_) => 14,
        Bson::JavaScriptCodeWithScope(_) => 15,
        Bson::Int32(_) => 16,
        Bson::Timestamp(_) => 17,
        Bson::Int64(_) => 18,
        Bson::Decimal128(_) => 19,
        Bson::MinKey => -1,
        Bson::MaxKey => 127,
    }
}

/// The type numbers a `$type` operand names (an alias, a number, or a list of them).
pub(crate) fn parse_type(operand: &Bson, at: &At<'_>) -> Result<Vec<i32>, EvalError> {
    let one = |value: &Bson| -> Result<i32, EvalError> {
        let code = match value {
            Bson::String(alias) => match alias.as_str() {
                "double" => 1,
                "string" => 2,
                "object" => 3,
                "array" => 4,
                "binData" => 5,
                "undefined" => 6,
                "objectId" => 7,
                "bool" => 8,
                "date" => 9,
                "null" => 10,
                "regex" => 11,
                "dbPointer" => 12,
                "javascript" => 13,
                "symbol" => 14,
                "javascriptWithScope" => 15,
                "int" => 16,
                "timestamp" => 17,
                "long" => 18,
                "decimal" => 19,
                "minKey" => -1,
                "maxKey" => 127,
                "number" => NUMBER,
                other => return Err(at.invalid(format!("unknown type name alias: {other}"))),
            },
            Bson::Int32(n) => *n,
            Bson::Int64(n) => i32::try_from(*n).map_err(|_| at.invalid("invalid numerical type code"))?,
            Bson::Double(d) if d.fract() == 0.0 && d.abs() < 1e9 => *d as i32,
            _ => return Err(at.invalid("type must be represented as a number or a string")),
        };
        if matches!(code, -1 | 1..=19 | 127 | NUMBER) {
            Ok(code)
        } else {
            Err(at.invalid(format!("invalid numerical type code: {code}")))
        }
    };
    match operand {
        Bson::Array(items) if items.is_empty() => Err(at.invalid("$type needs at least one type")),
        Bson::Array(items) => items.iter().map(one).collect(),
        single => Ok(vec![one(single)?]),
    }
}

/// `$size`: a whole number that fits 32 bits, not negative.
pub(crate) fn parse_size(operand: &Bson, at: &At<'_>) -> Result<i64, EvalError> {
    let size = match operand {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) if i32::try_from(*n).is_ok() => *n,
        Bson::Double(d) if d.fract() == 0.0 && d.abs() <= f64::from(i32::MAX) => *d as i64,
        Bson::Int64(_) | Bson::Double(_) => return Err(at.invalid("$size must be a whole number that fits 32 bits")),
        _ => return Err(at.invalid("$size needs a number")),
    };
    if size < 0 {
        return Err(at.invalid("$size may not be negative"));
    }
    Ok(size)
}

/// Refuses operand values the server refuses or that cannot be compared here.
pub(crate) fn check_operand(value: &Bson, at: &At<'_>) -> Result<(), EvalError> {
    match value {
        Bson::Undefined => Err(at.invalid("cannot compare to undefined")),
        Bson::DbPointer(_) => {
            Err(at.error(EvalErrorCode::NeedsServer, "DBPointer values are compared by the server only"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use bson::{Decimal128, bson};

    use super::*;

    fn cmp(op: Cmp, value: Option<Bson>, rhs: Bson) -> bool {
        compares(op, value.as_ref(), &rhs)
    }

    #[test]
    fn type_brackets_keep_numbers_and_strings_apart() {
        assert!(!cmp(Cmp::Gt, Some("9".into()), Bson::Int32(5)));
        assert!(!cmp(Cmp::Lt, Some(Bson::Int32(1)), "5".into()));
        assert!(cmp(Cmp::Gt, Some("b".into()), "a".into()));
        assert!(!cmp(Cmp::Gte, Some(Bson::Boolean(true)), Bson::Int32(0)));
        assert!(!cmp(Cmp::Lt, Some(Bson::MinKey), Bson::Int32(0))); // MinKey is its own bracket
        assert!(cmp(Cmp::Lt, Some("x".into()), Bson::MaxKey));
        assert!(cmp(Cmp::Gt, None, Bson::MinKey));
    }

    #[test]
    fn null_meets_missing_and_undefined_but_not_order() {
        assert!(cmp(Cmp::Eq, None, Bson::Null));
        assert!(cmp(Cmp::Eq, Some(Bson::Undefined), Bson::Null));
        assert!(cmp(Cmp::Gte, None, Bson::Null) && cmp(Cmp::Lte, None, Bson::Null));
        assert!(!cmp(Cmp::Lt, None, Bson::Null) && !cmp(Cmp::Gt, Some(Bson::Null), Bson::Null));
        assert!(!cmp(Cmp::Eq, Some(Bson::Int32(0)), Bson::Null));
    }

    #[test]
    fn numbers_compare_by_value_and_nan_only_equals_nan() {
        let dec = |t: &str| Bson::Decimal128(Decimal128::from_str(t).unwrap());
        assert!(cmp(Cmp::Eq, Some(dec("1000.00")), Bson::Int32(1000)));
        assert!(cmp(Cmp::Gt, Some(dec("9.99")), Bson::Double(9.98)));
        assert!(cmp(Cmp::Lt, Some(dec("9.99")), Bson::Double(9.99))); // the double is 9.9900000000000002…
        assert!(cmp(Cmp::Eq, Some(Bson::Double(f64::NAN)), dec("NaN")));
        assert!(!cmp(Cmp::Lt, Some(Bson::Double(f64::NAN)), Bson::Int32(0)));
        assert!(!cmp(Cmp::Gt, Some(Bson::Int32(0)), Bson::Double(f64::NAN)));
        assert!(cmp(Cmp::Gte, Some(Bson::Double(f64::NAN)), Bson::Double(f64::NAN)));
    }

    #[test]
    fn size_and_elem_match_see_the_whole_array() {
        let doc = bson::doc! {"a": [[1, 2], 3], "s": 5};
        let path = FieldPath::new("a");
        assert!(Pred::Size(2).on_path(&doc, &path).unwrap());
        assert!(!Pred::Size(1).on_path(&doc, &path).unwrap()); // the nested [1, 2] is not looked at
        let gt2 = Pred::ElemMatchValue(vec![Pred::Cmp(Cmp::Gt, Bson::Int32(2))]);
        assert!(gt2.on_path(&doc, &path).unwrap());
        assert!(!gt2.on_path(&doc, &FieldPath::new("s")).unwrap()); // a scalar is no array
        let eq_pair = Pred::ElemMatchValue(vec![Pred::Cmp(Cmp::Eq, bson!([1, 2]))]);
        assert!(eq_pair.on_path(&doc, &path).unwrap());
    }

    #[test]
    fn type_codes_and_number_alias() {
        let at = At::Root;
        assert_eq!(parse_type(&"number".into(), &at).unwrap(), vec![NUMBER]);
        let number = Pred::Type(vec![NUMBER]);
        assert!(number.on_value(Some(&Bson::Int64(1))).unwrap() && !number.on_value(Some(&"1".into())).unwrap());
        assert!(!Pred::Type(vec![10]).on_value(None).unwrap()); // missing is no null
        assert!(parse_type(&"nope".into(), &at).is_err() && parse_type(&Bson::Int32(42), &at).is_err());
        assert_eq!(parse_size(&Bson::Double(2.0), &at).unwrap(), 2);
        assert!(parse_size(&Bson::Double(2.5), &at).is_err() && parse_size(&Bson::Int32(-1), &at).is_err());
    }
}
