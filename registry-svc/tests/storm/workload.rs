//! The storm's workload: creates, regenerations, added and revoked credentials, updates
//! and deletes, each sent to a random replica, and a ledger of every secret the API
//! returned, which the verdict checks against the IdPs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dcr_proto::registry::v1 as pb;
use dcr_testkit::registry::RegistryClients;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tonic::Code;

/// The IdP behind a strategy, as the storm tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Idp {
    /// node oidc-provider: RFC 7591/7592, rotates the registration access token.
    Rfc7591,
    /// The Kong-contract bridge peer. Its `new-secret` replaces the secret, as Kong's
    /// reference handler does, so the storm's bridge provider does not set
    /// allow_multiple_credentials (that flag promises a bridge that keeps earlier ones).
    Bridge,
    /// Okta's management API on the emulator.
    Okta,
}

pub const IDPS: [Idp; 3] = [Idp::Rfc7591, Idp::Bridge, Idp::Okta];

impl Idp {
    /// RFC 7591 clients and the bridge's hold exactly one secret.
    fn holds_several_secrets(self) -> bool {
        self == Idp::Okta
    }
}

/// What the API said about one application: every secret it handed out, by credential,
/// with the step that returned it.
#[derive(Debug, Clone)]
pub struct AppRecord {
    pub idp: Idp,
    pub developer: String,
    pub secrets: BTreeMap<String, (String, usize)>,
    /// The last step on this application that ended without an answer (0: none). Only
    /// such a call may have changed the client at the IdP without dcr's commit.
    pub last_unclear: usize,
}

/// What the workload did, for the printed summary.
#[derive(Debug, Default)]
pub struct Tally {
    pub ok: BTreeMap<&'static str, usize>,
    /// Calls that ended without an answer (the replica died, or the IdP was unclear).
    pub unclear: BTreeMap<&'static str, usize>,
    /// Calls refused for a reason in the request (e.g. a change still under way).
    pub refused: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Regenerate,
    AddCredential,
    RevokeCredential,
    Update,
    Delete,
}

pub struct Workload {
    replicas: Vec<RegistryClients>,
    /// The replica the latest call went to: the killer's favourite victim, so most
    /// kills interrupt a call in flight rather than an idle process.
    pub busy: Arc<AtomicUsize>,
    strategies: HashMap<Idp, String>,
    rng: StdRng,
    pub apps: BTreeMap<String, AppRecord>,
    pub tally: Tally,
    made: usize,
    /// The current step, from 1.
    step: usize,
}

impl Workload {
    pub fn new(
        replicas: Vec<RegistryClients>,
        strategies: HashMap<Idp, String>,
        seed: u64,
    ) -> Self {
        Self {
            replicas,
            busy: Arc::new(AtomicUsize::new(0)),
            strategies,
            rng: StdRng::seed_from_u64(seed),
            apps: BTreeMap::new(),
            tally: Tally::default(),
            made: 0,
            step: 0,
        }
    }

    fn replica(&mut self) -> RegistryClients {
        let index = self.rng.random_range(0..self.replicas.len());
        self.busy.store(index, Ordering::Relaxed);
        self.replicas[index].clone()
    }

    fn count(&mut self, op: &'static str, app: Option<&str>, result: &Result<(), tonic::Status>) {
        let bucket = match result {
            Ok(()) => &mut self.tally.ok,
            Err(status)
                if matches!(
                    status.code(),
                    Code::FailedPrecondition | Code::InvalidArgument | Code::NotFound
                ) =>
            {
                &mut self.tally.refused
            }
            Err(_) => {
                if let Some(record) = app.and_then(|id| self.apps.get_mut(id)) {
                    record.last_unclear = self.step;
                }
                &mut self.tally.unclear
            }
        };
        *bucket.entry(op).or_default() += 1;
    }

    /// One random operation; creates while there are few applications.
    pub async fn step(&mut self) {
        self.step += 1;
        let choice = if self.apps.len() < 4 {
            0
        } else {
            self.rng.random_range(0..10)
        };
        let (op, (app, result)) = match choice {
            0..=2 => ("create", (None, self.create().await)),
            3 | 4 => ("regenerate", self.on_app(Op::Regenerate).await),
            5 => ("add credential", self.on_app(Op::AddCredential).await),
            6 => ("revoke credential", self.on_app(Op::RevokeCredential).await),
            7 => ("update", self.on_app(Op::Update).await),
            _ => ("delete", self.on_app(Op::Delete).await),
        };
        self.count(op, app.as_deref(), &result);
    }

