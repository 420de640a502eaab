//! Importing a set of documents: each one parsed, repaired, validated and written on its own,
//! so that a bad document never stops the others.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use service::ServiceError;
use service::import::{IMPORT_ACTOR, ImportOptions, ImportOutcome, Importer, prune};
use service::sea_orm::DatabaseConnection;
use service::talks::{TalkInput, page_by_slug};
use tokio::sync::mpsc::error::TryRecvError;

use crate::document::{self, Document, DocumentError};
use crate::files::{AssetImport, DocumentFiles, FileCounts, FileReport};
use crate::fix::{FieldRepair, observe_record, repair_talk};
use crate::repair::KnownChars;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    pub paths: Vec<PathBuf>,
    pub dry_run: bool,
    pub repair: bool,
    pub force: bool,
    pub prune: bool,
    pub max_bytes: u64,
    pub progress: bool,
    /// Store the files that documents name, from a site's static folder.
    pub assets: Option<AssetImport>,
}

/// What to do with a document in which a repair is a guess (see [`crate::fix::FieldRepair`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OnGuess {
    /// Import it, and report each guessed field.
    #[default]
    Report,
    /// Do not import it: it fails, naming each guessed field.
    Fail,
}

/// What happened to one document (or, for `pruned`, one stored talk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Conflict,
    Failed,
    Pruned,
}

#[derive(Debug, Clone, Serialize)]
pub struct DocumentReport {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    pub outcome: Outcome,
    /// Why it was skipped, failed or conflicted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub path: String,
    #[serde(flatten)]
    pub repair: FieldRepair,
}

/// The summary of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub conflicts: usize,
    pub failed: usize,
    pub pruned: usize,
    /// Fields repaired by a guess, or left with characters that may be damage (each is also in
    /// `repairs`, with `guess: true`).
    pub guesses: usize,
    /// Documents that were skipped, failed or conflicted, and pruned talks.
    pub problems: Vec<DocumentReport>,
    pub repairs: Vec<RepairReport>,
    /// The files that documents name (with `--assets`).
    pub files: FileCounts,
    /// Referenced files that are missing or were refused, by document and field.
    pub file_problems: Vec<FileReport>,
    #[serde(serialize_with = "as_millis")]
    pub elapsed: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

impl Summary {
    /// True when any document failed or conflicted, or a file it names was not stored.
    pub fn has_problems(&self) -> bool {
        self.failed > 0 || self.conflicts > 0 || !self.file_problems.is_empty()
    }

    fn add_files(&mut self, files: DocumentFiles) {
        self.files.stored += files.counts.stored;
        self.files.unchanged += files.counts.unchanged;
        self.files.problems += files.counts.problems;
        self.file_problems.extend(files.problems);
    }

    fn add_repairs(&mut self, repairs: Vec<RepairReport>) {
        self.guesses += repairs.iter().filter(|r| r.repair.guess).count();
        self.repairs.extend(repairs);
    }

    fn record(&mut self, report: DocumentReport) {
        match report.outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Conflict => self.conflicts += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Pruned => self.pruned += 1,
        }
        if report.message.is_some() || report.outcome == Outcome::Pruned {
            self.problems.push(report);
        }
    }
}

