//! The query operators of one field (`{f: {$gt: 1, $lt: 5}}`), parsed once into predicates on
//! one value (MongoDB's `matchesSingleElement`), and how a predicate meets a path: any value the
//! path yields may satisfy it; the negations (`$ne`, `$nin`, `$not`) negate that whole answer.

use std::cmp::Ordering;

use bson::Bson;

use super::error::{At, EvalError, EvalErrorCode, Failure, deeper};
use super::filter::Node;
use super::geo::Geo;
use super::number::{self, Num};
use super::order::{bracket, compare, compare_bson};
use super::path::{AtArray, FieldPath, Obj, visit};
use super::regex::Regex;
use super::value::{ArrRef, Val};

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
    Cmp(Cmp, Operand),
    In(InList),
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

/// The operand of `$in`: values compared for equality, regexes matched, null also meeting
/// missing and undefined.
#[derive(Debug)]
pub(crate) struct InList {
    /// The values that are neither documents nor arrays, sorted by MongoDB's order: equality
    /// within a bracket is that order's, so a binary search finds an equal value (a number
    /// equals the numbers of the same value of every type, which sort together).
    scalars: Vec<Bson>,
    /// Documents and arrays, compared one by one.
    nested: Vec<Bson>,
    regexes: Vec<Regex>,
    has_null: bool,
}

impl InList {
    /// The list of `values` (no regex among them) and `regexes`.
    pub(crate) fn new(values: impl Iterator<Item = Bson>, regexes: Vec<Regex>) -> InList {
        let (mut scalars, mut nested, mut has_null) = (Vec::new(), Vec::new(), false);
        for value in values {
            has_null |= matches!(value, Bson::Null);
            match value {
                Bson::Document(_) | Bson::Array(_) => nested.push(value),
                scalar => scalars.push(scalar),
            }
        }
        // Scalars compare without recursing: the comparison cannot fail.
        scalars.sort_by(|a, b| compare_bson(Some(a), Some(b), 1).unwrap_or(Ordering::Equal));
        InList { scalars, nested, regexes, has_null }
    }

    fn holds(&self, value: Option<Val<'_>>, level: usize) -> Result<bool, Failure> {
        if self.has_null && matches!(value, None | Some(Val::Undefined)) {
            return Ok(true);
        }
        match value {
            Some(Val::Doc(_) | Val::Arr(_)) => {
                for v in &self.nested {
                    if compare(value, Some(Val::of(v)), level)?.is_eq() {
                        return Ok(true);
                    }
                }
            }
            Some(scalar) if !self.scalars.is_empty() => {
                let (mut low, mut high) = (0, self.scalars.len());
                while low < high {
                    let mid = low + (high - low) / 2;
                    match compare(Some(Val::of(&self.scalars[mid])), Some(scalar), level)? {
                        Ordering::Less => low = mid + 1,
                        Ordering::Greater => high = mid,
                        Ordering::Equal => return Ok(true),
                    }
                }
            }
            _ => {}
        }
        any(&self.regexes, |r| regex_matches(r, value))
    }
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

    /// Whether the predicate holds for the field at `path` of `obj` (at `level`).
    pub(crate) fn on_path(&self, obj: Obj<'_>, level: usize, path: &FieldPath) -> Result<bool, Failure> {
        match self {
            Pred::Not(preds) => Ok(!all(preds, |p| p.on_path(obj, level, path))?),
            Pred::All(preds) => all(preds, |p| p.on_path(obj, level, path)),
            Pred::Never => Ok(false),
            _ => visit(obj, level, path, self.at_array(), |value, level| self.on_value(value, level)),
        }
    }

    /// Whether the predicate holds for one value (whose level, were it a document or an array,
    /// is `level`).
    pub(crate) fn on_value(&self, value: Option<Val<'_>>, level: usize) -> Result<bool, Failure> {
        Ok(match self {
            Pred::Cmp(op, rhs) => compares(*op, value, rhs, level)?,
            Pred::In(list) => list.holds(value, level)?,
            Pred::Exists => value.is_some(),
            Pred::Type(codes) => value.is_some_and(|v| {
                let code = type_code(v);
                codes.iter().any(|&c| c == code || (c == NUMBER && (matches!(code, 1 | 16 | 18 | 19))))
            }),
            Pred::Size(n) => match value {
                Some(Val::Arr(items)) => items.len()? as i64 == *n,
                _ => false,
            },
            Pred::Regex(regex) => regex_matches(regex, value)?,
            Pred::ElemMatchValue(preds) => match value {
                Some(Val::Arr(items)) => any_element(items, |item| all(preds, |p| p.on_value(Some(item), level + 1)))?,
                _ => false,
            },
            Pred::ElemMatchObject(node) => match value {
                Some(Val::Arr(items)) => any_element(items, |item| match item {
                    Val::Doc(inner) => node.matches(Obj::Doc(inner), deeper(level)?),
                    Val::Arr(inner) => node.matches(Obj::Arr(inner), deeper(level)?),
                    _ => Ok(false),
                })?,
                _ => false,
            },
            Pred::Geo(geo) => geo.matches(value, level)?,
            Pred::Not(preds) => !all(preds, |p| p.on_value(value, level))?,
            Pred::All(preds) => all(preds, |p| p.on_value(value, level))?,
            Pred::Never => false,
        })
    }
}

