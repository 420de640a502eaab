//! What readers are served of stored HTML: sanitized markup, plain text, the excerpt, and the
//! facts of embeds. Computed when content is written and stored beside it ([`Abstract`] in
//! `talks`, [`EmbedFacts`] in `embeds`), so that no read parses HTML.

use std::sync::LazyLock;

use scraper::{Html, Selector};
use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// The excerpt's length in characters when none is asked for (stored as `talks.excerpt`).
pub const EXCERPT_LENGTH: usize = 200;

/// What readers are served of a talk's abstract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abstract {
    /// [`sanitize`]d.
    pub html: String,
    /// Its [`text`].
    pub text: String,
    /// The text's [`excerpt`] of [`EXCERPT_LENGTH`] characters.
    pub excerpt: String,
}

impl Abstract {
    pub fn of(body: &str) -> Self {
        let text = text(body);
        Self {
            html: sanitize(body),
            excerpt: excerpt(&text, EXCERPT_LENGTH),
            text,
        }
    }
}

/// What readers are served of an embed's markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedFacts {
    /// [`sanitize_embed`]ed.
    pub html: String,
    pub tweet: Option<Tweet>,
    pub video: Option<Video>,
}

impl EmbedFacts {
    pub fn of(markup: &str) -> Self {
        Self {
            html: sanitize_embed(markup),
            tweet: tweet(markup),
            video: video(markup),
        }
    }
}

/// The abstract, safe to insert into a page: no scripts, no event handlers, no `javascript:`.
pub fn sanitize(html: &str) -> String {
    ammonia::clean(html)
}

/// An embed's markup, sanitized but keeping what embeds are made of: quotes, links, and
/// iframes with an `https` source.
pub fn sanitize_embed(html: &str) -> String {
    static BUILDER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .add_tags(["iframe"])
            .add_tag_attributes(
                "iframe",
                [
                    "src",
                    "allowfullscreen",
                    "sandbox",
                    "title",
                    "width",
                    "height",
                ],
            )
            .add_tag_attributes("blockquote", ["class", "data-dnt"])
            .add_tag_attributes("p", ["lang", "dir"])
            .add_generic_attributes(["class"]);
        builder
    });
    BUILDER.clean(html).to_string()
}

/// The text a reader sees of some HTML: no script or style content, entities decoded, a space
/// between blocks, white space folded.
pub fn text(html: &str) -> String {
    use ego_tree::iter::Edge;
    const HIDDEN: [&str; 5] = ["script", "style", "template", "noscript", "iframe"];
    const BLOCKS: [&str; 16] = [
        "p",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "td",
    ];
    let fragment = Html::parse_fragment(html);
    let mut out = String::with_capacity(html.len());
    let mut hidden = 0usize;
    for edge in fragment.root_element().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                scraper::Node::Text(text) if hidden == 0 => out.push_str(text),
                scraper::Node::Element(e) if HIDDEN.contains(&e.name()) => hidden += 1,
                scraper::Node::Element(e) if BLOCKS.contains(&e.name()) => out.push(' '),
                _ => {}
            },
            Edge::Close(node) => match node.value() {
                scraper::Node::Element(e) if HIDDEN.contains(&e.name()) => {
                    hidden = hidden.saturating_sub(1)
                }
                scraper::Node::Element(e) if BLOCKS.contains(&e.name()) => out.push(' '),
                _ => {}
            },
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `length` characters of `text`, cut at a word boundary, with `…` when cut.
pub fn excerpt(text: &str, length: usize) -> String {
    if text.chars().count() <= length {
        return text.to_owned();
    }
    let cut: String = text.chars().take(length).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(space) if space > 0 => &cut[..space],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        cut.trim_end_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
    )
}

/// A tweet embedded as Twitter's blockquote (serialized as REST serves it, and stored so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Tweet {
    pub url: Option<String>,
    pub author: Option<String>,
    pub handle: Option<String>,
    pub text: Option<String>,
    pub date: Option<String>,
}

/// A video (or other iframe) embed (serialized as REST serves it, and stored so).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Video {
    pub src: String,
    pub provider: String,
}

fn selector(css: &str) -> Selector {
    // Only the constant selectors of this file come here; the tests below parse each one.
    Selector::parse(css).expect("a valid CSS selector")
}

static BLOCKQUOTE: LazyLock<Selector> = LazyLock::new(|| selector("blockquote"));
static PARAGRAPH: LazyLock<Selector> = LazyLock::new(|| selector("p"));
static LINK: LazyLock<Selector> = LazyLock::new(|| selector("a[href]"));
static IFRAME: LazyLock<Selector> = LazyLock::new(|| selector("iframe[src]"));

