//! BSON bytes read in place: a document's elements scanned one after the other (a key compared
//! byte by byte, a value skipped by its size), and the value of a field decoded only when the
//! evaluation reads it. Every length is checked against the bytes before it is used, so bytes
//! that do not decode are an `invalid_document` error where they are met, never a panic or a read
//! past the end.

use bson::oid::ObjectId;
use bson::{Decimal128, Timestamp};

use super::error::{EvalError, EvalErrorCode, Failure};
use super::value::{ArrRef, DocRef, Pointer, Val};

/// The bytes of a document or an array: its length, its elements, a final 0 (checked when the
/// value holding it was sized).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bytes<'a>(&'a [u8]);

/// Bytes that do not decode.
pub(crate) fn malformed(message: impl std::fmt::Display) -> Failure {
    Box::new(EvalError::new(
        EvalErrorCode::InvalidDocument,
        Vec::new(),
        format!("the document is not valid BSON: {message}"),
    ))
}

impl<'a> Bytes<'a> {
    /// A whole document's bytes, its length and final 0 checked.
    pub(crate) fn document(bytes: &'a [u8]) -> Result<Bytes<'a>, Failure> {
        match Bytes::first(bytes)? {
            (document, []) => Ok(document),
            _ => Err(malformed(format!("a document of {} bytes says it has {}", bytes.len(), read_len(bytes)?))),
        }
    }

    /// The document at the start of `bytes` (its length and final 0 checked), and the bytes
    /// after it.
    pub(crate) fn first(bytes: &'a [u8]) -> Result<(Bytes<'a>, &'a [u8]), Failure> {
        let size = read_len(bytes)?;
        if size < 5 || size > bytes.len() || bytes[size - 1] != 0 {
            return Err(malformed(format!("a document of {size} bytes in {} bytes", bytes.len())));
        }
        Ok((Bytes(&bytes[..size]), &bytes[size..]))
    }

    /// The elements in order.
    pub(crate) fn elements(self) -> Elements<'a> {
        Elements { bytes: self.0, at: 4 }
    }

    /// The value of the first element whose key is `name`.
    pub(crate) fn get(self, name: &str) -> Result<Option<Val<'a>>, Failure> {
        for element in self.elements() {
            let element = element?;
            if element.key == name.as_bytes() {
                return Ok(Some(element.value()?));
            }
        }
        Ok(None)
    }
}

/// A document's top-level elements, sized once: the evaluation looks its fields up here, each
/// lookup comparing keys only (a scan of the bytes sizes every value it passes, and a filter
/// reads many fields). The table holds the first [`Indexed::SLOTS`] elements, on the stack; a
/// field not found among them, when there are more or bytes that do not decode, is looked up in
/// the bytes, which report them.
#[derive(Debug)]
pub(crate) struct Indexed<'a> {
    bytes: Bytes<'a>,
    slots: [Element<'a>; Indexed::SLOTS],
    len: usize,
    complete: bool,
}

impl<'a> Indexed<'a> {
    const SLOTS: usize = 24;

    pub(crate) fn new(bytes: Bytes<'a>) -> Indexed<'a> {
        let empty = Element { kind: 0, key: &[], value: &[] };
        let mut indexed = Indexed { bytes, slots: [empty; Indexed::SLOTS], len: 0, complete: true };
        for element in bytes.elements() {
            match element {
                Ok(element) if indexed.len < Indexed::SLOTS => {
                    indexed.slots[indexed.len] = element;
                    indexed.len += 1;
                }
                _ => {
                    indexed.complete = false;
                    break;
                }
            }
        }
        indexed
    }

    /// The document's bytes.
    pub(crate) fn bytes(&self) -> Bytes<'a> {
        self.bytes
    }

    /// The value of the first field named `name`.
    pub(crate) fn get(&self, name: &str) -> Result<Option<Val<'a>>, Failure> {
        for element in &self.slots[..self.len] {
            if element.key == name.as_bytes() {
                return Ok(Some(element.value()?));
            }
        }
        if self.complete { Ok(None) } else { self.bytes.get(name) }
    }
}

/// One element: its type byte, its key's bytes, its value's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    kind: u8,
    key: &'a [u8],
    value: &'a [u8],
}

