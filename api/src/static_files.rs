//! Files for browsers (GraphiQL, its scripts and styles), embedded in the binary from
//! `api/web/` and served from Lectern's own origin: no page needs another host.
//!
//! Each file is served at `/static/{digest}/{name}`, the digest being the start of its SHA-256,
//! so a page links the exact bytes it was written for and browsers may keep them for a year
//! (`immutable`). A digest that is not the file's answers 404: a page of another version asks
//! the process of its own version.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::rest::problem::Problem;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
#[exclude = "*.sh"]
#[exclude = "vendor/SHA256SUMS"]
#[exclude = "vendor/PACKAGES"]
struct Files;

/// Where GraphQL answers, and the page's GraphiQL sends its queries.
pub const GRAPHQL: &str = "/graphql";

/// Hex digits of the SHA-256 in a file's path.
const DIGEST_LEN: usize = 16;

/// The digest of each embedded file, by name.
static DIGESTS: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    Files::iter()
        .filter_map(|name| {
            let file = Files::get(&name)?;
            let hex: String = file.metadata.sha256_hash()[..DIGEST_LEN / 2]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Some((name.into_owned(), hex))
        })
        .collect()
});

/// The path a page links an embedded file by (`name` as under `api/web/`).
///
/// # Panics
/// When no such file is embedded: names are constants of this crate, checked by its tests.
pub fn url(name: &str) -> String {
    let digest = DIGESTS
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not among the embedded files"));
    format!("/static/{digest}/{name}")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/static")
            .wrap(actix_web::middleware::Compress::default())
            .route("/{digest}/{name:.+}", web::get().to(serve)),
    );
}

/// `GET /static/{digest}/{name}`.
async fn serve(request: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (digest, name) = path.into_inner();
    let file = match (DIGESTS.get(&name), Files::get(&name)) {
        (Some(expected), Some(file)) if *expected == digest => file,
        _ => {
            return Problem::new(
                actix_web::http::StatusCode::NOT_FOUND,
                format!("no file {name} with digest {digest} is served here"),
            )
            .error_response();
        }
    };
    let etag = format!("\"{digest}\"");
    let cached = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .insert_header((header::CONTENT_TYPE, file.metadata.mimetype()));
    if cached {
        response.finish()
    } else {
        // Embedded in release builds: served without a copy.
        response.body(match file.data {
            std::borrow::Cow::Borrowed(bytes) => web::Bytes::from_static(bytes),
            std::borrow::Cow::Owned(bytes) => web::Bytes::from(bytes),
        })
    }
}

/// GraphiQL's page, querying [`GRAPHQL`]: scripts and styles from this origin only, no inline
/// script.
pub fn graphiql_page() -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · Lectern</title>
<link rel="stylesheet" href="{graphiql_css}">
<link rel="stylesheet" href="{page_css}">
</head>
<body>
<div id="graphiql" data-endpoint="{endpoint}"><div class="loading">Loading GraphiQL…</div></div>
<noscript>GraphiQL needs JavaScript. The API answers at {endpoint} without it.</noscript>
<script src="{react}"></script>
<script src="{react_dom}"></script>
<script src="{graphiql}"></script>
<script src="{init}"></script>
</body>
</html>
"#,
        graphiql_css = url("vendor/graphiql.min.css"),
        page_css = url("graphiql.css"),
        react = url("vendor/react.production.min.js"),
        react_dom = url("vendor/react-dom.production.min.js"),
        graphiql = url("vendor/graphiql.min.js"),
        init = url("graphiql.js"),
        endpoint = GRAPHQL,
    )
}

/// GraphiQL's `Content-Security-Policy`: everything from Lectern's own origin. Its styles set
/// `style` attributes, hence `'unsafe-inline'` for styles (never for scripts); its fonts and
/// icons are `data:` URLs inside its style sheet.
pub const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_a_page_links_is_embedded() {
        let page = graphiql_page();
        for name in [
            "vendor/graphiql.min.css",
            "vendor/graphiql.min.js",
            "vendor/react.production.min.js",
            "vendor/react-dom.production.min.js",
            "graphiql.js",
            "graphiql.css",
        ] {
            assert!(page.contains(&url(name)), "{name}");
        }
        assert!(!page.contains("https://"), "{page}");
        assert!(!page.contains("<script>"), "an inline script: {page}");
    }

    #[test]
    fn the_vendored_files_are_the_ones_their_checksums_name() {
        let sums = include_str!("../web/vendor/SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines() {
            let (sum, name) = line.split_once("  ").expect("a line of sha256sum");
            if !name.ends_with(".js") && !name.ends_with(".css") {
                continue;
            }
            let file = Files::get(&format!("vendor/{name}")).expect(name);
            let hex: String = file
                .metadata
                .sha256_hash()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hex, sum, "{name}");
            checked += 1;
        }
        assert_eq!(checked, 5);
    }
}
