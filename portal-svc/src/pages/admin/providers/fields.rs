//! What the provider forms say about each type and each of its config fields. Which
//! fields a type has, which are secrets and which are required comes from the one table
//! the registry validates with (`dcr_proto::providers`); this file only adds the words a
//! person needs (a label and a hint, from docs/providers.md), so a form always has
//! exactly the type's fields.

use dcr_proto::providers::{ConfigField, TypeSchema};

/// How a type is introduced on the type picker, and what its issuer looks like.
pub struct TypeText {
    pub name: &'static str,
    pub title: &'static str,
    pub about: &'static str,
    pub issuer_hint: &'static str,
}

pub const TYPE_TEXTS: &[TypeText] = &[
    TypeText {
        name: "auth0",
        title: "Auth0",
        about: "Clients made through the Auth0 Management API by a Machine-to-Machine app.",
        issuer_hint: "Your tenant, with the slash: https://TENANT.auth0.com/",
    },
    TypeText {
        name: "okta",
        title: "Okta",
        about: "Clients made through Okta's APIs, by a service app (recommended) or an API token.",
        issuer_hint: "The authorization server, e.g. https://ORG.okta.com/oauth2/default",
    },
    TypeText {
        name: "curity",
        title: "Curity Identity Server",
        about: "Clients registered with Curity's DCR endpoint by a client allowed the dcr scope.",
        issuer_hint: "The token service's issuer, e.g. https://idsvr.example.com/oauth/v2/oauth-anonymous",
    },
    TypeText {
        name: "azure_ad",
        title: "Microsoft Entra ID (Azure AD)",
        about: "App registrations made through Microsoft Graph.",
        issuer_hint: "https://login.microsoftonline.com/TENANT_ID/v2.0",
    },
    TypeText {
        name: "rfc7591",
        title: "Any RFC 7591 / RFC 7592 provider",
        about: "Standard dynamic client registration, and RFC 7592 to manage the clients.",
        issuer_hint: "The IdP's issuer; its discovery document names the registration endpoint.",
    },
    TypeText {
        name: "http_bridge",
        title: "HTTP DCR bridge (Kong Konnect contract)",
        about: "A bridge service of your own that speaks Kong Konnect's HTTP DCR contract.",
        issuer_hint: "The issuer of the tokens the bridge's IdP mints.",
    },
];

pub fn type_text(schema: &TypeSchema) -> &'static TypeText {
    TYPE_TEXTS
        .iter()
        .find(|t| t.name == schema.name)
        .unwrap_or(&TYPE_TEXTS[0])
}

/// A config field's label and hint.
pub struct FieldText {
    pub label: &'static str,
    pub hint: &'static str,
}

