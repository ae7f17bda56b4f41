//! Documents given as Extended JSON (canonical or relaxed), read into BSON for
//! [`Matcher`](crate::Matcher): the form in which the npm and pip packages pass documents.
//!
//! Numbers follow the compiler's rule (an integer is Int32, or Int64 beyond 32 bits; a number
//! with a fraction or exponent is Double); an object that is exactly one of the wrappers the
//! compiler reads in values (`$date`, `$oid`, `$numberLong`, `$numberInt`, `$numberDouble`,
//! `$numberDecimal`, `$uuid`, `$binary`) or `$regularExpression` is that value; any other
//! object, `$`-keys included, is an embedded document. Key order is kept, and a repeated key
//! keeps its first place and its last value.
//!
//! Text is read in one pass straight into the `bson::Document` (no intermediate JSON tree);
//! when that pass fails, the text is read again by [`parse_json`](super::parse_json) and
//! [`bson_from_json`] to say exactly what is wrong and where: errors cost a second pass,
//! documents that are read do not.

use std::fmt;

use bson::{Bson, Document};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{MAX_JSON_DEPTH, integer_out_of_range, too_deep};
use crate::error::{ErrorCode, PathSegment, SpecError};
use crate::values::{document_value, int, may_start_document_value, single_document_value};

/// Reads a document given as Extended JSON text. Text that is not JSON is `invalid_json`; the
/// input rules of [`parse_json`](super::parse_json) apply with their paths (nesting beyond
/// [`MAX_JSON_DEPTH`] is `too_deep`, an integer literal outside Int64 `invalid_value`); a
/// malformed wrapper is `invalid_extended_json` at the path of its object; JSON other than an
/// object is `invalid_value` at the root.
///
/// ```
/// use cqrs_mongo_spec::{document_from_extended_json, ErrorCode};
///
/// let text = r#"{"n": 5, "big": 3000000000, "x": 1.0, "at": {"$date": "2024-01-01T00:00:00Z"}}"#;
/// let document = document_from_extended_json(text).unwrap();
/// let at = bson::DateTime::from_millis(1_704_067_200_000);
/// assert_eq!(document, bson::doc! {"n": 5, "big": 3_000_000_000_i64, "x": 1.0, "at": at});
///
/// let err = document_from_extended_json(r#"{"a": [{"$oid": "xyz"}]}"#).unwrap_err();
/// assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidExtendedJson, "<root>.a[0]"));
/// ```
pub fn document_from_extended_json(text: &str) -> Result<Document, SpecError> {
    match bson_from_extended_json(text)? {
        Bson::Document(document) => Ok(document),
        _ => Err(SpecError::new(ErrorCode::InvalidValue, Vec::new(), "a document is a JSON object")),
    }
}

/// Reads any value given as Extended JSON text (a list of documents, say), with the rules and
/// errors of [`document_from_extended_json`].
pub fn bson_from_extended_json(text: &str) -> Result<Bson, SpecError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match (Direct { level: Level::Root }).deserialize(&mut de).and_then(|value| de.end().map(|()| value)) {
        Ok(value) => Ok(value),
        Err(_) => bson_from_json(&super::parse_json(text)?),
    }
}

/// An Extended JSON value already parsed (a `serde_json::Value`) into BSON, with the rules and
/// errors of [`document_from_extended_json`]: an integer beyond Int64 is `invalid_value`, a
/// malformed wrapper `invalid_extended_json`, nesting beyond [`MAX_JSON_DEPTH`] `too_deep`, each
/// at its path.
///
/// ```
/// let value = serde_json::json!({"qty": {"$numberLong": "7"}, "tags": ["a"]});
/// let bson = cqrs_mongo_spec::bson_from_json(&value).unwrap();
/// assert_eq!(bson, bson::Bson::Document(bson::doc! {"qty": 7_i64, "tags": ["a"]}));
/// ```
pub fn bson_from_json(value: &Value) -> Result<Bson, SpecError> {
    convert(value, &At::Root)
}

