//! What cannot be the same when a compose file's services run as processes on one host:
//! in a compose network every service has its own address, so they all listen on the same
//! well-known ports and reach each other by service name. Here they share 127.0.0.1, so
//! each (service, port) pair gets a free local port and every service name used as a host
//! becomes 127.0.0.1. Services the test stands in for by a URL (the Postgres container ->
//! a throwaway database) are replaced where a value is a URL to them. Nothing else changes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_yaml::Value;

const LOCAL: &str = "127.0.0.1";
/// Hosts that mean "this service itself".
const SELF_HOSTS: [&str; 3] = ["0.0.0.0", "127.0.0.1", "localhost"];

#[derive(Debug, Default)]
pub struct Rewrite {
    services: BTreeSet<String>,
    ports: BTreeMap<(String, u16), u16>,
    stand_ins: BTreeMap<String, String>,
    /// Host ports a service publishes (`ports:`): host port -> the service.
    published: BTreeMap<u16, String>,
    /// host path of a bind mount -> its rewritten copy.
    copies: BTreeMap<String, PathBuf>,
}

impl Rewrite {
    pub fn new(services: impl IntoIterator<Item = String>) -> Self {
        Self {
            services: services.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Values that are URLs to `service` become `url`.
    pub fn stand_in(&mut self, service: &str, url: &str) {
        self.stand_ins.insert(service.to_owned(), url.to_owned());
    }

    /// `service` publishes its `container` port as the host's `host` port. A value of
    /// another service that names `localhost:<host>` (a URL the user's browser opens,
    /// such as a redirect URI) then means that service, as it does on the host.
    pub fn publish(&mut self, service: &str, host: u16, container: u16) -> anyhow::Result<()> {
        self.port(service, container)?;
        self.published.insert(host, service.to_owned());
        Ok(())
    }

    /// The local port standing for `service`'s `port`, chosen on first use.
    pub fn port(&mut self, service: &str, port: u16) -> anyhow::Result<u16> {
        if let Some(local) = self.ports.get(&(service.to_owned(), port)) {
            return Ok(*local);
        }
        // The kernel may hand out a port again once it is free, and none of these is bound
        // until its service starts: keep asking until the port is new to this map.
        loop {
            let local = std::net::TcpListener::bind((LOCAL, 0))?
                .local_addr()?
                .port();
            if !self.ports.values().any(|taken| *taken == local) {
                self.ports.insert((service.to_owned(), port), local);
                return Ok(local);
            }
        }
    }

    /// The local ports standing for `service`'s ports.
    pub fn ports_of(&self, service: &str) -> Vec<u16> {
        self.ports
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|(_, local)| *local)
            .collect()
    }

    /// `value` from service `owner`'s command or environment, rewritten.
    pub fn text(&mut self, owner: &str, value: &str) -> anyhow::Result<String> {
        if let Ok(url) = url::Url::parse(value)
            && let Some(stand_in) = url.host_str().and_then(|h| self.stand_ins.get(h))
        {
            return Ok(stand_in.clone());
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        let mut previous: Option<char> = None;
        while !rest.is_empty() {
            let len = match rest.find(|c: char| !is_host_char(c)) {
                Some(0) => rest.chars().next().map_or(1, char::len_utf8),
                Some(n) => n,
                None => rest.len(),
            };
            let (word, tail) = rest.split_at(len);
            let boundary_before = matches!(previous, None | Some('/' | '@' | ',' | ' ' | '='));
            let port = tail
                .strip_prefix(':')
                .map(|t| t.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""))
                .filter(|digits| !digits.is_empty());
            let boundary_after =
                port.is_some() || matches!(tail.chars().next(), None | Some('/' | ','));
            let is_service = self.services.contains(word);
            if boundary_before && boundary_after && (is_service || SELF_HOSTS.contains(&word)) {
                let (host, service) = match is_service {
                    true => (LOCAL, word),
                    false => (word, owner),
                };
                out.push_str(host);
                rest = tail;
                if let Some(digits) = port {
                    let number: u16 = digits.parse()?;
                    // This host's port that the service does not have but another publishes.
                    let service = match self.published.get(&number) {
                        Some(publisher)
                            if !is_service
                                && !self.ports.contains_key(&(owner.to_owned(), number)) =>
                        {
                            publisher.clone()
                        }
                        _ => service.to_owned(),
                    };
                    let local = self.port(&service, number)?;
                    out.push_str(&format!(":{local}"));
                    rest = &tail[1 + digits.len()..];
                }
            } else {
                out.push_str(word);
                rest = tail;
            }
            previous = out.chars().last();
        }
        Ok(out)
    }

    /// An Envoy-style config: every `socket_address` naming a service (or this one)
    /// points at the local stand-in.
    pub fn socket_addresses(&mut self, owner: &str, value: &mut Value) -> anyhow::Result<()> {
        match value {
            Value::Mapping(map) => {
                if let Some(Value::Mapping(socket)) = map.get_mut("socket_address") {
                    let host = socket
                        .get("address")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let port = socket.get("port_value").and_then(Value::as_u64);
                    if let (Some(host), Some(port)) = (host, port) {
                        let port = u16::try_from(port)?;
                        let service = match self.services.contains(&host) {
                            true => host.clone(),
                            false if SELF_HOSTS.contains(&host.as_str()) => owner.to_owned(),
                            false => anyhow::bail!(
                                "socket_address {host}:{port} is neither a service nor this host"
                            ),
                        };
                        let local = self.port(&service, port)?;
                        if service == host {
                            socket.insert("address".into(), LOCAL.into());
                        }
                        socket.insert("port_value".into(), local.into());
                    }
                }
                for (_, item) in map.iter_mut() {
                    self.socket_addresses(owner, item)?;
                }
            }
            Value::Sequence(items) => {
                for item in items {
                    self.socket_addresses(owner, item)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A local copy, under `scratch`, of the bind mount of `host` at `container` for service
    /// `owner`. The YAML files its command (`argv`) names get their socket addresses
    /// rewritten; every other file is copied as it is.
    pub fn mount(
        &mut self,
        owner: &str,
        (host, container): (&str, &str),
        argv: &[String],
        scratch: &Path,
    ) -> anyhow::Result<PathBuf> {
        let copy = scratch.join(format!("{owner}{}", container.replace('/', "-")));
        std::fs::create_dir_all(&copy)?;
        for entry in std::fs::read_dir(host).with_context(|| format!("read {host}"))? {
            let path = entry?.path();
            let Some(name) = path.file_name() else {
                continue;
            };
            let named = format!("{container}/{}", name.to_string_lossy());
            let text = std::fs::read_to_string(&path)?;
            let text = if argv.iter().any(|a| a.contains(&named)) && text.contains("socket_address")
            {
                let mut doc: Value = serde_yaml::from_str(&text)?;
                self.socket_addresses(owner, &mut doc)?;
                serde_yaml::to_string(&doc)?
            } else {
                text
            };
            std::fs::write(copy.join(name), text)?;
        }
        self.copies.insert(format!("{owner}: {host}"), copy.clone());
        Ok(copy)
    }
}

/// `value` with each container path of `mounts` ((container path, local copy)) replaced
/// by the copy, where the path is whole (followed by `/`, a quote, a space or the end).
pub fn mounted(value: &str, mounts: &[(String, PathBuf)]) -> String {
    let mut out = value.to_owned();
    for (container, copy) in mounts {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(container.as_str()) {
            let after = &rest[at + container.len()..];
            result.push_str(&rest[..at]);
            let whole = matches!(after.chars().next(), None | Some('/' | '"' | '\'' | ' '));
            match whole {
                true => result.push_str(&copy.to_string_lossy()),
                false => result.push_str(container),
            }
            rest = after;
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

impl fmt::Display for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "service host names -> {LOCAL}; ports:")?;
        for ((service, port), local) in &self.ports {
            writeln!(f, "  {service}:{port} -> {LOCAL}:{local}")?;
        }
        for (service, url) in &self.stand_ins {
            writeln!(f, "  {service}: replaced by {}", redact(url))?;
        }
        for (host, copy) in &self.copies {
            writeln!(f, "  mount {host} -> {}", copy.display())?;
        }
        Ok(())
    }
}

/// A URL without its password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hosts_and_ports_only() {
        let mut r = Rewrite::new(
            ["registry", "token", "idp-emulator", "postgres", "envoy"].map(String::from),
        );
        r.stand_in("postgres", "postgres://u@127.0.0.1:5555/db");
        let registry = r.port("registry", 50051).unwrap();
        let emu = r.port("idp-emulator", 9000).unwrap();
        assert_eq!(
            r.text("token", "http://registry:50051").unwrap(),
            format!("http://127.0.0.1:{registry}")
        );
        assert_eq!(
            r.text("registry", "0.0.0.0:50051").unwrap(),
            format!("0.0.0.0:{registry}")
        );
        assert_eq!(
            r.text("idp-emulator", "http://idp-emulator:9000").unwrap(),
            format!("http://127.0.0.1:{emu}")
        );
        assert_eq!(r.text("registry", "idp-emulator").unwrap(), "127.0.0.1");
        assert_eq!(
            r.text("registry", "postgres://dcr:pw@postgres:5432/dcr")
                .unwrap(),
            "postgres://u@127.0.0.1:5555/db"
        );
        let mounts = [("/demo".to_owned(), PathBuf::from("/tmp/x/mount-0"))];
        assert_eq!(
            mounted(
                "sed s /demo/envoy.yaml > /tmp/c && ls /demo /democracy",
                &mounts
            ),
            "sed s /tmp/x/mount-0/envoy.yaml > /tmp/c && ls /tmp/x/mount-0 /democracy"
        );
        for unchanged in [
            "registry-svc",
            "serve",
            "info",
            "exec envoy -c /demo/envoy.yaml",
            "dcr",
            "token-value-0123456789",
        ] {
            assert_eq!(r.text("envoy", unchanged).unwrap(), unchanged);
        }
    }
}
