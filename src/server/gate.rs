//! The gate in front of everything that needs a signed-in person.
//!
//! Each gated request validates the session JWT against Descope's keys (cached; no network call
//! on a hit). An expired session JWT is refreshed with the refresh JWT and the new tokens stored.
//! A failed refresh, an invalid token or a sign-out-everywhere mark clears the session.
//!
//! The gate decides from this request's own cookie and session, every time. It reads no Leptos
//! context: in the page layer, before the render, the page's owner does not exist yet. The one
//! shortcut, a page's server functions reusing the layer's answer while that page renders, travels
//! in this request's own extensions next to its session (see
//! [`crate::server::session::GateAnswer`]).

use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

use crate::descope::{ErrorKind, SessionClaims, TokenError};
use crate::error::AppError;
use crate::server::errors::{internal, refresh_failure, token_failure, unavailable};
use crate::server::refresh::{self, RefreshFailure, Refreshed};
use crate::server::session::{AuthSession, SignedIn, UserDetails};
use crate::server::state::AppState;

/// Pages that only a signed-in person may see: every route under `/profile`, and any other listed
/// here (a test in `server::http` checks both against the route table). Their server functions
/// call [`require_user`] too; this list only decides where a browser that navigates to them is
/// sent when signed out.
pub const GATED_PAGES: &[&str] = &["/profile", "/profile/email", "/profile/phone"];

/// The signed-in person and their validated session claims, refreshing the session if needed.
pub async fn require_user(
    state: &AppState,
    session: &AuthSession,
) -> Result<(SignedIn, SessionClaims), AppError> {
    // A page request already went through the gate in the page layer (`http::pages`); its
    // server functions, run while the page renders, reuse that answer instead of validating the
    // token again. The answer came out of the same request extensions as this session, so it is
    // this request's.
    // A failure is reused too: during an outage the page shows it without asking Descope again.
    if let Some(answer) = session.gate_answer() {
        return answer.get().clone();
    }
    let mut current = session.signed_in().await?.ok_or(AppError::NotSignedIn)?;

    if signed_out_everywhere_since(state, session, &current).await? {
        session.sign_out().await?;
        return Err(AppError::NotSignedIn);
    }

    match state.descope.validate_session(&current.session_jwt).await {
        Ok(claims) => {
            // The store's idle expiry only moves when the session is written: once a day.
            let now_ms = state.clock.now_ms();
            if current.needs_touch(now_ms) {
                session.update(&mut current, now_ms).await?;
            }
            Ok((current, claims))
        }
        // Expired, or signed with a key Descope no longer publishes (rotated and retired): the
        // refresh token decides, as Descope checks it. Neither is a forgery.
        Err(TokenError::Expired | TokenError::UnknownKey) => {
            refreshed(state, session, current).await
        }
        Err(e @ TokenError::KeysUnavailable(_)) => Err(token_failure(&e)),
        Err(other) => {
            tracing::warn!(user_id = %current.user_id, error = %other, "invalid session token; signing out");
            session.sign_out().await?;
            Err(AppError::NotSignedIn)
        }
    }
}

/// `current` with a refreshed session JWT, stored. The requests of this instance that need the
/// same refresh at the same moment share one Descope call (`server::refresh`).
///
/// Refused by Descope, the sign-in ends, unless another instance refreshed this same session
/// first: with refresh-token rotation, its refresh spent the token this request read, and the
/// newer one is, or is about to be, in the stored row ([`newer_stored`]). That token is used
/// instead, once.
async fn refreshed(
    state: &AppState,
    session: &AuthSession,
    mut current: SignedIn,
) -> Result<(SignedIn, SessionClaims), AppError> {
    let mut took_stored = false;
    loop {
        let done = match refresh_once(state, &current.refresh_jwt).await {
            Ok(done) => done,
            Err(RefreshFailure::Failed(e)) => return Err(e),
            Err(RefreshFailure::Refused) => {
                let newer = match took_stored {
                    false => newer_stored(state, session, &current).await?,
                    true => None,
                };
                let Some(newer) = newer else {
                    tracing::info!(user_id = %current.user_id, "refresh refused; signing out");
                    session.sign_out().await?;
                    return Err(AppError::NotSignedIn);
                };
                tracing::debug!(user_id = %current.user_id, "refresh token spent by another instance; using the stored one");
                took_stored = true;
                current = newer;
                if let Ok(claims) = state.descope.validate_session(&current.session_jwt).await {
                    // This request's copy of the session takes the stored tokens, so that a
                    // write later in the request cannot put the spent ones back.
                    session.update(&mut current, state.clock.now_ms()).await?;
                    return Ok((current, claims));
                }
                continue;
            }
        };
        current.session_jwt = done.response.session_jwt.expose_secret().to_owned();
        if let Some(rotated) = &done.response.refresh_jwt {
            current.refresh_jwt = rotated.expose_secret().to_owned();
        }
        let now_ms = state.clock.now_ms();
        current.details = UserDetails::from_response(&done.response, now_ms).or(current.details);
        session.update(&mut current, now_ms).await?;
        tracing::debug!(user_id = %current.user_id, "session refreshed");
        return Ok((current, done.claims.clone()));
    }
}

