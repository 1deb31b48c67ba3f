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
