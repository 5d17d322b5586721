//! The console's static files, embedded at build time (`build.rs`):
//! `index.html` at `/console/`, hashed bundles under `/console/assets/`.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// Shown when the build had no console assets to embed.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Strongroom console</title></head><body><h1>Strongroom console</h1>\
<p>The console's assets were not built into this binary. Run \
<code>scripts/console.sh</code> (it needs npm) and build again; see docs/console.md.</p>\
</body></html>";

fn find(name: &str) -> Option<&'static [u8]> {
    embedded::ASSETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn file(name: &str, bytes: &'static [u8], cache: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn not_found() -> Response<Body> {
    let mut r = Response::new(Body::from("not found"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// `GET /console/`: the page (never cached: it names the current bundles).
pub async fn index() -> Response<Body> {
    match find("index.html") {
        Some(b) => file("index.html", b, "no-store"),
        None => file("index.html", NOT_BUILT.as_bytes(), "no-store"),
    }
}

/// `GET /console/assets/{file}`: a bundle (its name holds its hash).
pub async fn asset(Path(name): Path<String>) -> Response<Body> {
    if name.contains("..") || name.contains('/') {
        return not_found();
    }
    match find(&format!("assets/{name}")) {
        Some(b) => file(&name, b, "public, max-age=31536000, immutable"),
        None => not_found(),
    }
}

/// `GET /console`: to `/console/`, query kept (a sign-in link).
pub async fn to_console(uri: Uri) -> Response<Body> {
    let target = match uri.query() {
        Some(q) => format!("/console/?{q}"),
        None => "/console/".to_owned(),
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&target) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
