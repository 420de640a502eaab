//! Following the log: a folder of talk documents kept up to date from the events that
//! `lectern relay` publishes to NATS JetStream, and from nothing else (no database, no call to
//! the API). Each event carries the talk's whole state, so each one is enough to write, or
//! remove, the talk's document.
//!
//! The follower reads through a durable JetStream consumer: after a restart it goes on after
//! the last batch it acknowledged. It acknowledges a batch only once the documents and its
//! own record (`.lectern-follow.json` in the folder: which file each talk is in, and the last
//! event applied to it) are written, so a follower stopped anywhere applies some events again,
//! which changes nothing. A folder without that record is followed from the stream's first
//! event.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use service::events::State;
use service::talks::TalkRecord;
use uuid::Uuid;

use crate::document::render;

/// The follower's record in the folder it keeps.
pub const RECORD: &str = ".lectern-follow.json";

/// Where to follow from and what to keep.
#[derive(Debug, Clone)]
pub struct FollowSettings {
    /// The NATS server: `nats://127.0.0.1:4222`.
    pub url: String,
    /// The stream the relay publishes to.
    pub stream: String,
    /// The relay's subject prefix: talks' events are `<prefix>.talk.>`.
    pub subject_prefix: String,
    /// The durable consumer's name, which keeps the follower's place in the stream.
    pub durable: String,
    /// The folder of documents.
    pub out: PathBuf,
    /// Keep published talks only: a talk's document is removed when it is unpublished.
    pub published_only: bool,
    /// Events read at a time.
    pub batch: usize,
}

impl FollowSettings {
    pub fn new(url: impl Into<String>, out: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            stream: "LECTERN".into(),
            subject_prefix: "lectern".into(),
            durable: "lectern-export".into(),
            out: out.into(),
            published_only: false,
            batch: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("cannot reach NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A message that is not a talk's event as the relay writes it; the follower stops before
    /// it (and acknowledges nothing after it), so that no change is skipped unseen.
    #[error("stream message {stream_seq} ({subject}): {reason}")]
    Message {
        stream_seq: u64,
        subject: String,
        reason: String,
    },
    #[error("{path}: the follower's record cannot be read: {reason}")]
    Record { path: PathBuf, reason: String },
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
}

fn jetstream_error(error: impl std::fmt::Display) -> FollowError {
    FollowError::JetStream(error.to_string())
}

/// What a follower did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Followed {
    /// Events read.
    pub events: u64,
    /// Documents written (created or changed).
    pub written: u64,
    /// Documents removed.
    pub removed: u64,
}

/// Where a talk's document is, and the last event applied to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// The file's slug; none while the talk has no document (deleted, or a draft when only
    /// published talks are kept).
    slug: Option<String>,
    /// The relay's `seq` of the last event applied.
    seq: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    stream: String,
    durable: String,
    talks: BTreeMap<Uuid, Entry>,
}

/// An event as the relay publishes it, with the parts the follower reads.
#[derive(Deserialize)]
struct Event {
    seq: i64,
    #[serde(rename = "type")]
    kind: String,
    aggregate_id: Uuid,
    data: State,
}

/// What a batch does to the folder, by slug: the talk to write there, or none to remove the
/// file.
type Plan = BTreeMap<String, Option<TalkRecord>>;

/// A follower of one stream into one folder.
pub struct Follower {
    settings: FollowSettings,
    consumer: PullConsumer,
    record: Record,
    record_path: PathBuf,
}

