//! Which credential a request carries, parsed defensively: bounded sizes, strict
//! schemes, nothing that can panic. `authorization` wins over a session cookie.

/// Tokens longer than this are refused before any decoding (JWTs are a few KB).
pub const MAX_TOKEN: usize = 8 * 1024;
const MAX_COOKIE_HEADER: usize = 16 * 1024;

/// Bearer tokens and session cookies borrow from the request's headers: a JWT is a few
/// KB, and copying it on every Check bought nothing. Basic credentials are decoded, so
/// owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    Bearer(&'a str),
    Basic {
        client_id: String,
        client_secret: String,
    },
    Session(&'a str),
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

/// RFC 6750 b64token characters (and `=` anywhere), as a table: the check runs over every
/// byte of a multi-KB token on every Check, and one lookup per byte is several times
/// cheaper than the comparisons it replaces.
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
        i += 1;
    }
    table
};

/// Whether every byte of `token` is a b64token character. Eight lookups are AND-ed
/// before each branch: the token is almost always fine, so there is nothing to gain
/// from stopping at the first bad byte.
fn is_b64token(token: &str) -> bool {
    let ok = |b: &u8| B64TOKEN[usize::from(*b)];
    let mut chunks = token.as_bytes().chunks_exact(8);
    let whole = chunks.all(|c| c.iter().fold(true, |all, b| all & ok(b)));
    whole && chunks.remainder().iter().all(ok)
}

fn authorization(value: &str) -> Result<Credential<'_>, Malformed> {
    if value.len() > MAX_TOKEN + 16 {
        return Err(Malformed::TooLarge);
    }
    let (scheme, rest) = value.split_once(' ').ok_or(Malformed::Authorization)?;
    let rest = rest.trim();
    if rest.len() > MAX_TOKEN {
        return Err(Malformed::TooLarge);
    }
    if rest.is_empty() {
        return Err(Malformed::Authorization);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        // A space is not a b64token character: this check refuses inner spaces too.
        return if is_b64token(rest) {
            Ok(Credential::Bearer(rest))
        } else {
            Err(Malformed::Authorization)
        };
    }
    if rest.contains(' ') {
        return Err(Malformed::Authorization);
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
fn cookie<'a>(header: &'a str, name: &str) -> Result<Option<&'a str>, Malformed> {
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
            found = Some(value.trim_matches('"'));
        }
    }
    Ok(found)
}

/// The request's credential. `headers` are (lower-case name, value) pairs; a name that
/// appears twice is refused, since proxies may disagree about which one counts.
pub fn parse<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    session_cookie: Option<&str>,
) -> Result<Credential<'a>, Malformed> {
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

    fn one<'a>(name: &'static str, value: &'a str) -> Result<Credential<'a>, Malformed> {
        parse([(name, value)], Some("dcr_session"))
    }

    #[test]
    fn schemes_are_recognised() {
        assert_eq!(
            one("authorization", "Bearer abc.def.ghi"),
            Ok(Credential::Bearer("abc.def.ghi"))
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
            Ok(Credential::Session("xyz"))
        );
        assert_eq!(one("x-other", "1"), Ok(Credential::None));
    }

    #[test]
    fn the_b64token_table_holds_rfc_6750s_characters_and_every_byte_is_checked() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
            assert_eq!(B64TOKEN[usize::from(b)], expected, "byte {b}");
        }
        // A bad byte anywhere, in a whole chunk of eight or in the remainder, is found.
        for at in 0..19 {
            let mut token = vec![b'a'; 19];
            token[at] = b'!';
            assert!(!is_b64token(std::str::from_utf8(&token).unwrap()), "{at}");
        }
        assert!(is_b64token("abc.DEF-123_~+/=="));
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
