//! MongoDB's order of BSON values: the canonical type brackets (MinKey < missing/undefined <
//! null < numbers < strings < objects < arrays < binary < ObjectId < booleans < dates <
//! timestamps < regexes < … < MaxKey), and the order of the values inside a bracket.
//!
//! A value is an `Option<Val>`: `None` is a missing field (the matcher's end-of-object
//! element, the aggregation's missing value), which shares its bracket with `undefined`.

use std::cmp::Ordering;

use bson::Bson;

use super::error::{Failure, within};
use super::number::{self, Num};
use super::value::{ArrRef, DocRef, Val};

/// The canonical type bracket of a value (MongoDB's `canonicalizeBSONType`).
pub(crate) fn bracket(value: Option<Val<'_>>) -> i32 {
    let Some(value) = value else { return 0 };
    match value {
        Val::MinKey => -1,
        Val::Undefined => 0,
        Val::Null => 5,
        Val::Double(_) | Val::Int32(_) | Val::Int64(_) | Val::Decimal(_) => 10,
        Val::Str(_) | Val::Symbol(_) => 15,
        Val::Doc(_) => 20,
        Val::Arr(_) => 25,
        Val::Binary(..) => 30,
        Val::ObjectId(_) => 35,
        Val::Bool(_) => 40,
        Val::Date(_) => 45,
        Val::Timestamp(_) => 47,
        Val::Regex(..) => 50,
        Val::DbPointer(_) => 55,
        Val::JsCode(_) => 60,
        Val::CodeWithScope(..) => 65,
        Val::MaxKey => 127,
    }
}

/// The total order of values (MongoDB's `compareElements` after the brackets): brackets first,
/// then the values inside the bracket. `level` is the level `a` and `b` have were they documents
/// or arrays (the top-level document is level 1): the comparison refuses to go past MongoDB's
/// nesting limit.
pub(crate) fn compare(a: Option<Val<'_>>, b: Option<Val<'_>>, level: usize) -> Result<Ordering, Failure> {
    let (ba, bb) = (bracket(a), bracket(b));
    if ba != bb {
        return Ok(ba.cmp(&bb));
    }
    let (Some(a), Some(b)) = (a, b) else { return Ok(Ordering::Equal) };
    compare_in_bracket(a, b, level)
}

/// [`compare`] of two values of a `bson::Document`.
pub(crate) fn compare_bson(a: Option<&Bson>, b: Option<&Bson>, level: usize) -> Result<Ordering, Failure> {
    compare(a.map(Val::of), b.map(Val::of), level)
}

