//! Addresses as the app shows them on the code page and writes them in its logs: never whole.
//!
//! `ada@example.com` → `a***@example.com`; `+14155552671` → `********2671`. [`text`] finds and
//! masks them inside a free text, such as an error description from Descope.

use std::borrow::Cow;

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

/// `text` with every email address and phone number in it masked, for a free text that reaches a
/// log: Descope's error descriptions name the login id or address they are about ("User already
/// exists: 'ada@example.com' …"). An email address is anything shaped like `local@domain.tld`; a
/// phone number is `+` and 8 to 15 digits (E.164). Borrowed back unchanged when there is none.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut found: Vec<(usize, usize, bool)> = Vec::new();
    for (at, c) in text.char_indices() {
        match c {
            '@' => found.extend(email_around(text, at).map(|(start, end)| (start, end, false))),
            '+' => found.extend(phone_from(text, at).map(|end| (at, end, true))),
            _ => {}
        }
    }
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    // By where they start, the longer first: a phone number inside an email address is masked
    // with the address.
    found.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut masked = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end, is_phone) in found {
        if start < done {
            continue;
        }
        masked.push_str(&text[done..start]);
        let whole = &text[start..end];
        masked.push_str(&if is_phone { phone(whole) } else { email(whole) });
        done = end;
    }
    masked.push_str(&text[done..]);
    Cow::Owned(masked)
}

/// The byte range of the email address whose `@` is at `at`, if the text around it is shaped
/// like one: a local part, and a domain with a dot followed by letters.
fn email_around(text: &str, at: usize) -> Option<(usize, usize)> {
    let is_local = |c: char| c.is_alphanumeric() || ".+-_%".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let start = text[..at]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_local(c))
        .last()
        .map(|(i, _)| i)?;
    let after = at + 1;
    let domain_len = text[after..]
        .char_indices()
        .find(|&(_, c)| !is_domain(c))
        .map_or(text.len() - after, |(i, _)| i);
    // A sentence's full stop after the address is not part of it.
    let domain = text[after..after + domain_len].trim_end_matches(['.', '-']);
    let (name, tld) = domain.rsplit_once('.')?;
    let shaped = !name.is_empty() && !tld.is_empty() && tld.chars().all(char::is_alphabetic);
    shaped.then_some((start, after + domain.len()))
}

/// Where the phone number whose `+` is at `at` ends: 8 to 15 digits follow it.
fn phone_from(text: &str, at: usize) -> Option<usize> {
    let digits = text[at + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    (8..=15).contains(&digits).then_some(at + 1 + digits)
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

    #[test]
    fn addresses_inside_a_text_are_masked_and_the_rest_is_kept() {
        assert_eq!(
            text("User already exists: 'ada.l+x@mail.example.com' is already registered."),
            "User already exists: 'a***@mail.example.com' is already registered."
        );
        assert_eq!(
            text("'+14155552671' is already in use; so is bob@example.org."),
            "'********2671' is already in use; so is b***@example.org."
        );
        assert_eq!(text("a@b.co,c@d.io"), "a***@b.co,c***@d.io", "side by side");
        assert_eq!(text("+4412345678@example.com"), "+***@example.com");
        assert_eq!(text("é@exämple.org"), "é***@exämple.org");
        // Nothing shaped like an address: the text comes back as it is, not copied.
        for plain in [
            "Wrong or expired code",
            "HTTP 400 E062107",
            "@ the start, the end @",
            "user@localhost and a@b.c1",
            "+1234567 is too short, +1234567890123456 too long",
            "2026-12-06T23:21:25+00:00",
            "",
        ] {
            assert!(
                matches!(text(plain), Cow::Borrowed(t) if t == plain),
                "{plain}"
            );
        }
    }
}
