//! Layer: a redirect never leads off-site.
//!
//! Leptos answers a failed plain form post with a redirect to the request's `Referer`; it is cut
//! down to its path when the `Referer` names another site.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

pub async fn local_redirects_only(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    if let Some(local) = local_part(location)
        && local != location
        && let Ok(value) = HeaderValue::from_str(&local)
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `location` as a path on this site: the path and query of whatever URL it is, absolute,
/// protocol-relative (`//host/…`) or local. The cross-site check has already refused requests
/// from other sites, so this only matters for a `Referer` a non-browser made up; a path that
/// starts with several slashes is cut to one, so it cannot become `//other.site`.
fn local_part(location: &str) -> Option<String> {
    let base = url::Url::parse("http://localhost/").ok()?;
    let url = base.join(location).ok()?;
    let mut local = format!("/{}", url.path().trim_start_matches('/'));
    if let Some(query) = url.query() {
        local.push('?');
        local.push_str(query);
    }
    Some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_cut_down_to_a_local_path() {
        assert_eq!(
            local_part("/sign-in?__err=x").as_deref(),
            Some("/sign-in?__err=x")
        );
        assert_eq!(
            local_part("https://evil.example/steal?__err=x").as_deref(),
            Some("/steal?__err=x")
        );
        for off_site in [
            "//evil.example/x",
            "/\\evil.example/x",
            "https://a.example//evil.example/x",
        ] {
            let local = local_part(off_site).expect("a path");
            assert!(
                local.starts_with('/') && !local.starts_with("//"),
                "{off_site} -> {local}"
            );
        }
    }
}
