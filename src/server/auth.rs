//! The one-time-code journeys: send a code, send it again, verify it, sign out.
//!
//! Every journey has two halves. [`start`] makes the Descope call that sends a code and remembers
//! it in the session as a [`PendingOtp`]; [`verify`] checks the code with Descope and does what the
//! journey is for (sign in, confirm a step-up, finish an address change).

use crate::descope::{LoginOptions, MaskedAddress, SignUpOptions, SignUpUser, UpdateOptions};
use secrecy::ExposeSecret;

use crate::error::{AppError, Field, Problem};
use crate::models::{DeliveryMethod, Flow, PendingView};
use crate::server::errors::{from_descope, internal, token_failure, unavailable};
use crate::server::limits::Action;
use crate::server::mask;
use crate::server::session::{
    AuthSession, Change, OtpOptions, OtpRequest, PendingOtp, SignedIn, UserDetails,
};
use crate::server::state::AppState;

/// Sends the code for `request` and remembers it as the code now waiting.
pub async fn start(
    state: &AppState,
    session: &AuthSession,
    request: OtpRequest,
    next: Option<String>,
) -> Result<(), AppError> {
    let signed_in = session.signed_in().await?;
    let sent = send_within_limits(state, session, &request, signed_in.as_ref()).await?;
    session
        .set_pending(&PendingOtp {
            request,
            masked: sent.masked,
            sent_at: state.clock.now(),
            next,
            no_code: sent.no_code,
        })
        .await
}

/// What the code page may say about a code that was asked for.
struct Sent {
    masked: String,
    /// No code was sent (see [`PendingOtp::no_code`]).
    no_code: bool,
}

/// The app's rate limits, then the Descope call, without telling whether an account exists
/// (unless `REVEAL_ACCOUNT_EXISTENCE` is on):
/// - sign-in of an unknown login id answers exactly as for a known one: the same code page,
///   after the same one Descope call;
/// - sign-up of an address that already has an account sends that account a sign-in code
///   instead, after the answer (so that the answer waits for one Descope call, as for a new
///   address), and the code page looks as it does after any sign-up;
/// - a change of email or phone to an address that belongs to another account looks like any
///   other change: the code page, no code sent, and every code refused as wrong;
/// - the code page shows only the masked form of what was typed, never Descope's mask of where
///   an existing account's code went;
/// - and every such answer comes no sooner than `CODE_ANSWER_MIN_MS` after the request.
async fn send_within_limits(
    state: &AppState,
    session: &AuthSession,
    request: &OtpRequest,
    signed_in: Option<&SignedIn>,
) -> Result<Sent, AppError> {
    refuse_side_doors(request, signed_in)?;
    state
        .limiter
        .check(
            Action::Send(request.method()),
            session.client_ip(),
            &[request.destination()],
        )
        .await?;
    let started = tokio::time::Instant::now();
    let sent = hidden_send(state, request, signed_in).await;
    if sent.is_ok() {
        // A new code for this destination: its wrong tries start again, whether it was sent or
        // not, as a real code's do.
        state.limiter.new_code_for(request.destination()).await?;
    }
    pad_answer(state, started).await;
    sent
}

/// What the forms allow that would let a visitor reach someone else's account, refused before
/// any limit is counted or Descope is called, with the same answer whatever the address:
/// - step-up and MFA add to the session of the person signed in, so they take only that
///   person's own login ids (anything else would ask Descope about a stranger's account, and
///   its answer would tell whether that account exists);
/// - template options put the visitor's words into the message, so they go only into messages to
///   an account the visitor has shown is theirs: a new one (sign-up) or their own (step-up, MFA).
///   Sign-up-or-in and a plain sign-in may reach someone else's existing account.
fn refuse_side_doors(request: &OtpRequest, signed_in: Option<&SignedIn>) -> Result<(), AppError> {
    let template_refused = || {
        AppError::invalid(
            Field::TemplateOptions,
            Problem::TemplateOptionsNeedYourAccount,
        )
    };
    match request {
        OtpRequest::SignIn {
            login_id, options, ..
        } if options.stepup || options.mfa => {
            let current = signed_in
                .ok_or_else(|| AppError::invalid(Field::Stepup, Problem::StepUpNeedsSession))?;
            if !current.owns_login_id(login_id) {
                return Err(AppError::invalid(
                    Field::Stepup,
                    Problem::StepUpNotYourLoginId,
                ));
            }
            Ok(())
        }
        OtpRequest::SignIn { options, .. } | OtpRequest::SignUpOrIn { options, .. }
            if options.template_options.is_some() =>
        {
            Err(template_refused())
        }
        _ => Ok(()),
    }
}

