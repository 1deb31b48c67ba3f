//! Test helpers: one RSA key per test run, token signing, and a tiny recording HTTP server
//! that answers with canned Descope-shaped responses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

use super::types::{Jwk, Jwks};

/// A 28-character project id, like real ones (`P2` + 26).
pub const PROJECT_ID: &str = "P2TESTtesttesttesttesttest00";
pub const KID: &str = "test-key-1";

pub struct TestKey {
    pub encoding: EncodingKey,
    /// The public key as DER (SubjectPublicKeyInfo).
    pub public_der: Vec<u8>,
    pub n: String,
    pub e: String,
}

/// Generated once: 2048-bit RSA generation takes a moment.
pub fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{KeyPair, RsaPublicKeyComponents};
        let private = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("RSA key generation");
        let pkcs8 = pem::Pem::new("PRIVATE KEY", private.as_der().expect("PKCS#8").as_ref());
        let public = private.public_key();
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(public);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        TestKey {
            encoding: EncodingKey::from_rsa_pem(pem::encode(&pkcs8).as_bytes())
                .expect("encoding key"),
            public_der: public.as_der().expect("public DER").as_ref().to_vec(),
            n: b64.encode(&components.n),
            e: b64.encode(&components.e),
        }
    })
}

/// The JWKS publishing [`test_key`] as RS256 under [`KID`].
pub fn jwks() -> Jwks {
    let key = test_key();
    Jwks {
        keys: vec![Jwk {
            kty: "RSA".into(),
            kid: Some(KID.into()),
            alg: Some("RS256".into()),
            use_: Some("sig".into()),
            n: Some(key.n.clone()),
            e: Some(key.e.clone()),
            ..Jwk::default()
        }],
    }
}

/// Signs `claims` as RS256 with the test key under [`KID`].
pub fn sign(claims: &Value) -> String {
    sign_with(Algorithm::RS256, &test_key().encoding, KID, claims)
}

pub fn sign_with(alg: Algorithm, key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("signing")
}

/// One request as the fixture saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The JSON body, or `Value::Null` when there was none or it was not JSON.
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A canned answer: status, extra headers, body text.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }
}

#[derive(Default)]
struct FixtureState {
    routes: HashMap<String, Canned>,
    requests: Mutex<Vec<Recorded>>,
}

/// A server on 127.0.0.1:0 that records every request and answers by exact path
/// (404 for anything else).
pub struct Fixture {
    pub base_url: String,
    state: Arc<FixtureState>,
}

impl Fixture {
    pub async fn start(routes: impl IntoIterator<Item = (String, Canned)>) -> Self {
        let state = Arc::new(FixtureState {
            routes: routes.into_iter().collect(),
            requests: Mutex::default(),
        });
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().expect("lock").clone()
    }

    pub fn last(&self) -> Recorded {
        self.requests().pop().expect("a request was made")
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }
}

async fn answer(
    State(state): State<Arc<FixtureState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    state.requests.lock().expect("lock").push(Recorded {
        method,
        path: path.clone(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    match state.routes.get(&path) {
        Some(canned) => {
            let mut response = (
                StatusCode::from_u16(canned.status).expect("status"),
                canned.body.clone(),
            )
                .into_response();
            for (name, value) in &canned.headers {
                response
                    .headers_mut()
                    .insert(*name, value.parse().expect("header value"));
            }
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
