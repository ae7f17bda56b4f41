//! `matches` and `filter`: a spec compiled once and its filter evaluated in memory on documents
//! ([`Matcher`]): `Compiler.matcherJson` makes the `Matcher` class, which the package's JS layer
//! uses for every call (`matches`, `filter`, `matcher`). Documents arrive as BSON bytes the JS
//! layer wrote into the input buffer (`js/bson.mjs`), read in place by
//! [`Matcher::filter_raw`]; or, for what that writer leaves to it, as Extended JSON text, read
//! straight into BSON by [`cqrs_mongo_spec::document_from_extended_json`].

use std::cell::RefCell;

use bson::{Bson, Document, RawDocument};
use cqrs_mongo_spec::{
    ErrorCode, EvalError, Matcher, PathSegment, SpecError, bson_from_extended_json, bson_from_json, parse_json_utf16,
};
use js_sys::JsString;
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
    /// The spec (JSON text) compiled and its filter prepared once, for any number of documents
    /// (`matches` and `filter` of the package's JS layer go through one too).
    #[wasm_bindgen(js_name = matcherJson)]
    pub fn matcher_json(&self, spec_json: JsValue) -> Result<WasmMatcher, JsValue> {
        self.matcher(&spec_json).map_err(Failure::into_js)
    }
}

impl WasmCompiler {
    /// The spec (JSON text) compiled and its filter prepared for evaluation.
    fn matcher(&self, spec_json: &JsValue) -> Result<WasmMatcher, Failure> {
        let spec = json_text(spec_json, Arg::Spec(&self.compiler))?.unwrap_or_default();
        Ok(WasmMatcher { matcher: Matcher::new(&self.compiler.compile(&spec)?)? })
    }
}

/// A spec's filter prepared once (`compiler.matcher(spec)` in the package's JS layer, which
/// wraps this class).
#[wasm_bindgen(js_name = Matcher)]
pub struct WasmMatcher {
    matcher: Matcher,
}

#[wasm_bindgen(js_class = Matcher)]
impl WasmMatcher {
    /// Whether `find` with the filter would return the document (Extended JSON text).
    #[wasm_bindgen(js_name = matchesJson)]
    pub fn matches_json(&self, document_json: JsValue) -> Result<bool, JsValue> {
        self.matches_text(&document_json).map_err(Failure::into_js)
    }

    /// `matchesJson` with the text also given as UTF-8 bytes, the first `len` of the input
    /// buffer ([`input_buffer`]), where the JS layer wrote them in place with one
    /// `TextEncoder.encodeInto` (a string argument is copied a code unit at a time into a fresh
    /// allocation); `document_json` is read only when the bytes hold U+FFFD, where the text may
    /// have had a lone surrogate.
    #[wasm_bindgen(js_name = matchesInput)]
    pub fn matches_input(&self, len: usize, document_json: JsValue) -> Result<bool, JsValue> {
        let document = INPUT.with_borrow(|input| match input.get(..len) {
            Some(bytes) => read_utf8(bytes, &document_json, "document"),
            None => read(&document_json, "document"),
        });
        self.matches_read(document).map_err(Failure::into_js)
    }

    /// `filterJson` with the text also given as UTF-8 bytes in the input buffer, as
    /// `matchesInput`.
    #[wasm_bindgen(js_name = filterInput)]
    pub fn filter_input(&self, len: usize, documents_json: JsValue) -> Result<Vec<u32>, JsValue> {
        let documents = INPUT.with_borrow(|input| match input.get(..len) {
            Some(bytes) => read_utf8(bytes, &documents_json, "documents"),
            None => read(&documents_json, "documents"),
        });
        self.filter_read(documents).map_err(Failure::into_js)
    }

    /// Whether `find` with the filter would return the document whose BSON bytes are the first
    /// `len` of the input buffer ([`input_buffer`]), written there by the JS layer and read in
    /// place ([`Matcher::matches_raw`]).
    #[wasm_bindgen(js_name = matchesBson)]
    pub fn matches_bson(&self, len: usize) -> Result<bool, JsValue> {
        INPUT
            .with_borrow(|input| {
                let bytes = &input[..len.min(input.len())];
                match RawDocument::from_bytes(bytes) {
                    Ok(document) => self.matcher.matches_raw(document),
                    // Not one document: the core's reading of the bytes says what is wrong.
                    Err(_) => self.matcher.filter_raw(bytes).map(|kept| kept == [0]),
                }
            })
            .map_err(|err| Failure::Eval(err).into_js())
    }

    /// The indexes of the documents the filter keeps, in order: BSON documents back to back in
    /// the first `len` bytes of the input buffer, as `matchesBson`.
    #[wasm_bindgen(js_name = filterBson)]
    pub fn filter_bson(&self, len: usize) -> Result<Vec<u32>, JsValue> {
        let kept = INPUT.with_borrow(|input| self.matcher.filter_raw(&input[..len.min(input.len())]));
        let kept = kept.map_err(|err| Failure::Eval(err).into_js())?;
        Ok(kept.into_iter().map(|index| u32::try_from(index).unwrap_or(u32::MAX)).collect())
    }

