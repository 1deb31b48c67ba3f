//! Shared state under concurrent requests, on a multi-threaded runtime as in production.
//!
//! A sequential test cannot see one request's state leak into another's: these run several
//! signed-in browsers and cookie-less clients against `/profile` and the gated server function at
//! once, and check every single answer against the browser that asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, COOKIE};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::support::*;

/// Who is asking, and so what every answer must be.
#[derive(Clone)]
enum Caller {
    /// A signed-in browser: it sees its own address and no one else's.
    Person {
        email: String,
        browser: Arc<Browser>,
    },
    /// No cookie at all, or a cookie naming a session that does not exist.
    Stranger { http: reqwest::Client },
}

#[derive(Clone, Copy)]
enum Ask {
    ProfilePage,
    ProfileFunction,
}

struct Load {
    app_base: String,
    callers: Vec<Caller>,
    /// Every person's address: a person's answer may contain their own and none of the others.
    emails: Vec<String>,
}

/// What went wrong, and the counts of what was checked.
#[derive(Default)]
struct Outcome {
    failures: Vec<String>,
    person_answers: usize,
    stranger_answers: usize,
}

impl Load {
    /// Sends `total` requests over `connections` concurrent workers, cycling through every caller
    /// and both ways of asking, and checks each answer. Bounded by count, not by time.
    async fn run(self: &Arc<Self>, total: usize, connections: usize) -> Outcome {
        let next = Arc::new(AtomicUsize::new(0));
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (load, next, outcome) = (Arc::clone(self), Arc::clone(&next), Arc::clone(&outcome));
            workers.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let caller = &load.callers[i % load.callers.len()];
                    let ask = if (i / load.callers.len()) % 4 == 3 {
                        Ask::ProfileFunction
                    } else {
                        Ask::ProfilePage
                    };
                    let verdict = load.check(caller, ask).await;
                    let mut outcome = outcome.lock().await;
                    match caller {
                        Caller::Person { .. } => outcome.person_answers += 1,
                        Caller::Stranger { .. } => outcome.stranger_answers += 1,
                    }
                    if let Err(failure) = verdict {
                        outcome.failures.push(failure);
                    }
                }
            });
        }
        while let Some(joined) = workers.join_next().await {
            joined.expect("a load worker panicked");
        }
        Arc::into_inner(outcome)
            .expect("every worker is done")
            .into_inner()
    }

    async fn check(&self, caller: &Caller, ask: Ask) -> Result<(), String> {
        let http = match caller {
            Caller::Person { browser, .. } => &browser.http,
            Caller::Stranger { http } => http,
        };
        let request = match ask {
            Ask::ProfilePage => http
                .get(format!("{}/profile", self.app_base))
                .header(ACCEPT, "text/html"),
            Ask::ProfileFunction => http
                .post(format!("{}/api/profile", self.app_base))
                .header(ACCEPT, "application/json")
                .header("content-type", "application/x-www-form-urlencoded"),
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let page = Page::read(response).await;
        match (caller, ask) {
            (Caller::Person { email, .. }, Ask::ProfilePage) => {
                if page.status != StatusCode::OK {
                    return Err(format!("{email}: /profile answered {}", page.status));
                }
                self.only_own_address(email, &page.body)
            }
            (Caller::Person { email, .. }, Ask::ProfileFunction) => {
                if page.status != StatusCode::OK {
                    return Err(format!("{email}: /api/profile answered {}", page.status));
                }
                let profile: Value = serde_json::from_str(&page.body)
                    .map_err(|e| format!("{email}: /api/profile is not JSON: {e}"))?;
                if profile["email"] != email.as_str() {
                    return Err(format!("{email}: /api/profile showed {}", profile["email"]));
                }
                self.only_own_address(email, &page.body)
            }
            (Caller::Stranger { .. }, Ask::ProfilePage) => {
                if page.status != StatusCode::SEE_OTHER
                    || page.location.as_deref() != Some("/sign-in?next=%2Fprofile")
                {
                    return Err(format!(
                        "a stranger's /profile answered {} {:?}{}",
                        page.status,
                        page.location,
                        self.leaked(&page.body)
                    ));
                }
                Ok(())
            }
            (Caller::Stranger { .. }, Ask::ProfileFunction) => {
                if page.status != StatusCode::UNAUTHORIZED {
                    return Err(format!(
                        "a stranger's /api/profile answered {}{}",
                        page.status,
                        self.leaked(&page.body)
                    ));
                }
                Ok(())
            }
        }
    }

    fn only_own_address(&self, own: &str, body: &str) -> Result<(), String> {
        if !body.contains(own) {
            return Err(format!("{own}: the answer does not show their address"));
        }
        match self
            .emails
            .iter()
            .find(|e| *e != own && body.contains(e.as_str()))
        {
            Some(other) => Err(format!("{own} was shown {other}'s profile")),
            None => Ok(()),
        }
    }

    fn leaked(&self, body: &str) -> String {
        match self.emails.iter().find(|e| body.contains(e.as_str())) {
            Some(email) => format!(", showing {email}'s profile"),
            None => String::new(),
        }
    }
}

