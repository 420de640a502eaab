//! The mixed-load, steady-state and fault drivers (`bench/load.sh` and `bench/faults.sh` run
//! them): closed-loop HTTP traffic against a running `lectern` on 127.0.0.1, checking every
//! answer.
//!
//! `load --help` lists the modes, `load MODE --help` their flags. The editor token comes from
//! `LECTERN_LOAD_TOKEN`, never an argument.
//!
//! Traffic. Reads are anonymous (readers see the corpus's published talks): GraphQL
//! `talk(slug:)` with resources and embeds (30%), GraphQL `talks(first: 20)` with resources and
//! embeds, on the first page or filtered by a year (20%), REST `GET /api/v1/talks/{slug}` (30%)
//! and REST `GET /api/v1/talks?include=resources,embeds` (20%). Writes use the token; each
//! connection writes only the talks it created itself (`load-<run>-<connection>-<n>`, at most 4
//! each), so no write can legitimately conflict: REST `POST /talks` and GraphQL `createTalk`
//! (with two resources and an embed), then in turn a REST `PATCH` of the title (`If-Match`), a
//! GraphQL `updateTalk` (`expectedVersion`), a REST resource added or removed (`If-Match`), a
//! REST reorder of the resources (`If-Match`) and a GraphQL embed added or removed.
//!
//! The steady mode reads another mix (GraphQL lists by event and searching too) and writes on
//! a fixed schedule instead, editing the corpus's own talks: see `steady`.
//!
//! Every answer is checked: a read must be a 2xx without GraphQL `errors`, naming the talk
//! asked for (or a non-empty page); a write must answer the talk at exactly the next version,
//! with the change asked for and nothing else (resources and embeds compared by id, in order).
//! Anything else is an error, with its kind and the first bodies printed. In the steady mode,
//! every talk a read answers must also be no older than a write acknowledged before the read
//! was sent; an older one is a stale answer, counted apart.
//!
//! Bounds: every run (each phase of the steady mode) stops after `--seconds` (at most 3,600) or
//! `--max-requests` (10,000,000 in all),
//! each request after 15 s; `--url` must be `http://127.0.0.1:…`.
//!
//! Output: a report, and one `RESULT key=value …` line for the script. Exit status: 0 when
//! every check passed, 1 when one failed, 2 when the run could not start (bad arguments, no
//! token, no server).
//!
//! Modules: one per mode (`mixed`, `steady`, `writes`, `verify`, `sigterm`, `outage`); the
//! traffic they share in `traffic` (connections, statistics), `reads` and `edits` (the requests
//! and their checks), `fresh` (the acknowledged writes every read is checked against), `talk`
//! (a talk's state as a write answers it) and `http` (the client and what a failed request is).

mod edits;
mod fresh;
mod http;
mod mixed;
mod outage;
mod reads;
mod sigterm;
mod steady;
mod talk;
mod traffic;
mod verify;
mod writes;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tests::bench::env::{Secret, secret};
use tests::bench::http::loopback_url;

type Error = Box<dyn std::error::Error>;

/// The environment variable that holds the editor token.
const TOKEN_VAR: &str = "LECTERN_LOAD_TOKEN";
const MAX_SECONDS: f64 = 3600.0;
const MAX_CONNECTIONS: usize = 512;
const MAX_REQUESTS: u64 = 10_000_000;

