//! Types that cross the wire between the browser and the server. Never tokens.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a one-time code is delivered. The wire names are Descope's path segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMethod {
    #[default]
    Email,
    Sms,
    Voice,
    Whatsapp,
}

impl DeliveryMethod {
    pub const ALL: [DeliveryMethod; 4] = [Self::Email, Self::Sms, Self::Voice, Self::Whatsapp];

    /// Descope's path segment for this method (`/v1/auth/otp/signin/{m}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Whatsapp => "whatsapp",
        }
    }

    /// What a person reads in a form.
    pub fn label(self) -> &'static str {
        match self {
            Self::Email => "Email",
            Self::Sms => "Text message (SMS)",
            Self::Voice => "Voice call",
            Self::Whatsapp => "WhatsApp",
        }
    }

    /// Whether the login id for this method is a phone number.
    pub fn is_phone(self) -> bool {
        !matches!(self, Self::Email)
    }
}

impl fmt::Display for DeliveryMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryMethod {
    type Err = UnknownDeliveryMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(UnknownDeliveryMethod)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("choose email, sms, voice or whatsapp")]
pub struct UnknownDeliveryMethod;

/// Which journey a one-time code belongs to. It decides what verifying the code does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flow {
    SignUpOrIn,
    SignUp,
    SignIn,
    /// A fresh sign-in of the signed-in user, demanded before a sensitive change.
    StepUp,
    UpdateEmail,
    UpdatePhone,
}

impl Flow {
    /// Where "use a different address" sends the person.
    pub fn start_path(self) -> &'static str {
        match self {
            Self::SignUpOrIn => "/sign-up-or-in",
            Self::SignUp => "/sign-up",
            Self::SignIn => "/sign-in",
            Self::StepUp | Self::UpdateEmail => "/profile/email",
            Self::UpdatePhone => "/profile/phone",
        }
    }
}

/// What the code-entry page shows about the code that is waiting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    pub flow: Flow,
    pub method: DeliveryMethod,
    /// The destination as Descope masked it, e.g. `a***@example.com`.
    pub masked: String,
    /// Seconds until another code may be requested (0 = now).
    pub resend_in_secs: u64,
    /// Set when this code confirms the person before a change to `then`.
    pub then: Option<String>,
    /// A sign-in code that went out only if an account exists: the page says so, the same way
    /// for every address, so that it tells no one who has an account.
    pub if_account_exists: bool,
}

/// The signed-in person, as the profile page shows them. Built from the validated session JWT and
/// Descope's user record; holds no token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub user_id: String,
    pub name: Option<String>,
    pub login_ids: Vec<String>,
    pub email: Option<String>,
    pub verified_email: bool,
    pub phone: Option<String>,
    pub verified_phone: bool,
    /// Unix seconds at which the current session JWT expires.
    pub session_expires_at: i64,
    /// Unix seconds of the last code this person verified (sign-in or step-up).
    pub authenticated_at: i64,
    /// Authentication methods in the session JWT (`amr`).
    pub amr: Vec<String>,
    /// Whether the session JWT carries `su: true` (a step-up session).
    pub stepped_up: bool,
    /// Claims beyond Descope's registered ones, as `name = JSON value`.
    pub custom_claims: Vec<(String, String)>,
}

/// What every page needs to know about the server it talks to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    /// Set when the app runs on its embedded Descope emulator: where its dev outbox lives.
    pub emulator_outbox_url: Option<String>,
    /// Who this browser is signed in as (their name, else their masked login id), for the
    /// header; `None` when signed out. Never a token, never a full address.
    pub signed_in_as: Option<String>,
}

/// Claims Descope sets itself; a form may not override them.
pub const RESERVED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "drn",
    "amr",
    "su",
    "dsub",
    "dct",
    "tenants",
    "roles",
    "permissions",
    "rexp",
];