/// Signs `count` people up by email, each in a browser of their own.
async fn people(app: &TestApp, tag: &str, count: usize) -> Vec<(String, Arc<Browser>)> {
    let mut people = Vec::with_capacity(count);
    for i in 0..count {
        let email = unique_email(&format!("{tag}{i}"));
        let browser = app.signed_up("email", &email, &format!("{tag} {i}")).await;
        people.push((email, Arc::new(browser)));
    }
    people
}

fn strangers() -> Vec<Caller> {
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // A cookie that names no session: the store finds nothing, exactly like no cookie.
    let mut forged = reqwest::header::HeaderMap::new();
    forged.insert(
        COOKIE,
        "sid=AAAAAAAAAAAAAAAAAAAAAA"
            .parse()
            .expect("a header value"),
    );
    let unknown_session = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .default_headers(forged)
        .build()
        .expect("client");
    vec![
        Caller::Stranger { http: plain },
        Caller::Stranger {
            http: unknown_session,
        },
    ]
}

fn load_of(app: &TestApp, people: &[(String, Arc<Browser>)]) -> Arc<Load> {
    let mut callers: Vec<Caller> = people
        .iter()
        .map(|(email, browser)| Caller::Person {
            email: email.clone(),
            browser: Arc::clone(browser),
        })
        .collect();
    callers.extend(strangers());
    Arc::new(Load {
        app_base: app.base.clone(),
        callers,
        emails: people.iter().map(|(email, _)| email.clone()).collect(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_concurrent_load_each_browser_sees_only_its_own_profile() {
    let app = spawn_app().await;
    let people = people(&app, "load", 4).await;
    let load = load_of(&app, &people);

    let started = Instant::now();
    let outcome = load.run(2_000, 32).await;
    let elapsed = started.elapsed();

    assert!(
        outcome.failures.is_empty(),
        "{} of {} answers were wrong, for example:\n{}",
        outcome.failures.len(),
        outcome.person_answers + outcome.stranger_answers,
        outcome.failures[..outcome.failures.len().min(10)].join("\n")
    );
    assert_eq!(outcome.person_answers + outcome.stranger_answers, 2_000);
    assert!(outcome.stranger_answers >= 500, "strangers asked too");
    eprintln!("2000 concurrent gated requests, all answered correctly, in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_concurrent_load_sign_out_everywhere_closes_the_other_browser_at_once() {
    let app = spawn_app().await;
    let others = people(&app, "busy", 3).await;
    let load = load_of(&app, &others);

    // One person, two browsers.
    let email = unique_email("leaver");
    let first = app.signed_up("email", &email, "Leaver").await;
    let second = app.browser();
    app.clock.advance(Duration::from_secs(61));
    let sent = second
        .submit(
            "/sign-in",
            "/api/otp/sign-in",
            &[("method", "email"), ("login_id", &email)],
        )
        .await;
    sent.assert_redirects_to("/verify");
    app.enter_latest_code(&second, &email)
        .await
        .assert_redirects_to("/profile");

    let background = {
        let load = Arc::clone(&load);
        tokio::spawn(async move { load.run(1_200, 24).await })
    };

    // While the others load the gate, the second browser works, then is refused on its very
    // next request once the first signs out everywhere, and on every request after that.
    for _ in 0..20 {
        let page = second.get("/profile").await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "before sign-out: {}",
            page.body
        );
        assert!(page.body.contains(&email));
    }
    first
        .submit("/profile", "/api/session/sign-out-everywhere", &[])
        .await
        .assert_redirects_to("/sign-in");
    for attempt in 0..40 {
        let page = second.get("/profile").await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "request {attempt} after sign-out everywhere was let through: {}",
            page.body
        );
        page.assert_redirects_to("/sign-in?next=%2Fprofile");
    }

    let outcome = background.await.expect("the load finished");
    assert!(
        outcome.failures.is_empty(),
        "{} wrong answers under load, for example:\n{}",
        outcome.failures.len(),
        outcome.failures[..outcome.failures.len().min(10)].join("\n")
    );
}
