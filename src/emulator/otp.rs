//! One-time-code rules, free of HTTP: delivery methods, login-id shapes, masking, code
//! generation, the pending-code book (expiry, attempts, newest-wins) and the per-recipient
//! message cap. Every time value comes in as `now` from the injected clock.

use std::collections::{HashMap, VecDeque};

use axum::http::StatusCode;
use rand::Rng;
use serde_json::Value;

use super::error::{ApiError, codes};

/// A delivery channel (the `{m}` path suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Email,
    Sms,
    Voice,
    Whatsapp,
}

impl Method {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            "voice" => Some(Self::Voice),
            "whatsapp" => Some(Self::Whatsapp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Whatsapp => "whatsapp",
        }
    }

    pub fn is_phone(self) -> bool {
        self != Self::Email
    }

    /// The `amr` value a verify through this channel adds.
    // UNCONFIRMED: the amr value for voice OTP; "voice" is our guess (src/descope/API.md §5).
    pub fn amr(self) -> &'static str {
        self.as_str()
    }

    /// The masked-address response field the SDKs read (Python raises KeyError without it).
    pub fn masked_field(self) -> &'static str {
        if self.is_phone() {
            "maskedPhone"
        } else {
            "maskedEmail"
        }
    }

    pub fn mask(self, address: &str) -> String {
        if self.is_phone() {
            mask_phone(address)
        } else {
            mask_email(address)
        }
    }

    /// Whether `address` has the shape this channel sends to: an email address for email, an
    /// E.164 phone number for the others.
    pub fn accepts(self, address: &str) -> bool {
        if self.is_phone() {
            is_phone(address)
        } else {
            is_email(address)
        }
    }

    /// Refuses a login id whose shape does not fit the channel.
    pub fn check_address(self, field: &str, value: &str) -> Result<(), ApiError> {
        if value.trim().is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::MISSING_ARGUMENTS,
                format!("The {field} argument is missing"),
            ));
        }
        if self.accepts(value) {
            Ok(())
        } else {
            let expected = if self.is_phone() {
                "a phone number in E.164 form, e.g. +14155550100"
            } else {
                "an email address"
            };
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::INVALID_ARGUMENTS,
                format!(
                    "The {field} argument is invalid: {} needs {expected}",
                    self.as_str()
                ),
            ))
        }
    }
}

/// A deliberately plain email shape check: one `@`, a non-empty local part, a dotted domain, no
/// whitespace. Deliverability is not the emulator's business.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// E.164: `+`, a non-zero digit, then 6 to 14 more digits.
pub fn is_phone(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

pub fn mask_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

pub fn mask_phone(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let keep = chars.len().min(4);
    let hidden = chars.len() - keep;
    let tail: String = chars[hidden..].iter().collect();
    format!("{}{tail}", "*".repeat(hidden))
}

/// How many different codes there are: six decimal digits.
const CODE_SPACE: u32 = 1_000_000;

/// Six random digits, uniformly drawn from every code except those in `taken`, in one draw.
///
/// A new code never equals the code it replaces, so whoever holds the old one (a test, a person
/// with two messages) can always tell them apart; Descope states no such rule, but a clash there
/// is a one-in-a-million event that a test must not depend on.
pub fn generate_code_other_than(taken: &[&str]) -> String {
    let mut excluded: Vec<u32> = taken
        .iter()
        .filter_map(|c| c.parse::<u32>().ok())
        .filter(|n| *n < CODE_SPACE)
        .collect();
    excluded.sort_unstable();
    excluded.dedup();
    // Draw among the codes that are left, then step over each excluded code at or below the
    // draw: every remaining code is equally likely and no retry loop is needed.
    let left = CODE_SPACE - excluded.len() as u32;
    let mut n: u32 = rand::rngs::OsRng.gen_range(0..left);
    for e in excluded {
        if e <= n {
            n += 1;
        }
    }
    format!("{n:06}")
}

/// Why a code was sent; also the outbox `purpose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignUp,
    SignIn,
    SignUpOrIn,
    UpdateEmail,
    UpdatePhone,
    Test,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "signup",
            Self::SignIn => "signin",
            Self::SignUpOrIn => "signup-in",
            Self::UpdateEmail => "update-email",
            Self::UpdatePhone => "update-phone",
            Self::Test => "test",
        }
    }
}

