-- The PostgreSQL twin of migrations/app/0003_session_user_id.sql; keep the two folders in step.

-- The person a session belongs to, written with each record (src/server/session_store.rs), so
-- that reading a session brings its sign-out-everywhere mark in the same query. Rows written
-- before this column have none until they are next written; the gate then looks the mark up on
-- its own.
alter table tower_sessions.session add column if not exists user_id text;
