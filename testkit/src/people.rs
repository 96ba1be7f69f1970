//! People signing in at the oidc-provider peer: the authorization code flow with PKCE, played
//! by a minimal browser (a redirect-less HTTP client with its own cookie jar).
//!
//! The peer is started with `--people` and `--login-client` (see
//! tests/peers/oidc-provider/README.md, "People sign-in"): [`oidc_provider_with_people`].
//! [`sign_in`] fills in its login form and returns the tokens; the access token is a JWT for
//! the requested resource carrying the person's `groups` (read it with [`jwt_claims`]).
//! [`set_groups`] changes a person's groups; the next [`refresh`] sees them.
//!
//! A confidential web client (the Dev Portal's kind) signs people in the same way with
//! [`sign_in_web`] at a peer started by [`oidc_provider_with_web_client`]; the pieces for a
//! real browser's sign-in ([`Pkce`], [`AuthorizationRequest`], [`exchange_code`]) are in
//! [`crate::web_client`] and re-exported here.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use url::Url;

use crate::peers::{Peer, oidc_provider_with};
pub use crate::web_client::{
    AuthorizationRequest, Pkce, WebClient, exchange_code, oidc_provider_with_web_client,
};

/// What the token endpoint answered for a person.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

/// The oidc-provider peer with `people` (a JSON array of `{"sub", "password", "groups",
/// "name"?, "email"?}`) and the public native client `login_client` that [`sign_in`] uses.
pub async fn oidc_provider_with_people(people: Value, login_client: &str) -> Peer {
    let people = people.to_string();
    oidc_provider_with(&["--people", &people, "--login-client", login_client]).await
}

/// Replaces the groups of person `sub` at the peer (`POST /__test/people/<sub>`). Tokens issued
/// from now on (a [`refresh`] or a new [`sign_in`]) carry the new groups.
pub async fn set_groups(peer: &Peer, sub: &str, groups: &[&str]) {
    let mut url = Url::parse(&peer.base_url).expect("peer base_url");
    url.path_segments_mut()
        .expect("base url")
        .extend(["__test", "people", sub]);
    let response = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({ "groups": groups }))
        .send()
        .await
        .expect("set groups");
    let status = response.status();
    assert!(
        status.is_success(),
        "setting the groups of {sub:?} failed: {status} {}",
        response.text().await.unwrap_or_default()
    );
}

/// Signs `login` in at `issuer` like a browser would, as the public client `client_id`:
/// discovery, an authorization request (PKCE S256, `state`, `nonce`, `resource`, redirect
/// `http://127.0.0.1:<random port>/callback`, never contacted), the login form, the redirects
/// back to the callback, then the code exchange at the token endpoint (with `resource` again, so
/// the access token is a JWT whose `aud` is `resource`).
///
/// Every failing step is an `Err` naming the step, the HTTP status and the body, e.g. a wrong
/// password gives `Err("login form: 401 Unauthorized: …")`.
pub async fn sign_in(
    issuer: &str,
    client_id: &str,
    login: &str,
    password: &str,
    scope: &str,
    resource: &str,
) -> Result<SignedIn, String> {
    // Any port: the client registers http://127.0.0.1/callback and oidc-provider accepts every
    // port on a loopback redirect URI of a native client (RFC 8252 section 7.3).
    let port = 49152 + (uuid::Uuid::new_v4().as_u128() % 16384) as u16;
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let request = SignIn {
        issuer,
        client: ClientAuth::Public(client_id),
        redirect_uri: &redirect_uri,
        login,
        password,
        scope,
        resource,
    };
    sign_in_as(&request).await
}

/// [`sign_in`] as the confidential web client `client` (started with
/// [`oidc_provider_with_web_client`]): its first redirect URI (never contacted), the code
/// exchanged with HTTP Basic.
pub async fn sign_in_web(
    issuer: &str,
    client: &WebClient,
    login: &str,
    password: &str,
    scope: &str,
    resource: &str,
) -> Result<SignedIn, String> {
    let redirect_uri = client
        .redirect_uris
        .first()
        .ok_or_else(|| format!("web client {:?} has no redirect URI", client.client_id))?;
    let request = SignIn {
        issuer,
        client: ClientAuth::Basic(client),
        redirect_uri,
        login,
        password,
        scope,
        resource,
    };
    sign_in_as(&request).await
}

