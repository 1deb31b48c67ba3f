//! The signing keys: RS256 over 2048-bit RSA keys, published as a JWKS, used to sign and check
//! the session and refresh JWTs. One key signs; after a rotation (`POST /emulator/keys/rotate`)
//! the keys it replaced stay published, so what they signed keeps verifying, unless retired.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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
    decoding: DecodingKey,
    /// RS256 only; time, audience and issuer are the callers' to check, against their clock.
    validation: Validation,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches logs.
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

/// A fresh 2048-bit RSA private key as PKCS#8 PEM (aws-lc-rs, jsonwebtoken's backend). Slow-ish
/// (tens to hundreds of ms), so callers run it off the async runtime, and tests share one.
pub fn generate_pem() -> anyhow::Result<String> {
    use aws_lc_rs::encoding::AsDer;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let der = key
        .as_der()
        .map_err(|_| anyhow::anyhow!("encoding the RSA key failed"))?;
    Ok(pem::encode_config(
        &pem::Pem::new("PRIVATE KEY", der.as_ref()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    ))
}

impl Signer {
    /// Builds a signer from an RSA private key in PEM, PKCS#8 (what [`generate_pem`] writes) or
    /// PKCS#1 (what emulators before it stored). The `kid` is derived from the public key, so it
    /// is stable across restarts that reload the same key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let AlgorithmParameters::RSA(public) =
            Jwk::from_encoding_key(&encoding, Algorithm::RS256)?.algorithm
        else {
            anyhow::bail!("the key is not an RSA key");
        };
        let n_bytes = URL_SAFE_NO_PAD.decode(&public.n)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &n_bytes);
        let kid = format!("EMU{}", &URL_SAFE_NO_PAD.encode(digest)[..20]);
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(Self {
            decoding: DecodingKey::from_rsa_components(&public.n, &public.e)?,
            encoding,
            validation,
            kid,
            n: public.n,
            e: public.e,
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

    /// Checks the RS256 signature only; the algorithm is this key's, whatever the token's header
    /// says. Expiry is checked by the caller against the injected clock.
    pub fn verify_signature<T: DeserializeOwned>(&self, token: &str) -> anyhow::Result<T> {
        jsonwebtoken::decode::<T>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| anyhow::anyhow!("token refused: {e}"))
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
    fn a_key_stored_as_pkcs1_by_an_earlier_emulator_still_loads_with_the_same_kid() {
        let pkcs8 = shared_test_pem();
        // jsonwebtoken keeps an RSA key as its PKCS#1 DER, the form earlier emulators stored.
        let pkcs1_der = EncodingKey::from_rsa_pem(pkcs8.as_bytes())
            .unwrap()
            .inner()
            .to_vec();
        let pkcs1 = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", pkcs1_der));
        assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
        let (new, old) = (
            Signer::from_pem(&pkcs8).unwrap(),
            Signer::from_pem(&pkcs1).unwrap(),
        );
        assert_eq!(new.kid(), old.kid());
        assert_eq!(new.jwk(), old.jwk());
        let claims: Value = new
            .verify_signature(&old.sign(&json!({"sub": "U2x"})).unwrap())
            .unwrap();
        assert_eq!(claims["sub"], "U2x");
    }

    #[test]
    fn a_token_whose_header_names_another_algorithm_does_not_verify() {
        let signer = Signer::from_pem(&shared_test_pem()).unwrap();
        let token = signer.sign(&json!({"sub": "U2x"})).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": "RS384", "kid": signer.kid()}).to_string());
        assert!(
            signer
                .verify_signature::<Value>(&format!("{header}.{rest}"))
                .is_err()
        );
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