impl<'a> Element<'a> {
    /// The key.
    pub(crate) fn key(&self) -> Result<&'a str, Failure> {
        std::str::from_utf8(self.key).map_err(|_| malformed("a key is not UTF-8"))
    }

    /// The value, decoded.
    pub(crate) fn value(&self) -> Result<Val<'a>, Failure> {
        let v = self.value;
        Ok(match self.kind {
            0x01 => Val::Double(f64::from_le_bytes(fixed(v))),
            0x02 => Val::Str(string(v)?),
            0x03 => Val::Doc(DocRef::Raw(Bytes(v))),
            0x04 => Val::Arr(ArrRef::Raw(Bytes(v))),
            0x05 => {
                let (subtype, data) = (v[4], &v[5..]);
                // The old binary subtype holds its length again before the data.
                if subtype == 0x02 {
                    if data.len() < 4 || read_len(data)? + 4 != data.len() {
                        return Err(malformed("an old binary's inner length is wrong"));
                    }
                    Val::Binary(subtype, &data[4..])
                } else {
                    Val::Binary(subtype, data)
                }
            }
            0x06 => Val::Undefined,
            0x07 => Val::ObjectId(ObjectId::from_bytes(fixed(v))),
            0x08 => match v[0] {
                0 => Val::Bool(false),
                1 => Val::Bool(true),
                other => return Err(malformed(format!("a boolean byte of {other}"))),
            },
            0x09 => Val::Date(i64::from_le_bytes(fixed(v))),
            0x0A => Val::Null,
            0x0B => {
                let pattern = cstring(v)?;
                Val::Regex(pattern, cstring(&v[pattern.len() + 1..])?)
            }
            0x0C => Val::DbPointer(Pointer::Raw),
            0x0D => Val::JsCode(string(v)?),
            0x0E => Val::Symbol(string(v)?),
            0x0F => {
                let code_size = 4 + read_len(&v[4..])?;
                let scope = v.get(4 + code_size..).ok_or_else(|| malformed("a code with scope overruns"))?;
                let scope_size = read_len(scope)?;
                if scope_size < 5 || scope_size != scope.len() || scope[scope_size - 1] != 0 {
                    return Err(malformed("a code with scope's scope is malformed"));
                }
                Val::CodeWithScope(string(&v[4..4 + code_size])?, DocRef::Raw(Bytes(scope)))
            }
            0x10 => Val::Int32(i32::from_le_bytes(fixed(v))),
            0x11 => Val::Timestamp(Timestamp {
                increment: u32::from_le_bytes(fixed(v)),
                time: u32::from_le_bytes(fixed(&v[4..])),
            }),
            0x12 => Val::Int64(i64::from_le_bytes(fixed(v))),
            0x13 => Val::Decimal(Decimal128::from_bytes(fixed(v))),
            0xFF => Val::MinKey,
            0x7F => Val::MaxKey,
            other => return Err(malformed(format!("element type {other}"))),
        })
    }
}

/// The elements of a document or array, each sized (and so checked) as it is reached.
pub(crate) struct Elements<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>, Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        let end = self.bytes.len() - 1;
        if self.at >= end {
            return None;
        }
        let bytes = &self.bytes[..end];
        let kind = bytes[self.at];
        let key_start = self.at + 1;
        let Some(key_len) = bytes[key_start..].iter().position(|&b| b == 0) else {
            self.at = end;
            return Some(Err(malformed("a key runs past the end")));
        };
        let value_start = key_start + key_len + 1;
        let size = match value_size(kind, &bytes[value_start..]) {
            Ok(size) => size,
            Err(err) => {
                self.at = end;
                return Some(Err(err));
            }
        };
        self.at = value_start + size;
        let (key, value) = (&bytes[key_start..key_start + key_len], &bytes[value_start..value_start + size]);
        Some(Ok(Element { kind, key, value }))
    }
}

