//! The subscriptions config file: the schema of `deltabase.config.ts` in TOML or JSON, with
//! `${ENV}` interpolation, checked whole before anything is applied.
//!
//! ```toml
//! [[eventStores]]
//! name = "orders"
//! [[eventStores.subscriptions]]
//! id = "order-summary-projection"
//! eventFilter = ["order.placed", "order.shipped"]
//! webhook.url = "${SERVICE_URL:-http://localhost:8082}/api/projections/orders/events"
//! webhook.headers = { Authorization = "Bearer ${PROJECTION_AUTH_TOKEN}" }
//! ```
//!
//! Interpolation is done on the parsed document's string values (never on the raw text, so a
//! value cannot inject structure): `${NAME}` (an error naming the field when unset),
//! `${NAME:-default}`, and `$${` for a literal `${`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared_domain::service::config::Vars;

use super::spec::{FieldError, SubscriptionDefinition, SubscriptionSpec, join};
use crate::delivery::allowlist::Allowlist;

/// The file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub event_stores: Vec<EventStoreSpec>,
}

/// One entry of `eventStores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventStoreSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub settings: Option<Value>,
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionSpec>,
}

/// A checked file: what to deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub stores: Vec<StoreDeployment>,
}

/// One store and its subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreDeployment {
    pub name: String,
    pub description: Option<String>,
    pub settings: Option<Value>,
    pub subscriptions: Vec<SubscriptionDefinition>,
}

/// Why a file was refused. `Display` is one line for an operator: the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{file}: {error}")]
    Field { file: String, error: FieldError },
}

/// The formats a file may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

impl Format {
    /// By extension; otherwise JSON when the text starts with `{`, else TOML.
    pub fn detect(path: &Path, text: &str) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::Json,
            Some("toml") => Self::Toml,
            _ if text.trim_start().starts_with('{') => Self::Json,
            _ => Self::Toml,
        }
    }
}

/// Reads, interpolates and checks a file.
pub fn load(
    path: &Path,
    vars: &Vars,
    allowlist: Option<&Allowlist>,
) -> Result<Deployment, ConfigFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: file.clone(),
        source,
    })?;
    parse(&text, Format::detect(path, &text), vars, allowlist).map_err(|e| match e {
        ConfigFileError::Syntax { message, .. } => ConfigFileError::Syntax {
            path: file,
            message,
        },
        ConfigFileError::Field { error, .. } => ConfigFileError::Field { file, error },
        read => read,
    })
}

/// Parses, interpolates and checks a document.
pub fn parse(
    text: &str,
    format: Format,
    vars: &Vars,
    allowlist: Option<&Allowlist>,
) -> Result<Deployment, ConfigFileError> {
    let syntax = |message: String| ConfigFileError::Syntax {
        path: "<config>".to_owned(),
        message,
    };
    let field = |error: FieldError| ConfigFileError::Field {
        file: "<config>".to_owned(),
        error,
    };
    let mut document: Value = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?,
        Format::Toml => {
            let value: toml::Value = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
            serde_json::to_value(value).map_err(|e| syntax(e.to_string()))?
        }
    };
    interpolate(&mut document, "", vars).map_err(field)?;
    let file: ConfigFile = serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        field(FieldError::new(
            missing_field_path(&path, &message),
            message,
        ))
    })?;
    check(&file, allowlist).map_err(field)
}

/// serde reports a missing field at the enclosing object; name the field itself.
fn missing_field_path(path: &str, message: &str) -> String {
    let base = if path == "." { "" } else { path };
    match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        Some(name) => join(base, name),
        None if base.is_empty() => "<root>".to_owned(),
        None => base.to_owned(),
    }
}

/// Checks a parsed file: store names, unique names and ids, every subscription.
pub fn check(file: &ConfigFile, allowlist: Option<&Allowlist>) -> Result<Deployment, FieldError> {
    let mut stores = Vec::with_capacity(file.event_stores.len());
    for (i, store) in file.event_stores.iter().enumerate() {
        let store_path = format!("eventStores[{i}]");
        check_store_name(&store.name).map_err(|r| FieldError::new(join(&store_path, "name"), r))?;
        if file.event_stores[..i].iter().any(|s| s.name == store.name) {
            return Err(FieldError::new(
                join(&store_path, "name"),
                format!("store {:?} is configured twice", store.name),
            ));
        }
        let mut subscriptions: Vec<SubscriptionDefinition> = Vec::new();
        for (j, spec) in store.subscriptions.iter().enumerate() {
            let path = format!("{store_path}.subscriptions[{j}]");
            let definition = SubscriptionDefinition::check(spec, &path, allowlist)?;
            if subscriptions.iter().any(|s| s.id == definition.id) {
                return Err(FieldError::new(
                    join(&path, "id"),
                    format!("subscription {:?} is configured twice", definition.id),
                ));
            }
            subscriptions.push(definition);
        }
        stores.push(StoreDeployment {
            name: store.name.clone(),
            description: store.description.clone(),
            settings: store.settings.clone(),
            subscriptions,
        });
    }
    Ok(Deployment { stores })
}

/// The store-name rule of the API (`^[a-z0-9_-]{3,63}$`).
pub fn check_store_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err("must match ^[a-z0-9_-]{3,63}$".to_owned())
    }
}

/// Replaces `${…}` in every string value, in place.
fn interpolate(value: &mut Value, path: &str, vars: &Vars) -> Result<(), FieldError> {
    match value {
        Value::String(text) => {
            *text = interpolate_str(text, vars).map_err(|r| FieldError::new(path, r))?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{path}[{i}]"), vars)?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                interpolate(item, &join(path, key), vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `${NAME}`, `${NAME:-default}`, `$${` → `${`.
pub fn interpolate_str(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or("an unterminated ${ (write $${ for a literal ${)")?;
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            let valid_name = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(format!(
                    "${{{inner}}} does not name an environment variable"
                ));
            }
            match (vars.raw(name), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!("environment variable {name} is not set"));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