/// How the client of a sign-in authenticates at the token endpoint.
#[derive(Clone, Copy)]
enum ClientAuth<'a> {
    /// `client_id` in the body, no secret.
    Public(&'a str),
    /// HTTP Basic (`client_secret_basic`).
    Basic(&'a WebClient),
}

impl ClientAuth<'_> {
    fn client_id(&self) -> &str {
        match self {
            Self::Public(id) => id,
            Self::Basic(client) => &client.client_id,
        }
    }
}

struct SignIn<'a> {
    issuer: &'a str,
    client: ClientAuth<'a>,
    redirect_uri: &'a str,
    login: &'a str,
    password: &'a str,
    scope: &'a str,
    resource: &'a str,
}

async fn sign_in_as(request: &SignIn<'_>) -> Result<SignedIn, String> {
    let SignIn {
        issuer,
        client,
        redirect_uri,
        login,
        password,
        scope,
        resource,
    } = *request;
    let endpoints = discover(issuer).await?;
    let mut browser = Browser::new()?;

    let pkce = Pkce::new();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let callback = Url::parse(redirect_uri).map_err(|e| e.to_string())?;

    let authorize = AuthorizationRequest {
        client_id: client.client_id(),
        redirect_uri,
        scope,
        state: &state,
        nonce: &nonce,
        pkce: &pkce,
        resource: Some(resource),
    }
    .url(&endpoints.authorization)
    .map_err(|e| format!("discovery: bad authorization_endpoint: {e}"))?;

    // Authorization request -> redirects -> the login form.
    let page = match browser.navigate(authorize, &callback).await? {
        Landing::Page { url, body } => (url, body),
        Landing::Callback(url) => {
            return Err(format!(
                "authorization request: redirected to the callback without a login: {}",
                callback_error(&url).unwrap_or_else(|| url.to_string())
            ));
        }
    };
    let action = form_action(&page.0, &page.1)?;

    // The login form: a 303 to the authorization endpoint's resume URL, then on to the callback.
    let response = browser
        .send(
            browser
                .http
                .post(action.clone())
                .form(&[("login", login), ("password", password)]),
            &action,
        )
        .await
        .map_err(|e| format!("login form: {e}"))?;
    let status = response.status();
    if !status.is_redirection() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!("login form: {status}: {}", brief(&body)));
    }
    let next = location(&action, &response).map_err(|e| format!("login form: {e}"))?;
    let landed = if is_callback(&next, &callback) {
        next
    } else {
        match browser.navigate(next, &callback).await? {
            Landing::Callback(url) => url,
            Landing::Page { url, body } => {
                return Err(format!(
                    "after login: expected a redirect to the callback, got a page at {url}: {}",
                    brief(&body)
                ));
            }
        }
    };

    // The callback: ?code=…&state=…&iss=… (or ?error=…).
    if let Some(error) = callback_error(&landed) {
        return Err(format!("authorization response: {error}"));
    }
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(format!(
            "authorization response: state mismatch ({:?} sent, {:?} received)",
            state,
            param("state")
        ));
    }
    if let Some(iss) = param("iss")
        && iss != issuer
    {
        return Err(format!(
            "authorization response: iss {iss:?} is not the issuer {issuer:?}"
        ));
    }
    let code =
        param("code").ok_or_else(|| format!("authorization response: no code in {landed}"))?;

    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", pkce.verifier.as_str()),
        ("resource", resource),
    ];
    let basic = match client {
        ClientAuth::Public(id) => {
            form.push(("client_id", id));
            None
        }
        ClientAuth::Basic(web) => Some(web),
    };
    let signed_in = token_request(&endpoints.token, "code exchange", &form, basic).await?;
    if let Some(id_token) = &signed_in.id_token {
        let claims = jwt_claims(id_token).map_err(|e| format!("code exchange: id_token: {e}"))?;
        if claims["nonce"].as_str() != Some(nonce.as_str()) {
            return Err(format!(
                "code exchange: id_token nonce {} is not the one sent ({nonce:?})",
                claims["nonce"]
            ));
        }
    }
    Ok(signed_in)
}

/// The refresh_token grant for the public client `client_id`, with `resource` (so the new
/// access token is again a JWT for it). The peer rotates refresh tokens of public clients: use
/// the returned `refresh_token` next time (reusing an old one fails and revokes the grant).
pub async fn refresh(
    issuer: &str,
    client_id: &str,
    refresh_token: &str,
    resource: &str,
) -> Result<SignedIn, String> {
    let endpoints = discover(issuer).await?;
    token_request(
        &endpoints.token,
        "refresh",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
            ("resource", resource),
        ],
        None,
    )
    .await
}