/// Profile data a sign-up carries until the verify creates the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// What a successful verify does besides issuing tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// Sign-up, and sign-up-or-in of a login id no one has: create the user with this profile
    /// (or sign in whoever holds the login id by the time the code is verified). The only
    /// completion that may create a user.
    SignUp { profile: Profile },
    /// Sign-in, sign-up-or-in of an existing user, and test codes: sign in exactly this user.
    /// If the user is gone by the time the code is verified, the code is refused; it never
    /// creates anyone.
    SignIn { user_id: String },
    /// Update email/phone: set `new_address` on `user_id`.
    Update {
        user_id: String,
        new_address: String,
        add_to_login_ids: bool,
        on_merge_use_existing: bool,
    },
}

/// Session features requested with the code and applied when it is verified.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionRequest {
    pub custom_claims: serde_json::Map<String, Value>,
    pub stepup: bool,
    pub mfa: bool,
    /// Claims of the session being stepped up / extended (from its refresh token).
    pub prior_claims: Option<Value>,
}

/// A code waiting to be verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The login id the code was requested for; verify is keyed on it.
    pub login_id: String,
    /// Another id verify accepts: the new address of an update (src/descope/API.md §3.3).
    pub alias: Option<String>,
    /// Where the code went; verifying it proves this address.
    pub destination: String,
    pub method: Method,
    pub code: String,
    pub expires_at: i64,
    pub wrong_attempts: u32,
    /// Burned by too many wrong attempts: every further try fails until a new code is sent.
    pub locked: bool,
    pub completion: Completion,
    pub session: SessionRequest,
}

impl Pending {
    fn answers_to(&self, id: &str) -> bool {
        self.login_id == id || self.alias.as_deref() == Some(id)
    }

    fn keys(&self) -> Vec<String> {
        std::iter::once(self.login_id.clone())
            .chain(self.alias.clone())
            .collect()
    }
}

/// Outstanding codes. One per login id: the newest voids the older ones.
#[derive(Debug, Default)]
pub struct PendingCodes {
    pending: Vec<Pending>,
}

impl PendingCodes {
    /// Stores a new code, voiding any older code for the same login id or alias.
    pub fn issue(&mut self, pending: Pending) {
        let keys = pending.keys();
        self.pending
            .retain(|p| !keys.iter().any(|k| p.answers_to(k)));
        self.pending.push(pending);
    }

    /// The codes a new code for `login_id` (and `alias`) would void.
    pub fn replaced_by(&self, login_id: &str, alias: Option<&str>) -> Vec<&str> {
        self.pending
            .iter()
            .filter(|p| p.answers_to(login_id) || alias.is_some_and(|a| p.answers_to(a)))
            .map(|p| p.code.as_str())
            .collect()
    }

    /// Voids every code that would act on a deleted user: codes for any of their login ids, and
    /// codes that name them (a sign-in, or an update of their address). Returns how many went.
    pub fn void_for_user(&mut self, user_id: &str, login_ids: &[String]) -> usize {
        let before = self.pending.len();
        self.pending.retain(|p| {
            let names_user = match &p.completion {
                Completion::SignIn { user_id: id } | Completion::Update { user_id: id, .. } => {
                    id == user_id
                }
                Completion::SignUp { .. } => false,
            };
            !names_user && !login_ids.iter().any(|l| p.answers_to(l))
        });
        before - self.pending.len()
    }

    /// Checks `code` for `login_id`. Success removes the code (a code works once).
    pub fn verify(
        &mut self,
        login_id: &str,
        method: Method,
        code: &str,
        now: i64,
        max_attempts: u32,
    ) -> Result<Pending, ApiError> {
        let wrong = || ApiError::unauthorized(codes::WRONG_CODE, "Wrong or expired code");
        let Some(index) = self.pending.iter().position(|p| p.answers_to(login_id)) else {
            return Err(wrong());
        };
        let entry = &mut self.pending[index];
        if entry.locked {
            return Err(too_many_attempts());
        }
        if now >= entry.expires_at {
            self.pending.remove(index);
            return Err(ApiError::unauthorized(
                codes::EXPIRED_CODE,
                "The code has expired; request a new one",
            ));
        }
        if entry.method != method || !constant_time_eq(entry.code.as_bytes(), code.as_bytes()) {
            entry.wrong_attempts += 1;
            if entry.wrong_attempts >= max_attempts {
                entry.locked = true;
                return Err(too_many_attempts());
            }
            return Err(wrong());
        }
        Ok(self.pending.remove(index))
    }
}

