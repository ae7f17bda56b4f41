//! Dotted paths over documents, as the server walks them.
//!
//! [`visit`] yields the values a query operator sees for a path (MongoDB's element iterator):
//! through embedded documents; through arrays of documents element by element (`items.sku`);
//! numeric segments as array positions (`items.0.sku`) besides field names; a missing field
//! yields one *missing* value (`None`), which `$eq: null` and `$exists` tell apart from null. At
//! the end of the path an array yields its elements and then itself (so `{tags: "a"}` and
//! `{tags: ["a", "b"]}` both match), or only itself for `$size` and `$elemMatch`.
//!
//! [`resolve`] is the aggregation's reading of `"$a.b"` (for `$expr`): no positions, an array of
//! documents maps to the array of their values, a missing field is missing.

use bson::{Bson, Document};

use super::error::{Failure, TooDeep, deeper, within};
use super::value::{ArrRef, DocRef, Val, field};

/// What a path yields when it ends at an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtArray {
    /// Each element, then the array itself (every operator but the two below).
    Traverse,
    /// Only the array (`$size`, `$elemMatch`).
    Whole,
}

/// A field path split on dots once, when the filter is parsed.
#[derive(Debug, Clone)]
pub(crate) struct FieldPath {
    text: Box<str>,
    /// The first segment, and the others (most paths have one: no allocation for the rest).
    first: Part,
    rest: Box<[Part]>,
}

#[derive(Debug, Clone, Copy)]
struct Part {
    /// The segment's bytes in the path.
    start: usize,
    end: usize,
    /// The segment read as an array position (all digits).
    position: Option<usize>,
    /// The segment as the key of an element in an array read as a document (`"0"`, `"12"`; no
    /// leading zero).
    key_index: Option<usize>,
}

impl FieldPath {
    pub(crate) fn new(path: &str) -> Self {
        let mut start = 0;
        let mut parts = path.split('.').map(|piece| {
            let digits = !piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit());
            let position: Option<usize> = digits.then(|| piece.parse().ok()).flatten();
            let canonical = piece == "0" || !piece.starts_with('0');
            let part = Part { start, end: start + piece.len(), position, key_index: position.filter(|_| canonical) };
            start = part.end + 1;
            part
        });
        let first = parts.next().expect("split yields one piece at least");
        FieldPath { text: path.into(), first, rest: parts.collect() }
    }

    /// How many segments the path has.
    fn len(&self) -> usize {
        1 + self.rest.len()
    }

    fn part(&self, index: usize) -> &Part {
        if index == 0 { &self.first } else { &self.rest[index - 1] }
    }

    /// Whether two paths are the same text.
    pub(crate) fn same(&self, other: &FieldPath) -> bool {
        self.text == other.text
    }

    fn name(&self, part: usize) -> &str {
        let Part { start, end, .. } = *self.part(part);
        &self.text[start..end]
    }

    /// The top-level field the path starts at (`"a"` for `"a.b.0"`).
    pub(crate) fn top_level(&self) -> &str {
        self.name(0)
    }
}

/// What a filter is evaluated on: a document, or an array read as the document
/// `{"0": …, "1": …}` (`$elemMatch` on an array nested in an array), without copying it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Obj<'a> {
    Doc(DocRef<'a>),
    Arr(ArrRef<'a>),
}

impl<'a> Obj<'a> {
    /// The value at segment `part` of `path`.
    fn get(self, path: &FieldPath, part: usize) -> Result<Option<Val<'a>>, Failure> {
        match self {
            Obj::Doc(doc) => doc.get(path.name(part)),
            Obj::Arr(items) => match path.part(part).key_index {
                Some(index) => items.get(index),
                None => Ok(None),
            },
        }
    }
}

/// What a path yields when no array is on the way: one value, or missing.
pub(crate) enum Single<'a> {
    /// The one value (`None`: missing) and its level.
    One(Option<Val<'a>>, usize),
    /// An array on the way or at the end: [`visit`] walks it.
    Arrays,
}

