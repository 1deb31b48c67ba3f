//! Reusable view pieces.

pub mod descope_options;
pub mod error_banner;
pub mod header;
pub mod http_status;
pub mod login_id_fields;
pub mod submit_button;
