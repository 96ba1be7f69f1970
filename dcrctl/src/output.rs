//! How results are printed: `table` for people (aligned columns, or `key  value` lines
//! for one resource), `json` for scripts (the proto messages in proto3's JSON mapping, with
//! the proto field names), and `env` (shell `export` lines) for the few commands whose
//! result feeds the next command.

use std::io::Write as _;
use std::sync::OnceLock;

use dcr_proto::authz::v1 as authz;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as token;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions,
};
use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The proto messages as JSON.
    Json,
    /// `export NAME='value'` lines for `eval` (apps create, credentials add|regenerate,
    /// token).
    Env,
}

/// The line printed with a secret that exists only in this one response.
pub const SECRET_NOTICE: &str =
    "The client secret is shown only this once and will not be shown again: store it now.";

/// A prost message and its protobuf full name, so it can be printed as JSON through the
/// descriptors dcr-proto embeds.
pub trait Proto: prost::Message + Default {
    const NAME: &'static str;
}

macro_rules! proto_names {
    ($($ty:ty => $name:literal,)*) => {
        $(impl Proto for $ty { const NAME: &'static str = $name; })*
    };
}

proto_names! {
    reg::Provider => "dcr.registry.v1.Provider",
    reg::VerifyProviderResponse => "dcr.registry.v1.VerifyProviderResponse",
    reg::DriftReport => "dcr.registry.v1.DriftReport",
    reg::ForgetApplicationResponse => "dcr.registry.v1.ForgetApplicationResponse",
    reg::AuthStrategy => "dcr.registry.v1.AuthStrategy",
    reg::ApiProduct => "dcr.registry.v1.ApiProduct",
    reg::Registration => "dcr.registry.v1.Registration",
    reg::Application => "dcr.registry.v1.Application",
    reg::CreateApplicationResponse => "dcr.registry.v1.CreateApplicationResponse",
    reg::Credential => "dcr.registry.v1.Credential",
    reg::AuditEvent => "dcr.registry.v1.AuditEvent",
    reg::WhoAmIResponse => "dcr.registry.v1.WhoAmIResponse",
    token::IssueTokenResponse => "dcr.token.v1.IssueTokenResponse",
    authz::CheckResponse => "dcr.authz.v1.CheckResponse",
}

fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(dcr_proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("dcr-proto's descriptors do not decode: {e}"))
}

pub fn descriptor(name: &str) -> anyhow::Result<MessageDescriptor> {
    pool()?
        .get_message_by_name(name)
        .ok_or_else(|| anyhow::anyhow!("no descriptor for {name}"))
}

/// The message in proto3's JSON mapping, with proto field names and every field present
/// (so scripts can rely on the keys). 64-bit integers stay numbers: dcr's are small.
pub fn to_json<M: Proto>(message: &M) -> anyhow::Result<Value> {
    let dynamic = DynamicMessage::decode(descriptor(M::NAME)?, message.encode_to_vec().as_slice())?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    Ok(dynamic.serialize_with_options(serde_json::value::Serializer, &options)?)
}

/// A message from JSON (proto or lowerCamelCase field names; unknown fields are errors).
pub fn from_json<M: Proto>(value: Value) -> anyhow::Result<M> {
    let dynamic = DynamicMessage::deserialize_with_options(
        descriptor(M::NAME)?,
        value,
        &DeserializeOptions::new(),
    )?;
    Ok(dynamic.transcode_to()?)
}

pub fn list_json<M: Proto>(messages: &[M]) -> anyhow::Result<Value> {
    Ok(Value::Array(
        messages
            .iter()
            .map(to_json)
            .collect::<anyhow::Result<_>>()?,
    ))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub fn print_json(value: &Value) -> anyhow::Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// Columns aligned to their widest cell.
#[derive(Debug)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        self.rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = row
                    .iter()
                    .zip(&widths)
                    .map(|(cell, width)| format!("{cell:<width$}"))
                    .collect();
                cells.join("  ").trim_end().to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn print(&self) -> anyhow::Result<()> {
        print(&self.render())
    }
}

/// One resource for people: its JSON flattened to `key  value` lines, empty fields left
/// out (nested keys joined with dots, lists with commas), `id` and `name` first.
pub fn details(value: &Value) -> String {
    let mut lines = Vec::new();
    flatten("", value, &mut lines);
    lines.sort_by_key(|(key, _)| match key.as_str() {
        "id" => 0,
        "name" => 1,
        _ => 2,
    });
    let mut table = Table { rows: Vec::new() };
    for (key, value) in lines {
        table.row(vec![key, value]);
    }
    table.render()
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                flatten(&key(k), v, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            if !items.is_empty() {
                let items: Vec<String> = items.iter().map(scalar).collect();
                out.push((prefix.to_owned(), items.join(", ")));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&key(&i.to_string()), item, out);
            }
        }
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        other => out.push((prefix.to_owned(), scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn print_details<M: Proto>(message: &M) -> anyhow::Result<()> {
    print(&details(&to_json(message)?))
}

/// A delete's result: the (empty) response as JSON, a line for people.
pub fn deleted(format: Format, kind: &str, id: &str) -> anyhow::Result<()> {
    match format {
        Format::Json => print("{}"),
        _ => print(&format!("deleted {kind} {id}")),
    }
}

/// One resource: its JSON, or `key  value` lines.
pub fn show<M: Proto>(format: Format, message: &M) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(&to_json(message)?),
        _ => print_details(message),
    }
}

/// `value` quoted for a POSIX shell: single quotes, each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `export NAME='value'` lines, for `eval "$(dcrctl ... --output env)"`.
pub fn env_lines(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("export {name}={}", shell_quote(value)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A timestamp for people (RFC 3339), or "" when unset.
pub fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.map(ToString::to_string).unwrap_or_default()
}

/// An enum value by its proto name without the type's prefix: `ACTIVE` for
/// `APPLICATION_STATE_ACTIVE`.
pub fn enum_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix).unwrap_or(full).to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("it's a b"), r"'it'\''s a b'");
        assert_eq!(
            env_lines(&[("A", "x"), ("B", "")]),
            "export A='x'\nexport B=''"
        );
    }

    #[test]
    fn json_uses_enum_names_and_proto_field_names() {
        let app = reg::Application {
            id: "a1".into(),
            client_id: "c1".into(),
            state: reg::ApplicationState::Active as i32,
            create_time: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            ..Default::default()
        };
        let json = to_json(&app).expect("json");
        assert_eq!(json["state"], "APPLICATION_STATE_ACTIVE");
        assert_eq!(json["client_id"], "c1");
        assert_eq!(json["create_time"], "1970-01-01T00:00:00Z");
        assert_eq!(json["redirect_uris"], serde_json::json!([]));
        let back: reg::Application = from_json(json).expect("parse back");
        assert_eq!(back, app);
    }

    #[test]
    fn details_flatten_and_skip_empty_fields() {
        let value = serde_json::json!({
            "audience": "",
            "id": "p1",
            "labels": {"team": "payments"},
            "name": "okta",
            "scopes": ["read", "write"],
            "okta": {"dcr_token": ""},
        });
        assert_eq!(
            details(&value),
            "id           p1\nname         okta\nlabels.team  payments\nscopes       read, write"
        );
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "long-name".into()])
            .row(vec!["222".into(), "x".into()]);
        assert_eq!(t.render(), "ID   NAME\n1    long-name\n222  x");
    }
}
