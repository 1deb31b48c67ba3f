//! The only code that knows what the app keeps in a session, and under which keys.
//!
//! The session lives server-side in the app's database (SQLite or PostgreSQL); the browser holds
//! an opaque id in an HttpOnly cookie. Tokens are kept here and nowhere else: never in a page, a
//! URL or a log.
//!
//! - this file: the typed session ([`AuthSession`]), what a sign-in and a pending code hold, and
//!   the gate's answer that travels with the session ([`GateAnswer`]);
//! - [`store`]: the rows in the database, each read with its person's sign-out-everywhere mark;
//! - [`seal`]: the encryption of a row at rest (`SESSION_SECRET`);
//! - [`cookie`]: the cookie's name and attributes, and the session layer that sets it.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use tower_sessions::Session;

use crate::descope::{AuthResponse, SessionClaims, UserResponse};
use crate::error::AppError;
use crate::models::{DeliveryMethod, Flow};
use crate::server::errors::store_error;

pub mod cookie;
pub mod seal;
pub mod store;

const SIGNED_IN: &str = "signed_in";
const PENDING: &str = "pending_otp";
/// The key under which a loaded record carries its person's sign-out-everywhere mark: the mark in
/// ms since the epoch, or `null` when there is none. Present only when the store looked it up
/// ([`store`]); never written back.
pub const MARK_KEY: &str = "_store.signed_out_everywhere_at_ms";

/// A person who has verified a code, with the tokens Descope gave them.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: String,
    /// The login id they signed in with (the update calls need it).
    pub login_id: String,
    pub method: DeliveryMethod,
    pub session_jwt: String,
    pub refresh_jwt: String,
    /// Milliseconds since the epoch of the last code they verified (sign-in or step-up).
    pub authenticated_at_ms: i64,
    /// What the profile shows about them, from Descope's latest answer that carried the user
    /// (verify, refresh or `me`), so that a profile view needs no Descope call. `None` in a
    /// session written before the app kept it, or when Descope's answer had no user.
    #[serde(default)]
    pub details: Option<UserDetails>,
    /// Milliseconds since the epoch when this record was last written: the session's idle expiry
    /// only moves when it is written, so the gate writes it again once a day (see
    /// [`SignedIn::needs_touch`]) and never on the other requests of that day.
    #[serde(default)]
    pub touched_at_ms: i64,
}

/// How long a session may go unwritten before the gate writes it again to push its idle expiry
/// (`SESSION_IDLE_DAYS`) forward.
pub const TOUCH_EVERY_MS: i64 = 24 * 3600 * 1000;

impl SignedIn {
    /// The id of the person a session record names, read from the record's raw data (the session
    /// store keeps it in a column of its own, so that it can join their sign-out-everywhere mark).
    pub fn user_id_in_record(data: &HashMap<String, serde_json::Value>) -> Option<&str> {
        data.get(SIGNED_IN)?.get("user_id")?.as_str()
    }

    /// The sign-in a raw session record holds, if any.
    pub fn in_record(data: &HashMap<String, serde_json::Value>) -> Option<Self> {
        serde_json::from_value(data.get(SIGNED_IN)?.clone()).ok()
    }

    /// Whether `login_id` is one of this person's own login ids (the one they signed in with, or
    /// any Descope listed for them), as step-up and MFA require.
    pub fn owns_login_id(&self, login_id: &str) -> bool {
        let same = |id: &String| id.eq_ignore_ascii_case(login_id);
        same(&self.login_id)
            || self
                .details
                .as_ref()
                .is_some_and(|d| d.login_ids.iter().any(same))
    }

    pub fn needs_touch(&self, now_ms: i64) -> bool {
        now_ms - self.touched_at_ms >= TOUCH_EVERY_MS
    }
}

/// The person as the profile shows them, with the moment Descope said so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetails {
    pub name: Option<String>,
    pub login_ids: Vec<String>,
    pub email: Option<String>,
    pub verified_email: bool,
    pub phone: Option<String>,
    pub verified_phone: bool,
    /// Milliseconds since the epoch of the Descope answer these come from.
    pub as_of_ms: i64,
}

impl UserDetails {
    pub fn from_descope(user: &UserResponse, as_of_ms: i64) -> Self {
        let present = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Self {
            name: present(&user.name),
            login_ids: user.login_ids.clone(),
            email: present(&user.email),
            verified_email: user.verified_email,
            phone: present(&user.phone),
            verified_phone: user.verified_phone,
            as_of_ms,
        }
    }

    /// The person's details in a verify or refresh answer, when Descope sent them.
    pub fn from_response(response: &AuthResponse, now_ms: i64) -> Option<Self> {
        response
            .user
            .as_ref()
            .map(|user| Self::from_descope(user, now_ms))
    }
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("user_id", &self.user_id)
            .field("method", &self.method)
            .field("authenticated_at_ms", &self.authenticated_at_ms)
            .finish_non_exhaustive()
    }
}