/// Two values of the same bracket.
fn compare_in_bracket(a: Val<'_>, b: Val<'_>, level: usize) -> Result<Ordering, Failure> {
    if let (Val::Str(x) | Val::Symbol(x), Val::Str(y) | Val::Symbol(y)) = (a, b) {
        return Ok(x.as_bytes().cmp(y.as_bytes()));
    }
    if let (Some(x), Some(y)) = (Num::of_val(a), Num::of_val(b)) {
        return Ok(number::compare(x, y));
    }
    Ok(match (a, b) {
        (Val::Doc(x), Val::Doc(y)) => compare_documents(x, y, level)?,
        (Val::Arr(x), Val::Arr(y)) => compare_arrays(x, y, level)?,
        (Val::Binary(xs, x), Val::Binary(ys, y)) => {
            x.len().cmp(&y.len()).then_with(|| xs.cmp(&ys)).then_with(|| x.cmp(y))
        }
        (Val::ObjectId(x), Val::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(&y),
        (Val::Date(x), Val::Date(y)) => x.cmp(&y),
        (Val::Timestamp(x), Val::Timestamp(y)) => (x.time, x.increment).cmp(&(y.time, y.increment)),
        (Val::Regex(xp, xo), Val::Regex(yp, yo)) => {
            xp.as_bytes().cmp(yp.as_bytes()).then_with(|| xo.as_bytes().cmp(yo.as_bytes()))
        }
        (Val::JsCode(x), Val::JsCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Val::CodeWithScope(xc, xs), Val::CodeWithScope(yc, ys)) => match xc.as_bytes().cmp(yc.as_bytes()) {
            Ordering::Equal => compare_documents(xs, ys, level)?,
            order => order,
        },
        // Null, undefined, MinKey, MaxKey: one value per bracket. DBPointer values are refused in
        // filters, so two of them meet only in `$expr` over two fields.
        _ => Ordering::Equal,
    })
}

/// Documents (at `level`) field by field, in order: each pair by bracket, then field name, then
/// value; a document that runs out first is smaller.
pub(crate) fn compare_documents(a: DocRef<'_>, b: DocRef<'_>, level: usize) -> Result<Ordering, Failure> {
    within(level)?;
    in_pairs(a.iter(), b.iter(), |(ka, va), (kb, vb)| {
        match bracket(Some(va)).cmp(&bracket(Some(vb))).then_with(|| ka.as_bytes().cmp(kb.as_bytes())) {
            Ordering::Equal => compare_in_bracket(va, vb, level + 1),
            order => Ok(order),
        }
    })
}

/// Arrays (at `level`) element by element (their field names are the same indexes), the
/// shorter first.
fn compare_arrays(a: ArrRef<'_>, b: ArrRef<'_>, level: usize) -> Result<Ordering, Failure> {
    within(level)?;
    in_pairs(a.iter(), b.iter(), |x, y| compare(Some(x), Some(y), level + 1))
}

/// Two sequences pair by pair until `pair` tells them apart; when one runs out first, it is
/// the smaller.
fn in_pairs<T>(
    mut left: impl Iterator<Item = Result<T, Failure>>,
    mut right: impl Iterator<Item = Result<T, Failure>>,
    mut pair: impl FnMut(T, T) -> Result<Ordering, Failure>,
) -> Result<Ordering, Failure> {
    loop {
        match (left.next().transpose()?, right.next().transpose()?) {
            (None, None) => return Ok(Ordering::Equal),
            (None, Some(_)) => return Ok(Ordering::Less),
            (Some(_), None) => return Ok(Ordering::Greater),
            (Some(x), Some(y)) => match pair(x, y)? {
                Ordering::Equal => {}
                order => return Ok(order),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use bson::{Binary, DateTime, Decimal128, doc, oid::ObjectId, spec::BinarySubtype};

    use super::*;

    fn cmp(a: Bson, b: Bson) -> Ordering {
        compare_bson(Some(&a), Some(&b), 1).unwrap()
    }

    #[test]
    fn brackets_order_types_before_values() {
        // Ascending, one value per bracket, each chosen to be "large" within its bracket.
        let ladder = [
            Bson::MinKey,
            Bson::Undefined,
            Bson::Null,
            Bson::Double(f64::INFINITY),
            Bson::String("zzz".into()),
            Bson::Document(doc! {"z": 1}),
            Bson::Array(vec![Bson::Int32(9)]),
            Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![255; 4] }),
            Bson::ObjectId(ObjectId::from_bytes([255; 12])),
            Bson::Boolean(false),
            Bson::DateTime(DateTime::from_millis(i64::MIN)),
            Bson::Timestamp(bson::Timestamp { time: 0, increment: 0 }),
            Bson::MaxKey,
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(compare_bson(Some(a), Some(b), 1).unwrap(), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(compare_bson(None, Some(&Bson::Undefined), 1).unwrap(), Ordering::Equal);
        assert_eq!(compare_bson(None, Some(&Bson::Null), 1).unwrap(), Ordering::Less);
    }

    #[test]
    fn numbers_of_different_types_compare_by_value() {
        let decimal = |t: &str| Bson::Decimal128(Decimal128::from_str(t).unwrap());
        assert_eq!(cmp(Bson::Int32(100), decimal("100.00")), Ordering::Equal);
        assert_eq!(cmp(Bson::Int64(5_000_000_000), Bson::Double(1999.99)), Ordering::Greater);
        assert_eq!(cmp(Bson::Double(f64::NAN), Bson::Int32(i32::MIN)), Ordering::Less);
    }

    #[test]
    fn documents_compare_field_by_field_in_order() {
        let d = |doc: bson::Document| Bson::Document(doc);
        assert_eq!(cmp(d(doc! {"a": 1, "b": 2}), d(doc! {"b": 2, "a": 1})), Ordering::Less); // "a" < "b"
        assert_eq!(cmp(d(doc! {"a": 1}), d(doc! {"a": 1, "b": 0})), Ordering::Less);
        assert_eq!(cmp(d(doc! {"a": 1}), d(doc! {"a": 1.0})), Ordering::Equal);
        // The bracket of the value decides before the field name.
        assert_eq!(cmp(d(doc! {"z": 1}), d(doc! {"a": "x"})), Ordering::Less);
        assert_eq!(cmp(d(doc! {}), d(doc! {"a": bson::Bson::MinKey})), Ordering::Less);
    }

    #[test]
    fn arrays_strings_binary_and_booleans() {
        let a = |items: Vec<Bson>| Bson::Array(items);
        assert_eq!(cmp(a(vec![1.into(), 2.into()]), a(vec![1.into(), 3.into()])), Ordering::Less);
        assert_eq!(cmp(a(vec![1.into()]), a(vec![1.into(), Bson::MinKey])), Ordering::Less);
        assert_eq!(cmp(a(vec![]), a(vec![Bson::Null])), Ordering::Less);
        assert_eq!(cmp("B".into(), "a".into()), Ordering::Less); // bytes, no collation
        assert_eq!(cmp("é".into(), "z".into()), Ordering::Greater);
        let bin = |subtype: u8, bytes: Vec<u8>| Bson::Binary(Binary { subtype: subtype.into(), bytes });
        assert_eq!(cmp(bin(0, vec![9]), bin(0, vec![1, 1])), Ordering::Less); // length first
        assert_eq!(cmp(bin(4, vec![1]), bin(0, vec![9])), Ordering::Greater); // then subtype
        assert_eq!(cmp(false.into(), true.into()), Ordering::Less);
    }
}
