-- The app's rate limits (src/server/limits.rs): one GCRA row per key, the theoretical arrival
-- time of the key's next request in ms since the epoch, by the app's clock. A row whose time has
-- passed counts the same as no row, and the periodic clean-up deletes it.
create table if not exists rate_limits
(
    key text primary key not null,
    next_at_ms integer not null
);
