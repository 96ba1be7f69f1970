//! Start `dcrctl dev`, paste the walkthrough it prints into a shell, stop it with Ctrl-C,
//! start it again and find the app still there and still working (SQLite store and
//! emulator state kept in the data dir); `--reset`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::{DCRCTL, Ports, start, workspace_root};

/// Runs shell code as a script (no interactive shell, so no aliases), after `source`-ing
/// the env file dcrctl dev named, which puts `dcrctl` on PATH. PATH starts without the
/// built binary: the env file must provide it.
async fn shell(printed: &str, code: &str) -> (bool, String) {
    let source = printed
        .lines()
        .find(|line| line.starts_with("source "))
        .expect("a `source` line");
    let script = format!("set -euo pipefail\n{source}\n{code}\n");
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
    let ports = Ports::free();

    let dev = start(&data_dir, ports, &[]).await;
    for endpoint in ["registry-svc", "token-svc", "authz-svc", "IdP emulator"] {
        assert!(dev.printed.contains(endpoint), "{}", dev.printed);
    }
    assert!(
        dev.printed.contains(
            "(the built-in demo configuration, deploy/demo/dcr.yaml, copied on this first start): \
             provider demo-okta (created), strategy demo (created), product demo (created)."
        ),
        "the banner says what was applied:\n{}",
        dev.printed
    );
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
    let again = start(&data_dir, ports, &[]).await;
    assert!(
        again.printed.contains(&format!(
            "Applied {}: provider demo-okta (unchanged), strategy demo (unchanged), product demo (unchanged).",
            data_dir.join("dcr.yaml").display()
        )),
        "{}",
        again.printed
    );
    let (ok, out) = shell(
        &again.printed,
        &format!(
            "dcrctl apps get {app_id} --output json\n\
             export DCR_CLIENT_ID={client_id} DCR_CLIENT_SECRET={secret}\n\
             eval \"$(dcrctl token --scope read --output env)\"\n\
             dcrctl check --product demo\n\
             dcrctl providers list\n\
             printf '  - name: second\\n    strategy: demo\\n' >> {dcr_yaml}\n\
             dcrctl apply -f {dcr_yaml}",
            dcr_yaml = data_dir.join("dcr.yaml").display()
        ),
    )
    .await;
    assert!(ok, "after a restart:\n{out}");
    assert!(out.contains("APPLICATION_STATE_ACTIVE"), "{out}");
    assert!(out.contains("ALLOW"), "{out}");
    assert_eq!(
        out.matches("demo-okta  okta").count(),
        1,
        "one demo provider after two starts:\n{out}"
    );
    // The edited file applies with only the env file's variables (the provider's token
    // among them).
    assert!(out.contains("product second: created"), "{out}");
    assert!(again.interrupt().await.success());
}

/// Runs `dcrctl dev --reset` with `answer` on stdin; returns (exit ok, stderr).
async fn reset_answering(data_dir: &Path, answer: &str) -> (bool, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = Command::new(DCRCTL)
        .args(["dev", "--reset", "--data-dir"])
        .arg(data_dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(answer.as_bytes()).await.expect("answer");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("exits")
        .expect("wait");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn reset_asks_first_and_deletes_only_a_dev_data_dir() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join(".dcr");
    let ports = Ports::free();
    let dev = start(&data_dir, ports, &[]).await;
    assert!(dev.interrupt().await.success());

    // "n" (or just Enter) keeps everything.
    let (ok, stderr) = reset_answering(&data_dir, "n\n").await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("[y/N]") && stderr.contains("nothing deleted"),
        "{stderr}"
    );
    assert!(data_dir.join("secrets.json").exists());

    // A folder that is not a dev data dir is never deleted, whatever the answer.
    let other = data.path().join("precious");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "keep me").expect("write");
    let (ok, stderr) = reset_answering(&other, "y\n").await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("does not look like a dcrctl dev data dir"),
        "{stderr}"
    );
    assert!(other.join("notes.txt").exists());

    // --yes: deleted, then a first start again.
    let fresh = start(&data_dir, ports, &["--reset", "--yes"]).await;
    assert!(
        fresh.printed.contains("copied on this first start"),
        "{}",
        fresh.printed
    );
    assert!(fresh.interrupt().await.success());
}
