//! Cross-site requests refused: no other web page can make this app send a code, sign someone
//! out or change their address.
//!
//! Every request that can change something (anything but GET, HEAD and OPTIONS) must come from a
//! page of this app. Browsers say where a request comes from: `Sec-Fetch-Site` (every current
//! browser), else `Origin`, else `Referer`. The check follows the same reasoning as Go's
//! `net/http.CrossOriginProtection`:
//! - `Sec-Fetch-Site: same-origin` (or `none`, a request the person made themselves) passes; any
//!   other value (`same-site`, `cross-site`) is refused: a sibling subdomain is another site;
//! - without it, `Origin` (or failing that, the origin of `Referer`) must be the app's own: the
//!   `APP_ORIGIN` setting, or when unset, the request's own `Host`;
//! - a request with none of the three is not from a browser (browsers send `Origin` on every
//!   cross-site POST), so it cannot be forged by another site and passes.
//!
//! SameSite=Lax on the session cookie already keeps cross-site POSTs from carrying the session;
//! this check also refuses the ones that need no session, such as "send a code to this number".

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::AppError;
use crate::server::errors::refusal;
use crate::server::state::AppState;

pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    match same_origin(request.headers(), state.settings.app_origin.as_ref()) {
        Ok(()) => next.run(request).await,
        Err(why) => {
            tracing::warn!(
                method = %request.method(),
                path = request.uri().path(),
                why,
                "cross-site request refused"
            );
            refusal(request.headers(), &AppError::CrossSite)
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Ok` when the request comes from this app's own pages (or from no browser at all).
pub fn same_origin(
    headers: &HeaderMap,
    app_origin: Option<&url::Origin>,
) -> Result<(), &'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err("Sec-Fetch-Site is not same-origin"),
        };
    }
    let claimed = match (
        text(header::ORIGIN.as_str()),
        text(header::REFERER.as_str()),
    ) {
        (Some("null"), _) => return Err("Origin is null"),
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => return Ok(()),
    };
    let Ok(claimed) = url::Url::parse(claimed).map(|u| u.origin()) else {
        return Err("Origin or Referer is not a URL");
    };
    let ours = match app_origin {
        Some(origin) => *origin == claimed,
        // No configured origin: the host (and port) the browser addressed must match.
        None => match (&claimed, text(header::HOST.as_str())) {
            (url::Origin::Tuple(_, host, port), Some(host_header)) => {
                let default_port = matches!(*port, 80 | 443);
                let with_port = format!("{host}:{port}");
                host_header.eq_ignore_ascii_case(&with_port)
                    || (default_port && host_header.eq_ignore_ascii_case(&host.to_string()))
            }
            _ => false,
        },
    };
    if ours {
        Ok(())
    } else {
        Err("Origin or Referer is another site")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        let host = ("host", "app.example.com");
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin"), host]), None).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "none"), host]), None).is_ok());
        for foreign in ["cross-site", "same-site", "anything"] {
            let h = headers(&[
                ("sec-fetch-site", foreign),
                ("origin", "https://app.example.com"),
                host,
            ]);
            assert!(same_origin(&h, None).is_err(), "{foreign}");
        }
    }

    #[test]
    fn origin_or_referer_must_be_the_host_or_the_configured_origin() {
        let host = ("host", "127.0.0.1:3000");
        assert!(same_origin(&headers(&[("origin", "http://127.0.0.1:3000"), host]), None).is_ok());
        assert!(
            same_origin(
                &headers(&[("referer", "http://127.0.0.1:3000/sign-in?x=1"), host]),
                None
            )
            .is_ok()
        );
        assert!(same_origin(&headers(&[("origin", "https://evil.example"), host]), None).is_err());
        assert!(
            same_origin(
                &headers(&[("referer", "https://evil.example/page"), host]),
                None
            )
            .is_err()
        );
        assert!(same_origin(&headers(&[("origin", "null"), host]), None).is_err());
        assert!(same_origin(&headers(&[("origin", "not a url"), host]), None).is_err());
        // A default port may be left out of Host.
        let https = headers(&[
            ("origin", "https://app.example.com"),
            ("host", "app.example.com"),
        ]);
        assert!(same_origin(&https, None).is_ok());

        // Behind a proxy that rewrites Host, the configured origin decides.
        let configured = url::Url::parse("https://app.example.com")
            .expect("url")
            .origin();
        let proxied = headers(&[
            ("origin", "https://app.example.com"),
            ("host", "10.0.0.5:3000"),
        ]);
        assert!(same_origin(&proxied, Some(&configured)).is_ok());
        let other_scheme = headers(&[
            ("origin", "http://app.example.com"),
            ("host", "app.example.com"),
        ]);
        assert!(same_origin(&other_scheme, Some(&configured)).is_err());
    }

    #[test]
    fn a_request_from_no_browser_passes() {
        assert!(same_origin(&headers(&[("host", "app.example.com")]), None).is_ok());
    }
}