/// An error that stops the whole run (as opposed to one document).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: no such file or folder")]
    MissingPath { path: String },
    #[error("database error: {0}")]
    Service(#[from] ServiceError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Lists the `*.md` files under `paths` (a file is taken as given), sorted, without duplicates.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RunError> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(RunError::MissingPath {
                path: path.display().to_string(),
            });
        }
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(entry)
                    if entry.file_type().is_file()
                        && entry.path().extension().is_some_and(|e| e == "md") =>
                {
                    files.push(entry.into_path());
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    "skipping {}: {e}",
                    e.path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Imports every document under `config.paths`, in batches of documents, then prunes if
/// asked to. Pruning is skipped when any document failed: a talk whose document could not be
/// read is not gone. Guessed repairs are reported (see [`run_with`]).
///
/// Documents stream through a short pipeline: one task reads, parses, repairs and validates
/// them while this one writes, with at most a few dozen documents in between.
pub async fn run(db: &DatabaseConnection, config: &ImportConfig) -> Result<Summary, RunError> {
    run_with(db, config, OnGuess::Report).await
}

/// Like [`run`]; with [`OnGuess::Fail`], a document in which any field is a guess is not
/// imported and counts as failed, its message naming the guessed fields.
pub async fn run_with(
    db: &DatabaseConnection,
    config: &ImportConfig,
    on_guess: OnGuess,
) -> Result<Summary, RunError> {
    let started = Instant::now();
    let files = collect_files(&config.paths)?;
    let bar = progress_bar(config.progress, files.len() as u64);
    let options = ImportOptions {
        force: config.force,
        dry_run: config.dry_run,
    };
    let mut summary = Summary {
        dry_run: config.dry_run,
        ..Summary::default()
    };
    let mut importer = Importer::new(db, options).await?;
    let (sender, mut prepared) = tokio::sync::mpsc::channel(32);
    // Reading and parsing run on a thread of their own, beside the writes. The thread runs its
    // future on this runtime's handle, so the database connections it may open belong to the
    // runtime that outlives it.
    let (handle, db_for_reading, config_for_reading) = (
        tokio::runtime::Handle::current(),
        db.clone(),
        config.clone(),
    );
    let producer = std::thread::spawn(move || {
        handle.block_on(prepare_all(
            db_for_reading,
            config_for_reading,
            on_guess,
            files,
            sender,
        ))
    });
    loop {
        let document = match prepared.try_recv() {
            Ok(document) => document,
            Err(TryRecvError::Disconnected) => break,
            // Nothing ready: commit what is written rather than hold the write lock idle.
            Err(TryRecvError::Empty) => {
                importer.flush().await?;
                match prepared.recv().await {
                    Some(document) => document,
                    None => break,
                }
            }
        };
        let report = match document {
            Prepared::Done(report, repairs) => {
                summary.add_repairs(repairs);
                report
            }
            Prepared::Ready {
                path,
                input,
                repairs,
                files,
            } => {
                summary.add_repairs(repairs);
                for problem in &files.problems {
                    bar.suspend(|| {
                        eprintln!("{} {}: {}", problem.path, problem.field, problem.message)
                    });
                }
                summary.add_files(files);
                write(&mut importer, path, input).await?
            }
        };
        if let (Outcome::Failed | Outcome::Conflict, Some(message)) =
            (&report.outcome, &report.message)
        {
            bar.suspend(|| eprintln!("{}: {message}", report.path));
        }
        bar.set_message(report.path.clone());
        summary.record(report);
        bar.inc(1);
    }
    importer.finish().await?;
    // The channel is closed: the reading thread has finished.
    let slugs = producer
        .join()
        .map_err(|_| RunError::Internal("the reading thread panicked".into()))??;
    bar.finish_and_clear();
    if config.prune {
        if summary.failed > 0 {
            eprintln!(
                "prune skipped: {} document(s) failed, so their talks may not be gone",
                summary.failed
            );
        } else {
            for pruned in prune(db, &slugs, options).await? {
                summary.record(DocumentReport {
                    path: String::new(),
                    slug: Some(pruned.slug),
                    outcome: if pruned.deleted { Outcome::Pruned } else { Outcome::Conflict },
                    message: (!pruned.deleted).then(|| {
                        format!(
                            "document is gone but the talk was edited since its import (version {}); kept, use --force to delete it",
                            pruned.version
                        )
                    }),
                });
            }
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    // Drawn only when stderr is a terminal.
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}") {
        bar.set_style(style);
    }
    bar
}

/// How many documents' files are stored at once.
const FILES_AT_ONCE: usize = 4;

/// A document ready to be written, or already settled (skipped or failed, with the repairs that
/// made it fail).
enum Prepared {
    Done(DocumentReport, Vec<RepairReport>),
    Ready {
        path: String,
        input: Box<TalkInput>,
        repairs: Vec<RepairReport>,
        files: DocumentFiles,
    },
}

/// Reads, parses, repairs and validates every file in order, and returns the slugs seen.
async fn prepare_all(
    db: DatabaseConnection,
    config: ImportConfig,
    on_guess: OnGuess,
    files: Vec<PathBuf>,
    sender: tokio::sync::mpsc::Sender<Prepared>,
) -> Result<HashSet<String>, RunError> {
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    // Characters of the clean text around: learned at the first repair that must guess.
    let mut known: Option<KnownChars> = None;
    // With `--assets`, the files of a few documents are stored at once (poppler runs as a child
    // process), and the documents still reach the writer in order.
    let mut storing: VecDeque<tokio::task::JoinHandle<Result<Prepared, RunError>>> =
        VecDeque::new();
    let next = |task: tokio::task::JoinHandle<Result<Prepared, RunError>>| async move {
        task.await
            .map_err(|e| RunError::Internal(format!("storing files failed: {e}")))?
    };
    for file in &files {
        let prepared = prepare(&db, &config, on_guess, &files, file, &mut seen, &mut known).await?;
        let prepared = match &config.assets {
            None => prepared,
            Some(assets) => {
                storing.push_back(tokio::spawn(store_files(
                    db.clone(),
                    assets.clone(),
                    config.dry_run,
                    prepared,
                )));
                if storing.len() < FILES_AT_ONCE {
                    continue;
                }
                let Some(task) = storing.pop_front() else {
                    continue;
                };
                next(task).await?
            }
        };
        if sender.send(prepared).await.is_err() {
            return Ok(seen.into_keys().collect());
        }
    }
    while let Some(task) = storing.pop_front() {
        if sender.send(next(task).await?).await.is_err() {
            break;
        }
    }
    Ok(seen.into_keys().collect())
}

/// Counts the characters of every stored talk and every document of the run. Damaged text
/// does not hold the characters that lost bytes stand for, so only clean text contributes.
async fn learn(
    db: &DatabaseConnection,
    files: &[PathBuf],
    max_bytes: u64,
) -> Result<KnownChars, RunError> {
    let mut known = KnownChars::default();
    let mut after: Option<String> = None;
    loop {
        let page = page_by_slug(db, after.as_deref(), 200).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.talk.slug.clone());
        for record in &page {
            observe_record(&mut known, record);
        }
    }
    for file in files {
        if let Ok(text) = document::read(file, max_bytes) {
            known.observe(&text);
        }
    }
    Ok(known)
}

