//! The stack the portal tests run against, and a minimal browser for it.

use std::collections::HashMap;
use std::sync::Arc;

use dcr_common::clock::ShiftedClock;
use dcr_idp_emulator::Emulator;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{control, emulator, provider};
use dcr_testkit::registry::{TestApp, spawn_app_with};
use portal_svc::PortalConfig;
use registry_svc::domain::validate::UrlPolicy;
use registry_svc::identity::IdentityConfig;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use serde_json::json;

/// The audience the portal asks for and the registry requires (the emulator's default).
pub const AUDIENCE: &str = "api://dcr";
const CLIENT_ID: &str = "dcr-portal";
const CLIENT_SECRET: &str = "portal-secret-for-tests-0123456789";

pub struct Stack {
    /// Serves the people's identity provider and the apps' IdP while the stack lives.
    pub emu: Emulator,
    pub registry: TestApp,
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub portal: String,
    /// The portal's clock: moved to expire sessions.
    pub clock: Arc<ShiftedClock>,
    /// A product whose registrations need an approver, at the emulator's Okta (whose
    /// clients hold several secrets).
    pub product: pb::ApiProduct,
}

pub async fn stack() -> Stack {
    stack_with(None).await
}

/// `stack`, with the portal serving HTTPS from `tls` at `https://localhost:<port>`.
pub async fn stack_with(tls: Option<&dcr_common::pki::SetFiles>) -> Stack {
    let emu = emulator().await;
    let policy = UrlPolicy {
        allow_http_loopback: true,
        allow_http_hosts: &[],
    };
    let identity = IdentityConfig::with_defaults(emu.urls.sso_issuer(), AUDIENCE.into(), policy)
        .expect("identity settings");
    let registry = spawn_app_with(|config| config.identity = Some(identity)).await;
    let (_, _, product) = registry.clients.setup(provider(&emu, "okta"), false).await;
    // The audience of the emulated Okta's default authorization server, so the apps'
    // tokens are for this product.
    let product = registry
        .clients
        .products()
        .update_product(pb::UpdateProductRequest {
            product: Some(pb::ApiProduct {
                audience: "api://default".into(),
                ..product
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["audience".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal = match tls {
        Some(_) => format!(
            "https://localhost:{}",
            listener.local_addr().unwrap().port()
        ),
        None => format!("http://{}", listener.local_addr().unwrap()),
    };
    control(
        &emu,
        "sso/clients",
        json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "name": "Dev Portal",
            "redirect_uris": [format!("{portal}/auth/callback")],
        }),
    )
    .await;
    let config = PortalConfig {
        listen: listener.local_addr().unwrap(),
        registry_url: registry.url.clone(),
        public_url: format!("{portal}/").parse().unwrap(),
        issuer: emu.urls.sso_issuer(),
        audience: AUDIENCE.into(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(SecretString::from(CLIENT_SECRET)),
        scope: portal_svc::config::defaults::SCOPE.into(),
        session_key: [9; 32],
        session_idle: portal_svc::config::defaults::SESSION_IDLE,
        session_max: portal_svc::config::defaults::SESSION_MAX,
        token_endpoint: Some("https://token.example.com/oauth2/token".into()),
        url_policy: policy,
        sign_in_rate: dcr_common::rate_limit::Rate::per_second(
            portal_svc::config::defaults::SIGN_IN_RATE,
        ),
        limits: dcr_common::server::ServerLimits::default(),
        tls: tls.map(|t| t.server_tls(false)),
        client_tls: Default::default(),
    };
    let clock = Arc::new(ShiftedClock::new());
    let app = portal_svc::build_with_clock(config, clock.clone()).unwrap();
    tokio::spawn(portal_svc::serve(app, listener, std::future::pending()));
    Stack {
        emu,
        registry,
        portal,
        clock,
        product,
    }
}

/// A page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub url: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first `<input name="{name}" ... value="...">` on the page.
    pub fn input(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name:?} on {}:\n{}", self.url, self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// The text between `before` and the next `<`, e.g. a `<code id="x">` element's text.
    pub fn after(&self, before: &str) -> Option<String> {
        let start = self.body.find(before)? + before.len();
        let end = self.body[start..].find('<')? + start;
        Some(self.body[start..end].to_owned())
    }
}

/// A browser: follows redirects, keeps each site's cookies and sends them only there
/// (paths and expiry are not tracked: enough for one sign-in at a time).
pub struct Browser {
    http: reqwest::Client,
    portal: String,
    /// The portal's cookies.
    pub cookies: HashMap<String, String>,
    /// The identity provider's (and any other site's), by origin.
    elsewhere: HashMap<String, HashMap<String, String>>,
}

impl Browser {
    pub fn new(stack: &Stack) -> Self {
        Self::for_portal(&stack.portal)
    }

    /// A browser for the portal at `portal` (`http://127.0.0.1:<port>`).
    pub fn for_portal(portal: &str) -> Self {
        Self::trusting(portal, None)
    }

    /// A browser for the portal at `portal` that trusts the CA certificate `ca` (PEM file).
    pub fn trusting(portal: &str, ca: Option<&std::path::Path>) -> Self {
        let mut http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).unwrap();
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        Self {
            http: http.build().unwrap(),
            portal: portal.to_owned(),
            cookies: HashMap::new(),
            elsewhere: HashMap::new(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.portal)
        }
    }

    /// Is `url` on the portal (same origin)?
    fn on_portal(&self, url: &str) -> bool {
        let origin = |u: &str| url::Url::parse(u).unwrap().origin().ascii_serialization();
        origin(url) == origin(&self.portal)
    }

    fn jar(&mut self, url: &str) -> &mut HashMap<String, String> {
        if self.on_portal(url) {
            return &mut self.cookies;
        }
        let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
        self.elsewhere.entry(origin).or_default()
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, url: &str) -> reqwest::Response {
        let mut request = request;
        let jar = self.jar(url);
        if !jar.is_empty() {
            let pairs: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(COOKIE, pairs.join("; "));
        }
        let response = request.send().await.unwrap();
        let jar = self.jar(url);
        for header in response.headers().get_all(SET_COOKIE) {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let expired = value.is_empty()
                || text.to_ascii_lowercase().contains("max-age=0")
                || text
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970");
            if expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        response
    }

    /// GET `url` without following a redirect.
    pub async fn get_once(&mut self, url: &str) -> Page {
        let url = self.absolute(url);
        let response = self.send(self.http.get(&url), &url).await;
        page(url, response).await
    }

    /// GET `url`, following redirects.
    pub async fn get(&mut self, url: &str) -> Page {
        let mut url = self.absolute(url);
        for _ in 0..10 {
            let response = self.send(self.http.get(&url), &url).await;
            match response.headers().get(LOCATION) {
                Some(next) if response.status().is_redirection() => {
                    url = resolve(&url, next.to_str().unwrap());
                }
                _ => return page(url, response).await,
            }
        }
        panic!("too many redirects from {url}");
    }

    /// POSTs a form to `url`, then follows the redirect (a GET) like a browser does.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let url = self.absolute(url);
        let response = self.send(self.http.post(&url).form(form), &url).await;
        match response.headers().get(LOCATION) {
            Some(next) if response.status().is_redirection() => {
                let next = resolve(&url, next.to_str().unwrap());
                self.get(&next).await
            }
            _ => page(url, response).await,
        }
    }

    /// Signs `login` in through the portal's sign-in button, at the emulator's login form.
    pub async fn sign_in(&mut self, login: &str) -> Page {
        self.sign_in_from("/login", login).await
    }

    /// Follows `start` to the identity provider's login form, fills it in, and returns
    /// the page the portal sends the person to.
    pub async fn sign_in_from(&mut self, start: &str, login: &str) -> Page {
        let form = self.get(start).await;
        assert_eq!(form.status, StatusCode::OK, "login form: {}", form.body);
        assert!(
            !self.on_portal(&form.url),
            "not at the identity provider: {}",
            form.url
        );
        let action = form
            .body
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the login form's action")
            .replace("&amp;", "&");
        let action = resolve(&form.url, &action);
        let password = format!("{login}-password");
        self.post(&action, &[("login", login), ("password", &password)])
            .await
    }

    /// The CSRF token of the page at `url` (every signed-in page has the sign-out form).
    pub async fn csrf(&mut self, url: &str) -> String {
        self.get(url).await.input("csrf")
    }
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

async fn page(url: String, response: reqwest::Response) -> Page {
    Page {
        status: response.status(),
        headers: response.headers().clone(),
        url,
        body: response.text().await.unwrap(),
    }
}

/// Creates an app for the stack's product through the portal's form; returns its id
/// and the secret page.
pub async fn create_app(browser: &mut Browser, stack: &Stack, name: &str) -> (String, Page) {
    create_app_described(browser, stack, name, "made in a test").await
}

pub async fn create_app_described(
    browser: &mut Browser,
    stack: &Stack,
    name: &str,
    description: &str,
) -> (String, Page) {
    let form = browser.get("/apps/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let page = browser
        .post(
            "/apps",
            &[
                ("csrf", &form.input("csrf")),
                ("request_id", &form.input("request_id")),
                ("name", name),
                ("description", description),
                ("product_id", &stack.product.id),
                ("redirect_uris", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}: {}", page.url, page.body);
    let id = page
        .url
        .split("/apps/")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/secret"))
        .unwrap_or_else(|| panic!("not the secret page: {}", page.url))
        .to_owned();
    (id, page)
}