/// A change of address asked for before the person had a fresh enough step-up.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Change {
    Email {
        email: String,
        add_to_login_ids: bool,
    },
    Phone {
        method: DeliveryMethod,
        phone: String,
        add_to_login_ids: bool,
    },
}

/// Descope's per-call options that the forms expose ("Descope options" on each form).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OtpOptions {
    /// `loginOptions.customClaims`: extra claims for the session JWT.
    pub custom_claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// `loginOptions.templateOptions`: values for the message template.
    pub template_options: Option<BTreeMap<String, String>>,
    /// Sign-in only: `stepup` / `mfa`, which add to the current session (refresh JWT required).
    pub stepup: bool,
    pub mfa: bool,
}

/// The Descope call that sent the code now waiting, with everything needed to send it again.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum OtpRequest {
    SignUpOrIn {
        method: DeliveryMethod,
        login_id: String,
        options: OtpOptions,
    },
    SignUp {
        method: DeliveryMethod,
        login_id: String,
        name: Option<String>,
        email: Option<String>,
        phone: Option<String>,
        options: OtpOptions,
    },
    SignIn {
        method: DeliveryMethod,
        login_id: String,
        options: OtpOptions,
    },
    StepUp {
        method: DeliveryMethod,
        login_id: String,
        then: Change,
    },
    Update(Change),
}

impl OtpRequest {
    pub fn flow(&self) -> Flow {
        match self {
            Self::SignUpOrIn { .. } => Flow::SignUpOrIn,
            Self::SignUp { .. } => Flow::SignUp,
            Self::SignIn { .. } => Flow::SignIn,
            Self::StepUp { .. } => Flow::StepUp,
            Self::Update(Change::Email { .. }) => Flow::UpdateEmail,
            Self::Update(Change::Phone { .. }) => Flow::UpdatePhone,
        }
    }

    /// Where the code goes: the login id it signs in with, or the new address of a change. This
    /// is the one address the send limits count: a sign-up's second contact gets no code, so
    /// naming someone's address there must not use up their limit.
    pub fn destination(&self) -> &str {
        match self {
            Self::SignUpOrIn { login_id, .. }
            | Self::SignUp { login_id, .. }
            | Self::SignIn { login_id, .. }
            | Self::StepUp { login_id, .. } => login_id,
            Self::Update(Change::Email { email, .. }) => email,
            Self::Update(Change::Phone { phone, .. }) => phone,
        }
    }

    /// The channel the code travels by.
    pub fn method(&self) -> DeliveryMethod {
        match self {
            Self::SignUpOrIn { method, .. }
            | Self::SignUp { method, .. }
            | Self::SignIn { method, .. }
            | Self::StepUp { method, .. }
            | Self::Update(Change::Phone { method, .. }) => *method,
            Self::Update(Change::Email { .. }) => DeliveryMethod::Email,
        }
    }
}

/// A code that was sent and not yet verified.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PendingOtp {
    pub request: OtpRequest,
    /// The destination as Descope masked it.
    pub masked: String,
    /// Unix seconds when the latest code was sent.
    pub sent_at: i64,
    /// Local path to go to once the code is verified.
    pub next: Option<String>,
    /// No code was sent, and the person was told the same as if one had been: Descope said there
    /// is no account for this sign-in ("if an account exists…"), or the new address of a change
    /// belongs to another account. Every try is wrong; the tries are counted by the app (in the
    /// database, by destination and send time), so that they lock like a real code's. Never
    /// shown. (Sessions written before this name kept it as `account_unknown`.)
    #[serde(default, alias = "account_unknown")]
    pub no_code: bool,
}

/// The gate's answer for one request, left in that request's extensions by the page layer
/// (`server::http::pages::before_page`) and read back from the same extensions as its session
/// (`server::context`). Made only from what the gate just answered: a session it has validated,
/// or the failure it met.
/// Shared, because the request's parts (and with them this answer) are copied for each server
/// function the page runs.
#[derive(Clone)]
pub struct GateAnswer(Arc<Result<(SignedIn, SessionClaims), AppError>>);

impl GateAnswer {
    pub fn new(answer: Result<(SignedIn, SessionClaims), AppError>) -> Self {
        Self(Arc::new(answer))
    }

    pub fn get(&self) -> &Result<(SignedIn, SessionClaims), AppError> {
        &self.0
    }
}

/// Typed access to the session of one request, with what else the request says about its caller.
#[derive(Clone)]
pub struct AuthSession {
    session: Session,
    /// The gate's answer for this same request, when its middleware already validated it.
    gate_answer: Option<GateAnswer>,
    /// The caller's address, for the rate limits.
    client_ip: Option<IpAddr>,
}