/// The size of a value of type `kind` at the start of `rest` (the document's bytes after it,
/// without the final 0), checked to lie within `rest` with its own lengths consistent.
fn value_size(kind: u8, rest: &[u8]) -> Result<usize, Failure> {
    let size = match kind {
        0x06 | 0x0A | 0xFF | 0x7F => 0,
        0x08 => 1,
        0x10 => 4,
        0x01 | 0x09 | 0x11 | 0x12 => 8,
        0x07 => 12,
        0x13 => 16,
        // A string: its length (with the NUL), its bytes, a NUL.
        0x02 | 0x0D | 0x0E => {
            let len = read_len(rest)?;
            if len < 1 || rest.get(4 + len - 1) != Some(&0) {
                return Err(malformed("a string's length is wrong"));
            }
            4 + len
        }
        // A document or an array: its length counts itself and the final 0.
        0x03 | 0x04 => {
            let len = read_len(rest)?;
            if len < 5 || rest.get(len - 1) != Some(&0) {
                return Err(malformed("an embedded document's length is wrong"));
            }
            len
        }
        0x05 => 4 + 1 + read_len(rest)?,
        0x0B => {
            let pattern = rest.iter().position(|&b| b == 0).ok_or_else(|| malformed("a regex runs past the end"))?;
            let options = rest[pattern + 1..].iter().position(|&b| b == 0);
            pattern + 1 + options.ok_or_else(|| malformed("a regex runs past the end"))? + 1
        }
        0x0C => {
            let len = read_len(rest)?;
            if len < 1 || rest.get(4 + len - 1) != Some(&0) {
                return Err(malformed("a DBPointer's namespace length is wrong"));
            }
            4 + len + 12
        }
        0x0F => {
            let len = read_len(rest)?;
            if len < 4 + 5 + 5 {
                return Err(malformed("a code with scope is too short"));
            }
            let code = read_len(rest.get(4..).unwrap_or_default())?;
            if code < 1 || 4 + 4 + code > len || rest.get(4 + 4 + code - 1) != Some(&0) {
                return Err(malformed("a code with scope's code length is wrong"));
            }
            len
        }
        other => return Err(malformed(format!("element type {other}"))),
    };
    if size > rest.len() {
        return Err(malformed("a value runs past the end of its document"));
    }
    Ok(size)
}

/// A length prefix (non-negative).
fn read_len(bytes: &[u8]) -> Result<usize, Failure> {
    let head = bytes.get(..4).ok_or_else(|| malformed("a length runs past the end"))?;
    usize::try_from(i32::from_le_bytes([head[0], head[1], head[2], head[3]]))
        .map_err(|_| malformed("a negative length"))
}

/// The first `N` bytes (there are at least `N`: the value was sized).
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// A string value (sized: length, bytes, NUL).
fn string(v: &[u8]) -> Result<&str, Failure> {
    std::str::from_utf8(&v[4..v.len() - 1]).map_err(|_| malformed("a string is not UTF-8"))
}

/// A NUL-terminated string at the start of `v` (sized: the NUL is there).
fn cstring(v: &[u8]) -> Result<&str, Failure> {
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    std::str::from_utf8(&v[..end]).map_err(|_| malformed("a regex is not UTF-8"))
}

/// A DBPointer read from bytes is not copied into a `Bson` (the bson crate builds one only
/// through its own decoders, which the npm module does not carry): `$expr` over a document read
/// from bytes that holds one, the one place that copies it, is left to the server, as DBPointer
/// operands are.
pub(crate) fn db_pointer() -> Failure {
    Box::new(EvalError::new(
        EvalErrorCode::NeedsServer,
        Vec::new(),
        "a DBPointer in a document read from BSON bytes is compared by the server only",
    ))
}

#[cfg(test)]
mod tests {
    use bson::spec::BinarySubtype;
    use bson::{Binary, Bson, DateTime, Document, JavaScriptCodeWithScope, RawDocumentBuf, Regex, doc};
    use proptest::prelude::*;

    use super::*;
    use crate::{EvalErrorCode, Matcher};

