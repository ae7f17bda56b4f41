//! Writes the compiled filter straight into BSON bytes.
//!
//! A `bson::Document` tree costs one hash table, one entry vector and one `String` per key for
//! every nested document; merely cloning a compiled filter costs more than compiling it into
//! bytes. Here everything goes into one growing buffer: a document or array is opened (its
//! length is a placeholder), filled, and closed (the length is patched in). Inside an array the
//! element keys `"0"`, `"1"`, … are supplied by the writer.

use bson::{Bson, RawDocumentBuf};

use super::Out;

/// One open document or array: where its length goes and, for arrays, the next index. A merged
/// frame (see [`Out::merge_next`]) writes nothing: its elements go into the document below.
struct Frame {
    start: usize,
    next_index: Option<u32>,
    merged: bool,
}

pub(crate) struct RawWriter {
    buf: Vec<u8>,
    frames: Vec<Frame>,
    deepest: usize,
    /// The key of the next document opened, set by `name_next`.
    next_key: Option<&'static str>,
    /// Set by `merge_next`: the next document opened is merged into the current one.
    merge_next: bool,
    /// How many of `frames` are merged (they add no level).
    merged: usize,
}

impl Out for RawWriter {
    type Output = RawDocumentBuf;

    fn new() -> Self {
        RawWriter {
            buf: Vec::with_capacity(1024),
            frames: Vec::with_capacity(16),
            deepest: 0,
            next_key: None,
            merge_next: false,
            merged: 0,
        }
    }

    fn begin(&mut self, key: &str) {
        self.open(0x03, key, None);
    }

    fn begin_array(&mut self, key: &str) {
        self.open(0x04, key, Some(0));
    }

    fn end(&mut self) {
        self.next_key = None;
        self.merge_next = false;
        let Some(frame) = self.frames.pop() else { return };
        if frame.merged {
            self.merged -= 1;
            return;
        }
        self.buf.push(0);
        let length = (self.buf.len() - frame.start) as i32;
        self.buf[frame.start..frame.start + 4].copy_from_slice(&length.to_le_bytes());
    }

    fn name_next(&mut self, key: &'static str) {
        self.next_key = Some(key);
    }

    fn merge_next(&mut self) {
        self.merge_next = true;
    }

    fn string(&mut self, key: &str, value: &str) {
        self.string_with(key, |out| out.extend_from_slice(value.as_bytes()));
    }

    fn string_with(&mut self, key: &str, fill: impl FnOnce(&mut Vec<u8>)) {
        self.element(0x02, key);
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        fill(&mut self.buf);
        self.buf.push(0);
        let length = (self.buf.len() - start - 4) as i32;
        self.buf[start..start + 4].copy_from_slice(&length.to_le_bytes());
    }

    fn boolean(&mut self, key: &str, value: bool) {
        self.element(0x08, key);
        self.buf.push(u8::from(value));
    }

