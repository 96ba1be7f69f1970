//! Microsoft Graph `servicePrincipals`: an application needs one in the tenant before it
//! can get tokens (as client) or be named as a resource.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::graph::{authorize, bad_request, denied, graph_error, with_context};
use super::graph_query::{Clause, parse_filter};
use super::{Application, ServicePrincipal};
use crate::http::{json, json_object, query_map};
use crate::seed::ENTRA_TENANT_ID;
use crate::state::EmulatorState;

fn sp_json(sp: &ServicePrincipal, app: Option<&Application>) -> Map<String, Value> {
    let name = app.map(|a| a.display_name.clone()).unwrap_or_default();
    let mut names = vec![sp.app_id.clone()];
    if let Some(a) = app {
        names.extend(a.identifier_uris.iter().cloned());
    }
    let mut out = Map::new();
    for (k, v) in [
        ("id", json!(sp.id)),
        ("deletedDateTime", Value::Null),
        ("accountEnabled", json!(true)),
        ("appDisplayName", json!(name)),
        ("appId", json!(sp.app_id)),
        ("appOwnerOrganizationId", json!(ENTRA_TENANT_ID)),
        ("appRoleAssignmentRequired", json!(false)),
        ("displayName", json!(name)),
        ("servicePrincipalNames", json!(names)),
        ("servicePrincipalType", json!("Application")),
        (
            "signInAudience",
            json!(
                app.map(|a| a.sign_in_audience.clone())
                    .unwrap_or_else(|| "AzureADMyOrg".into())
            ),
        ),
        ("tags", json!([])),
        ("appRoles", json!([])),
        ("oauth2PermissionScopes", json!([])),
    ] {
        out.insert(k.into(), v);
    }
    out
}

/// Create the service principal of an application (`{"appId": ...}`); an app needs one
/// before it can get tokens. 201; 409 if it exists.
/// Follows <https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-serviceprincipals?view=graph-rest-1.0>.
pub(super) async fn create_sp(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let caller = match authorize(w, &urls, &headers, true) {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        let Some(app_id) = json_object(&body).and_then(|b| b.get("appId").and_then(Value::as_str).map(str::to_string)) else {
            return bad_request("Invalid value specified for property 'appId' of resource 'ServicePrincipal'.");
        };
        let Some(idx) = w.entra.apps.iter().position(|a| a.app_id.eq_ignore_ascii_case(&app_id)) else {
            return bad_request(&format!("The appId '{app_id}' of the service principal does not reference a valid application object."));
        };
        if !caller.all && !w.entra.apps[idx].owners.contains(&caller.sp_id) {
            return denied();
        }
        if w.entra.sp_for(&app_id).is_some() {
            return graph_error(
                StatusCode::CONFLICT,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property servicePrincipalNames already exists.",
            );
        }
        let app = &w.entra.apps[idx];
        let sp = ServicePrincipal { id: crate::ids::guid(), app_id: app.app_id.clone() };
        let out = with_context(sp_json(&sp, Some(app)), format!("{}/$metadata#servicePrincipals/$entity", urls.graph_v1()));
        w.entra.sps.push(sp);
        json(StatusCode::CREATED, out)
    })
}

/// List service principals; `$filter=appId eq '...'` narrows to one application's.
/// Follows <https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list?view=graph-rest-1.0>.
pub(super) async fn list_sps(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let urls = st.urls().clone();
    let q = query_map(raw.as_deref());
    st.with(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, false) {
            return resp;
        }
        let app_id = match q.get("$filter").map(|f| parse_filter(f)) {
            None => None,
            Some(Ok(c)) => match c.as_slice() {
                [Clause::Eq(p, v)] if p == "appId" => Some(v.clone()),
                _ => {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "Request_UnsupportedQuery",
                        "Unsupported or invalid query filter clause specified for resource 'ServicePrincipal'.",
                    );
                }
            },
            Some(Err(bad)) => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    &format!("Unsupported or invalid query filter clause specified for property '{bad}' of resource 'ServicePrincipal'."),
                );
            }
        };
        let items: Vec<Value> = w
            .entra
            .sps
            .iter()
            .filter(|s| app_id.as_ref().is_none_or(|id| s.app_id.eq_ignore_ascii_case(id)))
            .map(|s| Value::Object(sp_json(s, w.entra.app_by_app_id(&s.app_id))))
            .collect();
        json(StatusCode::OK, json!({ "@odata.context": format!("{}/$metadata#servicePrincipals", urls.graph_v1()), "value": items }))
    })
}