fn parse_file(file: &Path, max_bytes: u64) -> Result<Document, DocumentError> {
    let fallback_slug = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    document::read(file, max_bytes).and_then(|text| document::parse(&text, &fallback_slug))
}

async fn prepare(
    db: &DatabaseConnection,
    config: &ImportConfig,
    on_guess: OnGuess,
    files: &[PathBuf],
    file: &Path,
    seen: &mut HashMap<String, PathBuf>,
    known: &mut Option<KnownChars>,
) -> Result<Prepared, RunError> {
    let path = file.display().to_string();
    let report = |slug: Option<String>, outcome, message: String| DocumentReport {
        path: path.clone(),
        slug,
        outcome,
        message: Some(message),
    };
    let done = |slug, outcome, message| Prepared::Done(report(slug, outcome, message), Vec::new());
    let mut talk = match parse_file(file, config.max_bytes) {
        Ok(Document::Talk(talk)) => talk,
        Ok(Document::NotATalk(reason)) => return Ok(done(None, Outcome::Skipped, reason)),
        Err(e) => return Ok(done(None, Outcome::Failed, e.to_string())),
    };
    let slug = talk.slug.clone();
    // An invalid slug is reported as such below, not as taken by another invalid one.
    if service::domain::Slug::parse(&slug).is_ok() {
        if let Some(first) = seen.get(&slug) {
            let message = format!("slug {slug:?} is already used by {}", first.display());
            return Ok(done(Some(slug), Outcome::Failed, message));
        }
        seen.insert(slug.clone(), file.to_owned());
    }
    let mut repairs = Vec::new();
    if config.repair {
        let mut fixed = repair_talk(&mut talk, known.as_ref().unwrap_or(&KnownChars::default()));
        if fixed.iter().any(|r| r.guess) && known.is_none() {
            // Lost bytes: choose again, now knowing the clean text around.
            let known = known.insert(learn(db, files, config.max_bytes).await?);
            if let Ok(Document::Talk(again)) = parse_file(file, config.max_bytes) {
                talk = again;
                fixed = repair_talk(&mut talk, known);
            }
        }
        repairs = fixed
            .into_iter()
            .map(|repair| RepairReport {
                path: path.clone(),
                repair,
            })
            .collect();
    }
    if on_guess == OnGuess::Fail {
        let guessed: Vec<&str> = repairs
            .iter()
            .filter(|r| r.repair.guess)
            .map(|r| r.repair.field.as_str())
            .collect();
        if !guessed.is_empty() {
            let message = format!(
                "not imported (--on-guess=fail): the repair of {} is a guess",
                guessed.join(", ")
            );
            return Ok(Prepared::Done(
                report(Some(slug), Outcome::Failed, message),
                repairs,
            ));
        }
    }
    let references = crate::files::references(&talk);
    match TalkInput::parse(*talk) {
        Ok(input) => Ok(Prepared::Ready {
            path,
            input: Box::new(input),
            repairs,
            files: DocumentFiles {
                references,
                ..DocumentFiles::default()
            },
        }),
        Err(e) => Ok(done(Some(slug), Outcome::Failed, e.to_string())),
    }
}

