//! docker-compose.yml as the test needs it: each service's command, environment, health
//! check, dependencies, mounts and published ports, after compose's own processing
//! (YAML merge keys, variable substitution, profiles).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_yaml::Value;

use crate::interpolate::{Vars, interpolate};

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    /// `image:` without `build:`: something the test stands in for (Postgres, Envoy, ...).
    pub image_only: bool,
    pub profiles: Vec<String>,
    /// `entrypoint` then `command`, as the container runs them.
    pub argv: Vec<String>,
    pub environment: BTreeMap<String, String>,
    /// The health check's command (`CMD` form) or shell line (`CMD-SHELL`, via sh -c).
    pub healthcheck: Option<Vec<String>>,
    /// (service, condition), e.g. ("registry", "service_healthy").
    pub depends_on: Vec<(String, String)>,
    /// (host path, container path) of bind mounts.
    pub mounts: Vec<(String, String)>,
    /// (volume name, container path) of named volumes, which services share by name.
    pub volumes: Vec<(String, String)>,
    /// (host port, container port) of `ports:`.
    pub ports: Vec<(u16, u16)>,
    pub one_shot: bool,
}

#[derive(Debug, Clone)]
pub struct Compose {
    pub services: BTreeMap<String, Service>,
}

impl Compose {
    /// Reads `path` with `vars` as the environment and `profiles` active.
    pub fn load(path: &Path, vars: &Vars, profiles: &[&str]) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let mut doc: Value = serde_yaml::from_str(&text)?;
        doc.apply_merge()?;
        substitute(&mut doc, vars)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut services = BTreeMap::new();
        let Some(entries) = doc.get("services").and_then(Value::as_mapping) else {
            bail!("{}: no services", path.display());
        };
        for (name, spec) in entries {
            let name = name.as_str().context("a service name is not a string")?;
            let service = parse_service(name, spec, base)?;
            let active = service.profiles.is_empty()
                || service
                    .profiles
                    .iter()
                    .any(|p| profiles.contains(&p.as_str()));
            if active {
                services.insert(name.to_owned(), service);
            }
        }
        Ok(Self { services })
    }

    /// Service names in an order that starts every service after what it depends on.
    pub fn start_order(&self) -> anyhow::Result<Vec<String>> {
        let mut order = Vec::new();
        let mut placed = BTreeSet::new();
        while placed.len() < self.services.len() {
            let ready: Vec<&String> = self
                .services
                .values()
                .filter(|s| !placed.contains(&s.name))
                .filter(|s| s.depends_on.iter().all(|(d, _)| placed.contains(d)))
                .map(|s| &s.name)
                .collect();
            if ready.is_empty() {
                bail!("depends_on has a cycle or names a service that is not active");
            }
            for name in ready {
                placed.insert(name.clone());
                order.push(name.clone());
            }
        }
        Ok(order)
    }
}

fn substitute(value: &mut Value, vars: &Vars) -> anyhow::Result<()> {
    match value {
        Value::String(s) => *s = interpolate(s, vars)?,
        Value::Sequence(items) => {
            for item in items {
                substitute(item, vars)?;
            }
        }
        Value::Mapping(map) => {
            for (_, item) in map.iter_mut() {
                substitute(item, vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command as a list: the list form as is, the string form split on whitespace as
/// compose does (the file uses the list form wherever quoting would matter).
fn words(value: Option<&Value>) -> anyhow::Result<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| scalar(i).context("a command word is not a scalar"))
            .collect(),
        Some(other) => bail!("a command is neither a string nor a list: {other:?}"),
    }
}

fn parse_service(name: &str, spec: &Value, base: &Path) -> anyhow::Result<Service> {
    let get = |key: &str| spec.get(key);
    let mut argv = words(get("entrypoint"))?;
    argv.extend(words(get("command"))?);
    let environment = match get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| {
                let key = scalar(k).context("an environment name")?;
                Ok((key, scalar(v).unwrap_or_default()))
            })
            .collect::<anyhow::Result<_>>()?,
        Some(other) => bail!("{name}: environment must be a mapping, got {other:?}"),
    };
    let healthcheck = match get("healthcheck").and_then(|h| h.get("test")) {
        None => None,
        Some(test) => {
            let test = words(Some(test))?;
            Some(match test.split_first() {
                Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
                Some((kind, rest)) if kind == "CMD-SHELL" => {
                    vec!["sh".into(), "-c".into(), rest.join(" ")]
                }
                _ => bail!("{name}: health check {test:?} is neither CMD nor CMD-SHELL"),
            })
        }
    };
    let depends_on = match get("depends_on") {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| Ok((scalar(i).context("depends_on")?, "service_started".into())))
            .collect::<anyhow::Result<_>>()?,
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| {
                let condition = v.get("condition").and_then(scalar);
                Ok((
                    scalar(k).context("depends_on")?,
                    condition.unwrap_or_else(|| "service_started".into()),
                ))
            })
            .collect::<anyhow::Result<_>>()?,
        Some(other) => bail!("{name}: depends_on {other:?}"),
    };
    let mut mounts = Vec::new();
    let mut volumes = Vec::new();
    for volume in words(get("volumes"))? {
        let mut parts = volume.split(':');
        let (Some(host), Some(container)) = (parts.next(), parts.next()) else {
            bail!("{name}: volume {volume:?}");
        };
        // Named volumes (no path) hold data inside a container; bind mounts are paths.
        if host.starts_with('.') || host.starts_with('/') {
            mounts.push((base.join(host).display().to_string(), container.to_owned()));
        } else {
            volumes.push((host.to_owned(), container.to_owned()));
        }
    }
    let mut ports = Vec::new();
    for port in words(get("ports"))? {
        let (host, container) = port.rsplit_once(':').unwrap_or((&port, &port));
        let host = host.rsplit(':').next().unwrap_or(host);
        ports.push((
            host.parse()
                .with_context(|| format!("{name}: port {port:?}"))?,
            container
                .parse()
                .with_context(|| format!("{name}: port {port:?}"))?,
        ));
    }
    Ok(Service {
        name: name.to_owned(),
        image_only: get("image").is_some() && get("build").is_none(),
        profiles: words(get("profiles"))?,
        argv,
        environment,
        healthcheck,
        depends_on,
        mounts,
        volumes,
        ports,
        one_shot: get("restart").and_then(scalar).as_deref() == Some("no"),
    })
}

