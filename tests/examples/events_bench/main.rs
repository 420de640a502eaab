//! The change-event benchmark (`bench/events.sh` runs it): writes through the REST API at a
//! fixed rate while webhook endpoints and GraphQL subscriptions listen, and reports the write
//! latency, the end-to-end delivery latency per channel, and what was delivered.
//!
//! `events_bench --help` lists the flags. The admin's password comes from `LECTERN_PASSWORD`,
//! never an argument.
//!
//! The database must hold the talks `talk-000000` … (as `seed_talks` writes them) and an admin
//! account `--email`. Everything runs on loopback:
//!
//! 1. Warm-up: `--warmup` seconds of the same writes, before anyone listens (not measured).
//! 2. `--webhooks` receivers (actix-web on 127.0.0.1:0, answering 204) are registered through
//!    `POST /api/v1/webhooks` for `talk.*`; `--subscribers` websockets on `/graphql`
//!    (graphql-transport-ws, authenticated in `connection_init`) subscribe to
//!    `talkChanges(after: S0)` with the talk's `state`, S0 being the last event before the
//!    measured run.
//! 3. The measured run: write number i is due at `start + i / rate` (an open-loop schedule: a
//!    slow server does not slow the schedule down) and is a `PATCH /api/v1/talks/{slug}` of the
//!    title of talk `i mod talks`, with `If-Match` the version last seen (412: the version is
//!    read from the problem and the write retried, at most twice), over a pool of
//!    `--connections` HTTP/1.1 connections. Writes to one talk go one after another (a write
//!    due while the previous one to its talk is in flight waits for it), so that a server that
//!    falls behind does not also get the client's own version conflicts. Its latency is taken
//!    from the time it was due (what a client with that schedule sees: a request waiting for a
//!    free connection waits) and from the time it was sent.
//! 4. When the last response is in, the events committed after S0 are read back through
//!    GraphQL `changes`; the listeners are given until every one of them has them all, or until
//!    nothing arrives for 20 s, or `--drain` seconds.
//! 5. Each delivery (listener, seq, time received) is matched to its event (and so to the
//!    write that caused it: the talk and version the PATCH answered): latency from the write's
//!    send, and from the event's `occurred_at`; per listener, missing events, duplicates and
//!    events out of order.
//!
//! A webhook receiver reads the seq from `Lectern-Event-Seq`; it parses every 100th body and
//! checks its `seq`, `aggregate_id` and `occurred_at` (parsing every one would take CPU the
//! server needs). Signatures are not checked. Times are wall-clock microseconds, so that a
//! receive time and the server's `occurred_at` compare (one machine, one clock).
//!
//! Output: a report, and one `RESULT key=value …` line for the script.
//!
//! Modules: `run` (the steps above, in order), `api` (login, the REST and GraphQL calls),
//! `writes` (the open-loop schedule), `listener`, `webhooks` and `subscriptions` (what each
//! listener received), `delivery` (the matching) and `cpu` (CPU use while writing).

mod api;
mod cpu;
mod delivery;
mod listener;
mod run;
mod subscriptions;
mod webhooks;
mod writes;

use std::process::ExitCode;

use clap::Parser;
use tests::bench::env::secret;
use tests::bench::http::loopback_url;

type Error = Box<dyn std::error::Error>;

/// The environment variable that holds the admin's password.
const PASSWORD_VAR: &str = "LECTERN_PASSWORD";

/// Writes at a fixed rate while webhooks and GraphQL subscriptions listen: write latency,
/// delivery latency per channel, and what was delivered (missing, duplicated, out of order).
///
/// The password of the admin account comes from the environment variable LECTERN_PASSWORD,
/// never from an argument. Every flag can also be set through the environment variable named
/// in its help.
#[derive(Parser)]
#[command(name = "events_bench")]
struct Args {
    /// The server's base URL: http://127.0.0.1:PORT (loopback only).
    #[arg(long, env = "LECTERN_EVENTS_URL", value_parser = loopback_url)]
    url: String,
    /// The email of an admin account (its password from LECTERN_PASSWORD).
    #[arg(long, env = "LECTERN_EVENTS_EMAIL")]
    email: String,
    /// Writes per second, on an open-loop schedule.
    #[arg(long, env = "LECTERN_EVENTS_RATE", default_value_t = 1000.0, value_parser = positive)]
    rate: f64,
    /// Seconds of measured writes (rate × seconds at most 1,000,000).
    #[arg(long, env = "LECTERN_EVENTS_SECONDS", default_value_t = 30.0, value_parser = positive)]
    seconds: f64,
    /// Seconds of the same writes before anyone listens (not measured; 0 for none).
    #[arg(long, env = "LECTERN_EVENTS_WARMUP", default_value_t = 3.0, value_parser = not_negative)]
    warmup: f64,
    /// HTTP/1.1 connections the writes share.
    #[arg(long, env = "LECTERN_EVENTS_CONNECTIONS", default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..))]
    connections: u32,
    /// Webhook receivers, each on a port of its own (at most 100).
    #[arg(long, env = "LECTERN_EVENTS_WEBHOOKS", default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(0..=100))]
    webhooks: u32,
    /// GraphQL subscribers, each on a websocket of its own (at most 1000).
    #[arg(long, env = "LECTERN_EVENTS_SUBSCRIBERS", default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(0..=1000))]
    subscribers: u32,
    /// Talks written in turn: talk-000000 … (as seed_talks writes them).
    #[arg(long, env = "LECTERN_EVENTS_TALKS", default_value_t = 2000,
        value_parser = clap::value_parser!(u32).range(1..))]
    talks: u32,
    /// Seconds at most that the listeners are given to receive every event after the writes.
    #[arg(long, env = "LECTERN_EVENTS_DRAIN", default_value_t = 120.0, value_parser = not_negative)]
    drain: f64,
    /// A name for this run, on its report and its RESULT line.
    #[arg(long, env = "LECTERN_EVENTS_LABEL", default_value = "run")]
    label: String,
    /// The server's process id, to report its CPU while writing.
    #[arg(long, env = "LECTERN_EVENTS_SERVER_PID")]
    server_pid: Option<u32>,
    /// Clock ticks per second (`getconf CLK_TCK`), to turn CPU ticks into cores.
    #[arg(long, env = "LECTERN_EVENTS_CLK_TCK", default_value_t = 100.0)]
    clk_tck: f64,
}

/// A number of seconds or a rate, above zero.
fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        Ok(_) => Err("must be above 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A number of seconds, 0 or more.
fn not_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        Ok(_) => Err("must be 0 or more".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.rate * args.seconds > 1_000_000.0 {
        clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            "--rate × --seconds: at most 1,000,000 writes per run\n",
        )
        .exit();
    }
    let outcome = secret(PASSWORD_VAR, "the admin's password")
        .map_err(Error::from)
        .and_then(|password| actix_web::rt::System::new().block_on(run::run(args, password)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("events_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod cli {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Args::command().debug_assert();
    }
}
