//! Checks on what people type, done before any call to Descope so that a login id that does not
//! fit its delivery method gets a clear message and costs no message.

use std::collections::BTreeMap;

use phonenumber::Mode;

use crate::error::{AppError, Field, Problem};
use crate::models::{DeliveryMethod, RESERVED_CLAIMS};

/// A login id checked against the method it will be used with: an email address for email, an
/// E.164 phone number for sms, voice and WhatsApp.
pub fn login_id(method: DeliveryMethod, raw: &str) -> Result<String, AppError> {
    if method.is_phone() {
        phone(Field::LoginId, raw)
    } else {
        email(Field::LoginId, raw)
    }
}

/// RFC 5321 allows 254 characters in a path; Descope refuses longer ones anyway.
const MAX_EMAIL: usize = 254;
/// Room for "+", a country code, a long number and the spaces and brackets people type.
const MAX_PHONE_TYPED: usize = 32;

pub fn email(field: Field, raw: &str) -> Result<String, AppError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AppError::invalid(field, Problem::EmailMissing));
    }
    if trimmed.chars().count() > MAX_EMAIL {
        return Err(AppError::invalid(field, Problem::EmailTooLong));
    }
    match trimmed.parse::<email_address::EmailAddress>() {
        // Descope treats the domain case-insensitively; keep the local part as typed.
        Ok(addr) if addr.domain().contains('.') => Ok(format!(
            "{}@{}",
            addr.local_part(),
            addr.domain().to_ascii_lowercase()
        )),
        _ => Err(AppError::invalid(field, Problem::EmailMalformed)),
    }
}

/// Normalises a phone number to E.164 (`+14155550100`), which is what Descope expects.
pub fn phone(field: Field, raw: &str) -> Result<String, AppError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(AppError::invalid(field, Problem::PhoneMissing));
    }
    let Some(number) = trimmed.strip_prefix('+') else {
        return Err(AppError::invalid(field, Problem::PhoneNoCountryCode));
    };
    // People write numbers with spaces, dashes, dots and brackets; the parser wants them bare.
    if !number
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()".contains(c))
    {
        return Err(AppError::invalid(field, Problem::PhoneNotDigits));
    }
    if trimmed.len() > MAX_PHONE_TYPED {
        return Err(AppError::invalid(field, Problem::PhoneTooLong));
    }
    let bare: String = trimmed
        .chars()
        .filter(|c| *c == '+' || c.is_ascii_digit())
        .collect();
    match phonenumber::parse(None, &bare) {
        Ok(number) if phonenumber::is_valid(&number) => {
            Ok(number.format().mode(Mode::E164).to_string())
        }
        _ => Err(AppError::invalid(field, Problem::PhoneInvalid)),
    }
}

/// An optional display name: trimmed, at most 100 characters.
pub fn name(raw: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(trimmed) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if trimmed.chars().count() > 100 {
        return Err(AppError::invalid(Field::Name, Problem::NameTooLong));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AppError::invalid(
            Field::Name,
            Problem::NameControlCharacters,
        ));
    }
    Ok(Some(trimmed.to_owned()))
}

/// A one-time code as typed: spaces and dashes are ignored, the rest must be digits.
pub fn code(raw: &str) -> Result<String, AppError> {
    let digits: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.is_empty() {
        return Err(AppError::invalid(Field::Code, Problem::CodeMissing));
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(AppError::invalid(Field::Code, Problem::CodeNotDigits));
    }
    // Descope's codes have 6 digits; 12 leaves room for any project setting.
    if digits.len() > 12 {
        return Err(AppError::invalid(Field::Code, Problem::CodeTooLong));
    }
    Ok(digits)
}

