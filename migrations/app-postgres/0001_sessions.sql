-- The PostgreSQL twin of migrations/app/0001_sessions.sql; keep the two folders in step.

-- Server-side sessions, in the schema and table tower-sessions-sqlx-store's PostgresStore uses
-- (created here rather than by its `migrate()`, so that every table the app owns is created by
-- one migration run, under sqlx's migration lock).
create schema if not exists tower_sessions;

create table if not exists tower_sessions.session
(
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);

create index if not exists session_expiry on tower_sessions.session (expiry_date);

-- "Sign out everywhere": a session is refused when the person signed in at or before the moment
-- they asked every browser to be signed out. Session JWTs are stateless and stay valid until they
-- expire, so without this mark other browsers would keep access for up to the JWT's lifetime.
create table if not exists signed_out_everywhere
(
    user_id text primary key not null,
    at_ms bigint not null
);
