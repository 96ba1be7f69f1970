//! The SIGKILL storm: three registry-svc processes on one Postgres, a workload of
//! creates, regenerations, added and revoked credentials, updates and deletes spread over
//! an RFC 7591 IdP (node oidc-provider), the HTTP DCR bridge peer and Okta (the IdP
//! emulator), while a killer sends SIGKILL to a random replica at random moments and
//! starts it again. After the reconciler settled everything: each IdP holds exactly the
//! clients dcr's database says, every secret the API returned still works (or a later
//! call replaced it), and the drift report finds nothing unexplained.
//!
//! Bounded for CI: `DCR_STORM_OPERATIONS` (default 200) and `DCR_STORM_KILLS` (default
//! 12); `DCR_STORM_SEED` replays a run (the seed is printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod replicas;
mod slow_link;
mod verdict;
mod workload;

use std::collections::HashMap;
use std::time::Duration;

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{emulator, provider};
use dcr_testkit::peers::{self, INITIAL_ACCESS_TOKEN, bridge_provider, rfc7591_provider};
use dcr_testkit::registry::fresh_database;
use rand::{Rng as _, SeedableRng as _};

use replicas::Replicas;
use slow_link::slow_link;
use verdict::Peers;
use workload::{Idp, Workload};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How late each IdP answer reaches registry-svc (see slow_link.rs).
const ANSWER_DELAY: Duration = Duration::from_millis(40);

/// How long the reconciler may take to settle what the storm left.
const SETTLE_WITHIN: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_storm_leaves_every_idp_and_the_database_in_step() {
    let operations = setting("DCR_STORM_OPERATIONS", 200);
    let kills = setting("DCR_STORM_KILLS", 12);
    let seed = setting("DCR_STORM_SEED", rand::rng().random());
    println!("storm: {operations} operations, {kills} kills, seed {seed}");

    let oidc = peers::oidc_provider().await;
    let bridge = peers::http_bridge().await;
    let emu = emulator().await;
    let database_url = fresh_database().await;
    let mut replicas = Replicas::start(&database_url, 3).await;
    let clients = replicas.clients();
    // Creates at the RFC 7591 IdP, every bridge call and every Okta call pass a slow link
    // (RFC 7592 calls go to the client URI the IdP names, directly).
    let oidc_link = slow_link(&oidc.base_url, ANSWER_DELAY).await;
    let bridge_link = slow_link(&bridge.base_url, ANSWER_DELAY).await;
    let emulator_link = slow_link(&emu.root, ANSWER_DELAY).await;
    let mut rfc7591 = rfc7591_provider("oidc", &oidc.base_url, INITIAL_ACCESS_TOKEN);
    if let Some(pb::provider::Config::Rfc7591(config)) = &mut rfc7591.config {
        config.registration_endpoint = format!("{oidc_link}/reg");
    }
    let mut okta = provider(&emu, "okta");
    okta.issuer = okta.issuer.replace(&emu.root, &emulator_link);
    let mut strategies = HashMap::new();
    for (idp, config) in [
        (Idp::Rfc7591, rfc7591),
        (
            Idp::Bridge,
            bridge_provider("bridge", &bridge_link, (false, false, false)),
        ),
        (Idp::Okta, okta),
    ] {
        let (_, strategy, _) = clients[0].setup(config, true).await;
        strategies.insert(idp, strategy.id);
    }

    // The storm: the killer runs beside the workload until it has killed `kills` times,
    // mostly the replica serving the workload's latest call.
    let mut workload = Workload::new(clients.clone(), strategies.clone(), seed);
    let busy = workload.busy.clone();
    let killer = tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(1));
        for _ in 0..kills {
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
            let victim = if rng.random_bool(0.8) {
                busy.load(std::sync::atomic::Ordering::Relaxed)
            } else {
                rng.random_range(0..replicas.len())
            };
            replicas.kill_and_restart(victim).await;
        }
        replicas
    });
    for _ in 0..operations {
        workload.step().await;
    }
    let replicas = killer.await.expect("the killer");
    println!(
        "storm: {} SIGKILLs; calls answered {:?}, refused {:?}, unclear {:?}",
        replicas.kills, workload.tally.ok, workload.tally.refused, workload.tally.unclear
    );

    // Settled: no operation pending but the ones dcr already flagged for attention.
    let pool = sqlx::PgPool::connect(&database_url).await.expect("connect");
    settle(&pool).await;

    let db = verdict::database(&pool, &strategies).await;
    let peers = Peers {
        oidc: &oidc,
        bridge: &bridge,
        emulator: &emu,
    };
    let verdict = verdict::judge(&db, &workload.apps, &peers).await;
    let mut states: HashMap<&str, usize> = HashMap::new();
    for app in db.values() {
        *states.entry(app.state.as_str()).or_default() += 1;
    }
    println!(
        "storm: applications by state {states:?}; clients at the IdPs {:?}; secrets that work {}, \
         replaced secrets refused {}; orphans in the documented window {}; apps needing attention {}",
        verdict.clients_at_idps,
        verdict.secrets_working,
        verdict.secrets_refused_after_rotation,
        verdict.window_orphans,
        verdict.attention_apps
    );
    assert!(
        verdict.violations.is_empty(),
        "IdP state and database state differ (seed {seed}; logs in {}):\n{}",
        replicas.logs().display(),
        verdict.violations.join("\n")
    );
    doctor_agrees(&clients[0], &db).await;
}

/// Waits until every pending operation belongs to an application marked for attention.
async fn settle(pool: &sqlx::PgPool) {
    let deadline = tokio::time::Instant::now() + SETTLE_WITHIN;
    loop {
        let unsettled: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM idp_operations o JOIN applications a ON a.id = o.application_id
             WHERE o.state = 'pending' AND a.attention = ''",
        )
        .fetch_one(pool)
        .await
        .expect("count");
        let orphaned: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM idp_operations o
             WHERE o.state = 'pending'
               AND NOT EXISTS (SELECT 1 FROM applications a WHERE a.id = o.application_id)",
        )
        .fetch_one(pool)
        .await
        .expect("count");
        if unsettled + orphaned == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} operations still pending after {SETTLE_WITHIN:?}",
            unsettled + orphaned
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `dcrctl doctor`'s RPC finds nothing the verdict did not explain: no orphan it can
/// see, and clients missing or operations stuck only where dcr flagged attention.
async fn doctor_agrees(
    registry: &dcr_testkit::registry::RegistryClients,
    db: &std::collections::BTreeMap<String, verdict::DbApp>,
) {
    let report = registry
        .providers()
        .get_drift_report(pb::GetDriftReportRequest { repair: false })
        .await
        .expect("drift report")
        .into_inner();
    let flagged = |id: &str| db.get(id).is_some_and(|a| !a.attention.is_empty());
    for provider in &report.providers {
        let name = &provider.provider_name;
        assert!(provider.errors.is_empty(), "{name}: {:?}", provider.errors);
        assert!(
            provider.orphan_clients.is_empty(),
            "{name}: {:?}",
            provider.orphan_clients
        );
        for missing in &provider.missing_clients {
            assert!(flagged(&missing.application_id), "{name}: {missing:?}");
        }
        for stuck in &provider.stuck_operations {
            assert!(flagged(&stuck.application_id), "{name}: {stuck:?}");
        }
    }
    println!("storm: the drift report agrees (clean: {})", report.clean);
}
