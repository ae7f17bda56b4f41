//! A value of the evaluated document, borrowed where it is: from a `bson::Document` (the Rust
//! API) or from BSON bytes read in place (`RawDocument`: what the driver returns, and what the npm
//! package writes from a JS object), so a document is never copied to be evaluated.
//!
//! [`Val`] has a variant per BSON type, each holding what comparisons read; documents and arrays
//! stay views ([`DocRef`], [`ArrRef`]). Bytes that do not decode are a typed error
//! (`invalid_document`) where the evaluation reaches them, never a panic.

use bson::oid::ObjectId;
use bson::{Bson, Decimal128, Document, Timestamp};

use super::error::{Failure, within};
use super::raw::{self, Bytes, Elements, Indexed};

/// One value of a document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Double(f64),
    Str(&'a str),
    Doc(DocRef<'a>),
    Arr(ArrRef<'a>),
    Binary(u8, &'a [u8]),
    Undefined,
    ObjectId(ObjectId),
    Bool(bool),
    Date(i64),
    Null,
    Regex(&'a str, &'a str),
    /// Compared by the server only (refused as an operand); kept to be copied back.
    DbPointer(Pointer<'a>),
    JsCode(&'a str),
    Symbol(&'a str),
    CodeWithScope(&'a str, DocRef<'a>),
    Int32(i32),
    Timestamp(Timestamp),
    Int64(i64),
    Decimal(Decimal128),
    MinKey,
    MaxKey,
}

/// Where a DBPointer is, to copy it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pointer<'a> {
    Owned(&'a Bson),
    /// Read from bytes: not copied (`raw::db_pointer`).
    Raw,
}

/// A document: a `bson::Document`, or BSON bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DocRef<'a> {
    Owned(&'a Document),
    Raw(Bytes<'a>),
    /// A top-level document read from bytes, its fields sized once.
    Indexed(&'a Indexed<'a>),
}

/// An array: a slice of `Bson`, or BSON bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ArrRef<'a> {
    Owned(&'a [Bson]),
    Raw(Bytes<'a>),
}

impl<'a> Val<'a> {
    /// A value of a `bson::Document`.
    pub(crate) fn of(value: &'a Bson) -> Val<'a> {
        match value {
            Bson::Double(d) => Val::Double(*d),
            Bson::String(s) => Val::Str(s),
            Bson::Document(d) => Val::Doc(DocRef::Owned(d)),
            Bson::Array(items) => Val::Arr(ArrRef::Owned(items)),
            Bson::Binary(b) => Val::Binary(u8::from(b.subtype), &b.bytes),
            Bson::Undefined => Val::Undefined,
            Bson::ObjectId(id) => Val::ObjectId(*id),
            Bson::Boolean(b) => Val::Bool(*b),
            Bson::DateTime(d) => Val::Date(d.timestamp_millis()),
            Bson::Null => Val::Null,
            Bson::RegularExpression(r) => Val::Regex(r.pattern.as_str(), r.options.as_str()),
            Bson::DbPointer(_) => Val::DbPointer(Pointer::Owned(value)),
            Bson::JavaScriptCode(code) => Val::JsCode(code),
            Bson::Symbol(s) => Val::Symbol(s),
            Bson::JavaScriptCodeWithScope(c) => Val::CodeWithScope(&c.code, DocRef::Owned(&c.scope)),
            Bson::Int32(n) => Val::Int32(*n),
            Bson::Timestamp(t) => Val::Timestamp(*t),
            Bson::Int64(n) => Val::Int64(*n),
            Bson::Decimal128(d) => Val::Decimal(*d),
            Bson::MinKey => Val::MinKey,
            Bson::MaxKey => Val::MaxKey,
        }
    }

    /// A copy as `Bson` (this value at `level`, were it a document or an array), refusing one
    /// nested past MongoDB's limit: the copy recurses once per level.
    pub(crate) fn to_bson(self, level: usize) -> Result<Bson, Failure> {
        Ok(match self {
            Val::Double(d) => Bson::Double(d),
            Val::Str(s) => Bson::String(s.to_owned()),
            Val::Doc(doc) => Bson::Document(doc.to_document(level)?),
            Val::Arr(items) => {
                within(level)?;
                let mut out = Vec::new();
                for item in items.iter() {
                    out.push(item?.to_bson(level + 1)?);
                }
                Bson::Array(out)
            }
            Val::Binary(subtype, bytes) => {
                Bson::Binary(bson::Binary { subtype: subtype.into(), bytes: bytes.to_vec() })
            }
            Val::Undefined => Bson::Undefined,
            Val::ObjectId(id) => Bson::ObjectId(id),
            Val::Bool(b) => Bson::Boolean(b),
            Val::Date(ms) => Bson::DateTime(bson::DateTime::from_millis(ms)),
            Val::Null => Bson::Null,
            Val::Regex(pattern, options) => Bson::RegularExpression(bson::Regex {
                pattern: pattern.to_owned().try_into().map_err(raw::malformed)?,
                options: options.to_owned().try_into().map_err(raw::malformed)?,
            }),
            Val::DbPointer(Pointer::Owned(value)) => value.clone(),
            Val::DbPointer(Pointer::Raw) => return Err(raw::db_pointer()),
            Val::JsCode(code) => Bson::JavaScriptCode(code.to_owned()),
            Val::Symbol(s) => Bson::Symbol(s.to_owned()),
            Val::CodeWithScope(code, scope) => Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
                code: code.to_owned(),
                scope: scope.to_document(level)?,
            }),
            Val::Int32(n) => Bson::Int32(n),
            Val::Timestamp(t) => Bson::Timestamp(t),
            Val::Int64(n) => Bson::Int64(n),
            Val::Decimal(d) => Bson::Decimal128(d),
            Val::MinKey => Bson::MinKey,
            Val::MaxKey => Bson::MaxKey,
        })
    }
}

impl<'a> DocRef<'a> {
    /// The value of the first field named `name` ([`field`] in a `Document`, a scan of bytes).
    pub(crate) fn get(self, name: &str) -> Result<Option<Val<'a>>, Failure> {
        match self {
            DocRef::Owned(doc) => Ok(field(doc, name).map(Val::of)),
            DocRef::Raw(bytes) => bytes.get(name),
            DocRef::Indexed(indexed) => indexed.get(name),
        }
    }

    /// The fields in order.
    pub(crate) fn iter(self) -> DocIter<'a> {
        match self {
            DocRef::Owned(doc) => DocIter::Owned(doc.iter()),
            DocRef::Raw(bytes) => DocIter::Raw(bytes.elements()),
            DocRef::Indexed(indexed) => DocIter::Raw(indexed.bytes().elements()),
        }
    }

    /// A copy as a `Document` (this one at `level`), bounded as [`Val::to_bson`].
    pub(crate) fn to_document(self, level: usize) -> Result<Document, Failure> {
        within(level)?;
        let mut out = Document::new();
        for field in self.iter() {
            let (key, value) = field?;
            out.insert(key, value.to_bson(level + 1)?);
        }
        Ok(out)
    }
}

/// The value of a field of a `Document`: scanned in order in a small document (cheaper than
/// hashing the name), looked up in the index of a larger one. Both find the first field of that
/// name.
pub(crate) fn field<'a>(doc: &'a Document, name: &str) -> Option<&'a Bson> {
    if doc.len() <= 16 {
        doc.iter().find_map(|(key, value)| (key.as_str() == name).then_some(value))
    } else {
        doc.get(name)
    }
}

/// The fields of a [`DocRef`].
pub(crate) enum DocIter<'a> {
    Owned(bson::document::Iter<'a>),
    Raw(Elements<'a>),
}

impl<'a> Iterator for DocIter<'a> {
    type Item = Result<(&'a str, Val<'a>), Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            DocIter::Owned(iter) => iter.next().map(|(key, value)| Ok((key.as_str(), Val::of(value)))),
            DocIter::Raw(elements) => elements.next().map(|element| {
                let element = element?;
                Ok((element.key()?, element.value()?))
            }),
        }
    }
}

impl<'a> ArrRef<'a> {
    /// The elements in order.
    pub(crate) fn iter(self) -> ArrIter<'a> {
        match self {
            ArrRef::Owned(items) => ArrIter::Owned(items.iter()),
            ArrRef::Raw(bytes) => ArrIter::Raw(bytes.elements()),
        }
    }

    /// The element at `index`.
    pub(crate) fn get(self, index: usize) -> Result<Option<Val<'a>>, Failure> {
        match self {
            ArrRef::Owned(items) => Ok(items.get(index).map(Val::of)),
            ArrRef::Raw(_) => self.iter().nth(index).transpose(),
        }
    }

    /// How many elements there are.
    pub(crate) fn len(self) -> Result<usize, Failure> {
        match self {
            ArrRef::Owned(items) => Ok(items.len()),
            ArrRef::Raw(bytes) => {
                let mut count = 0;
                for element in bytes.elements() {
                    element?;
                    count += 1;
                }
                Ok(count)
            }
        }
    }
}

