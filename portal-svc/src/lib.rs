//! portal-svc: the web Dev Portal (developers create applications, get their secrets, register
//! for products) and the admin console (providers, strategies, products, approvals, audit).
//! People sign in through the organisation's identity provider; every registry call carries
//! the person's own access token, so registry-svc decides what they may do.
//!
//! - `config`: settings from the environment;
//! - `signin`: the OIDC authorization code flow and token refresh;
//! - `session` and `cookies`: who is signed in, and the sealed cookies that say so;
//! - `registry`: registry-svc as the signed-in person;
//! - `web`: the router, security headers, CSRF, and the signed-in person of a request;
//! - `pages`: one module per part of the site; `views`: the templates they render;
//! - `errors`: what a page shows when something fails.
//!
//! `main.rs` only parses config and calls [`run`]; tests use [`build`] and [`serve`].

pub mod config;
pub mod cookies;
pub mod errors;
pub mod pages;
pub mod registry;
pub mod session;
pub mod signin;
pub mod views;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use dcr_common::clock::SharedClock;
use dcr_common::peer::Peer;
use tokio::net::TcpListener;

pub use config::PortalConfig;

/// Everything a page handler needs.
#[derive(Clone)]
pub struct Portal {
    pub config: Arc<PortalConfig>,
    pub sessions: session::Sessions,
    pub cookies: Arc<cookies::Cookies>,
    pub sign_in: Arc<signin::SignIn>,
    pub registry: registry::Registry,
    /// The admin overview's provider checks, kept between views.
    pub checks: pages::admin::checks::Checks,
    /// Sign-ins per source address: each one makes the portal call the identity provider.
    pub sign_in_limit: dcr_common::rate_limit::KeyedLimit<std::net::IpAddr>,
    /// Places for requests in progress (DCR_MAX_CONCURRENT_REQUESTS).
    pub places: Arc<tokio::sync::Semaphore>,
}

pub fn build(config: PortalConfig) -> anyhow::Result<Portal> {
    build_with_clock(config, dcr_common::clock::system())
}

/// `build` with a chosen clock (tests move time to expire sessions).
pub fn build_with_clock(config: PortalConfig, clock: SharedClock) -> anyhow::Result<Portal> {
    let config = Arc::new(config);
    let channel = config
        .client_tls
        .endpoint(&config.registry_url, "DCR_REGISTRY_URL")?
        .connect_lazy();
    Ok(Portal {
        sessions: session::Sessions::new(
            config.session_idle,
            config.session_max,
            config::defaults::MAX_SESSIONS,
            clock,
        ),
        cookies: Arc::new(cookies::Cookies::new(
            &config.session_key,
            config.secure_cookies(),
        )),
        sign_in: Arc::new(signin::SignIn::new(config.clone())?),
        registry: registry::Registry::new(channel),
        checks: pages::admin::checks::Checks::default(),
        sign_in_limit: dcr_common::rate_limit::KeyedLimit::new(config.sign_in_rate),
        places: Arc::new(tokio::sync::Semaphore::new(
            config.limits.concurrent_requests,
        )),
        config,
    })
}

/// Serves the portal on `listener` (HTTPS when TLS is configured) until `shutdown`.
pub async fn serve(
    portal: Portal,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(listen = %listener.local_addr()?, public_url = %portal.config.public_url, "portal-svc serving");
    let purge = tokio::spawn(purge_sessions(portal.sessions.clone()));
    let tls = portal.config.tls.clone();
    let app = web::router(portal);
    let result = match tls {
        Some(files) => {
            let acceptor =
                dcr_common::tls::ReloadingAcceptor::new(files, dcr_common::tls::HTTP_ALPN)?;
            let incoming = dcr_common::tls::TlsIncoming::new(listener, acceptor)?;
            let app = app.into_make_service_with_connect_info::<Peer>();
            axum::serve(incoming, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            let app = app.into_make_service_with_connect_info::<Peer>();
            // No Nagle: a page larger than one segment otherwise waits for the browser's
            // delayed ACK (~40 ms) before its last part leaves.
            axum::serve(dcr_common::peer::NoDelay(listener), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    purge.abort();
    Ok(result?)
}

/// Timed-out sessions go within a minute, so memory follows the people signed in.
async fn purge_sessions(sessions: session::Sessions) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        sessions.purge();
    }
}

pub async fn run(config: PortalConfig) -> anyhow::Result<()> {
    let listener = dcr_common::listen::bind(config.listen).await?;
    let portal = build(config)?;
    serve(portal, listener, dcr_common::server::shutdown_signal()).await
}

/// `portal-svc health`: exit 0 when the portal on DCR_PORTAL_LISTEN answers `/healthz`
/// (over https to `localhost`, trusting DCR_TLS_CA_FILE, when TLS is configured: the
/// certificates dcr makes name localhost, as the other services' health checks expect).
pub async fn health_command() -> std::process::ExitCode {
    let port = match dcr_common::config::listen_addr("DCR_PORTAL_LISTEN", config::defaults::LISTEN)
    {
        Ok(listen) => listen.port(),
        Err(error) => {
            eprintln!("portal-svc health: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let tls = dcr_common::config::optional("DCR_TLS_CERT_FILE").is_some();
    let url = match tls {
        true => format!("https://localhost:{port}/healthz"),
        false => format!("http://127.0.0.1:{port}/healthz"),
    };
    let ca = dcr_common::config::optional("DCR_TLS_CA_FILE").map(std::path::PathBuf::from);
    let Ok(client) = dcr_common::oidc::http_client(ca.as_deref()) else {
        eprintln!("portal-svc health: cannot read DCR_TLS_CA_FILE");
        return std::process::ExitCode::FAILURE;
    };
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => std::process::ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("portal-svc health: {url} answered {}", response.status());
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("portal-svc health: {url}: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
