//! Signing keys as ready-to-use `aws-lc-rs` handles (parsed once, never per token), their
//! public JWKs, and verification keys built from JWKs (ours or a client's, RFC 7517/7518).

use crate::crypto::{b64url, b64url_decode};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use serde_json::{json, Value};

/// JOSE signature algorithms Tessera signs with (RFC 7518 §3, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys (the default).
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// Every algorithm, in discovery order.
    pub const ALL: [Alg; 4] = [Alg::RS256, Alg::PS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name; `none` and HMAC algorithms are never accepted.
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::RS256),
            "PS256" => Some(Alg::PS256),
            "ES256" => Some(Alg::ES256),
            "EdDSA" => Some(Alg::EdDSA),
            _ => None,
        }
    }
}

/// Errors of key handling; never carry key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Key generation failed.
    #[error("key generation failed")]
    Generate,
    /// A stored private key could not be parsed.
    #[error("stored private key is invalid")]
    Parse,
    /// Signing failed.
    #[error("signing failed")]
    Sign,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its precomputed JOSE headers.
pub struct SigningKey {
    /// Key id published in the JWKS and put in every header.
    pub kid: String,
    /// Algorithm.
    pub alg: Alg,
    /// The parsed key handle.
    inner: Inner,
    /// base64url of `{"alg","kid","typ":"at+jwt"}` (RFC 9068 access tokens).
    header_at: String,
    /// base64url of `{"alg","kid","typ":"JWT"}` (ID tokens, other JWTs).
    header_jwt: String,
    /// The public JWK.
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Which JOSE `typ` a token gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typ {
    /// `at+jwt` (RFC 9068).
    AccessToken,
    /// `JWT`.
    Jwt,
}

impl SigningKey {
    /// Generates a new key; returns it with its PKCS#8 DER (to be encrypted and stored).
    pub fn generate(kid: String, alg: Alg) -> Result<(SigningKey, Vec<u8>), KeyError> {
        let der: Vec<u8> = match alg {
            Alg::RS256 | Alg::PS256 => {
                let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generate)?;
                let der = kp.as_der().map_err(|_| KeyError::Generate)?;
                der.as_ref().to_vec()
            }
            Alg::ES256 => {
                let kp = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generate)?;
                let doc = kp.to_pkcs8v1().map_err(|_| KeyError::Generate)?;
                doc.as_ref().to_vec()
            }
            Alg::EdDSA => {
                let kp = Ed25519KeyPair::generate().map_err(|_| KeyError::Generate)?;
                let doc = kp.to_pkcs8v1().map_err(|_| KeyError::Generate)?;
                doc.as_ref().to_vec()
            }
        };
        let key = SigningKey::from_pkcs8(kid, alg, &der).map_err(|_| KeyError::Generate)?;
        Ok((key, der))
    }

    /// Builds the handle from PKCS#8 DER (done once per key, at load).
    pub fn from_pkcs8(kid: String, alg: Alg, der: &[u8]) -> Result<SigningKey, KeyError> {
        let (inner, public_jwk) = match alg {
            Alg::RS256 | Alg::PS256 => {
                let kp = RsaKeyPair::from_pkcs8(der).map_err(|_| KeyError::Parse)?;
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                let jwk = json!({"kty":"RSA","n":b64url(&c.n),"e":b64url(&c.e)});
                (Inner::Rsa(kp), jwk)
            }
            Alg::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| KeyError::Parse)?;
                let point = kp.public_key().as_ref();
                // Uncompressed point: 0x04 || X(32) || Y(32).
                let (x, y) = match (point.get(1..33), point.get(33..65)) {
                    (Some(x), Some(y)) => (x, y),
                    _ => return Err(KeyError::Parse),
                };
                let jwk = json!({"kty":"EC","crv":"P-256","x":b64url(x),"y":b64url(y)});
                (Inner::Ec(kp), jwk)
            }
            Alg::EdDSA => {
                let kp = Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::Parse)?;
                let jwk = json!({"kty":"OKP","crv":"Ed25519","x":b64url(kp.public_key().as_ref())});
                (Inner::Ed(kp), jwk)
            }
        };
        let mut public_jwk = public_jwk;
        if let Value::Object(m) = &mut public_jwk {
            m.insert("kid".into(), Value::String(kid.clone()));
            m.insert("alg".into(), Value::String(alg.as_str().into()));
            m.insert("use".into(), Value::String("sig".into()));
        }
        let header = |typ: &str| {
            b64url(
                json!({"alg": alg.as_str(), "kid": kid, "typ": typ})
                    .to_string()
                    .as_bytes(),
            )
        };
        Ok(SigningKey {
            header_at: header("at+jwt"),
            header_jwt: header("JWT"),
            kid,
            alg,
            inner,
            public_jwk,
        })
    }

    /// The public JWK (with `kid`, `alg`, `use`).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Raw signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                let pad: &'static dyn signature::RsaEncoding = match self.alg {
                    Alg::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                kp.sign(pad, &SystemRandom::new(), msg, &mut sig)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig)
            }
            Inner::Ec(kp) => kp
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            Inner::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }

    /// JWS compact serialization of `payload` (already JSON) with this key.
    pub fn sign_jwt(&self, typ: Typ, payload: &[u8]) -> Result<String, KeyError> {
        let header = match typ {
            Typ::AccessToken => &self.header_at,
            Typ::Jwt => &self.header_jwt,
        };
        let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 400);
        out.push_str(header);
        out.push('.');
        out.push_str(&b64url(payload));
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64url(&sig));
        Ok(out)
    }
}