/// The one value the path yields in `obj` (at `level`) when it meets no array: what [`visit`]
/// would yield, with one lookup per segment, for every predicate of the field at once.
pub(crate) fn single<'a>(obj: Obj<'a>, level: usize, path: &FieldPath) -> Result<Single<'a>, Failure> {
    let (mut current, mut level) = (obj, level);
    let last = path.len() - 1;
    for at in 0..=last {
        match current.get(path, at)? {
            None => return Ok(Single::One(None, level + 1)),
            Some(Val::Arr(_)) => return Ok(Single::Arrays),
            Some(Val::Doc(inner)) if at < last => {
                current = Obj::Doc(inner);
                level = deeper(level)?;
            }
            Some(value) if at == last => return Ok(Single::One(Some(value), level + 1)),
            // A scalar with path left over: the path does not exist.
            Some(_) => return Ok(Single::One(None, level + 1)),
        }
    }
    unreachable!("the last segment returns")
}

/// Calls `f` with each value the path yields in `obj` (at `level`) until `f` returns `true`;
/// returns whether it did. `f` receives the value (`None`: missing) and its level (the level a
/// document or array there has; the top-level document is level 1). `f` may fail; the first
/// error stops the walk, as does a document or array deeper than MongoDB's limit on the way.
pub(crate) fn visit<'a, F>(
    obj: Obj<'a>,
    level: usize,
    path: &FieldPath,
    at_array: AtArray,
    f: F,
) -> Result<bool, Failure>
where
    F: FnMut(Option<Val<'a>>, usize) -> Result<bool, Failure>,
{
    Walk { path, at_array, f }.document(obj, 0, level)
}

struct Walk<'p, F> {
    path: &'p FieldPath,
    at_array: AtArray,
    f: F,
}

impl<'a, F> Walk<'_, F>
where
    F: FnMut(Option<Val<'a>>, usize) -> Result<bool, Failure>,
{
    /// From `obj` (at `level`), the path from segment `start` on (MongoDB's
    /// `getFieldDottedOrArray`, then the iterator): down through documents until the end of the
    /// path or an array.
    fn document(&mut self, obj: Obj<'a>, start: usize, level: usize) -> Result<bool, Failure> {
        let mut current = obj;
        let mut at = start;
        let mut level = level;
        loop {
            let last = at + 1 == self.path.len();
            match current.get(self.path, at)? {
                None => return (self.f)(None, level + 1),
                Some(Val::Arr(items)) => return self.array(items, at + 1, deeper(level)?),
                Some(Val::Doc(inner)) if !last => {
                    current = Obj::Doc(inner);
                    at += 1;
                    level = deeper(level)?;
                }
                Some(value) if last => return (self.f)(Some(value), level + 1),
                // A scalar with path left over: the path does not exist.
                Some(_) => return (self.f)(None, level + 1),
            }
        }
    }

    /// The array `items` (at `level`) reached with the path from segment `next` left.
    fn array(&mut self, items: ArrRef<'a>, next: usize, level: usize) -> Result<bool, Failure> {
        if next == self.path.len() {
            if self.at_array == AtArray::Traverse {
                for item in items.iter() {
                    if (self.f)(Some(item?), level + 1)? {
                        return Ok(true);
                    }
                }
            }
            return (self.f)(Some(Val::Arr(items)), level);
        }
        let position = self.path.part(next).position;
        // The level of the elements (checked where one is entered).
        let inner_level = level + 1;
        for (index, item) in items.iter().enumerate() {
            let item = item?;
            let offset_match = position == Some(index);
            match item {
                Val::Doc(inner) => {
                    // The element's own field named like the rest of the path…
                    within(inner_level)?;
                    if self.document(Obj::Doc(inner), next, inner_level)? {
                        return Ok(true);
                    }
                    // …then, when the segment is this element's position, the element itself.
                    if offset_match {
                        if next + 1 == self.path.len() {
                            if (self.f)(Some(item), inner_level)? {
                                return Ok(true);
                            }
                        } else if self.document(Obj::Doc(inner), next + 1, inner_level)? {
                            return Ok(true);
                        }
                    }
                }
                _ if offset_match => {
                    if next + 1 == self.path.len() {
                        if (self.f)(Some(item), inner_level)? {
                            return Ok(true);
                        }
                    } else if let Val::Arr(inner) = item
                        && self.array(inner, next + 1, within(inner_level)?)?
                    {
                        return Ok(true);
                    }
                }
                // Scalars and nested arrays do not hold the rest of the path.
                _ => {}
            }
        }
        Ok(false)
    }
}

/// The aggregation value of the field path `a.b.c` (without its `$`) in `doc` (the top-level
/// document, level 1): `None` when missing. An array on the way maps each of its documents to
/// its value (missing ones dropped, non-documents skipped), as MongoDB's `ExpressionFieldPath`
/// does. The value is borrowed where it is one of the document's, built where it maps arrays.
pub(crate) fn resolve<'d>(doc: &'d Document, path: &FieldPath) -> Result<Option<Resolved<'d>>, TooDeep> {
    resolve_from(doc, path, 0, 1)
}

