//! What Lectern serves to browsers, in a real Chromium that can reach loopback only.

use tests::browser::Browser;

use crate::support::TestApp;

#[actix_web::test]
async fn graphiql_renders_its_schema_documentation_with_no_network_but_loopback() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/graphql", app.address))
        .await
        .unwrap();
    browser.wait_for(".graphiql-container").await;
    // The documentation explorer, opened as a reader would, lists the root query's fields,
    // which GraphiQL read from this server's schema.
    browser
        .wait_for(r#"button[aria-label="Show Documentation Explorer"]"#)
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name")
        .await
        .click()
        .await
        .unwrap();
    let fields = browser
        .wait_for(".graphiql-doc-explorer-content")
        .await
        .text()
        .await
        .unwrap();
    for field in ["talks", "talk", "events"] {
        assert!(
            fields.split_whitespace().any(|w| w.starts_with(field)),
            "the explorer shows no field {field}: {fields}"
        );
    }
    // The example query runs against this server (the page may connect to its own origin).
    browser
        .wait_for(".graphiql-execute-button")
        .await
        .click()
        .await
        .unwrap();
    let answer = browser
        .client
        .wait()
        .at_most(tests::browser::WAIT)
        .for_element(fantoccini::Locator::XPath(
            "//section[contains(@class, 'result-window')][contains(., 'totalCount')]",
        ))
        .await
        .expect("the result of the example query")
        .text()
        .await
        .unwrap();
    assert!(answer.contains("\"totalCount\": 0"), "{answer}");
    let shot = std::env::temp_dir().join("lectern-graphiql.png");
    browser.screenshot(&shot).await;
    // Everything the page loaded came from this server.
    let urls = browser.loaded_urls().await;
    assert!(urls.len() >= 7, "{urls:?}");
    for url in &urls {
        assert!(
            url.starts_with(&format!("{}/", app.address)),
            "{url} is not this server's"
        );
    }
    browser.close().await;
}
