-- An IdP operation may concern one product (see the Postgres migration of the same name).
ALTER TABLE idp_operations ADD COLUMN product_id TEXT;
