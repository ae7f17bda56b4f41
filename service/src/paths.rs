//! Request paths no route and no file can have are refused before anything reads them: a path
//! whose percent-decoded form holds a control character (`/%00`, `/a%0Ab`) is 400
//! `invalid_path`. Without this, `ServeDir` hands such a path to the file system, which refuses
//! it, and answers a HEAD with a 500.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Refuses a request whose path decodes to a control character; passes the others on.
pub async fn refuse_control_characters(request: Request, next: Next) -> Response {
    if has_control_character(request.uri().path()) {
        let message = "the path holds a control character (percent-encoded)";
        return ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", message).into_response();
    }
    next.run(request).await
}

/// True when `path`, percent-decoded, holds a C0 control character or DEL. (The raw path cannot:
/// the `http` crate refuses such a request line.)
pub fn has_control_character(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().any(|(at, byte)| match byte {
        b'%' => bytes
            .get(at + 1..at + 3)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
            .is_some_and(|decoded| decoded.is_ascii_control()),
        byte => byte.is_ascii_control(),
    })
}

#[cfg(test)]
mod tests {
    use super::has_control_character;

    #[test]
    fn encoded_control_characters_are_found_and_other_escapes_are_not() {
        for path in ["/%00", "/a%0Ab", "/%7f", "/pkg/%1F.js", "/x%09"] {
            assert!(has_control_character(path), "{path}");
        }
        for path in
            ["/", "/orders/o-1", "/%20x", "/%ff%fe", "/%2e%2e/pay", "/100%", "/%0", "/%zz", "/%+1", "/caf%C3%A9"]
        {
            assert!(!has_control_character(path), "{path}");
        }
    }
}
