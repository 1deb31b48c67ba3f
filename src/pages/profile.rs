use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::auth::{SignOut, SignOutEverywhere};
use crate::components::error_banner::ErrorBanner;
use crate::components::http_status::set_http_status;
use crate::components::submit_button::SubmitButton;
use crate::error::{AppError, new_error_id};
use crate::models::Profile;
use crate::pages::{action_error, loaded_profile};

/// The gated profile. The server refuses to render it for a signed-out browser (303 to sign in),
/// and loads the profile before the render begins (`PageData`), so the page renders in one pass.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let body = match loaded_profile() {
        Some(Ok(profile)) => view! { <ProfileCard profile/> }.into_any(),
        Some(Err(AppError::NotSignedIn)) => view! { <SendToSignIn/> }.into_any(),
        failed => {
            // Never `None` on the server: the gate's middleware loads every `/profile` it renders.
            let e = failed
                .and_then(Result::err)
                .unwrap_or_else(|| AppError::Internal {
                    error_id: new_error_id("/profile rendered without its page data"),
                });
            set_http_status(e.status_code());
            view! {
                <section class="card">
                    <h1>"Your profile"</h1>
                    <p class="error" role="alert">{e.to_string()}</p>
                </section>
            }
            .into_any()
        }
    };
    view! {
        <Title text="Your profile"/>
        {body}
    }
}

/// Reached only when the gate's check passed but Descope then refused the session while the page
/// fetched fresh details (`me` answering 401, e.g. a revoked refresh token); a browser the gate
/// finds signed out gets a 303 before anything renders.
#[component]
fn SendToSignIn() -> impl IntoView {
    view! {
        <section class="card">
            <p>"Please " <a href="/sign-in?next=/profile">"sign in"</a> " to see your profile."</p>
        </section>
    }
}

#[component]
fn ProfileCard(profile: Profile) -> impl IntoView {
    let Profile {
        user_id,
        name,
        login_ids,
        email,
        verified_email,
        phone,
        verified_phone,
        session_expires_at,
        authenticated_at,
        amr,
        stepped_up,
        custom_claims,
    } = profile;
    let verified = |flag: bool| if flag { "verified" } else { "not verified" };
    let claims_view = (!custom_claims.is_empty()).then(|| {
        view! {
            <h2>"Custom claims"</h2>
            <dl class="claims">
                {custom_claims
                    .into_iter()
                    .map(|(k, v)| view! { <dt>{k}</dt><dd><code>{v}</code></dd> })
                    .collect_view()}
            </dl>
        }
    });
    view! {
        <section class="card">
            <h1>{name.clone().map_or_else(|| "Your profile".to_owned(), |n| format!("Hello, {n}"))}</h1>
            <dl class="details">
                <dt>"Name"</dt>
                <dd>{name.unwrap_or_else(|| "—".into())}</dd>
                <dt>"User id"</dt>
                <dd><code>{user_id}</code></dd>
                <dt>"Login ids"</dt>
                <dd>
                    <ul class="plain">
                        {login_ids.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                    </ul>
                </dd>
                <dt>"Email"</dt>
                <dd data-testid="email">
                    {email.map_or_else(
                        || "—".to_owned(),
                        |e| format!("{e} ({})", verified(verified_email)),
                    )}
                    " " <a href="/profile/email">"Change"</a>
                </dd>
                <dt>"Phone"</dt>
                <dd data-testid="phone">
                    {phone.map_or_else(
                        || "—".to_owned(),
                        |p| format!("{p} ({})", verified(verified_phone)),
                    )}
                    " " <a href="/profile/phone">"Change"</a>
                </dd>
                <dt>"Signed in with"</dt>
                <dd data-testid="amr">{amr.join(", ")}{stepped_up.then_some(" · stepped up")}</dd>
                <dt>"Last code verified"</dt>
                <dd><LocalTime unix=authenticated_at/></dd>
                <dt>"Session token expires"</dt>
                <dd><LocalTime unix=session_expires_at/> " (renewed automatically)"</dd>
            </dl>
            {claims_view}
            <SignOutForms/>
        </section>
    }
}

/// The card's interactive part: sign out here, or everywhere.
#[island]
fn SignOutForms() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let sign_out_all = ServerAction::<SignOutEverywhere>::new();
    let error = Signal::derive(move || {
        action_error(sign_out)
            .get()
            .or_else(|| action_error(sign_out_all).get())
    });
    view! {
        <ErrorBanner error=error/>
        <div class="actions">
            <ActionForm action=sign_out>
                <SubmitButton pending=sign_out.pending() label="Sign out" pending_label="Signing out…"/>
            </ActionForm>
            <ActionForm action=sign_out_all>
                <SubmitButton
                    pending=sign_out_all.pending()
                    label="Sign out everywhere"
                    pending_label="Signing out…"
                    class="button secondary"
                />
            </ActionForm>
        </div>
    }
}

/// A Unix time as UTC text; the same on the server and after hydration.
#[component]
fn LocalTime(unix: i64) -> impl IntoView {
    let secs = unix.rem_euclid(86_400);
    let days = unix.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let text = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    );
    view! { <time>{text}</time> }
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm), so that the
/// browser bundle needs no date library.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn days_since_the_epoch_become_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_514), (2026, 3, 2));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