/// `customClaims` as typed into a form: a JSON object of at most 20 claims and 2 KB, none of them
/// a claim Descope sets itself. Empty means none.
pub fn custom_claims(
    raw: Option<&str>,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>, AppError> {
    let Some(text) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let field = Field::CustomClaims;
    if text.len() > 2048 {
        return Err(AppError::invalid(field, Problem::ClaimsTooLarge));
    }
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_str(text) else {
        return Err(AppError::invalid(field, Problem::ClaimsNotAnObject));
    };
    if claims.len() > 20 {
        return Err(AppError::invalid(field, Problem::TooManyClaims));
    }
    if let Some(reserved) = RESERVED_CLAIMS.iter().find(|r| claims.contains_key(**r)) {
        return Err(AppError::invalid(
            field,
            Problem::ReservedClaim {
                claim: (*reserved).to_owned(),
            },
        ));
    }
    Ok(Some(claims))
}

const MAX_TEMPLATE_VALUE: usize = 500;

/// `templateOptions` as typed into a form: one `name=value` per line. Empty means none.
pub fn template_options(raw: Option<&str>) -> Result<Option<BTreeMap<String, String>>, AppError> {
    let field = Field::TemplateOptions;
    let mut options = BTreeMap::new();
    for line in raw
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let Some((name, value)) = line.split_once('=') else {
            return Err(AppError::invalid(field, Problem::TemplateLineMalformed));
        };
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(AppError::invalid(field, Problem::TemplateNameInvalid));
        }
        // The value goes into a message Descope sends: short, and no control characters that
        // could rewrite an SMS or an email header.
        let value = value.trim();
        if value.chars().count() > MAX_TEMPLATE_VALUE || value.chars().any(char::is_control) {
            return Err(AppError::invalid(field, Problem::TemplateValueInvalid));
        }
        options.insert(name.to_owned(), value.to_owned());
        if options.len() > 20 {
            return Err(AppError::invalid(field, Problem::TooManyTemplateOptions));
        }
    }
    Ok((!options.is_empty()).then_some(options))
}

/// The "Descope options" section of a form, checked. Checkboxes arrive as `Some("on")`.
pub fn otp_options(
    custom_claims_field: Option<String>,
    template_options_field: Option<String>,
    stepup: Option<String>,
    mfa: Option<String>,
) -> Result<crate::server::session::OtpOptions, AppError> {
    Ok(crate::server::session::OtpOptions {
        custom_claims: custom_claims(custom_claims_field.as_deref())?,
        template_options: template_options(template_options_field.as_deref())?,
        stepup: stepup.is_some(),
        mfa: mfa.is_some(),
    })
}

