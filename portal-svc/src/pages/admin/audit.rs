//! The audit log: every admin and portal change with who made it, newest first, filtered
//! by what AuditService offers (person, role, action, resource), one page at a time.
//! Admins, approvers and viewers may read it; the registry refuses the others.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use dcr_proto::registry::v1 as pb;
use serde::Deserialize;

use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::views::{Layout, render};
use crate::web::Me;

const PAGE_SIZE: i32 = 50;
const MAX_PAGE_SIZE: i32 = 200;

/// The roles the registry records (AuditEvent.role), for the role filter.
const ROLES: &[&str] = &[
    "admin",
    "provider-admin",
    "approver",
    "viewer",
    "developer",
    "token:admin",
    "token:portal",
];

/// The filters and the page, from the query string. Page tokens are opaque cursors, not
/// secrets, so they may sit in a URL.
#[derive(Deserialize, Default, Clone)]
pub struct Filter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource_type: String,
    #[serde(default)]
    resource_id: String,
    #[serde(default)]
    page_token: String,
    /// Events per page (default 50, at most 200).
    #[serde(default)]
    size: Option<i32>,
}

impl Filter {
    fn trimmed(self) -> Self {
        Self {
            actor: self.actor.trim().to_owned(),
            role: self.role.trim().to_owned(),
            action: self.action.trim().to_owned(),
            resource_type: self.resource_type.trim().to_owned(),
            resource_id: self.resource_id.trim().to_owned(),
            page_token: self.page_token,
            size: self.size.map(|s| s.clamp(1, MAX_PAGE_SIZE)),
        }
    }

    /// This filter's page at `page_token` ("" for the newest), as a URL.
    fn url(&self, page_token: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("actor", self.actor.as_str()),
            ("role", &self.role),
            ("action", &self.action),
            ("resource_type", &self.resource_type),
            ("resource_id", &self.resource_id),
            ("page_token", page_token),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        if let Some(size) = self.size {
            query.append_pair("size", &size.to_string());
        }
        format!("/admin/audit?{}", query.finish())
    }

    /// The newest page of this filter with one field replaced (the table's links).
    fn with(&self, field: &str, value: &str) -> String {
        let mut filter = self.clone();
        match field {
            "actor" => filter.actor = value.to_owned(),
            "action" => filter.action = value.to_owned(),
            "role" => filter.role = value.to_owned(),
            _ => {}
        }
        filter.url("")
    }

    fn any(&self) -> bool {
        [
            &self.actor,
            &self.role,
            &self.action,
            &self.resource_type,
            &self.resource_id,
        ]
        .iter()
        .any(|v| !v.is_empty())
    }
}

pub struct Event {
    pub time: String,
    /// The person's name, else their email, else the recorded principal.
    pub who: String,
    pub email: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub ok: bool,
    pub outcome: String,
    /// This filter narrowed to the event's actor, or its action.
    pub actor_filter: String,
    pub action_filter: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<Event>,
    filter: Filter,
    roles: &'static [&'static str],
    /// The next (older) page, when there is one.
    older: Option<String>,
    /// The newest page of this filter, when this is not it.
    newest: Option<String>,
    filtered: bool,
    clear: String,
}

pub async fn page(
    State(portal): State<Portal>,
    me: Me,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let filter = filter.trimmed();
    let listed = me
        .registry(&portal)?
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            actor: filter.actor.clone(),
            action: filter.action.clone(),
            resource_type: filter.resource_type.clone(),
            resource_id: filter.resource_id.clone(),
            role: filter.role.clone(),
            page_size: filter.size.unwrap_or(PAGE_SIZE),
            page_token: filter.page_token.clone(),
        })
        .await?
        .into_inner();
    let events = listed
        .events
        .into_iter()
        .map(|e| {
            let who = [&e.actor_name, &e.actor_email, &e.actor]
                .into_iter()
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_default();
            Event {
                time: exact_time(e.time.as_ref()),
                who,
                actor_filter: filter.with("actor", &e.actor),
                action_filter: filter.with("action", &e.action),
                email: if e.actor_name.is_empty() {
                    String::new()
                } else {
                    e.actor_email
                },
                ok: e.outcome == "ok",
                actor: e.actor,
                role: e.role,
                action: e.action,
                resource_type: e.resource_type,
                resource_id: e.resource_id,
                outcome: e.outcome,
            }
        })
        .collect();
    Ok(render(&AuditPage {
        layout: Layout::of(&portal, &me, "Audit log", "admin"),
        events,
        older: Some(listed.next_page_token)
            .filter(|t| !t.is_empty())
            .map(|t| filter.url(&t)),
        newest: Some(filter.url("")).filter(|_| !filter.page_token.is_empty()),
        filtered: filter.any(),
        clear: Filter {
            size: filter.size,
            ..Filter::default()
        }
        .url(""),
        roles: ROLES,
        filter,
    }))
}

/// An event's time to the second, in UTC.
fn exact_time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::Filter;

    #[test]
    fn page_links_carry_the_filter_and_the_token_encoded() {
        let filter = Filter {
            actor: "person:http://idp/sso#dana".into(),
            role: "developer".into(),
            size: Some(2),
            ..Filter::default()
        };
        assert_eq!(
            filter.url("abc/+="),
            "/admin/audit?actor=person%3Ahttp%3A%2F%2Fidp%2Fsso%23dana&role=developer&page_token=abc%2F%2B%3D&size=2"
        );
        assert_eq!(
            filter.with("action", "CreateApplication"),
            "/admin/audit?actor=person%3Ahttp%3A%2F%2Fidp%2Fsso%23dana&role=developer&action=CreateApplication&size=2"
        );
    }
}
