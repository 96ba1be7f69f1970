//! dcrctl end to end: the built binary against in-process services (registry-svc,
//! token-svc, authz-svc) on a real Postgres, the real node oidc-provider and the IdP
//! emulator (also as the identity provider people sign in at). A few tests,
//! each a whole story, because each stack costs seconds on a 2-core CI machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod doctor;
mod errors;
mod login;
mod okta_service_app;
mod polish;
mod story;
mod warnings;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;

/// The dcrctl binary with a clean environment: only what a test sets reaches it, as if a
/// user had exported exactly those variables.
#[derive(Debug, Clone, Default)]
pub struct Dcrctl {
    env: HashMap<String, String>,
}

/// One run: the exit code and what it printed.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Dcrctl {
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.env.remove(name);
        self
    }

    /// What `eval "$(dcrctl ... --output env)"` would do: each `export NAME='value'` line
    /// becomes a variable of later runs.
    pub fn eval(mut self, exports: &Run) -> Self {
        let vars = exports.exports();
        assert!(!vars.is_empty(), "no exports in {exports:?}");
        self.env.extend(vars);
        self
    }

    pub fn var(&self, name: &str) -> &str {
        self.env.get(name).map_or("", String::as_str)
    }

    /// The command, not started: for a run that needs its pipes while it runs.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dcrctl"));
        command.args(args).env_clear().envs(&self.env);
        command
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().await.expect("run dcrctl");
        Run {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs until the exit code is `code` (a decision that follows the change stream),
    /// for at most 5 s; returns the last run.
    pub async fn run_until(&self, args: &[&str], code: i32) -> Run {
        let start = Instant::now();
        loop {
            let run = self.run(args).await;
            if run.code == code || start.elapsed() > Duration::from_secs(5) {
                return run;
            }
        }
    }
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "dcrctl {:?} failed: {self:#?}", self.args);
        &self.stdout
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("dcrctl {:?} printed no JSON ({e}): {self:#?}", self.args))
    }

    /// Asserts the exit code and returns stderr.
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "dcrctl {:?}: {self:#?}", self.args);
        &self.stderr
    }

    fn exports(&self) -> HashMap<String, String> {
        self.ok()
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, quoted)| {
                let value = quoted
                    .strip_prefix('\'')
                    .and_then(|v| v.strip_suffix('\''))
                    .unwrap_or_else(|| panic!("{name} is not single-quoted: {quoted}"));
                (name.to_owned(), value.replace(r"'\''", "'"))
            })
            .collect()
    }
}

/// The element of a JSON array whose `name` is `name`.
pub fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|items| items.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no {name:?} in {list:#}"))
}
