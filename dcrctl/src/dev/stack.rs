//! The four services and the IdP emulator, in this process, each on its own listener.
//! They talk to each other over gRPC on loopback exactly as separate processes would, so
//! what works here works in a deployment.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use authz_svc::config::defaults as authz_defaults;
use dcr_common::auth::CallerTokens;
use dcr_common::pki::SetFiles;
use dcr_common::rate_limit::Rate;
use dcr_common::tls::{ClientTlsFiles, ServerTlsFiles};
use dcr_common::url_policy::UrlPolicy;
use registry_svc::RegistryConfig;
use registry_svc::config::defaults as registry_defaults;
use secrecy::SecretString;
use token_svc::config::defaults as token_defaults;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::DevArgs;
use super::secrets::{DevSecrets, decode_key};

/// Where each part of the running stack answers.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub registry: SocketAddr,
    pub token: SocketAddr,
    pub token_http: SocketAddr,
    pub authz: SocketAddr,
    pub portal: SocketAddr,
    /// The emulator's root URL, `http://127.0.0.1:PORT`.
    pub emulator: String,
    /// The certificates the services serve (TLS on); None with --no-tls.
    pub tls: Option<SetFiles>,
}

impl Endpoints {
    /// `https://localhost:PORT` with TLS (the certificate names localhost), else
    /// `http://ADDR`.
    pub fn url(&self, addr: SocketAddr) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}", addr.port()),
            None => format!("http://{addr}"),
        }
    }

    /// Where people sign in: the emulator's OpenID provider, `{emulator}/sso`.
    pub fn sso_issuer(&self) -> String {
        dcr_idp_emulator::Urls::new(&self.emulator).sso_issuer()
    }

    /// What dcr's own channels (and dcrctl) trust and present.
    pub fn client_tls(&self) -> ClientTlsFiles {
        self.tls
            .as_ref()
            .map(SetFiles::client_tls)
            .unwrap_or_default()
    }
}

/// A started stack; [`Stack::stop`] shuts it down.
pub struct Stack {
    pub endpoints: Endpoints,
    stop: watch::Sender<bool>,
    services: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
    emulator: dcr_idp_emulator::Emulator,
}

async fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (--{flag}): is another dcr already running? Pick another address with --{flag}")
    })
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// How long the services may take to follow the registry's change stream before the
/// stack counts as broken (they connect over loopback: normally milliseconds).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The four listeners, bound before anything is built so a taken port fails first, with
/// the flag that picks another address.
struct Listeners {
    registry: TcpListener,
    token: TcpListener,
    token_http: TcpListener,
    authz: TcpListener,
    portal: TcpListener,
}

impl Listeners {
    async fn bind(args: &DevArgs) -> anyhow::Result<Self> {
        Ok(Self {
            registry: bind(args.registry_listen, "registry-listen").await?,
            token: bind(args.token_listen, "token-listen").await?,
            token_http: bind(args.token_http_listen, "token-http-listen").await?,
            authz: bind(args.authz_listen, "authz-listen").await?,
            portal: bind(args.portal_listen, "portal-listen").await?,
        })
    }

    fn endpoints(&self, tls: Option<SetFiles>, emulator: String) -> anyhow::Result<Endpoints> {
        Ok(Endpoints {
            registry: self.registry.local_addr()?,
            token: self.token.local_addr()?,
            token_http: self.token_http.local_addr()?,
            authz: self.authz.local_addr()?,
            portal: self.portal.local_addr()?,
            tls,
            emulator,
        })
    }
}

/// What every service of the dev stack is configured with alike.
struct Shared {
    tokens: CallerTokens,
    /// Dev runs TLS without client certificates: grpcurl and curl need only the CA.
    server_tls: Option<ServerTlsFiles>,
    url_policy: UrlPolicy,
}

impl Shared {
    fn new(endpoints: &Endpoints, secrets: &DevSecrets) -> Self {
        Self {
            tokens: CallerTokens {
                admin: Some(SecretString::from(secrets.admin_token.clone())),
                portal: Some(SecretString::from(secrets.portal_token.clone())),
                gateway: Some(SecretString::from(secrets.gateway_token.clone())),
                service: Some(SecretString::from(secrets.service_token.clone())),
            },
            server_tls: endpoints.tls.as_ref().map(|t| t.server_tls(false)),
            // Local issuers (the emulator) are plain http on loopback.
            url_policy: UrlPolicy {
                allow_http_loopback: true,
                allow_http_hosts: &[],
            },
        }
    }
}

