//! The store URL taken apart as libpq takes a connection URI apart:
//! `postgresql://[user[:password]@][host][:port][/dbname][?key=value&…]`, percent-decoded.
//!
//! A password anywhere in it is refused, and no error message repeats a part of the URL that
//! could be a piece of a password (only option names and the values of `sslmode` and friends).

use super::PgError;
use std::path::PathBuf;

/// Where the server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgHost {
    /// A host name or an IP address (IPv6 without its brackets).
    Tcp(String),
    /// The directory of the server's Unix socket (a host that starts with `/`).
    Socket(PathBuf),
}

/// The URL's parts, decoded; options in the order written (the last of a repeated one wins).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RawUrl {
    pub user: Option<String>,
    pub host: Option<PgHost>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    pub options: Vec<(String, String)>,
}

fn bad(why: impl Into<String>) -> PgError {
    PgError::BadUrl { why: why.into() }
}

/// Parses a `postgresql://` or `postgres://` URL.
pub(super) fn parse(url: &str) -> Result<RawUrl, PgError> {
    let Some(rest) = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
    else {
        if url.contains("password") {
            return Err(PgError::PasswordInUrl);
        }
        return Err(bad(
            "it must be a URL of the form postgresql://user@host:port/database (key=value settings are not taken)",
        ));
    };
    let mut raw = RawUrl::default();
    // As libpq: user information is what comes before an `@` that precedes the first `/`.
    let rest = match rest.find(['@', '/']) {
        Some(i) if rest.as_bytes()[i] == b'@' => {
            let (userinfo, after) = (&rest[..i], &rest[i + 1..]);
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if password.is_some_and(|p| !p.is_empty()) {
                return Err(PgError::PasswordInUrl);
            }
            if !user.is_empty() {
                raw.user = Some(decode(user, "the user name")?);
            }
            after
        }
        _ => rest,
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (hostspec, path) = match before_query.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (before_query, None),
    };
    if before_query.contains('@') {
        return Err(bad(
            "it has an @ after the host; a user name goes before the host (postgresql://user@host/db), an @ in a name is written %40, and a password never goes in the URL",
        ));
    }
    parse_hostspec(hostspec, &mut raw)?;
    if let Some(p) = path.filter(|p| !p.is_empty()) {
        raw.dbname = Some(decode(p, "the database name")?);
    }
    if let Some(q) = query {
        parse_query(q, &mut raw)?;
    }
    Ok(raw)
}

fn parse_hostspec(spec: &str, raw: &mut RawUrl) -> Result<(), PgError> {
    if spec.contains(',') {
        return Err(bad(
            "it names several hosts; tdekey connects to one server, so name one host",
        ));
    }
    let (host, port) = if let Some(inner) = spec.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(bad("an IPv6 address in [ ] has no closing ]"));
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(bad("after [IPv6 address] only :port may follow")),
            },
        };
        (addr.to_owned(), port)
    } else {
        let (h, p) = match spec.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (spec, None),
        };
        (decode(h, "the host")?, p)
    };
    if !host.is_empty() {
        raw.host = Some(host_of(host));
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        raw.port = Some(port_of(&decode(p, "the port")?)?);
    }
    Ok(())
}

fn parse_query(query: &str, raw: &mut RawUrl) -> Result<(), PgError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            let key = decode(pair, "an option name")?;
            if key == "password" {
                return Err(PgError::PasswordInUrl);
            }
            return Err(bad(format!(
                "the option {key} has no value; write it as ?{key}=value"
            )));
        };
        let key = decode(key, "an option name")?;
        if key == "password" {
            return Err(PgError::PasswordInUrl);
        }
        let value = decode(value, &format!("the value of {key}"))?;
        match key.as_str() {
            "user" => raw.user = Some(value).filter(|v| !v.is_empty()),
            "dbname" => raw.dbname = Some(value).filter(|v| !v.is_empty()),
            "port" => raw.port = Some(port_of(&value)?),
            "host" => {
                if value.contains(',') {
                    return Err(bad(
                        "it names several hosts; tdekey connects to one server, so name one host",
                    ));
                }
                raw.host = Some(value).filter(|v| !v.is_empty()).map(host_of);
            }
            _ => raw.options.push((key, value)),
        }
    }
    Ok(())
}

fn host_of(host: String) -> PgHost {
    if host.starts_with('/') {
        PgHost::Socket(PathBuf::from(host))
    } else {
        PgHost::Tcp(host)
    }
}

fn port_of(text: &str) -> Result<u16, PgError> {
    // The text is not repeated: a mangled URL could have a piece of a password there.
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad("the port is not a number from 1 to 65535")),
    }
}