/// A post-sign-in destination: only a local path, never another site (no open redirect).
pub fn next_path(raw: Option<&str>) -> Option<String> {
    let path = raw?.trim();
    let local = path.len() <= 512
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    local.then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_to_e164() {
        assert_eq!(
            phone(Field::Phone, "+1 (415) 555-2671").expect("valid"),
            "+14155552671"
        );
        assert_eq!(
            phone(Field::Phone, "+44 7911 123456").expect("valid"),
            "+447911123456"
        );
    }

    #[test]
    fn phone_numbers_without_a_country_code_or_invalid_are_refused() {
        assert!(phone(Field::Phone, "4155552671").is_err());
        assert!(phone(Field::Phone, "+1 123").is_err());
        assert!(phone(Field::Phone, "+1 abc def ghij").is_err());
    }

    #[test]
    fn a_login_id_must_fit_its_method() {
        assert!(login_id(DeliveryMethod::Email, "+14155552671").is_err());
        assert!(login_id(DeliveryMethod::Sms, "ada@example.com").is_err());
        assert_eq!(
            login_id(DeliveryMethod::Email, " Ada@Example.COM ").expect("valid"),
            "Ada@example.com"
        );
        let err = login_id(DeliveryMethod::Whatsapp, "").expect_err("empty");
        assert_eq!(err.field(), Some("login_id"));
    }

    #[test]
    fn emails_need_a_dotted_domain() {
        assert!(email(Field::Email, "ada@localhost").is_err());
        assert!(email(Field::Email, "not an email").is_err());
    }

    #[test]
    fn codes_allow_spaces_but_only_digits() {
        assert_eq!(code(" 123 456 ").expect("valid"), "123456");
        assert!(code("12a456").is_err());
        assert!(code("").is_err());
    }

    #[test]
    fn custom_claims_must_be_a_small_object_without_reserved_names() {
        let claims = custom_claims(Some(r#"{"plan": "pro", "seats": 3}"#))
            .expect("valid")
            .expect("some");
        assert_eq!(claims["seats"], 3);
        assert_eq!(custom_claims(Some("  ")).expect("empty is none"), None);
        assert!(custom_claims(Some("[1, 2]")).is_err());
        assert!(custom_claims(Some("{not json")).is_err());
        let err = custom_claims(Some(r#"{"sub": "someone-else"}"#)).expect_err("reserved");
        assert!(err.to_string().contains("sub"), "{err}");
    }

    #[test]
    fn template_options_are_name_value_lines() {
        let options = template_options(Some("app=Demo\n\n team = Blue "))
            .expect("valid")
            .expect("some");
        assert_eq!(options.get("team").map(String::as_str), Some("Blue"));
        assert_eq!(options.len(), 2);
        assert!(template_options(Some("no equals sign")).is_err());
        assert!(template_options(Some("bad name=1")).is_err());
        assert_eq!(template_options(None).expect("none"), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(next_path(Some("/profile")), Some("/profile".into()));
        assert_eq!(next_path(Some("//evil.example")), None);
        assert_eq!(next_path(Some("https://evil.example")), None);
        assert_eq!(next_path(Some("/\\evil.example")), None);
        assert_eq!(next_path(None), None);
    }

    /// Every parser of what people type, over arbitrary input: never a panic, always either a
    /// clear error about the right field or a value that keeps its promise.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn method() -> impl Strategy<Value = DeliveryMethod> {
            prop_oneof![
                Just(DeliveryMethod::Email),
                Just(DeliveryMethod::Sms),
                Just(DeliveryMethod::Voice),
                Just(DeliveryMethod::Whatsapp),
            ]
        }

        proptest! {
            // A fixed seed: the same 256 cases on every run, so CI never fails by chance.
            #![proptest_config(ProptestConfig {
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_c0de),
                ..ProptestConfig::default()
            })]

            #[test]
            fn login_ids_are_e164_or_email_or_a_login_id_error(method in method(), raw in "\\PC{0,300}|[+0-9 ()-.]{0,40}|[a-z.]{1,20}@[a-z]{1,10}\\.[a-z]{2,5}") {
                match login_id(method, &raw) {
                    Ok(id) if method.is_phone() => {
                        prop_assert!(id.starts_with('+'));
                        prop_assert!(id[1..].chars().all(|c| c.is_ascii_digit()));
                    }
                    Ok(id) => {
                        prop_assert!(id.contains('@') && id.chars().count() <= 254);
                    }
                    Err(e) => prop_assert_eq!(e.field(), Some("login_id")),
                }
            }

            #[test]
            fn codes_are_up_to_twelve_digits(raw in "\\PC{0,300}|[0-9 -]{0,40}") {
                match code(&raw) {
                    Ok(code) => prop_assert!((1..=12).contains(&code.len()) && code.chars().all(|c| c.is_ascii_digit())),
                    Err(e) => prop_assert_eq!(e.field(), Some("code")),
                }
            }

            #[test]
            fn names_are_short_and_printable(raw in "\\PC{0,200}|[\\x00-\\x1f a-z]{0,20}") {
                if let Ok(Some(name)) = name(Some(&raw)) {
                    prop_assert!(name.chars().count() <= 100);
                    prop_assert!(!name.chars().any(char::is_control));
                }
            }

            #[test]
            fn custom_claims_are_a_small_object_without_reserved_claims(raw in "\\PC{0,300}|\\{\"[a-z]{1,5}\": ?[0-9]{1,3}\\}") {
                match custom_claims(Some(&raw)) {
                    Ok(Some(claims)) => {
                        prop_assert!(claims.len() <= 20);
                        prop_assert!(!claims.keys().any(|k| RESERVED_CLAIMS.contains(&k.as_str())));
                    }
                    Ok(None) => prop_assert!(raw.trim().is_empty()),
                    Err(e) => prop_assert_eq!(e.field(), Some("custom_claims")),
                }
            }

            #[test]
            fn template_options_are_bounded_and_free_of_control_characters(raw in "\\PC{0,600}|([a-z_-]{1,8}=[\\PC\\x07]{0,20}\n){0,25}") {
                match template_options(Some(&raw)) {
                    Ok(Some(options)) => {
                        prop_assert!(options.len() <= 20);
                        for (name, value) in &options {
                            prop_assert!(!name.is_empty() && name.len() <= 64);
                            prop_assert!(value.chars().count() <= MAX_TEMPLATE_VALUE);
                            prop_assert!(!value.chars().any(char::is_control));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => prop_assert_eq!(e.field(), Some("template_options")),
                }
            }

            /// The open-redirect guard: whatever is accepted stays on this site when a browser
            /// resolves it against the page it is on.
            #[test]
            fn next_paths_never_leave_the_site(raw in "\\PC{0,100}|[/\\\\.:a-z@%]{0,30}") {
                if let Some(path) = next_path(Some(&raw)) {
                    let base = url::Url::parse("https://app.example/sign-in").expect("literal");
                    let resolved = base.join(&path).expect("a local path resolves");
                    prop_assert_eq!(resolved.host_str(), Some("app.example"));
                    prop_assert_eq!(resolved.scheme(), "https");
                }
            }

            #[test]
            fn an_error_read_from_a_url_is_one_the_server_wrote_or_nothing(raw in "\\PC{0,200}") {
                if let Some(error) = AppError::from_url_value(&raw) {
                    // Whatever it is, it round-trips: there was nothing in it but known values.
                    let again = serde_json::to_string(&error).expect("serialises");
                    prop_assert_eq!(serde_json::from_str::<AppError>(&again).ok(), Some(error));
                }
            }
        }
    }
}
