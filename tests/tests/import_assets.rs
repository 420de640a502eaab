//! `lectern-import --assets DIR` and `lectern-export --assets DIR`: a site's static files
//! stored as assets, linked to their talks, and written back.

use std::path::Path;

use importer::files::{AssetImport, SiteFolder};
use importer::import::{Summary, run};
use service::assets::{AssetSettings, Assets, Blobs};
use service::sea_orm::{EntityTrait, PaginatorTrait};
use service::talks::page_by_slug;
use tests::{TestDb, files, folder_with};

use crate::support::config;

fn doc(slug: &str, image: &str, pdf: &str, resource: &str) -> String {
    format!(
        "---\ntitle: \"Talk {slug}\"\nslug: \"{slug}\"\ndate: 2024-05-02T09:30:00\n\
         image: \"{image}\"\npdf: \"{pdf}\"\n\
         resources:\n  - title: \"Handout\"\n    url: \"{resource}\"\n    description: \"Printed\"\n\
         ---\n\n<p>About {slug}.</p>\n"
    )
}

fn store(db: &TestDb) -> Assets {
    Assets::new(
        Blobs::local(&db.assets_dir()).unwrap(),
        AssetSettings::default(),
    )
}

async fn import_with(db: &TestDb, docs: &Path, site: &Path, dry_run: bool) -> Summary {
    let mut config = config(&[docs]);
    config.dry_run = dry_run;
    config.assets = Some(AssetImport {
        folder: SiteFolder::open(site, false).unwrap(),
        store: store(db),
    });
    run(&db.db, &config).await.unwrap()
}

async fn events(db: &TestDb) -> u64 {
    entity::change_event::Entity::find()
        .count(&db.db)
        .await
        .unwrap()
}

/// Every file under `dir`, by its path relative to `dir`, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let name = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_files_documents_name_are_stored_linked_reported_and_written_back() {
    let db = TestDb::new().await;
    let (jpeg, pdf, png) = (files::jpeg(400, 300), files::pdf(2), files::png(64, 48));
    let docs = folder_with(&[
        (
            "a.md",
            doc(
                "a",
                "/images/a/slide_000.jpg",
                "/pdfs/a.pdf",
                "https://example.com/a",
            )
            .as_bytes(),
        ),
        (
            "b.md",
            doc(
                "b",
                "/images/b/slide_000.png",
                "/pdfs/b.pdf",
                "https://example.com/b",
            )
            .as_bytes(),
        ),
        (
            "c.md",
            doc(
                "c",
                "/../../etc/passwd",
                "/pdfs/c.pdf",
                "https://example.com/c",
            )
            .as_bytes(),
        ),
    ]);
    let site = folder_with(&[
        ("images/a/slide_000.jpg", &jpeg),
        ("pdfs/a.pdf", &pdf),
        ("images/b/slide_000.png", &png),
        // Named `.pdf`, but an image: refused, with the reason.
        ("pdfs/c.pdf", &png),
    ]);

    // A dry run reads and checks, and stores nothing.
    let dry = import_with(&db, docs.path(), site.path(), true).await;
    assert_eq!(dry.files.stored, 0);
    assert_eq!(
        entity::asset::Entity::find().count(&db.db).await.unwrap(),
        0
    );

    let first = import_with(&db, docs.path(), site.path(), false).await;
    assert_eq!(first.created, 3, "{first:?}");
    assert_eq!(first.files.stored, 3, "{first:?}");
    // Each problem names the document and the field, and the rest was imported.
    let mut problems: Vec<(String, String, String)> = first
        .file_problems
        .iter()
        .map(|p| {
            let document = Path::new(&p.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (document, p.field.clone(), p.message.clone())
        })
        .collect();
    problems.sort();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(
        (problems[0].0.as_str(), problems[0].1.as_str()),
        ("b.md", "pdf")
    );
    assert!(problems[0].2.contains("no such file"), "{}", problems[0].2);
    assert_eq!(
        (problems[1].0.as_str(), problems[1].1.as_str()),
        ("c.md", "image")
    );
    assert!(
        problems[1].2.contains("leaves the assets folder"),
        "{}",
        problems[1].2
    );
    assert_eq!(
        (problems[2].0.as_str(), problems[2].1.as_str()),
        ("c.md", "pdf")
    );
    assert!(problems[2].2.contains("PNG"), "{}", problems[2].2);
    assert!(first.has_problems());
    let text = importer::import::render_text(&first);
    assert!(
        text.contains("b.md pdf: `/pdfs/b.pdf`: no such file"),
        "{text}"
    );

    let talks = page_by_slug(&db.db, None, 10).await.unwrap();
    let a = &talks[0];
    assert_eq!(a.talk.slug, "a");
    let image = a.talk.image_asset_id.expect("a's image is linked");
    let slides = a.talk.slides_asset_id.expect("a's slides are linked");
    let image = entity::asset::Entity::find_by_id(image)
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((image.width, image.height), (Some(400), Some(300)));
    let slides = entity::asset::Entity::find_by_id(slides)
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slides.pages, Some(2));
    assert_eq!(talks[1].talk.slides_asset_id, None, "b's PDF is missing");

    // Nothing changed: nothing is written, not even an event.
    let before = events(&db).await;
    let again = import_with(&db, docs.path(), site.path(), false).await;
    assert_eq!((again.unchanged, again.updated), (3, 0), "{again:?}");
    assert_eq!((again.files.stored, again.files.unchanged), (0, 3));
    assert_eq!(events(&db).await, before);

    // A changed file is stored, and its talk follows it, though its document did not change.
    let new_jpeg = files::jpeg(300, 200);
    std::fs::write(site.path().join("images/a/slide_000.jpg"), &new_jpeg).unwrap();
    let changed = import_with(&db, docs.path(), site.path(), false).await;
    assert_eq!((changed.updated, changed.unchanged), (1, 2), "{changed:?}");
    assert_eq!(changed.files.stored, 1);
    let a = &page_by_slug(&db.db, None, 1).await.unwrap()[0];
    let image = entity::asset::Entity::find_by_id(a.talk.image_asset_id.unwrap())
        .one(&db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(image.width, Some(300));

    // The export writes back exactly the files that were stored, at their paths.
    let out = tempfile::tempdir().unwrap();
    let folder = SiteFolder::open(out.path(), true).unwrap();
    let written = importer::export::export_files(&db.db, &store(&db), &folder)
        .await
        .unwrap();
    assert_eq!((written.written, written.unchanged), (3, 0));
    let stored: Vec<(String, Vec<u8>)> = tree(site.path())
        .into_iter()
        .filter(|(name, _)| name != "pdfs/c.pdf")
        .collect();
    assert_eq!(tree(out.path()), stored);
    // Unchanged files are not rewritten.
    let modified = |name: &str| {
        std::fs::metadata(out.path().join(name))
            .unwrap()
            .modified()
            .unwrap()
    };
    let then = modified("pdfs/a.pdf");
    let again = importer::export::export_files(&db.db, &store(&db), &folder)
        .await
        .unwrap();
    assert_eq!((again.written, again.unchanged), (0, 3));
    assert_eq!(modified("pdfs/a.pdf"), then);
}