/// How long a request whose refresh was refused watches its session row for a newer token
/// stored by another instance, before it signs the browser out.
pub const ROTATION_WAIT: Duration = Duration::from_secs(2);
const ROTATION_POLL: Duration = Duration::from_millis(50);

/// The sign-in stored for this session, if it holds a newer refresh token of the same person
/// than `current`: another instance refreshed first. Its Descope call ended before this
/// request's was refused, and its write of the new tokens follows within moments, so the row is
/// read again for up to [`ROTATION_WAIT`]. A refresh refused for any other reason (the token
/// expired or was revoked) finds nothing and costs the person that wait once, at sign-out.
async fn newer_stored(
    state: &AppState,
    session: &AuthSession,
    current: &SignedIn,
) -> Result<Option<SignedIn>, AppError> {
    // A refresh token past its own expiry was refused for that: nothing newer is coming, so the
    // row is read once, not watched.
    let wait = match expired_by_its_own_claim(&current.refresh_jwt, state.clock.now()) {
        true => Duration::ZERO,
        false => ROTATION_WAIT,
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match state.sessions.stored_sign_in(session.id()).await? {
            Some(stored)
                if stored.user_id == current.user_id
                    && stored.refresh_jwt != current.refresh_jwt =>
            {
                return Ok(Some(stored));
            }
            // The row is gone (signed out): nothing will come.
            None => return Ok(None),
            Some(_) if tokio::time::Instant::now() >= deadline => return Ok(None),
            Some(_) => tokio::time::sleep(ROTATION_POLL).await,
        }
    }
}

/// One refresh with `refresh_jwt`, shared by every request of this instance that asks for it at
/// the same time, its new session JWT validated.
///
/// The call runs in a task of its own: if the request that started it goes away (its client
/// closed the connection), the call still ends and its outcome is kept for the requests that
/// follow. With refresh-token rotation, a call dropped halfway would have spent the token and
/// lost the new one, signing the person out.
async fn refresh_once(state: &AppState, refresh_jwt: &str) -> refresh::Outcome {
    let call = {
        let (state, refresh_jwt) = (state.clone(), refresh_jwt.to_owned());
        async move { tokio::spawn(async move { refresh_call(&state, &refresh_jwt).await }).await }
    };
    state
        .refreshes
        .run(refresh_jwt, || async {
            call.await.unwrap_or_else(|e| {
                Err(RefreshFailure::Failed(internal(&format!(
                    "the refresh task ended without an answer: {e}"
                ))))
            })
        })
        .await
}

/// The Descope call of [`refresh_once`], and the check of the session JWT it returns.
async fn refresh_call(state: &AppState, refresh_jwt: &str) -> refresh::Outcome {
    let response = match state.descope.refresh(refresh_jwt).await {
        Ok(response) => response,
        // Only Descope saying the refresh token is no good (401: expired, revoked,
        // spent) ends the sign-in. An outage, a 5xx, a 429 or an unreadable answer is
        // Descope's moment, not the person's: they stay signed in and are told to retry.
        Err(e) if matches!(e.kind(), ErrorKind::Unauthorized) => {
            tracing::debug!(error = %e, "refresh refused");
            return Err(RefreshFailure::Refused);
        }
        Err(e) => return Err(RefreshFailure::Failed(refresh_failure(e))),
    };
    let claims = state
        .descope
        .validate_session(response.session_jwt.expose_secret())
        .await
        .map_err(|e| RefreshFailure::Failed(token_failure(&e)))?;
    Ok(Arc::new(Refreshed { response, claims }))
}

/// The sign-in this session holds, unless its person has signed out everywhere since: the gate's
/// checks that need no Descope, for acting while Descope cannot be reached.
pub async fn signed_in_unless_signed_out(
    state: &AppState,
    session: &AuthSession,
) -> Result<Option<SignedIn>, AppError> {
    let Some(current) = session.signed_in().await? else {
        return Ok(None);
    };
    if signed_out_everywhere_since(state, session, &current).await? {
        session.sign_out().await?;
        return Ok(None);
    }
    Ok(Some(current))
}

/// Whether `current` signed in at or before their latest "sign out everywhere". The mark normally
/// came with the session row, in the same query (`server::session::store`); only for a row that
/// does not name its person yet is it a query of its own.
async fn signed_out_everywhere_since(
    state: &AppState,
    session: &AuthSession,
    current: &SignedIn,
) -> Result<bool, AppError> {
    let mark = match session.mark_read_with_row().await? {
        Some(mark) => mark,
        None => state
            .db
            .signed_out_everywhere_at(&current.user_id)
            .await
            .map_err(|e| unavailable("reading sign-out-everywhere mark", &e))?,
    };
    Ok(mark.is_some_and(|at_ms| current.authenticated_at_ms <= at_ms))
}

/// Whether `token`'s `exp` claim has passed at `now` (unix seconds). The token is read, not
/// checked: it came from Descope through this app, and only decides how long to wait.
fn expired_by_its_own_claim(token: &str, now: i64) -> bool {
    use base64::Engine as _;
    let exp = token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .and_then(|claims| claims.get("exp")?.as_i64());
    exp.is_some_and(|exp| exp <= now)
}
