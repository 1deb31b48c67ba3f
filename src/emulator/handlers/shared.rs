//! What more than one route group does: send a code ([`Delivery`]: the message cap, the pending
//! book, the outbox), choose the address an existing user's code goes to, exempt test users from
//! the cap, answer with the masked address, and make a new user id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::emulator::error::{ApiError, ApiResult, codes};
use crate::emulator::otp::{self, Completion, Method, Pending, Purpose, SessionRequest};
use crate::emulator::outbox::NewMessage;
use crate::emulator::state::{AuthState, EmulatorState};
use crate::emulator::store::User;

/// Everything needed to put a code in the outbox and the pending book.
pub(super) struct Delivery<'a> {
    pub(super) method: Method,
    pub(super) purpose: Purpose,
    pub(super) login_id: String,
    pub(super) alias: Option<String>,
    pub(super) destination: String,
    pub(super) template_options: Option<Value>,
    pub(super) completion: Completion,
    pub(super) session: SessionRequest,
    /// Whether the per-recipient message cap applies: not to test codes (returned, not
    /// delivered), nor to test users when `test_users_uncapped` is on ([`capped`]).
    pub(super) rate_limited: bool,
    pub(super) state: &'a EmulatorState,
}

impl Delivery<'_> {
    /// Rate-limits, issues (voiding older codes) and delivers. Returns the code.
    pub(super) fn run(self, auth: &mut AuthState) -> ApiResult<String> {
        let state = self.state;
        let now = state.now();
        // Every caller picks an address of the channel's kind; this keeps it that way, because
        // verifying the code records the destination as the user's verified address.
        if !self.method.accepts(&self.destination) {
            return Err(no_address_for(self.method, &self.login_id));
        }
        if self.rate_limited {
            auth.rate.admit(
                &self.destination,
                now,
                state.config.rate_limit_max,
                crate::emulator::secs(state.config.rate_limit_window),
            )?;
        }
        // A fixed code (a test convenience, off by default) is the one exception to "a new
        // code never equals the one it replaces".
        let fixed = [
            Some(&self.login_id),
            self.alias.as_ref(),
            Some(&self.destination),
        ]
        .into_iter()
        .flatten()
        .find_map(|id| state.config.fixed_codes.get(id));
        let code = match fixed {
            Some(code) => code.clone(),
            None => otp::generate_code_other_than(
                &auth
                    .codes
                    .replaced_by(&self.login_id, self.alias.as_deref()),
            ),
        };
        auth.codes.issue(Pending {
            login_id: self.login_id.clone(),
            alias: self.alias,
            destination: self.destination.clone(),
            method: self.method,
            code: code.clone(),
            expires_at: now.saturating_add(crate::emulator::secs(state.config.code_ttl)),
            wrong_attempts: 0,
            locked: false,
            completion: self.completion,
            session: self.session,
        });
        state.outbox.deliver(NewMessage {
            channel: self.method.as_str(),
            destination: self.destination,
            login_id: self.login_id,
            purpose: self.purpose.as_str(),
            code: code.clone(),
            sent_at: now,
            template_options: self.template_options.filter(|v| !v.is_null()),
        });
        Ok(code)
    }
}

/// The address an existing user's code goes to: the login id picks the user, the method picks
/// the user's address for that channel (which an update may have changed). With no address on
/// record for the channel, the login id itself if it is one; otherwise the user cannot receive
/// a code on this channel at all, and the request is refused.
pub(super) fn user_address_for(method: Method, login_id: &str, user: &User) -> ApiResult<String> {
    let address = if method.is_phone() {
        &user.phone
    } else {
        &user.email
    };
    match address.as_deref().filter(|a| !a.is_empty()) {
        Some(address) => Ok(address.to_string()),
        None if method.accepts(login_id) => Ok(login_id.to_string()),
        None => Err(no_address_for(method, login_id)),
    }
}

/// Refuses a code on a channel the user has no address on, rather than sending it to (and
/// later recording as verified) an address of the wrong kind.
fn no_address_for(method: Method, login_id: &str) -> ApiError {
    let kind = if method.is_phone() {
        "phone number"
    } else {
        "email address"
    };
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::NO_ADDRESS_FOR_CHANNEL,
        format!(
            "The user '{login_id}' has no {kind} to send {} codes to",
            method.as_str()
        ),
    )
}

/// Whether a message for `user` counts against the per-recipient cap: always, except for a test
/// user when the emulator exempts them (`test_users_uncapped`). A sign-up (no user yet) is capped.
pub(super) fn capped(state: &EmulatorState, user: Option<&User>) -> bool {
    !(state.config.test_users_uncapped && user.is_some_and(|u| u.test))
}

/// The answer to a call that sent a code: where it went, masked.
pub(super) fn masked(method: Method, address: &str) -> Response {
    axum::Json(json!({ method.masked_field(): method.mask(address) })).into_response()
}

pub(super) fn new_user_id() -> String {
    // "U2" + 27 alphanumerics: the shape of Descope user ids.
    use rand::Rng;
    use rand::distributions::Alphanumeric;
    let tail: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(27)
        .map(char::from)
        .collect();
    format!("U2{tail}")
}
