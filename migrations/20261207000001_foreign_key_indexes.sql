-- Indexes on the foreign keys that deletes check and that "in use" messages look up
-- (the SQLite schema had them from the start; the schema test found Postgres without).
-- Without them, deleting a provider, strategy or product scans the referring table.
CREATE INDEX IF NOT EXISTS auth_strategies_provider ON auth_strategies (provider_id);
CREATE INDEX IF NOT EXISTS api_products_strategy ON api_products (strategy_id);
CREATE INDEX IF NOT EXISTS applications_strategy ON applications (strategy_id);
