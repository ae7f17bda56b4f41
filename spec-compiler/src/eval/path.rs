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

/// What a path yields when it ends at an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtArray {
    /// Each element, then the array itself (every operator but the two below).
    Traverse,
    /// Only the array (`$size`, `$elemMatch`).
    Whole,
}

/// A field path split on dots.
#[derive(Debug, Clone)]
pub(crate) struct FieldPath {
    parts: Vec<String>,
}

impl FieldPath {
    pub(crate) fn new(path: &str) -> Self {
        FieldPath { parts: path.split('.').map(str::to_owned).collect() }
    }
}

/// Calls `f` with each value the path yields in `doc` until `f` returns `true`; returns whether
/// it did. `f` may fail; the first error stops the walk.
pub(crate) fn visit<E>(
    doc: &Document,
    path: &FieldPath,
    at_array: AtArray,
    f: &mut dyn FnMut(Option<&Bson>) -> Result<bool, E>,
) -> Result<bool, E> {
    Walk { parts: &path.parts, at_array, f }.document(doc, 0)
}

struct Walk<'p, 'f, E> {
    parts: &'p [String],
    at_array: AtArray,
    f: &'f mut dyn FnMut(Option<&Bson>) -> Result<bool, E>,
}

impl<E> Walk<'_, '_, E> {
    /// From `doc`, the path from segment `start` on (MongoDB's `getFieldDottedOrArray`, then the
    /// iterator): down through documents until the end of the path or an array.
    fn document(&mut self, doc: &Document, start: usize) -> Result<bool, E> {
        let mut current = doc;
        let mut at = start;
        loop {
            let last = at + 1 == self.parts.len();
            match current.get(&self.parts[at]) {
                None => return (self.f)(None),
                Some(Bson::Array(items)) => return self.array(current.get(&self.parts[at]), items, at + 1),
                Some(Bson::Document(inner)) if !last => {
                    current = inner;
                    at += 1;
                }
                Some(value) if last => return (self.f)(Some(value)),
                // A scalar with path left over: the path does not exist.
                Some(_) => return (self.f)(None),
            }
        }
    }

    /// The array `whole` (with `items`) reached with the path from segment `next` left.
    fn array(&mut self, whole: Option<&Bson>, items: &[Bson], next: usize) -> Result<bool, E> {
        if next == self.parts.len() {
            if self.at_array == AtArray::Traverse {
                for item in items {
                    if (self.f)(Some(item))? {
                        return Ok(true);
                    }
                }
            }
            return (self.f)(whole);
        }
        let piece = &self.parts[next];
        let position: Option<usize> =
            (!piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit())).then(|| piece.parse().ok()).flatten();
        for (index, item) in items.iter().enumerate() {
            let offset_match = position == Some(index);
            match item {
                Bson::Document(inner) => {
                    // The element's own field named like the rest of the path…
                    if self.document(inner, next)? {
                        return Ok(true);
                    }
                    // …then, when the segment is this element's position, the element itself.
                    if offset_match {
                        if next + 1 == self.parts.len() {
                            if (self.f)(Some(item))? {
                                return Ok(true);
                            }
                        } else if self.document(inner, next + 1)? {
                            return Ok(true);
                        }
                    }
                }
                _ if offset_match => {
                    if next + 1 == self.parts.len() {
                        if (self.f)(Some(item))? {
                            return Ok(true);
                        }
                    } else if let Bson::Array(inner) = item
                        && self.array(Some(item), inner, next + 1)?
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

/// The aggregation value of the field path `a.b.c` (without its `$`) in `doc`: `None` when
/// missing. An array on the way maps each of its documents to its value (missing ones dropped,
/// non-documents skipped), as MongoDB's `ExpressionFieldPath` does.
pub(crate) fn resolve(doc: &Document, path: &FieldPath) -> Option<Bson> {
    resolve_from(doc, &path.parts)
}

fn resolve_from(doc: &Document, parts: &[String]) -> Option<Bson> {
    let value = doc.get(&parts[0])?;
    if parts.len() == 1 {
        return Some(value.clone());
    }
    match value {
        Bson::Document(inner) => resolve_from(inner, &parts[1..]),
        Bson::Array(items) => Some(resolve_array(items, &parts[1..])),
        _ => None,
    }
}

fn resolve_array(items: &[Bson], parts: &[String]) -> Bson {
    Bson::Array(
        items
            .iter()
            .filter_map(|item| match item {
                Bson::Document(inner) => resolve_from(inner, parts),
                _ => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use bson::{Bson, bson, doc};

    use super::*;

    fn seen(doc: &Document, path: &str, at_array: AtArray) -> Vec<Option<Bson>> {
        let mut out = Vec::new();
        visit::<()>(doc, &FieldPath::new(path), at_array, &mut |v| {
            out.push(v.cloned());
            Ok(false)
        })
        .unwrap();
        out
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

    #[test]
    fn aggregation_paths_map_arrays_of_documents() {
        let d = doc! {"items": [{"q": 1}, {"x": 0}, 5, {"q": [2]}], "a": {"b": null}};
        assert_eq!(resolve(&d, &FieldPath::new("items.q")), Some(bson!([1, [2]])));
        assert_eq!(resolve(&d, &FieldPath::new("items.0")), Some(bson!([])));
        assert_eq!(resolve(&d, &FieldPath::new("a.b")), Some(Bson::Null));
        assert_eq!(resolve(&d, &FieldPath::new("a.b.c")), None);
        assert_eq!(resolve(&d, &FieldPath::new("nope")), None);
    }
}