/// `ENV` lines of the Dockerfile's last stage: what every process of the image starts with.
pub fn image_env(dockerfile: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(dockerfile)
        .with_context(|| format!("read {}", dockerfile.display()))?;
    let last_stage = text.rsplit("\nFROM ").next().unwrap_or(&text);
    let mut env = BTreeMap::new();
    for line in last_stage.lines() {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("ENV {pair:?} is not NAME=value"))?;
                env.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FILE: &str = r#"
x-svc: &svc
  build: .
  restart: unless-stopped
services:
  db:
    image: postgres:15
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U ${USER_NAME:-dcr}"]
  api:
    <<: *svc
    command: ["api", "serve"]
    environment:
      URL: http://db:5432/${NAME:?set NAME}
      PORT: 8080
    ports: ["127.0.0.1:18080:8080"]
    volumes: [pgdata:/data, ./conf:/conf:ro]
    depends_on:
      db: { condition: service_healthy }
  job:
    <<: *svc
    profiles: [demo]
    restart: "no"
    entrypoint: ["/bin/sh", "-c"]
    command: echo $$HOME
    depends_on: [api]
"#;

    fn load(profiles: &[&str]) -> anyhow::Result<Compose> {
        let dir = std::env::temp_dir().join(format!("dcr-e2e-compose-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("compose-{}.yml", profiles.len()));
        std::fs::write(&path, FILE)?;
        let vars = Vars::from([("NAME".into(), "dcr".into())]);
        let compose = Compose::load(&path, &vars, profiles);
        let _ = std::fs::remove_file(&path);
        compose
    }

    #[test]
    fn reads_services_as_compose_does() {
        let plain = load(&[]).unwrap();
        assert_eq!(plain.services.keys().collect::<Vec<_>>(), ["api", "db"]);
        let demo = load(&["demo"]).unwrap();
        assert_eq!(demo.start_order().unwrap(), ["db", "api", "job"]);
        let api = &demo.services["api"];
        assert!(!api.image_only && !api.one_shot);
        assert_eq!(api.argv, ["api", "serve"]);
        assert_eq!(api.environment["URL"], "http://db:5432/dcr");
        assert_eq!(api.environment["PORT"], "8080");
        assert_eq!(api.ports, [(18080, 8080)]);
        assert_eq!(api.mounts.len(), 1, "bind mounts only, not named volumes");
        assert_eq!(api.volumes, [("pgdata".to_owned(), "/data".to_owned())]);
        assert!(api.mounts[0].0.ends_with("/conf") && api.mounts[0].1 == "/conf");
        assert_eq!(
            api.depends_on,
            [("db".to_owned(), "service_healthy".to_owned())]
        );
        let db = &demo.services["db"];
        assert!(db.image_only);
        assert_eq!(
            db.healthcheck.as_ref().unwrap(),
            &["sh", "-c", "pg_isready -U dcr"]
        );
        let job = &demo.services["job"];
        assert!(job.one_shot);
        assert_eq!(job.argv, ["/bin/sh", "-c", "echo", "$HOME"]);
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        let dir = std::env::temp_dir().join(format!("dcr-e2e-compose-req-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("compose.yml");
        std::fs::write(&path, FILE).unwrap();
        let error = Compose::load(&path, &Vars::new(), &[]).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.to_string().contains("NAME"), "{error}");
    }
}
