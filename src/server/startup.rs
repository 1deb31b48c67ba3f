//! Builds the application and serves it: the database (migrations run as it connects), the
//! Descope client (and the embedded emulator when no project is configured), the shared state, the
//! router of `http::router`; then our own accept loop (each connection with a header deadline),
//! graceful shutdown, and the background clean-up of what expires.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_sessions::session_store::ExpiredDeletion;

use crate::clock::Clock;
use crate::descope::DescopeClient;
use crate::server::db::Db;
use crate::server::embedded::{self, Emulator};
use crate::server::http;
use crate::server::limits::Limiter;
use crate::server::refresh::Refreshes;
use crate::server::session::store::SessionRows;
use crate::server::settings::Settings;
use crate::server::state::{AppState, Shared};

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// Kept alive for as long as the app runs; dropping it stops the emulator.
    emulator: Option<Emulator>,
}

impl Application {
    pub async fn build(
        settings: Settings,
        leptos_options: LeptosOptions,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let leptos_options = http::pages::with_site_hash(leptos_options)?;
        let (emulator, descope_config) =
            embedded::descope_config(&settings.descope, settings.audience.clone(), clock.clone())
                .await?;
        let descope = DescopeClient::new(descope_config, clock.clone())
            .context("building the Descope client")?;

        let db = Db::connect(&settings.database_url, settings.database_pool_size).await?;
        let session_keys = settings.session_secret.keys()?;
        let limiter = Arc::new(Limiter::new(
            settings.rate_limits,
            clock.clone(),
            db.clone(),
        ));
        // The sessions live in the same database, through the same pool; their schema came with
        // the migrations `Db::connect` ran.
        let sessions = SessionRows::new(db.clone(), session_keys);
        let state = AppState::new(Shared {
            leptos_options: leptos_options.clone(),
            descope,
            db: db.clone(),
            sessions: sessions.clone(),
            refreshes: Refreshes::new(clock.clone()),
            limiter,
            settings,
            clock,
            emulator_outbox_url: emulator.as_ref().map(Emulator::outbox_url),
        });
        spawn_cleanup(sessions.clone(), Arc::clone(&state.limiter));
        let router = http::router(&state, sessions);

        let listener = TcpListener::bind(leptos_options.site_addr)
            .await
            .with_context(|| format!("binding {}", leptos_options.site_addr))?;

        Ok(Self {
            listener,
            router,
            state,
            emulator,
        })
    }

    /// Where the app really listens (the configured port may be 0).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.leptos_options.site_addr)
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn emulator(&self) -> Option<&Emulator> {
        self.emulator.as_ref()
    }

    /// Serves until SIGTERM or Ctrl-C, then lets the requests in flight finish, for at most
    /// `SHUTDOWN_GRACE_SECS`.
    ///
    /// The accept loop is ours rather than `axum::serve`'s so that each connection gets hyper's
    /// timer: a request's head must arrive within `HEADER_READ_TIMEOUT_SECS`, counted from the
    /// connection's start or, on a kept-alive connection, from the end of the previous response,
    /// so neither a head trickled a byte at a time nor an idle connection holds a socket for
    /// longer. (A body's deadline, `BODY_READ_TIMEOUT_SECS`, is kept where the body is read:
    /// `http::form_body`.)
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self {
            mut listener,
            router,
            emulator,
            state,
        } = self;
        let grace = state.settings.shutdown_grace;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(state.settings.header_read_timeout);
        let connections = GracefulShutdown::new();
        let stop = shutdown_signal();
        tokio::pin!(stop);
        loop {
            // axum's `Listener` logs a failed accept and waits a moment (a full file table
            // clears as connections close) instead of ending the loop.
            let (tcp, peer) = tokio::select! {
                accepted = axum::serve::Listener::accept(&mut listener) => accepted,
                () = &mut stop => break,
            };
            // A streamed page goes out in several writes; with Nagle's algorithm on, a kept-alive
            // connection holds the later ones until the client's delayed ACK (~40 ms a page).
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            // The peer address is the client's unless it is one of TRUSTED_PROXIES
            // (http::client_ip), as `into_make_service_with_connect_info` would give it.
            let service =
                router
                    .clone()
                    .map_request(move |mut request: hyper::Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        request.map(axum::body::Body::new)
                    });
            // No route upgrades a connection (no WebSocket), so a plain HTTP/1 one it is.
            let connection = connections
                .watch(http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service)));
            tokio::spawn(async move {
                // A client that went away or timed out is routine, not the server's failure.
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, %peer, "connection ended");
                }
            });
        }
        // No new connections from here; idle ones close now, busy ones after their response.
        drop(listener);
        tracing::info!(
            grace_secs = grace.as_secs(),
            "stopping: finishing the requests in flight"
        );
        if tokio::time::timeout(grace, connections.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the shutdown grace; stopping anyway");
        }
        if let Some(emulator) = emulator {
            emulator.shutdown().await;
        }
        Ok(())
    }
}

/// How often expired sessions and spent rate-limit counters are deleted.
const CLEANUP_EVERY: Duration = Duration::from_secs(3600);

/// Deletes expired sessions and spent rate-limit counters in the background, off the request
/// path. Every instance runs it: each is one `delete … where` of rows no request will read
/// again, so two instances running it at the same moment delete each row once between them
/// and neither fails (on PostgreSQL the second waits for the first's row locks, then finds
/// those rows gone). No lock or leader election needed.
fn spawn_cleanup(store: SessionRows, limiter: Arc<Limiter>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CLEANUP_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "deleting expired sessions failed; trying again later");
            }
            if let Err(e) = limiter.delete_spent().await {
                tracing::warn!(error = %e, "deleting spent rate limits failed; trying again later");
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
