//! Where operators write the filter they compile: a `bson::Document` ([`DocWriter`]) or BSON
//! bytes ([`RawWriter`], the fast path). Operators are written once against [`Out`].
//!
//! Documents and arrays are opened, filled and closed; inside an array the writer numbers the
//! items itself, so callers pass `""` as the key there. Writers never fail: after an error the
//! compile result is discarded, so half-written output is simply dropped.

mod document;
pub(crate) mod json;
mod raw;

use bson::Bson;

pub(crate) use document::DocWriter;
pub(crate) use raw::RawWriter;

/// How many levels a value adds where it is written: 0 for a scalar, 1 + its deepest item for a
/// document or array.
pub(crate) fn nesting(value: &Bson) -> usize {
    match value {
        Bson::Document(doc) => 1 + doc.values().map(nesting).max().unwrap_or(0),
        Bson::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

pub(crate) trait Out {
    /// What [`finish`](Out::finish) returns.
    type Output;

    fn new() -> Self;

    /// Opens a document as the value of `key` (or as the root, or as the next array item).
    fn begin(&mut self, key: &str);

    /// Opens an array as the value of `key`.
    fn begin_array(&mut self, key: &str);

    /// Closes the innermost open document or array.
    fn end(&mut self);

    /// Stores the next document opened with `begin("")` (a node's own filter document) under
    /// `key` in the current document: how `{"$elemMatch": filter}` holds the filter of its one
    /// condition. The next [`end`](Out::end) forgets a name no document took.
    fn name_next(&mut self, key: &'static str);

    /// Makes the next document opened with `begin("")` (a node's own filter document) part of
    /// the current document: its elements are written into the current document, its
    /// [`end`](Out::end) closes nothing, and it adds no level. How `{"$elemMatch": {...}}` holds
    /// the keys of several conditions. The next `end` forgets a merge no document took.
    fn merge_next(&mut self);

    /// Writes a string value produced by `fill` (which appends UTF-8 bytes).
    fn string_with(&mut self, key: &str, fill: impl FnOnce(&mut Vec<u8>));

    /// Writes any BSON value.
    fn value(&mut self, key: &str, value: &Bson);

    /// Writes a string value.
    fn string(&mut self, key: &str, value: &str) {
        self.string_with(key, |out| out.extend_from_slice(value.as_bytes()));
    }

    /// Writes a boolean value.
    fn boolean(&mut self, key: &str, value: bool) {
        self.value(key, &Bson::Boolean(value));
    }

    /// Writes an Int32 value.
    fn int32(&mut self, key: &str, value: i32) {
        self.value(key, &Bson::Int32(value));
    }

    /// The deepest nesting reached since the previous call (the root document is level 1, each
    /// document or array inside adds one); then starts counting again from the current depth.
    fn take_deepest(&mut self) -> usize;

    /// The finished root document; `None` while documents are still open (only after an error).
    fn finish(self) -> Option<Self::Output>;
}
