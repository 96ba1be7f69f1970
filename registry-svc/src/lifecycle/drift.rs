//! The drift report: per provider, what the IdP has compared with what dcr has. It only
//! reads (except for keeping a registration access token an RFC 7592 read rotated);
//! `drift_repair.rs` fixes what is safe to fix.
//!
//! - Orphan clients: clients at the IdP carrying dcr's marker whose application is
//!   gone, FAILED, or linked to another client. Only IdPs whose API lists clients can
//!   show them (`IdpAdapter::list_marked_clients`); the others are said to be unable to.
//! - Missing clients: ACTIVE applications whose client the IdP no longer has
//!   (`IdpAdapter::client_exists`, asked only for clients a listing did not show).
//! - Stuck operations: pending IdP operations past their lease or with an error, e.g. a
//!   revoked secret the IdP has not confirmed revoking (credentials out of step).
//! - Possible orphans: FAILED applications whose interrupted create may have left a
//!   client the IdP cannot list.
//! - Applications needing attention: the reconciler could not tell what an IdP call did.
//! - Secrets out of step (`drift_secrets.rs`): where the IdP lists a client's secrets
//!   (`IdpAdapter::list_secrets`), secrets active there that dcr does not hold as active,
//!   and credentials dcr holds as active that the IdP no longer has active.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::errors::WorkflowError;
use crate::domain::{AppState, Application, Provider, ProviderType};
use crate::idp::{self, ClientRef, IdpAdapter, IdpError, IdpResult, MarkedClient, Presence};
use crate::registry::Registry;
use crate::store::{ClientChange, Journal, OperationKind, PageRequest, PendingOperation};

/// Why a marked client is an orphan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanReason {
    /// dcr made it for an application that no longer exists.
    ApplicationDeleted,
    /// Its application is FAILED: no developer ever got its secret.
    ApplicationFailed,
    /// Its marker names an application this registry never recorded: another dcr on the
    /// same tenant, a restored backup, or a hand-made copy. Never deleted by repair.
    NotMadeHere,
    /// Its application is live but linked to another client.
    Duplicate,
}

impl OrphanReason {
    /// Safe to delete: dcr made it and no developer holds its secret.
    pub fn repairable(self) -> bool {
        matches!(self, Self::ApplicationDeleted | Self::ApplicationFailed)
    }
}

#[derive(Debug, Clone)]
pub struct OrphanClient {
    pub client_id: String,
    pub application_id: Uuid,
    pub reason: OrphanReason,
}

#[derive(Debug, Clone)]
pub struct StuckOperation {
    pub pending: PendingOperation,
    /// What it means and what happens next, for the operator.
    pub hint: String,
}

/// How one secret is out of step between the IdP and dcr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretDriftKind {
    /// Active at the IdP, never recorded by dcr (e.g. an added secret whose answer was
    /// lost): dcr never returned it to anyone.
    UnknownToDcr,
    /// Active at the IdP, but dcr revoked it (or it expired in dcr): dcr refuses it
    /// already, the IdP still accepts it.
    RevokedByDcr,
    /// dcr holds it as active; the IdP no longer has it active (deactivated, removed or
    /// expired there): its holder's requests fail.
    NotActiveAtIdp,
}

#[derive(Debug, Clone)]
pub struct SecretDrift {
    pub application_id: Uuid,
    pub application_name: String,
    pub developer_id: String,
    pub client_id: String,
    /// The IdP's id for the secret.
    pub secret_ref: String,
    /// dcr's credential with that id, where it has one.
    pub credential_id: Option<Uuid>,
    pub kind: SecretDriftKind,
    /// Repair revokes it at the IdP.
    pub repairable: bool,
    /// What it means and what to do, for the operator.
    pub hint: String,
}

#[derive(Debug, Clone, Default)]
pub struct ProviderDrift {
    pub provider_id: Uuid,
    pub provider_name: String,
    pub provider_type: ProviderType,
    /// None when the IdP can list clients; else why not.
    pub cannot_list: Option<String>,
    /// Why some applications' clients could not be checked (none when all were).
    pub cannot_check: Option<String>,
    /// What went wrong asking the IdP (the report is partial for this provider).
    pub errors: Vec<String>,
    pub orphans: Vec<OrphanClient>,
    pub missing: Vec<Application>,
    pub stuck: Vec<StuckOperation>,
    pub possible_orphans: Vec<Application>,
    /// Applications the reconciler marked for attention (an unclear IdP answer).
    pub needs_attention: Vec<Application>,
    /// Secrets out of step between the IdP and dcr's credentials.
    pub secrets: Vec<SecretDrift>,
    /// None when the IdP can list a client's secrets; else why not.
    pub cannot_list_secrets: Option<String>,
    /// ACTIVE applications whose secrets were compared.
    pub secrets_checked: usize,
    pub applications: usize,
    pub clients_listed: usize,
    pub checked: usize,
    pub unchecked: usize,
}

