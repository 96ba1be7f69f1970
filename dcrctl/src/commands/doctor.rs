//! `dcrctl doctor [--repair]`: the registry's drift report (GetDriftReport), per
//! provider, then one summary line. Exits 3 when drift is found (or a provider could not
//! be checked), so cron and CI can act on it; with `--repair`, on what is left after
//! repairing.

use std::process::ExitCode;

use clap::Args;
use dcr_proto::registry::v1 as reg;

use super::{Ctx, refuse_env};
use crate::connection::Role;
use crate::errors::CallExt as _;
use crate::output::{self, Format};

/// The exit code when the report is not clean (0 clean, 1 a failed call, 2 usage).
pub const DRIFT_FOUND: u8 = 3;

#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Fix what is safe to fix first: delete orphan clients dcr made whose app is FAILED
    /// or deleted, revoke at the IdP secrets dcr never recorded or has revoked, and run
    /// one reconciler pass. Everything else is only reported.
    #[arg(long)]
    repair: bool,
}

pub async fn run(ctx: &Ctx, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "doctor")?;
    let report = ctx
        .connection
        .providers()?
        .get_drift_report(reg::GetDriftReportRequest {
            repair: args.repair,
        })
        .await
        .on(Role::Admin, "get the drift report")?;
    if ctx.output == Format::Json {
        output::print_json(&output::to_json(&report)?)?;
    } else {
        output::print(&render(&report))?;
    }
    Ok(if report.clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DRIFT_FOUND)
    })
}

/// The report for people: a block per provider, what repair did, a summary line.
fn render(report: &reg::DriftReport) -> String {
    let mut out = Vec::new();
    for p in &report.providers {
        out.extend(provider_block(p));
    }
    for a in &report.actions {
        let mark = if a.ok { "repaired" } else { "repair FAILED" };
        out.push(format!("{mark}: {}", a.description));
    }
    out.push(summary(report));
    out.join("\n")
}

fn provider_block(p: &reg::ProviderDrift) -> Vec<String> {
    let counts = p.counts.unwrap_or_default();
    let kind = reg::ProviderType::try_from(p.provider_type)
        .map_or("?", |t| t.as_str_name())
        .trim_start_matches("PROVIDER_TYPE_")
        .to_lowercase();
    let listed = if p.listing_supported {
        format!(
            ", {} at the IdP",
            plural(counts.clients_listed, "marked client")
        )
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "provider {} ({kind}): {}{listed}",
        p.provider_name,
        plural(counts.applications, "app")
    )];
    for o in &p.orphan_clients {
        lines.push(format!(
            "  orphan client {} (application {}): {}",
            o.client_id,
            o.application_id,
            orphan_reason(o)
        ));
    }
    for m in &p.missing_clients {
        lines.push(format!(
            "  missing client {} of app {} ({}, developer {}): the IdP no longer has it (or no longer lets dcr manage it); \
             the developer should delete the app and create a new one",
            m.client_id, m.application_name, m.application_id, m.developer_id
        ));
    }
    for s in &p.stuck_operations {
        let error = if s.last_error.is_empty() {
            String::new()
        } else {
            format!(", last error: {}", s.last_error)
        };
        lines.push(format!(
            "  stuck operation {} of application {} ({} attempts{error}): {}",
            s.kind, s.application_id, s.attempts, s.hint
        ));
    }
    for o in &p.possible_orphans {
        lines.push(format!(
            "  possible orphan of FAILED app {} ({}): {}",
            o.application_name, o.application_id, o.hint
        ));
    }
    for a in &p.needs_attention {
        lines.push(format!(
            "  app {} ({}, developer {}) needs attention: {}",
            a.application_name, a.application_id, a.developer_id, a.attention
        ));
    }
    for s in &p.secrets_out_of_step {
        lines.push(format!(
            "  secret {} of client {} (app {}, {}, developer {}) {}: {}",
            s.secret_ref,
            s.client_id,
            s.application_name,
            s.application_id,
            s.developer_id,
            secret_kind(s),
            s.hint
        ));
    }
    if !p.listing_supported {
        lines.push(format!("  cannot list clients: {}", p.cannot_list_reason));
    }
    if !p.cannot_list_secrets_reason.is_empty() {
        lines.push(format!(
            "  cannot list secrets: {}",
            p.cannot_list_secrets_reason
        ));
    }
    if counts.applications_unchecked > 0 {
        lines.push(format!(
            "  {} not checked: {}",
            plural(counts.applications_unchecked, "app"),
            p.cannot_check_reason
        ));
    }
    for e in &p.errors {
        lines.push(format!("  error: {e}"));
    }
    if is_clean(p) {
        lines.push("  no drift".into());
    }
    lines
}