/// The payload of a JWT (not verified: for looking at tokens in tests).
pub fn jwt_claims(jwt: &str) -> Result<Value, String> {
    let payload = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| "not a JWT (no payload part)".to_owned())?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("JWT payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("JWT payload is not JSON: {e}"))
}

const TIMEOUT: Duration = Duration::from_secs(10);
/// More redirects than any sign-in needs (authorize -> interaction, login -> resume -> callback).
const MAX_REDIRECTS: usize = 10;

struct Endpoints {
    authorization: String,
    token: String,
}

async fn discover(issuer: &str) -> Result<Endpoints, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("discovery: GET {url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("discovery: {status}: {}", brief(&body)));
    }
    let doc: Value =
        serde_json::from_str(&body).map_err(|e| format!("discovery: not JSON ({e}): {body}"))?;
    if doc["issuer"].as_str() != Some(issuer) {
        return Err(format!(
            "discovery: issuer {} is not {issuer:?}",
            doc["issuer"]
        ));
    }
    let endpoint = |name: &str| {
        doc[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("discovery: no {name}"))
    };
    Ok(Endpoints {
        authorization: endpoint("authorization_endpoint")?,
        token: endpoint("token_endpoint")?,
    })
}

/// A token request; with `basic`, the client authenticates with HTTP Basic.
pub(crate) async fn token_request(
    token_endpoint: &str,
    step: &str,
    form: &[(&str, &str)],
    basic: Option<&WebClient>,
) -> Result<SignedIn, String> {
    let mut request = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?
        .post(token_endpoint)
        .form(form);
    if let Some(client) = basic {
        request = request.header(AUTHORIZATION, client.basic_authorization());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{step}: POST {token_endpoint}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{step}: {status}: {}", brief(&body)));
    }
    let json: Value =
        serde_json::from_str(&body).map_err(|e| format!("{step}: not JSON ({e}): {body}"))?;
    let text = |name: &str| json[name].as_str().map(str::to_owned);
    Ok(SignedIn {
        access_token: text("access_token")
            .ok_or_else(|| format!("{step}: no access_token in {body}"))?,
        refresh_token: text("refresh_token"),
        id_token: text("id_token"),
    })
}

/// Where a series of redirects ended.
enum Landing {
    /// A non-redirect answer (the login form), with the URL it came from.
    Page { url: Url, body: String },
    /// A redirect to the redirect_uri (not followed).
    Callback(Url),
}

/// Just enough browser: no automatic redirects, and cookies kept per origin and path (RFC 6265:
/// `Path`, `Max-Age`, `Expires`; oidc-provider scopes its interaction cookies by path and
/// deletes them with an `Expires` in 1970).
struct Browser {
    http: reqwest::Client,
    cookies: Vec<Cookie>,
}

struct Cookie {
    origin: String,
    name: String,
    value: String,
    path: String,
}

impl Browser {
    fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            cookies: Vec::new(),
        })
    }

    /// GETs `url` and follows redirects until a page or a redirect to `callback`.
    async fn navigate(&mut self, mut url: Url, callback: &Url) -> Result<Landing, String> {
        for _ in 0..MAX_REDIRECTS {
            let response = self
                .send(self.http.get(url.clone()), &url)
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            let status = response.status();
            if status.is_redirection() {
                let next = location(&url, &response).map_err(|e| format!("GET {url}: {e}"))?;
                if is_callback(&next, callback) {
                    return Ok(Landing::Callback(next));
                }
                url = next;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            if !status.is_success() {
                return Err(format!("GET {url}: {status}: {}", brief(&body)));
            }
            return Ok(Landing::Page { url, body });
        }
        Err(format!("more than {MAX_REDIRECTS} redirects, last {url}"))
    }

    /// Sends `request` (for `url`) with the matching cookies and stores the ones set.
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<reqwest::Response, String> {
        let origin = url.origin().ascii_serialization();
        let header = self
            .cookies
            .iter()
            .filter(|c| c.origin == origin && path_matches(url.path(), &c.path))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if header.is_empty() {
            request
        } else {
            request.header(COOKIE, header)
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        for set_cookie in response.headers().get_all(SET_COOKIE) {
            if let Ok(set_cookie) = set_cookie.to_str() {
                self.store(&origin, url, set_cookie);
            }
        }
        Ok(response)
    }

    fn store(&mut self, origin: &str, url: &Url, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        let mut path = None;
        let mut expired = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "path" if val.starts_with('/') => path = Some(val.to_owned()),
                "max-age" => expired |= val.parse::<i64>().is_ok_and(|age| age <= 0),
                "expires" => {
                    expired |= chrono::DateTime::parse_from_rfc2822(val)
                        .is_ok_and(|at| at < chrono::Utc::now())
                }
                _ => {}
            }
        }
        // RFC 6265 section 5.1.4: the default path is the request path up to its last '/'.
        let path = path.unwrap_or_else(|| match url.path().rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(i) => url.path()[..i].to_owned(),
        });
        self.cookies
            .retain(|c| !(c.origin == origin && c.name == name && c.path == path));
        if !expired {
            self.cookies.push(Cookie {
                origin: origin.to_owned(),
                name,
                value,
                path,
            });
        }
    }
}

