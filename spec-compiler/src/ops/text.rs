//! Full-text search: `fts` and `fts_phrase` compile to `$text`. Where a text clause may appear
//! (once, never under `not`) is checked by the tree walker.

use bson::{Bson, Document, doc};

use crate::compile::LeafCx;
use crate::diag::bson_type_name;
use crate::error::ErrorCode;
use crate::operator::Operator;

pub(crate) fn compile(op: Operator, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let text = match cx.value()? {
        Bson::String(text) if !text.trim().is_empty() => text,
        other => {
            let got = match &other {
                Bson::String(_) => "an empty string",
                other => bson_type_name(other),
            };
            cx.error(ErrorCode::InvalidValue, format!("{:?} expects search text, got {got}", op.name()));
            return None;
        }
    };
    let search = if op == Operator::FtsPhrase {
        if text.contains('"') {
            cx.error(ErrorCode::InvalidValue, "a phrase may not contain a double quote");
            return None;
        }
        format!("\"{text}\"")
    } else {
        text
    };
    Some(doc! { "$text": { "$search": search } })
}
