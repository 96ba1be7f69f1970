-- What an operator should look at about an application's IdP client ('' when nothing):
-- a rotation whose outcome the IdP never confirmed, a delete the IdP refused with dcr's
-- own credentials. Set by the reconciler, cleared by the next confirmed change.
ALTER TABLE applications ADD COLUMN attention text NOT NULL DEFAULT '';

-- One change to an application's IdP client at a time. Each RFC 7592 write may rotate
-- the registration access token, so two at once would race for it and one would lose
-- dcr's only way to manage the client.
CREATE UNIQUE INDEX idp_operations_one_client_change ON idp_operations (application_id)
    WHERE state = 'pending'
      AND (kind = 'regenerate_secret' OR kind = 'add_secret' OR kind = 'update_client');