/// RFC 6265 section 5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

fn location(base: &Url, response: &reqwest::Response) -> Result<Url, String> {
    let value = response
        .headers()
        .get(LOCATION)
        .ok_or_else(|| format!("{} without a Location", response.status()))?
        .to_str()
        .map_err(|e| format!("bad Location: {e}"))?;
    base.join(value)
        .map_err(|e| format!("bad Location {value:?}: {e}"))
}

/// Same scheme, host, port and path as the redirect_uri (the query is the response).
fn is_callback(url: &Url, callback: &Url) -> bool {
    url.origin() == callback.origin() && url.path() == callback.path()
}

/// `error: error_description` of an error response at the callback, if it is one.
fn callback_error(url: &Url) -> Option<String> {
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    get("error").map(|error| format!("{error}: {}", get("error_description").unwrap_or_default()))
}

/// The login form's `action`, resolved against the page's URL.
fn form_action(page: &Url, html: &str) -> Result<Url, String> {
    let action = html
        .find("<form")
        .and_then(|at| {
            let form = &html[at..];
            let form = &form[..form.find('>')?];
            let start = form.find("action=\"")? + "action=\"".len();
            let end = form[start..].find('"')?;
            Some(&form[start..start + end])
        })
        .ok_or_else(|| format!("login page {page}: no <form action=…>: {}", brief(html)))?;
    let action = action
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    page.join(&action)
        .map_err(|e| format!("login page {page}: bad form action {action:?}: {e}"))
}

/// A body shortened for an error message.
fn brief(body: &str) -> String {
    const MAX: usize = 600;
    let body = body.trim();
    match body.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &body[..at]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_match() {
        assert!(path_matches("/interaction/abc", "/interaction/abc"));
        assert!(path_matches("/interaction/abc/login", "/interaction/abc"));
        assert!(!path_matches("/interaction/abcd", "/interaction/abc"));
        assert!(path_matches("/auth/x", "/"));
        assert!(!path_matches("/auth/x", "/interaction/abc"));
    }

    #[test]
    fn cookies_are_stored_scoped_and_deleted() {
        let mut browser = Browser::new().unwrap();
        let url = Url::parse("http://127.0.0.1:1/auth?x=1").unwrap();
        let origin = url.origin().ascii_serialization();
        browser.store(
            &origin,
            &url,
            "_interaction=abc; path=/interaction/abc; expires=Mon, 07 Dec 2099 05:35:26 GMT; samesite=lax; httponly",
        );
        browser.store(&origin, &url, "_session=s; path=/; max-age=600");
        browser.store(&origin, &url, "plain=p");
        assert_eq!(browser.cookies.len(), 3);
        assert_eq!(browser.cookies[2].path, "/");
        browser.store(
            &origin,
            &url,
            "_interaction=; path=/interaction/abc; expires=Thu, 01 Jan 1970 00:00:00 GMT",
        );
        browser.store(&origin, &url, "_session=; path=/; max-age=0");
        assert_eq!(browser.cookies.len(), 1);
        assert_eq!(browser.cookies[0].name, "plain");
    }

    #[test]
    fn form_action_is_unescaped_and_resolved() {
        let page = Url::parse("http://127.0.0.1:1/interaction/u1").unwrap();
        let html = r#"<p>x</p><form method="post" action="/interaction/u1/login?a=1&amp;b=2">"#;
        assert_eq!(
            form_action(&page, html).unwrap().as_str(),
            "http://127.0.0.1:1/interaction/u1/login?a=1&b=2"
        );
        assert!(form_action(&page, "<p>no form</p>").is_err());
    }

    #[test]
    fn jwt_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","groups":["a"]}"#);
        let claims = jwt_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(claims["groups"][0], "a");
        assert!(jwt_claims("nodots").is_err());
    }
}
