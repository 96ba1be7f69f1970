-- An IdP operation may concern one product: access ended (a registration rejected or
-- deleted) is committed locally first and pushed to the IdP until it confirms.
ALTER TABLE idp_operations ADD COLUMN product_id uuid;