/// The operand of a comparison, with what every comparison needs of it worked out once.
#[derive(Debug)]
pub(crate) struct Operand {
    value: Bson,
    bracket: i32,
    /// The value of a numeric operand.
    number: Option<Num>,
}

impl Operand {
    pub(crate) fn new(value: Bson) -> Operand {
        Operand { bracket: bracket(Some(Val::of(&value))), number: Num::of(&value), value }
    }
}

/// MongoDB's comparison of a value with an operand: across brackets only null meets missing
/// (and undefined), and MinKey/MaxKey bound everything; NaN equals only NaN.
fn compares(op: Cmp, value: Option<Val<'_>>, rhs: &Operand, level: usize) -> Result<bool, Failure> {
    let left = bracket(value);
    if left != rhs.bracket {
        if left + rhs.bracket == 5 {
            return Ok(matches!(op, Cmp::Eq | Cmp::Lte | Cmp::Gte));
        }
        return Ok(matches!((&rhs.value, op), (Bson::MaxKey, Cmp::Lt | Cmp::Lte) | (Bson::MinKey, Cmp::Gt | Cmp::Gte)));
    }
    let order = match (rhs.number, value.and_then(Num::of_val)) {
        (Some(right), Some(left)) => {
            if left.is_nan() || right.is_nan() {
                return Ok(left.is_nan() && right.is_nan() && matches!(op, Cmp::Eq | Cmp::Lte | Cmp::Gte));
            }
            number::compare(left, right)
        }
        _ => compare(value, Some(Val::of(&rhs.value)), level)?,
    };
    Ok(match op {
        Cmp::Eq => order == Ordering::Equal,
        Cmp::Lt => order == Ordering::Less,
        Cmp::Lte => order != Ordering::Greater,
        Cmp::Gt => order == Ordering::Greater,
        Cmp::Gte => order != Ordering::Less,
    })
}

/// A regex meets strings and symbols by matching, a stored regex by equality.
fn regex_matches(regex: &Regex, value: Option<Val<'_>>) -> Result<bool, Failure> {
    match value {
        Some(Val::Str(text) | Val::Symbol(text)) => Ok(regex.is_match(text)?),
        Some(Val::Regex(pattern, options)) => Ok(regex.equals(pattern, options)),
        _ => Ok(false),
    }
}

