-- An invite made at the first start for the first admin: valid only while
-- nobody has an account, so a link left in a terminal or a log opens nothing
-- once an admin exists.
ALTER TABLE invites ADD COLUMN first_admin BOOLEAN NOT NULL DEFAULT FALSE;
