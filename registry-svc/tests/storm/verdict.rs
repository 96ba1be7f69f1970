//! After the storm: what each IdP holds against what dcr's database says, and whether
//! every secret the API handed out still works, unless a later call replaced it.
//!
//! Two outcomes are not violations, because dcr reports them instead of hiding them:
//! - an orphan at an IdP that cannot be searched, whose application dcr marked FAILED
//!   with "before the IdP's answer was recorded" (a kill between the IdP's answer and the
//!   journal write, the window docs/operations.md names);
//! - an application marked for attention (a rotation or delete whose answer was lost).

use std::collections::{BTreeMap, HashMap, HashSet};

use dcr_testkit::emulator::{Emulator, idp_clients, token_status};
use dcr_testkit::peers::Peer;
use serde_json::Value;
use sqlx::Row as _;

use crate::workload::{AppRecord, IDPS, Idp};

/// An application as dcr's database has it.
#[derive(Debug)]
pub struct DbApp {
    pub idp: Idp,
    pub client_id: Option<String>,
    pub state: String,
    pub attention: String,
    pub failure_reason: String,
    /// Credential id -> still active.
    pub credentials: HashMap<String, bool>,
}

pub struct Peers<'a> {
    pub oidc: &'a Peer,
    pub bridge: &'a Peer,
    pub emulator: &'a Emulator,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub violations: Vec<String>,
    /// Orphans in the documented window (FAILED app, "may exist").
    pub window_orphans: usize,
    pub attention_apps: usize,
    pub clients_at_idps: BTreeMap<String, usize>,
    pub secrets_working: usize,
    pub secrets_refused_after_rotation: usize,
}

pub async fn database(
    pool: &sqlx::PgPool,
    strategies: &HashMap<Idp, String>,
) -> BTreeMap<String, DbApp> {
    let idp_of: HashMap<&str, Idp> = strategies.iter().map(|(i, s)| (s.as_str(), *i)).collect();
    let mut apps = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT id::text AS id, strategy_id::text AS strategy_id, client_id, state, attention,
                failure_reason FROM applications",
    )
    .fetch_all(pool)
    .await
    .expect("applications");
    for row in rows {
        let strategy: String = row.get("strategy_id");
        apps.insert(
            row.get::<String, _>("id"),
            DbApp {
                idp: idp_of[strategy.as_str()],
                client_id: row.get("client_id"),
                state: row.get("state"),
                attention: row.get("attention"),
                failure_reason: row.get("failure_reason"),
                credentials: HashMap::new(),
            },
        );
    }
    let rows = sqlx::query(
        "SELECT id::text AS id, application_id::text AS app, revoke_time IS NULL AS active
         FROM credentials",
    )
    .fetch_all(pool)
    .await
    .expect("credentials");
    for row in rows {
        if let Some(app) = apps.get_mut(&row.get::<String, _>("app")) {
            app.credentials.insert(row.get("id"), row.get("active"));
        }
    }
    apps
}

/// The clients an IdP holds that carry dcr's marker: client id -> application id.
async fn clients_at(idp: Idp, peers: &Peers<'_>) -> HashMap<String, String> {
    let marked = |list: Value, marker: fn(&Value) -> Option<String>| {
        list.as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|c| Some((c["client_id"].as_str()?.to_owned(), marker(c)?)))
            .collect()
    };
    match idp {
        Idp::Rfc7591 => marked(peers.oidc.get_json("/__test/clients").await, |c| {
            c["dcr_application_id"].as_str().map(str::to_owned)
        }),
        // Kong's bridge contract carries no application id: a client is known by its id.
        Idp::Bridge => marked(peers.bridge.get_json("/__test/clients").await, |_| {
            Some(String::new())
        }),
        Idp::Okta => marked(
            Value::Array(idp_clients(peers.emulator, "okta").await),
            |c| {
                let name = c["client_name"].as_str()?;
                let at = name.rfind("[dcr:")?;
                Some(name[at + 5..].trim_end_matches(']').to_owned())
            },
        ),
    }
}

async fn secret_works(idp: Idp, peers: &Peers<'_>, client_id: &str, secret: &str) -> bool {
    match idp {
        Idp::Rfc7591 => peers.oidc.client_credentials(client_id, secret).await.0 == 200,
        Idp::Bridge => peers.bridge.bridge_secret_valid(client_id, secret).await,
        Idp::Okta => token_status(peers.emulator, "okta", client_id, secret, "").await == 200,
    }
}

