//! The login secret: one server-side secret from which every role's password is derived.
//!
//! Tenant connections log in as the tenant's own role, so the app needs a password per tenant —
//! thousands of them — without storing any. Each password is `HMAC-SHA-256(secret, role name)`:
//! the app derives it when it connects, provisioning derives it when it creates the role, and
//! nothing but the secret has to be kept. The server stores only a SCRAM-SHA-256 verifier,
//! computed here (PostgreSQL accepts a pre-computed verifier as the password), so creating a
//! role costs the server no hashing and the password never travels to it in clear.
//!
//! Rotating the secret: set the new one and run `<app> roles sync`, which resets
//! every role's verifier; connections already open stay valid.

use std::fmt;
use std::sync::Arc;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The environment variable [`LoginSecret::from_env`] reads.
pub const SECRET_ENV: &str = "SEA_TENANCY_SECRET";

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// PBKDF2 iterations of the verifiers, PostgreSQL's own default (`scram_iterations`).
const SCRAM_ITERATIONS: u32 = 4096;

/// Domain separation: a password derived here is never the HMAC of the bare role name.
const PASSWORD_CONTEXT: &[u8] = b"sea-tenancy login v1\0";

/// Why a login secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// [`SECRET_ENV`] is not set.
    #[error(
        "no login secret: set {SECRET_ENV} to at least {MIN_SECRET_LEN} random bytes (e.g. `openssl rand -hex 32`), the same value for the app and its migrations; tenant passwords are derived from it"
    )]
    Missing,
    /// The secret is too short to resist guessing.
    #[error(
        "the login secret is {0} bytes long; use at least {MIN_SECRET_LEN} random bytes (e.g. `openssl rand -hex 32`)"
    )]
    TooShort(usize),
}

/// The secret the passwords of tenant and global roles are derived from. Its `Debug` output
/// never shows it.
#[derive(Clone)]
pub struct LoginSecret(Arc<[u8]>);

impl LoginSecret {
    /// A secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let bytes = secret.as_ref();
        if bytes.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort(bytes.len()));
        }
        Ok(Self(bytes.into()))
    }

    /// The secret in [`SECRET_ENV`].
    pub fn from_env() -> Result<Self, SecretError> {
        match std::env::var_os(SECRET_ENV) {
            Some(value) => Self::new(value.as_encoded_bytes()),
            None => Err(SecretError::Missing),
        }
    }

    /// The secret in [`SECRET_ENV`]; when it is unset in a debug build, `development` — so
    /// `cargo run` and `cargo test` work on a fresh machine while a release build without the
    /// variable refuses to start ([`SecretError::Missing`]).
    pub fn from_env_or_development(development: &str) -> Result<Self, SecretError> {
        match Self::from_env() {
            Err(SecretError::Missing) if cfg!(debug_assertions) => Self::new(development),
            other => other,
        }
    }

    /// The password of `role`: 64 hex digits.
    pub fn password(&self, role: &str) -> String {
        let mut mac = hmac_of(&self.0);
        mac.update(PASSWORD_CONTEXT);
        mac.update(role.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A SCRAM-SHA-256 verifier of `role`'s password with a fresh random salt, in the form
    /// PostgreSQL stores (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).
    pub fn verifier(&self, role: &str) -> String {
        scram_verifier(
            &self.password(role),
            &rand::random::<[u8; 16]>(),
            SCRAM_ITERATIONS,
        )
    }
}

impl fmt::Debug for LoginSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginSecret(***)")
    }
}

fn hmac_of(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac_of(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// RFC 5802's `Hi`: PBKDF2-HMAC-SHA-256 with one output block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    // Keyed once; each round clones the keyed state instead of hashing the key again.
    let keyed = hmac_of(password);
    let mut mac = keyed.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut mac = keyed.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        out.iter_mut().zip(u).for_each(|(o, b)| *o ^= b);
    }
    out
}

/// The stored form of a SCRAM-SHA-256 password (RFC 5802, RFC 7677). The password must
/// already be in SASLprep form; ours are hex digits, which are.
fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let (stored_key, server_key) = scram_keys(password, salt, iterations);
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        BASE64_STANDARD.encode(salt),
        BASE64_STANDARD.encode(stored_key),
        BASE64_STANDARD.encode(server_key)
    )
}

fn scram_keys(password: &str, salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    let salted = hi(password.as_bytes(), salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    (stored_key, hmac(&salted, b"Server Key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's exchange: the keys of a verifier must produce the server's signature and
    /// accept the client's proof.
    #[test]
    fn verifier_keys_match_rfc_7677() {
        let salt = BASE64_STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let (stored_key, server_key) = scram_keys("pencil", &salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        assert_eq!(
            BASE64_STANDARD.encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        // The server checks a proof by recovering ClientKey and hashing it to StoredKey.
        let proof = BASE64_STANDARD
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&client_key)), stored_key);
    }

    #[test]
    fn passwords_depend_on_secret_and_role_only() {
        let a = LoginSecret::new("0123456789abcdef").unwrap();
        let b = LoginSecret::new("0123456789abcdeX").unwrap();
        assert_eq!(a.password("r1"), a.password("r1"));
        assert_ne!(a.password("r1"), a.password("r2"));
        assert_ne!(a.password("r1"), b.password("r1"));
        assert_eq!(a.password("r1").len(), 64);
        let v = a.verifier("r1");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert_ne!(v, a.verifier("r1"), "fresh salt each time");
    }

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert_eq!(
            LoginSecret::new("short").unwrap_err(),
            SecretError::TooShort(5)
        );
        let s = LoginSecret::new("a very secret value").unwrap();
        assert_eq!(format!("{s:?}"), "LoginSecret(***)");
    }
}
