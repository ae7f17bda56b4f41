//! Builds the compiled filter as a `bson::Document`.

use bson::{Bson, Document};

use super::Out;

enum Container {
    Document(Document),
    Array(Vec<Bson>),
    /// A document merged into the one below it (see [`Out::merge_next`]).
    Merged,
}

pub(crate) struct DocWriter {
    /// Open containers with the key each will be stored under in its parent.
    stack: Vec<(String, Container)>,
    root: Option<Document>,
    deepest: usize,
    /// The key of the next document opened, set by `name_next`.
    next_key: Option<&'static str>,
    /// Set by `merge_next`: the next document opened is merged into the current one.
    merge_next: bool,
    /// How many of `stack` are merged (they add no level).
    merged: usize,
}

impl DocWriter {
    fn open(&mut self, key: &str, container: Container) {
        let merge = std::mem::take(&mut self.merge_next);
        if merge && matches!(container, Container::Document(_)) && !self.stack.is_empty() {
            self.stack.push((String::new(), Container::Merged));
            self.merged += 1;
            return;
        }
        let in_array = matches!(self.stack.last(), Some((_, Container::Array(_))));
        let key = match self.next_key.take() {
            _ if in_array => String::new(),
            Some(named) => named.to_owned(),
            None => key.to_owned(),
        };
        self.stack.push((key, container));
        self.deepest = self.deepest.max(self.levels());
    }

    /// Open levels: the stack without its merged documents.
    fn levels(&self) -> usize {
        self.stack.len() - self.merged
    }

    fn put(&mut self, key: String, value: Bson) {
        // A merged document's elements go into the document below it.
        match self.stack.iter_mut().rev().find(|(_, container)| !matches!(container, Container::Merged)) {
            Some((_, Container::Document(doc))) => {
                doc.insert(key, value);
            }
            Some((_, Container::Array(items))) => items.push(value),
            _ => {}
        }
    }
}

impl Out for DocWriter {
    type Output = Document;

    fn new() -> Self {
        DocWriter {
            stack: Vec::with_capacity(16),
            root: None,
            deepest: 0,
            next_key: None,
            merge_next: false,
            merged: 0,
        }
    }

    fn begin(&mut self, key: &str) {
        self.open(key, Container::Document(Document::new()));
    }

    fn begin_array(&mut self, key: &str) {
        self.open(key, Container::Array(Vec::new()));
    }

    fn end(&mut self) {
        self.next_key = None;
        self.merge_next = false;
        let Some((key, container)) = self.stack.pop() else { return };
        let value = match container {
            Container::Merged => {
                self.merged -= 1;
                return;
            }
            Container::Document(doc) if self.stack.is_empty() => {
                self.root = Some(doc);
                return;
            }
            Container::Document(doc) => Bson::Document(doc),
            Container::Array(items) => Bson::Array(items),
        };
        self.put(key, value);
    }

    fn name_next(&mut self, key: &'static str) {
        self.next_key = Some(key);
    }

    fn merge_next(&mut self) {
        self.merge_next = true;
    }

    fn string_with(&mut self, key: &str, fill: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = Vec::new();
        fill(&mut bytes);
        let text = String::from_utf8(bytes).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
        self.put(key.to_owned(), Bson::String(text));
    }

    fn value(&mut self, key: &str, value: &Bson) {
        if matches!(value, Bson::Document(_) | Bson::Array(_)) {
            self.deepest = self.deepest.max(self.levels() + super::nesting(value));
        }
        self.put(key.to_owned(), value.clone());
    }

    fn take_deepest(&mut self) -> usize {
        let levels = self.levels();
        std::mem::replace(&mut self.deepest, levels)
    }

    fn finish(self) -> Option<Document> {
        if self.stack.is_empty() { self.root } else { None }
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn builds_nested_documents_and_arrays() {
        let mut w = DocWriter::new();
        w.begin("");
        w.begin_array("$and");
        w.begin("ignored");
        w.value("a", &Bson::Int32(1));
        w.end();
        w.string("", "x");
        w.end();
        w.boolean("b", true);
        w.end();
        assert_eq!(w.finish(), Some(doc! {"$and": [{"a": 1}, "x"], "b": true}));
    }

    #[test]
    fn counts_the_deepest_level_reached() {
        let mut w = DocWriter::new();
        w.begin("");
        w.begin("a");
        assert_eq!(w.take_deepest(), 2);
        w.value("b", &Bson::Document(doc! {"c": [[1]]}));
        assert_eq!(w.take_deepest(), 5);
        w.end();
        assert_eq!(w.take_deepest(), 2);
        assert_eq!(w.take_deepest(), 1);
    }

    #[test]
    fn a_named_node_document_is_stored_under_its_name() {
        let mut w = DocWriter::new();
        w.begin("");
        w.begin("items");
        w.name_next("$elemMatch");
        w.begin("");
        w.int32("qty", 2);
        w.end();
        w.name_next("unused");
        w.end();
        w.begin("next");
        w.end();
        w.end();
        assert_eq!(w.finish(), Some(doc! {"items": {"$elemMatch": {"qty": 2}}, "next": {}}));
    }

    #[test]
    fn a_merged_node_document_writes_into_the_current_one() {
        let mut w = DocWriter::new();
        w.begin("");
        w.begin("$elemMatch");
        for (key, value) in [("sku", 1), ("qty", 2)] {
            w.merge_next();
            w.begin("");
            w.begin(key);
            w.int32("$gt", value);
            assert_eq!(w.take_deepest(), 3);
            w.end();
            w.end();
        }
        w.merge_next();
        w.end();
        w.begin("next");
        w.end();
        w.end();
        assert_eq!(w.finish(), Some(doc! {"$elemMatch": {"sku": {"$gt": 1}, "qty": {"$gt": 2}}, "next": {}}));
    }

    #[test]
    fn unbalanced_output_is_not_finished() {
        let mut w = DocWriter::new();
        w.begin("");
        w.begin("a");
        assert_eq!(w.finish(), None);
    }
}
