//! `AppError`: the one error type the browser sees.
//!
//! Each variant says what the person (or the UI) must do next. Messages are written for people and
//! never carry internals, tokens, codes or login ids: with JavaScript off, Leptos puts a failed server
//! function's error into the redirect URL (`?__err=`), so whatever is in here may end up in a URL.
//! Unexpected failures carry only an error id; the cause is logged next to that id on the server.
//!
//! Because that URL can be crafted by anyone, an `AppError` holds no free text: every message is
//! written here, chosen by an enum ([`Problem`]), and the few values inside (a field name, an error
//! id, a reserved claim's name, a number of seconds) are checked when read back, so a link cannot
//! make the site's own alert box say something the server never wrote.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Deserializer, Serialize};

use crate::models::RESERVED_CLAIMS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// A form field is missing or malformed.
    #[error("{problem}")]
    InvalidInput { field: Field, problem: Problem },

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
        "This request came from another site, so it was refused. Go back to the app and try again."
    )]
    CrossSite,

    #[error("That request is too large. Shorten what you typed and try again.")]
    TooLarge,

    #[error("That request arrived too slowly. Check your connection and try again.")]
    TooSlow,

    #[error(
        "We couldn't reach the sign-in service. Please try again in a moment. (Error id {error_id})"
    )]
    ServiceUnavailable {
        #[serde(deserialize_with = "error_id")]
        error_id: String,
    },

    #[error("We couldn't reach the server. Check your connection and try again.")]
    Network,

    #[error("Something went wrong on our side. (Error id {error_id})")]
    Internal {
        #[serde(deserialize_with = "error_id")]
        error_id: String,
    },
}

/// The form fields an error can point at: each is an input's `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    LoginId,
    Email,
    Phone,
    Name,
    Code,
    Method,
    CustomClaims,
    TemplateOptions,
    Stepup,
    /// The form as a whole.
    Form,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginId => "login_id",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Name => "name",
            Self::Code => "code",
            Self::Method => "method",
            Self::CustomClaims => "custom_claims",
            Self::TemplateOptions => "template_options",
            Self::Stepup => "stepup",
            Self::Form => "form",
        }
    }
}

/// What is wrong with an input, each with the one message the server writes for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Problem {
    #[error("Enter an email address.")]
    EmailMissing,
    #[error("That doesn't look like an email address. It should look like name@example.com.")]
    EmailMalformed,
    #[error("An email address has at most 254 characters.")]
    EmailTooLong,
    #[error("Enter a phone number.")]
    PhoneMissing,
    #[error("Start the number with + and its country code, for example +1 415 555 2671.")]
    PhoneNoCountryCode,
    #[error("A phone number has only digits after the +, for example +1 415 555 2671.")]
    PhoneNotDigits,
    #[error(
        "That is too long for a phone number. Include only the number, for example +1 415 555 2671."
    )]
    PhoneTooLong,
    #[error(
        "That isn't a valid phone number. Include the country code, for example +1 415 555 2671."
    )]
    PhoneInvalid,
    #[error("Choose text message, voice call or WhatsApp.")]
    PhoneChannelRequired,
    #[error("Keep the name under 100 characters.")]
    NameTooLong,
    #[error("The name has characters that can't be used.")]
    NameControlCharacters,
    #[error("Enter the code from your message.")]
    CodeMissing,
    #[error("The code is made of digits only.")]
    CodeNotDigits,
    #[error("That is longer than any code we send. Enter the code from your latest message.")]
    CodeTooLong,
    #[error("Keep custom claims under 2 KB.")]
    ClaimsTooLarge,
    #[error(r#"Custom claims must be a JSON object, for example {{"plan": "pro"}}."#)]
    ClaimsNotAnObject,
    #[error("Use at most 20 custom claims.")]
    TooManyClaims,
    #[error("\"{claim}\" is set by Descope and can't be a custom claim.")]
    ReservedClaim {
        #[serde(deserialize_with = "reserved_claim")]
        claim: String,
    },
    #[error("Write template options as name=value, one per line.")]
    TemplateLineMalformed,
    #[error("Template option names use letters, digits, _ and - only, up to 64 characters.")]
    TemplateNameInvalid,
    #[error(
        "Keep each template option value under 500 characters, on one line, without control characters."
    )]
    TemplateValueInvalid,
    #[error("Use at most 20 template options.")]
    TooManyTemplateOptions,
    #[error("Step-up and MFA add to a session you already have: sign in first.")]
    StepUpNeedsSession,
    #[error("Step-up and MFA work only with a login id of the account you are signed in to.")]
    StepUpNotYourLoginId,
    #[error(
        "Template options go only into messages to an account that is yours: use them when signing up, or on sign-in with step-up or MFA."
    )]
    TemplateOptionsNeedYourAccount,
    #[error("That address was not accepted. Check it and try again.")]
    AddressRefused,
    #[error("The form was not sent as UTF-8 text. Please try again from the app's own page.")]
    NotUtf8,
    #[error("Some of the form was missing or not understood. Please check it and try again.")]
    FormUnreadable,
}