/// Whether a call on the application ended without an answer: only then may dcr have
/// flagged it for attention instead of being certain. Apps the ledger lost track of
/// (deleted with an unclear answer) count as unclear.
fn unclear(ledger: &BTreeMap<String, AppRecord>, app_id: &str) -> bool {
    ledger.get(app_id).is_none_or(|r| r.last_unclear > 0)
}

/// The documented window: the create's answer was never journaled.
fn in_the_window(app: Option<&DbApp>) -> bool {
    app.is_some_and(|a| {
        a.state == "FAILED"
            && a.failure_reason
                .contains("before the IdP's answer was recorded")
    })
}

pub async fn judge(
    db: &BTreeMap<String, DbApp>,
    ledger: &BTreeMap<String, AppRecord>,
    peers: &Peers<'_>,
) -> Verdict {
    let mut verdict = Verdict {
        attention_apps: db.values().filter(|a| !a.attention.is_empty()).count(),
        ..Verdict::default()
    };
    for idp in IDPS {
        let at_idp = clients_at(idp, peers).await;
        verdict
            .clients_at_idps
            .insert(format!("{idp:?}"), at_idp.len());
        let live: HashSet<&str> = db
            .values()
            .filter(|a| a.idp == idp && (a.state == "ACTIVE" || a.state == "DELETING"))
            .filter_map(|a| a.client_id.as_deref())
            .collect();
        // Where the IdP keeps no marker, each application that failed in the window may
        // account for one orphan.
        let mut unmarked_window = db
            .values()
            .filter(|a| a.idp == idp && in_the_window(Some(a)))
            .count();
        for (client_id, app_id) in &at_idp {
            if live.contains(client_id.as_str()) {
                continue;
            }
            if in_the_window(db.get(app_id)) {
                verdict.window_orphans += 1;
            } else if app_id.is_empty() && unmarked_window > 0 {
                unmarked_window -= 1;
                verdict.window_orphans += 1;
            } else {
                verdict.violations.push(format!(
                    "{idp:?}: orphan client {client_id} of application {app_id} ({:?})",
                    db.get(app_id).map(|a| (&a.state, &a.failure_reason))
                ));
            }
        }
        for (app_id, app) in db.iter().filter(|(_, a)| a.idp == idp) {
            let Some(client_id) = app.client_id.as_deref() else {
                continue;
            };
            let excused = !app.attention.is_empty() || app.state == "DELETING";
            let explained = excused && unclear(ledger, app_id);
            if !at_idp.contains_key(client_id) && !explained {
                verdict.violations.push(format!(
                    "{idp:?}: application {app_id} ({}, attention {:?}) has client {client_id}, which the IdP does not",
                    app.state, app.attention
                ));
            }
        }
    }
    check_secrets(db, ledger, peers, &mut verdict).await;
    verdict
}

/// Every secret the API returned works while dcr lists its credential as active; one a
/// later regeneration or revocation replaced is refused where the IdP revokes secrets
/// (the bridge cannot revoke one secret: dcr refuses it itself).
async fn check_secrets(
    db: &BTreeMap<String, DbApp>,
    ledger: &BTreeMap<String, AppRecord>,
    peers: &Peers<'_>,
    verdict: &mut Verdict,
) {
    for (app_id, record) in ledger {
        let Some(app) = db.get(app_id) else {
            continue;
        };
        let (Some(client_id), "ACTIVE") = (app.client_id.as_deref(), app.state.as_str()) else {
            continue;
        };
        for (credential_id, (secret, returned_at)) in &record.secrets {
            let Some(&active) = app.credentials.get(credential_id) else {
                // The API answered, yet dcr has no such credential: it was lost.
                verdict.violations.push(format!(
                    "application {app_id}: credential {credential_id} was returned by the API but is not in the database"
                ));
                continue;
            };
            let works = secret_works(app.idp, peers, client_id, secret).await;
            match (active, works) {
                (true, true) => verdict.secrets_working += 1,
                (false, false) => verdict.secrets_refused_after_rotation += 1,
                (false, true) if app.idp == Idp::Bridge => {}
                // A later call that got no answer may have replaced it at the IdP; then
                // dcr must have flagged the application.
                _ if record.last_unclear > *returned_at && !app.attention.is_empty() => {}
                (true, false) => verdict.violations.push(format!(
                    "{:?}: application {app_id}: active credential {credential_id}'s secret no longer works",
                    app.idp
                )),
                (false, true) => verdict.violations.push(format!(
                    "{:?}: application {app_id}: revoked credential {credential_id}'s secret still works at the IdP",
                    app.idp
                )),
            }
        }
    }
}
