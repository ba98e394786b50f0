//! 12-factor settings: read a variable, fall back to a documented default, and say clearly what is
//! wrong with a bad value — without printing secrets. Also [`redact_url`] for logging URLs that
//! carry passwords.
//!
//! Every reader exists twice: a free function over the process environment ([`env_or`], …) and a
//! method on [`Vars`], which can also be built from pairs so that tests never touch the process
//! environment (setting it is `unsafe` in edition 2024, and the workspace forbids `unsafe`).

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

pub use crate::redact::{redact_url, redact_urls_in};

/// A setting that is missing or does not parse. Its `Display` is the one line to show an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}={value}: expected {expected}")]
pub struct ConfigError {
    /// The variable's name, e.g. `PORT`.
    pub variable: String,
    /// The value as found (quoted), `<unset>`, or `<redacted>` for secret variables.
    pub value: String,
    /// What would have been accepted, and the parser's complaint.
    pub expected: String,
}

/// Every bad setting at once, one [`ConfigError`] per variable: its `Display` is one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Most bad variables [`load_all`] reports (a bound on re-parsing, far above any real count).
const MAX_REPORTED: usize = 64;

/// Runs a service's `parse` (its `Config::from_vars`) over `vars` and, when a variable is bad,
/// again without it, until the rest parses: so an operator who got several values wrong sees
/// one message for each at the first start, not one per restart. A variable that stays bad
/// when unset (a required one) ends the search.
///
/// `main`: `let config = load_all(&Vars::from_env(), Config::from_vars)` and on `Err` print it
/// and exit 2.
pub fn load_all<T>(
    vars: &Vars,
    parse: impl Fn(&Vars) -> Result<T, ConfigError>,
) -> Result<T, ConfigErrors> {
    let mut current = vars.snapshot();
    let mut errors: Vec<ConfigError> = Vec::new();
    loop {
        match parse(&current) {
            Ok(config) if errors.is_empty() => return Ok(config),
            Ok(_) => return Err(ConfigErrors(errors)),
            Err(error) => {
                let repeated = errors.iter().any(|e| e.variable == error.variable);
                let unset = current.raw(&error.variable).is_none();
                if !repeated {
                    errors.push(error.clone());
                }
                if repeated || unset || errors.len() >= MAX_REPORTED {
                    return Err(ConfigErrors(errors));
                }
                current = current.without(&error.variable);
            }
        }
    }
}

/// Where settings come from: the process environment or a fixed map (tests).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    fixed: Option<HashMap<String, String>>,
}

impl Vars {
    /// The process environment.
    pub fn from_env() -> Self {
        Self { fixed: None }
    }

    /// A fixed set of variables; anything else is unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            fixed: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The same variables as a fixed map (the process environment read now, its UTF-8 values).
    pub fn snapshot(&self) -> Self {
        match &self.fixed {
            Some(_) => self.clone(),
            None => Self {
                fixed: Some(
                    std::env::vars_os()
                        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                        .collect(),
                ),
            },
        }
    }

    /// These variables with `name` unset.
    #[must_use]
    pub fn without(&self, name: &str) -> Self {
        let mut copy = self.snapshot();
        if let Some(map) = copy.fixed.as_mut() {
            map.remove(name);
        }
        copy
    }

    /// The raw value; an empty value counts as unset.
    pub fn raw(&self, name: &str) -> Option<String> {
        let value = match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// The parsed value, or `None` when unset.
    pub fn opt<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(name)
            .map(|raw| {
                raw.trim()
                    .parse::<T>()
                    .map_err(|e| invalid(name, &raw, format!("{} ({e})", type_label::<T>())))
            })
            .transpose()
    }

    /// The parsed value, or `default` when unset.
    pub fn or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.opt(name)?.unwrap_or(default))
    }

    /// The parsed value; unset is an error.
    pub fn required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.opt(name)?.ok_or_else(|| ConfigError {
            variable: name.to_owned(),
            value: "<unset>".to_owned(),
            expected: format!("a value ({} is required)", type_label::<T>()),
        })
    }

    /// A duration given in whole milliseconds, or `default` when unset.
    pub fn duration_ms(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| invalid(name, &raw, "a whole number of milliseconds".to_owned())),
        }
    }

    /// A duration given in whole seconds, or `default` when unset.
    pub fn duration_secs(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| invalid(name, &raw, "a whole number of seconds".to_owned())),
        }
    }

    /// A switch: `true/false`, `1/0`, `yes/no`, `on/off` (any case), or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(invalid(name, &raw, "true or false".to_owned())),
            },
        }
    }
}

/// `name` parsed as `T` from the environment, or `default` when unset or empty.
pub fn env_or<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    Vars::from_env().or(name, default)
}

/// `name` parsed as `T` from the environment, or `None` when unset or empty.
pub fn env_opt<T>(name: &str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    Vars::from_env().opt(name)
}

/// `name` parsed as `T` from the environment; unset is an error.
pub fn env_required<T>(name: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    Vars::from_env().required(name)
}

/// A duration in whole milliseconds from the environment, or `default` when unset.
pub fn env_duration_ms(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    Vars::from_env().duration_ms(name, default)
}

