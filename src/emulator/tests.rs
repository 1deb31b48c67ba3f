//! The emulator driven over real HTTP on port 0, one test per behaviour. Time moves through the
//! shared `Clock`, never by sleeping, and stands still in between (`Clock::frozen`), so no
//! outcome depends on where a second boundary falls.

use std::net::SocketAddr;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::keys::tests::shared_test_pem;
use super::{DbLocation, Emulator, EmulatorConfig};
use crate::clock::Clock;

struct Harness {
    emu: Emulator,
    clock: Clock,
    http: reqwest::Client,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

fn config() -> EmulatorConfig {
    EmulatorConfig {
        signing_key_pem: Some(shared_test_pem()),
        ..EmulatorConfig::default()
    }
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(config()).await
    }

    async fn start_with(config: EmulatorConfig) -> Self {
        let clock = Clock::frozen();
        let emu = Emulator::start(config, any_port(), clock.clone())
            .await
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Self { emu, clock, http }
    }

    fn pid(&self) -> String {
        self.emu.project_id().to_string()
    }

    /// The `kid`s the JWKS publishes, in its order.
    async fn published_kids(&self) -> Vec<String> {
        let jwks = self
            .get(&format!("/v2/keys/{}", self.pid()), &self.pid())
            .await;
        jwks.body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    fn with_refresh(&self, refresh: &str) -> String {
        format!("{}:{refresh}", self.pid())
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}) with {status}: {text}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, path: &str, bearer: &str, body: Value) -> Reply {
        let url = format!("{}{path}", self.emu.base_url());
        self.send(self.http.post(url).bearer_auth(bearer).json(&body))
            .await
    }

    async fn get(&self, path: &str, bearer: &str) -> Reply {
        let url = format!("{}{path}", self.emu.base_url());
        self.send(self.http.get(url).bearer_auth(bearer)).await
    }

    fn code_for(&self, destination: &str) -> String {
        self.emu
            .latest_message(destination)
            .unwrap_or_else(|| panic!("no code was sent to {destination}"))
            .code
    }

    async fn start_code(&self, flow: &str, method: &str, login_id: &str) -> Reply {
        self.post(
            &format!("/v1/auth/otp/{flow}/{method}"),
            &self.pid(),
            json!({ "loginId": login_id, "loginOptions": {} }),
        )
        .await
    }

    async fn verify(&self, method: &str, login_id: &str, code: &str) -> Reply {
        self.post(
            &format!("/v1/auth/otp/verify/{method}"),
            &self.pid(),
            json!({ "loginId": login_id, "code": code }),
        )
        .await
    }

    /// Signs `login_id` up-or-in through `method` and returns the verify body.
    async fn sign_in(&self, method: &str, login_id: &str) -> Value {
        let sent = self.start_code("signup-in", method, login_id).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        let code = self.code_for(login_id);
        let verified = self.verify(method, login_id, &code).await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
        verified.body
    }

    async fn claims_of(&self, jwt: &str) -> Value {
        let jwks = self
            .get(&format!("/v2/keys/{}", self.pid()), &self.pid())
            .await;
        let key = &jwks.body["keys"][0];
        let header = jsonwebtoken::decode_header(jwt).unwrap();
        assert_eq!(header.kid.as_deref(), key["kid"].as_str());
        assert_eq!(key["alg"], "RS256");
        let decoding = DecodingKey::from_rsa_components(
            key["n"].as_str().unwrap(),
            key["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        // The harness clock may run ahead of the wall clock; expiry is the emulator's business.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(jwt, &decoding, &validation)
            .unwrap()
            .claims
    }
}

fn jwt(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap().to_string()
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["errorCode"], code, "{}", reply.body);
    assert!(
        !reply.body["errorDescription"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

// ---- codes -------------------------------------------------------------------------------

#[tokio::test]
async fn a_code_from_sign_up_or_in_signs_the_user_in_and_first_seen_is_true_only_once() {
    let h = Harness::start().await;
    let first = h.sign_in("email", "ann@example.com").await;
    assert_eq!(first["firstSeen"], true);
    assert_eq!(first["user"]["email"], "ann@example.com");
    assert_eq!(first["user"]["verifiedEmail"], true);
    assert!(first["user"]["userId"].as_str().unwrap().starts_with("U2"));
    let cookie_exp = first["cookieExpiration"].as_i64().unwrap();
    assert!(cookie_exp > h.clock.now() && cookie_exp < h.clock.now() + 31 * 24 * 3600);

    let second = h.sign_in("email", "ann@example.com").await;
    assert_eq!(second["firstSeen"], false);
    assert_eq!(second["user"]["userId"], first["user"]["userId"]);
}

#[tokio::test]
async fn sign_up_returns_the_masked_address_for_the_channel() {
    let h = Harness::start().await;
    let email = h.start_code("signup", "email", "bob@example.com").await;
    assert_eq!(email.body, json!({"maskedEmail": "b***@example.com"}));
    for method in ["sms", "voice", "whatsapp"] {
        let phone = format!("+1415555010{}", method.len());
        let reply = h.start_code("signup", method, &phone).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            reply.body["maskedPhone"]
                .as_str()
                .unwrap()
                .ends_with(&phone[phone.len() - 4..])
        );
        let message = h.emu.latest_message(&phone).unwrap();
        assert_eq!(message.channel, method);
        assert_eq!(message.purpose, "signup");
    }
}

#[tokio::test]
async fn a_code_used_once_cannot_be_used_again() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "c@example.com").await;
    let code = h.code_for("c@example.com");
    assert_eq!(
        h.verify("email", "c@example.com", &code).await.status,
        StatusCode::OK
    );
    let again = h.verify("email", "c@example.com", &code).await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "E061102");
}

#[tokio::test]
async fn a_code_past_its_lifetime_is_refused_as_expired() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "late@example.com").await;
    let code = h.code_for("late@example.com");
    h.clock.advance(Duration::from_secs(300));
    let reply = h.verify("email", "late@example.com", &code).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "E061104");
}

#[tokio::test]
async fn a_code_just_inside_its_lifetime_still_works() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "ontime@example.com")
        .await;
    let code = h.code_for("ontime@example.com");
    h.clock.advance(Duration::from_secs(299));
    let reply = h.verify("email", "ontime@example.com", &code).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn a_wrong_code_is_refused_and_the_fifth_wrong_try_burns_the_code() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "guess@example.com")
        .await;
    let code = h.code_for("guess@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let reply = h.verify("email", "guess@example.com", wrong).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "E061102");
    }
    let fifth = h.verify("email", "guess@example.com", wrong).await;
    assert_error(&fifth, StatusCode::UNAUTHORIZED, "E061103");
    let right_too_late = h.verify("email", "guess@example.com", &code).await;
    assert_error(&right_too_late, StatusCode::UNAUTHORIZED, "E061103");
}

#[tokio::test]
async fn a_newer_code_voids_the_older_one() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "twice@example.com")
        .await;
    let old = h.code_for("twice@example.com");
    h.start_code("signup-in", "email", "twice@example.com")
        .await;
    let new = h.code_for("twice@example.com");
    assert_ne!(new, old, "a new code never repeats the one it voids");
    let with_old = h.verify("email", "twice@example.com", &old).await;
    assert_error(&with_old, StatusCode::UNAUTHORIZED, "E061102");
    let with_new = h.verify("email", "twice@example.com", &new).await;
    assert_eq!(with_new.status, StatusCode::OK, "{}", with_new.body);
}

