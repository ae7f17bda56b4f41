//! Every error the service answers with, as JSON `{"code", "path"?, "message"}` and its status:
//! a bad spec is 400 with the compiler's stable `code` and `path`; a bad request body 400 (or
//! 413 when too large, 415 without a JSON content type); a command the database refused for
//! what it asks 400 `query_refused` (the same input fails again, so it is the client's); a
//! missing order 404; a concurrency conflict or an order in the wrong state 409; a database that
//! does not answer 503 `database_unavailable` (try again); anything else 500 (never shown to
//! the client in detail). Answers the framework or the static files make without a JSON body
//! get the same shape from [`json_errors`](crate::json_errors).
//!
//! An [`ApiError`] keeps what caused it (its [`source`](ApiError::with_source), e.g. the
//! driver's error) for the logs, not for the client: its response carries a [`Failure`] in its
//! extensions, which [`observe`](crate::observe) logs in one place (as axum's error-handling
//! example does), server errors with their source chain.

use std::sync::Arc;

use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cqrs_mongo_demo::PayError;
use cqrs_mongo_persistence::Error;
use cqrs_mongo_spec::{PathSegment, SpecError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// What caused an error, for the logs (the client never sees it).
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    path: Option<Vec<PathSegment>>,
    message: String,
    source: Option<Source>,
}

/// What an error response carries in its extensions for [`observe`](crate::observe) to log:
/// the answer the client got and, when known, what caused it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The stable code of the answer.
    pub code: &'static str,
    /// The message the client got.
    pub message: String,
    /// The cause, with its own source chain.
    pub source: Option<Source>,
}

impl ApiError {
    /// An error without a path: `status`, a stable snake_case `code`, a message for people.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, path: None, message: message.into(), source: None }
    }

    /// 500 `internal` ("internal error"), caused by `source` (logged, not shown).
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error").with_source(source)
    }

    /// This error, caused by `source`: logged with its chain, never sent to the client.
    pub fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    /// 413: a body over `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        let message = format!("the request body is larger than {limit} bytes");
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message)
    }

    /// A request the service refuses: `code` and the path of the offending value.
    pub fn bad_request(code: &'static str, path: Vec<PathSegment>, message: impl Into<String>) -> Self {
        ApiError { path: Some(path), ..ApiError::new(StatusCode::BAD_REQUEST, code, message) }
    }

    /// 404 for a missing order.
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<SpecError> for ApiError {
    fn from(err: SpecError) -> Self {
        ApiError::bad_request(err.code().as_str(), err.path().to_vec(), err.message())
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let (status, code) = match &err {
            Error::Spec(spec) => return ApiError::from(spec.clone()),
            Error::InvalidTransition { .. } => (StatusCode::CONFLICT, "invalid_transition"),
            err if err.is_conflict() => (StatusCode::CONFLICT, "conflict"),
            err if err.is_unavailable() => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            // The server answered, and no: a regex over its cap, a query over its time limit.
            err if err.is_refused() => (StatusCode::BAD_REQUEST, "query_refused"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        // Server-side failures are logged with the error (see `observe`); the client learns
        // what to do, not the details.
        let message = match status {
            StatusCode::INTERNAL_SERVER_ERROR => "internal error".into(),
            StatusCode::SERVICE_UNAVAILABLE => "the database did not answer; try again".into(),
            _ => err.to_string(),
        };
        ApiError::new(status, code, message).with_source(err)
    }
}

impl From<PayError> for ApiError {
    /// The command's refusals are the client's: 404 for an unknown order, 409 for one that is not
    /// `placed`; a store failure is mapped as every store error is.
    fn from(err: PayError) -> Self {
        match err {
            PayError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", err.to_string()),
            PayError::NotPayable { .. } => ApiError::new(StatusCode::CONFLICT, "invalid_transition", err.to_string()),
            PayError::Store(err) => ApiError::from(err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let Some(path) = self.path {
            body["path"] = serde_json::to_value(path).unwrap_or(Value::Null);
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        let failure = Failure { code: self.code, message: self.message, source: self.source };
        response.extensions_mut().insert(failure);
        response
    }
}

/// A JSON request body whose rejections are [`ApiError`]s (JSON like every other answer).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "invalid_body",
    };
    ApiError::new(status, code, rejection.body_text())
}

/// An empty request body, for routes that take none: a body is refused (400, or 413 when too
/// large), not ignored.
#[derive(Debug)]
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "invalid_body" };
            ApiError::new(status, code, rejection.body_text())
        })?;
        if !bytes.is_empty() {
            let message = "this route takes no request body";
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "unexpected_body", message));
        }
        Ok(NoBody)
    }
}

/// A path parameter whose rejections are [`ApiError`]s.
#[derive(Debug)]
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParam(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", rejection.body_text())
}

/// A successful JSON answer with a status.
pub fn answer(status: StatusCode, body: impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}