// UNCONFIRMED: Descope's status for E061103; we answer 401 rather than 429 because Python turns
// every 429 into a RateLimitException (expecting a Retry-After) and Go's helpers treat it as a
// rate limit. One-line change: StatusCode::TOO_MANY_REQUESTS.
fn too_many_attempts() -> ApiError {
    ApiError::unauthorized(
        codes::TOO_MANY_ATTEMPTS,
        "Too many wrong attempts; request a new code",
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// At most `max` messages per recipient in any `window_secs` sliding window.
#[derive(Debug, Default)]
pub struct RateLimiter {
    sent: HashMap<String, VecDeque<i64>>,
}

impl RateLimiter {
    /// Records one message to `recipient`, or refuses with 429 and a `Retry-After` (whole
    /// seconds until the oldest message in the window leaves it).
    pub fn admit(
        &mut self,
        recipient: &str,
        now: i64,
        max: u32,
        window_secs: i64,
    ) -> Result<(), ApiError> {
        let sent = self.sent.entry(recipient.to_string()).or_default();
        while sent.front().is_some_and(|t| *t <= now - window_secs) {
            sent.pop_front();
        }
        if sent.len() >= max as usize {
            let oldest = sent.front().copied().unwrap_or(now);
            let retry = (oldest + window_secs - now).max(1);
            return Err(ApiError::rate_limited(retry as u64));
        }
        sent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(login_id: &str, code: &str, expires_at: i64) -> Pending {
        Pending {
            login_id: login_id.into(),
            alias: None,
            destination: String::new(),
            method: Method::Email,
            code: code.into(),
            expires_at,
            wrong_attempts: 0,
            locked: false,
            completion: Completion::SignUp {
                profile: Profile::default(),
            },
            session: SessionRequest::default(),
        }
    }

    #[test]
    fn generated_codes_are_six_digits() {
        for _ in 0..50 {
            let c = generate_code_other_than(&[]);
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn a_code_drawn_other_than_some_codes_is_never_one_of_them() {
        // With all but two codes taken, the draw has exactly two outcomes, both allowed.
        let taken: Vec<String> = (0..CODE_SPACE)
            .filter(|n| *n != 0 && *n != 999_999)
            .map(|n| format!("{n:06}"))
            .collect();
        let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
        for _ in 0..3 {
            let code = generate_code_other_than(&taken);
            assert!(code == "000000" || code == "999999", "{code}");
        }
        assert_ne!(generate_code_other_than(&["123456"]), "123456");
    }

    #[test]
    fn deleting_a_user_voids_the_codes_for_their_login_ids_and_the_codes_that_name_them() {
        let mut book = PendingCodes::default();
        book.issue(pending("gone@x.io", "111111", 100));
        book.issue(Pending {
            completion: Completion::SignIn {
                user_id: "U2gone".into(),
            },
            ..pending("other-id-of-gone", "222222", 100)
        });
        book.issue(pending("kept@x.io", "333333", 100));
        assert_eq!(book.void_for_user("U2gone", &["gone@x.io".to_string()]), 2);
        let err = book
            .verify("gone@x.io", Method::Email, "111111", 0, 5)
            .unwrap_err();
        assert_eq!(err.code, codes::WRONG_CODE);
        assert!(
            book.verify("other-id-of-gone", Method::Email, "222222", 0, 5)
                .is_err()
        );
        assert!(
            book.verify("kept@x.io", Method::Email, "333333", 0, 5)
                .is_ok()
        );
    }

    #[test]
    fn email_and_phone_shapes_are_told_apart() {
        assert!(is_email("a.b+c@example.co.uk"));
        assert!(!is_email("not-an-email"));
        assert!(!is_email("a@b"));
        assert!(is_phone("+14155550100"));
        assert!(!is_phone("4155550100"));
        assert!(!is_phone("+0123456789"));
        assert!(!is_phone("+1234"));
    }

    #[test]
    fn addresses_are_masked_keeping_only_a_hint() {
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
        assert_eq!(mask_phone("+14155550100"), "********0100");
    }

    #[test]
    fn a_code_works_once() {
        let mut book = PendingCodes::default();
        book.issue(pending("a@x.io", "111111", 100));
        assert!(book.verify("a@x.io", Method::Email, "111111", 0, 5).is_ok());
        let err = book
            .verify("a@x.io", Method::Email, "111111", 0, 5)
            .unwrap_err();
        assert_eq!(err.code, codes::WRONG_CODE);
    }

    #[test]
    fn the_rate_limiter_refuses_the_message_over_the_cap_and_forgets_old_ones() {
        let mut rl = RateLimiter::default();
        for t in 0..3 {
            rl.admit("x", t, 3, 60).unwrap();
        }
        let err = rl.admit("x", 10, 3, 60).unwrap_err();
        assert_eq!(err.retry_after, Some(50));
        assert!(rl.admit("x", 60, 3, 60).is_ok());
        assert!(rl.admit("y", 10, 3, 60).is_ok());
    }
}
