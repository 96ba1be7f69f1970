//! GetDriftReport (ProviderService, admin): the drift report as the API shows it.

use dcr_common::auth::Caller;
use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;

use super::audit;
use super::convert::timestamp;
use crate::lifecycle::drift::{
    DriftReport, OrphanClient, OrphanReason, ProviderDrift, RepairAction, SecretDrift,
    SecretDriftKind, StuckOperation,
};
use crate::registry::Registry;

/// The report; with repair, audited (it deletes clients and revokes secrets at IdPs).
pub(super) async fn get_drift_report(
    registry: &Registry,
    caller: &Caller,
    request: &pb::GetDriftReportRequest,
) -> Result<pb::DriftReport, ApiError> {
    let result = registry
        .drift_report(request.repair)
        .await
        .map_err(ApiError::from);
    if request.repair {
        audit(registry, caller, "RepairDrift", "provider", "", &result).await;
    }
    Ok(report_to_proto(&result?))
}

fn report_to_proto(report: &DriftReport) -> pb::DriftReport {
    pb::DriftReport {
        providers: report.providers.iter().map(provider_to_proto).collect(),
        actions: report.actions.iter().map(action_to_proto).collect(),
        clean: report.is_clean(),
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn provider_to_proto(d: &ProviderDrift) -> pb::ProviderDrift {
    pb::ProviderDrift {
        provider_id: d.provider_id.to_string(),
        provider_name: d.provider_name.clone(),
        provider_type: d.provider_type as i32,
        listing_supported: d.cannot_list.is_none(),
        cannot_list_reason: d.cannot_list.clone().unwrap_or_default(),
        cannot_check_reason: d.cannot_check.clone().unwrap_or_default(),
        errors: d.errors.clone(),
        orphan_clients: d.orphans.iter().map(orphan_to_proto).collect(),
        missing_clients: d
            .missing
            .iter()
            .map(|a| pb::MissingClient {
                application_id: a.id.to_string(),
                application_name: a.name.clone(),
                developer_id: a.owner.id().to_owned(),
                client_id: a.client_id.clone().unwrap_or_default(),
            })
            .collect(),
        stuck_operations: d.stuck.iter().map(stuck_to_proto).collect(),
        possible_orphans: d
            .possible_orphans
            .iter()
            .map(|a| pb::PossibleOrphan {
                application_id: a.id.to_string(),
                application_name: a.name.clone(),
                developer_id: a.owner.id().to_owned(),
                hint: format!(
                    "its create was cut off before dcr recorded the IdP's answer and this IdP \
                     cannot list clients: look there for a client with dcr_application_id {} \
                     and delete it, then have the developer delete the FAILED application",
                    a.id
                ),
            })
            .collect(),
        needs_attention: d
            .needs_attention
            .iter()
            .map(|a| pb::AttentionApp {
                application_id: a.id.to_string(),
                application_name: a.name.clone(),
                developer_id: a.owner.id().to_owned(),
                attention: a.attention.clone(),
            })
            .collect(),
        counts: Some(pb::DriftCounts {
            applications: count(d.applications),
            clients_listed: count(d.clients_listed),
            applications_checked: count(d.checked),
            applications_unchecked: count(d.unchecked),
            orphan_clients: count(d.orphans.len()),
            missing_clients: count(d.missing.len()),
            stuck_operations: count(d.stuck.len()),
            possible_orphans: count(d.possible_orphans.len()),
            needs_attention: count(d.needs_attention.len()),
            secrets_out_of_step: count(d.secrets.len()),
            applications_secrets_checked: count(d.secrets_checked),
        }),
        secrets_out_of_step: d.secrets.iter().map(secret_to_proto).collect(),
        cannot_list_secrets_reason: d.cannot_list_secrets.clone().unwrap_or_default(),
    }
}

fn secret_to_proto(s: &SecretDrift) -> pb::SecretOutOfStep {
    let kind = match s.kind {
        SecretDriftKind::UnknownToDcr => pb::SecretDriftKind::UnknownToDcr,
        SecretDriftKind::RevokedByDcr => pb::SecretDriftKind::RevokedByDcr,
        SecretDriftKind::NotActiveAtIdp => pb::SecretDriftKind::NotActiveAtIdp,
    };
    pb::SecretOutOfStep {
        application_id: s.application_id.to_string(),
        application_name: s.application_name.clone(),
        developer_id: s.developer_id.clone(),
        client_id: s.client_id.clone(),
        secret_ref: s.secret_ref.clone(),
        credential_id: s.credential_id.map(|id| id.to_string()).unwrap_or_default(),
        kind: kind as i32,
        repairable: s.repairable,
        hint: s.hint.clone(),
    }
}

fn orphan_to_proto(o: &OrphanClient) -> pb::OrphanClient {
    let reason = match o.reason {
        OrphanReason::ApplicationDeleted => pb::OrphanReason::ApplicationDeleted,
        OrphanReason::ApplicationFailed => pb::OrphanReason::ApplicationFailed,
        OrphanReason::NotMadeHere => pb::OrphanReason::NotMadeHere,
        OrphanReason::Duplicate => pb::OrphanReason::Duplicate,
    };
    pb::OrphanClient {
        client_id: o.client_id.clone(),
        application_id: o.application_id.to_string(),
        reason: reason as i32,
        repairable: o.reason.repairable(),
    }
}

fn stuck_to_proto(s: &StuckOperation) -> pb::StuckOperation {
    let op = &s.pending.operation;
    pb::StuckOperation {
        operation_id: op.id.to_string(),
        application_id: op.application_id.to_string(),
        kind: op.kind.as_str().to_owned(),
        attempts: op.attempts,
        create_time: Some(timestamp(s.pending.create_time)),
        lease_until: Some(timestamp(op.lease_until)),
        last_error: s.pending.last_error.clone(),
        hint: s.hint.clone(),
    }
}

fn action_to_proto(a: &RepairAction) -> pb::RepairAction {
    pb::RepairAction {
        provider_id: a.provider_id.map(|id| id.to_string()).unwrap_or_default(),
        description: a.description.clone(),
        ok: a.ok,
    }
}
