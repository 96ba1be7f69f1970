-- The scopes a developer chose for one registration (a subset of the strategy's);
-- empty means the strategy's scopes. Auth0 providers with use_developer_managed_scopes
-- grant exactly these.
ALTER TABLE registrations ADD COLUMN scopes TEXT[] NOT NULL DEFAULT '{}';