/// An error id as [`new_error_id`] makes them: a few lowercase letters and digits.
fn error_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let id = String::deserialize(deserializer)?;
    let valid = (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase());
    if valid {
        Ok(id)
    } else {
        Err(serde::de::Error::custom("not an error id"))
    }
}

/// Only the name of a claim Descope really reserves.
fn reserved_claim<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let claim = String::deserialize(deserializer)?;
    if RESERVED_CLAIMS.contains(&claim.as_str()) {
        Ok(claim)
    } else {
        Err(serde::de::Error::custom("not a reserved claim"))
    }
}

impl AppError {
    pub fn invalid(field: Field, problem: Problem) -> Self {
        Self::InvalidInput { field, problem }
    }

    #[cfg(feature = "ssr")]
    /// Reads an error back from the `__err` value Leptos puts in a URL after a failed form post
    /// without JavaScript. `None` for anything the server did not write.
    pub fn from_url_value(value: &str) -> Option<Self> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(value)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
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
            Self::CrossSite => 403,
            Self::NotFound => 404,
            Self::TooSlow => 408,
            Self::TooLarge => 413,
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
            Self::InvalidInput { field, .. } => Some(field.as_str()),
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
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                Self::invalid(Field::Form, Problem::FormUnreadable)
            }
            // On the server this is a request body the arguments could not be read from.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(_) => {
                Self::invalid(Field::Form, Problem::FormUnreadable)
            }
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

    #[cfg(feature = "ssr")]
    fn url_value(json: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn only_errors_the_server_writes_can_be_read_back_from_a_url() {
        let written = AppError::invalid(Field::Code, Problem::CodeNotDigits);
        let value = url_value(&serde_json::to_string(&written).expect("json"));
        assert_eq!(AppError::from_url_value(&value), Some(written));
        for forged in [
            r#"{"InvalidInput":{"field":"code","message":"Your account is locked, call +1 555"}}"#,
            r#"{"InvalidInput":{"field":"code","problem":"SomethingElse"}}"#,
            r#"{"InvalidInput":{"field":"evil","problem":"CodeMissing"}}"#,
            r#"{"Internal":{"error_id":"call us at +1 555 0100"}}"#,
            r#"{"InvalidInput":{"field":"custom_claims","problem":{"ReservedClaim":{"claim":"visit evil.example"}}}}"#,
            "not json at all",
        ] {
            assert_eq!(
                AppError::from_url_value(&url_value(forged)),
                None,
                "{forged}"
            );
        }
        assert_eq!(AppError::from_url_value("%%%not base64"), None);
    }

    #[test]
    fn code_errors_point_at_the_code_field() {
        assert_eq!(AppError::WrongCode.field(), Some("code"));
        assert_eq!(AppError::WrongCode.status_code(), 400);
    }
}
