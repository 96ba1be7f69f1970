//! Credentials out of step, for the drift report: where the IdP lists a client's
//! secrets (Okta, Entra), each ACTIVE application's secrets there are compared with
//! dcr's credentials by the IdP's id for each (`Credential::idp_ref`).
//!
//! Applications with a pending operation are left out: the operation may be about to
//! record (or revoke) exactly the secret that looks out of step, and the report shows it.
//!
//! Repair revokes at the IdP only what no developer can hold: a secret dcr never
//! recorded (dcr returns a secret only after recording it), or one dcr revoked itself.
//! It does so under the application's change lock, after checking dcr's credentials
//! again. A credential dcr holds as active that the IdP no longer has needs a person.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::drift::{DriftReport, ProviderDrift, RepairAction, SecretDrift, SecretDriftKind};
use super::errors::WorkflowError;
use crate::domain::{AppState, Application, Credential};
use crate::idp::{self, ClientRef, IdpAdapter, IdpError, ListedSecret};
use crate::registry::Registry;
use crate::store::OperationKind;

fn same_ref(a: &str, b: &str) -> bool {
    // Entra's key ids are GUIDs, whose case may differ between answers.
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// Compares what the IdP lists for one application's client with dcr's credentials.
fn compare(
    app: &Application,
    client_id: &str,
    credentials: &[Credential],
    listed: &[ListedSecret],
    now: DateTime<Utc>,
) -> Vec<SecretDrift> {
    let finding =
        |secret_ref: &str, credential: Option<&Credential>, kind, repairable, hint| SecretDrift {
            application_id: app.id,
            application_name: app.name.clone(),
            developer_id: app.owner.id().to_owned(),
            client_id: client_id.to_owned(),
            secret_ref: secret_ref.to_owned(),
            credential_id: credential.map(|c| c.id),
            kind,
            repairable,
            hint,
        };
    // Active credentials the IdP did not name when it issued them (an Okta create whose
    // secret listing failed): any unknown secret may be one of them.
    let unnamed = credentials
        .iter()
        .filter(|c| c.is_active(now) && c.idp_ref.is_empty())
        .count();
    let mut found = Vec::new();
    for secret in listed.iter().filter(|s| s.is_active(now)) {
        let known: Vec<&Credential> = credentials
            .iter()
            .filter(|c| same_ref(&c.idp_ref, &secret.secret_ref))
            .collect();
        if known.iter().any(|c| c.is_active(now)) {
            continue;
        }
        if let Some(revoked) = known.first() {
            found.push(finding(
                &secret.secret_ref,
                Some(revoked),
                SecretDriftKind::RevokedByDcr,
                true,
                format!(
                    "dcr revoked credential {} (or it expired) and refuses it, but the IdP still \
                     accepts it; repair revokes it at the IdP",
                    revoked.id
                ),
            ));
        } else if unnamed > 0 {
            found.push(finding(
                &secret.secret_ref,
                None,
                SecretDriftKind::UnknownToDcr,
                false,
                format!(
                    "active at the IdP and not among dcr's credentials, but dcr holds {unnamed} \
                     active credential(s) the IdP did not name when issuing them: this may be \
                     one of them, so repair leaves it; a regeneration of the secret replaces all"
                ),
            ));
        } else {
            found.push(finding(
                &secret.secret_ref,
                None,
                SecretDriftKind::UnknownToDcr,
                true,
                "active at the IdP but never recorded by dcr (e.g. an added secret whose answer \
                 was lost): dcr never returned it to anyone; repair revokes it at the IdP"
                    .into(),
            ));
        }
    }
    for credential in credentials
        .iter()
        .filter(|c| c.is_active(now) && !c.idp_ref.is_empty())
    {
        let active_there = listed
            .iter()
            .any(|s| s.is_active(now) && same_ref(&credential.idp_ref, &s.secret_ref));
        if !active_there {
            found.push(finding(
                &credential.idp_ref,
                Some(credential),
                SecretDriftKind::NotActiveAtIdp,
                false,
                format!(
                    "dcr lists credential {} (ending {}) as active but the IdP no longer has it \
                     active, so its holder is refused: have the developer revoke it in dcr and \
                     add or regenerate one",
                    credential.id, credential.secret_hint
                ),
            ));
        }
    }
    found
}

impl Registry {
    /// Compares the secrets of each ACTIVE application without a pending operation.
    pub(super) async fn check_secrets(
        &self,
        adapter: &dyn IdpAdapter,
        apps: &[Application],
        busy: &HashSet<Uuid>,
        drift: &mut ProviderDrift,
    ) -> Result<(), WorkflowError> {
        if let Some(why) = adapter.cannot_list_secrets() {
            drift.cannot_list_secrets = Some(why);
            return Ok(());
        }
        let missing: HashSet<Uuid> = drift.missing.iter().map(|a| a.id).collect();
        for app in apps.iter().filter(|a| {
            a.state == AppState::Active && !busy.contains(&a.id) && !missing.contains(&a.id)
        }) {
            let Some(client_id) = app.client_id.as_deref() else {
                continue;
            };
            let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
            let listed = adapter
                .list_secrets(ClientRef {
                    client_id,
                    state: &state,
                })
                .await;
            match listed {
                Ok(listed) => {
                    let credentials = self.store.list_credentials(app.id).await?;
                    drift.secrets_checked += 1;
                    drift.secrets.extend(compare(
                        app,
                        client_id,
                        &credentials,
                        &listed,
                        self.clock.now(),
                    ));
                }
                // Gone meanwhile: the next report shows it missing.
                Err(IdpError::NotFound) => {}
                Err(IdpError::Unsupported(why)) => {
                    drift.cannot_list_secrets = Some(why);
                    return Ok(());
                }
                Err(error) => drift.errors.push(format!(
                    "listing the secrets of client {client_id} failed: {error}"
                )),
            }
        }
        Ok(())
    }

    /// Revokes at the IdP the repairable secrets `report` found; says what it did.
    pub(super) async fn repair_secrets(
        &self,
        report: &DriftReport,
        actions: &mut Vec<RepairAction>,
    ) -> Result<(), WorkflowError> {
        for drift in &report.providers {
            let repairable: Vec<&SecretDrift> =
                drift.secrets.iter().filter(|s| s.repairable).collect();
            if repairable.is_empty() {
                continue;
            }
            let Some(provider) = self.store.get_provider(drift.provider_id).await? else {
                continue;
            };
            let adapter = idp::adapter_for(&provider, &self.idp);
            for secret in repairable {
                let Some(app) = self.store.get_application(secret.application_id).await? else {
                    continue; // deleted meanwhile: its client went with it
                };
                if app.state != AppState::Active
                    || app.client_id.as_deref() != Some(secret.client_id.as_str())
                {
                    continue;
                }
                let (description, ok) = self
                    .repair_secret(&*adapter, &app, secret, drift.provider_id)
                    .await?;
                tracing::info!(provider_id = %drift.provider_id, client_id = %secret.client_id,
                    secret_ref = %secret.secret_ref, ok, "drift repair: secret out of step");
                actions.push(RepairAction {
                    provider_id: Some(drift.provider_id),
                    description,
                    ok,
                });
            }
        }
        Ok(())
    }

    /// One revocation, under the application's change lock so that no add, regenerate
    /// or revoke of its secrets runs meanwhile; dcr's credentials are read again first.
    async fn repair_secret(
        &self,
        adapter: &dyn IdpAdapter,
        app: &Application,
        secret: &SecretDrift,
        provider_id: Uuid,
    ) -> Result<(String, bool), WorkflowError> {
        let what = format!(
            "secret {} of client {} (application {})",
            secret.secret_ref, secret.client_id, app.id
        );
        let op = match self
            .begin_change(app, OperationKind::UpdateClient, provider_id, None)
            .await
        {
            Ok(op) => op,
            Err(WorkflowError::Refused(_)) => {
                return Ok((
                    format!(
                        "left {what}: a change of the client is under way; run the report again"
                    ),
                    false,
                ));
            }
            Err(other) => return Err(other),
        };
        let now = self.clock.now();
        let credentials = self.store.list_credentials(app.id).await?;
        let known: Vec<&Credential> = credentials
            .iter()
            .filter(|c| same_ref(&c.idp_ref, &secret.secret_ref))
            .collect();
        let still = !known.iter().any(|c| c.is_active(now))
            && match secret.kind {
                SecretDriftKind::UnknownToDcr => {
                    known.is_empty()
                        && !credentials
                            .iter()
                            .any(|c| c.is_active(now) && c.idp_ref.is_empty())
                }
                SecretDriftKind::RevokedByDcr => !known.is_empty(),
                SecretDriftKind::NotActiveAtIdp => false,
            };
        let outcome = if still {
            let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
            Some(
                self.at_idp(adapter.revoke_secret(
                    ClientRef {
                        client_id: &secret.client_id,
                        state: &state,
                    },
                    &secret.secret_ref,
                ))
                .await,
            )
        } else {
            None
        };
        self.finish_operation(&op).await?;
        let why = match secret.kind {
            SecretDriftKind::RevokedByDcr => "dcr had revoked it",
            _ => "dcr never recorded it",
        };
        Ok(match outcome {
            None => (
                format!("left {what}: dcr's credentials changed since the report"),
                false,
            ),
            Some(Ok(())) => (format!("revoked {what} at the IdP: {why}"), true),
            Some(Err(error)) => (
                format!("could not revoke {what} at the IdP: {error}"),
                false,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(idp_ref: &str, revoked: bool) -> Credential {
        Credential {
            id: Uuid::new_v4(),
            application_id: Uuid::nil(),
            secret_hint: "abcd".into(),
            idp_ref: idp_ref.into(),
            create_time: Utc::now(),
            expire_time: None,
            revoke_time: revoked.then(Utc::now),
            fingerprint: None,
        }
    }

    fn app() -> Application {
        Application {
            id: Uuid::new_v4(),
            owner: crate::domain::Owner::Developer("dev-1".into()),
            name: "shop".into(),
            description: String::new(),
            strategy_id: Uuid::nil(),
            client_id: Some("c".into()),
            redirect_uris: Vec::new(),
            state: AppState::Active,
            failure_reason: String::new(),
            attention: String::new(),
            request_id: None,
            create_time: Utc::now(),
            update_time: Utc::now(),
        }
    }

    fn listed(secret_ref: &str, enabled: bool) -> ListedSecret {
        ListedSecret {
            secret_ref: secret_ref.into(),
            enabled,
            expire_time: None,
        }
    }

    fn kinds(found: &[SecretDrift]) -> Vec<(String, SecretDriftKind, bool)> {
        found
            .iter()
            .map(|s| (s.secret_ref.clone(), s.kind, s.repairable))
            .collect()
    }

    #[test]
    fn each_kind_is_found_and_only_what_nobody_holds_is_repairable() {
        let app = app();
        let now = Utc::now();
        let creds = [
            credential("kept", false),
            credential("gone", false),
            credential("revoked", true),
        ];
        let idp = [
            listed("KEPT", true),
            listed("gone", false),
            listed("revoked", true),
            listed("stray", true),
            listed("old", false),
        ];
        let found = compare(&app, "c", &creds, &idp, now);
        assert_eq!(
            kinds(&found),
            [
                ("revoked".into(), SecretDriftKind::RevokedByDcr, true),
                ("stray".into(), SecretDriftKind::UnknownToDcr, true),
                ("gone".into(), SecretDriftKind::NotActiveAtIdp, false),
            ]
        );
        // A secret past its end at the IdP is not active there.
        let expired = ListedSecret {
            expire_time: Some(now - chrono::Duration::seconds(1)),
            ..listed("kept", true)
        };
        let found = compare(&app, "c", &creds[..1], &[expired], now);
        assert_eq!(kinds(&found)[0].1, SecretDriftKind::NotActiveAtIdp);
    }

    #[test]
    fn an_unknown_secret_is_not_repairable_while_dcr_holds_one_the_idp_did_not_name() {
        let app = app();
        let found = compare(
            &app,
            "c",
            &[credential("", false)],
            &[listed("stray", true)],
            Utc::now(),
        );
        assert_eq!(
            kinds(&found),
            [("stray".into(), SecretDriftKind::UnknownToDcr, false)]
        );
    }
}
