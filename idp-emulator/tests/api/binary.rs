use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the child if the test fails before it stops it.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn binary_prints_its_port_and_stops_on_sigterm() {
    let mut child = Guard(
        Command::new(env!("CARGO_BIN_EXE_dcr-idp-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("LISTENING ")
        .unwrap()
        .parse()
        .unwrap();

    let root = format!("http://127.0.0.1:{port}");
    let d: serde_json::Value =
        reqwest::get(format!("{root}/auth0/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(d["issuer"], format!("{root}/auth0/"));

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.0.wait().unwrap().success(), "exits 0 on SIGTERM");
}

#[test]
fn binary_refuses_a_corrupt_state_file_by_name() {
    let dir = std::env::temp_dir().join(format!("dcr-emu-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("idp.json");
    std::fs::write(&path, "not json").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcr-idp-emulator"))
        .args(["--listen", "127.0.0.1:0", "--state-file"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no LISTENING line");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
}
