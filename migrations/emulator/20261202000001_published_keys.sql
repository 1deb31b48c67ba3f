-- The keys a rotation replaced that are still published (not retired), so that what they
-- signed (refresh tokens above all) keeps verifying after a restart. The signing key itself
-- stays in signing_key; a rotation with retireOld empties this table.
CREATE TABLE published_keys (
    pem          TEXT    PRIMARY KEY,
    replaced_at  INTEGER NOT NULL
);
