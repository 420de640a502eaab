//! Fills a database with N synthetic published talks (resources, embeds, accented and emoji
//! text), written straight through the service, for the HTTP benchmarks in `bench/`.
//!
//! Usage: `seed_talks DATABASE_URL N`. Deterministic: the same N gives the same talks.

use service::import::{ImportOptions, Importer};
use service::talks::{NewEmbed, NewResource, NewTalk, TalkInput};

const EVENTS: [(&str, &str); 8] = [
    ("JSConf EU", "Berlin, Germany"),
    ("Smashing Conference", "Freiburg, Germany"),
    ("Frontend United", "Utrecht, Netherlands"),
    ("CSSconf Budapest", "Budapest, Hungary"),
    ("Beyond Tellerrand", "Düsseldorf, Germany"),
    ("Web Rebels", "Oslo, Norway"),
    ("dotJS", "Paris, France"),
    ("Jamstack Conf", "San Francisco, USA"),
];
const WORDS: [&str; 16] = [
    "performance",
    "accessibility",
    "Köln",
    "señor",
    "events",
    "state",
    "resilience",
    "CSS",
    "“typography”",
    "café",
    "deployments",
    "GraphQL",
    "🚀",
    "caching",
    "naïve",
    "frontends",
];

/// A small linear congruential generator: enough variety, no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }

    fn words(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| WORDS[self.next(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn talk(n: usize, rng: &mut Lcg) -> NewTalk {
    let (event, location) = EVENTS[rng.next(EVENTS.len())];
    let year = 2014 + rng.next(12);
    let date = format!("{year}-{:02}-{:02}", 1 + rng.next(12), 1 + rng.next(28));
    let paragraphs: Vec<String> = (0..4)
        .map(|_| {
            format!(
                "<p>{} <strong>{}</strong>.</p>",
                rng.words(40),
                rng.words(3)
            )
        })
        .collect();
    let resources = (0..1 + rng.next(6))
        .map(|i| NewResource {
            title: format!("Resource {i}: {}", rng.words(3)),
            url: format!("https://example.com/talk-{n}/resource-{i}"),
            description: Some(rng.words(12)),
        })
        .collect();
    let embeds = (0..2 + rng.next(5))
        .map(|i| {
            if i % 3 == 0 {
                NewEmbed {
                    kind: "video".into(),
                    html: format!(
                        r#"<iframe src="https://www.youtube.com/embed/v{n}x{i}" width="560" height="315" allowfullscreen></iframe>"#
                    ),
                }
            } else {
                NewEmbed {
                    kind: "tweet".into(),
                    html: format!(
                        r#"<blockquote class="twitter-tweet"><p lang="en">{} #{}</p>&mdash; Ada Example (@ada{i}) <a href="https://twitter.com/ada{i}/status/{n}{i}">{date}</a></blockquote>"#,
                        rng.words(14),
                        rng.words(1)
                    ),
                }
            }
        })
        .collect();
    NewTalk {
        slug: format!("talk-{n:06}"),
        title: format!("Talk {n}: {}", rng.words(5)),
        date,
        event: Some(format!("{event} {year}")),
        location: Some(location.into()),
        image: Some(format!("/images/talk-{n}.jpg")),
        pdf: Some(format!("/slides/talk-{n}.pdf")),
        notist_id: Some(format!("bench{n}")),
        body: paragraphs.concat(),
        resources,
        embeds,
        ..Default::default()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count)) = (args.next(), args.next()) else {
        return Err("usage: seed_talks DATABASE_URL N".into());
    };
    let count: usize = count.parse()?;
    let db = service::db::connect(&url).await?;
    let mut importer = Importer::new(&db, ImportOptions::default()).await?;
    let mut rng = Lcg(42);
    for n in 0..count {
        let input = TalkInput::parse(talk(n, &mut rng))?;
        importer.import(&input).await?;
    }
    importer.finish().await?;
    println!("{count} talks in {}", service::db::redact_url(&url));
    Ok(())
}
