//! The signing keys: RS256 over 2048-bit RSA keys, published as a JWKS, used to sign and check
//! the session and refresh JWTs. One key signs; after a rotation (`POST /emulator/keys/rotate`)
//! the keys it replaced stay published, so what they signed keeps verifying, unless retired.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::descope::jwt::RsaKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A signing key plus everything derived from it.
pub struct Signer {
    kid: String,
    n: String,
    e: String,
    encoding: EncodingKey,
    verifier: RsaKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches logs.
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

/// A fresh 2048-bit RSA private key as PKCS#1 PEM. Slow-ish (tens to hundreds of ms), so callers
/// run it off the async runtime, and tests share one.
pub fn generate_pem() -> anyhow::Result<String> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
    Ok(key.to_pkcs1_pem(LineEnding::LF)?.to_string())
}

impl Signer {
    /// Builds a signer from a PKCS#1 PEM private key. The `kid` is derived from the public key,
    /// so it is stable across restarts that reload the same key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)?;
        let n_bytes = key.n().to_bytes_be();
        let e_bytes = key.e().to_bytes_be();
        let digest = Sha256::digest(&n_bytes);
        let kid = format!("EMU{}", &URL_SAFE_NO_PAD.encode(digest)[..20]);
        let n = URL_SAFE_NO_PAD.encode(&n_bytes);
        let e = URL_SAFE_NO_PAD.encode(&e_bytes);
        Ok(Self {
            encoding: EncodingKey::from_rsa_pem(pem.as_bytes())?,
            verifier: RsaKey::new(Algorithm::RS256, &n, &e)
                .ok_or_else(|| anyhow::anyhow!("the key is not a usable RS256 key"))?,
            kid,
            n,
            e,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK: every SDK needs both `kid` and `alg` on it.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
            "n": self.n,
            "e": self.e,
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Checks the RS256 signature only, with the app's fast verifier (ring, n and e decoded
    /// once); the algorithm is this key's, whatever the token's header says. Expiry is checked by
    /// the caller against the injected clock.
    pub fn verify_signature<T: DeserializeOwned>(&self, token: &str) -> anyhow::Result<T> {
        let payload = self
            .verifier
            .verified_payload(token)
            .map_err(|e| anyhow::anyhow!("token refused: {e}"))?;
        Ok(serde_json::from_slice(&payload)?)
    }
}

/// The key that signs now, and the keys it replaced that are still published.
#[derive(Debug)]
pub struct KeyRing {
    keys: RwLock<Keys>,
}

#[derive(Debug)]
struct Keys {
    current: Arc<Signer>,
    /// Newest first.
    previous: Vec<Arc<Signer>>,
}

impl KeyRing {
    /// `signer` signs; `previous` (newest first), replaced by earlier rotations, stay published.
    pub fn with_previous(signer: Signer, previous: Vec<Signer>) -> Self {
        Self {
            keys: RwLock::new(Keys {
                current: Arc::new(signer),
                previous: previous.into_iter().map(Arc::new).collect(),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        // Nothing panics while holding the lock; if something did, the keys are still whole.
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn current(&self) -> Arc<Signer> {
        Arc::clone(&self.read().current)
    }

    /// `{"keys":[...]}`, the signing key first.
    pub fn jwks(&self) -> Value {
        let keys = self.read();
        let published: Vec<Value> = std::iter::once(&keys.current)
            .chain(&keys.previous)
            .map(|k| k.jwk())
            .collect();
        json!({ "keys": published })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        self.current().sign(claims)
    }

    /// Checks the signature with the published key the token's `kid` names.
    pub fn verify_signature<T: DeserializeOwned>(&self, token: &str) -> anyhow::Result<T> {
        let kid = jsonwebtoken::decode_header(token)?
            .kid
            .ok_or_else(|| anyhow::anyhow!("the token has no kid"))?;
        let signer = {
            let keys = self.read();
            std::iter::once(&keys.current)
                .chain(&keys.previous)
                .find(|k| k.kid == kid)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no published key has kid {kid}"))?
        };
        signer.verify_signature(token)
    }

    /// Makes `signer` the signing key. The one it replaces stays published unless
    /// `retire_old`, which also unpublishes every earlier one.
    pub fn rotate(&self, signer: Signer, retire_old: bool) {
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut keys.current, Arc::new(signer));
        if retire_old {
            keys.previous.clear();
        } else {
            keys.previous.insert(0, old);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One RSA key for the whole test binary: generating one per test would dominate run time.
    pub(crate) fn shared_test_pem() -> String {
        static PEM: OnceLock<String> = OnceLock::new();
        PEM.get_or_init(|| generate_pem().expect("test key generation"))
            .clone()
    }

    #[test]
    fn a_signed_token_verifies_with_the_same_key_and_carries_the_kid() {
        let signer = Signer::from_pem(&shared_test_pem()).unwrap();
        let token = signer.sign(&json!({"sub": "U2x"})).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));
        let claims: Value = signer.verify_signature(&token).unwrap();
        assert_eq!(claims["sub"], "U2x");
    }

    #[test]
    fn a_tampered_token_does_not_verify() {
        let signer = Signer::from_pem(&shared_test_pem()).unwrap();
        let token = signer.sign(&json!({"sub": "U2x"})).unwrap();
        let forged = signer.sign(&json!({"sub": "U2y"})).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_parts: Vec<&str> = forged.split('.').collect();
        parts[1] = forged_parts[1];
        assert!(signer.verify_signature::<Value>(&parts.join(".")).is_err());
    }

    #[test]
    fn after_a_rotation_the_new_key_signs_and_the_old_ones_verify_until_retired() {
        let first = Signer::from_pem(&shared_test_pem()).unwrap();
        let ring = KeyRing::with_previous(first, Vec::new());
        let old_token = ring.sign(&json!({"sub": "U2x"})).unwrap();
        let old_kid = ring.current().kid().to_string();

        ring.rotate(Signer::from_pem(&generate_pem().unwrap()).unwrap(), false);
        let new_token = ring.sign(&json!({"sub": "U2y"})).unwrap();
        let new_kid = jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .unwrap();
        assert_ne!(new_kid, old_kid);
        let kids: Vec<Value> = ring.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].clone())
            .collect();
        assert_eq!(kids, vec![json!(new_kid), json!(old_kid)]);
        assert!(ring.verify_signature::<Value>(&old_token).is_ok());
        assert!(ring.verify_signature::<Value>(&new_token).is_ok());

        ring.rotate(Signer::from_pem(&shared_test_pem()).unwrap(), true);
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
        assert!(ring.verify_signature::<Value>(&new_token).is_err());
    }
}
