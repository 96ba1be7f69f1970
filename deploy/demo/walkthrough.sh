# The dcr walkthrough: an app, its registration, a token, a check. `dcrctl dev` prints it
# with the environment it needs; the compose test runs it against the compose stack.
# Needs DCR_REGISTRY_URL, DCR_TOKEN_URL, DCR_AUTHZ_URL, DCR_PORTAL_TOKEN, DCR_DEVELOPER_ID,
# DCR_GATEWAY_TOKEN (check), and DCR_ADMIN_TOKEN (to find names, and for the audit).

# 1. A developer creates an app: dcr creates its OAuth client at the IdP. The secret is
#    shown this once; --output env makes it shell variables (DCR_APP_ID, DCR_CLIENT_ID,
#    DCR_CLIENT_SECRET).
eval "$(dcrctl apps create "my-app-$RANDOM" --strategy demo --output env)"

# 2. The app asks for the demo product; the demo strategy approves at once.
dcrctl registrations create --product demo

# 3. The app's client credentials become an access token from the IdP, through token-svc
#    (DCR_ACCESS_TOKEN). Okta-style IdPs want the scopes named.
eval "$(dcrctl token --scope read --output env)"

# 4. A gateway asks authz-svc whether the token may call the product: ALLOW, with the app.
dcrctl check --product demo

# 5. The admin sees what happened.
dcrctl audit list
