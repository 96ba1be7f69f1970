//! Which credential a request carries, parsed defensively: bounded sizes, strict
//! schemes, nothing that can panic. `authorization` wins over a session cookie.

/// Tokens longer than this are refused before any decoding (JWTs are a few KB).
pub const MAX_TOKEN: usize = 8 * 1024;
const MAX_COOKIE_HEADER: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Bearer(String),
    Basic {
        client_id: String,
        client_secret: String,
    },
    Session(String),
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the authorization header is malformed")]
    Authorization,
    #[error("the credential is too large")]
    TooLarge,
    #[error("the cookie header is malformed")]
    Cookie,
}

fn authorization(value: &str) -> Result<Credential, Malformed> {
    if value.len() > MAX_TOKEN + 16 {
        return Err(Malformed::TooLarge);
    }
    let (scheme, rest) = value.split_once(' ').ok_or(Malformed::Authorization)?;
    let rest = rest.trim();
    if rest.len() > MAX_TOKEN {
        return Err(Malformed::TooLarge);
    }
    if rest.is_empty() || rest.contains(' ') {
        return Err(Malformed::Authorization);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750 b64token characters only.
        let ok = rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
        return if ok {
            Ok(Credential::Bearer(rest.to_owned()))
        } else {
            Err(Malformed::Authorization)
        };
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let (client_id, client_secret) =
            dcr_common::oauth::decode_basic(rest).ok_or(Malformed::Authorization)?;
        if client_id.is_empty() || client_secret.is_empty() {
            return Err(Malformed::Authorization);
        }
        return Ok(Credential::Basic {
            client_id,
            client_secret,
        });
    }
    Err(Malformed::Authorization)
}

/// The value of cookie `name` in a Cookie header (RFC 6265 section 4.2).
fn cookie(header: &str, name: &str) -> Result<Option<String>, Malformed> {
    if header.len() > MAX_COOKIE_HEADER {
        return Err(Malformed::TooLarge);
    }
    let mut found = None;
    for pair in header.split(';') {
        let Some((key, value)) = pair.trim().split_once('=') else {
            continue;
        };
        if key == name {
            if found.is_some() {
                return Err(Malformed::Cookie); // two cookies of one name: ambiguous
            }
            if value.len() > MAX_TOKEN {
                return Err(Malformed::TooLarge);
            }
            found = Some(value.trim_matches('"').to_owned());
        }
    }
    Ok(found)
}

/// The request's credential. `headers` are (lower-case name, value) pairs; a name that
/// appears twice is refused, since proxies may disagree about which one counts.
pub fn parse<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    session_cookie: Option<&str>,
) -> Result<Credential, Malformed> {
    let mut auth = None;
    let mut cookies = None;
    for (name, value) in headers {
        let (slot, duplicate) = match name {
            "authorization" => (&mut auth, Malformed::Authorization),
            "cookie" => (&mut cookies, Malformed::Cookie),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(duplicate);
        }
    }
    if let Some(value) = auth {
        return authorization(value);
    }
    if let (Some(header), Some(name)) = (cookies, session_cookie)
        && let Some(value) = cookie(header, name)?
    {
        return Ok(Credential::Session(value));
    }
    Ok(Credential::None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::Engine as _;

    fn one(name: &'static str, value: &str) -> Result<Credential, Malformed> {
        parse([(name, value)], Some("dcr_session"))
    }

    #[test]
    fn schemes_are_recognised() {
        assert_eq!(
            one("authorization", "Bearer abc.def.ghi"),
            Ok(Credential::Bearer("abc.def.ghi".into()))
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("id%3A1:s+e");
        assert_eq!(
            one("authorization", &format!("Basic {basic}")),
            Ok(Credential::Basic {
                client_id: "id:1".into(),
                client_secret: "s+e".into()
            })
        );
        assert_eq!(
            one("cookie", "a=b; dcr_session=xyz"),
            Ok(Credential::Session("xyz".into()))
        );
        assert_eq!(one("x-other", "1"), Ok(Credential::None));
    }

    #[test]
    fn malformed_input_is_refused_not_guessed() {
        for bad in [
            "Bearer",
            "Bearer a b",
            "Bearer ä",
            "Basic !!!",
            "Basic YWJj",
            "Digest x",
            "Bearer ",
        ] {
            assert_eq!(
                one("authorization", bad),
                Err(Malformed::Authorization),
                "{bad:?}"
            );
        }
        assert_eq!(
            one(
                "authorization",
                &format!("Bearer {}", "a".repeat(MAX_TOKEN + 1))
            ),
            Err(Malformed::TooLarge)
        );
        assert_eq!(
            parse(
                [("authorization", "Bearer a"), ("authorization", "Bearer b")],
                None
            ),
            Err(Malformed::Authorization)
        );
        assert_eq!(
            one("cookie", "dcr_session=a; dcr_session=b"),
            Err(Malformed::Cookie)
        );
    }
}