/// Where a value is, linked to its parent: built on the way down, read only for an error.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn depth(&self) -> usize {
        match self {
            At::Root => 0,
            At::Key(parent, _) | At::Index(parent, _) => parent.depth() + 1,
        }
    }

    fn path(&self) -> Vec<PathSegment> {
        let mut path = match self {
            At::Root => return Vec::new(),
            At::Key(parent, _) | At::Index(parent, _) => parent.path(),
        };
        path.push(match self {
            At::Key(_, key) => PathSegment::Key((*key).to_owned()),
            At::Index(_, index) => PathSegment::Index(*index),
            At::Root => unreachable!("the root has no segment"),
        });
        path
    }
}

fn convert(value: &Value, at: &At<'_>) -> Result<Bson, SpecError> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::String(s) => Bson::String(s.clone()),
        Value::Number(n) => crate::values::number(n).ok_or_else(|| integer_out_of_range(at.path(), &n.to_string()))?,
        Value::Array(items) => {
            check_depth(at)?;
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                out.push(convert(item, &At::Index(at, index))?);
            }
            Bson::Array(out)
        }
        Value::Object(map) => match document_value(map) {
            Some(decoded) => {
                decoded.map_err(|message| SpecError::new(ErrorCode::InvalidExtendedJson, at.path(), message))?
            }
            None => {
                check_depth(at)?;
                let mut out = Document::new();
                for (key, item) in map {
                    out.insert(key.clone(), convert(item, &At::Key(at, key))?);
                }
                Bson::Document(out)
            }
        },
    })
}

/// A list or object at `at` may hold values: refused when it is the 128th nested one.
fn check_depth(at: &At<'_>) -> Result<(), SpecError> {
    if at.depth() >= MAX_JSON_DEPTH { Err(too_deep(at.path())) } else { Ok(()) }
}

/// 2^63: the magnitude from which a whole double may be an integer literal outside Int64.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// The one-pass reader: serde_json's parser calls it for each value, which it turns into BSON
/// where it stands. Any error only sends the text to the path-keeping route, so its messages
/// are never shown.
#[derive(Clone, Copy)]
struct Direct {
    level: Level,
}

/// Where a value stands: the text itself, an item of a root list (the documents of `filter`),
/// or inside either.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    RootItem,
    Inner,
}

impl Level {
    /// Where the items of a list standing here stand.
    fn items(self) -> Level {
        if self == Level::Root { Level::RootItem } else { Level::Inner }
    }
}

/// An empty document to fill. `Document::new` seeds a fresh hasher (ahash's `RandomState`,
/// which mixes its keys each time) and the map then grows 4 → 8 → 16 slots, rehashing each
/// time; a clone of an empty template copies the seeded hasher and keeps the template's slot
/// count (indexmap clones its hash table as it is, a cleared one included). So a whole
/// document (the root, or an item of a root list) starts with room for 14 fields, a nested one
/// as a plain empty map: fewer allocations and no rehash, the same document.
fn empty_document(whole: bool) -> Document {
    static TEMPLATES: std::sync::OnceLock<[Document; 2]> = std::sync::OnceLock::new();
    let [nested, sized] = TEMPLATES.get_or_init(|| {
        let mut sized = Document::new();
        for key in ["0", "1", "2", "3", "4", "5", "6", "7"] {
            sized.insert(key, Bson::Null);
        }
        sized.clear();
        [Document::new(), sized]
    });
    if whole { sized.clone() } else { nested.clone() }
}