/// [`send_within_limits`] past the limits: the answers that would tell accounts apart are made
/// alike here, and their timing alike in [`pad_answer`].
async fn hidden_send(
    state: &AppState,
    request: &OtpRequest,
    signed_in: Option<&SignedIn>,
) -> Result<Sent, AppError> {
    if state.settings.reveal_account_existence {
        let masked = send(state, request, signed_in).await?;
        return Ok(Sent {
            masked: masked.masked,
            no_code: false,
        });
    }
    // The code page shows what was typed, masked: Descope's own mask would show where an
    // existing account's code went (another address, after the person changed theirs).
    let typed = Sent {
        masked: mask::address(request.method(), request.destination()),
        no_code: false,
    };
    match (send(state, request, signed_in).await, request) {
        (Ok(_), _) => Ok(typed),
        (Err(AppError::UnknownUser), OtpRequest::SignIn { login_id, .. }) => {
            tracing::info!(login_id = %mask::login_id(login_id), "sign-in for an unknown login id; answered as if known");
            Ok(Sent {
                no_code: true,
                ..typed
            })
        }
        (Err(AppError::AddressInUse), OtpRequest::Update(_)) => {
            tracing::info!(address = %mask::login_id(request.destination()), "change to an address in use; answered as if sent");
            Ok(Sent {
                no_code: true,
                ..typed
            })
        }
        (
            Err(AppError::AlreadyRegistered),
            OtpRequest::SignUp {
                method,
                login_id,
                options,
                ..
            },
        ) => {
            tracing::info!(login_id = %mask::login_id(login_id), "sign-up for an existing login id; sending a sign-in code");
            // Not the visitor's template options: the message goes to an account they have not
            // shown is theirs. Sent after the answer, which so waits for one Descope call, as
            // for a new address.
            let sign_in = OtpRequest::SignIn {
                method: *method,
                login_id: login_id.clone(),
                options: OtpOptions {
                    custom_claims: options.custom_claims.clone(),
                    ..OtpOptions::default()
                },
            };
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = send(&state, &sign_in, None).await {
                    tracing::warn!(error = %e, "the sign-in code for a sign-up of an existing login id was not sent");
                }
            });
            Ok(typed)
        }
        (Err(e), _) => Err(e),
    }
}

/// What the code-entry page shows; `None` when no code is waiting.
pub async fn pending_view(
    state: &AppState,
    session: &AuthSession,
) -> Result<Option<PendingView>, AppError> {
    Ok(session.pending().await?.map(|p| view_of(state, &p)))
}

/// Sends the waiting code again, once the cooldown has passed.
pub async fn resend(state: &AppState, session: &AuthSession) -> Result<PendingView, AppError> {
    let mut pending = session.pending().await?.ok_or(AppError::NoPendingCode)?;
    let wait = resend_wait(state, &pending);
    if wait > 0 {
        return Err(AppError::RateLimited {
            retry_after_secs: wait,
        });
    }
    let signed_in = signed_in_for(state, session, &pending.request).await?;
    let sent = send_within_limits(state, session, &pending.request, signed_in.as_ref()).await?;
    pending.masked = sent.masked;
    pending.no_code = sent.no_code;
    pending.sent_at = state.clock.now();
    session.set_pending(&pending).await?;
    Ok(view_of(state, &pending))
}

/// Forgets the waiting code ("use a different address") and says where to start again.
pub async fn cancel(session: &AuthSession) -> Result<&'static str, AppError> {
    let start = session
        .pending()
        .await?
        .map(|p| p.request.flow().start_path())
        .unwrap_or(Flow::SignUpOrIn.start_path());
    session.clear_pending().await?;
    Ok(start)
}

