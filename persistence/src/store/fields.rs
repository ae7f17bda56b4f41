//! Reading stored fields leniently: documents written by the legacy Python stack store
//! integers as Int32 or Int64 (or, rarely, doubles), and optional fields may be missing.

use bson::{Bson, Document};

/// An integer field (0 when missing or not a number).
pub(crate) fn int(value: Option<&Bson>) -> i64 {
    match value {
        Some(Bson::Int32(v)) => i64::from(*v),
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

/// Takes a string field out of `document` (empty when missing or not a string).
pub(crate) fn take_text(document: &mut Document, key: &str) -> String {
    match document.remove(key) {
        Some(Bson::String(value)) => value,
        _ => String::new(),
    }
}

/// Takes a sub-document out of `document` (empty when missing or not a document).
pub(crate) fn take_document(document: &mut Document, key: &str) -> Document {
    match document.remove(key) {
        Some(Bson::Document(value)) => value,
        _ => Document::new(),
    }
}

/// Takes an optional string field out of `document` (`None` when missing, null or not a string).
pub(crate) fn take_optional_text(document: &mut Document, key: &str) -> Option<String> {
    match document.remove(key) {
        Some(Bson::String(value)) => Some(value),
        _ => None,
    }
}