impl AuthSession {
    pub fn new(session: Session) -> Self {
        Self {
            session,
            gate_answer: None,
            client_ip: None,
        }
    }

    /// The session of one request, with the gate's answer (when its middleware already let the
    /// request through) and the client address. All must come from the same request's extensions.
    pub fn for_request(
        session: Session,
        gate_answer: Option<GateAnswer>,
        client_ip: Option<IpAddr>,
    ) -> Self {
        Self {
            session,
            gate_answer,
            client_ip,
        }
    }

    pub fn gate_answer(&self) -> Option<&GateAnswer> {
        self.gate_answer.as_ref()
    }

    /// The session's id, when it has one (a new session has none until it is saved).
    pub fn id(&self) -> Option<tower_sessions::session::Id> {
        self.session.id()
    }

    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    pub async fn signed_in(&self) -> Result<Option<SignedIn>, AppError> {
        self.session.get(SIGNED_IN).await.map_err(store_error)
    }

    /// The sign-out-everywhere mark of the person this session's row names, as the store read it
    /// with the row: `Some(None)` when they have none, `None` when the store did not look (a row
    /// written before rows named their person, or a sign-in made during this request).
    pub async fn mark_read_with_row(&self) -> Result<Option<Option<i64>>, AppError> {
        self.session.get(MARK_KEY).await.map_err(store_error)
    }

    /// Records a fresh sign-in under a new session id, so an id planted before sign-in
    /// (session fixation) is worth nothing after it.
    pub async fn sign_in(&self, signed_in: &SignedIn) -> Result<(), AppError> {
        self.session.cycle_id().await.map_err(store_error)?;
        // The mark loaded with the row was about whoever the row named; this may be someone else.
        self.session
            .remove_value(MARK_KEY)
            .await
            .map_err(store_error)?;
        self.session
            .insert(SIGNED_IN, signed_in)
            .await
            .map_err(store_error)
    }

    /// Replaces the current sign-in (after a refresh, a step-up, an update, or new details),
    /// stamped with `now_ms` as its last write.
    pub async fn update(&self, signed_in: &mut SignedIn, now_ms: i64) -> Result<(), AppError> {
        signed_in.touched_at_ms = now_ms;
        self.session
            .insert(SIGNED_IN, &*signed_in)
            .await
            .map_err(store_error)
    }

    pub async fn pending(&self) -> Result<Option<PendingOtp>, AppError> {
        self.session.get(PENDING).await.map_err(store_error)
    }

    pub async fn set_pending(&self, pending: &PendingOtp) -> Result<(), AppError> {
        self.session
            .insert(PENDING, pending)
            .await
            .map_err(store_error)
    }

    pub async fn clear_pending(&self) -> Result<(), AppError> {
        self.session
            .remove::<PendingOtp>(PENDING)
            .await
            .map(drop)
            .map_err(store_error)
    }

    /// Forgets everything and deletes the session record; the cookie is expired.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.session.flush().await.map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tower_sessions::MemoryStore;

    fn signed_in(user_id: &str) -> SignedIn {
        SignedIn {
            user_id: user_id.to_owned(),
            login_id: format!("{user_id}@example.com"),
            method: DeliveryMethod::Email,
            session_jwt: "session".to_owned(),
            refresh_jwt: "refresh".to_owned(),
            authenticated_at_ms: 1,
            details: None,
            touched_at_ms: 1,
        }
    }

    fn session() -> Session {
        Session::new(None, Arc::new(MemoryStore::default()), None)
    }

    #[tokio::test]
    async fn the_store_finds_the_person_a_record_names() {
        let session = session();
        let auth = AuthSession::new(session.clone());
        auth.sign_in(&signed_in("U1")).await.unwrap();
        let mut data = HashMap::new();
        data.insert(
            SIGNED_IN.to_owned(),
            session.get_value(SIGNED_IN).await.unwrap().unwrap(),
        );
        assert_eq!(SignedIn::user_id_in_record(&data), Some("U1"));
        assert_eq!(SignedIn::user_id_in_record(&HashMap::new()), None);
    }

    #[tokio::test]
    async fn a_sign_in_drops_the_mark_loaded_for_whoever_the_row_named() {
        let session = session();
        // As the store hands over a row that named someone with a mark.
        session.insert(MARK_KEY, Some(1_000_i64)).await.unwrap();
        let auth = AuthSession::new(session);
        assert_eq!(auth.mark_read_with_row().await.unwrap(), Some(Some(1_000)));

        auth.sign_in(&signed_in("U2")).await.unwrap();
        assert_eq!(auth.mark_read_with_row().await.unwrap(), None);
        assert_eq!(auth.signed_in().await.unwrap().unwrap().user_id, "U2");
    }
}
