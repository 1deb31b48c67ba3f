-- The Descope emulator's own store (separate from the app's database).
-- Only what must survive a restart lives here: the signing key (so issued JWTs keep verifying),
-- users, and refresh tokens (so sessions survive and revocation sticks).

CREATE TABLE signing_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    pem         TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    user_id         TEXT    PRIMARY KEY,
    email           TEXT,
    phone           TEXT,
    name            TEXT,
    given_name      TEXT,
    middle_name     TEXT,
    family_name     TEXT,
    verified_email  INTEGER NOT NULL DEFAULT 0,
    verified_phone  INTEGER NOT NULL DEFAULT 0,
    test            INTEGER NOT NULL DEFAULT 0,
    -- Drives `firstSeen`: false once the user has completed one verify.
    has_signed_in   INTEGER NOT NULL DEFAULT 0,
    created_time    INTEGER NOT NULL
);

CREATE TABLE login_ids (
    login_id  TEXT    PRIMARY KEY,
    user_id   TEXT    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    position  INTEGER NOT NULL
);
CREATE INDEX login_ids_by_user ON login_ids (user_id);

CREATE TABLE refresh_tokens (
    jti             TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    -- JSON: the amr / su / custom claims a refresh must carry into the new session JWT.
    session_claims  TEXT    NOT NULL
);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);
