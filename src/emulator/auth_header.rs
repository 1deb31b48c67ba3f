//! Parsing `Authorization: Bearer <projectId>[:<refreshJwt>][:<key>]` (spec section 2).

use axum::http::HeaderMap;

use super::error::{ApiError, codes};

/// The parts of a Descope bearer value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bearer {
    pub project_id: String,
    /// The part shaped like a JWT, if any.
    pub refresh_jwt: Option<String>,
    /// Any other extra part: a management key (or an auth management key).
    pub key: Option<String>,
}

/// Three non-empty dot-separated base64url segments.
pub fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// Splits a bearer value on `:`. Part 0 is the project id; a JWT-shaped part is the refresh
/// JWT; any other part is a key. Returns `None` for a missing or non-Bearer header.
pub fn parse(headers: &HeaderMap) -> Option<Bearer> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut parts = rest.trim().split(':');
    let project_id = parts.next()?.to_string();
    let mut bearer = Bearer {
        project_id,
        ..Bearer::default()
    };
    for part in parts.filter(|p| !p.is_empty()) {
        if looks_like_jwt(part) && bearer.refresh_jwt.is_none() {
            bearer.refresh_jwt = Some(part.to_string());
        } else if bearer.key.is_none() {
            bearer.key = Some(part.to_string());
        }
    }
    Some(bearer)
}

/// The bearer, with its project id checked against ours.
pub fn require_project(headers: &HeaderMap, project_id: &str) -> Result<Bearer, ApiError> {
    let bearer = parse(headers).ok_or_else(|| {
        ApiError::unauthorized(
            codes::INVALID_TOKEN,
            "Missing or malformed Authorization header: expected 'Bearer <projectId>[:<jwt>]'",
        )
    })?;
    if bearer.project_id != project_id {
        return Err(ApiError::unauthorized(
            codes::INVALID_TOKEN,
            format!("Unknown project id '{}'", bearer.project_id),
        ));
    }
    Ok(bearer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn a_bearer_with_project_jwt_and_key_is_split_into_its_three_parts() {
        let b = parse(&headers("Bearer P2abc:aaa.bbb.ccc:K2key")).unwrap();
        assert_eq!(b.project_id, "P2abc");
        assert_eq!(b.refresh_jwt.as_deref(), Some("aaa.bbb.ccc"));
        assert_eq!(b.key.as_deref(), Some("K2key"));
    }

    #[test]
    fn a_second_part_that_is_not_a_jwt_is_a_key() {
        let b = parse(&headers("Bearer P2abc:secret")).unwrap();
        assert_eq!(b.refresh_jwt, None);
        assert_eq!(b.key.as_deref(), Some("secret"));
    }

    #[test]
    fn a_non_bearer_header_is_not_parsed() {
        assert_eq!(parse(&headers("Basic abc")), None);
        assert_eq!(parse(&HeaderMap::new()), None);
    }

    #[test]
    fn a_wrong_project_id_is_refused() {
        let err = require_project(&headers("Bearer P2other"), "P2mine").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::UNAUTHORIZED);
    }
}
