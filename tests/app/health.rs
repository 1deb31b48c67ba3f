//! The probes a load balancer uses: `/healthz` (the process serves) and `/readyz` (the database
//! answers and Descope's signing keys can be had).

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;

use std::time::Duration;

use descope_otp::clock::Clock;

use crate::support::{TestApp, allow_faults, spawn_app, spawn_app_on, spawn_app_with_faults};

async fn probe(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("the probe answers");
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "a probe makes no session"
    );
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_serving_app_is_live_and_ready() {
    let app = spawn_app().await;
    assert_eq!(probe(&app, "/healthz").await, (StatusCode::OK, "ok".into()));
    assert_eq!(
        probe(&app, "/readyz").await,
        (StatusCode::OK, "ready".into())
    );
}

#[tokio::test]
async fn without_its_database_the_app_is_live_but_not_ready() {
    let app = spawn_app().await;
    app.state.db.close().await;
    let (status, reason) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reason.contains("database"), "{reason}");
    assert_eq!(probe(&app, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn while_descope_keys_cannot_be_had_the_app_is_not_ready() {
    let app = spawn_app_with_faults().await;
    app.inject_fault(
        serde_json::json!({"path": "/v2/keys", "status": 503, "errorCode": "E000000"}),
    )
    .await;

    let (status, reason) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reason.contains("JWKS"), "{reason}");
    assert_eq!(probe(&app, "/healthz").await.0, StatusCode::OK);

    app.clear_faults().await;
    // The failed fetch is not retried within the JWKS cooldown (30 s).
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(
        probe(&app, "/readyz").await,
        (StatusCode::OK, "ready".into())
    );
}

#[tokio::test]
async fn probes_fetch_descope_keys_at_most_once_per_cooldown_while_they_cannot_be_had() {
    // Frozen, so that only the test moves the app past the cooldown.
    let app = spawn_app_on(Clock::frozen(), allow_faults).await;
    const TIMES: u64 = 1000;
    app.inject_fault(serde_json::json!({
        "path": "/v2/keys", "status": 503, "errorCode": "E000000", "times": TIMES,
    }))
    .await;
    // The fault counts the key fetches that reached Descope.
    let fetches = || async {
        let faults = app.active_faults().await;
        TIMES
            - faults["faults"][0]["remaining"]
                .as_u64()
                .expect("the fault is still there")
    };

    let sequential = probe(&app, "/readyz").await;
    assert_eq!(
        sequential.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        sequential.1
    );
    for _ in 0..9 {
        assert_eq!(
            probe(&app, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    let mut concurrent = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let url = format!("{}/readyz", app.base);
        concurrent
            .spawn(async move { reqwest::get(url).await.expect("the probe answers").status() });
    }
    while let Some(status) = concurrent.join_next().await {
        assert_eq!(status.expect("joined"), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(fetches().await, 1, "20 probes, one fetch");

    // Past the cooldown, the next probe tries once more.
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(
        probe(&app, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(fetches().await, 2);
}
