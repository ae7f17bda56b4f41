//! `matches` and `filter`: a spec compiled once and its filter evaluated in memory on documents
//! ([`Compiler::matches`](cqrs_mongo_spec::Compiler::matches), [`Matcher`]). Documents arrive as
//! Extended JSON text, written by the package's JS layer from JS objects as specs are, and read
//! as the `bson` crate reads Extended JSON.

use bson::{Bson, Document};
use cqrs_mongo_spec::{ErrorCode, EvalError, Matcher, PathSegment, SpecError};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::{Arg, WasmCompiler, error, json_text};

/// Why there is no answer: the spec or a document (a [`SpecError`]), or the compiled filter
/// cannot be evaluated in memory (an [`EvalError`], its path into the filter).
enum Failure {
    Spec(SpecError),
    Eval(EvalError),
}

impl From<SpecError> for Failure {
    fn from(err: SpecError) -> Self {
        Failure::Spec(err)
    }
}

impl From<EvalError> for Failure {
    fn from(err: EvalError) -> Self {
        Failure::Eval(err)
    }
}

impl Failure {
    fn into_js(self) -> JsValue {
        match self {
            Failure::Spec(err) => error::to_js(&err),
            Failure::Eval(err) => error::match_to_js(&err),
        }
    }
}

#[wasm_bindgen(js_class = Compiler)]
impl WasmCompiler {
    /// Whether `find` with the spec's filter would return the document (Extended JSON text).
    #[wasm_bindgen(js_name = matchesJson)]
    pub fn matches_json(&self, spec_json: JsValue, document_json: JsValue) -> Result<bool, JsValue> {
        let run = || -> Result<bool, Failure> {
            let matcher = self.matcher(&spec_json)?;
            let document = documents(&document_json, "document")?;
            let Value::Object(_) = &document else {
                return Err(not_a_document(vec![PathSegment::Key("document".into())]).into());
            };
            Ok(matcher.matches(&to_document(document, vec![PathSegment::Key("document".into())])?)?)
        };
        run().map_err(Failure::into_js)
    }

    /// The indexes of the documents (an Extended JSON list) the spec's filter keeps, in order.
    #[wasm_bindgen(js_name = filterJson)]
    pub fn filter_json(&self, spec_json: JsValue, documents_json: JsValue) -> Result<Vec<u32>, JsValue> {
        let run = || -> Result<Vec<u32>, Failure> {
            let matcher = self.matcher(&spec_json)?;
            let root = || vec![PathSegment::Key("documents".into())];
            let Value::Array(items) = documents(&documents_json, "documents")? else {
                return Err(Failure::Spec(SpecError::new(
                    ErrorCode::InvalidValue,
                    root(),
                    "documents must be a list of documents",
                )));
            };
            let mut kept = Vec::new();
            for (index, item) in items.into_iter().enumerate() {
                let mut path = root();
                path.push(PathSegment::Index(index));
                if !item.is_object() {
                    return Err(not_a_document(path).into());
                }
                if matcher.matches(&to_document(item, path)?)? {
                    kept.push(u32::try_from(index).unwrap_or(u32::MAX));
                }
            }
            Ok(kept)
        };
        run().map_err(Failure::into_js)
    }
}

impl WasmCompiler {
    /// The spec (JSON text) compiled and its filter prepared for evaluation.
    fn matcher(&self, spec_json: &JsValue) -> Result<Matcher, Failure> {
        let spec = json_text(spec_json, Arg::Spec(&self.compiler))?.unwrap_or_default();
        Ok(Matcher::new(&self.compiler.compile(&spec)?)?)
    }
}

/// A document argument's JSON text, its error paths below `root`.
fn documents(text: &JsValue, root: &'static str) -> Result<Value, SpecError> {
    json_text(text, Arg::Other(root))?.ok_or_else(|| not_a_document(vec![PathSegment::Key(root.to_owned())]))
}

fn not_a_document(path: Vec<PathSegment>) -> SpecError {
    SpecError::new(ErrorCode::InvalidValue, path, "a document is an object")
}

/// A document given as Extended JSON (canonical or relaxed, read as the `bson` crate reads it:
/// an integer is Int32, or Int64 beyond 32 bits, a fraction Double), at `path` for errors: a
/// malformed wrapper is `invalid_extended_json` at the path of its object.
fn to_document(value: Value, path: Vec<PathSegment>) -> Result<Document, SpecError> {
    match to_bson(value, &mut path.clone())? {
        Bson::Document(doc) => Ok(doc),
        _ => Err(SpecError::new(ErrorCode::InvalidValue, path, "a document is an object")),
    }
}

fn to_bson(value: Value, path: &mut Vec<PathSegment>) -> Result<Bson, SpecError> {
    Ok(match value {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                path.push(PathSegment::Index(index));
                out.push(to_bson(item, path)?);
                path.pop();
            }
            Bson::Array(out)
        }
        Value::Object(map) if map.keys().any(|key| key.starts_with('$')) => Bson::try_from(Value::Object(map))
            .map_err(|err| {
                let message = format!("malformed Extended JSON: {err}");
                SpecError::new(ErrorCode::InvalidExtendedJson, path.clone(), message)
            })?,
        Value::Object(map) => {
            let mut out = Document::new();
            for (key, item) in map {
                path.push(PathSegment::Key(key.clone()));
                out.insert(key, to_bson(item, path)?);
                path.pop();
            }
            Bson::Document(out)
        }
        scalar => Bson::try_from(scalar)
            .map_err(|err| SpecError::new(ErrorCode::InvalidValue, path.clone(), format!("not a BSON value: {err}")))?,
    })
}