async fn start_emulator(
    args: &DevArgs,
    data_dir: &Path,
) -> anyhow::Result<dcr_idp_emulator::Emulator> {
    dcr_idp_emulator::spawn_with_state_file(args.emulator_listen, &data_dir.join("emulator.json"))
        .await
        .with_context(|| {
            format!(
                "cannot start the IdP emulator on {} (--emulator-listen)",
                args.emulator_listen
            )
        })
}

/// The registry keeps its SQLite database in the data directory, so `dcrctl dev` resumes
/// where it stopped.
fn registry_config(
    endpoints: &Endpoints,
    shared: &Shared,
    secrets: &DevSecrets,
    data_dir: &Path,
) -> anyhow::Result<RegistryConfig> {
    Ok(RegistryConfig {
        database_url: SecretString::from(format!("sqlite://{}", data_dir.join("dcr.db").display())),
        master_key: decode_key(&secrets.master_key, "master_key")?,
        previous_master_keys: Vec::new(),
        tokens: shared.tokens.clone(),
        listen: endpoints.registry,
        url_policy: shared.url_policy,
        idp_timeout: registry_defaults::IDP_TIMEOUT,
        reconcile_interval: registry_defaults::RECONCILE_INTERVAL,
        operation_lease: registry_defaults::OPERATION_LEASE,
        tls: shared.server_tls.clone(),
        identity: Some(identity_config(endpoints, shared)?),
    })
}

/// People sign in at the emulator's own OpenID provider (`dcrctl login`), with dcr's
/// default group names: its seeded people are an admin, an approver and developers.
fn identity_config(
    endpoints: &Endpoints,
    shared: &Shared,
) -> anyhow::Result<registry_svc::identity::IdentityConfig> {
    Ok(registry_svc::identity::IdentityConfig::with_defaults(
        endpoints.sso_issuer(),
        dcr_idp_emulator::SSO_DEFAULT_AUDIENCE.to_owned(),
        shared.url_policy,
    )?)
}

fn token_config(endpoints: &Endpoints, shared: &Shared) -> token_svc::TokenConfig {
    token_svc::TokenConfig {
        listen: endpoints.token,
        http_listen: endpoints.token_http,
        registry_url: endpoints.url(endpoints.registry),
        tokens: shared.tokens.clone(),
        limits: Default::default(),
        tls: shared.server_tls.clone(),
        client_tls: endpoints.client_tls(),
        url_policy: shared.url_policy,
        idp_timeout: token_defaults::IDP_TIMEOUT,
        cache_capacity: token_defaults::CACHE_CAPACITY,
        cache_max_age: token_defaults::CACHE_MAX_AGE,
        keys_max_stale: token_defaults::KEYS_MAX_STALE,
    }
}

fn authz_config(
    endpoints: &Endpoints,
    shared: &Shared,
    secrets: &DevSecrets,
) -> anyhow::Result<authz_svc::AuthzConfig> {
    Ok(authz_svc::AuthzConfig {
        listen: endpoints.authz,
        registry_url: endpoints.url(endpoints.registry),
        token_url: endpoints.url(endpoints.token),
        tokens: shared.tokens.clone(),
        tls: shared.server_tls.clone(),
        client_tls: endpoints.client_tls(),
        session_key: decode_key(&secrets.session_secret, "session_secret")?,
        leeway: authz_defaults::LEEWAY,
        introspection_rate: Rate::per_second(authz_defaults::INTROSPECTION_RATE),
        source_rate: Rate::per_second(authz_defaults::SOURCE_RATE),
        keys_max_stale: authz_defaults::KEYS_MAX_STALE,
    })
}

/// The portal is registered at the emulator's OpenID provider as a public web client
/// (PKCE, no secret to keep) whose redirect URI is its own address.
const PORTAL_CLIENT_ID: &str = "dcr-portal";