#[tokio::test]
async fn messages_over_the_cap_per_recipient_are_refused_with_retry_after_until_the_window_passes()
{
    let h = Harness::start().await;
    for _ in 0..5 {
        let ok = h.start_code("signup-in", "email", "spam@example.com").await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    let sixth = h.start_code("signup-in", "email", "spam@example.com").await;
    assert_error(&sixth, StatusCode::TOO_MANY_REQUESTS, "E130429");
    let retry: u64 = sixth.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    // Another recipient is unaffected.
    let other = h
        .start_code("signup-in", "email", "other@example.com")
        .await;
    assert_eq!(other.status, StatusCode::OK);

    h.clock.advance(Duration::from_secs(retry));
    let later = h.start_code("signup-in", "email", "spam@example.com").await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
}

// ---- users -------------------------------------------------------------------------------

#[tokio::test]
async fn sign_up_of_an_existing_user_is_refused_as_already_existing() {
    let h = Harness::start().await;
    h.sign_in("email", "dup@example.com").await;
    let reply = h.start_code("signup", "email", "dup@example.com").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E062107");
}

#[tokio::test]
async fn sign_in_of_an_unknown_user_is_refused_as_not_found() {
    let h = Harness::start().await;
    let reply = h.start_code("signin", "email", "ghost@example.com").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E062108");
    assert!(h.emu.latest_message("ghost@example.com").is_none());
}

#[tokio::test]
async fn sign_up_then_sign_in_keeps_the_profile_and_first_seen_flips() {
    let h = Harness::start().await;
    let reply = h
        .post(
            "/v1/auth/otp/signup/sms",
            &h.pid(),
            json!({"loginId": "+14155550111", "phone": "+14155550111",
                   "user": {"name": "Dee", "email": null}, "loginOptions": null}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let code = h.code_for("+14155550111");
    let verified = h.verify("sms", "+14155550111", &code).await;
    assert_eq!(verified.body["firstSeen"], true);
    assert_eq!(verified.body["user"]["name"], "Dee");
    assert_eq!(verified.body["user"]["verifiedPhone"], true);

    h.start_code("signin", "sms", "+14155550111").await;
    let code = h.code_for("+14155550111");
    let again = h.verify("sms", "+14155550111", &code).await;
    assert_eq!(again.body["firstSeen"], false);
}

#[tokio::test]
async fn a_login_id_of_the_wrong_shape_for_the_channel_is_refused() {
    let h = Harness::start().await;
    let email_by_sms = h.start_code("signup-in", "sms", "e@example.com").await;
    assert_error(&email_by_sms, StatusCode::BAD_REQUEST, "E011004");
    let phone_by_email = h.start_code("signup-in", "email", "+14155550100").await;
    assert_error(&phone_by_email, StatusCode::BAD_REQUEST, "E011004");
    let local_phone = h.start_code("signup-in", "voice", "4155550100").await;
    assert_error(&local_phone, StatusCode::BAD_REQUEST, "E011004");
}

// ---- tokens ------------------------------------------------------------------------------

#[tokio::test]
async fn the_session_jwt_verifies_against_the_jwks_and_carries_descope_claims() {
    let h = Harness::start().await;
    let body = h.sign_in("whatsapp", "+14155550123").await;
    let claims = h.claims_of(&jwt(&body, "sessionJwt")).await;
    assert!(
        claims["iss"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{}", h.pid()))
    );
    assert_eq!(claims["sub"], body["user"]["userId"]);
    assert_eq!(claims["drn"], "DS");
    assert_eq!(claims["amr"], json!(["whatsapp"]));
    assert!(claims.get("aud").is_none());
    let now = h.clock.now();
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!((claims["iat"].as_i64().unwrap() - now).abs() <= 2);
    assert_eq!(body["sessionExpiration"], claims["exp"]);

    let refresh = h.claims_of(&jwt(&body, "refreshJwt")).await;
    assert_eq!(refresh["drn"], "DSR");
    assert!(refresh["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(refresh["exp"].as_i64().unwrap() > claims["exp"].as_i64().unwrap());
}

#[tokio::test]
async fn custom_claims_land_in_the_session_jwt_and_survive_a_refresh() {
    let h = Harness::start().await;
    h.post(
        "/v1/auth/otp/signup-in/email",
        &h.pid(),
        json!({"loginId": "cc@example.com",
               "loginOptions": {"customClaims": {"plan": "gold"}, "stepup": false, "mfa": false}}),
    )
    .await;
    let code = h.code_for("cc@example.com");
    let body = h.verify("email", "cc@example.com", &code).await.body;
    assert_eq!(h.claims_of(&jwt(&body, "sessionJwt")).await["plan"], "gold");

    let refreshed = h
        .post(
            "/v1/auth/refresh",
            &h.with_refresh(&jwt(&body, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let claims = h.claims_of(&jwt(&refreshed.body, "sessionJwt")).await;
    assert_eq!(claims["plan"], "gold");
    assert_eq!(claims["amr"], json!(["email"]));
}

#[tokio::test]
async fn custom_claims_may_not_override_reserved_claims() {
    let h = Harness::start().await;
    let reply = h
        .post(
            "/v1/auth/otp/signup-in/email",
            &h.pid(),
            json!({"loginId": "evil@example.com", "loginOptions": {"customClaims": {"sub": "U2admin"}}}),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E011003");
}

#[tokio::test]
async fn stepup_needs_the_refresh_token_and_marks_the_new_session_su() {
    let h = Harness::start().await;
    let first = h.sign_in("email", "up@example.com").await;
    let options = json!({"loginId": "up@example.com", "loginOptions": {"stepup": true}});

    let without = h
        .post("/v1/auth/otp/signin/email", &h.pid(), options.clone())
        .await;
    assert_error(&without, StatusCode::UNAUTHORIZED, "E061005");

    let bearer = h.with_refresh(&jwt(&first, "refreshJwt"));
    let with = h.post("/v1/auth/otp/signin/email", &bearer, options).await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.body);
    let code = h.code_for("up@example.com");
    let body = h.verify("email", "up@example.com", &code).await.body;
    let claims = h.claims_of(&jwt(&body, "sessionJwt")).await;
    assert_eq!(claims["su"], true);
    assert!(
        h.claims_of(&jwt(&first, "sessionJwt"))
            .await
            .get("su")
            .is_none()
    );
}

#[tokio::test]
async fn mfa_adds_the_new_method_and_mfa_to_amr() {
    let h = Harness::start().await;
    let first = h.sign_in("email", "mf@example.com").await;
    let bearer = h.with_refresh(&jwt(&first, "refreshJwt"));
    let reply = h
        .post(
            "/v1/auth/otp/signin/email",
            &bearer,
            json!({"loginId": "mf@example.com", "loginOptions": {"mfa": true}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let code = h.code_for("mf@example.com");
    let body = h.verify("email", "mf@example.com", &code).await.body;
    let amr = h.claims_of(&jwt(&body, "sessionJwt")).await["amr"].clone();
    assert_eq!(amr, json!(["email", "mfa"]));
}

#[tokio::test]
async fn refresh_works_until_logout_revokes_that_token() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "out@example.com").await;
    let bearer = h.with_refresh(&jwt(&body, "refreshJwt"));
    assert_eq!(
        h.post("/v1/auth/refresh", &bearer, json!({})).await.status,
        StatusCode::OK
    );
    let me = h.get("/v1/auth/me", &bearer).await;
    assert_eq!(me.body["email"], "out@example.com");
    assert_eq!(h.get("/v1/auth/me/history", &bearer).await.body, json!([]));

    let out = h.post("/v1/auth/logout", &bearer, json!({})).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body["sessionJwt"], "");
    let after = h.post("/v1/auth/refresh", &bearer, json!({})).await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "E064001");
}

#[tokio::test]
async fn logout_all_revokes_every_refresh_token_of_the_user_but_not_others() {
    let h = Harness::start().await;
    let a = h.sign_in("email", "all@example.com").await;
    let b = h.sign_in("email", "all@example.com").await;
    let other = h.sign_in("email", "bystander@example.com").await;
    let out = h
        .post(
            "/v1/auth/logoutall",
            &h.with_refresh(&jwt(&a, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK);
    for token in [&a, &b] {
        let reply = h
            .post(
                "/v1/auth/refresh",
                &h.with_refresh(&jwt(token, "refreshJwt")),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let still = h
        .post(
            "/v1/auth/refresh",
            &h.with_refresh(&jwt(&other, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_eq!(still.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_token_past_its_lifetime_is_refused() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "old@example.com").await;
    h.clock.advance(Duration::from_secs(30 * 24 * 3600));
    let reply = h
        .post(
            "/v1/auth/refresh",
            &h.with_refresh(&jwt(&body, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "E061005");
}

#[tokio::test]
async fn with_rotation_a_refresh_answers_a_new_token_and_spends_the_old_one() {
    let h = Harness::start_with(EmulatorConfig {
        rotate_refresh_tokens: true,
        ..config()
    })
    .await;
    let body = h.sign_in("email", "rotate@example.com").await;
    let first = jwt(&body, "refreshJwt");
    let refreshed = h
        .post("/v1/auth/refresh", &h.with_refresh(&first), json!({}))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let second = jwt(&refreshed.body, "refreshJwt");
    assert_ne!(first, second, "a new refresh JWT");
    let again = h
        .post("/v1/auth/refresh", &h.with_refresh(&first), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    let next = h
        .post("/v1/auth/refresh", &h.with_refresh(&second), json!({}))
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
}

#[tokio::test]
async fn session_calls_refuse_a_missing_token_a_wrong_project_and_a_forged_token() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "auth@example.com").await;
    let refresh = jwt(&body, "refreshJwt");
    let missing = h.post("/v1/auth/refresh", &h.pid(), json!({})).await;
    assert_error(&missing, StatusCode::UNAUTHORIZED, "E061005");
    let wrong_project = h
        .post(
            "/v1/auth/refresh",
            &format!("P2someoneElse:{refresh}"),
            json!({}),
        )
        .await;
    assert_eq!(wrong_project.status, StatusCode::UNAUTHORIZED);
    // The session JWT is signed by us but is not a refresh token.
    let session_as_refresh = h
        .post(
            "/v1/auth/refresh",
            &h.with_refresh(&jwt(&body, "sessionJwt")),
            json!({}),
        )
        .await;
    assert_eq!(session_as_refresh.status, StatusCode::UNAUTHORIZED);
    let mut parts: Vec<String> = refresh.split('.').map(String::from).collect();
    // Change the signature's first character to one it certainly is not.
    let flipped = if parts[2].starts_with('A') { 'B' } else { 'A' };
    parts[2] = format!("{flipped}{}", &parts[2][1..]);
    let forged = h
        .get("/v1/auth/me", &h.with_refresh(&parts.join(".")))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_and_logout_accept_an_absent_body_and_doubled_slashes() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "go@example.com").await;
    let url = format!("{}//v1/auth/refresh", h.emu.base_url());
    let reply = h
        .send(
            h.http
                .post(url)
                .bearer_auth(h.with_refresh(&jwt(&body, "refreshJwt")))
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let url = format!("{}/v1/auth/logout", h.emu.base_url());
    let out = h
        .send(
            h.http
                .post(url)
                .bearer_auth(h.with_refresh(&jwt(&body, "refreshJwt"))),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_json_errors_not_panics() {
    let h = Harness::start().await;
    let url = format!("{}/v1/auth/otp/signup-in/email", h.emu.base_url());
    let bad_json = h
        .send(
            h.http
                .post(&url)
                .bearer_auth(h.pid())
                .header("content-type", "text/plain")
                .body("{not json"),
        )
        .await;
    assert_error(&bad_json, StatusCode::BAD_REQUEST, "E011001");
    let wrong_type = h
        .post(
            "/v1/auth/otp/signup-in/email",
            &h.pid(),
            json!({"loginId": 5}),
        )
        .await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "E011001");
    let huge = h
        .post(
            "/v1/auth/otp/signup-in/email",
            &h.pid(),
            json!({"loginId": format!("{}@example.com", "a".repeat(5_000_000))}),
        )
        .await;
    assert!(huge.status.is_client_error(), "{}", huge.status);
    assert!(!huge.body["errorCode"].as_str().unwrap().is_empty());
    let long_id = h
        .post(
            "/v1/auth/otp/signup-in/email",
            &h.pid(),
            json!({"loginId": format!("{}@example.com", "a".repeat(1000))}),
        )
        .await;
    assert_error(&long_id, StatusCode::BAD_REQUEST, "E011004");
    let no_body = h.send(h.http.post(&url).bearer_auth(h.pid())).await;
    assert_error(&no_body, StatusCode::BAD_REQUEST, "E011002");
    let no_auth = h
        .send(h.http.post(&url).json(&json!({"loginId": "x@example.com"})))
        .await;
    assert_eq!(no_auth.status, StatusCode::UNAUTHORIZED);
    let bad_query = h.get("/emulator/outbox/wait?after=abc", "").await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    assert!(!bad_query.body["errorCode"].as_str().unwrap().is_empty());
    let unknown_method = h.start_code("signup-in", "pigeon", "x@example.com").await;
    assert_eq!(unknown_method.status, StatusCode::NOT_FOUND);
}

// ---- updates -----------------------------------------------------------------------------

#[tokio::test]
async fn update_email_sends_to_the_new_address_and_verify_sets_it_and_adds_the_login_id() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "old-addr@example.com").await;
    let bearer = h.with_refresh(&jwt(&body, "refreshJwt"));
    let reply = h
        .post(
            "/v1/auth/otp/update/email",
            &bearer,
            json!({"loginId": "old-addr@example.com", "email": "new-addr@example.com",
                   "addToLoginIDs": true, "onMergeUseExisting": false,
                   "templateOptions": {"greeting": "hi"}}),
        )
        .await;
    assert_eq!(reply.body, json!({"maskedEmail": "n***@example.com"}));
    let message = h.emu.latest_message("new-addr@example.com").unwrap();
    assert_eq!(message.purpose, "update-email");
    assert_eq!(message.login_id, "old-addr@example.com");
    assert_eq!(message.template_options, Some(json!({"greeting": "hi"})));
    assert!(
        h.emu
            .latest_message("old-addr@example.com")
            .unwrap()
            .purpose
            != "update-email"
    );

    let verified = h
        .verify("email", "old-addr@example.com", &message.code)
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let user = &verified.body["user"];
    assert_eq!(user["email"], "new-addr@example.com");
    assert_eq!(user["verifiedEmail"], true);
    assert_eq!(
        user["loginIds"],
        json!(["old-addr@example.com", "new-addr@example.com"])
    );
}

#[tokio::test]
async fn update_phone_can_be_completed_by_verifying_the_new_address() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "phoney@example.com").await;
    let bearer = h.with_refresh(&jwt(&body, "refreshJwt"));
    let reply = h
        .post(
            "/v1/auth/otp/update/phone/sms",
            &bearer,
            json!({"loginId": "phoney@example.com", "phone": "+14155550177"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body["maskedPhone"]
            .as_str()
            .unwrap()
            .ends_with("0177")
    );
    let code = h.code_for("+14155550177");
    let verified = h.verify("sms", "+14155550177", &code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["user"]["phone"], "+14155550177");
    assert_eq!(verified.body["user"]["verifiedPhone"], true);
    assert_eq!(
        verified.body["user"]["loginIds"],
        json!(["phoney@example.com"])
    );
}

#[tokio::test]
async fn update_without_a_refresh_token_is_refused() {
    let h = Harness::start().await;
    let reply = h
        .post(
            "/v1/auth/otp/update/email",
            &h.pid(),
            json!({"loginId": "x@example.com", "email": "y@example.com"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn update_to_another_users_login_id_is_refused_before_any_code_is_sent() {
    let h = Harness::start().await;
    h.sign_in("email", "taken@example.com").await;
    let me = h.sign_in("email", "me@example.com").await;
    let bearer = h.with_refresh(&jwt(&me, "refreshJwt"));
    let before = h.emu.latest_message("taken@example.com").unwrap().id;
    let reply = h
        .post(
            "/v1/auth/otp/update/email",
            &bearer,
            json!({"loginId": "me@example.com", "email": "taken@example.com",
                   "addToLoginIDs": true, "onMergeUseExisting": false}),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E062107");
    assert_eq!(
        h.emu.latest_message("taken@example.com").unwrap().id,
        before
    );
}

#[tokio::test]
async fn update_with_merge_keeps_the_existing_user_and_moves_the_login_ids_to_it() {
    let h = Harness::start().await;
    let existing = h.sign_in("sms", "+14155550188").await;
    let me = h.sign_in("email", "merger@example.com").await;
    let bearer = h.with_refresh(&jwt(&me, "refreshJwt"));
    let reply = h
        .post(
            "/v1/auth/otp/update/phone/sms",
            &bearer,
            json!({"loginId": "merger@example.com", "phone": "+14155550188",
                   "addToLoginIDs": true, "onMergeUseExisting": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let code = h.code_for("+14155550188");
    let verified = h.verify("sms", "merger@example.com", &code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let user = &verified.body["user"];
    assert_eq!(user["userId"], existing["user"]["userId"]);
    assert_eq!(
        user["loginIds"],
        json!(["+14155550188", "merger@example.com"])
    );
    // The merged-away user's sessions are gone.
    let old = h.post("/v1/auth/refresh", &bearer, json!({})).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

// ---- management --------------------------------------------------------------------------

#[tokio::test]
async fn a_test_user_gets_a_generated_code_that_verifies_and_delete_all_removes_it() {
    let h = Harness::start().await;
    let mgmt = format!("{}:{}", h.pid(), h.emu.management_key());
    let license = h.get("/v1/mgmt/license", &mgmt).await;
    assert_eq!(license.body, json!({"rateLimitTier": "free"}));

    let created = h
        .post(
            "/v1/mgmt/user/create/test",
            &mgmt,
            json!({"loginId": "tester@example.com", "email": "tester@example.com", "test": true,
                   "roleNames": [], "userTenants": [], "invite": false}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["user"]["test"], true);

    let generated = h
        .post(
            "/v1/mgmt/tests/generate/otp",
            &mgmt,
            json!({"loginId": "tester@example.com", "deliveryMethod": "email",
                   "loginOptions": {"custom_claims": {"t": 1}, "stepup": false}}),
        )
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    assert_eq!(generated.body["loginId"], "tester@example.com");
    let code = generated.body["code"].as_str().unwrap();
    assert_eq!(
        h.emu.latest_message("tester@example.com").unwrap().purpose,
        "test"
    );
    let verified = h.verify("email", "tester@example.com", code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["firstSeen"], true);
    assert_eq!(
        h.claims_of(&jwt(&verified.body, "sessionJwt")).await["t"],
        1
    );

    let url = format!("{}/v1/mgmt/user/test/delete/all", h.emu.base_url());
    let deleted = h.send(h.http.delete(url).bearer_auth(&mgmt)).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = h.start_code("signin", "email", "tester@example.com").await;
    assert_error(&gone, StatusCode::BAD_REQUEST, "E062108");
}

#[tokio::test]
async fn management_calls_with_a_wrong_key_are_refused() {
    let h = Harness::start().await;
    let reply = h
        .post(
            "/v1/mgmt/user/create/test",
            &format!("{}:not-the-key", h.pid()),
            json!({"loginId": "t@example.com"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let no_key = h
        .post(
            "/v1/mgmt/tests/generate/otp",
            &h.pid(),
            json!({"loginId": "t@example.com"}),
        )
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn codes_are_generated_only_for_test_users() {
    let h = Harness::start().await;
    h.sign_in("email", "real@example.com").await;
    let mgmt = format!("{}:{}", h.pid(), h.emu.management_key());
    let reply = h
        .post(
            "/v1/mgmt/tests/generate/otp",
            &mgmt,
            json!({"loginId": "real@example.com", "deliveryMethod": "email"}),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E011004");
}

impl Harness {
    fn mgmt(&self) -> String {
        format!("{}:{}", self.pid(), self.emu.management_key())
    }

    async fn create_test_user(&self, body: Value) -> Value {
        let created = self
            .post("/v1/mgmt/user/create/test", &self.mgmt(), body)
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        created.body["user"].clone()
    }

    async fn generate_code(&self, login_id: &str, method: &str) -> Reply {
        self.post(
            "/v1/mgmt/tests/generate/otp",
            &self.mgmt(),
            json!({"loginId": login_id, "deliveryMethod": method}),
        )
        .await
    }

    async fn load_user(&self, login_id: &str) -> Reply {
        let url = format!("{}/v1/mgmt/user", self.emu.base_url());
        self.send(
            self.http
                .get(url)
                .query(&[("loginId", login_id)])
                .bearer_auth(self.mgmt()),
        )
        .await
    }

    async fn delete_all_test_users(&self) {
        let url = format!("{}/v1/mgmt/user/test/delete/all", self.emu.base_url());
        let deleted = self
            .send(self.http.delete(url).bearer_auth(self.mgmt()))
            .await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    }
}

#[tokio::test]
async fn a_test_user_gets_no_code_for_a_channel_they_have_no_address_on() {
    let h = Harness::start().await;
    h.create_test_user(
        json!({"loginId": "mail-only@example.com", "email": "mail-only@example.com"}),
    )
    .await;
    h.create_test_user(json!({"loginId": "+14155550161", "phone": "+14155550161"}))
        .await;

    let sms = h.generate_code("mail-only@example.com", "sms").await;
    assert_error(&sms, StatusCode::BAD_REQUEST, "E011004");
    let email = h.generate_code("+14155550161", "email").await;
    assert_error(&email, StatusCode::BAD_REQUEST, "E011004");
    assert!(h.emu.latest_message("mail-only@example.com").is_none());
    assert!(h.emu.latest_message("+14155550161").is_none());

    // Nothing about either user changed: no address of the wrong kind, nothing marked verified.
    let mail_only = h.load_user("mail-only@example.com").await.body["user"].clone();
    assert_eq!(mail_only["phone"], "");
    assert_eq!(mail_only["verifiedPhone"], false);
    let phone_only = h.load_user("+14155550161").await.body["user"].clone();
    assert_eq!(phone_only["email"], "");
    assert_eq!(phone_only["verifiedEmail"], false);

    // The channel they do have still works, and a phone login id is a phone address.
    assert_eq!(
        h.generate_code("mail-only@example.com", "email")
            .await
            .status,
        StatusCode::OK
    );
    h.create_test_user(json!({"loginId": "+14155550162"})).await;
    assert_eq!(
        h.generate_code("+14155550162", "sms").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_over_a_channel_the_user_has_no_address_on_is_refused_before_any_message() {
    let h = Harness::start().await;
    h.sign_in("email", "no-phone@example.com").await;
    let before = h.emu.state.outbox.list(&Default::default()).len();
    let reply = h.start_code("signin", "sms", "no-phone@example.com").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E011004");
    assert!(
        reply.body["errorDescription"]
            .as_str()
            .unwrap()
            .contains("no phone number"),
        "{}",
        reply.body
    );
    assert_eq!(h.emu.state.outbox.list(&Default::default()).len(), before);
}

#[tokio::test]
async fn a_code_generated_before_delete_all_test_users_no_longer_verifies_and_creates_no_one() {
    let h = Harness::start().await;
    h.create_test_user(json!({"loginId": "doomed@example.com", "email": "doomed@example.com"}))
        .await;
    let generated = h.generate_code("doomed@example.com", "email").await;
    let code = generated.body["code"].as_str().unwrap().to_string();

    h.delete_all_test_users().await;

    let reply = h.verify("email", "doomed@example.com", &code).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "E061102");
    let gone = h.load_user("doomed@example.com").await;
    assert_error(&gone, StatusCode::BAD_REQUEST, "E112102");
}

#[tokio::test]
async fn deleting_a_user_voids_their_pending_code_and_their_sessions() {
    let h = Harness::start().await;
    let first = h.sign_in("email", "leaving@example.com").await;
    h.start_code("signin", "email", "leaving@example.com").await;
    let code = h.code_for("leaving@example.com");

    let deleted = h
        .post(
            "/v1/mgmt/user/delete",
            &h.mgmt(),
            json!({"loginId": "leaving@example.com"}),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body, json!({}));

    let reply = h.verify("email", "leaving@example.com", &code).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "E061102");
    let signin = h.start_code("signin", "email", "leaving@example.com").await;
    assert_error(&signin, StatusCode::BAD_REQUEST, "E062108");
    let refresh = h
        .post(
            "/v1/auth/refresh",
            &h.with_refresh(&jwt(&first, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);

    // By user id too, and deleting someone who is not there is not an error.
    let other = h.sign_in("email", "by-id@example.com").await;
    let by_id = h
        .post(
            "/v1/mgmt/user/delete",
            &h.mgmt(),
            json!({"userId": other["user"]["userId"]}),
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.body);
    assert_error(
        &h.load_user("by-id@example.com").await,
        StatusCode::BAD_REQUEST,
        "E112102",
    );
    let again = h
        .post(
            "/v1/mgmt/user/delete",
            &h.mgmt(),
            json!({"loginId": "by-id@example.com"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

#[tokio::test]
async fn a_code_whose_user_is_gone_is_refused_and_never_recreates_the_user() {
    use super::otp::{Completion, Method, Pending, SessionRequest};

    let h = Harness::start().await;
    // A sign-in code for a user who no longer exists, however they went.
    h.emu.state.auth.lock().await.codes.issue(Pending {
        login_id: "vanished@example.com".into(),
        alias: None,
        destination: "vanished@example.com".into(),
        method: Method::Email,
        code: "246810".into(),
        expires_at: h.clock.now() + 300,
        wrong_attempts: 0,
        locked: false,
        completion: Completion::SignIn {
            user_id: "U2vanished".into(),
        },
        session: SessionRequest::default(),
    });

    let reply = h.verify("email", "vanished@example.com", "246810").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "E062108");
    let signin = h
        .start_code("signin", "email", "vanished@example.com")
        .await;
    assert_error(&signin, StatusCode::BAD_REQUEST, "E062108");
}

// ---- outbox ------------------------------------------------------------------------------

#[tokio::test]
async fn outbox_wait_answers_at_once_when_a_message_already_exists() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "now@example.com").await;
    let reply = h
        .get(
            "/emulator/outbox/wait?destination=now@example.com&timeoutMs=30000",
            &h.pid(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["code"], h.code_for("now@example.com"));
    assert_eq!(reply.body["loginId"], "now@example.com");
    assert_eq!(reply.body["purpose"], "signup-in");
}

#[tokio::test]
async fn outbox_wait_answers_when_a_later_message_is_delivered() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "later@example.com")
        .await;
    let first = h.emu.latest_message("later@example.com").unwrap().id;
    let url = format!(
        "{}/emulator/outbox/wait?loginId=later@example.com&after={first}&timeoutMs=30000",
        h.emu.base_url()
    );
    let waiting = tokio::spawn(h.http.get(url).send());
    // Deliver only once the poll is parked, so this proves the wake-up, not the fast path.
    tokio::time::timeout(Duration::from_secs(10), async {
        while h.emu.state.outbox.waiters() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the long poll never parked");
    assert!(!waiting.is_finished());
    h.start_code("signup-in", "email", "later@example.com")
        .await;
    let resp = waiting.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_u64().unwrap() > first);
    assert_eq!(body["code"], h.code_for("later@example.com"));
}

#[tokio::test]
async fn outbox_wait_times_out_with_408_and_a_json_error() {
    let h = Harness::start().await;
    let reply = h
        .get(
            "/emulator/outbox/wait?destination=nobody@example.com&timeoutMs=50",
            &h.pid(),
        )
        .await;
    assert_error(&reply, StatusCode::REQUEST_TIMEOUT, "E011408");
}

#[tokio::test]
async fn the_outbox_lists_newest_first_filters_and_clears() {
    let h = Harness::start().await;
    h.start_code("signup-in", "email", "one@example.com").await;
    h.start_code("signup-in", "sms", "+14155550199").await;
    let all = h.get("/emulator/outbox", &h.pid()).await.body;
    let ids: Vec<u64> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] > ids[1]);
    let only = h
        .get("/emulator/outbox?destination=%2B14155550199", &h.pid())
        .await
        .body;
    assert_eq!(only["messages"].as_array().unwrap().len(), 1);
    assert_eq!(only["messages"][0]["channel"], "sms");
    let url = format!("{}/emulator/outbox", h.emu.base_url());
    let cleared = h.send(h.http.delete(url)).await;
    assert_eq!(cleared.body, json!({}));
    let empty = h.get("/emulator/outbox", &h.pid()).await.body;
    assert_eq!(empty["messages"], json!([]));
}

#[tokio::test]
async fn the_outbox_page_shows_codes_and_escapes_values() {
    let h = Harness::start().await;
    let mgmt = format!("{}:{}", h.pid(), h.emu.management_key());
    let created = h
        .post(
            "/v1/mgmt/user/create/test",
            &mgmt,
            json!({"loginId": "<script>x</script>", "phone": "+14155550142"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let generated = h
        .post(
            "/v1/mgmt/tests/generate/otp",
            &mgmt,
            json!({"loginId": "<script>x</script>", "deliveryMethod": "sms"}),
        )
        .await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    h.start_code("signup-in", "email", "page@example.com").await;
    let code = h.code_for("page@example.com");
    let html = h
        .http
        .get(h.emu.outbox_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&code));
    assert!(html.contains("http-equiv=\"refresh\""));
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<script>"));
}

// ---- lifecycle ---------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_token_keeps_working_after_a_restart_with_a_file_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::File(dir.path().join("emulator.db"));
    let config = || EmulatorConfig {
        db: db.clone(),
        ..config()
    };
    let h = Harness::start_with(config()).await;
    let body = h.sign_in("email", "persist@example.com").await;
    let out = h.sign_in("email", "persist@example.com").await;
    h.post(
        "/v1/auth/logout",
        &h.with_refresh(&jwt(&out, "refreshJwt")),
        json!({}),
    )
    .await;
    let kid =
        h.get(&format!("/v2/keys/{}", h.pid()), &h.pid()).await.body["keys"][0]["kid"].clone();
    h.emu.shutdown().await;

    // A different provided key must not replace the stored one.
    let restarted = Harness::start_with(EmulatorConfig {
        signing_key_pem: None,
        ..config()
    })
    .await;
    let jwks = restarted
        .get(&format!("/v2/keys/{}", restarted.pid()), &restarted.pid())
        .await;
    assert_eq!(jwks.body["keys"][0]["kid"], kid);
    let bearer = restarted.with_refresh(&jwt(&body, "refreshJwt"));
    let refreshed = restarted.post("/v1/auth/refresh", &bearer, json!({})).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.body["user"]["email"], "persist@example.com");
    let revoked = restarted
        .post(
            "/v1/auth/refresh",
            &restarted.with_refresh(&jwt(&out, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    // The user is still known: sign-up is refused, sign-in works.
    let again = restarted
        .start_code("signup", "email", "persist@example.com")
        .await;
    assert_error(&again, StatusCode::BAD_REQUEST, "E062107");
    restarted.emu.shutdown().await;
}

#[tokio::test]
async fn time_travel_is_off_by_default_and_moves_the_clock_when_enabled() {
    let h = Harness::start().await;
    let off = h
        .post("/emulator/clock/advance", "", json!({"seconds": 10}))
        .await;
    assert_eq!(off.status, StatusCode::NOT_FOUND);

    let h = Harness::start_with(EmulatorConfig {
        allow_time_travel: true,
        ..config()
    })
    .await;
    h.start_code("signup-in", "email", "tt@example.com").await;
    let code = h.code_for("tt@example.com");
    let moved = h
        .post("/emulator/clock/advance", "", json!({"seconds": 301}))
        .await;
    assert_eq!(moved.status, StatusCode::OK);
    let reply = h.verify("email", "tt@example.com", &code).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "E061104");
}

#[tokio::test]
async fn dropping_a_running_emulator_stops_it_without_panicking() {
    let h = Harness::start().await;
    let url = format!("{}/v2/keys/{}", h.emu.base_url(), h.pid());
    let http = h.http.clone();
    drop(h.emu);
    // The server goes away: eventually connections are refused. Bounded, no fixed sleep.
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if http.get(&url).send().await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(stopped.is_ok(), "server still answering after drop");
}

// ---- where a code goes ---------------------------------------------------------------------

#[tokio::test]
async fn a_username_sign_up_delivers_to_the_address_in_the_user_details() {
    let h = Harness::start().await;
    let reply = h
        .post(
            "/v1/auth/otp/signup/email",
            &h.pid(),
            json!({"loginId": "ada-l", "user": {"email": "ada@example.com", "name": "Ada"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"maskedEmail": "a***@example.com"}));
    let code = h.code_for("ada@example.com");
    let verified = h.verify("email", "ada-l", &code).await;
    assert_eq!(verified.body["user"]["loginIds"], json!(["ada-l"]));
    assert_eq!(
        verified.body["user"]["verifiedEmail"], true,
        "{}",
        verified.body
    );

    // Without an address in the details, a username cannot receive anything.
    let refused = h
        .post(
            "/v1/auth/otp/signup/email",
            &h.pid(),
            json!({"loginId": "bob-l"}),
        )
        .await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "E011004");
}

#[tokio::test]
async fn sign_in_sends_to_the_users_current_address_for_the_channel() {
    let h = Harness::start().await;
    let body = h.sign_in("email", "before@example.com").await;
    let bearer = h.with_refresh(&jwt(&body, "refreshJwt"));
    h.post(
        "/v1/auth/otp/update/email",
        &bearer,
        json!({"loginId": "before@example.com", "email": "after@example.com"}),
    )
    .await;
    let code = h.code_for("after@example.com");
    let verified = h.verify("email", "before@example.com", &code).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);

    // The login id is unchanged, but the code now goes to the new email.
    let sent = h.start_code("signin", "email", "before@example.com").await;
    assert_eq!(sent.body, json!({"maskedEmail": "a***@example.com"}));
    let message = h
        .emu
        .latest_message("after@example.com")
        .expect("sent to the new email");
    assert_eq!(message.purpose, "signin");
    assert_eq!(message.login_id, "before@example.com");
}

// ---- faults and key rotation (allow_faults) -------------------------------------------------

async fn with_faults() -> Harness {
    Harness::start_with(EmulatorConfig {
        allow_faults: true,
        ..config()
    })
    .await
}

#[tokio::test]
async fn fault_injection_and_key_rotation_are_off_unless_allowed() {
    let h = Harness::start().await;
    let add = h
        .post(
            "/emulator/faults",
            "",
            json!({"path": "/v1/auth/refresh", "status": 503}),
        )
        .await;
    assert_eq!(add.status, StatusCode::NOT_FOUND, "{}", add.body);
    assert_eq!(
        h.get("/emulator/faults", "").await.status,
        StatusCode::NOT_FOUND
    );
    let rotate = h.post("/emulator/keys/rotate", "", json!({})).await;
    assert_eq!(rotate.status, StatusCode::NOT_FOUND);
    // And nothing was injected: the call answers as usual.
    let body = h.sign_in("email", "no-faults@example.com").await;
    let refreshed = h
        .post(
            "/v1/auth/refresh",
            &h.with_refresh(&jwt(&body, "refreshJwt")),
            json!({}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
}

#[tokio::test]
async fn a_fault_answers_the_next_calls_under_its_path_with_its_status_then_goes() {
    let h = with_faults().await;
    let body = h.sign_in("email", "faulty@example.com").await;
    let bearer = h.with_refresh(&jwt(&body, "refreshJwt"));
    let added = h
        .post(
            "/emulator/faults",
            "",
            json!({"path": "/v1/auth/refresh", "status": 503, "errorCode": "E000000",
                   "times": 2, "delayMs": 0}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let listed = h.get("/emulator/faults", "").await.body;
    assert_eq!(listed["faults"][0]["path"], "/v1/auth/refresh");
    assert_eq!(listed["faults"][0]["remaining"], 2);

    // Other paths are untouched.
    assert_eq!(h.get("/v1/auth/me", &bearer).await.status, StatusCode::OK);
    for _ in 0..2 {
        let failed = h.post("/v1/auth/refresh", &bearer, json!({})).await;
        // A 503 even though the emulator's own errors are never 503.
        assert_error(&failed, StatusCode::SERVICE_UNAVAILABLE, "E000000");
    }
    let recovered = h.post("/v1/auth/refresh", &bearer, json!({})).await;
    assert_eq!(recovered.status, StatusCode::OK, "{}", recovered.body);
    assert_eq!(
        h.get("/emulator/faults", "").await.body,
        json!({"faults": []})
    );
}

#[tokio::test]
async fn a_fault_without_times_stays_until_cleared_and_delay_answers_late() {
    let h = with_faults().await;
    h.post(
        "/emulator/faults",
        "",
        json!({"path": "/v1/auth/otp/signup-in/", "status": 429, "errorCode": "E130429"}),
    )
    .await;
    for _ in 0..3 {
        let refused = h.start_code("signup-in", "email", "held@example.com").await;
        assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "E130429");
    }
    assert!(h.emu.latest_message("held@example.com").is_none());
    let url = format!("{}/emulator/faults", h.emu.base_url());
    assert_eq!(h.send(h.http.delete(url)).await.body, json!({}));
    let sent = h.start_code("signup-in", "email", "held@example.com").await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);

    // A delay alone answers normally, only late (the server waits at least that long).
    h.post(
        "/emulator/faults",
        "",
        json!({"path": "/v2/keys/", "delayMs": 400, "times": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    let jwks = h.get(&format!("/v2/keys/{}", h.pid()), &h.pid()).await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "answered after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_fault_with_status_zero_drops_the_connection() {
    let h = with_faults().await;
    h.post(
        "/emulator/faults",
        "",
        json!({"path": "/v1/auth/me", "status": 0, "times": 1}),
    )
    .await;
    let url = format!("{}/v1/auth/me", h.emu.base_url());
    let outcome = match h.http.get(&url).bearer_auth(h.pid()).send().await {
        Err(err) => Err(err),
        Ok(response) => response.bytes().await.map(|_| ()),
    };
    assert!(outcome.is_err(), "the call was answered: {outcome:?}");
    // The next call is answered (401: no refresh token), on a new connection.
    assert_eq!(
        h.get("/v1/auth/me", &h.pid()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn faults_are_refused_for_the_emulators_own_paths_and_bad_values() {
    let h = with_faults().await;
    for bad in [
        json!({"path": "/emulator/faults", "status": 503}),
        json!({"path": "v1/auth/me", "status": 503}),
        json!({"path": "/v1/auth/me", "status": 700}),
        json!({"path": "/v1/auth/me", "status": 503, "times": 0}),
        json!({"path": "/v1/auth/me", "delayMs": 10_000_000}),
        json!({"path": "/v1/auth/me", "stauts": 503}),
    ] {
        let reply = h.post("/emulator/faults", "", bad.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.body
        );
    }
    assert_eq!(
        h.get("/emulator/faults", "").await.body,
        json!({"faults": []})
    );
}

#[tokio::test]
async fn a_key_rotation_signs_with_a_new_kid_and_keeps_the_old_key_published_unless_retired() {
    let h = with_faults().await;
    let before = h.sign_in("email", "rotor@example.com").await;
    let old_kid = jsonwebtoken::decode_header(jwt(&before, "sessionJwt"))
        .unwrap()
        .kid
        .unwrap();

    let rotated = h.post("/emulator/keys/rotate", "", json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_kid = rotated.body["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        h.published_kids().await,
        vec![new_kid.clone(), old_kid.clone()]
    );

    let after = h.sign_in("email", "rotor@example.com").await;
    let header = jsonwebtoken::decode_header(jwt(&after, "sessionJwt")).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    // A refresh token from before the rotation still works while its key is published.
    let old_bearer = h.with_refresh(&jwt(&before, "refreshJwt"));
    assert_eq!(
        h.post("/v1/auth/refresh", &old_bearer, json!({}))
            .await
            .status,
        StatusCode::OK
    );

    let retired = h
        .post("/emulator/keys/rotate", "", json!({"retireOld": true}))
        .await;
    let newest = retired.body["kid"].as_str().unwrap().to_string();
    assert_eq!(h.published_kids().await, vec![newest]);
    let refused = h.post("/v1/auth/refresh", &old_bearer, json!({})).await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, "E061005");
}

#[tokio::test]
async fn rotated_keys_stay_published_and_retired_ones_gone_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || EmulatorConfig {
        db: DbLocation::File(dir.path().join("emulator.db")),
        allow_faults: true,
        ..config()
    };
    let h = Harness::start_with(config()).await;
    let before = h.sign_in("email", "rotor-restart@example.com").await;
    h.post("/emulator/keys/rotate", "", json!({})).await;
    h.post("/emulator/keys/rotate", "", json!({})).await;
    let published = h.published_kids().await;
    assert_eq!(published.len(), 3, "{published:?}");
    h.emu.shutdown().await;

    // Restarted: the same three keys, in the same order, and the refresh token signed by the
    // first of them (two rotations ago) still refreshes.
    let restarted = Harness::start_with(config()).await;
    assert_eq!(restarted.published_kids().await, published);
    let old_bearer = restarted.with_refresh(&jwt(&before, "refreshJwt"));
    let refreshed = restarted
        .post("/v1/auth/refresh", &old_bearer, json!({}))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);

    // Retired, then restarted: only the newest key is published, and the old token is refused.
    let retired = restarted
        .post("/emulator/keys/rotate", "", json!({"retireOld": true}))
        .await;
    let newest = retired.body["kid"].as_str().unwrap().to_string();
    restarted.emu.shutdown().await;
    let again = Harness::start_with(config()).await;
    assert_eq!(again.published_kids().await, vec![newest]);
    let refused = again.post("/v1/auth/refresh", &old_bearer, json!({})).await;
    assert_error(&refused, StatusCode::UNAUTHORIZED, "E061005");
    again.emu.shutdown().await;
}

// ---- test conveniences (off by default) ----------------------------------------------------

#[tokio::test]
async fn a_listed_login_id_always_gets_its_fixed_code_and_everyone_else_a_random_one() {
    let fixed = "+15555550100";
    let h = Harness::start_with(EmulatorConfig {
        fixed_codes: [(fixed.to_string(), "123456".to_string())].into(),
        ..config()
    })
    .await;
    // A code, then a second one (which would otherwise never repeat the first).
    for _ in 0..2 {
        let sent = h.start_code("signup-in", "sms", fixed).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        assert_eq!(h.code_for(fixed), "123456");
    }
    let verified = h.verify("sms", fixed, "123456").await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["user"]["phone"], fixed);
    // Used once, like any code.
    let again = h.verify("sms", fixed, "123456").await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "E061102");
    // A sign-in on another channel of the same number: the same code.
    let sent = h.start_code("signin", "voice", fixed).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert_eq!(h.code_for(fixed), "123456");
    let verified = h.verify("voice", fixed, "123456").await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);

    // Any other login id is untouched: its two codes differ, as ever.
    h.start_code("signup-in", "sms", "+15555550199").await;
    let first = h.code_for("+15555550199");
    h.start_code("signup-in", "sms", "+15555550199").await;
    assert_ne!(h.code_for("+15555550199"), first);

    // Off by default.
    let plain = Harness::start().await;
    plain.start_code("signup-in", "sms", fixed).await;
    let first = plain.code_for(fixed);
    plain.start_code("signup-in", "sms", fixed).await;
    assert_ne!(
        plain.code_for(fixed),
        first,
        "no fixed code unless configured"
    );
}

#[tokio::test]
async fn a_fixed_code_also_answers_the_test_user_api() {
    let h = Harness::start_with(EmulatorConfig {
        fixed_codes: [("qa@example.com".to_string(), "000111".to_string())].into(),
        ..config()
    })
    .await;
    h.create_test_user(json!({"loginId": "qa@example.com", "email": "qa@example.com"}))
        .await;
    let generated = h.generate_code("qa@example.com", "email").await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    assert_eq!(generated.body["code"], "000111");
    let verified = h.verify("email", "qa@example.com", "000111").await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
}

#[tokio::test]
async fn uncapped_test_users_are_never_refused_but_everyone_else_still_is() {
    async fn sends_until_refused(h: &Harness, login_id: &str, tries: usize) -> Option<usize> {
        for i in 0..tries {
            let reply = h.start_code("signin", "email", login_id).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                return Some(i);
            }
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
        None
    }
    let uncapped = Harness::start_with(EmulatorConfig {
        test_users_uncapped: true,
        ..config()
    })
    .await;
    uncapped
        .create_test_user(json!({"loginId": "ci@example.com", "email": "ci@example.com"}))
        .await;
    assert_eq!(
        sends_until_refused(&uncapped, "ci@example.com", 20).await,
        None,
        "a test user is exempt from the cap of 5"
    );
    // Sign-up-or-in of the same test user is exempt too.
    for _ in 0..6 {
        let reply = uncapped
            .start_code("signup-in", "email", "ci@example.com")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    // A user who is not a test user keeps the cap.
    uncapped.sign_in("email", "real@example.com").await;
    assert_eq!(
        sends_until_refused(&uncapped, "real@example.com", 20).await,
        Some(4),
        "one code went to the sign-up, four more are allowed"
    );

    // Off by default: a test user is capped like anyone.
    let capped = Harness::start().await;
    capped
        .create_test_user(json!({"loginId": "ci@example.com", "email": "ci@example.com"}))
        .await;
    assert_eq!(
        sends_until_refused(&capped, "ci@example.com", 20).await,
        Some(5)
    );
}

#[test]
fn fixed_code_entries_are_a_login_id_and_six_digits() {
    use super::parse_fixed_code;
    assert_eq!(
        parse_fixed_code(" +15555550100 = 123456 "),
        Ok(("+15555550100".to_string(), "123456".to_string()))
    );
    for bad in [
        "+15555550100",
        "=123456",
        "a@b.c=12345",
        "a@b.c=1234567",
        "a@b.c=12 456",
        "a@b.c=١٢٣٤٥٦",
    ] {
        assert!(parse_fixed_code(bad).is_err(), "{bad}");
    }
}

// ---- the development endpoints refuse other web pages ------------------------------------------

/// A write to a development endpoint as another site's page makes it: a `text/plain` body (a
/// "simple" request, sent without a preflight) with the headers a browser adds.
async fn cross_site_write(h: &Harness, method: reqwest::Method, path: &str, body: &str) -> Reply {
    let url = format!("{}{path}", h.emu.base_url());
    h.send(
        h.http
            .request(method, url)
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", "https://attacker.example")
            .header("sec-fetch-site", "cross-site")
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test]
async fn cross_site_writes_to_the_development_endpoints_are_refused_and_change_nothing() {
    let h = Harness::start_with(EmulatorConfig {
        allow_faults: true,
        allow_time_travel: true,
        ..config()
    })
    .await;
    h.start_code("signup-in", "email", "dev@example.com").await;
    let kids = h.published_kids().await;
    let now = h.clock.now();

    let fault = r#"{"path": "/v1/auth/otp", "status": 503}"#;
    let refused = cross_site_write(&h, reqwest::Method::POST, "/emulator/faults", fault).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let refused = cross_site_write(
        &h,
        reqwest::Method::POST,
        "/emulator/clock/advance",
        r#"{"seconds": 3600}"#,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let refused = cross_site_write(&h, reqwest::Method::POST, "/emulator/keys/rotate", "{}").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let refused = cross_site_write(&h, reqwest::Method::DELETE, "/emulator/outbox", "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // An older browser sends no Sec-Fetch-Site: its Origin alone gives the page away.
    let url = format!("{}/emulator/faults", h.emu.base_url());
    let origin_only = h
        .send(
            h.http
                .post(&url)
                .header("origin", "http://localhost:3000")
                .json(&json!({"path": "/v1/auth/otp", "status": 503})),
        )
        .await;
    assert_eq!(
        origin_only.status,
        StatusCode::FORBIDDEN,
        "{}",
        origin_only.body
    );

    assert_eq!(
        h.get("/emulator/faults", "").await.body,
        json!({"faults": []})
    );
    assert_eq!(h.clock.now(), now, "the clock did not move");
    assert_eq!(h.published_kids().await, kids, "no key was rotated");
    assert!(
        h.emu.latest_message("dev@example.com").is_some(),
        "the outbox was kept"
    );
    let sent = h
        .start_code("signup-in", "email", "still@example.com")
        .await;
    assert_eq!(sent.status, StatusCode::OK, "no fault was injected");
}

#[tokio::test]
async fn development_endpoints_take_json_only_as_application_json() {
    let h = Harness::start_with(EmulatorConfig {
        allow_faults: true,
        allow_time_travel: true,
        ..config()
    })
    .await;
    let url = |path: &str| format!("{}{path}", h.emu.base_url());
    let fault = r#"{"path": "/v1/auth/refresh", "status": 503}"#;
    // No browser headers at all, but JSON as text, or as nothing: refused.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = h.http.post(url("/emulator/faults")).body(fault);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let refused = h.send(request).await;
        assert_eq!(
            refused.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {}",
            refused.body
        );
    }
    assert_eq!(
        h.get("/emulator/faults", "").await.body,
        json!({"faults": []})
    );

    // As the tests and the SDK suites call them: JSON, from a program or from the emulator's own
    // origin; a DELETE without a body.
    let added = h
        .send(
            h.http
                .post(url("/emulator/faults"))
                .header("content-type", "application/json; charset=utf-8")
                .header("origin", h.emu.base_url())
                .header("sec-fetch-site", "same-origin")
                .body(fault),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let moved = h
        .post("/emulator/clock/advance", "", json!({"seconds": 10}))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let rotated = h.post("/emulator/keys/rotate", "", json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let cleared = h.send(h.http.delete(url("/emulator/faults"))).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    let emptied = h.send(h.http.delete(url("/emulator/outbox"))).await;
    assert_eq!(emptied.status, StatusCode::OK, "{}", emptied.body);

    // Descope's own routes keep taking whatever content type the SDKs send.
    let sign_in = h
        .send(
            h.http
                .post(url("/v1/auth/otp/signup-in/email"))
                .bearer_auth(h.pid())
                .header("content-type", "text/plain")
                .body(r#"{"loginId": "sdk@example.com"}"#),
        )
        .await;
    assert_eq!(sign_in.status, StatusCode::OK, "{}", sign_in.body);
}