/// Checks `code` against the waiting code and completes its journey. Returns the local path the
/// person should see next.
pub async fn verify(
    state: &AppState,
    session: &AuthSession,
    code: &str,
) -> Result<String, AppError> {
    let pending = session.pending().await?.ok_or(AppError::NoPendingCode)?;
    let signed_in = signed_in_for(state, session, &pending.request).await?;

    // Sign-in codes are checked against the address they went to. An update's code is checked
    // against the user's existing login id (UNCONFIRMED in Descope's docs; see src/descope/API.md §3.3).
    let (method, login_id) = match &pending.request {
        OtpRequest::SignUpOrIn {
            method, login_id, ..
        }
        | OtpRequest::SignUp {
            method, login_id, ..
        }
        | OtpRequest::SignIn {
            method, login_id, ..
        }
        | OtpRequest::StepUp {
            method, login_id, ..
        } => (*method, login_id.clone()),
        OtpRequest::Update(change) => {
            let current = signed_in.as_ref().ok_or(AppError::NotSignedIn)?;
            (change_method(change), current.login_id.clone())
        }
    };

    state
        .limiter
        .check(Action::Verify, session.client_ip(), &[&login_id])
        .await?;
    let started = tokio::time::Instant::now();
    // Expired by the app's own clock, before Descope's: a code never sent expires as a real one.
    let age_secs = state.clock.now() - pending.sent_at;
    if age_secs >= state.settings.code_expiry.as_secs() as i64 {
        pad_answer(state, started).await;
        return Err(AppError::CodeExpired);
    }
    // No code was sent (an unknown login id, an address in use): every try is wrong, and no
    // Descope call is made to say so.
    let verified = match pending.no_code {
        true => None,
        false => Some(state.descope.verify(method, &login_id, code).await),
    };
    let response = match verified {
        Some(Ok(response)) => response,
        refused => {
            let refused = match refused {
                Some(Err(e)) => from_descope(e, pending.request.flow()),
                // It fails as a real code does, locking after as many tries, so that nothing
                // tells the two apart. The tries are counted in the database, one atomic step
                // each, so concurrent tries are all counted, as Descope counts a real code's.
                _ => match state
                    .limiter
                    .wrong_try(pending.request.destination())
                    .await?
                {
                    true => AppError::WrongCode,
                    false => AppError::TooManyAttempts,
                },
            };
            // A refusal without a Descope call takes as long as one with it.
            pad_answer(state, started).await;
            return Err(refused);
        }
    };

    // Like Descope's own SDKs, trust no token we have not verified against the project's keys.
    let claims = state
        .descope
        .validate_session(response.session_jwt.expose_secret())
        .await
        .map_err(|e| token_failure(&e))?;
    let refresh_jwt = match (&response.refresh_jwt, &signed_in) {
        (Some(new), _) => new.expose_secret().to_owned(),
        (None, Some(current)) => current.refresh_jwt.clone(),
        (None, None) => return Err(internal("verify returned no refresh token")),
    };
    let now_ms = state.clock.now_ms();

    match pending.request {
        OtpRequest::SignUpOrIn { .. } | OtpRequest::SignUp { .. } | OtpRequest::SignIn { .. } => {
            session
                .sign_in(&SignedIn {
                    user_id: claims.user_id().to_owned(),
                    login_id,
                    method,
                    session_jwt: response.session_jwt.expose_secret().to_owned(),
                    refresh_jwt,
                    authenticated_at_ms: now_ms,
                    details: UserDetails::from_response(&response, now_ms),
                    touched_at_ms: now_ms,
                })
                .await?;
            session.clear_pending().await?;
            tracing::info!(user_id = claims.user_id(), %method, first_seen = response.first_seen, "signed in");
            Ok(pending.next.unwrap_or_else(|| "/profile".to_owned()))
        }
        OtpRequest::StepUp { then, .. } => {
            let mut current = signed_in.ok_or(AppError::NotSignedIn)?;
            current.session_jwt = response.session_jwt.expose_secret().to_owned();
            current.refresh_jwt = refresh_jwt;
            current.authenticated_at_ms = now_ms;
            current.details = UserDetails::from_response(&response, now_ms).or(current.details);
            session.update(&mut current, now_ms).await?;
            tracing::info!(user_id = %current.user_id, "stepped up");
            // The person proved it is them; now send the code for the change they asked for.
            start(state, session, OtpRequest::Update(then), pending.next).await?;
            Ok("/verify".to_owned())
        }
        OtpRequest::Update(_) => {
            let mut current = signed_in.ok_or(AppError::NotSignedIn)?;
            current.session_jwt = response.session_jwt.expose_secret().to_owned();
            current.refresh_jwt = refresh_jwt;
            // The verify answer carries the user with the new address: the profile shows it
            // without asking Descope again.
            current.details = UserDetails::from_response(&response, now_ms).or(current.details);
            session.update(&mut current, now_ms).await?;
            session.clear_pending().await?;
            tracing::info!(user_id = %current.user_id, "address updated");
            Ok(pending.next.unwrap_or_else(|| "/profile".to_owned()))
        }
    }
}