impl ProviderDrift {
    /// True when nothing needs an operator: no drift and nothing failed to be checked.
    /// That the IdP cannot list or read clients is a limit, not drift.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
            && self.orphans.is_empty()
            && self.missing.is_empty()
            && self.stuck.is_empty()
            && self.possible_orphans.is_empty()
            && self.needs_attention.is_empty()
            && self.secrets.is_empty()
    }
}

/// One thing `--repair` did (or tried).
#[derive(Debug, Clone)]
pub struct RepairAction {
    /// None for what concerns every provider (the reconciler pass).
    pub provider_id: Option<Uuid>,
    pub description: String,
    pub ok: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DriftReport {
    pub providers: Vec<ProviderDrift>,
    pub actions: Vec<RepairAction>,
}

impl DriftReport {
    pub fn is_clean(&self) -> bool {
        self.providers.iter().all(ProviderDrift::is_clean)
    }
}

/// The reconciler's words for a create whose IdP answer was never recorded
/// (`reconcile.rs`): such an app may have left a client behind.
const UNRECORDED_CREATE: &str = "before the IdP's answer was recorded";

impl Registry {
    /// The drift report; with `repair`, repairs first (see `drift_repair.rs`) and
    /// reports what is left, with what was done.
    pub async fn drift_report(&self, repair: bool) -> Result<DriftReport, WorkflowError> {
        if !repair {
            return self.survey().await;
        }
        let before = self.survey().await?;
        let actions = self.repair_drift(&before).await?;
        let mut after = self.survey().await?;
        after.actions = actions;
        Ok(after)
    }

    /// Every provider's drift, as things are now.
    pub(crate) async fn survey(&self) -> Result<DriftReport, WorkflowError> {
        let pending = self.store.pending_operation_details().await?;
        let mut report = DriftReport::default();
        for provider in self.all_providers().await? {
            let ops = pending
                .iter()
                .filter(|p| p.operation.provider_id == provider.id)
                .cloned()
                .collect();
            report
                .providers
                .push(self.provider_drift(&provider, ops).await?);
        }
        Ok(report)
    }

    async fn all_providers(&self) -> Result<Vec<Provider>, WorkflowError> {
        let mut all = Vec::new();
        let mut page = PageRequest {
            size: 500,
            after: None,
        };
        loop {
            let batch = self.store.list_providers(&page).await?;
            all.extend(batch.items);
            match batch.next {
                Some(next) => page.after = Some(next),
                None => return Ok(all),
            }
        }
    }

    async fn provider_drift(
        &self,
        provider: &Provider,
        pending: Vec<PendingOperation>,
    ) -> Result<ProviderDrift, WorkflowError> {
        let adapter = idp::adapter_for(provider, &self.idp);
        let apps = self.store.applications_of_provider(provider.id).await?;
        let mut drift = ProviderDrift {
            provider_id: provider.id,
            provider_name: provider.name.clone(),
            provider_type: provider.provider_type(),
            applications: apps.len(),
            needs_attention: apps
                .iter()
                .filter(|a| !a.attention.is_empty())
                .cloned()
                .collect(),
            ..Default::default()
        };
        let now = self.clock.now();
        let busy: HashSet<Uuid> = pending.iter().map(|p| p.operation.application_id).collect();
        drift.stuck = pending
            .into_iter()
            .filter(|p| p.operation.lease_until <= now || !p.last_error.is_empty())
            .map(|pending| StuckOperation {
                hint: hint(&pending, now),
                pending,
            })
            .collect();

        let listed = match adapter.list_marked_clients().await {
            Ok(listed) => Some(listed),
            Err(IdpError::Unsupported(why)) => {
                drift.cannot_list = Some(why);
                None
            }
            Err(error) => {
                drift
                    .errors
                    .push(format!("listing its clients failed: {error}"));
                None
            }
        };
        if let Some(listed) = &listed {
            drift.clients_listed = listed.len();
            drift.orphans = self.orphans(listed, &apps).await?;
        } else if drift.cannot_list.is_some() {
            drift.possible_orphans = apps
                .iter()
                .filter(|a| {
                    a.state == AppState::Failed && a.failure_reason.contains(UNRECORDED_CREATE)
                })
                .cloned()
                .collect();
        }
        self.check_clients(&*adapter, &apps, listed.as_deref(), &mut drift)
            .await?;
        self.check_secrets(&*adapter, &apps, &busy, &mut drift)
            .await?;
        Ok(drift)
    }

    /// The marked clients that no live application of this registry holds. A client of
    /// an application under another provider counts as that application's: two
    /// providers may share one tenant.
    async fn orphans(
        &self,
        listed: &[MarkedClient],
        apps: &[Application],
    ) -> Result<Vec<OrphanClient>, WorkflowError> {
        let mine: HashMap<Uuid, &Application> = apps.iter().map(|a| (a.id, a)).collect();
        let mut found = Vec::new();
        for client in listed {
            let elsewhere;
            let app = match mine.get(&client.application_id) {
                Some(app) => Some(*app),
                None => {
                    elsewhere = self.store.get_application(client.application_id).await?;
                    elsewhere.as_ref()
                }
            };
            let reason = match app {
                None if self
                    .store
                    .application_recorded(client.application_id)
                    .await? =>
                {
                    OrphanReason::ApplicationDeleted
                }
                None => OrphanReason::NotMadeHere,
                Some(app) => match app.state {
                    AppState::Failed => OrphanReason::ApplicationFailed,
                    // In flight: the pending operation covers it.
                    AppState::Provisioning | AppState::Deleting => continue,
                    AppState::Active if app.client_id.as_deref() == Some(&client.client_id) => {
                        continue;
                    }
                    AppState::Active => OrphanReason::Duplicate,
                },
            };
            found.push(OrphanClient {
                client_id: client.client_id.clone(),
                application_id: client.application_id,
                reason,
            });
        }
        Ok(found)
    }