/// The tweet in Twitter's embed markup; None when the HTML holds no blockquote.
pub fn tweet(html: &str) -> Option<Tweet> {
    let fragment = Html::parse_fragment(html);
    let quote = fragment.select(&BLOCKQUOTE).next()?;
    let text = quote
        .select(&PARAGRAPH)
        .next()
        .map(|p| p.text().collect::<String>().trim().to_owned());
    let status = quote
        .select(&LINK)
        .filter(|a| {
            a.value()
                .attr("href")
                .is_some_and(|h| h.contains("/status/"))
        })
        .last();
    let url = status
        .and_then(|a| a.value().attr("href"))
        .map(|href| href.split('?').next().unwrap_or(href).to_owned())
        .filter(|href| web_url(href).is_some());
    let date = status.map(|a| a.text().collect::<String>().trim().to_owned());
    // After the paragraph: "— Author Name (@handle) Date".
    let signature: String = quote
        .children()
        .filter_map(|node| match node.value() {
            scraper::Node::Text(t) => Some(t.to_string()),
            _ => None,
        })
        .collect();
    let signature = signature.trim().trim_start_matches(['—', '-', ' ']).trim();
    let (author, handle) = match (signature.rfind("(@"), signature.rfind(')')) {
        (Some(open), Some(close)) if close > open => (
            Some(signature[..open].trim().to_owned()).filter(|a| !a.is_empty()),
            Some(signature[open + 1..close].to_owned()),
        ),
        _ => (Some(signature.to_owned()).filter(|a| !a.is_empty()), None),
    };
    Some(Tweet {
        url,
        author,
        handle,
        text,
        date,
    })
}

/// `text` as an `http` or `https` URL; None for anything else (`javascript:` among them), so
/// that no URL taken from an embed can run a script where it is used.
fn web_url(text: &str) -> Option<url::Url> {
    url::Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
}

/// The iframe of a video embed (with an `http` or `https` source); None when the HTML has none.
pub fn video(html: &str) -> Option<Video> {
    let fragment = Html::parse_fragment(html);
    let src = fragment
        .select(&IFRAME)
        .next()?
        .value()
        .attr("src")?
        .trim()
        .to_owned();
    let host = web_url(&src)?.host_str()?.to_ascii_lowercase();
    let provider = if host.contains("youtube") || host == "youtu.be" {
        "youtube".to_owned()
    } else if host.contains("vimeo") {
        "vimeo".to_owned()
    } else if host.starts_with("notist.") || host.contains(".notist.") {
        "notist".to_owned()
    } else {
        host.trim_start_matches("www.").to_owned()
    };
    Some(Video { src, provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        let clean = sanitize(
            r#"<p onclick="steal()">Hi<script>alert(1)</script> <a href="javascript:alert(1)">x</a> <img src=x onerror=alert(1)></p>"#,
        );
        assert!(
            !clean.contains("script") && !clean.contains("onclick") && !clean.contains("onerror")
        );
        assert!(!clean.contains("javascript:"));
        assert!(clean.contains("<p>Hi"));
    }

    #[test]
    fn text_decodes_entities_and_folds_space() {
        assert_eq!(
            text("<p>That&#39;s  <b>it</b></p>\n<p>&amp; more</p>"),
            "That's it & more"
        );
        assert_eq!(
            text("<p>a<script>alert(1)</script><style>p{}</style> b</p>"),
            "a b"
        );
    }

    #[test]
    fn excerpts_cut_at_a_word() {
        assert_eq!(excerpt("one two three", 100), "one two three");
        assert_eq!(excerpt("one two three", 9), "one two…");
    }

    #[test]
    fn a_tweet_gives_its_author_handle_text_url_and_date() {
        let html = r#"<blockquote class="twitter-tweet" data-dnt="true"><p lang="en" dir="ltr">Thanks. Nice Talk.</p>&mdash; Philipp Kübler (@MyFrosch) <a href="https://twitter.com/MyFrosch/status/1187307584598007808?ref_src=twsrc%5Etfw">October 24, 2019</a></blockquote>"#;
        let t = tweet(html).unwrap();
        assert_eq!(t.text.as_deref(), Some("Thanks. Nice Talk."));
        assert_eq!(t.author.as_deref(), Some("Philipp Kübler"));
        assert_eq!(t.handle.as_deref(), Some("@MyFrosch"));
        assert_eq!(
            t.url.as_deref(),
            Some("https://twitter.com/MyFrosch/status/1187307584598007808")
        );
        assert_eq!(t.date.as_deref(), Some("October 24, 2019"));
    }

    #[test]
    fn a_video_gives_its_source_and_provider() {
        let v =
            video("<iframe class=\"x\"\n   src=\"https://notist.ninja/embed/QcZlkU\"></iframe>")
                .unwrap();
        assert_eq!(
            (v.src.as_str(), v.provider.as_str()),
            ("https://notist.ninja/embed/QcZlkU", "notist")
        );
        assert_eq!(video("<p>no video</p>"), None);
        assert_eq!(
            video("<iframe src=\"javascript://www.youtube.com/%0Aalert(1)\"></iframe>"),
            None
        );
        let t = tweet(
            "<blockquote><p>x</p><a href=\"javascript:alert('/status/1')\">May</a></blockquote>",
        )
        .unwrap();
        assert_eq!(t.url, None);
        assert_eq!(tweet("<iframe src=\"https://x.org\"></iframe>"), None);
    }
}