/// A public key that verifies signatures of one algorithm.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    /// Key id, if the JWK had one.
    pub kid: Option<String>,
    /// The only algorithm this key verifies (no key confusion).
    pub alg: Alg,
    /// Public key material in the form aws-lc-rs expects.
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Raw(Vec<u8>),
}

impl VerifyingKey {
    /// Builds a verifier from a JWK (RFC 7517). RSA keys verify RS256 unless the JWK says PS256;
    /// EC keys must be P-256; OKP keys Ed25519. Anything else (e.g. `oct`) is refused.
    pub fn from_jwk(jwk: &Value) -> Option<VerifyingKey> {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        let kid = s("kid").map(str::to_string);
        let declared = s("alg");
        let (alg, material) = match s("kty")? {
            "RSA" => {
                let alg = match declared {
                    None | Some("RS256") => Alg::RS256,
                    Some("PS256") => Alg::PS256,
                    _ => return None,
                };
                let n = b64url_decode(s("n")?)?;
                let e = b64url_decode(s("e")?)?;
                // Refuse keys under 2048 bits.
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < 2048 {
                    return None;
                }
                (alg, Material::Rsa { n, e })
            }
            "EC" => {
                if s("crv")? != "P-256" || !matches!(declared, None | Some("ES256")) {
                    return None;
                }
                let x = b64url_decode(s("x")?)?;
                let y = b64url_decode(s("y")?)?;
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (Alg::ES256, Material::Raw(point))
            }
            "OKP" => {
                if s("crv")? != "Ed25519" || !matches!(declared, None | Some("EdDSA")) {
                    return None;
                }
                let x = b64url_decode(s("x")?)?;
                if x.len() != 32 {
                    return None;
                }
                (Alg::EdDSA, Material::Raw(x))
            }
            _ => return None,
        };
        Some(VerifyingKey { kid, alg, material })
    }

    /// True if `sig` is a valid `alg` signature of `msg` by this key; `alg` must be the key's own.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> bool {
        // One key, one algorithm: no key confusion (an RSA JWK without `alg` means RS256).
        if alg != self.alg {
            return false;
        }
        match (&self.material, alg) {
            (Material::Rsa { n, e }, Alg::RS256) => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok(),
            (Material::Rsa { n, e }, Alg::PS256) => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PSS_2048_8192_SHA256, msg, sig)
                .is_ok(),
            (Material::Raw(p), Alg::ES256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p)
                    .verify(msg, sig)
                    .is_ok()
            }
            (Material::Raw(p), Alg::EdDSA) => UnparsedPublicKey::new(&signature::ED25519, p)
                .verify(msg, sig)
                .is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_its_public_jwk_verifies() {
        for alg in Alg::ALL {
            let (key, der) = SigningKey::generate("k1".into(), alg).unwrap();
            let again = SigningKey::from_pkcs8("k1".into(), alg, &der).unwrap();
            let sig = again.sign(b"hello").unwrap();
            let vk = VerifyingKey::from_jwk(key.public_jwk()).unwrap();
            assert!(vk.verify(alg, b"hello", &sig), "{alg:?}");
            assert!(!vk.verify(alg, b"hellO", &sig), "{alg:?}");
        }
    }

    #[test]
    fn a_key_never_verifies_another_algorithm() {
        let (key, _) = SigningKey::generate("k".into(), Alg::ES256).unwrap();
        let sig = key.sign(b"m").unwrap();
        let vk = VerifyingKey::from_jwk(key.public_jwk()).unwrap();
        assert!(!vk.verify(Alg::EdDSA, b"m", &sig));
        assert!(!vk.verify(Alg::RS256, b"m", &sig));
    }

    #[test]
    fn symmetric_and_unknown_jwks_are_refused() {
        assert!(VerifyingKey::from_jwk(&json!({"kty":"oct","k":"AAAA"})).is_none());
        assert!(
            VerifyingKey::from_jwk(&json!({"kty":"EC","crv":"P-384","x":"AA","y":"AA"})).is_none()
        );
    }
}
