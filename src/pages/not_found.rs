use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::http_status::set_http_status;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_http_status(404);
    view! {
        <Title text="Page not found"/>
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p>
                <a href="/">"Go to the start page"</a>
            </p>
        </section>
    }
}
