//! The benchmark of the gate and the JWKS cache, and of `/` and `/profile` under load. Not part of
//! the normal run. Measures, in one go, against baselines measured alongside:
//!
//!   cargo test --release --features ssr --test app -- --ignored --nocapture benchmark

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

async fn mean_micros<F, Fut>(rounds: u32, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        f().await;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
}

#[tokio::test]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn benchmark_the_gate_and_the_jwks_cache() {
    use descope_otp::descope::{DescopeClient, DescopeConfig, SignUpOptions};
    use descope_otp::models::DeliveryMethod;
    use secrecy::ExposeSecret;

    let app = spawn_app().await;
    let browser = app
        .signed_up("email", &unique_email("bench"), "Bench")
        .await;

    // A session JWT of our own, issued by the same emulator.
    let config = || {
        let mut c = DescopeConfig::new(descope_otp::emulator::DEFAULT_PROJECT_ID);
        c.base_url = Some(app.emulator.clone());
        c
    };
    let client = DescopeClient::new(config(), app.clock.clone()).expect("client");
    let email = unique_email("bench-token");
    client
        .sign_up_or_in(DeliveryMethod::Email, &email, &SignUpOptions::default())
        .await
        .expect("code sent");
    let code = app.code_for(&email).await;
    let auth = client
        .verify(DeliveryMethod::Email, &email, &code)
        .await
        .expect("verified");
    let token = auth.session_jwt.expose_secret().to_owned();

    let rounds = 300;
    // Warm everything once.
    browser.get("/").await;
    browser.get("/profile").await;
    client.validate_session(&token).await.expect("valid");

    let home = mean_micros(rounds, || async {
        assert_eq!(browser.get("/").await.status, StatusCode::OK)
    })
    .await;
    let profile = mean_micros(rounds, || async {
        assert_eq!(browser.get("/profile").await.status, StatusCode::OK)
    })
    .await;
    // Baseline: what every validation would cost without the cache (a new client fetches the JWKS).
    let uncached = mean_micros(rounds / 3, || async {
        let fresh = DescopeClient::new(config(), app.clock.clone()).expect("client");
        fresh.validate_session(&token).await.expect("valid");
    })
    .await;

    // The signature check, on the same token: ring with n and e decoded once (the bare verify:
    // the baseline); jsonwebtoken's verifier on its aws-lc-rs backend (the app's) and on ring
    // behind jsonwebtoken's provider hook (the alternative, written here for the comparison);
    // jsonwebtoken's whole decode on aws-lc-rs (header, signature, claims: the app's check of a
    // token it has not seen); and the app's validation of a token seen before (claims only).
    let jwks: Value = reqwest::get(format!(
        "{}/v2/keys/{}",
        app.emulator,
        descope_otp::emulator::DEFAULT_PROJECT_ID
    ))
    .await
    .expect("jwks")
    .json()
    .await
    .expect("json");
    let jwk = &jwks["keys"][0];
    let (n, e) = (
        jwk["n"].as_str().expect("n").to_owned(),
        jwk["e"].as_str().expect("e").to_owned(),
    );
    let checks = {
        use base64::Engine;
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bare_key = ring::signature::RsaPublicKeyComponents {
            n: b64.decode(&n).expect("n"),
            e: b64.decode(&e).expect("e"),
        };
        let (message, signature) = token.rsplit_once('.').expect("a JWS");
        let signature = b64.decode(signature).expect("signature");
        let key = DecodingKey::from_rsa_components(&n, &e).expect("key");
        let aws_lc = (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(
            &Algorithm::RS256,
            &key,
        )
        .expect("verifier");
        let ring_provider =
            (ring_provider::PROVIDER.verifier_factory)(&Algorithm::RS256, &key).expect("verifier");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        // Taken in turns, nine rounds each, and the median round counts: a burst of noise on a
        // shared machine then moves no ratio by itself.
        let mut rounds_of: [Vec<f64>; 5] = Default::default();
        for _ in 0..9 {
            rounds_of[0].push(
                mean_micros(rounds * 2, || {
                    bare_key
                        .verify(
                            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                            message.as_bytes(),
                            &signature,
                        )
                        .expect("verifies");
                    std::future::ready(())
                })
                .await,
            );
            rounds_of[1].push(
                mean_micros(rounds * 2, || {
                    aws_lc
                        .verify(message.as_bytes(), &signature)
                        .expect("verifies");
                    std::future::ready(())
                })
                .await,
            );
            rounds_of[2].push(
                mean_micros(rounds * 2, || {
                    ring_provider
                        .verify(message.as_bytes(), &signature)
                        .expect("verifies");
                    std::future::ready(())
                })
                .await,
            );
            rounds_of[3].push(
                mean_micros(rounds * 2, || {
                    jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("verifies");
                    std::future::ready(())
                })
                .await,
            );
            rounds_of[4].push(
                mean_micros(rounds * 2, || async {
                    client.validate_session(&token).await.expect("valid");
                })
                .await,
            );
        }
        rounds_of.map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
    };
    let [bare, aws_lc, ring_hook, decode, cached] = checks;

    // The gate alone, as `require_user` runs it on a gated request, without HTTP or a render:
    // the session row and its sign-out-everywhere mark read through the app's own store (one
    // query; on SQLite through the store's own connections, on this thread), and the token check.
    // Against the bare verify. One store for all the calls, as the app has: a new one would open
    // its SQLite connections again each time.
    let gate = {
        use descope_otp::server::session::MARK_KEY;
        use descope_otp::server::session::store::SessionRows;
        use tower_sessions::SessionStore;
        // A session of its own, to read its id off the cookie the verify sets.
        let person = app.browser();
        let email = unique_email("bench-gate");
        app.email_code_requested(&person, &email).await;
        let verified = app.enter_latest_code(&person, &email).await;
        let id = verified
            .session_id()
            .expect("the verify sets the session cookie");
        let store = SessionRows::new(app.state.db.clone(), test_session_keys());
        // The first load opens those connections; the app's first gated request does the same.
        store.load(&id).await.expect("the store answers");
        let (client, token) = (&client, &token);
        mean_micros(rounds * 3, move || {
            let store = store.clone();
            async move {
                let record = store
                    .load(&id)
                    .await
                    .expect("the store answers")
                    .expect("the session is there");
                assert!(
                    record.data.contains_key(MARK_KEY),
                    "the row names its person, so the mark came with it"
                );
                client.validate_session(token).await.expect("valid");
            }
        })
        .await
    };

    println!(
        "\nbenchmark (mean per call, {} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!("  GET /          (public page, baseline)      {home:>10.1} µs   1.00x");
    println!(
        "  GET /profile   (gate + session + render)     {profile:>10.1} µs   {:.2}x",
        profile / home
    );
    println!("  validate_session, JWKS uncached (baseline)   {uncached:>10.1} µs   1.00x");
    println!(
        "  validate_session, a token seen before        {cached:>10.1} µs   {:.3}x",
        cached / uncached
    );
    println!(
        "  RS256 verify, ring, key prebuilt (baseline)  {bare:>10.1} µs   1.00x  (medians of 9 alternating rounds)"
    );
    println!(
        "  jsonwebtoken verifier, aws-lc-rs (the app's) {aws_lc:>10.1} µs   {:.2}x",
        aws_lc / bare
    );
    println!(
        "  jsonwebtoken verifier, ring behind its hook  {ring_hook:>10.1} µs   {:.2}x",
        ring_hook / bare
    );
    println!(
        "  jsonwebtoken decode, aws-lc-rs (a new token) {decode:>10.1} µs   {:.2}x",
        decode / bare
    );
    println!(
        "  validate_session, a token seen before        {cached:>10.1} µs   {:.2}x  (remembered: claims checked, no signature)",
        cached / bare
    );
    println!(
        "  the gate: session row + mark (1 query) + validate {gate:>6.1} µs   {:.2}x",
        gate / bare
    );
    assert!(
        cached < uncached,
        "the JWKS cache must make validation cheaper"
    );
    let load = load_profile_and_home(&app).await;
    println!("{load}");
}

/// `GET /` and `GET /profile` under load, interleaved A B C A B C so that all see the same
/// machine: 64 connections (eight browsers, eight connections each) for two seconds per turn,
/// then one connection. `/` twice: signed out (no session, no gate: the render alone, the
/// baseline) and signed in (its header runs the whole gate, as every page's does). Prints
/// requests per second, p50 and p99 per target, the throughput ratios, and the process's peak
/// RSS (app, emulator and load generator together: they share this test process).
async fn load_profile_and_home(app: &TestApp) -> String {
    let mut signed_in = Vec::new();
    for i in 0..8 {
        signed_in.push(
            app.signed_up("email", &unique_email(&format!("load{i}")), "Load")
                .await,
        );
    }
    let signed_out: Vec<Browser> = (0..8).map(|_| app.browser()).collect();
    let browsers = std::sync::Arc::new([signed_out, signed_in]);
    // (label, path, which browsers)
    let targets = [
        ("GET / signed out", "/", 0),
        ("GET / signed in", "/", 1),
        ("GET /profile", "/profile", 1),
    ];
    let mut out = String::from("\nload (2 s turns, A B C A B C)\n");
    for connections in [64usize, 1] {
        let mut lat: [Vec<std::time::Duration>; 3] = Default::default();
        let mut secs = [0f64; 3];
        for _round in 0..2 {
            for (i, (_, path, who)) in targets.into_iter().enumerate() {
                let started = std::time::Instant::now();
                let until = started + std::time::Duration::from_secs(2);
                let mut tasks = tokio::task::JoinSet::new();
                for c in 0..connections {
                    let browsers = browsers.clone();
                    tasks.spawn(async move {
                        let browser = &browsers[who][c % browsers[who].len()];
                        let mut took = Vec::new();
                        let url = format!("{}{path}", browser.app_base);
                        while std::time::Instant::now() < until {
                            let t = std::time::Instant::now();
                            // The bytes only: the load generator shares the process with the
                            // app, so it does no more work per answer than a client must (the
                            // token scan of `Browser::get` would cost more on the larger page).
                            let response = browser.http.get(&url).send().await.expect("answer");
                            assert_eq!(response.status(), StatusCode::OK, "{path}");
                            response.bytes().await.expect("body");
                            took.push(t.elapsed());
                        }
                        took
                    });
                }
                while let Some(took) = tasks.join_next().await {
                    lat[i].extend(took.expect("load task"));
                }
                secs[i] += started.elapsed().as_secs_f64();
            }
        }
        let mut rps = [0f64; 3];
        for (i, (label, _, _)) in targets.into_iter().enumerate() {
            lat[i].sort();
            let q = |p: f64| lat[i][((lat[i].len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
            rps[i] = lat[i].len() as f64 / secs[i];
            out.push_str(&format!(
                "  {connections:>2} conn  {label:<17} {:>7.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms\n",
                rps[i],
                q(0.50),
                q(0.99)
            ));
        }
        out.push_str(&format!(
            "  {connections:>2} conn  /profile ÷ / signed out {:.2}x   ÷ / signed in {:.2}x\n",
            rps[2] / rps[0],
            rps[2] / rps[1]
        ));
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: n/a");
    out.push_str(&format!(
        "  peak RSS of the whole test process: {}\n",
        peak.trim_start_matches("VmHWM:").trim()
    ));
    out
}

/// ring behind jsonwebtoken's provider hook, RS256 verification only: the alternative to the
/// aws-lc-rs backend, measured beside it. Not used by the app.
mod ring_provider {
    use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
    use jsonwebtoken::errors::{Error, ErrorKind};
    use jsonwebtoken::signature::{self, Verifier};
    use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};

    pub static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: no_signer,
        verifier_factory: rs256_verifier,
        jwk_utils: JwkUtils::new_unimplemented(),
    };

    fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
        Err(ErrorKind::InvalidAlgorithm.into())
    }

    fn rs256_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
        match (alg, key.kind()) {
            (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => Ok(Box::new(
                RingRs256(ring::signature::RsaPublicKeyComponents {
                    n: n.clone(),
                    e: e.clone(),
                }),
            )),
            _ => Err(ErrorKind::InvalidAlgorithm.into()),
        }
    }

    struct RingRs256(ring::signature::RsaPublicKeyComponents<Vec<u8>>);

    impl Verifier<Vec<u8>> for RingRs256 {
        fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
            self.0
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature,
                )
                .map_err(|_| signature::Error::new())
        }
    }

    impl JwtVerifier for RingRs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::RS256
        }
    }
}
