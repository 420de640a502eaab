use tests::{TestDb, corpus_talks};

use crate::support::{all_talks, content, import};

fn read_dir_sorted(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn exporting_and_importing_the_export_gives_identical_talks() {
    let first = TestDb::new().await;
    import(&first, &[&corpus_talks()]).await;
    let out = tempfile::tempdir().unwrap();
    let written = importer::export::export(&first.db, out.path())
        .await
        .unwrap();
    assert_eq!(written, 121);

    let second = TestDb::new().await;
    let summary = import(&second, &[out.path()]).await;
    assert_eq!(
        (summary.created, summary.failed, summary.skipped),
        (121, 0, 0),
        "{:#?}",
        summary.problems
    );
    let a: Vec<_> = all_talks(&first).await.iter().map(content).collect();
    let b: Vec<_> = all_talks(&second).await.iter().map(content).collect();
    assert_eq!(a, b);

    // The export of the copy is the same bytes as the first export.
    let again = tempfile::tempdir().unwrap();
    importer::export::export(&second.db, again.path())
        .await
        .unwrap();
    assert_eq!(read_dir_sorted(out.path()), read_dir_sorted(again.path()));
}

#[tokio::test]
async fn export_is_deterministic() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks()]).await;
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let written = importer::export::export(&db.db, one.path()).await.unwrap();
    assert_eq!(written, 121);
    importer::export::export(&db.db, two.path()).await.unwrap();
    let (first, second) = (read_dir_sorted(one.path()), read_dir_sorted(two.path()));
    // Every talk was written, each as a document, and the second export is the same bytes.
    assert_eq!(first.len(), 121);
    assert!(
        first
            .iter()
            .all(|(name, text)| name.ends_with(".md") && text.starts_with("---\ntitle: ")),
        "{:?}",
        first.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    assert_eq!(first, second);
}

#[tokio::test]
async fn an_exported_document_reads_like_the_original() {
    let db = TestDb::new().await;
    import(&db, &[&corpus_talks().join("A4pLsH.md")]).await;
    let out = tempfile::tempdir().unwrap();
    importer::export::export(&db.db, out.path()).await.unwrap();
    let text =
        std::fs::read_to_string(out.path().join(
            "the-changing-face-of-etl-event-driven-architectures-for-data-engineers-A4pLsH.md",
        ))
        .unwrap();
    assert!(text.starts_with("---\ntitle: "));
    assert!(text.contains("\n---\n\n<p>Data integration"));
    assert!(text.contains("notist_id: A4pLsH"));
}
