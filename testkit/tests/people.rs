//! People signing in at the real oidc-provider peer (authorization code + PKCE, login form,
//! JWT access tokens with `groups`, refresh after a group change).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dcr_testkit::peers::Peer;
use dcr_testkit::people::{
    SignedIn, WebClient, jwt_claims, oidc_provider_with_people, oidc_provider_with_web_client,
    refresh, set_groups, sign_in, sign_in_web,
};
use serde_json::{Value, json};

const CLIENT: &str = "dcr-cli";
const RESOURCE: &str = "https://api.example.com";
const SCOPE: &str = "openid groups profile email read";

async fn peer() -> Peer {
    oidc_provider_with_people(
        json!([
            {"sub": "alice", "password": "alice-pw", "groups": ["dcr-admins", "staff"],
             "name": "Alice Admin", "email": "alice@example.com"},
            {"sub": "dave", "password": "dave-pw", "groups": ["dcr-developers"]},
        ]),
        CLIENT,
    )
    .await
}

fn access_claims(signed_in: &SignedIn) -> Value {
    jwt_claims(&signed_in.access_token).expect("the access token is a JWT")
}

#[tokio::test]
async fn people_sign_in_gets_a_jwt_access_token_with_groups() {
    let peer = peer().await;
    let issuer = &peer.base_url;

    let signed_in = sign_in(issuer, CLIENT, "alice", "alice-pw", SCOPE, RESOURCE)
        .await
        .unwrap();
    let claims = access_claims(&signed_in);
    assert_eq!(claims["iss"], json!(issuer), "{claims}");
    assert_eq!(claims["aud"], json!(RESOURCE), "{claims}");
    assert_eq!(claims["sub"], json!("alice"), "{claims}");
    assert_eq!(claims["client_id"], json!(CLIENT), "{claims}");
    assert_eq!(claims["groups"], json!(["dcr-admins", "staff"]), "{claims}");
    assert_eq!(claims["name"], json!("Alice Admin"), "{claims}");
    assert_eq!(claims["email"], json!("alice@example.com"), "{claims}");
    assert_eq!(claims["scope"], json!("read"), "{claims}");
    assert!(signed_in.refresh_token.is_some(), "no refresh token");

    let id_token = jwt_claims(signed_in.id_token.as_deref().expect("an id_token")).unwrap();
    assert_eq!(id_token["sub"], json!("alice"), "{id_token}");
    assert_eq!(id_token["aud"], json!(CLIENT), "{id_token}");
    assert_eq!(
        id_token["groups"],
        json!(["dcr-admins", "staff"]),
        "{id_token}"
    );

    // A person without name/email: no such claims.
    let dave = sign_in(issuer, CLIENT, "dave", "dave-pw", SCOPE, RESOURCE)
        .await
        .unwrap();
    let claims = access_claims(&dave);
    assert_eq!(claims["sub"], json!("dave"), "{claims}");
    assert_eq!(claims["groups"], json!(["dcr-developers"]), "{claims}");
    assert!(claims.get("name").is_none(), "{claims}");
    assert!(claims.get("email").is_none(), "{claims}");
}

#[tokio::test]
async fn people_wrong_password_or_unknown_login_is_refused() {
    let peer = peer().await;
    let issuer = &peer.base_url;

    let err = sign_in(issuer, CLIENT, "alice", "not-her-password", SCOPE, RESOURCE)
        .await
        .unwrap_err();
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("login form"), "{err}");

    let err = sign_in(issuer, CLIENT, "mallory", "alice-pw", SCOPE, RESOURCE)
        .await
        .unwrap_err();
    assert!(err.contains("401"), "{err}");

    // An unknown client is refused at the authorization endpoint (no login form).
    let err = sign_in(
        issuer,
        "no-such-client",
        "alice",
        "alice-pw",
        SCOPE,
        RESOURCE,
    )
    .await
    .unwrap_err();
    assert!(err.contains("400"), "{err}");
}

