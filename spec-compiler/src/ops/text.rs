//! Full-text search: `fts` and `fts_phrase` compile to `$text`. Where a text clause may appear
//! (once, never under `not`) is checked by the tree walker.

use bson::Bson;

use crate::compile::LeafCx;
use crate::diag::bson_type_name;
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;

pub(crate) fn compile<W: Out>(op: Operator, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
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
    let phrase = op == Operator::FtsPhrase;
    if phrase && text.contains('"') {
        cx.error(ErrorCode::InvalidValue, "a phrase may not contain a double quote");
        return None;
    }
    w.begin("");
    w.begin("$text");
    w.string_with("$search", |out| {
        if phrase {
            out.push(b'"');
        }
        out.extend_from_slice(text.as_bytes());
        if phrase {
            out.push(b'"');
        }
    });
    w.end();
    w.end();
    Some(())
}