async fn portal_config(
    endpoints: &Endpoints,
    shared: &Shared,
    secrets: &DevSecrets,
) -> anyhow::Result<portal_svc::PortalConfig> {
    let public_url = format!("{}/", endpoints.url(endpoints.portal));
    let client = serde_json::json!({
        "client_id": PORTAL_CLIENT_ID,
        "name": "dcr Dev Portal",
        "redirect_uris": [format!("{public_url}auth/callback")],
    });
    let registered = reqwest::Client::new()
        .post(format!("{}/__emulator/sso/clients", endpoints.emulator))
        .json(&client)
        .send()
        .await
        .context("register the portal at the emulator's OpenID provider")?;
    if !registered.status().is_success() {
        anyhow::bail!(
            "the emulator refused the portal's client: {}",
            registered.text().await.unwrap_or_default()
        );
    }
    Ok(portal_svc::PortalConfig {
        listen: endpoints.portal,
        registry_url: endpoints.url(endpoints.registry),
        public_url: public_url.parse()?,
        issuer: endpoints.sso_issuer(),
        audience: dcr_idp_emulator::SSO_DEFAULT_AUDIENCE.to_owned(),
        client_id: PORTAL_CLIENT_ID.to_owned(),
        client_secret: None,
        scope: portal_svc::config::defaults::SCOPE.to_owned(),
        session_key: decode_key(&secrets.session_secret, "session_secret")?,
        session_idle: portal_svc::config::defaults::SESSION_IDLE,
        session_max: portal_svc::config::defaults::SESSION_MAX,
        token_endpoint: Some(format!(
            "{}/oauth2/token",
            endpoints.url(endpoints.token_http)
        )),
        url_policy: shared.url_policy,
        sign_in_rate: dcr_common::rate_limit::Rate::per_second(
            portal_svc::config::defaults::SIGN_IN_RATE,
        ),
        limits: dcr_common::server::ServerLimits::default(),
        tls: shared.server_tls.clone(),
        client_tls: endpoints.client_tls(),
    })
}

/// The four services, built and not yet serving.
struct Built {
    registry: (registry_svc::Registry, RegistryConfig),
    token: token_svc::TokenState,
    authz: authz_svc::AuthzState,
    portal: portal_svc::Portal,
}

impl Built {
    async fn new(
        endpoints: &Endpoints,
        secrets: &DevSecrets,
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        let shared = Shared::new(endpoints, secrets);
        let registry_config = registry_config(endpoints, &shared, secrets, data_dir)?;
        let registry = registry_svc::build(&registry_config).await?;
        let token = token_svc::build(&token_config(endpoints, &shared))?;
        let authz = authz_svc::build(
            &authz_config(endpoints, &shared, secrets)?,
            dcr_common::clock::system(),
        )?;
        let portal = portal_svc::build(portal_config(endpoints, &shared, secrets).await?)?;
        Ok(Self {
            registry: (registry, registry_config),
            token,
            authz,
            portal,
        })
    }

    /// Each service serves on its listener until `stop` turns true.
    fn spawn(
        self,
        listeners: Listeners,
        stop: &watch::Receiver<bool>,
    ) -> Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> {
        let (registry, registry_config) = self.registry;
        let registry_stop = stopped(stop.clone());
        vec![
            (
                "registry-svc",
                tokio::spawn(async move {
                    registry_svc::serve(
                        registry,
                        &registry_config,
                        listeners.registry,
                        registry_stop,
                    )
                    .await
                }),
            ),
            (
                "token-svc",
                tokio::spawn(token_svc::serve(
                    self.token,
                    listeners.token,
                    listeners.token_http,
                    stopped(stop.clone()),
                )),
            ),
            (
                "authz-svc",
                tokio::spawn(authz_svc::serve(
                    self.authz,
                    listeners.authz,
                    stopped(stop.clone()),
                )),
            ),
            (
                "portal-svc",
                tokio::spawn(portal_svc::serve(
                    self.portal,
                    listeners.portal,
                    stopped(stop.clone()),
                )),
            ),
        ]
    }
}

impl Stack {
    pub async fn start(
        args: &DevArgs,
        secrets: &DevSecrets,
        data_dir: &Path,
        tls: Option<SetFiles>,
    ) -> anyhow::Result<Self> {
        let emulator = start_emulator(args, data_dir).await?;
        let listeners = Listeners::bind(args).await?;
        let endpoints = listeners.endpoints(tls, emulator.root.clone())?;
        let built = Built::new(&endpoints, secrets, data_dir).await?;
        let token_directory = built.token.directory.clone();
        let authz_directory = built.authz.directory.clone();
        let (stop, stop_rx) = watch::channel(false);
        let services = built.spawn(listeners, &stop_rx);
        let stack = Self {
            endpoints,
            stop,
            services,
            emulator,
        };
        // Ready when token-svc and authz-svc follow the registry's changes (what their
        // health checks wait for too).
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            token_directory.wait_following().await;
            authz_directory.wait_following().await;
        })
        .await;
        if ready.is_err() {
            stack.stop().await?;
            anyhow::bail!(
                "the services did not become ready within {READY_TIMEOUT:?}; see the log above"
            );
        }
        Ok(stack)
    }

    /// Stops accepting calls, lets in-flight ones finish, and waits for every service.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut failures = Vec::new();
        for (name, task) in self.services {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{name}: {e:#}")),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        self.emulator.shutdown().await;
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("{}", failures.join("; "))
        }
    }
}