/// Stores the files a ready document names ([`AssetImport::import`]), and mixes their hashes
/// into its digest.
async fn store_files(
    db: DatabaseConnection,
    assets: AssetImport,
    dry_run: bool,
    prepared: Prepared,
) -> Result<Prepared, RunError> {
    let Prepared::Ready {
        path,
        input,
        repairs,
        files,
    } = prepared
    else {
        return Ok(prepared);
    };
    if files.references.is_empty() {
        return Ok(Prepared::Ready {
            path,
            input,
            repairs,
            files,
        });
    }
    let files = assets
        .import(&db, &path, &files.references, dry_run, IMPORT_ACTOR)
        .await?;
    Ok(Prepared::Ready {
        path,
        input: Box::new(input.with_files(&files.hashes)),
        repairs,
        files,
    })
}

/// Writes one validated document.
async fn write(
    importer: &mut Importer<'_>,
    path: String,
    input: Box<TalkInput>,
) -> Result<DocumentReport, RunError> {
    let slug = Some(input.slug().as_str().to_owned());
    let (outcome, message) = match importer.import(&input).await {
        Ok(ImportOutcome::Created { .. }) => (Outcome::Created, None),
        Ok(ImportOutcome::Updated { .. }) => (Outcome::Updated, None),
        Ok(ImportOutcome::Unchanged { .. }) => (Outcome::Unchanged, None),
        Ok(ImportOutcome::Conflict { version }) => (
            Outcome::Conflict,
            Some(format!(
                "the talk was changed through the API since its last import (now version {version}); \
                 left as it is, use --force to overwrite it"
            )),
        ),
        Err(e @ (ServiceError::Duplicate { .. } | ServiceError::Invalid(_))) => {
            (Outcome::Failed, Some(e.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(DocumentReport {
        path,
        slug,
        outcome,
        message,
    })
}

/// The summary as people read it.
pub fn render_text(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for problem in &summary.problems {
        let name = if problem.path.is_empty() {
            problem.slug.as_deref().unwrap_or_default()
        } else {
            &problem.path
        };
        let outcome = serde_json::to_value(&problem.outcome).ok();
        let outcome = outcome
            .as_ref()
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{outcome:>9}  {name}: {}",
            problem.message.as_deref().unwrap_or("")
        );
    }
    for problem in &summary.file_problems {
        let _ = writeln!(
            out,
            "{:>9}  {} {}: {}",
            "file", problem.path, problem.field, problem.message
        );
    }
    for repair in &summary.repairs {
        let r = &repair.repair;
        let kind = match (r.guess, r.changes.is_empty()) {
            (false, _) => "repaired",
            (true, false) => "repaired (guess)",
            (true, true) => "not repaired (guess)",
        };
        let _ = write!(
            out,
            "{kind}  {} {}: {}",
            repair.path,
            r.field,
            r.changes.join(", ")
        );
        if r.guess {
            let sep = if r.changes.is_empty() { "" } else { "; " };
            let _ = write!(out, "{sep}guessed: {}", r.guesses.join(", "));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}created {}, updated {}, unchanged {}, skipped {}, conflicts {}, failed {}, pruned {}, repairs {}, guesses {} in {:.2?}",
        if summary.dry_run {
            "dry run (nothing written): "
        } else {
            ""
        },
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.skipped,
        summary.conflicts,
        summary.failed,
        summary.pruned,
        summary.repairs.len(),
        summary.guesses,
        summary.elapsed,
    );
    if summary.files.stored + summary.files.unchanged + summary.files.problems > 0 {
        let _ = writeln!(
            out,
            "files: stored {}, unchanged {}, missing or refused {}",
            summary.files.stored, summary.files.unchanged, summary.files.problems
        );
    }
    out
}
