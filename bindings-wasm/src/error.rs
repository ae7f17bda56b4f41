//! Errors thrown to JavaScript: instances of the package's `SpecError`, `DecompileError` and
//! `MatchError` classes.
//!
//! The classes are defined in JavaScript (so `instanceof SpecError` works for users) and handed
//! to the module once at load time with `setSpecErrorClass`, `setDecompileErrorClass` and
//! `setMatchErrorClass`.

use std::cell::RefCell;
use std::thread::LocalKey;

use cqrs_mongo_spec::{DecompileError, EvalError, PathSegment, SpecError};
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

type ClassSlot = RefCell<Option<Function>>;

thread_local! {
    static ERROR_CLASS: ClassSlot = const { RefCell::new(None) };
    static DECOMPILE_ERROR_CLASS: ClassSlot = const { RefCell::new(None) };
    static MATCH_ERROR_CLASS: ClassSlot = const { RefCell::new(None) };
}

/// Registers the JavaScript `SpecError` class (`constructor(message, code, path)`).
#[wasm_bindgen(js_name = setSpecErrorClass)]
pub fn set_spec_error_class(class: Function) {
    ERROR_CLASS.with(|slot| *slot.borrow_mut() = Some(class));
}

/// Registers the JavaScript `DecompileError` class (`constructor(message, code, path)`).
#[wasm_bindgen(js_name = setDecompileErrorClass)]
pub fn set_decompile_error_class(class: Function) {
    DECOMPILE_ERROR_CLASS.with(|slot| *slot.borrow_mut() = Some(class));
}

/// Registers the JavaScript `MatchError` class (`constructor(message, code, path)`).
#[wasm_bindgen(js_name = setMatchErrorClass)]
pub fn set_match_error_class(class: Function) {
    MATCH_ERROR_CLASS.with(|slot| *slot.borrow_mut() = Some(class));
}

/// The error path as a JS array of strings and numbers.
pub(crate) fn path_to_js(path: &[PathSegment]) -> Array {
    path.iter()
        .map(|segment| match segment {
            PathSegment::Key(key) => JsValue::from_str(key),
            PathSegment::Index(index) => JsValue::from_f64(*index as f64),
        })
        .collect()
}

/// A `SpecError` instance (a plain `Error` with `code` and `path` if no class was registered).
pub(crate) fn to_js(err: &SpecError) -> JsValue {
    construct(&ERROR_CLASS, &err.to_string(), err.code().as_str(), err.path())
}

/// A `DecompileError` instance (a plain `Error` with `code` and `path` if no class was
/// registered); its path points into the filter.
pub(crate) fn decompile_to_js(err: &DecompileError) -> JsValue {
    construct(&DECOMPILE_ERROR_CLASS, &err.to_string(), err.code().as_str(), err.path())
}

/// A `MatchError` instance for a filter that cannot be evaluated in memory; its path points into
/// the compiled filter.
pub(crate) fn match_to_js(err: &EvalError) -> JsValue {
    construct(&MATCH_ERROR_CLASS, &err.to_string(), err.code().as_str(), err.path())
}

fn construct(slot: &'static LocalKey<ClassSlot>, text: &str, code: &str, path: &[PathSegment]) -> JsValue {
    let message = JsValue::from_str(text);
    let code = JsValue::from_str(code);
    let path: JsValue = path_to_js(path).into();
    let class = slot.with(|slot| slot.borrow().clone());
    if let Some(class) = class {
        let args = Array::of3(&message, &code, &path);
        if let Ok(instance) = Reflect::construct(&class, &args) {
            return instance;
        }
    }
    let error: JsValue = js_sys::Error::new(text).into();
    let _ = Reflect::set(&error, &"code".into(), &code);
    let _ = Reflect::set(&error, &"path".into(), &path);
    error
}

/// `{code, path, message}` for `validate`.
pub(crate) fn to_plain(err: &SpecError) -> JsValue {
    let object = js_sys::Object::new();
    let _ = Reflect::set(&object, &"code".into(), &err.code().as_str().into());
    let _ = Reflect::set(&object, &"path".into(), &path_to_js(err.path()));
    let _ = Reflect::set(&object, &"message".into(), &err.message().into());
    object.into()
}
