//! People sign in with `dcrctl login` at the IdP emulator's OpenID provider, through the
//! real loopback redirect: the test reads the address dcrctl prints and plays the browser
//! (the login page, the form, the redirect to dcrctl's listener). Then registry calls go
//! as the person, with no static token anywhere: roles from groups, the audit log naming
//! them, an expired token refreshed on the way, a group removed seen at the refresh, a
//! developer refused admin commands with a clear message, `logout`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use dcr_common::url_policy::UrlPolicy;
use dcr_idp_emulator::{OKTA_API_TOKEN, SSO_DEFAULT_AUDIENCE};
use dcr_testkit::emulator::{Emulator, calls, control, emulator};
use dcr_testkit::registry::{ADMIN_TOKEN, TestApp, spawn_app_with};
use registry_svc::identity::IdentityConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

use crate::{Dcrctl, Run};

struct Sso {
    emu: Emulator,
    app: TestApp,
    /// The HOME of every run: the tokens file is under it.
    home: tempfile::TempDir,
}

async fn sso() -> Sso {
    let emu = emulator().await;
    let identity = IdentityConfig::with_defaults(
        emu.urls.sso_issuer(),
        SSO_DEFAULT_AUDIENCE.to_owned(),
        UrlPolicy {
            allow_http_loopback: true,
            allow_http_hosts: &[],
        },
    )
    .unwrap();
    let app = spawn_app_with(|config| config.identity = Some(identity)).await;
    let home = tempfile::tempdir().unwrap();
    Sso { emu, app, home }
}

impl Sso {
    /// dcrctl with the registry, the identity provider and a HOME of its own: no token.
    fn cli(&self) -> Dcrctl {
        Dcrctl::default()
            .env("DCR_REGISTRY_URL", &format!("http://{}", self.app.addr))
            .env("DCR_IDENTITY_ISSUER", &self.emu.urls.sso_issuer())
            .env("DCR_IDENTITY_AUDIENCE", SSO_DEFAULT_AUDIENCE)
            .env("HOME", &self.home.path().display().to_string())
    }

    fn tokens_file(&self) -> PathBuf {
        self.home.path().join(".config/dcrctl/logins.json")
    }

    fn stored(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.tokens_file()).unwrap()).unwrap()
    }

    /// The stored sign-in at the emulator, changed by `edit`.
    fn edit_login(&self, edit: impl FnOnce(&mut Value)) {
        let mut doc = self.stored();
        edit(&mut doc["logins"][self.emu.urls.sso_issuer()]);
        std::fs::write(self.tokens_file(), serde_json::to_vec(&doc).unwrap()).unwrap();
    }

    fn login_field(&self, name: &str) -> Value {
        self.stored()["logins"][self.emu.urls.sso_issuer()][name].clone()
    }

    fn actor(&self, login: &str) -> String {
        format!("person:{}#{login}", self.emu.urls.sso_issuer())
    }
}

