//! The issue's words: "a test starts the exact commands and env the compose file gives
//! each service, as local processes, and runs the walkthrough against them".
//!
//! docker-compose.yml is read as compose reads it (merge keys, `${VAR}` substitution with
//! the values a user exports, the demo profile). Each dcr service runs its `command` with
//! exactly its `environment` (plus the image's `ENV` and a PATH to target/debug, where the
//! image has /usr/local/bin). What cannot be the same on one host is rewritten, generically
//! from the parsed file (e2e/src/rewrite.rs): service host names -> 127.0.0.1, each
//! (service, port) -> a free port, the Postgres container -> a throwaway database. The
//! images the test does not build stand in locally: Envoy from PyPI runs the envoy
//! service's own command; the echo upstream is e2e/src/echo.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dcr_e2e::compose::{Compose, Service, image_env};
use dcr_e2e::interpolate::Vars;
use dcr_e2e::process::{Env, POLL, Proc};
use dcr_e2e::rewrite::{Rewrite, mounted};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a user exports before `docker compose --profile demo up` (README).
fn user_exports() -> Vars {
    [
        ("POSTGRES_PASSWORD", "e2e-postgres-password"),
        (
            "DCR_MASTER_KEY",
            "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
        ),
        (
            "DCR_SESSION_SECRET",
            "c2Vzc2lvbnNlc3Npb25zZXNzaW9uc2Vzc2lvbnNlc3M=",
        ),
        ("DCR_ADMIN_TOKEN", "e2e-admin-token-0123456789"),
        ("DCR_PORTAL_TOKEN", "e2e-portal-token-0123456789"),
        ("DCR_SERVICE_TOKEN", "e2e-service-token-0123456789"),
        ("DCR_GATEWAY_TOKEN", "e2e-gateway-token-0123456789"),
        ("DCR_ALLOW_HTTP_HOSTS", "idp-emulator"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// target/debug (the test binary is target/debug/deps/compose-*).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// The compose file's binaries, built the way the test run builds the workspace (tests
/// included, so with the same features): after `scripts/test`'s build this is a no-op,
/// where `cargo build -p ...` would rebuild them with another feature set. Run alone, it
/// builds what is missing.
fn build(binaries: &BTreeSet<String>) {
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo
        .current_dir(root())
        .args(["test", "--no-run", "--workspace", "--quiet"]);
    // The variables cargo and nextest set for this test process are inputs of some build
    // scripts' fingerprints: passed on, they would make this build redo the test run's.
    // The ones a user sets to choose the build (incremental, profile, target) are kept.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = (name.starts_with("CARGO_")
            && !matches!(
                &*name,
                "CARGO_HOME" | "CARGO_TARGET_DIR" | "CARGO_INCREMENTAL"
            )
            && !name.starts_with("CARGO_BUILD_")
            && !name.starts_with("CARGO_PROFILE_"))
            || name.starts_with("NEXTEST")
            || name.starts_with("__NEXTEST")
            || name == "LD_LIBRARY_PATH"
            || name == "OUT_DIR";
        if set_for_tests {
            cargo.env_remove(&*name);
        }
    }
    let status = cargo.status().expect("run cargo");
    assert!(status.success(), "cargo build of {binaries:?} failed");
    for binary in binaries {
        assert!(
            bin_dir().join(binary).exists(),
            "{binary} is not a binary of this workspace"
        );
    }
}

/// A service ready to start: its command, environment and health check, rewritten.
struct Prepared {
    argv: Vec<String>,
    env: Env,
    health: Option<Vec<String>>,
}

fn prepare(service: &Service, rewrite: &mut Rewrite, base_env: &Env, scratch: &Path) -> Prepared {
    let name = &service.name;
    let mut mounts: Vec<(String, PathBuf)> = service
        .mounts
        .iter()
        .map(|(host, container)| {
            let copy = rewrite
                .mount(name, (host, container), &service.argv, scratch)
                .expect("copy mount");
            (container.clone(), copy)
        })
        .collect();
    // A named volume is one folder every service that mounts it shares.
    for (volume, container) in &service.volumes {
        let dir = volume_dir(scratch, volume);
        std::fs::create_dir_all(&dir).expect("volume folder");
        mounts.push((container.clone(), dir));
    }
    let mut text = |value: &str| mounted(&rewrite.text(name, value).expect("rewrite"), &mounts);
    let argv = service.argv.iter().map(|a| text(a)).collect();
    let mut env = base_env.clone();
    for (key, value) in &service.environment {
        env.insert(key.clone(), text(value));
    }
    let health = service
        .healthcheck
        .as_ref()
        .map(|check| check.iter().map(|a| text(a)).collect());
    Prepared { argv, env, health }
}

/// The local folder standing for the named volume `volume`.
fn volume_dir(scratch: &Path, volume: &str) -> PathBuf {
    scratch.join("volumes").join(volume)
}

async fn http_status(client: &reqwest::Client, url: &str) -> Option<u16> {
    client
        .get(url)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_profile_runs_as_local_processes() {
    let file = root().join("docker-compose.yml");
    let vars = user_exports();

    // `docker compose up` without a profile is the deployment, unchanged by the demo.
    let default = Compose::load(&file, &vars, &[]).expect("load compose file");
    assert_eq!(
        default.services.keys().collect::<Vec<_>>(),
        ["authz", "make-certs", "postgres", "registry", "token"]
    );
    let compose = Compose::load(&file, &vars, &["demo"]).expect("load the demo profile");
    let order = compose.start_order().expect("depends_on order");
    println!("start order: {order:?}");

    let binaries: BTreeSet<String> = compose
        .services
        .values()
        .filter(|s| !s.image_only)
        .filter_map(|s| s.argv.first().cloned())
        .collect();
    build(&binaries);

    let scratch = std::env::temp_dir().join(format!("dcr-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut rewrite = Rewrite::new(compose.services.keys().cloned());
    rewrite.stand_in("postgres", &dcr_testkit::registry::fresh_database().await);

    // The image's environment, and PATH where the image has its binaries.
    let mut image = image_env(&root().join("Dockerfile")).expect("Dockerfile ENV");
    image.insert(
        "PATH".into(),
        format!("{}:/usr/bin:/bin", bin_dir().display()),
    );
    let envoy_bin = PathBuf::from(
        std::env::var("DCR_TEST_ENVOY")
            .expect("DCR_TEST_ENVOY: run scripts/test, which installs Envoy"),
    );
    let envoy_env = Env::from([
        (
            "PATH".into(),
            format!("{}:/usr/bin:/bin", envoy_bin.parent().unwrap().display()),
        ),
        // The container's /tmp is its own; here each run gets a private one.
        ("TMPDIR".into(), scratch.display().to_string()),
    ]);

    // Published ports first: a redirect URI of `localhost:8090` in another service's
    // settings is the portal's, as it is for a browser on the host.
    for service in compose.services.values() {
        for (host, container) in &service.ports {
            rewrite.publish(&service.name, *host, *container).unwrap();
        }
    }
    let mut prepared = std::collections::BTreeMap::new();
    for name in &order {
        let service = &compose.services[name];
        let base = if name == "envoy" { &envoy_env } else { &image };
        prepared.insert(name.clone(), prepare(service, &mut rewrite, base, &scratch));
    }
    // Ports a user reaches on localhost (`ports:`), here the services' local ports.
    let mut published = std::collections::BTreeMap::new();
    for service in compose.services.values() {
        for (host, container) in &service.ports {
            published.insert(*host, rewrite.port(&service.name, *container).unwrap());
        }
    }
    println!("{rewrite}");

    let logs = scratch.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    refuses_a_gateway_token_it_cannot_put_in_envoys_config(&prepared["envoy"], &logs).await;
    let mut running: Vec<Proc> = Vec::new();
    let mut upstream = Vec::new();
    for name in &order {
        let service = &compose.services[name];
        let p = &prepared[name];
        match name.as_str() {
            "postgres" => continue, // the throwaway database above
            "upstream" => {
                for port in rewrite.ports_of("upstream") {
                    upstream.push(dcr_e2e::echo::serve(port).await.expect("echo upstream"));
                }
                continue;
            }
            _ => {}
        }
        assert!(
            !service.image_only || name == "envoy",
            "no local stand-in for the image of service {name}"
        );
        println!("starting {name}: {:?}", p.argv);
        let mut proc = Proc::spawn(name, &p.argv, &p.env, &logs).expect("spawn");
        if service.one_shot {
            let status = proc
                .wait(Duration::from_secs(120))
                .await
                .expect("one-shot job");
            assert!(
                status.success(),
                "{name} failed ({status}):\n{}",
                proc.log()
            );
            println!("{name} done:\n{}", proc.log());
            continue;
        }
        if let Some(check) = &p.health {
            proc.wait_healthy(check, &p.env, Duration::from_secs(100))
                .await
                .expect("healthy");
            println!("{name} healthy");
        }
        running.push(proc);
    }

    // Envoy has no health check in the file; it serves once its listener accepts.
    let gateway = format!("http://127.0.0.1:{}", published[&10000]);
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let unauthenticated = loop {
        if let Some(status) = http_status(&client, &format!("{gateway}/orders")).await {
            break status;
        }
        let envoy = running.iter_mut().find(|p| p.name == "envoy").unwrap();
        envoy.alive().expect("envoy runs");
        assert!(
            tokio::time::Instant::now() < deadline,
            "envoy did not listen:\n{}",
            envoy.log()
        );
        tokio::time::sleep(POLL).await;
    };
    assert_eq!(
        unauthenticated, 401,
        "a request without credentials is refused"
    );

    // The walkthrough, pasted into the shell of a user who exported the README's values
    // and reaches the published ports on localhost.
    let mut shell = vars.clone();
    shell.extend([
        ("PATH".to_owned(), image["PATH"].clone()),
        ("HOME".to_owned(), scratch.display().to_string()),
        ("DCR_DEVELOPER_ID".to_owned(), "dev-alice".to_owned()),
        (
            "DCR_REGISTRY_URL".to_owned(),
            format!("https://127.0.0.1:{}", published[&50051]),
        ),
        (
            "DCR_TOKEN_URL".to_owned(),
            format!("https://127.0.0.1:{}", published[&50052]),
        ),
        (
            "DCR_AUTHZ_URL".to_owned(),
            format!("https://127.0.0.1:{}", published[&50053]),
        ),
    ]);
    // What `docker compose cp make-certs:/certs/set ./dcr-certs` gives the user (README).
    let certs = volume_dir(&scratch, "certs").join("set");
    for (var, file) in [
        ("DCR_TLS_CA_FILE", "ca.pem"),
        ("DCR_TLS_CLIENT_CERT_FILE", "client.pem"),
        ("DCR_TLS_CLIENT_KEY_FILE", "client-key.pem"),
    ] {
        shell.insert(var.to_owned(), certs.join(file).display().to_string());
    }
    let script = root().join("deploy/demo/walkthrough.sh");
    let walkthrough = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; . '{}'; printf '\\n@app=%s\\n@client=%s\\n@token=%s\\n' \"$DCR_APP_ID\" \"$DCR_CLIENT_ID\" \"$DCR_ACCESS_TOKEN\"",
            script.display()
        ))
        .env_clear()
        .envs(&shell)
        .output()
        .await
        .expect("run the walkthrough");
    let out = String::from_utf8_lossy(&walkthrough.stdout).into_owned();
    let err = String::from_utf8_lossy(&walkthrough.stderr).into_owned();
    let value = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("@{key}=")))
            .unwrap_or_default()
            .to_owned()
    };
    let (app, client_id, token) = (value("app"), value("client"), value("token"));
    // The access token stays out of the test's output.
    let shown = match token.is_empty() {
        true => out.clone(),
        false => out.replace(&token, "<token>"),
    };
    println!("walkthrough:\n{}\n{err}", shown.trim_end());
    assert!(walkthrough.status.success(), "the walkthrough failed");
    // Each step's visible result: 1. the app (its ids in the shell), 2. its registration,
    // approved at once, 3. a JWT, 4. ALLOW for the app, 5. the audit trail of it all.
    assert!(
        !app.is_empty() && !client_id.is_empty(),
        "the app was created"
    );
    let line_with = |words: &[&str]| shown.lines().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(
        line_with(&["REGISTRATION_STATUS_APPROVED"]) && line_with(&["application_id", &app]),
        "the registration was approved"
    );
    assert_eq!(token.split('.').count(), 3, "a JWT access token was issued");
    assert!(
        line_with(&["ALLOW"]) && line_with(&["application", &app]),
        "the check allowed the app"
    );
    assert!(
        line_with(&["CreateApplication", &app, "ok"]) && line_with(&["CreateRegistration", "ok"]),
        "the audit shows the app and its registration"
    );

    // Through the gateway: the token reaches the upstream, which sees the app.
    let answer = client
        .get(format!("{gateway}/orders/42"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("call through envoy");
    assert_eq!(answer.status(), 200);
    let echoed: serde_json::Value = answer.json().await.expect("echo JSON");
    assert_eq!(echoed["path"], "/orders/42");
    assert_eq!(echoed["headers"]["x-dcr-application-id"], app.as_str());
    assert_eq!(echoed["headers"]["x-dcr-client-id"], client_id.as_str());
    let refused = client
        .get(format!("{gateway}/orders/42"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers().contains_key("www-authenticate"),
        "a denial says how to authenticate"
    );

    // The Dev Portal: its sign-in goes to the emulator's OpenID provider as the client the
    // emulator was started with (`--sso-client`), whose login page accepts it.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.join("ca.pem")).unwrap()).unwrap();
    let browser = reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let portal = format!("https://localhost:{}", published[&8090]);
    let health = browser
        .get(format!("{portal}/healthz"))
        .send()
        .await
        .expect("portal health");
    assert_eq!(health.status(), 200);
    let login = browser
        .get(format!("{portal}/login"))
        .send()
        .await
        .expect("portal login");
    assert_eq!(login.status(), 303);
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        authorize.contains("/sso/authorize?") && authorize.contains("client_id=dcr-portal"),
        "{authorize}"
    );
    let page = browser
        .get(&authorize)
        .send()
        .await
        .expect("the emulator's login page");
    let status = page.status();
    let body = page.text().await.unwrap_or_default();
    assert_eq!(
        status, 200,
        "the emulator refused the portal's sign-in: {body}"
    );
    assert!(body.contains("name=\"password\""), "{body}");

    // `docker compose stop`: SIGTERM, in reverse order; each drains and exits 0.
    for proc in running.into_iter().rev() {
        let name = proc.name.clone();
        let log = proc.log_path().to_owned();
        let status = proc.terminate(Duration::from_secs(30)).await.expect("stop");
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            status.success(),
            "{name} exited with {status} on SIGTERM:\n{log}"
        );
    }
    for task in upstream {
        task.abort();
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The envoy service's start refuses a token that its substitution or Envoy's YAML
/// would mangle, saying why, instead of running with a broken config.
async fn refuses_a_gateway_token_it_cannot_put_in_envoys_config(envoy: &Prepared, logs: &Path) {
    let mut env = envoy.env.clone();
    env.insert("DCR_GATEWAY_TOKEN".into(), "abc|def&\\".into());
    let mut proc = Proc::spawn("envoy-bad-token", &envoy.argv, &env, logs).expect("spawn");
    let status = proc.wait(Duration::from_secs(30)).await.expect("exits");
    assert_eq!(status.code(), Some(2), "{}", proc.log());
    assert!(
        proc.log().contains("DCR_GATEWAY_TOKEN may hold only"),
        "{}",
        proc.log()
    );
}