    /// A document with a value of every BSON type, the old binary subtype and a DBPointer among them.
    fn every_type() -> Document {
        let pointer = serde_json::json!({"$dbPointer": {"$ref": "db.c", "$id": {"$oid": "0123456789abcdef01234567"}}});
        doc! {
            "double": 1.5, "string": "héllo\u{0}x", "doc": {"a": [1, {"b": null}]}, "array": [[], {}, "x"],
            "binary": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![4, 5] },
            "undefined": Bson::Undefined, "oid": ObjectId::from_bytes([7; 12]), "bool": true, "false": false,
            "date": DateTime::from_millis(-5), "null": null,
            "regex": Regex { pattern: "^a.c".try_into().unwrap(), options: "im".try_into().unwrap() },
            "pointer": Bson::try_from(pointer).unwrap(), "code": Bson::JavaScriptCode("f()".into()),
            "symbol": Bson::Symbol("s".into()),
            "scoped": JavaScriptCodeWithScope { code: "g()".into(), scope: doc! {"x": 1} },
            "int": 7, "timestamp": Timestamp { time: 9, increment: 3 }, "long": -8_i64,
            "decimal": "1.10".parse::<Decimal128>().unwrap(), "min": Bson::MinKey, "max": Bson::MaxKey,
        }
    }

    #[test]
    fn every_type_decodes_as_the_bson_crate_wrote_it() {
        let mut original = every_type();
        let bytes = RawDocumentBuf::try_from(&original).unwrap();
        let whole = DocRef::Raw(Bytes::document(bytes.as_bytes()).unwrap());
        // A DBPointer is read (its type, for `$type` and the order) but not copied.
        let found = Bytes::document(bytes.as_bytes()).unwrap().get("pointer").unwrap().unwrap();
        assert!(matches!(found, Val::DbPointer(_)));
        assert_eq!(found.to_bson(2).unwrap_err().code(), EvalErrorCode::NeedsServer);
        assert_eq!(whole.to_document(1).unwrap_err().code(), EvalErrorCode::NeedsServer);
        let pointer = Matcher::new(&doc! {"pointer": {"$type": "dbPointer"}}).unwrap();
        assert!(pointer.matches_raw(&bytes).unwrap() && pointer.matches(&original).unwrap());
        original.remove("pointer");
        let bytes = RawDocumentBuf::try_from(&original).unwrap();
        let decoded = DocRef::Raw(Bytes::document(bytes.as_bytes()).unwrap()).to_document(1).unwrap();
        assert_eq!(decoded, original);
        for (key, value) in &original {
            let found = Bytes::document(bytes.as_bytes()).unwrap().get(key).unwrap().unwrap();
            assert_eq!(&found.to_bson(2).unwrap(), value, "{key}");
        }
    }

    #[test]
    fn fields_past_the_table_are_found_in_the_bytes() {
        let mut document = Document::new();
        for i in 0..40 {
            document.insert(format!("f{i}"), i);
        }
        document.insert("f3", "again"); // the first of a name wins: f3 keeps its place
        let bytes = RawDocumentBuf::try_from(&document).unwrap();
        for (filter, expected) in [
            (doc! {"f39": 39}, true),
            (doc! {"f30": {"$gt": 29}, "f2": 2}, true),
            (doc! {"f40": {"$exists": true}}, false),
            (doc! {"f3": "again"}, true),
        ] {
            let matcher = Matcher::new(&filter).unwrap();
            assert_eq!(matcher.matches_raw(&bytes).unwrap(), expected, "{filter}");
            assert_eq!(matcher.matches(&document).unwrap(), expected, "{filter}");
        }
    }

    #[test]
    fn documents_back_to_back_are_split_and_evaluated_each() {
        let matcher = Matcher::new(&doc! {"n": {"$gt": 1}}).unwrap();
        let mut dump = Vec::new();
        for n in [1, 2, 0, 3] {
            dump.extend_from_slice(RawDocumentBuf::try_from(&doc! {"n": n}).unwrap().as_bytes());
        }
        assert_eq!(matcher.filter_raw(&dump).unwrap(), [1, 3]);
        assert_eq!(matcher.filter_raw(&[]).unwrap(), Vec::<usize>::new());
        // A last document cut short, or bytes left after the last one, do not split.
        for broken in [&dump[..dump.len() - 1], &[dump.as_slice(), &[1, 2]].concat()] {
            assert_eq!(matcher.filter_raw(broken).unwrap_err().code(), EvalErrorCode::InvalidDocument);
        }
    }

    proptest! {
        /// Bytes changed anywhere never panic nor read past the end: an answer, or a typed error.
        #[test]
        fn changed_bytes_are_an_answer_or_a_typed_error(changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
            let mut bytes = RawDocumentBuf::try_from(&every_type()).unwrap().into_bytes();
            for (at, byte) in changes {
                let at = at.index(bytes.len() - 5) + 4; // the header stays: RawDocument checks it
                bytes[at] = byte;
            }
            let Ok(document) = bson::RawDocument::from_bytes(&bytes) else { return Ok(()) };
            for filter in [doc! {"max": {"$exists": true}}, doc! {"doc.a.b": null}, doc! {"array": {"$size": 3}}, doc! {"$expr": {"$eq": ["$int", 7]}}, doc! {"scoped": {"$gt": 1}}] {
                if let Err(err) = Matcher::new(&filter).unwrap().matches_raw(document) {
                    prop_assert!(
                        matches!(err.code(), EvalErrorCode::InvalidDocument | EvalErrorCode::InvalidFilter | EvalErrorCode::NeedsServer),
                        "{err}"
                    );
                }
            }
        }
    }
}