/// Who is signed in, for going on with `request`. A step-up or a change of address goes on with
/// what a signed-in person began, so it passes the gate first, as any request of theirs would: a
/// session signed out everywhere since, or whose refresh Descope refuses, can neither have its
/// code sent again nor finish it (Descope's verify itself needs no session).
async fn signed_in_for(
    state: &AppState,
    session: &AuthSession,
    request: &OtpRequest,
) -> Result<Option<SignedIn>, AppError> {
    match request {
        OtpRequest::StepUp { .. } | OtpRequest::Update(_) => Ok(Some(
            crate::server::gate::require_user(state, session).await?.0,
        )),
        _ => session.signed_in().await,
    }
}

/// While account existence is hidden, waits until `CODE_ANSWER_MIN_MS` after `started`. The wait
/// is a timer, not a blocked thread.
async fn pad_answer(state: &AppState, started: tokio::time::Instant) {
    if !state.settings.reveal_account_existence {
        tokio::time::sleep_until(started + state.settings.code_answer_min).await;
    }
}

/// Signs this browser out: Descope revokes the refresh token, the session record is deleted.
pub async fn sign_out(state: &AppState, session: &AuthSession) -> Result<(), AppError> {
    if let Some(current) = session.signed_in().await? {
        // Local sign-out must succeed even if Descope cannot be reached; the token then simply
        // expires on its own.
        if let Err(e) = state.descope.logout(&current.refresh_jwt).await {
            tracing::warn!(user_id = %current.user_id, error = %e, "Descope logout failed; signing out locally");
        }
    }
    session.sign_out().await
}

/// How a sign-out everywhere went: the app's part always happens; Descope's may fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedOutEverywhere {
    /// Descope revoked every refresh token of the person, and the app refuses every session of
    /// theirs.
    Fully,
    /// Descope could not be reached (or refused): the app refuses every session of theirs all the
    /// same, but their refresh tokens stay valid at Descope until they expire, for any other app
    /// of the project that holds one.
    InThisAppOnly,
}

/// Signs the person out of every browser: the app marks the moment, so that their sessions
/// elsewhere are refused on their next request even while their session JWT has not yet expired,
/// and Descope revokes all their refresh tokens. The mark is written whatever Descope answers: a
/// person who asks to be signed out everywhere (a lost phone, a shared computer) must be, in this
/// app at least, even during a Descope outage.
pub async fn sign_out_everywhere(
    state: &AppState,
    session: &AuthSession,
) -> Result<SignedOutEverywhere, AppError> {
    let current = match crate::server::gate::require_user(state, session).await {
        Ok((current, _)) => current,
        // Descope (or its keys) cannot be reached to check or refresh the session token. The
        // session row still says who this is, and signing them out of this app needs nothing
        // from Descope: a lost phone must not wait for Descope to come back.
        Err(AppError::ServiceUnavailable { .. }) => {
            crate::server::gate::signed_in_unless_signed_out(state, session)
                .await?
                .ok_or(AppError::NotSignedIn)?
        }
        Err(e) => return Err(e),
    };
    state
        .db
        .mark_signed_out_everywhere(&current.user_id, state.clock.now_ms())
        .await
        .map_err(|e| unavailable("recording sign-out-everywhere", &e))?;
    let outcome = match state.descope.logout_all(&current.refresh_jwt).await {
        Ok(()) => SignedOutEverywhere::Fully,
        Err(e) => {
            tracing::warn!(user_id = %current.user_id, error = %e, "Descope logout-all failed; signed out everywhere in this app only");
            SignedOutEverywhere::InThisAppOnly
        }
    };
    tracing::info!(user_id = %current.user_id, ?outcome, "signed out everywhere");
    session.sign_out().await?;
    Ok(outcome)
}

