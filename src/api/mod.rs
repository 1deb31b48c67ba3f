//! Server functions, by feature. Each is a thin shell: take the request context, validate input,
//! call one function in `crate::server`, redirect where a plain HTML form post should land.
//! Endpoints are pinned so that forms keep working across builds.

pub mod auth;
pub mod profile;
