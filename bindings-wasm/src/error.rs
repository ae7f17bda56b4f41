//! Errors thrown to JavaScript: instances of the package's `SpecError` class.
//!
//! The class is defined in JavaScript (so `instanceof SpecError` works for users) and handed to
//! the module once at load time with `setSpecErrorClass`.

use std::cell::RefCell;

use cqrs_mongo_spec::{PathSegment, SpecError};
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

thread_local! {
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers the JavaScript `SpecError` class (`constructor(message, code, path)`).
#[wasm_bindgen(js_name = setSpecErrorClass)]
pub fn set_spec_error_class(class: Function) {
    ERROR_CLASS.with(|slot| *slot.borrow_mut() = Some(class));
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
    let message = JsValue::from_str(&err.to_string());
    let code = JsValue::from_str(err.code().as_str());
    let path: JsValue = path_to_js(err.path()).into();
    let class = ERROR_CLASS.with(|slot| slot.borrow().clone());
    if let Some(class) = class {
        let args = Array::of3(&message, &code, &path);
        if let Ok(instance) = Reflect::construct(&class, &args) {
            return instance;
        }
    }
    let error: JsValue = js_sys::Error::new(&err.to_string()).into();
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
