//! OAuth 2.0 wire details shared by the services that read client credentials.

use base64::Engine as _;

/// A scope token per RFC 6749 section 3.3 (printable ASCII but space, `"` and `\`),
/// at most 256 characters.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 256
        && scope
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
}

/// How a client authenticates at a token endpoint with its secret (RFC 7591 section 2,
/// `token_endpoint_auth_method`): HTTP Basic (RFC 6749 section 2.3.1) or `client_id` and
/// `client_secret` in the form body. IdPs that enforce one per client (Auth0) refuse the
/// other, so whoever sends a client's secret must know which one it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

impl ClientAuthMethod {
    pub const ALL: [Self; 2] = [Self::ClientSecretBasic, Self::ClientSecretPost];

    /// The RFC 7591 name, `client_secret_basic` or `client_secret_post`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    /// A method by its RFC 7591 name; None for any other (`none`, `private_key_jwt`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl std::fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client id or secret as RFC 6749 section 2.3.1 asks clients to send it in Basic:
/// form-urlencoded first (what `decode_basic` undoes).
pub fn form_encode_credential(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The client id and secret of a Basic credential (the part after `Basic `). RFC 6749
/// section 2.3.1 asks clients to form-urlencode both before encoding; several libraries
/// do not, so only `%XX` is decoded and `+` stays `+`. None for anything malformed.
pub fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id)?, percent_decode(secret)?))
}

fn percent_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(part.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_parts_are_percent_decoded_but_plus_is_kept() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%20id:s+cr%3At");
        assert_eq!(
            decode_basic(&encoded),
            Some(("my id".into(), "s+cr:t".into()))
        );
        assert_eq!(decode_basic("!!!"), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("abc");
        assert_eq!(decode_basic(&no_colon), None);
        let bad_escape = base64::engine::general_purpose::STANDARD.encode("a%zz:b");
        assert_eq!(decode_basic(&bad_escape), None);
    }

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(is_scope_token("read:orders"));
        assert!(!is_scope_token("has space"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("quote\""));
        assert!(!is_scope_token(&"a".repeat(257)));
    }
}
