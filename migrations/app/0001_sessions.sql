-- Server-side sessions (tower-sessions-sqlx-store's schema, created here so that every table the
-- app owns is visible in one place and created by one migration run).
create table if not exists tower_sessions
(
    id text primary key not null,
    data blob not null,
    expiry_date integer not null
);

create index if not exists tower_sessions_expiry on tower_sessions (expiry_date);

-- "Sign out everywhere": a session is refused when the person signed in at or before the moment
-- they asked every browser to be signed out. Session JWTs are stateless and stay valid until they
-- expire, so without this mark other browsers would keep access for up to the JWT's lifetime.
create table if not exists signed_out_everywhere
(
    user_id text primary key not null,
    at_ms integer not null
);
