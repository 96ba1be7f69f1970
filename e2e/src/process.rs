//! Services as child processes: started with exactly the environment given (plus nothing
//! from the test's own), their output in a log file, health polled with the service's own
//! health command, stopped with SIGTERM like `docker compose stop`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

pub type Env = BTreeMap<String, String>;

/// How often a health check or readiness condition is asked again.
pub const POLL: Duration = Duration::from_millis(100);

pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

fn command(argv: &[String], env: &Env) -> anyhow::Result<Command> {
    let (program, args) = argv.split_first().context("an empty command")?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null());
    Ok(command)
}

impl Proc {
    /// Starts `argv` with `env` only; stdout and stderr go to `<logs>/<name>.log`.
    pub fn spawn(name: &str, argv: &[String], env: &Env, logs: &Path) -> anyhow::Result<Self> {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let child = command(argv, env)?
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {name}: {argv:?}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The process's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An error with the log when the process has exited.
    pub fn alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("{} exited ({status}):\n{}", self.name, self.log()),
            None => Ok(()),
        }
    }

    /// Runs `check` (the service's health check, with its environment) until it exits 0,
    /// failing when the service exits first or `within` passes.
    pub async fn wait_healthy(
        &mut self,
        check: &[String],
        env: &Env,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was healthy:\n{}",
                    self.name,
                    self.log()
                );
            }
            let out = command(check, env)?.output().await?;
            if out.status.success() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "{} not healthy within {within:?}; its check {check:?} said {:?}:\n{}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr),
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a one-shot job to finish (at most `within`).
    pub async fn wait(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .with_context(|| format!("{} still running after {within:?}", self.name))?
            .map_err(Into::into)
    }

    /// SIGTERM, then the exit status (within `grace`, compose's stop_grace_period).
    pub async fn terminate(mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} had already exited ({status}):\n{}",
                self.name,
                self.log()
            );
        }
        let pid = self.child.id().context("no pid")?;
        // `kill` rather than a libc binding: the workspace forbids unsafe code.
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        if !sent.success() {
            bail!("kill -TERM {pid} ({}) failed", self.name);
        }
        self.wait(grace).await
    }
}