/// The expected type as an operator reads it: `IpAddr`, not `core::net::ip_addr::IpAddr`.
fn type_label<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    match full.find('<') {
        Some(_) => full,
        None => full.rsplit("::").next().unwrap_or(full),
    }
}

/// Whether a variable holds a secret by its name (contains TOKEN, KEY, SECRET or PASSWORD):
/// its value is never printed. (Other values are printed with URL passwords redacted.)
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["TOKEN", "KEY", "SECRET", "PASSWORD"]
        .iter()
        .any(|word| upper.contains(word))
}

fn invalid(name: &str, raw: &str, expected: String) -> ConfigError {
    let secret = is_secret_name(name);
    ConfigError {
        variable: name.to_owned(),
        value: if secret {
            "<redacted>".to_owned()
        } else {
            format!("{:?}", redact_urls_in(raw))
        },
        // A parser's complaint may quote the input; for secrets keep only the expected type.
        expected: if secret {
            expected.split(" (").next().unwrap_or_default().to_owned()
        } else {
            redact_urls_in(&expected)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variable_gives_the_default() {
        let vars = Vars::from_pairs([("OTHER", "1")]);
        assert_eq!(vars.or("PORT", 8080u16).unwrap(), 8080);
        assert_eq!(vars.opt::<u16>("PORT").unwrap(), None);
    }

    #[test]
    fn empty_variable_counts_as_unset() {
        let vars = Vars::from_pairs([("PORT", " ")]);
        assert_eq!(vars.or("PORT", 8080u16).unwrap(), 8080);
    }

    #[test]
    fn bad_value_names_variable_value_and_expectation() {
        let vars = Vars::from_pairs([("PORT", "eighty")]);
        let error = vars.or("PORT", 8080u16).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("PORT"), "{message}");
        assert!(message.contains("\"eighty\""), "{message}");
        assert!(message.contains("u16"), "{message}");
    }

    #[test]
    fn the_expected_type_is_named_without_its_module_path() {
        let vars = Vars::from_pairs([("HOST", "nowhere")]);
        let message = vars
            .or("HOST", std::net::IpAddr::from([0, 0, 0, 0]))
            .unwrap_err()
            .to_string();
        assert!(message.contains("expected IpAddr ("), "{message}");
    }

    #[test]
    fn bad_secret_value_is_redacted() {
        let vars = Vars::from_pairs([("PROJECTION_AUTH_TOKEN", "tok-123-secret")]);
        let error = vars.or("PROJECTION_AUTH_TOKEN", 0u32).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("PROJECTION_AUTH_TOKEN"), "{message}");
        assert!(message.contains("<redacted>"), "{message}");
        assert!(!message.contains("tok-123-secret"), "{message}");
    }

    #[test]
    fn missing_required_variable_is_an_error() {
        let error = Vars::from_pairs::<&str, &str>([])
            .required::<String>("DATABASE_URL")
            .unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL=<unset>"));
    }

    #[test]
    fn durations_and_flags_parse() {
        let vars = Vars::from_pairs([("T_MS", "250"), ("T_S", "3"), ("F", "Yes"), ("BAD", "x")]);
        assert_eq!(
            vars.duration_ms("T_MS", Duration::ZERO).unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(
            vars.duration_secs("T_S", Duration::ZERO).unwrap(),
            Duration::from_secs(3)
        );
        assert!(vars.flag("F", false).unwrap());
        assert!(vars.duration_ms("BAD", Duration::ZERO).is_err());
        assert!(vars.flag("BAD", false).is_err());
    }

    /// A parser shaped like the services' `Config::from_vars`: stops at the first bad value.
    fn parse_three(vars: &Vars) -> Result<(u16, u32, bool), ConfigError> {
        Ok((
            vars.or("PORT", 8080u16)?,
            vars.or("LIMIT", 10u32)?,
            vars.flag("ON", false)?,
        ))
    }

    #[test]
    fn load_all_reports_every_bad_variable_once() {
        let vars = Vars::from_pairs([("PORT", "eighty"), ("LIMIT", "-1"), ("ON", "yes")]);
        let errors = load_all(&vars, parse_three).unwrap_err();
        let names: Vec<&str> = errors.0.iter().map(|e| e.variable.as_str()).collect();
        assert_eq!(names, ["PORT", "LIMIT"]);
        let text = errors.to_string();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.lines()
                .all(|l| l.starts_with("invalid configuration: "))
        );
    }

    #[test]
    fn load_all_passes_a_good_configuration_through() {
        let vars = Vars::from_pairs([("PORT", "9000")]);
        assert_eq!(load_all(&vars, parse_three).unwrap(), (9000, 10, false));
    }

    #[test]
    fn load_all_stops_at_a_required_variable() {
        let parse = |vars: &Vars| -> Result<(String, u16), ConfigError> {
            Ok((vars.required("DATABASE_URL")?, vars.or("PORT", 1u16)?))
        };
        let errors = load_all(&Vars::from_pairs([("PORT", "x")]), parse).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].value, "<unset>");
    }

    #[test]
    fn secret_names() {
        assert!(is_secret_name("EVENTSTORE_API_KEY"));
        assert!(is_secret_name("webhook_secret"));
        assert!(!is_secret_name("DATABASE_URL"));
    }
}