fn any<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, Failure>) -> Result<bool, Failure> {
    for item in items {
        if f(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `f` holds for some element of `items` (an element that does not decode fails).
fn any_element<'a>(items: ArrRef<'a>, mut f: impl FnMut(Val<'a>) -> Result<bool, Failure>) -> Result<bool, Failure> {
    for item in items.iter() {
        if f(item?)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn all<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, Failure>) -> Result<bool, Failure> {
    Ok(!any(items, |item| Ok(!f(item)?))?)
}

/// The BSON type number of a value, as `$type` names it.
fn type_code(value: Val<'_>) -> i32 {
    match value {
        Val::Double(_) => 1,
        Val::Str(_) => 2,
        Val::Doc(_) => 3,
        Val::Arr(_) => 4,
        Val::Binary(..) => 5,
        Val::Undefined => 6,
        Val::ObjectId(_) => 7,
        Val::Bool(_) => 8,
        Val::Date(_) => 9,
        Val::Null => 10,
        Val::Regex(..) => 11,
        Val::DbPointer(_) => 12,
        Val::JsCode(_) => 13,
        Val::Symbol(_) => 14,
        Val::CodeWithScope(..) => 15,
        Val::Int32(_) => 16,
        Val::Timestamp(_) => 17,
        Val::Int64(_) => 18,
        Val::Decimal(_) => 19,
        Val::MinKey => -1,
        Val::MaxKey => 127,
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
    use crate::eval::value::DocRef;

    fn cmp(op: Cmp, value: Option<Bson>, rhs: Bson) -> bool {
        compares(op, value.as_ref().map(Val::of), &Operand::new(rhs), 2).unwrap()
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
        assert!(Pred::Size(2).on_path(Obj::Doc(DocRef::Owned(&doc)), 1, &path).unwrap());
        assert!(!Pred::Size(1).on_path(Obj::Doc(DocRef::Owned(&doc)), 1, &path).unwrap()); // the nested [1, 2] is not looked at
        let gt2 = Pred::ElemMatchValue(vec![Pred::Cmp(Cmp::Gt, Operand::new(Bson::Int32(2)))]);
        assert!(gt2.on_path(Obj::Doc(DocRef::Owned(&doc)), 1, &path).unwrap());
        assert!(!gt2.on_path(Obj::Doc(DocRef::Owned(&doc)), 1, &FieldPath::new("s")).unwrap()); // a scalar is no array
        let eq_pair = Pred::ElemMatchValue(vec![Pred::Cmp(Cmp::Eq, Operand::new(bson!([1, 2])))]);
        assert!(eq_pair.on_path(Obj::Doc(DocRef::Owned(&doc)), 1, &path).unwrap());
    }

    #[test]
    fn in_finds_equal_scalars_of_every_numeric_type_by_binary_search() {
        let dec = |t: &str| Bson::Decimal128(Decimal128::from_str(t).unwrap());
        let list = InList::new(
            [Bson::Int32(1), "a".into(), Bson::Double(2.5), dec("3.00"), Bson::Null, true.into(), bson!([1])]
                .into_iter(),
            Vec::new(),
        );
        let holds = |value: Option<Bson>| list.holds(value.as_ref().map(Val::of), 2).unwrap();
        assert!(holds(Some(Bson::Int64(3))) && holds(Some(Bson::Double(1.0))) && holds(Some(dec("2.50"))));
        assert!(holds(Some("a".into())) && holds(Some(Bson::Symbol("a".into()))) && holds(Some(true.into())));
        assert!(holds(None) && holds(Some(Bson::Undefined)) && holds(Some(Bson::Null)));
        assert!(holds(Some(bson!([1]))) && !holds(Some(bson!([2]))));
        assert!(!holds(Some("1".into())) && !holds(Some(false.into())) && !holds(Some(Bson::Int32(2))));
    }

    proptest::proptest! {
        /// The sorted search answers as comparing with every value would.
        #[test]
        fn in_agrees_with_a_linear_scan(
            values in proptest::collection::vec(scalar(), 0..12),
            probes in proptest::collection::vec(scalar(), 1..12),
        ) {
            let list = InList::new(values.clone().into_iter(), Vec::new());
            for probe in probes {
                let linear = (values.contains(&Bson::Null) && matches!(probe, Bson::Undefined))
                    || values.iter().any(|v| compare_bson(Some(&probe), Some(v), 2).unwrap().is_eq());
                proptest::prop_assert_eq!(list.holds(Some(Val::of(&probe)), 2).unwrap(), linear, "{:?} in {:?}", probe, values);
            }
        }
    }

    fn scalar() -> impl proptest::strategy::Strategy<Value = Bson> {
        use proptest::prelude::*;
        prop_oneof![
            (-3i32..4).prop_map(Bson::Int32),
            (-3i64..4).prop_map(Bson::Int64),
            prop::sample::select(vec![-1.5, -0.0, 0.0, 0.5, 1.0, 2.0, f64::NAN, f64::INFINITY]).prop_map(Bson::Double),
            prop::sample::select(vec!["0", "-0", "1.0", "1E+0", "0.5", "2", "NaN", "-Infinity"])
                .prop_map(|t| Bson::Decimal128(Decimal128::from_str(t).unwrap())),
            prop::sample::select(vec!["", "a", "b", "ab"]).prop_map(|s| Bson::String(s.into())),
            any::<bool>().prop_map(Bson::Boolean),
            Just(Bson::Null),
            Just(Bson::MinKey),
            Just(Bson::MaxKey),
            (0i64..3).prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
        ]
    }

    #[test]
    fn type_codes_and_number_alias() {
        let at = At::Root;
        assert_eq!(parse_type(&"number".into(), &at).unwrap(), vec![NUMBER]);
        let number = Pred::Type(vec![NUMBER]);
        assert!(number.on_value(Some(Val::Int64(1)), 2).unwrap() && !number.on_value(Some(Val::Str("1")), 2).unwrap());
        assert!(!Pred::Type(vec![10]).on_value(None, 2).unwrap()); // missing is no null
        assert!(parse_type(&"nope".into(), &at).is_err() && parse_type(&Bson::Int32(42), &at).is_err());
        assert_eq!(parse_size(&Bson::Double(2.0), &at).unwrap(), 2);
        assert!(parse_size(&Bson::Double(2.5), &at).is_err() && parse_size(&Bson::Int32(-1), &at).is_err());
    }
}