fn is_clean(p: &reg::ProviderDrift) -> bool {
    p.errors.is_empty()
        && p.orphan_clients.is_empty()
        && p.missing_clients.is_empty()
        && p.stuck_operations.is_empty()
        && p.possible_orphans.is_empty()
        && p.needs_attention.is_empty()
        && p.secrets_out_of_step.is_empty()
}

fn secret_kind(s: &reg::SecretOutOfStep) -> &'static str {
    match reg::SecretDriftKind::try_from(s.kind) {
        Ok(reg::SecretDriftKind::UnknownToDcr) => "is active at the IdP, unknown to dcr",
        Ok(reg::SecretDriftKind::RevokedByDcr) => "is active at the IdP, revoked in dcr",
        Ok(reg::SecretDriftKind::NotActiveAtIdp) => "is active in dcr, not at the IdP",
        _ => "is out of step",
    }
}

fn orphan_reason(o: &reg::OrphanClient) -> &'static str {
    match reg::OrphanReason::try_from(o.reason) {
        Ok(reg::OrphanReason::ApplicationDeleted) => {
            "its app was deleted; --repair deletes the client"
        }
        Ok(reg::OrphanReason::ApplicationFailed) => {
            "its app is FAILED; --repair deletes the client"
        }
        Ok(reg::OrphanReason::NotMadeHere) => {
            "this registry never had that app (another dcr on the same tenant, a restored \
             backup, a copy?); check it and delete it at the IdP by hand"
        }
        Ok(reg::OrphanReason::Duplicate) => {
            "its app is live with another client; check it and delete it at the IdP by hand"
        }
        _ => "unknown reason",
    }
}

fn summary(report: &reg::DriftReport) -> String {
    let providers = report.providers.len();
    if report.clean {
        return format!(
            "summary: {} checked, no drift",
            plural(providers, "provider")
        );
    }
    let total = |f: fn(&reg::DriftCounts) -> i32| -> i32 {
        report
            .providers
            .iter()
            .map(|p| f(&p.counts.unwrap_or_default()))
            .sum()
    };
    let errors: usize = report.providers.iter().map(|p| p.errors.len()).sum();
    let drifted = report.providers.iter().filter(|p| !is_clean(p)).count();
    format!(
        "summary: drift in {drifted} of {}: {}, {}, {}, {}, {} needing attention, {} out of \
         step, {}",
        plural(providers, "provider"),
        plural(total(|c| c.orphan_clients), "orphan client"),
        plural(total(|c| c.missing_clients), "missing client"),
        plural(total(|c| c.stuck_operations), "stuck operation"),
        plural(total(|c| c.possible_orphans), "possible orphan"),
        plural(total(|c| c.needs_attention), "app"),
        plural(total(|c| c.secrets_out_of_step), "secret"),
        plural(errors, "error"),
    )
}

/// `1 app`, `2 apps`.
fn plural(n: impl TryInto<i64> + Copy + std::fmt::Display, noun: &str) -> String {
    let one = n.try_into().is_ok_and(|n| n == 1);
    format!("{n} {noun}{}", if one { "" } else { "s" })
}