/// A resolved field path: a value of the document, or an array built from several.
#[derive(Debug)]
pub(crate) enum Resolved<'d> {
    Borrowed(&'d Bson),
    Built(Bson),
}

/// The path from segment `part` on in `doc` (at `level`).
fn resolve_from<'d>(
    doc: &'d Document,
    path: &FieldPath,
    part: usize,
    level: usize,
) -> Result<Option<Resolved<'d>>, TooDeep> {
    let Some(value) = field(doc, path.name(part)) else { return Ok(None) };
    if part + 1 == path.len() {
        return Ok(Some(Resolved::Borrowed(value)));
    }
    Ok(match value {
        Bson::Document(inner) => resolve_from(inner, path, part + 1, deeper(level)?)?,
        Bson::Array(items) => Some(Resolved::Built(resolve_array(items, path, part + 1, deeper(level)?)?)),
        _ => None,
    })
}

/// `items` (an array at `level`) mapped through the path from segment `part` on.
fn resolve_array(items: &[Bson], path: &FieldPath, part: usize, level: usize) -> Result<Bson, TooDeep> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Bson::Document(inner) = item
            && let Some(value) = resolve_from(inner, path, part, deeper(level)?)?
        {
            out.push(match value {
                Resolved::Borrowed(value) => clone_bounded(value, level + 2)?,
                Resolved::Built(value) => value,
            });
        }
    }
    Ok(Bson::Array(out))
}

/// A copy of `value` (whose level, were it a document or array, is `level`), refusing one
/// nested past MongoDB's limit: `Clone` (and `Drop`) recurse once per level, so an unbounded copy
/// could exhaust the stack.
pub(crate) fn clone_bounded(value: &Bson, level: usize) -> Result<Bson, TooDeep> {
    Ok(match value {
        Bson::Document(doc) => Bson::Document(clone_document(doc, level)?),
        Bson::Array(items) => {
            within(level)?;
            Bson::Array(items.iter().map(|item| clone_bounded(item, level + 1)).collect::<Result<_, _>>()?)
        }
        Bson::JavaScriptCodeWithScope(code) => Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
            code: code.code.clone(),
            scope: clone_document(&code.scope, level)?,
        }),
        scalar => scalar.clone(),
    })
}

