//! What issue #17 asked to polish, as a user sees it: env output that still tells the
//! person what happened, tables with names instead of ids, errors that name dcrctl's
//! commands and say things once, huge input cut in messages, a short error for a missing
//! --app, shell completions, and logs without colour codes in a pipe.

use std::process::Stdio;
use std::time::Duration;

use dcr_idp_emulator::Emulator;
use dcr_idp_emulator::seed::OKTA_API_TOKEN;
use dcr_testkit::emulator::emulator;
use dcr_testkit::registry::{ADMIN_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, TestApp, spawn_app};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

use crate::{Dcrctl, Run};

/// registry-svc with an Okta provider "okta" at the IdP emulator, a strategy "partners"
/// (scopes read and write) and a product "orders-api"; the CLI has the admin and portal
/// tokens and acts for developer dev-1.
async fn stack() -> (TestApp, Emulator, Dcrctl) {
    let app = spawn_app().await;
    let emu = emulator().await;
    let cli = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &app.url)
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("DCR_PORTAL_TOKEN", PORTAL_TOKEN)
        .env("DCR_DEVELOPER_ID", "dev-1")
        .env("OKTA_TOKEN", OKTA_API_TOKEN);
    let issuer = emu.urls.okta_issuer();
    let steps: [&[&str]; 3] = [
        &[
            "providers",
            "create",
            "okta",
            "--type",
            "okta",
            "--issuer",
            &issuer,
            "--secret-from-env",
            "dcr_token=OKTA_TOKEN",
        ],
        &[
            "strategies",
            "create",
            "partners",
            "--provider",
            "okta",
            "--scope",
            "read",
            "--scope",
            "write",
        ],
        &["products", "create", "orders-api", "--strategy", "partners"],
    ];
    for step in steps {
        cli.run(step).await.ok();
    }
    (app, emu, cli)
}

/// `apps create shop --output env`, evaluated: the CLI then has DCR_APP_ID and friends.
async fn create_shop(cli: &Dcrctl) -> (Run, Dcrctl) {
    let created = cli
        .run(&[
            "apps",
            "create",
            "shop",
            "--strategy",
            "partners",
            "--output",
            "env",
        ])
        .await;
    let evaluated = cli.clone().eval(&created);
    (created, evaluated)
}

/// Runs `script` in bash with `OUT` set to `output`, to try `eval "$(dcrctl ...)"`. The
/// output goes through a file: a completion script is too long for one variable of the
/// environment.
fn bash(script: &str, output: &str) -> String {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), output).expect("write output");
    let run = std::process::Command::new("bash")
        .args(["-c", &format!("OUT=$(cat \"$OUT_FILE\"); {script}")])
        .env("OUT_FILE", file.path())
        .output()
        .expect("run bash");
    assert!(run.status.success(), "bash failed: {run:?}");
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[tokio::test]
async fn env_output_is_evaluable_and_tells_the_person_on_stderr() {
    let (app, _emu, cli) = stack().await;
    let (created, cli) = create_shop(&cli).await;
    // stdout is only for eval: it sets the variables and prints nothing itself.
    let evaluated = bash(
        r#"eval "$OUT" && printf '%s %s' "$DCR_APP_ID" "$DCR_CLIENT_ID""#,
        created.ok(),
    );
    let (id, client_id) = (
        cli.var("DCR_APP_ID").to_owned(),
        cli.var("DCR_CLIENT_ID").to_owned(),
    );
    assert_eq!(evaluated, format!("{id} {client_id}"));
    assert_eq!(
        created.stderr.trim_end(),
        format!(
            "created application \"shop\" (id {id}, client id {client_id}); the secret is \
             shown only this once: keep DCR_CLIENT_SECRET"
        )
    );

    let regenerated = cli
        .run(&["credentials", "regenerate", "--output", "env"])
        .await;
    let cli = cli.eval(&regenerated);
    // The new credential is the newest: ids are UUIDv7, in time order.
    let credentials = cli.run(&["credentials", "list", "-o", "json"]).await.json();
    let credential = credentials
        .as_array()
        .and_then(|all| all.iter().filter_map(|c| c["id"].as_str()).max())
        .expect("a credential")
        .to_owned();
    assert_eq!(
        regenerated.stderr.trim_end(),
        format!(
            "replaced the secret of app \"{id}\" (credential id {credential}, client id \
             {client_id}); the old secret no longer works; the new one is shown only this \
             once: keep DCR_CLIENT_SECRET"
        )
    );
    let added = cli.run(&["credentials", "add", "--output", "env"]).await;
    assert!(
        bash(
            r#"eval "$OUT" && printf %s "$DCR_CLIENT_SECRET""#,
            added.ok()
        )
        .len()
            > 8,
        "{added:?}"
    );
    assert!(
        added.stderr.starts_with(&format!(
            "added a credential to app \"{id}\" (credential id "
        )) && added
            .stderr
            .contains("the new secret is shown only this once: keep DCR_CLIENT_SECRET"),
        "{added:?}"
    );
    app.stop().await;
}

