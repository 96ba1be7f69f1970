//! The one-time values of a sign-in: the PKCE verifier and its S256 challenge (RFC 7636),
//! `state` (ties the redirect to this request, RFC 6749 section 10.12) and `nonce` (ties
//! the ID token to it, OpenID Connect Core section 3.1.2.1). Each is 256 random bits.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct OneTime {
    /// 43 base64url characters: within RFC 7636's 43..128 unreserved characters.
    pub verifier: SecretString,
    pub challenge: String,
    pub state: String,
    pub nonce: String,
}

impl Default for OneTime {
    fn default() -> Self {
        Self::new()
    }
}

impl OneTime {
    pub fn new() -> Self {
        let verifier = random();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier: SecretString::from(verifier),
            challenge,
            state: random(),
            nonce: random(),
        }
    }

    pub fn verifier(&self) -> &str {
        self.verifier.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_verifiers_s256() {
        let one = OneTime::new();
        assert_eq!(one.verifier().len(), 43);
        assert_eq!(
            one.challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(one.verifier().as_bytes()))
        );
        assert_ne!(one.state, OneTime::new().state);
    }
}