impl Follower {
    /// Connects, and opens the durable consumer: the one named in the folder's record, or,
    /// for a folder without one, a new one from the stream's first event (an older consumer
    /// of that name is replaced: its place belongs to another folder).
    pub async fn open(settings: FollowSettings) -> Result<Self, FollowError> {
        std::fs::create_dir_all(&settings.out).map_err(|source| FollowError::Io {
            path: settings.out.clone(),
            source,
        })?;
        let record_path = settings.out.join(RECORD);
        let record: Record = match std::fs::read(&record_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| FollowError::Record {
                path: record_path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Record::default(),
            Err(source) => {
                return Err(FollowError::Io {
                    path: record_path,
                    source,
                });
            }
        };
        let fresh = record.talks.is_empty();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(settings.url.as_str())
            .await
            .map_err(|e| FollowError::Connect {
                url: settings.url.clone(),
                message: e.to_string(),
            })?;
        let context = jetstream::new(client);
        let stream = context.get_stream(&settings.stream).await.map_err(|e| {
            FollowError::JetStream(format!(
                "stream {:?} (the one `lectern relay --stream` publishes to): {e}",
                settings.stream
            ))
        })?;
        if fresh {
            // A consumer of this name that is not at the start belongs to another folder.
            let _ = stream.delete_consumer(&settings.durable).await;
        }
        let consumer = stream
            .get_or_create_consumer(
                &settings.durable,
                pull::Config {
                    durable_name: Some(settings.durable.clone()),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::All,
                    ack_wait: Duration::from_secs(60),
                    filter_subject: format!("{}.talk.>", settings.subject_prefix),
                    ..Default::default()
                },
            )
            .await
            .map_err(jetstream_error)?;
        Ok(Self {
            record: Record {
                stream: settings.stream.clone(),
                durable: settings.durable.clone(),
                ..record
            },
            settings,
            consumer,
            record_path,
        })
    }

    /// Applies up to one batch of events, waiting up to `wait` for the first; acknowledges
    /// the batch once it is written. How many events it applied.
    pub async fn step(
        &mut self,
        wait: Duration,
        done: &mut Followed,
    ) -> Result<usize, FollowError> {
        let mut messages = self
            .consumer
            .batch()
            .max_messages(self.settings.batch)
            .expires(wait)
            .messages()
            .await
            .map_err(jetstream_error)?;
        let mut last = None;
        let mut count = 0;
        let mut plan = Plan::new();
        while let Some(message) = messages.next().await {
            let message = message.map_err(jetstream_error)?;
            self.apply(&message, &mut plan)?;
            count += 1;
            last = Some(message);
        }
        if let Some(message) = last {
            self.write(plan, done)?;
            self.save()?;
            // `AckPolicy::All`: acknowledging the last acknowledges the batch.
            message.double_ack().await.map_err(jetstream_error)?;
        }
        done.events += count as u64;
        Ok(count)
    }

    /// Follows until `stop` resolves.
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Followed, FollowError> {
        tokio::pin!(stop);
        let mut done = Followed::default();
        loop {
            tokio::select! {
                () = &mut stop => return Ok(done),
                step = self.step(Duration::from_secs(1), &mut done) => { step?; }
            }
        }
    }

    /// Follows until the stream has nothing more for this follower.
    pub async fn catch_up(&mut self) -> Result<Followed, FollowError> {
        let mut done = Followed::default();
        while self.step(Duration::from_millis(500), &mut done).await? > 0 {}
        Ok(done)
    }

    /// Plans what an event does to the folder: the talk's document written at its slug, or
    /// removed, and its old file removed when the slug changed. Within a batch the last plan
    /// for a file wins, so a talk changed many times is written once.
    fn apply(&mut self, message: &jetstream::Message, plan: &mut Plan) -> Result<(), FollowError> {
        let info = message.info().map_err(jetstream_error)?;
        let bad = |reason: String| FollowError::Message {
            stream_seq: info.stream_sequence,
            subject: message.subject.to_string(),
            reason,
        };
        let event: Event =
            serde_json::from_slice(&message.payload).map_err(|e| bad(e.to_string()))?;
        if event.data.talk.id != event.aggregate_id {
            return Err(bad("its state is not of the talk it names".into()));
        }
        let entry = self.record.talks.get(&event.aggregate_id);
        if entry.is_some_and(|entry| entry.seq >= event.seq) {
            return Ok(()); // applied already (a batch delivered again after a stop)
        }
        let previous = entry.and_then(|entry| entry.slug.clone());
        let keep = match event.kind.as_str() {
            "talk.deleted" => false,
            _ => {
                !self.settings.published_only
                    || event.data.talk.status == service::entity::talk::Status::Published
            }
        };
        let slug = event.data.talk.slug.clone();
        service::domain::Slug::parse(&slug).map_err(|e| {
            crate::export::ExportError::UnsafeSlug {
                slug: slug.clone(),
                reason: e.to_string(),
            }
        })?;
        if let Some(old) = previous.filter(|old| !keep || *old != slug) {
            plan.insert(old, None);
        }
        if keep {
            plan.insert(
                slug.clone(),
                Some(TalkRecord {
                    talk: event.data.talk,
                    resources: event.data.resources,
                    embeds: event.data.embeds,
                }),
            );
        }
        self.record.talks.insert(
            event.aggregate_id,
            Entry {
                slug: keep.then_some(slug),
                seq: event.seq,
            },
        );
        Ok(())
    }

    /// Carries out a batch's plan: each document written (when its bytes changed) or removed.
    /// A link or anything but a regular file where a document goes is refused.
    fn write(&self, plan: Plan, done: &mut Followed) -> Result<(), FollowError> {
        for (slug, talk) in plan {
            let path = self.settings.out.join(format!("{slug}.md"));
            match talk {
                Some(talk) => match crate::files::write_if_changed(&path, render(&talk).as_bytes())
                {
                    Ok(true) => done.written += 1,
                    Ok(false) => {}
                    Err(source) => return Err(FollowError::Io { path, source }),
                },
                None => match std::fs::symlink_metadata(&path) {
                    Ok(meta) if !meta.file_type().is_file() => {
                        return Err(crate::export::ExportError::NotAFile { path }.into());
                    }
                    Ok(_) => {
                        std::fs::remove_file(&path)
                            .map_err(|source| FollowError::Io { path, source })?;
                        done.removed += 1;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(FollowError::Io { path, source }),
                },
            }
        }
        Ok(())
    }

    /// Writes the record (replacing it whole, never half-written).
    fn save(&self) -> Result<(), FollowError> {
        let bytes = serde_json::to_vec_pretty(&self.record).map_err(|e| FollowError::Record {
            path: self.record_path.clone(),
            reason: e.to_string(),
        })?;
        crate::files::write_if_changed(&self.record_path, &bytes).map_err(|source| {
            FollowError::Io {
                path: self.record_path.clone(),
                source,
            }
        })?;
        Ok(())
    }
}

/// The documents (`*.md`) in `folder`, by file name, with their bytes.
pub fn documents(folder: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && entry.file_type()?.is_file() {
            found.insert(name, std::fs::read(entry.path())?);
        }
    }
    Ok(found)
}
