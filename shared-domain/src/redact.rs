//! Passwords out of URLs, for anything shown to an operator or a client: log lines, error
//! messages, readiness bodies. (Not behind the `service` feature: the event store's HTTP client
//! needs it too.)

/// The URL with its password (if any) replaced by `***`, for logs:
/// `postgres://app:s3cret@db/orders` → `postgres://app:***@db/orders`,
/// `redis://:s3cret@cache:6379` → `redis://:***@cache:6379`.
pub fn redact_url(url: &str) -> String {
    redact_urls_in(url)
}

/// Every `scheme://user:password@` in `text` with the password replaced by `***`, and so the
/// value of every `password=` (libpq's `key=value` form and `?password=` URL parameters), for
/// error messages that may quote a connection string.
pub fn redact_urls_in(text: &str) -> String {
    redact_password_params(&redact_userinfo(text))
}

/// `password=<value>` (any case; the value up to whitespace, `&` or `;`, or a quoted one) →
/// `password=***`.
fn redact_password_params(text: &str) -> String {
    const KEY: &str = "password=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(KEY) {
        let value_start = pos + found + KEY.len();
        out.push_str(&text[pos..value_start]);
        let value = &text[value_start..];
        let value_len = match value.chars().next() {
            Some(quote @ ('\'' | '"')) => value[1..].find(quote).map_or(value.len(), |end| end + 2),
            _ => value
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';'))
                .unwrap_or(value.len()),
        };
        out.push_str("***");
        pos = value_start + value_len;
    }
    out.push_str(&text[pos..]);
    out
}

fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first '/', '?', '#' or whitespace.
        let authority_end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(at_sign) => {
                let userinfo = &authority[..at_sign];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str("***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_passwords_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/orders?sslmode=disable"),
            "postgres://app:***@db:5432/orders?sslmode=disable"
        );
        assert_eq!(
            redact_url("redis://:s3cret@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(
            redact_url("postgres://app@db/orders"),
            "postgres://app@db/orders"
        );
        assert_eq!(
            redact_url("http://u:p@a/x?next=http://v:q@b/"),
            "http://u:***@a/x?next=http://v:***@b/"
        );
    }

    #[test]
    fn password_parameters_are_hidden() {
        assert_eq!(
            redact_urls_in("host=db user=app password=s3cret dbname=orders"),
            "host=db user=app password=*** dbname=orders"
        );
        assert_eq!(
            redact_urls_in("host=db PASSWORD='a b c' port=5432"),
            "host=db PASSWORD=*** port=5432"
        );
        assert_eq!(
            redact_urls_in("postgres://db/orders?password=s3cret&sslmode=disable"),
            "postgres://db/orders?password=***&sslmode=disable"
        );
    }

    #[test]
    fn redact_urls_in_text_hides_embedded_passwords() {
        let text = "error connecting to postgres://app:pw@db/x: refused";
        assert_eq!(
            redact_urls_in(text),
            "error connecting to postgres://app:***@db/x: refused"
        );
    }
}