    /// The indexes of the documents (an Extended JSON list) the filter keeps, in order.
    #[wasm_bindgen(js_name = filterJson)]
    pub fn filter_json(&self, documents_json: JsValue) -> Result<Vec<u32>, JsValue> {
        self.filter_text(&documents_json).map_err(Failure::into_js)
    }

    /// The top-level fields of a document the filter reads ([`Matcher::fields`]), or undefined
    /// when it may read any: the JS layer writes only those of a document object.
    pub fn fields(&self) -> JsValue {
        match self.matcher.fields() {
            Some(fields) => fields.into_iter().map(JsValue::from_str).collect::<js_sys::Array>().into(),
            None => JsValue::UNDEFINED,
        }
    }
}

impl WasmMatcher {
    fn matches_text(&self, document_json: &JsValue) -> Result<bool, Failure> {
        self.matches_read(read(document_json, "document"))
    }

    fn filter_text(&self, documents_json: &JsValue) -> Result<Vec<u32>, Failure> {
        self.filter_read(read(documents_json, "documents"))
    }

    fn matches_read(&self, document: Result<Bson, SpecError>) -> Result<bool, Failure> {
        let root = || vec![PathSegment::Key("document".into())];
        match document? {
            Bson::Document(document) => Ok(self.matcher.matches(&document)?),
            _ => Err(not_a_document(root()).into()),
        }
    }

    fn filter_read(&self, documents: Result<Bson, SpecError>) -> Result<Vec<u32>, Failure> {
        let root = || vec![PathSegment::Key("documents".into())];
        let Bson::Array(items) = documents? else {
            return Err(SpecError::new(ErrorCode::InvalidValue, root(), "documents must be a list of documents").into());
        };
        // Every document is read before any is evaluated: an unreadable one is an error
        // whatever the filter says of the others.
        let documents = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Bson::Document(document) => Ok(document),
                _ => Err(not_a_document(vec![PathSegment::Key("documents".into()), PathSegment::Index(index)])),
            })
            .collect::<Result<Vec<Document>, SpecError>>()?;
        let mut kept = Vec::new();
        for (index, document) in documents.iter().enumerate() {
            if self.matcher.matches(document)? {
                kept.push(u32::try_from(index).unwrap_or(u32::MAX));
            }
        }
        Ok(kept)
    }
}

thread_local! {
    /// Where the JS layer writes a document's UTF-8 text for `matchesInput` and `filterInput`.
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The address of the input buffer in the module's memory, at least `len` bytes long (zeros
/// until written). It moves only when a larger one is asked for; the JS layer asks once.
#[wasm_bindgen(js_name = inputBuffer)]
pub fn input_buffer(len: usize) -> usize {
    INPUT.with_borrow_mut(|input| {
        if input.len() < len {
            input.resize(len, 0);
        }
        input.as_mut_ptr() as usize
    })
}

/// The module's `WebAssembly.Memory`, for the JS layer's view of the input buffer.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

fn not_a_document(path: Vec<PathSegment>) -> SpecError {
    SpecError::new(ErrorCode::InvalidValue, path, "a document is an object")
}

/// A document argument (Extended JSON text) as BSON, its error paths below `root`. `as_string`
/// replaces a lone surrogate with U+FFFD: when the text holds one, its code units are read as
/// they are, so the lone surrogate is reported where it is.
fn read(text: &JsValue, root: &'static str) -> Result<Bson, SpecError> {
    let Some(string) = text.as_string() else {
        return Err(not_a_document(vec![PathSegment::Key(root.to_owned())]));
    };
    read_str(&string, text, root)
}

/// [`read`] with the text's UTF-8 bytes (as `TextEncoder` writes them, a lone surrogate as
/// U+FFFD like `as_string`) beside the text itself.
fn read_utf8(bytes: &[u8], text: &JsValue, root: &'static str) -> Result<Bson, SpecError> {
    match (std::str::from_utf8(bytes), text.is_string()) {
        (Ok(string), true) => read_str(string, text, root),
        _ => read(text, root),
    }
}

/// `string`, the UTF-8 of the JS string `text`, as BSON.
fn read_str(string: &str, text: &JsValue, root: &'static str) -> Result<Bson, SpecError> {
    let below_root = |err: SpecError| {
        let path = std::iter::once(PathSegment::Key(root.to_owned())).chain(err.path().iter().cloned());
        SpecError::new(err.code(), path.collect(), err.message())
    };
    let js: &JsString = text.unchecked_ref();
    if crate::may_hold_lone_surrogate(string) && !js.is_valid_utf16() {
        let units: Vec<u16> = js.iter().collect();
        return parse_json_utf16(&units).and_then(|value| bson_from_json(&value)).map_err(below_root);
    }
    bson_from_extended_json(string).map_err(below_root)
}