/// (type, field) -> words. A field missing here falls back to its proto name (a unit
/// test keeps the table complete).
const FIELD_TEXTS: &[(&str, &str, FieldText)] = &[
    (
        "auth0",
        "initial_client_id",
        FieldText {
            label: "Management client ID",
            hint: "The Client ID of a Machine-to-Machine app authorized for the Auth0 Management API (read, create, update and delete clients, client keys and client grants).",
        },
    ),
    (
        "auth0",
        "initial_client_secret",
        FieldText {
            label: "Management client secret",
            hint: "That app's Client Secret.",
        },
    ),
    (
        "auth0",
        "initial_client_audience",
        FieldText {
            label: "Management API audience",
            hint: "Empty: the issuer followed by api/v2/.",
        },
    ),
    (
        "auth0",
        "use_developer_managed_scopes",
        FieldText {
            label: "Developers choose their scopes",
            hint: "Client grants get the scopes a developer asks for when registering, instead of the strategy's.",
        },
    ),
    (
        "auth0",
        "token_endpoint_auth_method",
        FieldText {
            label: "Management client authentication",
            hint: "Must match the app's Credentials > Authentication Method in the Auth0 dashboard.",
        },
    ),
    (
        "okta",
        "dcr_token",
        FieldText {
            label: "API token",
            hint: "An Okta API token (SSWS) of an admin with the Application Administrator role. Give either this or a service app below, not both.",
        },
    ),
    (
        "okta",
        "management_client_id",
        FieldText {
            label: "Service app client ID",
            hint: "The Client ID of an Okta API Services app using Public key / Private key authentication, granted okta.clients.read, okta.clients.register, okta.clients.manage, okta.apps.read and okta.apps.manage. Give it with its private key.",
        },
    ),
    (
        "okta",
        "management_private_key",
        FieldText {
            label: "Service app private key",
            hint: "PEM, as Okta's Generate new key gives it: PKCS#8 RSA or EC P-256, or PKCS#1 RSA.",
        },
    ),
    (
        "okta",
        "management_key_id",
        FieldText {
            label: "Service app key ID",
            hint: "The KID of that key in Okta; needed when the app has several keys, or a key with a KID.",
        },
    ),
    (
        "curity",
        "initial_client_id",
        FieldText {
            label: "DCR client ID",
            hint: "A client allowed the dcr scope with client credentials.",
        },
    ),
    (
        "curity",
        "initial_client_secret",
        FieldText {
            label: "DCR client secret",
            hint: "That client's secret.",
        },
    ),
    (
        "curity",
        "introspection_client_id",
        FieldText {
            label: "Introspection client ID",
            hint: "For opaque access tokens: a client Curity lets introspect tokens (RFC 7662). Give both or neither.",
        },
    ),
    (
        "curity",
        "introspection_client_secret",
        FieldText {
            label: "Introspection client secret",
            hint: "That client's secret.",
        },
    ),
    (
        "azure_ad",
        "initial_client_id",
        FieldText {
            label: "Application (client) ID",
            hint: "An app registration with the Microsoft Graph application permission Application.ReadWrite.OwnedBy, admin consent granted.",
        },
    ),
    (
        "azure_ad",
        "initial_client_secret",
        FieldText {
            label: "Client secret",
            hint: "A client secret of that app registration.",
        },
    ),
    (
        "azure_ad",
        "graph_base_url",
        FieldText {
            label: "Microsoft Graph URL",
            hint: "Empty: https://graph.microsoft.com. Set it for national clouds, e.g. https://graph.microsoft.us.",
        },
    ),
    (
        "rfc7591",
        "registration_endpoint",
        FieldText {
            label: "Registration endpoint",
            hint: "Empty: taken from the issuer's discovery document.",
        },
    ),
    (
        "rfc7591",
        "initial_access_token",
        FieldText {
            label: "Initial access token",
            hint: "If the IdP asks for one to register clients (RFC 7591).",
        },
    ),
    (
        "rfc7591",
        "introspection_client_id",
        FieldText {
            label: "Introspection client ID",
            hint: "For opaque access tokens: a client of this IdP allowed to introspect tokens (RFC 7662). Give both or neither.",
        },
    ),
    (
        "rfc7591",
        "introspection_client_secret",
        FieldText {
            label: "Introspection client secret",
            hint: "That client's secret.",
        },
    ),
    (
        "http_bridge",
        "dcr_base_url",
        FieldText {
            label: "Bridge URL",
            hint: "The base URL of the bridge service.",
        },
    ),
    (
        "http_bridge",
        "api_key",
        FieldText {
            label: "API key",
            hint: "Sent to the bridge as the x-api-key header.",
        },
    ),
    (
        "http_bridge",
        "disable_event_hooks",
        FieldText {
            label: "No event hooks",
            hint: "Do not tell the bridge about updates and registrations.",
        },
    ),
    (
        "http_bridge",
        "disable_refresh_secret",
        FieldText {
            label: "No new secrets",
            hint: "Regenerating a secret and adding one are refused for this provider's apps.",
        },
    ),
    (
        "http_bridge",
        "allow_multiple_credentials",
        FieldText {
            label: "Several secrets per app",
            hint: "Only for a bridge whose new-secret keeps the earlier secrets working (the published contract replaces them).",
        },
    ),
];

pub fn field_text(schema: &TypeSchema, field: &ConfigField) -> FieldText {
    FIELD_TEXTS
        .iter()
        .find(|(t, f, _)| *t == schema.name && *f == field.name)
        .map_or(
            FieldText {
                label: field.name,
                hint: "",
            },
            |(_, _, text)| FieldText {
                label: text.label,
                hint: text.hint,
            },
        )
}

/// The fields that offer a choice instead of free text: (value, label), "" the default.
pub fn choices(field: &str) -> Option<&'static [(&'static str, &'static str)]> {
    match field {
        "token_endpoint_auth_method" => Some(&[
            ("", "Default (client_secret_post)"),
            (
                "client_secret_post",
                "client_secret_post (Client Secret (Post))",
            ),
            (
                "client_secret_basic",
                "client_secret_basic (Client Secret (Basic))",
            ),
        ]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use dcr_proto::providers::TYPES;

    use super::*;

    #[test]
    fn every_type_and_field_has_words() {
        for schema in TYPES {
            assert!(
                TYPE_TEXTS.iter().any(|t| t.name == schema.name),
                "{}",
                schema.name
            );
            for field in schema.fields {
                let text = field_text(schema, field);
                assert_ne!(text.label, field.name, "{}.{}", schema.name, field.name);
                assert!(!text.hint.is_empty(), "{}.{}", schema.name, field.name);
            }
        }
    }
}