/// `dcrctl login --no-browser` (plus `extra`), with the test as the browser: the printed
/// address, the login form, then the redirect followed to dcrctl's loopback listener.
async fn sign_in(cli: &Dcrctl, root: &str, login: &str, password: &str) -> Run {
    let mut args = vec!["login", "--no-browser"];
    args.extend(["--timeout", "60s"]);
    let mut child = cli
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut printed = String::new();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(url) = line
                .split_whitespace()
                .find(|w| w.contains("code_challenge="))
            {
                return url.to_owned();
            }
        }
        panic!("dcrctl login printed no address: {printed}");
    })
    .await
    .unwrap();
    assert!(url.starts_with(&format!("{root}/sso/authorize?")), "{url}");

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("action=\"").unwrap() + "action=\"".len();
    let action = &page[start..start + page[start..].find('"').unwrap()];
    let posted = browser
        .post(format!("{root}{action}"))
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), reqwest::StatusCode::SEE_OTHER, "{login}");
    let back = posted.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    let landed = browser.get(&back).send().await.unwrap();
    assert!(landed.status().is_success(), "{}", landed.status());
    assert!(landed.text().await.unwrap().contains("Signed in."));

    let mut rest = String::new();
    stderr.into_inner().read_to_string(&mut rest).await.unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    Run {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: format!("{printed}{rest}"),
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn an_admin_signs_in_and_works_as_themselves() {
    let s = sso().await;
    let cli = s.cli().env("OKTA_TOKEN", OKTA_API_TOKEN);
    let root = s.emu.root.clone();

    let before = cli.run(&["whoami"]).await;
    assert!(before.fails(2).contains("dcrctl login"), "{before:?}");

    let signed_in = sign_in(&cli, &root, "alice", "alice-password").await;
    let stdout = signed_in.ok();
    assert!(
        stdout.contains("Signed in at")
            && stdout.contains("as Alice Admin <alice@example.com> (alice)"),
        "{signed_in:?}"
    );
    // The tokens are in the file, private, and on no screen.
    let access = s.login_field("access_token");
    let refresh = s.login_field("refresh_token");
    for token in [access.as_str().unwrap(), refresh.as_str().unwrap()] {
        assert!(!signed_in.stdout.contains(token) && !signed_in.stderr.contains(token));
    }
    assert_eq!(mode(&s.tokens_file()), 0o600);
    assert_eq!(mode(s.tokens_file().parent().unwrap()), 0o700);

    let me = cli.run(&["whoami"]).await;
    let me = me.ok();
    assert!(
        me.contains(&format!("actor      {}", s.actor("alice"))),
        "{me}"
    );
    assert!(me.contains("roles      admin, developer"), "{me}");
    assert!(me.contains("developer  alice"), "{me}");

    // An admin command and a developer command, as Alice, with no token set.
    let issuer = format!("{root}/okta/oauth2/default");
    cli.run(&[
        "providers",
        "create",
        "alices-okta",
        "--type",
        "okta",
        "--issuer",
        &issuer,
        "--secret-from-env",
        "dcr_token=OKTA_TOKEN",
    ])
    .await
    .ok();
    assert!(
        cli.run(&["providers", "list"])
            .await
            .ok()
            .contains("alices-okta")
    );
    cli.run(&["apps", "list"]).await.ok();
    let audit = cli
        .run(&["audit", "list", "--actor", &s.actor("alice")])
        .await;
    let audit = audit.ok();
    assert!(
        audit.contains(&format!("Alice Admin ({})", s.actor("alice")))
            && audit.contains("CreateProvider"),
        "{audit}"
    );

    // With the admin token set, that token is who calls.
    let machine = cli
        .clone()
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN)
        .run(&["whoami"])
        .await;
    assert_eq!(
        machine.ok().trim(),
        "actor  token:admin\nroles  token:admin"
    );

    // An expired access token is refreshed on the way, and the new tokens saved.
    let refreshes = calls(&s.emu, "POST /sso/token").await;
    s.edit_login(|login| {
        login["expires_at"] = json!(0);
        login["access_token"] = json!("expired.not.valid");
    });
    assert!(
        cli.run(&["providers", "list"])
            .await
            .ok()
            .contains("alices-okta")
    );
    assert_eq!(calls(&s.emu, "POST /sso/token").await, refreshes + 1);
    assert_ne!(s.login_field("access_token"), access);
    assert_ne!(s.login_field("refresh_token"), refresh, "rotated");
    assert!(s.login_field("expires_at").as_i64().unwrap() > 0);

    // A group removed at the identity provider shows at the next refresh.
    control(&s.emu, "sso/people/alice", json!({ "groups": [] })).await;
    s.edit_login(|login| login["expires_at"] = json!(0));
    let me = cli.run(&["whoami"]).await;
    assert!(me.ok().contains("roles      developer\n"), "{me:?}");
    let denied = cli.run(&["providers", "list"]).await;
    let message = denied.fails(1);
    assert!(
        message.contains("refused Alice Admin <alice@example.com> (alice)")
            && message.contains("you have developer")
            && message.contains("Roles come from your groups at"),
        "{message}"
    );

    // Logout: the sign-in is gone here and at the provider.
    let last_refresh = s.login_field("refresh_token");
    let out = cli.run(&["logout"]).await;
    assert!(out.ok().contains("revoked its refresh token"), "{out:?}");
    let revoked = reqwest::Client::new()
        .post(s.emu.urls.sso_token())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "dcrctl"),
            ("refresh_token", last_refresh.as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), reqwest::StatusCode::BAD_REQUEST);
    let after = cli.run(&["providers", "list"]).await;
    assert!(after.fails(2).contains("dcrctl login"), "{after:?}");
    assert!(cli.run(&["logout"]).await.ok().contains("Not signed in"));
}

#[tokio::test]
async fn a_developer_is_refused_admin_commands_and_a_dead_sign_in_says_to_log_in() {
    let s = sso().await;
    let cli = s.cli();
    let root = s.emu.root.clone();

    sign_in(&cli, &root, "dana", "dana-password").await.ok();
    cli.run(&["apps", "list"]).await.ok();
    let denied = cli.run(&["products", "list"]).await;
    let message = denied.fails(1);
    assert!(
        message.contains("refused Dana Developer <dana@example.com> (dana)")
            && message.contains("you have developer")
            && message.contains("ask for the group that grants the role"),
        "{message}"
    );

    // Expired, and no refresh token to renew it with.
    s.edit_login(|login| {
        login["expires_at"] = json!(0);
        login["refresh_token"] = Value::Null;
    });
    let expired = cli.run(&["apps", "list"]).await;
    let message = expired.fails(2);
    assert!(
        message.contains("has expired") && message.contains("run `dcrctl login`"),
        "{message}"
    );

    // Signed in again, then the provider ends the sign-in: the refresh says to log in.
    sign_in(&cli, &root, "dana", "dana-password").await.ok();
    let refresh = s.login_field("refresh_token");
    let revoked = reqwest::Client::new()
        .post(s.emu.urls.sso_revoke())
        .form(&[
            ("token", refresh.as_str().unwrap()),
            ("client_id", "dcrctl"),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    s.edit_login(|login| login["expires_at"] = json!(0));
    let ended = cli.run(&["apps", "list"]).await;
    let message = ended.fails(2);
    assert!(
        message.contains("has ended") && message.contains("run `dcrctl login`"),
        "{message}"
    );
    assert!(
        s.stored()["logins"].as_object().unwrap().is_empty(),
        "forgotten"
    );

    // Nobody comes back through the browser.
    let waited = cli.run(&["login", "--no-browser", "--timeout", "1s"]).await;
    let message = waited.fails(1);
    assert!(
        message.contains("no sign-in arrived within 1 seconds"),
        "{message}"
    );
}
