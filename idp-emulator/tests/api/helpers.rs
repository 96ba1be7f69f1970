//! Shared test support: a spawned emulator with an HTTP client, and JWT verification
//! against a vendor's published JWKS with an independent implementation (jsonwebtoken).

use dcr_idp_emulator::Emulator;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub struct TestEmu {
    pub emu: Emulator,
    pub http: Client,
}

impl TestEmu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.root)
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn form_token(&self, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let resp = self.http.post(url).form(form).send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }
}

pub async fn spawn() -> TestEmu {
    let emu = dcr_idp_emulator::spawn().await.unwrap();
    TestEmu {
        emu,
        http: Client::new(),
    }
}

pub async fn body(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, value)
}

/// Verifies `token` against the JWKS at `jwks_url` (RS256, issuer, audience, expiry) and
/// returns its claims and the `kid` it was signed with.
pub async fn verify(
    http: &Client,
    jwks_url: &str,
    token: &str,
    iss: &str,
    aud: &str,
) -> (Value, String) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    let kid = header.kid.unwrap();
    let jwks: Value = http
        .get(jwks_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .expect("kid in JWKS");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[iss]);
    validation.set_audience(&[aud]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    (data.claims, kid)
}