/// The cells of the table row that contains `needle`.
fn row<'a>(run: &'a Run, needle: &str) -> Vec<&'a str> {
    run.ok()
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?}: {run:?}"))
        .split_whitespace()
        .collect()
}

fn header(run: &Run) -> Vec<&str> {
    run.ok()
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn tables_show_names_and_wide_adds_the_ids() {
    let (app, _emu, cli) = stack().await;
    let (_, cli) = create_shop(&cli).await;
    let app_id = cli.var("DCR_APP_ID").to_owned();
    cli.run(&[
        "products",
        "create",
        "billing-api",
        "--strategy",
        "partners",
    ])
    .await
    .ok();
    let orders = cli
        .run(&[
            "registrations",
            "create",
            "--product",
            "orders-api",
            "-o",
            "json",
        ])
        .await
        .json();
    let billing = cli
        .run(&[
            "registrations",
            "create",
            "--product",
            "billing-api",
            "--scope",
            "read",
            "-o",
            "json",
        ])
        .await
        .json();
    let (orders_id, product_id) = (
        orders["id"].as_str().expect("id"),
        orders["product_id"].as_str().expect("product"),
    );
    let strategy_id = cli
        .run(&["strategies", "get", "partners", "-o", "json"])
        .await
        .json()["id"]
        .as_str()
        .expect("strategy id")
        .to_owned();

    // The admin with the developer's portal token: every name is known. A registration
    // without scopes of its own has the strategy's.
    let listed = cli.run(&["registrations", "list"]).await;
    assert_eq!(
        header(&listed),
        [
            "ID",
            "APPLICATION",
            "PRODUCT",
            "STATUS",
            "SCOPES",
            "CREATED"
        ]
    );
    let cells = row(&listed, orders_id);
    assert_eq!(
        cells[1..5],
        ["shop", "orders-api", "PENDING", "read,write"],
        "{listed:?}"
    );
    assert_eq!(cells[5], "(the", "{listed:?}");
    let billing_row = row(&listed, billing["id"].as_str().expect("id"));
    assert_eq!(
        billing_row[1..5],
        ["shop", "billing-api", "PENDING", "read"]
    );
    assert!(!listed.ok().contains(&app_id), "no app ids: {listed:?}");

    let wide = cli.run(&["registrations", "list", "--wide"]).await;
    assert_eq!(
        header(&wide)[1..5],
        ["APPLICATION", "APPLICATION_ID", "PRODUCT", "PRODUCT_ID"]
    );
    assert_eq!(
        row(&wide, orders_id)[1..5],
        ["shop", app_id.as_str(), "orders-api", product_id]
    );

    // A developer without the admin token: the product's name and scopes come from the
    // directory (service token); without that too, the product's id.
    let developer = cli.clone().without("DCR_ADMIN_TOKEN");
    let own = developer
        .clone()
        .env("DCR_SERVICE_TOKEN", SERVICE_TOKEN)
        .run(&["registrations", "list", "--app", "shop"])
        .await;
    assert_eq!(
        row(&own, orders_id)[1..5],
        ["shop", "orders-api", "PENDING", "read,write"]
    );
    let bare = developer
        .run(&["registrations", "list", "--app", "shop"])
        .await;
    assert_eq!(
        row(&bare, orders_id)[1..6],
        ["shop", product_id, "PENDING", "(the", "strategy's)"]
    );

    // Apps, products and strategies name what they refer to.
    let apps = cli.run(&["apps", "list"]).await;
    assert_eq!(row(&apps, "shop")[2], "partners", "{apps:?}");
    assert!(!apps.ok().contains(&strategy_id), "{apps:?}");
    let apps = cli.run(&["apps", "list", "--wide"]).await;
    assert_eq!(row(&apps, "shop")[2..4], ["partners", strategy_id.as_str()]);
    let products = cli.run(&["products", "list"]).await;
    assert_eq!(row(&products, "orders-api")[2], "partners", "{products:?}");
    let strategies = cli.run(&["strategies", "list", "--wide"]).await;
    assert_eq!(header(&strategies)[2..4], ["PROVIDER", "PROVIDER_ID"]);
    assert_eq!(row(&strategies, "partners")[2], "okta", "{strategies:?}");
    // JSON keeps the ids.
    let json = cli.run(&["apps", "list", "-o", "json"]).await.json();
    assert_eq!(json[0]["strategy_id"], strategy_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn errors_name_dcrctl_commands_and_say_things_once() {
    let (app, _emu, cli) = stack().await;
    let (_, cli) = create_shop(&cli).await;
    cli.run(&["registrations", "create", "--product", "orders-api"])
        .await
        .ok();

    let again = cli
        .run(&["apps", "create", "shop", "--strategy", "partners"])
        .await;
    assert_eq!(
        again.fails(1).trim_end(),
        "error: create app \"shop\": application named \"shop\" already exists"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = cli.run(&["registrations", "delete", &unknown]).await;
    assert_eq!(
        missing.fails(1).trim_end(),
        format!("error: registration {unknown} not found")
    );

    // In use: by whom, and dcrctl's commands to do something about it.
    let strategy = cli.run(&["strategies", "delete", "partners"]).await;
    assert_eq!(
        strategy.fails(1).trim_end(),
        "error: strategy \"partners\" is used by product \"orders-api\" and application \
         \"shop\": point those products at another strategy (`dcrctl products update`) or \
         delete them (`dcrctl products delete`); those applications must be deleted first \
         (`dcrctl apps delete`)"
    );
    let provider = cli.run(&["providers", "delete", "okta"]).await;
    assert_eq!(
        provider.fails(1).trim_end(),
        "error: provider \"okta\" is used by strategy \"partners\": delete those strategies \
         first (`dcrctl strategies delete`)"
    );
    let product = cli.run(&["products", "delete", "orders-api"]).await;
    assert_eq!(
        product.fails(1).trim_end(),
        "error: product \"orders-api\" is used by the registration of application \"shop\": \
         those registrations must be deleted first (`dcrctl registrations delete`)"
    );

    // The registry names its methods; dcrctl says which command to run.
    let only = cli.run(&["credentials", "list", "-o", "json"]).await.json()[0]["id"]
        .as_str()
        .expect("credential id")
        .to_owned();
    let revoke = cli.run(&["credentials", "revoke", &only]).await;
    let message = revoke.fails(1);
    assert!(
        message
            .contains("use `dcrctl credentials regenerate` to replace it, or `dcrctl apps delete`")
            && !message.contains("RegenerateSecret"),
        "{message}"
    );
    app.stop().await;
}

#[tokio::test]
async fn huge_input_is_cut_in_every_message() {
    let (app, _emu, cli) = stack().await;
    let (_, cli) = create_shop(&cli).await;
    let huge = format!("{}\n", "x".repeat(129_999));
    let cut = format!("\"{}... (129936 more characters)\"", "x".repeat(64));

    // dcrctl's own message.
    let unknown = cli.run(&["products", "get", &huge]).await;
    assert_eq!(
        unknown.fails(1).trim_end(),
        format!("error: there is no product named {cut} (`dcrctl products list` shows them)")
    );
    // clap's, for a value it refuses.
    let status = cli.run(&["registrations", "list", "--status", &huge]).await;
    let message = status.fails(2);
    assert!(
        message.starts_with("error: invalid value 'xxx") && message.len() < 1_000,
        "{} characters: {message:.300}",
        message.len()
    );
    // The registry's message, quoting a scope, and dcrctl's description of the call.
    let scope = cli
        .run(&[
            "registrations",
            "create",
            "--product",
            "orders-api",
            "--scope",
            &huge,
        ])
        .await;
    let message = scope.fails(1);
    assert!(
        message.contains(&format!(
            "scopes: {cut} is not one of the strategy's scopes"
        )),
        "{message}"
    );
    assert!(
        message.len() < 400,
        "{} characters: {message}",
        message.len()
    );
    // Whatever the registry says about a huge name, dcrctl prints a bounded message.
    let name = cli
        .run(&["apps", "create", &huge, "--strategy", "partners"])
        .await;
    let message = name.fails(1);
    assert!(
        message.len() < 2_500 && message.contains(&cut),
        "{} characters: {message:.300}",
        message.len()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_missing_app_gets_a_short_error_that_says_how_to_set_it() {
    let expected = "error: no application given: pass --app ID|NAME or set DCR_APP_ID \
                    (eval \"$(dcrctl apps create ... --output env)\" sets it)";
    let cli = Dcrctl::default();
    for args in [
        &["credentials", "list"][..],
        &["credentials", "regenerate"],
        &["credentials", "revoke", "some-credential"],
        &["registrations", "create", "--product", "orders-api"],
    ] {
        let run = cli.run(args).await;
        assert_eq!(run.fails(2).trim_end(), expected, "{args:?}");
    }
}

#[tokio::test]
async fn completion_scripts_for_bash_zsh_and_fish() {
    let cli = Dcrctl::default();
    let bash_script = cli.run(&["completion", "bash"]).await;
    assert!(
        bash_script.ok().contains("complete -F _dcrctl"),
        "{bash_script:?}"
    );
    // The script parses, and completes the subcommands.
    let check = std::process::Command::new("bash")
        .args(["-n"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(bash_script.ok().as_bytes())?;
            child.wait()
        })
        .expect("run bash -n");
    assert!(check.success(), "bash -n rejects the script");
    let completed = bash(
        r#"eval "$OUT"; COMP_WORDS=(dcrctl regis); COMP_CWORD=1; _dcrctl dcrctl regis dcrctl; printf '%s\n' "${COMPREPLY[@]}""#,
        bash_script.ok(),
    );
    assert_eq!(completed.trim(), "registrations", "{completed}");
    let zsh = cli.run(&["completion", "zsh"]).await;
    assert!(zsh.ok().starts_with("#compdef dcrctl"), "{zsh:?}");
    let fish = cli.run(&["completion", "fish"]).await;
    assert!(fish.ok().contains("complete -c dcrctl"), "{fish:?}");
    cli.run(&["completion", "tcsh"]).await.fails(2);
}

/// `dcrctl dev` with stderr to a pipe (as under a service manager or `2>log`): its logs
/// are plain text.
#[tokio::test]
async fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Port 0: dcrctl dev binds every listener itself and uses the port it got, so no
    // port picked here can be taken by a test running beside this one before it binds.
    let listen = |flag: &str| format!("--{flag}=127.0.0.1:0");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dcrctl"))
        .args(["dev", "--no-tls", "--data-dir"])
        .arg(dir.path())
        .args([
            listen("registry-listen"),
            listen("token-listen"),
            listen("token-http-listen"),
            listen("authz-listen"),
            listen("portal-listen"),
            listen("emulator-listen"),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DCR_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dcrctl dev");
    let mut stderr = child.stderr.take().expect("stderr");
    let logs = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    // The walkthrough's last line is printed once the stack is up and has logged.
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("dcrctl audit list") {
                return true;
            }
        }
        false
    })
    .await;
    if !matches!(ready, Ok(true)) {
        let _ = child.start_kill();
        let logs = logs.await.unwrap_or_default();
        panic!("dcrctl dev did not start; its stderr:\n{logs}");
    }
    let pid = child.id().expect("pid").to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(stopped.success());
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s")
        .expect("wait");
    let logs = logs.await.expect("stderr");
    assert!(logs.contains(" INFO "), "no info logs to look at: {logs}");
    assert!(!logs.contains("\u{1b}["), "colour codes in: {logs:?}");
}
