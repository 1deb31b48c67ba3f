//! Every journey over real HTTP, through the real router: the app and its embedded emulator on
//! port 0, a database each (a temporary SQLite file, or a fresh PostgreSQL database), and a
//! cookie-keeping client that behaves like a browser with JavaScript off (forms post with `Accept: text/html`; redirects are inspected, not followed).
//!
//! One test binary (one link) with a module per concern:
//! - `journeys`: each journey on its own;
//! - `concurrency`: shared state (the gate, sessions, caches) under concurrent requests on a
//!   multi-threaded runtime, where one person's request must never see another's;
//! - `security`: the defences a fork ships with (cross-site check, rate limits, no account
//!   enumeration, headers, unforgeable errors, bounded input);
//! - `side_doors`: enumeration and lockout from the side (profile changes, step-up and MFA,
//!   concurrent wrong codes, timing with Descope slow, a second contact, template options);
//! - `races`: requests of one cookie racing (a sign-out while others refresh, many refreshes at
//!   once);
//! - `production`: the real binary in production mode (and in development mode, for its logs),
//!   and what its logs may not contain;
//! - `instances`: two instances on one database serving one person, starting and cleaning up
//!   at the same moment, and refreshing one rotating token at once;
//! - `health`: the `/healthz` and `/readyz` probes;
//! - `faults`: Descope or the database failing, Descope rotating its keys, and sign-in surviving it;
//! - `slow_clients`: a trickled head or body, or an idle kept-alive connection, cut off in seconds;
//! - `postgres_tls`: the app's PostgreSQL connections encrypted with `sslmode=require`;
//! - `writes`: what a request writes (a gated view that changes nothing: nothing);
//! - `load`: two hundred concurrent sign-up journeys (ignored: run on purpose, see the file).
//!
//! The database is SQLite unless `TEST_DATABASE=postgres` (see `support`): `.ci/test` runs the
//! whole suite once on each.

mod concurrency;
mod faults;
mod health;
mod instances;
mod journeys;
mod load;
mod postgres_tls;
mod production;
mod races;
mod security;
mod session_rows;
mod side_doors;
mod slow_clients;
mod support;
mod writes;