/// The elements of an [`ArrRef`].
pub(crate) enum ArrIter<'a> {
    Owned(std::slice::Iter<'a, Bson>),
    Raw(Elements<'a>),
}

impl<'a> Iterator for ArrIter<'a> {
    type Item = Result<Val<'a>, Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ArrIter::Owned(iter) => iter.next().map(|value| Ok(Val::of(value))),
            ArrIter::Raw(elements) => elements.next().map(|element| element?.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::{RawDocument, RawDocumentBuf, doc};

    use crate::{EvalErrorCode, Matcher};

    #[test]
    fn bytes_that_do_not_decode_are_a_typed_error_where_they_are_read() {
        let matcher = Matcher::new(&doc! {"b": "x"}).unwrap();
        let good = RawDocumentBuf::try_from(&doc! {"a": "yes", "b": "x"}).unwrap();
        assert!(matcher.matches_raw(&good).unwrap());
        // The length of "yes" (4 with its NUL, at byte 7) said to be 200: the first field does
        // not decode, and the scan for `b` passes it.
        let mut bytes = good.as_bytes().to_vec();
        bytes[7] = 200;
        let bad = RawDocument::from_bytes(&bytes).unwrap();
        let err = matcher.matches_raw(bad).unwrap_err();
        assert_eq!(err.code(), EvalErrorCode::InvalidDocument, "{err}");
        assert!(err.message().starts_with("the document is not valid BSON"), "{err}");
        // A filter that finds its field before the broken one answers; one that scans past it
        // (for a field that is not there) meets it.
        let mut bytes = good.as_bytes().to_vec();
        bytes[18] = 200; // the length of "x", in the second field
        let broken_second = RawDocument::from_bytes(&bytes).unwrap();
        assert!(Matcher::new(&doc! {"a": "yes"}).unwrap().matches_raw(broken_second).unwrap());
        let scan = Matcher::new(&doc! {"z": {"$exists": false}}).unwrap().matches_raw(broken_second);
        assert_eq!(scan.unwrap_err().code(), EvalErrorCode::InvalidDocument);
    }

    #[test]
    fn documents_nested_past_the_limit_are_refused_from_bytes_too() {
        let mut deep = doc! {"v": 1};
        for _ in 0..300 {
            deep = doc! {"a": deep};
        }
        let raw = RawDocumentBuf::try_from(&doc! {"d": deep}).unwrap();
        let long_path = format!("d{}", ".a".repeat(250));
        for filter in [doc! {long_path: 1}, doc! {"$expr": {"$eq": ["$d", 1]}}] {
            let matcher = Matcher::new(&filter).unwrap();
            let err = matcher.matches_raw(&raw).unwrap_err();
            assert_eq!(err.code(), EvalErrorCode::InvalidFilter, "{filter}: {err}");
        }
        // A path that does not go down answers.
        assert!(!Matcher::new(&doc! {"d.a.v": 1}).unwrap().matches_raw(&raw).unwrap());
    }
}