/// A copy of the document `doc` (at `level`), bounded as [`clone_bounded`].
pub(crate) fn clone_document(doc: &Document, level: usize) -> Result<Document, TooDeep> {
    within(level)?;
    let mut out = Document::new();
    for (key, value) in doc {
        out.insert(key.clone(), clone_bounded(value, level + 1)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bson::{Bson, bson, doc};

    use super::*;

    /// What the path yields, the same read from the `Document` and from its BSON bytes.
    fn seen(doc: &Document, path: &str, at_array: AtArray) -> Vec<Option<Bson>> {
        let walk = |obj: Obj<'_>| {
            let mut out = Vec::new();
            visit(obj, 1, &FieldPath::new(path), at_array, |v, _| {
                out.push(v.map(|v| v.to_bson(2).unwrap()));
                Ok(false)
            })
            .unwrap();
            out
        };
        let owned = walk(Obj::Doc(DocRef::Owned(doc)));
        let bytes = bson::RawDocumentBuf::try_from(doc).unwrap();
        let bytes = crate::eval::raw::Bytes::document(bytes.as_bytes()).unwrap();
        assert_eq!(walk(Obj::Doc(DocRef::Raw(bytes))), owned, "{doc} at {path}");
        owned
    }

    fn some(values: &[Bson]) -> Vec<Option<Bson>> {
        values.iter().cloned().map(Some).collect()
    }

    #[test]
    fn plain_paths_and_missing_fields() {
        let d = doc! {"a": {"b": 1}, "s": "x"};
        assert_eq!(seen(&d, "a.b", AtArray::Traverse), some(&[1.into()]));
        assert_eq!(seen(&d, "a", AtArray::Traverse), some(&[bson!({"b": 1})]));
        assert_eq!(seen(&d, "a.c", AtArray::Traverse), vec![None]);
        assert_eq!(seen(&d, "s.x", AtArray::Traverse), vec![None]); // a scalar on the way
        assert_eq!(seen(&d, "zz", AtArray::Traverse), vec![None]);
    }

    #[test]
    fn an_array_at_the_end_yields_its_elements_then_itself() {
        let d = doc! {"t": [1, [2, 3]]};
        assert_eq!(seen(&d, "t", AtArray::Traverse), some(&[1.into(), bson!([2, 3]), bson!([1, [2, 3]])]));
        assert_eq!(seen(&d, "t", AtArray::Whole), some(&[bson!([1, [2, 3]])]));
        assert_eq!(seen(&doc! {"t": []}, "t", AtArray::Traverse), some(&[bson!([])]));
    }

    #[test]
    fn arrays_of_documents_yield_each_documents_value() {
        let d = doc! {"items": [{"sku": "A"}, {"qty": 2}, 7, [{"sku": "nested"}]]};
        // The document without `sku` yields missing; the scalar and the nested array nothing.
        assert_eq!(seen(&d, "items.sku", AtArray::Traverse), vec![Some("A".into()), None]);
        // No element is a document: nothing at all (not even missing).
        assert_eq!(seen(&doc! {"a": [1, 2]}, "a.b", AtArray::Traverse), vec![]);
        let tags = doc! {"a": [{"t": ["x", "y"]}]};
        assert_eq!(seen(&tags, "a.t", AtArray::Traverse), some(&["x".into(), "y".into(), bson!(["x", "y"])]));
        assert_eq!(seen(&tags, "a.t", AtArray::Whole), some(&[bson!(["x", "y"])]));
    }

    #[test]
    fn numeric_segments_are_positions_and_field_names() {
        let d = doc! {"items": [{"sku": "A"}, {"sku": "B"}]};
        // Element 0 is first read for a field "0" (missing), then as position 0.
        assert_eq!(seen(&d, "items.0.sku", AtArray::Traverse), vec![None, Some("A".into()), None]);
        assert_eq!(seen(&d, "items.1", AtArray::Traverse), vec![None, None, Some(bson!({"sku": "B"}))]);
        assert_eq!(seen(&doc! {"m": [[1, 2], [3]]}, "m.0.1", AtArray::Traverse), some(&[2.into()]));
        assert_eq!(seen(&doc! {"t": ["x", "y"]}, "t.1", AtArray::Traverse), some(&["y".into()]));
        assert_eq!(seen(&doc! {"t": ["x"]}, "t.5", AtArray::Traverse), vec![]);
    }

    fn resolved(doc: &Document, path: &str) -> Option<Bson> {
        resolve(doc, &FieldPath::new(path)).unwrap().map(|value| match value {
            Resolved::Borrowed(value) => value.clone(),
            Resolved::Built(value) => value,
        })
    }

    #[test]
    fn aggregation_paths_map_arrays_of_documents() {
        let d = doc! {"items": [{"q": 1}, {"x": 0}, 5, {"q": [2]}], "a": {"b": null}};
        assert_eq!(resolved(&d, "items.q"), Some(bson!([1, [2]])));
        assert_eq!(resolved(&d, "items.0"), Some(bson!([])));
        assert_eq!(resolved(&d, "a.b"), Some(Bson::Null));
        assert_eq!(resolved(&d, "a.b.c"), None);
        assert_eq!(resolved(&d, "nope"), None);
    }
}
