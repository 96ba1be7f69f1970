-- How each application's IdP client sends its secret to the token endpoint
-- (client_secret_basic or client_secret_post), as the IdP created it: token-svc must use
-- exactly that one where the IdP enforces it (Auth0). NULL for clients made before dcr
-- kept it; token-svc then chooses from the IdP's discovery document, as it did before.
ALTER TABLE applications ADD COLUMN token_endpoint_auth_method text;