async fn send(
    state: &AppState,
    request: &OtpRequest,
    signed_in: Option<&SignedIn>,
) -> Result<MaskedAddress, AppError> {
    let client = &state.descope;
    let result = match request {
        OtpRequest::SignUpOrIn {
            method,
            login_id,
            options,
        } => {
            client
                .sign_up_or_in(*method, login_id, &sign_up_options(options))
                .await
        }
        OtpRequest::SignUp {
            method,
            login_id,
            name,
            email,
            phone,
            options,
        } => {
            // The login id is also the user's address for its channel; the other is optional.
            let user = SignUpUser {
                name: name.clone(),
                email: if method.is_phone() {
                    email.clone()
                } else {
                    Some(login_id.clone())
                },
                phone: if method.is_phone() {
                    Some(login_id.clone())
                } else {
                    phone.clone()
                },
                ..SignUpUser::default()
            };
            client
                .sign_up(*method, login_id, &user, &sign_up_options(options))
                .await
        }
        OtpRequest::SignIn {
            method,
            login_id,
            options,
        } => {
            // Step-up and MFA add to the current session, so Descope needs its refresh JWT.
            let refresh_jwt = if options.stepup || options.mfa {
                let current = signed_in
                    .ok_or_else(|| AppError::invalid(Field::Stepup, Problem::StepUpNeedsSession))?;
                Some(current.refresh_jwt.as_str())
            } else {
                None
            };
            let login_options = LoginOptions {
                stepup: options.stepup,
                mfa: options.mfa,
                custom_claims: options.custom_claims.clone(),
                template_options: options.template_options.clone(),
            };
            client
                .sign_in(*method, login_id, &login_options, refresh_jwt)
                .await
        }
        OtpRequest::StepUp {
            method, login_id, ..
        } => {
            let current = signed_in.ok_or(AppError::NotSignedIn)?;
            let options = LoginOptions {
                stepup: true,
                ..LoginOptions::default()
            };
            client
                .sign_in(*method, login_id, &options, Some(&current.refresh_jwt))
                .await
        }
        OtpRequest::Update(change) => {
            let current = signed_in.ok_or(AppError::NotSignedIn)?;
            match change {
                Change::Email {
                    email,
                    add_to_login_ids,
                } => {
                    let options = update_options(*add_to_login_ids);
                    client
                        .update_email(&current.login_id, email, &current.refresh_jwt, &options)
                        .await
                }
                Change::Phone {
                    method,
                    phone,
                    add_to_login_ids,
                } => {
                    let options = update_options(*add_to_login_ids);
                    client
                        .update_phone(
                            *method,
                            &current.login_id,
                            phone,
                            &current.refresh_jwt,
                            &options,
                        )
                        .await
                }
            }
        }
    };
    result.map_err(|e| from_descope(e, request.flow()))
}

fn sign_up_options(options: &OtpOptions) -> SignUpOptions {
    SignUpOptions {
        custom_claims: options.custom_claims.clone(),
        template_options: options.template_options.clone(),
    }
}

fn update_options(add_to_login_ids: bool) -> UpdateOptions {
    UpdateOptions {
        add_to_login_ids,
        // Never merge two people's accounts from a profile form: a conflict is reported instead.
        on_merge_use_existing: false,
        ..UpdateOptions::default()
    }
}

fn change_method(change: &Change) -> DeliveryMethod {
    match change {
        Change::Email { .. } => DeliveryMethod::Email,
        Change::Phone { method, .. } => *method,
    }
}

fn resend_wait(state: &AppState, pending: &PendingOtp) -> u64 {
    let ready_at = pending.sent_at + state.settings.resend_cooldown.as_secs() as i64;
    (ready_at - state.clock.now()).max(0) as u64
}

fn view_of(state: &AppState, pending: &PendingOtp) -> PendingView {
    PendingView {
        flow: pending.request.flow(),
        method: pending.request.method(),
        masked: pending.masked.clone(),
        resend_in_secs: resend_wait(state, pending),
        then: match &pending.request {
            OtpRequest::StepUp {
                then: Change::Email { .. },
                ..
            } => Some("email".to_owned()),
            OtpRequest::StepUp {
                then: Change::Phone { .. },
                ..
            } => Some("phone".to_owned()),
            _ => None,
        },
        if_account_exists: matches!(pending.request, OtpRequest::SignIn { .. })
            && !state.settings.reveal_account_existence,
    }
}
