//! `dcrctl dev` as a newcomer meets it: start it, paste the walkthrough it prints into a
//! shell, stop it with Ctrl-C, start it again and find the app still there and still
//! working (SQLite store and emulator state kept in the data dir).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const DCRCTL: &str = env!("CARGO_BIN_EXE_dcrctl");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Dev {
    child: Child,
    /// Everything it printed on stdout up to the walkthrough's end.
    printed: String,
}

/// Starts `dcrctl dev` and reads its stdout until the walkthrough is printed: the stack is
/// up and seeded by then.
async fn start(data_dir: &Path, emulator_port: u16) -> Dev {
    let mut child = Command::new(DCRCTL)
        .args(["dev", "--data-dir"])
        .arg(data_dir)
        .args([
            "--registry-listen=127.0.0.1:0",
            "--token-listen=127.0.0.1:0",
            "--token-http-listen=127.0.0.1:0",
            "--authz-listen=127.0.0.1:0",
        ])
        .arg(format!("--emulator-listen=127.0.0.1:{emulator_port}"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dcrctl dev");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = String::new();
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("dcrctl audit list") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(ready, Ok(true)),
        "dcrctl dev did not print its walkthrough: {printed}"
    );
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Dev { child, printed }
}

impl Dev {
    /// Ctrl-C, then the exit status.
    async fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid").to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("stops within 30 s")
            .expect("wait")
    }
}

/// Runs shell code the way a user pastes it, after `source`-ing the env file dcrctl dev
/// named, with `dcrctl` as the alias it sets.
async fn shell(printed: &str, code: &str) -> (bool, String) {
    let source = printed
        .lines()
        .find(|line| line.starts_with("source "))
        .expect("a `source` line");
    let script = format!("shopt -s expand_aliases\nset -euo pipefail\n{source}\n{code}\n");
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(workspace_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .await
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn the_printed_walkthrough_works_and_a_restart_keeps_the_data() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join(".dcr");
    let emulator_port = free_port();

    let dev = start(&data_dir, emulator_port).await;
    for endpoint in ["registry-svc", "token-svc", "authz-svc", "IdP emulator"] {
        assert!(dev.printed.contains(endpoint), "{}", dev.printed);
    }
    // The walkthrough exactly as printed (everything after the `source` line).
    let walkthrough = dev
        .printed
        .split_once("\nsource ")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, steps)| steps)
        .expect("walkthrough");
    let (ok, out) = shell(
        &dev.printed,
        &format!("{walkthrough}\necho \"KEEP $DCR_APP_ID $DCR_CLIENT_ID $DCR_CLIENT_SECRET\""),
    )
    .await;
    assert!(ok, "the walkthrough failed:\n{out}");
    assert!(out.contains("ALLOW"), "the check allowed:\n{out}");
    let kept = out
        .lines()
        .find_map(|line| line.strip_prefix("KEEP "))
        .expect("ids")
        .split(' ')
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let (app_id, client_id, secret) = (&kept[0], &kept[1], &kept[2]);
    // The dev tokens are in the env file, not on the screen.
    let env_file = std::fs::read_to_string(data_dir.join("env")).expect("env file");
    let admin = env_file
        .split_whitespace()
        .find_map(|word| word.strip_prefix("DCR_ADMIN_TOKEN="))
        .expect("admin token")
        .trim_matches('\'');
    assert!(!dev.printed.contains(admin), "{}", dev.printed);

    let status = dev.interrupt().await;
    assert!(status.success(), "Ctrl-C is a clean stop: {status:?}");

    // Second start, same data dir: nothing seeded twice, the app and its secret work.
    let again = start(&data_dir, emulator_port).await;
    let (ok, out) = shell(
        &again.printed,
        &format!(
            "dcrctl apps get {app_id} --output json\n\
             export DCR_CLIENT_ID={client_id} DCR_CLIENT_SECRET={secret}\n\
             eval \"$(dcrctl token --scope read --output env)\"\n\
             dcrctl check --product demo\n\
             dcrctl providers list"
        ),
    )
    .await;
    assert!(ok, "after a restart:\n{out}");
    assert!(out.contains("APPLICATION_STATE_ACTIVE"), "{out}");
    assert!(out.contains("ALLOW"), "{out}");
    assert_eq!(
        out.matches("demo-okta").count(),
        1,
        "one demo provider after two starts:\n{out}"
    );
    assert!(again.interrupt().await.success());
}
