//! Test control of the SSO issuer's people (no authentication, like all of
//! `/__emulator/`): read a person, change their groups. Tokens issued from then on (the
//! next refresh, the next sign-in) carry the new groups; tokens issued before keep theirs.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::Person;
use crate::http::json;
use crate::state::EmulatorState;

/// Most groups a person may have, and the longest group name.
const MAX_GROUPS: usize = 100;
const MAX_GROUP_LEN: usize = 256;

fn shown(p: &Person) -> serde_json::Value {
    json!({ "login": p.login, "sub": p.login, "name": p.name, "email": p.email, "groups": p.groups })
}

fn no_such_person(login: &str) -> Response {
    json(
        StatusCode::NOT_FOUND,
        json!({ "error": format!("no person {login:?}") }),
    )
}

/// `GET /__emulator/sso/people/{login}`: the person without their password.
pub(super) async fn get_person(
    State(st): State<EmulatorState>,
    Path(login): Path<String>,
) -> Response {
    st.with(|w| match w.sso.person(&login) {
        Some(p) => json(StatusCode::OK, shown(p)),
        None => no_such_person(&login),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsSpec {
    groups: Vec<String>,
}

/// `POST /__emulator/sso/people/{login} {"groups": [...]}`: replaces the person's groups.
pub(super) async fn set_groups(
    State(st): State<EmulatorState>,
    Path(login): Path<String>,
    body: Bytes,
) -> Response {
    let spec: GroupsSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                json!({ "error": format!("invalid body: {e}") }),
            );
        }
    };
    if spec.groups.len() > MAX_GROUPS
        || spec
            .groups
            .iter()
            .any(|g| g.is_empty() || g.len() > MAX_GROUP_LEN)
    {
        return json(
            StatusCode::BAD_REQUEST,
            json!({ "error": format!("groups: at most {MAX_GROUPS} names of 1..{MAX_GROUP_LEN} characters") }),
        );
    }
    st.with_mut(
        |w| match w.sso.people.iter_mut().find(|p| p.login == login) {
            Some(p) => {
                p.groups = spec.groups;
                json(StatusCode::OK, shown(p))
            }
            None => no_such_person(&login),
        },
    )
}