    /// Asks the IdP about each ACTIVE app's client that a listing did not show.
    async fn check_clients(
        &self,
        adapter: &dyn IdpAdapter,
        apps: &[Application],
        listed: Option<&[MarkedClient]>,
        drift: &mut ProviderDrift,
    ) -> Result<(), WorkflowError> {
        let seen: HashSet<&str> = listed
            .unwrap_or_default()
            .iter()
            .map(|c| c.client_id.as_str())
            .collect();
        for app in apps.iter().filter(|a| a.state == AppState::Active) {
            let Some(client_id) = app.client_id.as_deref() else {
                continue;
            };
            if seen.contains(client_id) {
                drift.checked += 1;
                continue;
            }
            let presence = if drift.provider_type == ProviderType::Rfc7591 {
                self.check_rotating(adapter, app, client_id, drift.provider_id)
                    .await?
            } else {
                let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
                adapter
                    .client_exists(ClientRef {
                        client_id,
                        state: &state,
                    })
                    .await
            };
            match presence {
                Ok(Presence::Present { .. }) => drift.checked += 1,
                Ok(Presence::Gone) => {
                    drift.checked += 1;
                    drift.missing.push(app.clone());
                }
                Ok(Presence::CannotTell(why)) => {
                    drift.unchecked += 1;
                    drift.cannot_check = Some(why);
                }
                Err(error) => {
                    drift.unchecked += 1;
                    drift
                        .errors
                        .push(format!("checking client {client_id} failed: {error}"));
                }
            }
        }
        Ok(())
    }
}

impl Registry {
    /// An RFC 7592 read may rotate the registration access token, so it runs as a change
    /// of the client (intent, read, journal, commit), like an update: a token the server
    /// issued is never lost, and no rotation of the client runs at the same time.
    async fn check_rotating(
        &self,
        adapter: &dyn IdpAdapter,
        app: &Application,
        client_id: &str,
        provider_id: Uuid,
    ) -> Result<IdpResult<Presence>, WorkflowError> {
        let op = match self
            .begin_change(app, OperationKind::UpdateClient, provider_id, None)
            .await
        {
            Ok(op) => op,
            Err(WorkflowError::Refused(_)) => {
                return Ok(Ok(Presence::CannotTell(
                    "a change of the client is under way; run the report again".into(),
                )));
            }
            Err(other) => return Err(other),
        };
        let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
        let presence = self
            .at_idp(adapter.client_exists(ClientRef {
                client_id,
                state: &state,
            }))
            .await;
        match presence {
            Ok(Presence::Present { state: Some(state) }) => {
                let journal = Journal {
                    client_id: client_id.to_owned(),
                    idp_state: state.clone(),
                    ..Journal::default()
                };
                let change = ClientChange {
                    credential: None,
                    replaces: false,
                    idp_state: Some(state),
                    metadata: None,
                };
                self.journal_and_commit(&op, &journal, &change).await?;
                Ok(Ok(Presence::Present { state: None }))
            }
            Ok(other) => {
                self.finish_operation(&op).await?;
                Ok(Ok(other))
            }
            Err(error) => {
                let message = error.to_string();
                // Left to the reconciler where the read's outcome is unclear.
                let _ = self.unconfirmed(&op, error).await;
                Ok(Err(IdpError::Ambiguous(message)))
            }
        }
    }
}

/// What a stuck operation means and what happens next.
fn hint(pending: &PendingOperation, now: DateTime<Utc>) -> String {
    let next = if pending.operation.lease_until <= now {
        "the reconciler takes it at its next pass (or run the report with repair)".to_owned()
    } else {
        format!(
            "the reconciler retries it after {}",
            pending.operation.lease_until.to_rfc3339()
        )
    };
    let what = match pending.operation.kind {
        OperationKind::Create => {
            "an interrupted create: the reconciler deletes the client and marks the app FAILED"
        }
        OperationKind::Delete => "an interrupted delete: the reconciler finishes it",
        OperationKind::RevokeSecret => {
            "a revoked secret the IdP has not confirmed revoking (dcr already refuses it)"
        }
        OperationKind::RemoveAccess => {
            "ended access the IdP has not confirmed (dcr already refuses it)"
        }
        OperationKind::RegenerateSecret
        | OperationKind::AddSecret
        | OperationKind::UpdateClient => {
            "an unfinished change of the client: the reconciler commits it when the IdP's \
             answer was journaled, else marks the app for attention"
        }
    };
    format!("{what}; {next}")
}