    fn int32(&mut self, key: &str, value: i32) {
        self.element(0x10, key);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    fn value(&mut self, key: &str, value: &Bson) {
        match value {
            Bson::Double(d) => {
                self.element(0x01, key);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Bson::String(s) => self.string(key, s),
            Bson::Document(doc) => {
                self.begin(key);
                for (k, v) in doc {
                    self.value(k, v);
                }
                self.end();
            }
            Bson::Array(items) => {
                self.begin_array(key);
                for item in items {
                    self.value("", item);
                }
                self.end();
            }
            Bson::Boolean(b) => self.boolean(key, *b),
            Bson::Null => self.element(0x0A, key),
            Bson::Int32(i) => self.int32(key, *i),
            Bson::Int64(i) => {
                self.element(0x12, key);
                self.buf.extend_from_slice(&i.to_le_bytes());
            }
            Bson::DateTime(d) => {
                self.element(0x09, key);
                self.buf.extend_from_slice(&d.timestamp_millis().to_le_bytes());
            }
            Bson::ObjectId(oid) => {
                self.element(0x07, key);
                self.buf.extend_from_slice(&oid.bytes());
            }
            Bson::Decimal128(d) => {
                self.element(0x13, key);
                self.buf.extend_from_slice(&d.bytes());
            }
            Bson::Binary(binary) => {
                self.element(0x05, key);
                self.buf.extend_from_slice(&(binary.bytes.len() as i32).to_le_bytes());
                self.buf.push(u8::from(binary.subtype));
                self.buf.extend_from_slice(&binary.bytes);
            }
            other => self.foreign(key, other),
        }
    }

    fn take_deepest(&mut self) -> usize {
        std::mem::replace(&mut self.deepest, self.frames.len() - self.merged)
    }

    fn finish(self) -> Option<RawDocumentBuf> {
        if !self.frames.is_empty() {
            return None;
        }
        RawDocumentBuf::from_bytes(self.buf).ok()
    }
}

impl RawWriter {
    /// Types the compiler never produces itself, encoded by the bson crate.
    fn foreign(&mut self, key: &str, value: &Bson) {
        let mut single = bson::Document::new();
        single.insert("k", value.clone());
        let Ok(raw) = RawDocumentBuf::try_from(&single) else { return };
        let bytes = raw.as_bytes();
        // Element layout: type byte, "k\0", payload; the document adds a 4-byte header and a
        // trailing 0.
        let element_type = bytes[4];
        self.element(element_type, key);
        self.buf.extend_from_slice(&bytes[7..bytes.len() - 1]);
    }

    fn open(&mut self, element_type: u8, key: &str, next_index: Option<u32>) {
        if std::mem::take(&mut self.merge_next) && next_index.is_none() && !self.frames.is_empty() {
            self.frames.push(Frame { start: self.buf.len(), next_index: None, merged: true });
            self.merged += 1;
            return;
        }
        if !self.frames.is_empty() {
            let key = self.next_key.take().unwrap_or(key);
            self.element(element_type, key);
        }
        self.frames.push(Frame { start: self.buf.len(), next_index, merged: false });
        self.deepest = self.deepest.max(self.frames.len() - self.merged);
        self.buf.extend_from_slice(&[0; 4]);
    }

    /// Writes the type byte and the key (the array index inside arrays).
    #[inline]
    fn element(&mut self, element_type: u8, key: &str) {
        if let Some(index) = self.frames.last_mut().and_then(|frame| frame.next_index.as_mut()) {
            let n = *index;
            *index += 1;
            if n < 10 {
                self.buf.extend_from_slice(&[element_type, b'0' + n as u8, 0]);
            } else {
                self.indexed(element_type, n);
            }
            return;
        }
        self.buf.reserve(key.len() + 2);
        self.buf.push(element_type);
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.push(0);
    }

    /// An array element from index 10 on: its digits, written from the end of a scratch.
    #[cold]
    fn indexed(&mut self, element_type: u8, mut n: u32) {
        let mut scratch = [0u8; 12];
        let mut at = scratch.len() - 1;
        loop {
            at -= 1;
            scratch[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        at -= 1;
        scratch[at] = element_type;
        self.buf.extend_from_slice(&scratch[at..]);
    }
}

#[cfg(test)]
mod tests {
    use bson::{Binary, DateTime, Decimal128, doc, oid::ObjectId, spec::BinarySubtype};

    use super::*;

    #[test]
    fn writes_the_same_bytes_as_the_bson_crate() {
        let items: Vec<Bson> = (0..12).map(Bson::Int32).collect();
        let expected = doc! {
            "d": 1.5, "s": "é\0x", "n": Bson::Null, "b": true, "i": 7, "l": 7_i64,
            "t": DateTime::from_millis(-5), "o": ObjectId::parse_str("65a1b2c3d4e5f60718293a01").unwrap(),
            "m": "1.50".parse::<Decimal128>().unwrap(),
            "u": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1; 16] },
            "a": items, "nested": {"x": [{"y": "z"}, []]},
            "ts": bson::Timestamp { time: 1, increment: 2 },
        };
        let mut writer = RawWriter::new();
        writer.value("", &Bson::Document(expected.clone()));
        let written = writer.finish().unwrap();
        assert_eq!(written.as_bytes(), RawDocumentBuf::try_from(&expected).unwrap().as_bytes());
    }

    #[test]
    fn string_with_fills_in_place() {
        let mut writer = RawWriter::new();
        writer.begin("");
        writer.string_with("$regex", |out| out.extend_from_slice(b"^a"));
        writer.end();
        let expected = RawDocumentBuf::try_from(&doc! {"$regex": "^a"}).unwrap();
        assert_eq!(writer.finish().unwrap().as_bytes(), expected.as_bytes());
    }

    #[test]
    fn counts_the_deepest_level_reached() {
        let mut writer = RawWriter::new();
        writer.begin("");
        writer.value("a", &Bson::Document(doc! {"c": [[1]]}));
        assert_eq!(writer.take_deepest(), 4);
        assert_eq!(writer.take_deepest(), 1);
    }

    #[test]
    fn a_named_node_document_is_stored_under_its_name() {
        let mut writer = RawWriter::new();
        writer.begin("");
        writer.begin("items");
        writer.name_next("$elemMatch");
        writer.begin("");
        writer.int32("qty", 2);
        writer.end();
        writer.name_next("unused");
        writer.end();
        writer.begin("next");
        writer.end();
        writer.end();
        let expected = RawDocumentBuf::try_from(&doc! {"items": {"$elemMatch": {"qty": 2}}, "next": {}}).unwrap();
        assert_eq!(writer.finish().unwrap().as_bytes(), expected.as_bytes());
    }

    #[test]
    fn a_merged_node_document_writes_into_the_current_one() {
        let mut writer = RawWriter::new();
        writer.begin("");
        writer.begin("$elemMatch");
        for (key, value) in [("sku", 1), ("qty", 2)] {
            writer.merge_next();
            writer.begin("");
            writer.begin(key);
            writer.int32("$gt", value);
            assert_eq!(writer.take_deepest(), 3);
            writer.end();
            writer.end();
        }
        writer.merge_next();
        writer.end();
        writer.begin("next");
        writer.end();
        writer.end();
        let expected =
            RawDocumentBuf::try_from(&doc! {"$elemMatch": {"sku": {"$gt": 1}, "qty": {"$gt": 2}}, "next": {}}).unwrap();
        assert_eq!(writer.finish().unwrap().as_bytes(), expected.as_bytes());
    }

    #[test]
    fn unbalanced_output_is_not_finished() {
        let mut writer = RawWriter::new();
        writer.begin("");
        writer.begin_array("$and");
        assert!(writer.finish().is_none());
        let mut writer = RawWriter::new();
        writer.end();
        assert!(writer.finish().is_none());
    }
}