impl<'de> DeserializeSeed<'de> for Direct {
    type Value = Bson;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Bson, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Direct {
    type Value = Bson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Extended JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Bson, E> {
        Ok(Bson::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Bson, E> {
        Ok(Bson::Boolean(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Bson, E> {
        Ok(int(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Bson, E> {
        i64::try_from(n).map(int).map_err(|_| E::custom("an integer beyond Int64"))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Bson, E> {
        // serde_json hands an integer literal outside Int64 over as a double; so a whole double
        // that large takes the path-keeping route, which tells the literals apart.
        if n.fract() == 0.0 && n.abs() >= TWO_POW_63 {
            return Err(E::custom("perhaps an integer beyond Int64"));
        }
        Ok(Bson::Double(n))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Bson, E> {
        Ok(Bson::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Bson, E> {
        Ok(Bson::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bson, A::Error> {
        let mut items = Vec::new();
        let items_at = Direct { level: self.level.items() };
        while let Some(item) = seq.next_element_seed(items_at)? {
            items.push(item);
        }
        Ok(Bson::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bson, A::Error> {
        let Some(first) = map.next_key::<String>()? else { return Ok(Bson::Document(empty_document(false))) };
        if may_start_document_value(&first) {
            // Perhaps a wrapper: small, read as JSON and decoded by the compiler's reader; one
            // entry (`$date`, say) without building the object, as `document_value` reads it.
            let value = map.next_value::<Value>()?;
            let second = map.next_entry::<String, Value>()?;
            if second.is_none()
                && let Some(decoded) = single_document_value(&first, &value)
            {
                return decoded.map_err(de::Error::custom);
            }
            let mut object = Map::new();
            object.insert(first, value);
            if let Some((key, value)) = second {
                object.insert(key, value);
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    object.insert(key, value);
                }
            }
            return bson_from_json(&Value::Object(object)).map_err(|err| de::Error::custom(err.message()));
        }
        let mut document = empty_document(self.level != Level::Inner);
        let values_at = Direct { level: Level::Inner };
        document.insert(first, map.next_value_seed(values_at)?);
        while let Some(key) = map.next_key::<String>()? {
            document.insert(key, map.next_value_seed(values_at)?);
        }
        Ok(Bson::Document(document))
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use serde_json::json;

    use super::*;

    /// Both routes read `text` alike (the one-pass reader and the path-keeping one).
    fn read(text: &str) -> Result<Bson, SpecError> {
        let slow = super::super::parse_json(text).and_then(|value| bson_from_json(&value));
        assert_eq!(bson_from_extended_json(text), slow, "{text}");
        slow
    }

    #[test]
    fn numbers_wrappers_and_embedded_documents() {
        let text = r#"{"a": 1, "b": 3000000000, "c": 1.0, "d": -0, "e": {"$numberLong": "7"},
            "f": {"$regex": "^x", "$options": "i"}, "g": {"$regularExpression": {"pattern": "y", "options": "si"}},
            "h": [{"$date": {"$numberLong": "5"}}, {"$oid": "65a1b2c3d4e5f60718293a01"}],
            "i": {"$binary": "AA==", "$type": "00"}, "j": {"$type": "x"}, "k": {"$date": 1, "z": 2},
            "l": null, "m": true, "n": "\u00e9\n", "o": 9223372036854775807, "p": 2587092.9908304918,
            "q": -9223372036854775808, "r": 1e19, "s": -9.3e18, "t": 1e300}"#;
        let regex = bson::Regex { pattern: "y".try_into().unwrap(), options: "is".try_into().unwrap() };
        let oid = bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a01").unwrap();
        let binary = bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0] };
        assert_eq!(
            read(text).unwrap(),
            Bson::Document(doc! {
                "a": 1, "b": 3_000_000_000_i64, "c": 1.0, "d": -0.0, "e": 7_i64,
                "f": {"$regex": "^x", "$options": "i"}, "g": Bson::RegularExpression(regex),
                "h": [bson::DateTime::from_millis(5), oid], "i": binary, "j": {"$type": "x"},
                "k": {"$date": 1, "z": 2}, "l": Bson::Null, "m": true, "n": "é\n",
                "o": i64::MAX, "p": 2587092.9908304918, "q": i64::MIN, "r": 1e19, "s": -9.3e18, "t": 1e300,
            })
        );
    }

    #[test]
    fn one_entry_wrappers_read_alike_by_both_routes() {
        for text in [
            r#"{"a": {"$uuid": "7e1e90ef-36c0-f43d-c48d-b2c270b44365"}, "b": {"$numberDecimal": "1.5"}}"#,
            r#"{"a": {"$numberDouble": "-Infinity"}, "b": {"$numberInt": "-7"}, "c": [{"$date": "2024-01-01T00:00:00Z"}]}"#,
            r#"{"a": {"$binary": {"base64": "AA==", "subType": "00"}}, "b": {"$type": {"$date": 1}}}"#,
            r#"{"a": {"$date": {"$numberLong": "-5"}}, "b": {"$oid": "65a1b2c3d4e5f60718293a01"}}"#,
            r#"{"a": {"$regularExpression": {"pattern": "x", "options": "mi"}}, "b": {"$numberLong": "7", "x": 1}}"#,
        ] {
            assert!(read(text).is_ok(), "{text}");
        }
        for text in [
            r#"{"a": {"$numberInt": "x"}}"#,
            r#"{"a": [{"$date": {"$numberLong": "1.5"}}]}"#,
            r#"{"a": {"b": {"$oid": 5}}}"#,
            r#"{"a": {"$regularExpression": "x"}}"#,
        ] {
            let err = read(text).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidExtendedJson, "{text}");
        }
    }

    #[test]
    fn repeated_keys_keep_their_first_place_and_last_value() {
        assert_eq!(read(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap(), Bson::Document(doc! {"a": 3, "b": 2}));
    }

    #[test]
    fn every_error_has_its_code_and_path() {
        let fails = |text: &str| {
            let err = read(text).unwrap_err();
            (err.code().as_str(), err.path_string())
        };
        assert_eq!(fails(r#"{"a": [1, {"$date": "yesterday"}]}"#), ("invalid_extended_json", "<root>.a[1]".into()));
        assert_eq!(
            fails(r#"{"a": {"$regularExpression": {"pattern": 1}}}"#),
            ("invalid_extended_json", "<root>.a".into())
        );
        assert_eq!(fails(r#"{"a": 18446744073709551615}"#), ("invalid_value", "<root>.a".into()));
        assert_eq!(fails(r#"{"a": 123456789012345678901234567890}"#), ("invalid_value", "<root>.a".into()));
        assert_eq!(fails(r#"{"a": [-9223372036854775809]}"#), ("invalid_value", "<root>.a[0]".into()));
        assert_eq!(fails(r#"{"a": "\ud800"}"#), ("invalid_value", "<root>.a".into()));
        assert_eq!(fails(r#"{"a": "#), ("invalid_json", "<root>".into()));
        assert_eq!(fails(r#"{"a": 1} x"#), ("invalid_json", "<root>".into()));
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(130), "]".repeat(130));
        let (code, path) = fails(&deep);
        assert_eq!((code, path.matches('[').count()), ("too_deep", 126));
        let err = document_from_extended_json("[1]").unwrap_err();
        assert_eq!((err.code(), err.path()), (ErrorCode::InvalidValue, &[][..]));
    }

    #[test]
    fn parsed_values_keep_the_same_rules() {
        let err = bson_from_json(&json!({"a": [{"b": u64::MAX}]})).unwrap_err();
        assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidValue, "<root>.a[0].b"));
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        assert_eq!(bson_from_json(&deep).unwrap_err().code(), ErrorCode::TooDeep);
    }

    #[test]
    fn documents_of_any_size_at_any_level_read_alike_by_both_routes() {
        // Whole documents start from a presized template, nested ones from an empty one.
        let fields = (0..40).map(|i| format!("\"k{i}\": {i}")).collect::<Vec<_>>().join(", ");
        let big = format!("{{{fields}, \"k3\": \"last\"}}");
        let text = format!("[{big}, {{\"a\": {big}, \"k1\": 0}}, {{}}, [{big}, {{}}]]");
        let Bson::Array(items) = read(&text).unwrap() else { panic!("a list") };
        let Bson::Document(first) = &items[0] else { panic!("a document") };
        let keys = (0..40).map(|i| format!("k{i}")).collect::<Vec<_>>();
        assert_eq!(first.keys().cloned().collect::<Vec<_>>(), keys);
        assert_eq!(first.get_str("k3").ok(), Some("last"));
        assert_eq!(items[1].as_document().and_then(|d| d.get_document("a").ok()), Some(first));
        assert_eq!(items[2], Bson::Document(Document::new()));
        assert_eq!(read(&big).unwrap(), items[0]);
    }

    #[test]
    fn the_golden_data_set_reads_alike_by_both_routes() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden/dataset.json")).unwrap();
        let Bson::Array(documents) = read(&text).unwrap() else { panic!("a list") };
        assert_eq!(documents.len(), 50);
    }
}
