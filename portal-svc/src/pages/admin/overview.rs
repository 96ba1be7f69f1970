//! The admin console's first page, read-only: how much there is (each count only where
//! the person's roles may read it), what waits for an approver, and for admins and
//! provider admins the providers that fail Verify and the operations needing attention
//! (see `checks`: kept, not re-run on every view).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use dcr_proto::registry::v1 as pb;

use super::checks::{self, Report};
use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::registry::As;
use crate::views::{Layout, render};
use crate::web::Me;

/// Counting stops after this many pages of 500 (a bound, never reached in practice).
const MAX_PAGES: usize = 200;
const PAGE_SIZE: i32 = 500;

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct Overview {
    layout: Layout,
    providers: Option<usize>,
    strategies: Option<usize>,
    products: Option<usize>,
    pending: Option<usize>,
    can_approve: bool,
    /// The checks' latest report, for those who may run them.
    report: Option<std::sync::Arc<Report>>,
    checked_at: String,
}

/// Counts the items of a list by paging through it; None when the person may not read it.
async fn count<F, Fut>(mut page: F) -> Result<Option<usize>, PageError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(usize, String), tonic::Status>>,
{
    let mut total = 0;
    let mut token = String::new();
    for _ in 0..MAX_PAGES {
        match page(token).await {
            Ok((n, next)) => {
                total += n;
                if next.is_empty() {
                    break;
                }
                token = next;
            }
            Err(status) if status.code() == tonic::Code::PermissionDenied => return Ok(None),
            Err(status) => return Err(status.into()),
        }
    }
    Ok(Some(total))
}

/// Every provider (for the checks).
pub async fn all_providers(registry: &As) -> Result<Vec<pb::Provider>, PageError> {
    let mut client = registry.providers();
    let mut providers = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = client
            .list_providers(pb::ListProvidersRequest {
                page_size: PAGE_SIZE,
                page_token,
            })
            .await?
            .into_inner();
        providers.extend(page.providers);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(providers)
}

pub async fn page(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let can_check = checks::may_check(&me.person);
    let counts = async {
        tokio::try_join!(
            count(|page_token| {
                let mut c = registry.providers();
                async move {
                    let p = c
                        .list_providers(pb::ListProvidersRequest {
                            page_size: PAGE_SIZE,
                            page_token,
                        })
                        .await?
                        .into_inner();
                    Ok((p.providers.len(), p.next_page_token))
                }
            }),
            count(|page_token| {
                let mut c = registry.strategies();
                async move {
                    let p = c
                        .list_strategies(pb::ListStrategiesRequest {
                            page_size: PAGE_SIZE,
                            page_token,
                        })
                        .await?
                        .into_inner();
                    Ok((p.strategies.len(), p.next_page_token))
                }
            }),
            count(|page_token| {
                let mut c = registry.products();
                async move {
                    let p = c
                        .list_products(pb::ListProductsRequest {
                            page_size: PAGE_SIZE,
                            page_token,
                        })
                        .await?
                        .into_inner();
                    Ok((p.products.len(), p.next_page_token))
                }
            }),
            count(|page_token| {
                let mut c = registry.products();
                async move {
                    let p = c
                        .list_registrations(pb::ListProductRegistrationsRequest {
                            status: pb::RegistrationStatus::Pending as i32,
                            page_size: PAGE_SIZE,
                            page_token,
                            ..Default::default()
                        })
                        .await?
                        .into_inner();
                    Ok((p.registrations.len(), p.next_page_token))
                }
            }),
        )
    };
    let report = async {
        if can_check {
            portal
                .checks
                .current(&registry, portal.sessions.now())
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let (counts, report) = tokio::join!(counts, report);
    let (providers, strategies, products, pending) = counts?;
    let report = report?;
    Ok(render(&Overview {
        can_approve: me.person.has("admin") || me.person.has("approver"),
        layout: Layout::of(&portal, &me, "Admin", "admin"),
        providers,
        strategies,
        products,
        pending,
        checked_at: report
            .as_ref()
            .map(|r| r.checked_at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default(),
        report,
    }))
}

/// "Check again": runs the checks now, then back to the overview.
pub async fn check(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    if !checks::may_check(&me.person) {
        return Err(PageError::Forbidden(
            "Checking providers needs the admin or provider-admin role.".into(),
        ));
    }
    let registry = me.registry(&portal)?;
    let report = portal.checks.run(&registry, portal.sessions.now()).await?;
    let checked = match report.providers {
        1 => "1 provider".to_owned(),
        n => format!("{n} providers"),
    };
    let text = match report.failing.len() {
        0 => format!("Checked {checked}: all verified."),
        n => format!("Checked {checked}: {n} failed Verify."),
    };
    portal
        .sessions
        .notify(me.id, !report.failing.is_empty(), text);
    Ok(Redirect::to("/admin").into_response())
}
