//! Every request runs under a Leptos owner of its own.
//!
//! Leptos keeps "the current owner" (where `use_context` looks) in a thread-local. A page render
//! sets it with `Owner::new_root` and does not put the old one back, and leptos_axum's
//! server-function handler makes its owner with `Owner::new()`, a child of whatever owner the
//! thread has at that moment. On a multi-threaded runtime that can be the owner of another
//! request still rendering on the same worker thread, so a context this request did not provide
//! would be read from that other request.
//!
//! This layer, outermost in the router, polls each request's future with a fresh, empty root
//! owner set as current. Whatever a previous request left behind on the thread is never seen:
//! a context read outside any Leptos owner finds nothing, and the handler's `Owner::new()` becomes
//! a child of this request's own root. The app does not rely on this layer to be correct (the gate
//! reads no Leptos context at all); it closes the door for code added later.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use leptos::reactive::owner::Owner;

pub async fn isolate(request: Request, next: Next) -> Response {
    // `new_root` also makes the new owner current; it is replaced around every poll below, and
    // once this request is done the thread's reference to it no longer upgrades.
    let owner = Owner::new_root(None);
    OwnedBy {
        owner,
        future: Box::pin(next.run(request)),
    }
    .await
}

/// Polls `future` with `owner` as the current owner, and restores the previous one after each poll.
struct OwnedBy<F> {
    owner: Owner,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for OwnedBy<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.owner.with(|| this.future.as_mut().poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use leptos::prelude::{provide_context, use_context};
    use tower::ServiceExt;

    #[derive(Clone)]
    struct Leftover;

    /// A context left on the thread by an earlier owner that was never unset is not visible to a
    /// request, neither to its middleware nor to an owner its handler makes with `Owner::new()`.
    #[tokio::test]
    async fn a_request_never_sees_an_owner_left_on_the_thread() {
        let leftover = Owner::new_root(None);
        leftover.with(|| provide_context(Leftover));
        // The thread's current owner is now `leftover`, as a page render leaves it.
        leftover.set();
        assert!(
            use_context::<Leftover>().is_some(),
            "the leftover is current"
        );

        let router = Router::new().route(
            "/",
            get(|| async {
                let in_handler = use_context::<Leftover>().is_some();
                let child = Owner::new();
                let in_child = child.with(|| use_context::<Leftover>().is_some());
                format!("{in_handler} {in_child}")
            }),
        );
        let seen = |router: Router| async move {
            let response = router
                .oneshot(Request::new(Body::empty()))
                .await
                .expect("answers");
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .expect("body");
            String::from_utf8_lossy(&body).into_owned()
        };
        // Without the layer the leftover leaks into both; this is what the layer is for.
        assert_eq!(seen(router.clone()).await, "true true");
        leftover.set();
        let isolated = router.layer(axum::middleware::from_fn(isolate));
        assert_eq!(seen(isolated).await, "false false");
    }
}