#[tokio::test]
async fn people_refresh_sees_changed_groups() {
    let peer = peer().await;
    let issuer = &peer.base_url;

    let first = sign_in(issuer, CLIENT, "alice", "alice-pw", SCOPE, RESOURCE)
        .await
        .unwrap();
    assert_eq!(
        access_claims(&first)["groups"],
        json!(["dcr-admins", "staff"])
    );

    set_groups(&peer, "alice", &["dcr-developers"]).await;
    let second = refresh(
        issuer,
        CLIENT,
        first.refresh_token.as_deref().unwrap(),
        RESOURCE,
    )
    .await
    .unwrap();
    let claims = access_claims(&second);
    assert_eq!(claims["groups"], json!(["dcr-developers"]), "{claims}");
    assert_eq!(claims["sub"], json!("alice"), "{claims}");
    assert_eq!(claims["aud"], json!(RESOURCE), "{claims}");

    // No groups at all: an empty list, still present.
    set_groups(&peer, "alice", &[]).await;
    let third = refresh(
        issuer,
        CLIENT,
        second
            .refresh_token
            .as_deref()
            .expect("a rotated refresh token"),
        RESOURCE,
    )
    .await
    .unwrap();
    assert_eq!(access_claims(&third)["groups"], json!([]));

    // A refresh token that was already used is refused.
    let err = refresh(
        issuer,
        CLIENT,
        first.refresh_token.as_deref().unwrap(),
        RESOURCE,
    )
    .await
    .unwrap_err();
    assert!(err.contains("invalid_grant"), "{err}");
}

#[tokio::test]
async fn people_set_groups_of_unknown_person_is_404() {
    let peer = peer().await;
    let response = reqwest::Client::new()
        .post(format!("{}/__test/people/nobody", peer.base_url))
        .json(&json!({"groups": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

const PORTAL_REDIRECT: &str = "http://127.0.0.1:8090/auth/callback";

fn portal() -> WebClient {
    // `+` and `/` change under form-urlencoding: Basic must encode them (RFC 6749 2.3.1).
    WebClient::new("dcr-portal", "portal+secret/0123456789", PORTAL_REDIRECT)
}

async fn web_peer() -> Peer {
    oidc_provider_with_web_client(
        json!([{"sub": "alice", "password": "alice-pw", "groups": ["dcr-admins"],
                "name": "Alice Admin"}]),
        &portal(),
    )
    .await
}

#[tokio::test]
async fn web_client_signs_people_in_with_basic_and_gets_jwts() {
    let peer = web_peer().await;
    let issuer = &peer.base_url;
    let client = portal();

    let signed_in = sign_in_web(issuer, &client, "alice", "alice-pw", SCOPE, RESOURCE)
        .await
        .unwrap();
    let claims = access_claims(&signed_in);
    assert_eq!(claims["client_id"], json!("dcr-portal"), "{claims}");
    assert_eq!(claims["aud"], json!(RESOURCE), "{claims}");
    assert_eq!(claims["sub"], json!("alice"), "{claims}");
    assert_eq!(claims["groups"], json!(["dcr-admins"]), "{claims}");
    assert!(signed_in.refresh_token.is_some(), "no refresh token");
    let id_token = jwt_claims(signed_in.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id_token["aud"], json!("dcr-portal"), "{id_token}");

    // Discovery of a peer with a web client lists client_secret_basic.
    let discovery = peer.get_json("/.well-known/openid-configuration").await;
    let methods = discovery["token_endpoint_auth_methods_supported"].to_string();
    assert!(methods.contains("client_secret_basic"), "{methods}");
}

#[tokio::test]
async fn web_client_is_refused_a_wrong_secret_and_other_redirect_uris() {
    let peer = web_peer().await;
    let issuer = &peer.base_url;

    let mut wrong_secret = portal();
    wrong_secret.client_secret = "not-the-secret".into();
    let err = sign_in_web(issuer, &wrong_secret, "alice", "alice-pw", SCOPE, RESOURCE)
        .await
        .unwrap_err();
    assert!(err.contains("code exchange: 401"), "{err}");
    assert!(err.contains("invalid_client"), "{err}");

    // oidc-provider 9 takes the secret of a client_secret_basic client in the body too
    // (lib/shared/client_auth.js treats basic and post as one family), as its README
    // says; the emulator's /sso is the strict one. A wrong secret there is still refused.
    let token = |secret: &str| {
        reqwest::Client::new()
            .post(format!("{issuer}/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "never-issued"),
                ("client_id", "dcr-portal"),
                ("client_secret", secret),
            ])
            .send()
    };
    let body: Value = token(&portal().client_secret)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], json!("invalid_grant"), "{body}");
    let response = token("not-the-secret").await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    // Exact redirect URIs: another port of the same loopback host is not the client's.
    let other_port = WebClient::new(
        "dcr-portal",
        &portal().client_secret,
        "http://127.0.0.1:8091/auth/callback",
    );
    let err = sign_in_web(issuer, &other_port, "alice", "alice-pw", SCOPE, RESOURCE)
        .await
        .unwrap_err();
    assert!(err.contains("400"), "{err}");
    assert!(
        !err.contains("login form"),
        "refused before the login: {err}"
    );
}
