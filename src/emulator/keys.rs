//! The signing key: RS256 over a 2048-bit RSA key, published as a JWKS, used to sign and check
//! the session and refresh JWTs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A signing key plus everything derived from it.
pub struct Signer {
    kid: String,
    pem: String,
    n: String,
    e: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
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
            decoding: DecodingKey::from_rsa_components(&n, &e)?,
            kid,
            pem: pem.to_string(),
            n,
            e,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// `{"keys":[{kty,kid,alg,use,n,e}]}`: every SDK needs both `kid` and `alg` on the key.
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "kid": self.kid,
                "alg": "RS256",
                "use": "sig",
                "n": self.n,
                "e": self.e,
            }]
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Checks the signature only. Expiry is checked by the caller against the injected clock,
    /// because jsonwebtoken would read the wall clock.
    pub fn verify_signature<T: DeserializeOwned>(&self, token: &str) -> anyhow::Result<T> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(jsonwebtoken::decode::<T>(token, &self.decoding, &validation)?.claims)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // A failed unwrap is a failed test.
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
}