    /// One operation on a random application that can take it: which, and the outcome.
    async fn on_app(&mut self, op: Op) -> (Option<String>, Result<(), tonic::Status>) {
        let fits = |a: &AppRecord| match op {
            Op::AddCredential => a.idp.holds_several_secrets(),
            Op::RevokeCredential => a.secrets.len() > 1,
            _ => true,
        };
        let Some((id, app)) = self.pick_app(fits) else {
            return (None, Ok(()));
        };
        let result = match op {
            Op::Regenerate => self.regenerate(&id, &app).await,
            Op::AddCredential => self.add_credential(&id, &app).await,
            Op::RevokeCredential => self.revoke_credential(id.clone(), &app).await,
            Op::Update => self.update(id.clone(), &app).await,
            Op::Delete => self.delete(&id, &app).await,
        };
        (Some(id), result)
    }

    fn pick_app(&mut self, filter: impl Fn(&AppRecord) -> bool) -> Option<(String, AppRecord)> {
        let candidates: Vec<_> = self.apps.iter().filter(|(_, a)| filter(a)).collect();
        if candidates.is_empty() {
            return None;
        }
        let (id, app) = candidates[self.rng.random_range(0..candidates.len())];
        Some((id.clone(), app.clone()))
    }

    async fn create(&mut self) -> Result<(), tonic::Status> {
        let idp = IDPS[self.rng.random_range(0..IDPS.len())];
        self.made += 1;
        let developer = format!("dev-{}", self.made % 3);
        let created = self
            .replica()
            .portal(&developer)
            .create_application(pb::CreateApplicationRequest {
                name: format!("storm-{}", self.made),
                strategy_id: self.strategies[&idp].clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        let app = created.application.unwrap_or_default();
        let credential = created.credential.unwrap_or_default();
        self.apps.insert(
            app.id,
            AppRecord {
                idp,
                developer,
                secrets: BTreeMap::from([(credential.id, (credential.client_secret, self.step))]),
                last_unclear: 0,
            },
        );
        Ok(())
    }

    async fn regenerate(&mut self, id: &str, app: &AppRecord) -> Result<(), tonic::Status> {
        let credential = self
            .replica()
            .portal(&app.developer)
            .regenerate_secret(pb::RegenerateSecretRequest {
                application_id: id.to_owned(),
            })
            .await?
            .into_inner();
        self.remember(id, credential);
        Ok(())
    }

    async fn add_credential(&mut self, id: &str, app: &AppRecord) -> Result<(), tonic::Status> {
        let credential = self
            .replica()
            .portal(&app.developer)
            .add_credential(pb::AddCredentialRequest {
                application_id: id.to_owned(),
                expire_time: None,
            })
            .await?
            .into_inner();
        self.remember(id, credential);
        Ok(())
    }

    fn remember(&mut self, app_id: &str, credential: pb::Credential) {
        if let Some(app) = self.apps.get_mut(app_id) {
            app.secrets
                .insert(credential.id, (credential.client_secret, self.step));
        }
    }

    async fn revoke_credential(
        &mut self,
        id: String,
        app: &AppRecord,
    ) -> Result<(), tonic::Status> {
        let credentials: Vec<&String> = app.secrets.keys().collect();
        let credential_id = credentials[self.rng.random_range(0..credentials.len())].clone();
        self.replica()
            .portal(&app.developer)
            .revoke_credential(pb::RevokeCredentialRequest {
                application_id: id,
                credential_id,
            })
            .await?;
        Ok(())
    }

    async fn update(&mut self, id: String, app: &AppRecord) -> Result<(), tonic::Status> {
        let description = format!("updated {}", self.rng.random::<u32>());
        self.replica()
            .portal(&app.developer)
            .update_application(pb::UpdateApplicationRequest {
                application: Some(pb::Application {
                    id,
                    description,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
            })
            .await?;
        Ok(())
    }

    async fn delete(&mut self, id: &str, app: &AppRecord) -> Result<(), tonic::Status> {
        self.replica()
            .portal(&app.developer)
            .delete_application(pb::DeleteApplicationRequest {
                id: id.to_owned(),
                allow_missing: true,
            })
            .await?;
        self.apps.remove(id);
        Ok(())
    }
}
