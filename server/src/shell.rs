//! The tablet app's files, served at `/`. Any path that is not a file (such
//! as `/enroll`, where invite links point) gets `index.html`, and the app
//! routes from there. `index.html` and `sw.js` are never cached by the HTTP
//! cache, so a new build reaches tablets; the service worker keeps the
//! versioned shell for offline use.

use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::MethodRouter;
use tower_http::services::{ServeDir, ServeFile};

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Veldwerk</title>\
<p>The tablet app is not built. Run <code>cargo xtask run</code>, or point <code>--app-dir</code> \
(<code>VELDWERK_APP_DIR</code>) at a built app.</p></html>";

pub fn service(app_dir: &Path) -> MethodRouter<crate::AppState> {
    let index = app_dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(app_dir = %app_dir.display(), "the tablet app is not built; / explains how");
        return axum::routing::get(|| async { (StatusCode::NOT_FOUND, Html(NOT_BUILT)) });
    }
    let files = ServeDir::new(app_dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(index));
    axum::routing::get_service(files).layer(axum::middleware::from_fn(cache_policy))
}

/// Marks the entry points (`index.html`, `sw.js`) as always revalidated.
async fn cache_policy(request: Request<Body>, next: axum::middleware::Next) -> impl IntoResponse {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let value = if path == "/sw.js" || !path.contains('.') || path.ends_with(".html") {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}
