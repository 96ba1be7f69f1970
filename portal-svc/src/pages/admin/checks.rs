//! The overview's live checks, for the people who may run them (admin, provider-admin):
//! VerifyProvider for every provider, concurrently, and the drift report (what `dcrctl
//! doctor` shows, without repair). Both ask the IdPs, so they can be slow and each call is
//! audited: the result is kept and shared, re-run when older than [`FRESH_FOR`] or when
//! someone asks ("Check again"), and every call is bounded by [`CHECK_TIMEOUT`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_proto::registry::v1 as pb;
use tokio::task::JoinSet;

use crate::errors::PageError;
use crate::registry::As;
use crate::session::Person;

/// How long one VerifyProvider call, or the drift report, may take before the page stops
/// waiting and says so.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// A result younger than this is shown as it is; an older one is checked again on view.
pub const FRESH_FOR: chrono::Duration = chrono::Duration::minutes(15);

/// The roles that may call VerifyProvider and GetDriftReport.
pub fn may_check(person: &Person) -> bool {
    person.has("admin") || person.has("provider-admin")
}

/// A provider whose VerifyProvider did not pass.
pub struct Failing {
    pub id: String,
    pub name: String,
    /// The registry's detail: what is wrong and what to do, with the URLs tried.
    pub detail: String,
}

/// What needs someone's attention at one provider, from the drift report.
pub struct Attention {
    pub provider: String,
    /// Apps marked for attention, and active apps whose client the IdP no longer has.
    pub apps: Vec<App>,
    pub stuck: Vec<Stuck>,
    /// What went wrong asking the IdP: the report for this provider is partial.
    pub errors: Vec<String>,
    /// Orphan clients, possible orphans and secrets out of step: counted, for `dcrctl
    /// doctor` to list and repair.
    pub other: i32,
}

pub struct App {
    pub id: String,
    pub name: String,
    pub developer_id: String,
    /// What may have changed at the IdP and what to do.
    pub note: String,
}

pub struct Stuck {
    pub kind: String,
    pub application_id: String,
    pub attempts: i32,
    pub since: String,
    pub last_error: String,
    pub hint: String,
}

/// One run of the checks.
pub struct Report {
    pub checked_at: DateTime<Utc>,
    pub providers: usize,
    pub failing: Vec<Failing>,
    /// Providers with drift; None when the report could not be had (`drift_error`).
    pub attention: Option<Vec<Attention>>,
    pub drift_error: String,
}

/// The latest report, shared by every session of this portal.
#[derive(Clone, Default)]
pub struct Checks(Arc<Mutex<Option<Arc<Report>>>>);

impl Checks {
    pub fn latest(&self) -> Option<Arc<Report>> {
        self.0.lock().ok().and_then(|r| r.clone())
    }

    /// The latest report, run first when there is none or it is older than `FRESH_FOR`.
    pub async fn current(
        &self,
        registry: &As,
        now: DateTime<Utc>,
    ) -> Result<Arc<Report>, PageError> {
        match self.latest() {
            Some(report) if now - report.checked_at < FRESH_FOR => Ok(report),
            _ => self.run(registry, now).await,
        }
    }

    /// Runs the checks now and keeps the result.
    pub async fn run(&self, registry: &As, now: DateTime<Utc>) -> Result<Arc<Report>, PageError> {
        let (failing, drift) = tokio::join!(verify_all(registry), drift(registry));
        let (providers, failing) = failing?;
        let (attention, drift_error) = match drift {
            Ok(attention) => (Some(attention), String::new()),
            Err(message) => (None, message),
        };
        let report = Arc::new(Report {
            checked_at: now,
            providers,
            failing,
            attention,
            drift_error,
        });
        if let Ok(mut latest) = self.0.lock() {
            *latest = Some(report.clone());
        }
        Ok(report)
    }
}

/// Every provider's VerifyProvider, concurrently: (how many were checked, those failing).
async fn verify_all(registry: &As) -> Result<(usize, Vec<Failing>), PageError> {
    let providers = super::overview::all_providers(registry).await?;
    let count = providers.len();
    let mut calls = JoinSet::new();
    for provider in providers {
        let mut client = registry.providers();
        calls.spawn(async move {
            let answer = tokio::time::timeout(
                CHECK_TIMEOUT,
                client.verify_provider(pb::VerifyProviderRequest {
                    id: provider.id.clone(),
                }),
            )
            .await;
            let detail = match answer {
                Ok(Ok(answer)) => {
                    let answer = answer.into_inner();
                    if answer.ok {
                        return None;
                    }
                    answer.detail
                }
                Ok(Err(status)) => format!("The registry could not verify it: {}", status.message()),
                Err(_) => format!(
                    "No answer within {} s: the identity provider (or the registry) is slow or unreachable.",
                    CHECK_TIMEOUT.as_secs()
                ),
            };
            let name = if provider.display_name.is_empty() {
                provider.name
            } else {
                provider.display_name
            };
            Some(Failing {
                id: provider.id,
                name,
                detail,
            })
        });
    }
    let mut failing = Vec::new();
    while let Some(done) = calls.join_next().await {
        match done {
            Ok(Some(f)) => failing.push(f),
            Ok(None) => {}
            Err(error) => return Err(PageError::internal("a provider check", &error)),
        }
    }
    failing.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((count, failing))
}

/// The drift report's providers that need attention, or why there is no report.
async fn drift(registry: &As) -> Result<Vec<Attention>, String> {
    let report = tokio::time::timeout(
        CHECK_TIMEOUT,
        registry
            .providers()
            .get_drift_report(pb::GetDriftReportRequest { repair: false }),
    )
    .await
    .map_err(|_| {
        format!(
            "The drift report did not come within {} s; `dcrctl doctor` waits for it.",
            CHECK_TIMEOUT.as_secs()
        )
    })?
    .map_err(|status| format!("The drift report failed: {}", status.message()))?
    .into_inner();
    Ok(report
        .providers
        .into_iter()
        .map(|p| Attention {
            other: p.counts.map_or(0, |c| {
                c.orphan_clients + c.possible_orphans + c.secrets_out_of_step
            }),
            provider: p.provider_name,
            apps: p
                .needs_attention
                .into_iter()
                .map(|a| App {
                    id: a.application_id,
                    name: a.application_name,
                    developer_id: a.developer_id,
                    note: a.attention,
                })
                .chain(p.missing_clients.into_iter().map(|m| App {
                    note: format!(
                        "The identity provider no longer has its client {} (or no longer lets dcr manage it): the developer should delete the app and create a new one.",
                        m.client_id
                    ),
                    id: m.application_id,
                    name: m.application_name,
                    developer_id: m.developer_id,
                }))
                .collect(),
            stuck: p
                .stuck_operations
                .into_iter()
                .map(|s| Stuck {
                    since: crate::views::when(s.create_time.as_ref()),
                    kind: s.kind,
                    application_id: s.application_id,
                    attempts: s.attempts,
                    last_error: s.last_error,
                    hint: s.hint,
                })
                .collect(),
            errors: p.errors,
        })
        .filter(|a| {
            !(a.apps.is_empty()
                && a.stuck.is_empty()
                && a.errors.is_empty()
                && a.other == 0)
        })
        .collect())
}
