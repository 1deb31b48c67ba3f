//! `AppError`: the one error type the browser sees.
//!
//! Each variant says what the person (or the UI) must do next. Messages are written for people and
//! never carry internals, tokens, codes or login ids: with JavaScript off, Leptos puts a failed server
//! function's error into the redirect URL (`?__err=`), so whatever is in here may end up in a URL.
//! Unexpected failures carry only an error id; the cause is logged next to that id on the server.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// A form field is missing or malformed; `field` is the input's `name`.
    #[error("{message}")]
    InvalidInput { field: String, message: String },

    #[error("That code is not right. Check the latest message and try again.")]
    WrongCode,

    #[error("Too many wrong tries for this code. Send a new code and use that one.")]
    TooManyAttempts,

    #[error("That code has expired. Send a new code and use that one.")]
    CodeExpired,

    #[error("Too many requests. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },

    #[error("An account already exists for that address. Sign in instead.")]
    AlreadyRegistered,

    #[error("We couldn't find an account for that address. Check it, or sign up.")]
    UnknownUser,

    #[error("That address already belongs to another account.")]
    AddressInUse,

    #[error("There is no code waiting to be entered. Start again.")]
    NoPendingCode,

    #[error("Please sign in to continue.")]
    NotSignedIn,

    #[error("Page not found.")]
    NotFound,

    #[error(
        "We couldn't reach the sign-in service. Please try again in a moment. (Error id {error_id})"
    )]
    ServiceUnavailable { error_id: String },

    #[error("We couldn't reach the server. Check your connection and try again.")]
    Network,

    #[error("Something went wrong on our side. (Error id {error_id})")]
    Internal { error_id: String },
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The HTTP status a page showing this error should carry.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::InvalidInput { .. }
            | Self::WrongCode
            | Self::CodeExpired
            | Self::NoPendingCode
            | Self::UnknownUser => 400,
            Self::NotSignedIn => 401,
            Self::NotFound => 404,
            Self::AlreadyRegistered | Self::AddressInUse => 409,
            Self::TooManyAttempts | Self::RateLimited { .. } => 429,
            Self::ServiceUnavailable { .. } => 503,
            Self::Network => 502,
            Self::Internal { .. } => 500,
        }
    }

    /// The form field this error is about, so the page can mark it `aria-invalid`.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidInput { field, .. } => Some(field),
            Self::WrongCode | Self::CodeExpired | Self::TooManyAttempts => Some("code"),
            Self::AlreadyRegistered | Self::UnknownUser | Self::AddressInUse => Some("login_id"),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Arguments that did not deserialise: a field missing or of the wrong shape. The form
            // controls make this unlikely, so one general message is enough.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => Self::InvalidInput {
                field: String::new(),
                message:
                    "Some of the form was missing or not understood. Please check it and try again."
                        .to_owned(),
            },
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::Network,
            other => Self::Internal {
                error_id: new_error_id(&other.to_string()),
            },
        }
    }
}

/// Makes an error id for an unexpected failure and, on the server, logs the cause with it.
pub fn new_error_id(cause: &str) -> String {
    #[cfg(feature = "ssr")]
    {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        tracing::error!(error_id = %id, cause, "unexpected error");
        id
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = cause;
        "client".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_the_server_function_encoding() {
        let original = AppError::RateLimited {
            retry_after_secs: 42,
        };
        let bytes = original.ser();
        assert_eq!(AppError::de(bytes), original);
    }

    #[test]
    fn unexpected_errors_hide_their_cause_behind_an_id() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "database is locked at /var/secret/path".into(),
        ));
        let shown = err.to_string();
        assert!(!shown.contains("database"), "{shown}");
        assert!(shown.contains("Error id"), "{shown}");
        assert_eq!(err.status_code(), 500);
    }

    #[test]
    fn code_errors_point_at_the_code_field() {
        assert_eq!(AppError::WrongCode.field(), Some("code"));
        assert_eq!(AppError::WrongCode.status_code(), 400);
    }
}
