//! The probes a load balancer uses: `/healthz` (the process serves) and `/readyz` (the database
//! answers and Descope's signing keys can be had).

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;

use crate::support::{TestApp, spawn_app, spawn_app_with_faults};

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
    assert_eq!(
        probe(&app, "/readyz").await,
        (StatusCode::OK, "ready".into())
    );
}
