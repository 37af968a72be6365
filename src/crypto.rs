//! Small cryptographic helpers shared by the server: random identifiers, keyed hashing of
//! high-entropy secrets, argon2id for low-entropy ones, and AES-256-GCM for data at rest.
//! All primitives come from `aws-lc-rs` (argon2 from the RustCrypto crate).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// Errors of the crypto helpers; they never carry secret material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
    /// Encryption or decryption failed (wrong key or tampered data).
    #[error("encryption or decryption failed")]
    Aead,
    /// A master key was not 32 bytes of base64 or hex.
    #[error("master key must be 32 bytes, base64 or hex encoded")]
    BadMasterKey,
    /// Hashing with argon2 failed.
    #[error("password hashing failed")]
    Argon2,
}

/// `n` random bytes from the system generator.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CryptoError::Random)?;
    Ok(buf)
}

/// A random URL-safe token of `bytes` random bytes (base64url, no padding).
pub fn random_token(bytes: usize) -> Result<String, CryptoError> {
    Ok(b64url(&random_bytes(bytes)?))
}

/// base64url without padding (JOSE encoding).
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url without padding.
pub fn b64url_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data).ok()
}

/// Standard base64 with padding.
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes standard base64 with padding.
pub fn b64_decode(data: &str) -> Option<Vec<u8>> {
    STANDARD.decode(data).ok()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The 32-byte master key that encrypts private keys at rest and derives hashing keys.
#[derive(Clone)]
pub struct MasterKey {
    /// AES-256-GCM key for data at rest.
    aead: std::sync::Arc<LessSafeKey>,
    /// HMAC-SHA-256 key for hashing high-entropy secrets (derived, never stored).
    hash_key: hmac::Key,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Builds the key from 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, CryptoError> {
        if raw.len() != 32 {
            return Err(CryptoError::BadMasterKey);
        }
        let unbound = UnboundKey::new(&AES_256_GCM, raw).map_err(|_| CryptoError::BadMasterKey)?;
        // The hashing key is derived so that the raw master key is used for one purpose only.
        let derive = hmac::Key::new(hmac::HMAC_SHA256, raw);
        let hash_raw = hmac::sign(&derive, b"tessera secret hashing v1");
        Ok(Self {
            aead: std::sync::Arc::new(LessSafeKey::new(unbound)),
            hash_key: hmac::Key::new(hmac::HMAC_SHA256, hash_raw.as_ref()),
        })
    }

    /// Parses a key given as base64 (standard or url-safe) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let t = text.trim();
        let raw = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(t.get(i * 2..i * 2 + 2).unwrap_or(""), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| CryptoError::BadMasterKey)?
        } else {
            b64_decode(t)
                .or_else(|| b64url_decode(t.trim_end_matches('=')))
                .ok_or(CryptoError::BadMasterKey)?
        };
        Self::from_bytes(&raw)
    }

    /// A fresh random key and its base64 text form.
    pub fn generate() -> Result<(Self, String), CryptoError> {
        let raw = random_bytes(32)?;
        Ok((Self::from_bytes(&raw)?, b64(&raw)))
    }

    /// Encrypts `plain`; the output is nonce || ciphertext || tag. `aad` binds context
    /// (e.g. the key id) so a ciphertext cannot be moved to another row.
    pub fn encrypt(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes(NONCE_LEN)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);
        let mut buf = plain.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CryptoError::Aead)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts what [`MasterKey::encrypt`] produced with the same `aad`.
    pub fn decrypt(&self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.len() < NONCE_LEN {
            return Err(CryptoError::Aead);
        }
        let (n, ct) = data.split_at(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(n);
        let mut buf = ct.to_vec();
        let plain = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CryptoError::Aead)?;
        Ok(plain.to_vec())
    }

    /// Keyed hash (HMAC-SHA-256) of a high-entropy secret: microseconds to verify, and
    /// useless to an attacker who steals the database without the master key.
    pub fn hash_secret(&self, secret: &[u8]) -> Vec<u8> {
        hmac::sign(&self.hash_key, secret).as_ref().to_vec()
    }
}

/// argon2id hash (PHC string) of a low-entropy secret or password.
pub fn argon2_hash(secret: &[u8]) -> Result<String, CryptoError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt_raw = random_bytes(16)?;
    let salt = SaltString::encode_b64(&salt_raw).map_err(|_| CryptoError::Argon2)?;
    argon2::Argon2::default()
        .hash_password(secret, &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Argon2)
}

/// Verifies a secret against an argon2 PHC string.
pub fn argon2_verify(secret: &[u8], phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(secret, &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Rough entropy estimate in bits of a secret string, used to decide whether an imported
/// secret is strong enough for the fast keyed hash (≥ 256 bits) or needs argon2id.
pub fn estimated_entropy_bits(secret: &str) -> f64 {
    let mut classes = 0u32;
    if secret.chars().any(|c| c.is_ascii_lowercase()) {
        classes += 26;
    }
    if secret.chars().any(|c| c.is_ascii_uppercase()) {
        classes += 26;
    }
    if secret.chars().any(|c| c.is_ascii_digit()) {
        classes += 10;
    }
    if secret.chars().any(|c| !c.is_ascii_alphanumeric()) {
        classes += 32;
    }
    if classes == 0 {
        return 0.0;
    }
    secret.chars().count() as f64 * f64::from(classes).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_data_decrypts_only_with_the_same_aad() {
        let (k, _) = MasterKey::generate().unwrap();
        let ct = k.encrypt(b"private", b"kid-1").unwrap();
        assert_eq!(k.decrypt(&ct, b"kid-1").unwrap(), b"private");
        assert!(k.decrypt(&ct, b"kid-2").is_err());
    }

    #[test]
    fn master_key_parses_from_base64_and_hex() {
        let (_, text) = MasterKey::generate().unwrap();
        assert!(MasterKey::parse(&text).is_ok());
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::parse("short").is_err());
    }

    #[test]
    fn argon2_verifies_the_right_secret_only() {
        let h = argon2_hash(b"pw").unwrap();
        assert!(argon2_verify(b"pw", &h));
        assert!(!argon2_verify(b"px", &h));
    }

    #[test]
    fn a_43_char_random_token_counts_as_256_bits() {
        let t = random_token(32).unwrap();
        assert!(estimated_entropy_bits(&t) >= 256.0);
        assert!(estimated_entropy_bits("password123") < 256.0);
    }
}
