//! Addresses as the app shows them on the code page and writes them in its logs: never whole.
//!
//! `ada@example.com` → `a***@example.com`; `+14155552671` → `********2671`.

use crate::models::DeliveryMethod;

pub fn address(method: DeliveryMethod, address: &str) -> String {
    if method.is_phone() {
        phone(address)
    } else {
        email(address)
    }
}

pub fn email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

pub fn phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let hidden = chars.len().saturating_sub(4);
    let tail: String = chars[hidden..].iter().collect();
    format!("{}{tail}", "*".repeat(hidden))
}

/// A login id of either kind, for a log line.
pub fn login_id(login_id: &str) -> String {
    if login_id.contains('@') {
        email(login_id)
    } else {
        phone(login_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_a_hint() {
        assert_eq!(email("ada@example.com"), "a***@example.com");
        assert_eq!(phone("+14155552671"), "********2671");
        assert_eq!(phone("12"), "12");
        assert_eq!(login_id("é@x.org"), "é***@x.org");
        assert_eq!(email("no-at-sign"), "***");
    }
}