/// Closed-loop HTTP traffic against a running lectern on 127.0.0.1, every answer checked.
///
/// The editor token comes from the environment variable LECTERN_LOAD_TOKEN, never from an
/// argument. Every flag can also be set through the environment variable named in its help.
#[derive(Parser)]
#[command(name = "load")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Mixed reads and writes after a warm-up: throughput, latency, errors, server memory.
    ///
    /// `--warmup` seconds of the traffic (errors count, figures do not), then `--seconds`
    /// measured. Reports requests/s and p50/p99 (reads, writes, all), the error count, and the
    /// server's VmRSS before the warm-up, after it, and at the end. Exits 1 on any error, or
    /// when the end's RSS exceeds the post-warm-up one by more than 20%.
    Mixed(mixed::Args),
    /// Writes only, until the server is gone; what was acknowledged goes to --acks (fault a).
    ///
    /// Writes at full speed until `--seconds` or until every connection has lost the server
    /// (`kill -9`). Every acknowledged state, and each write left without an answer ("in
    /// doubt"), goes to `--acks` as JSON.
    Writes(writes::Args),
    /// Checks --acks against the restarted server and its database (fault a, after writes).
    ///
    /// Each talk must be served at its acknowledged version with that state, or one version
    /// later when a write was in doubt. In the database: for every acknowledged version exactly
    /// one change event; each talk's events at versions 1, 2, … with no gap or repeat; and, for
    /// every talk, the latest event's payload equal to the stored talk, resources and embeds,
    /// whose positions run 0, 1, … with no hole.
    Verify(verify::Args),
    /// Mixed traffic, then SIGTERM to the server: in-flight requests must complete (fault b).
    ///
    /// The mixed traffic for `--before` seconds, then SIGTERM to `--server-pid` (sent by this
    /// driver, so that it knows exactly which requests were sent before it). Every request sent
    /// before the signal must be answered with a 2xx; the process must be gone within `--bound`
    /// seconds. Requests sent after the signal are reported, not judged.
    Sigterm(sigterm::Args),
    /// Mixed traffic across a database outage: 503s only while it is down (fault c).
    ///
    /// The mixed traffic for `--seconds`, never stopping on errors. At the end it reads
    /// `--marks` (lines `stop <unix ms>` and `start <unix ms>`, written by the script around
    /// the outage) and checks that errors happened only from the stop until `--grace` seconds
    /// after the start, that each was a 503, and that every request after the last error
    /// succeeded. Without marks (a dry run) there must be no error at all.
    Outage(outage::Args),
    /// Reads while writing at fixed rates, one phase per rate: throughput, latency, freshness.
    ///
    /// Closed-loop connections read (single talks through GraphQL and REST, GraphQL lists on
    /// the first page, by event, by year and searching, the REST list) while writes editing
    /// the corpus's talks are sent on a fixed schedule, `--rates` writes/s in turn, each phase
    /// `--warmup` seconds and then `--seconds` measured. Every talk in every answer must be at
    /// least at the version a write acknowledged before the read was sent, with that version's
    /// title and location. Reports reads/s, writes/s, their p50/p99, stale answers, errors, the
    /// server's CPU and VmRSS per phase; exits 1 on any error or stale answer, or when VmRSS
    /// grows by more than `--max-rss-growth` percent in a phase.
    Steady(steady::Args),
}

/// The server every mode sends its traffic to.
#[derive(Args)]
struct Target {
    /// The server's base URL: http://127.0.0.1:PORT (loopback only).
    #[arg(long, env = "LECTERN_LOAD_URL", value_parser = loopback_url)]
    url: String,
}

/// What the modes that send mixed or write traffic share.
#[derive(Args)]
struct Traffic {
    #[command(flatten)]
    target: Target,
    /// Stop after this many requests in all (at most 10,000,000).
    #[arg(long, env = "LECTERN_LOAD_MAX_REQUESTS", default_value_t = MAX_REQUESTS,
        value_parser = clap::value_parser!(u64).range(0..=MAX_REQUESTS))]
    max_requests: u64,
}

/// The share of writes in the mixed traffic.
#[derive(Args)]
struct Mix {
    /// The share of requests that are writes, in percent.
    #[arg(long, env = "LECTERN_LOAD_WRITE_PERCENT", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(0..=100))]
    write_percent: u64,
}

/// A number of seconds, within 0..=3600.
fn seconds(text: &str) -> Result<f64, String> {
    let s: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if !(0.0..=MAX_SECONDS).contains(&s) {
        return Err(format!("must be within 0..={MAX_SECONDS}"));
    }
    Ok(s)
}

/// A number of connections, within 1..=512.
fn connections(text: &str) -> Result<usize, String> {
    let c: usize = text.parse().map_err(|e| format!("{e}"))?;
    if !(1..=MAX_CONNECTIONS).contains(&c) {
        return Err(format!("must be within 1..={MAX_CONNECTIONS}"));
    }
    Ok(c)
}

/// The editor token, from the environment.
fn token() -> Result<Secret, Error> {
    Ok(secret(TOKEN_VAR, "an editor token")?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = actix_web::rt::System::new().block_on(async move {
        let token = token()?;
        match cli.mode {
            Mode::Mixed(args) => mixed::run(args, &token).await,
            Mode::Writes(args) => writes::run(args, &token).await,
            Mode::Verify(args) => verify::run(args, &token).await,
            Mode::Sigterm(args) => sigterm::run(args, &token).await,
            Mode::Outage(args) => outage::run(args, &token).await,
            Mode::Steady(args) => steady::run(args, &token).await,
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod cli {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