/// Percent-decodes `s` (`what` names it in the error) into UTF-8 text.
fn decode(s: &str, what: &str) -> Result<String, PgError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => out.push(v),
                None => {
                    return Err(bad(format!(
                        "a % in {what} is not followed by two hex digits (write a % itself as %25)"
                    )));
                }
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| bad(format!("{what} decodes to something that is not UTF-8")))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a URL that reads back.
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(url: &str) -> String {
        match parse(url) {
            Err(PgError::BadUrl { why }) => why,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn the_parts_of_a_full_url() {
        let r =
            parse("postgresql://tdekey@db1.example.com:6432/store?sslmode=verify-full").unwrap();
        assert_eq!(r.user.as_deref(), Some("tdekey"));
        assert_eq!(r.host, Some(PgHost::Tcp("db1.example.com".into())));
        assert_eq!(r.port, Some(6432));
        assert_eq!(r.dbname.as_deref(), Some("store"));
        assert_eq!(r.options, vec![("sslmode".into(), "verify-full".into())]);
        let r = parse("postgres://h").unwrap();
        assert_eq!(
            (r.user, r.host, r.port, r.dbname),
            (None, Some(PgHost::Tcp("h".into())), None, None)
        );
    }

    #[test]
    fn ipv6_hosts_in_brackets() {
        let r = parse("postgresql://u@[::1]:5433/d").unwrap();
        assert_eq!(r.host, Some(PgHost::Tcp("::1".into())));
        assert_eq!(r.port, Some(5433));
        let r = parse("postgresql://u@[fe80::1]/d").unwrap();
        assert_eq!(
            (r.host, r.port),
            (Some(PgHost::Tcp("fe80::1".into())), None)
        );
        assert!(why("postgresql://u@[::1/d").contains("closing ]"));
        assert!(why("postgresql://u@[::1]x/d").contains(":port"));
    }

    #[test]
    fn percent_encoding_and_sockets() {
        let r = parse(
            "postgresql://dba%40corp@%2Fvar%2Frun%2Fpostgresql/my%20db?application_name=a%26b",
        )
        .unwrap();
        assert_eq!(r.user.as_deref(), Some("dba@corp"));
        assert_eq!(r.host, Some(PgHost::Socket("/var/run/postgresql".into())));
        assert_eq!(r.dbname.as_deref(), Some("my db"));
        assert_eq!(r.options, vec![("application_name".into(), "a&b".into())]);
        let r = parse("postgresql:///d?host=/tmp&port=5499&user=x").unwrap();
        assert_eq!(r.host, Some(PgHost::Socket("/tmp".into())));
        assert_eq!((r.port, r.user.as_deref()), (Some(5499), Some("x")));
        assert!(why("postgresql://u@h/d%zz").contains("two hex digits"));
        assert!(why("postgresql://u@h/d%ff").contains("not UTF-8"));
        assert_eq!(encode("dba@corp/x y"), "dba%40corp%2Fx%20y");
    }

    #[test]
    fn ports_must_be_numbers_in_range() {
        assert_eq!(parse("postgresql://h:1/d").unwrap().port, Some(1));
        assert_eq!(parse("postgresql://h:65535/d").unwrap().port, Some(65535));
        assert_eq!(parse("postgresql://h:/d").unwrap().port, None);
        for p in ["0", "65536", "54x", "-1"] {
            assert!(
                why(&format!("postgresql://h:{p}/d")).contains("1 to 65535"),
                "{p}"
            );
        }
        assert!(why("postgresql://h/d?port=abc").contains("1 to 65535"));
    }

    #[test]
    fn passwords_are_refused_wherever_they_are() {
        for url in [
            "postgresql://u:secret@h/d",
            "postgres://u:s%40cret@h:5432/d",
            "postgresql://u:pa?ss@h/d",
            "postgresql://h/d?password=secret",
            "postgresql://h/d?sslmode=require&password",
            "host=h password=secret",
        ] {
            assert!(matches!(parse(url), Err(PgError::PasswordInUrl)), "{url}");
        }
        // An empty password part holds nothing: the user alone is taken.
        assert_eq!(
            parse("postgresql://u:@h/d").unwrap().user.as_deref(),
            Some("u")
        );
    }

    #[test]
    fn mangled_urls_never_echo_what_could_be_a_password() {
        // A password with a / in it puts the @ after the first /: refused without repeating it.
        let w = why("postgresql://u:pa/zq9@h/d");
        assert!(w.contains("@ after the host") && !w.contains("zq9"), "{w}");
        let w = why("postgresql://u:hunter2/d");
        assert!(!w.contains("hunter2"), "{w}");
        let w = why("mysql://u@h/d");
        assert!(w.contains("postgresql://"), "{w}");
    }

    #[test]
    fn one_host_only() {
        assert!(why("postgresql://h1,h2/d").contains("one host"));
        assert!(why("postgresql:///d?host=a,b").contains("one host"));
        assert!(why("postgresql://h/d?sslmode").contains("has no value"));
    }
}
