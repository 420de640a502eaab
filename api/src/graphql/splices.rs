//! Subscription messages built from text written once: a connection's `next` messages carry
//! each event's value as the JSON text that every subscriber with the same selection shares
//! (see `crate::graphql::live`), rather than each serializing the value again.
//!
//! async-graphql serializes a message itself, from a value. So the live resolver gives it, in
//! place of the event's value, a placeholder string `"\0lectern-splice-<token>-<n>"` and
//! registers the shared text under `n` with the connection's [`Splices`]; before the message
//! is sent, [`Splices::splice`] puts the text where serde_json wrote the placeholder.
//!
//! The token is 128 random bits drawn once per process and never sent: every placeholder in a
//! message is replaced, and a message holding a string that starts like one but that nothing
//! is registered for is refused rather than sent. No stored text holds a NUL character
//! (`service::domain::NUL_MESSAGE`), and none could know the token, so no title or other user
//! text is taken for a placeholder.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Placeholders a connection may have waiting for their message; past that, the live
/// resolver returns plain values until messages have taken some.
pub const MOST_WAITING: usize = 64;

/// The start of every placeholder of this process, as the resolver returns it and as
/// serde_json writes it in a message (opening quote included).
#[derive(Debug)]
struct Prefix {
    raw: String,
    quoted: String,
}

/// This process's prefix; None when the system gives no randomness (then nothing is spliced).
fn prefix() -> Option<&'static Prefix> {
    static PREFIX: OnceLock<Option<Prefix>> = OnceLock::new();
    PREFIX
        .get_or_init(|| {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).ok()?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Some(Prefix {
                raw: format!("\0lectern-splice-{token}-"),
                quoted: format!("\"\\u0000lectern-splice-{token}-"),
            })
        })
        .as_ref()
}

/// A message that carries this process's token other than in a placeholder its connection
/// registered: it cannot be sent.
#[derive(Debug, thiserror::Error)]
#[error("a subscription message holds a placeholder that nothing was registered for")]
pub struct UnknownPlaceholder;

/// The texts one connection's messages are waiting for, by placeholder number.
#[derive(Debug)]
pub struct Splices {
    prefix: &'static Prefix,
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    next: u64,
    texts: Vec<(u64, Arc<str>)>,
}

impl Splices {
    /// The splices of a new connection; None when this process cannot splice.
    pub fn new() -> Option<Self> {
        Some(Self {
            prefix: prefix()?,
            waiting: Mutex::default(),
        })
    }

    /// Registers `text` (a JSON value) for a message of this connection; returns the
    /// placeholder string to resolve to in its place, or None when [`MOST_WAITING`] are
    /// waiting already (then resolve to the value itself).
    ///
    /// A registered text waits until a message holding its placeholder is spliced, or until
    /// the connection ends.
    pub fn register(&self, text: &Arc<str>) -> Option<String> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.texts.len() >= MOST_WAITING {
            return None;
        }
        let n = waiting.next;
        waiting.next += 1;
        waiting.texts.push((n, Arc::clone(text)));
        Some(format!("{}{n}", self.prefix.raw))
    }

    /// `message` (JSON text, as serde_json wrote it) with every placeholder string replaced by
    /// the text registered for it, those texts no longer waiting. Only the message's own
    /// text is searched, not the texts put in. A message without placeholders comes back as
    /// it is.
    ///
    /// Fails when a string of the message starts like a placeholder of this process (its
    /// token included) but is not one that a text waits for, or when such a placeholder is
    /// found inside another string: that message must not be sent.
    pub fn splice(&self, message: String) -> Result<String, UnknownPlaceholder> {
        let marker = self.prefix.quoted.as_str();
        let Some(first) = message.find(marker) else {
            return Ok(message);
        };
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let mut spliced = String::new();
        // Bytes of `message` before this are in `spliced` already.
        let mut copied = 0;
        let mut found = Some(first);
        while let Some(at) = found {
            let digits = &message[at + marker.len()..];
            let len = digits.bytes().take_while(u8::is_ascii_digit).count();
            if escaped(&message, at) || digits.as_bytes().get(len) != Some(&b'"') {
                return Err(UnknownPlaceholder);
            }
            let n: u64 = digits[..len].parse().map_err(|_| UnknownPlaceholder)?;
            let index = waiting
                .texts
                .iter()
                .position(|(waiting, _)| *waiting == n)
                .ok_or(UnknownPlaceholder)?;
            let (_, text) = waiting.texts.swap_remove(index);
            if spliced.capacity() == 0 {
                spliced.reserve(message.len() + text.len());
            }
            spliced.push_str(&message[copied..at]);
            spliced.push_str(&text);
            copied = at + marker.len() + len + 1;
            found = message[copied..].find(marker).map(|i| copied + i);
        }
        spliced.push_str(&message[copied..]);
        Ok(spliced)
    }

    /// How many texts are waiting for their message.
    pub fn waiting(&self) -> usize {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .texts
            .len()
    }
}

/// Whether the quote at `at` in JSON text is escaped (inside a string), rather than the start
/// of one: preceded by an odd number of backslashes.
fn escaped(text: &str, at: usize) -> bool {
    text.as_bytes()[..at]
        .iter()
        .rev()
        .take_while(|b| **b == b'\\')
        .count()
        % 2
        == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn splices() -> Splices {
        Splices::new().expect("the system gives randomness")
    }

    fn text(value: &Value) -> Arc<str> {
        Arc::from(value.to_string())
    }

    /// A graphql-transport-ws `next` message whose data holds `value`, as serde_json writes it.
    fn next(value: Value) -> String {
        json!({ "type": "next", "id": "1", "payload": { "data": { "talkChanges": value } } })
            .to_string()
    }

    fn parsed(message: &str) -> Value {
        serde_json::from_str(message).expect("the spliced message is JSON")
    }

    #[test]
    fn a_placeholder_becomes_the_text_registered_for_it() {
        let splices = splices();
        let event = json!({ "seq": "7", "state": { "talk": { "title": "Ünïcode \"quoted\"" } } });
        let placeholder = splices.register(&text(&event)).unwrap();
        let message = splices.splice(next(json!(placeholder))).unwrap();
        assert_eq!(message, next(event.clone()));
        assert_eq!(parsed(&message)["payload"]["data"]["talkChanges"], event);
        assert_eq!(splices.waiting(), 0);
    }

    #[test]
    fn each_placeholder_of_a_message_gets_its_own_text_whatever_the_order() {
        let splices = splices();
        let (a, b, c) = (json!({ "a": 1 }), json!([2, "two"]), json!("three"));
        let pa = splices.register(&text(&a)).unwrap();
        let pb = splices.register(&text(&b)).unwrap();
        let pc = splices.register(&text(&c)).unwrap();
        let message = json!({ "x": pc, "y": [pa, "between", pb] }).to_string();
        let spliced = splices.splice(message).unwrap();
        assert_eq!(
            spliced,
            json!({ "x": c, "y": [a, "between", b] }).to_string()
        );
        assert_eq!(splices.waiting(), 0);
    }

    #[test]
    fn a_text_waits_for_the_message_that_holds_its_placeholder() {
        let splices = splices();
        let first = splices.register(&text(&json!(1))).unwrap();
        let second = splices.register(&text(&json!(2))).unwrap();
        assert_eq!(splices.splice(next(json!(second))).unwrap(), next(json!(2)));
        assert_eq!(splices.waiting(), 1);
        assert_eq!(splices.splice(next(json!(first))).unwrap(), next(json!(1)));
        assert_eq!(splices.waiting(), 0);
    }

    #[test]
    fn a_message_without_placeholders_is_left_as_it_is() {
        let splices = splices();
        splices.register(&text(&json!(1))).unwrap();
        let message = next(json!({ "seq": "1" }));
        assert_eq!(splices.splice(message.clone()).unwrap(), message);
        assert_eq!(splices.waiting(), 1);
    }

    #[test]
    fn user_text_that_looks_like_a_placeholder_is_left_as_it_is() {
        let splices = splices();
        let placeholder = splices.register(&text(&json!("spliced"))).unwrap();
        let token = placeholder.trim_start_matches('\0');
        // Strings written like placeholders but without this process's token, with a NUL or
        // with a backslash (as a title can hold it), whole or inside other text.
        let lookalikes = json!([
            "\0lectern-splice-",
            "\0lectern-splice-00000000000000000000000000000000-0",
            "\0lectern-splice-ffffffffffffffffffffffffffffffff-1",
            "\\u0000lectern-splice-00000000000000000000000000000000-0",
            format!("\\u0000{token}"),
            format!("\\\0{token}"),
            format!("before \"\0lectern-splice-0-0\" after"),
        ]);
        let message = next(lookalikes.clone());
        assert_eq!(splices.splice(message.clone()).unwrap(), message);
        let both = next(json!([lookalikes, placeholder]));
        let spliced = splices.splice(both).unwrap();
        assert_eq!(spliced, next(json!([lookalikes, "spliced"])));
    }

    #[test]
    fn the_text_put_in_is_not_searched_for_placeholders() {
        let splices = splices();
        let later = splices.register(&text(&json!("later"))).unwrap();
        // A text holding a placeholder (no stored text can: it would need a NUL).
        let inner = splices.register(&text(&json!([later.clone()]))).unwrap();
        let spliced = splices.splice(next(json!(inner))).unwrap();
        assert_eq!(parsed(&spliced)["payload"]["data"]["talkChanges"][0], later);
        assert_eq!(splices.waiting(), 1);
    }

    #[test]
    fn a_placeholder_nothing_waits_for_is_never_sent() {
        let splices = splices();
        let placeholder = splices.register(&text(&json!(1))).unwrap();
        assert!(splices.splice(next(json!(placeholder.clone()))).is_ok());
        // Spliced once: the text is no longer waiting.
        assert!(splices.splice(next(json!(placeholder.clone()))).is_err());
        // Another connection's placeholder.
        let other = self::splices().register(&text(&json!(2))).unwrap();
        assert!(splices.splice(next(json!(other))).is_err());
        // The token inside a string, or with something else than a number after it.
        let inside = splices.register(&text(&json!(3))).unwrap();
        assert!(splices.splice(next(json!(format!("x\"{inside}")))).is_err());
        assert!(splices.splice(next(json!(format!("{inside}x")))).is_err());
        let prefix = inside.trim_end_matches(|c: char| c.is_ascii_digit());
        assert!(splices.splice(next(json!(prefix))).is_err());
        assert!(
            splices
                .splice(next(json!(format!("{prefix}99999999999999999999999"))))
                .is_err()
        );
    }

    #[test]
    fn at_most_64_texts_wait_on_a_connection() {
        let splices = splices();
        let placeholders: Vec<String> = (0..MOST_WAITING)
            .map(|i| splices.register(&text(&json!(i))).unwrap())
            .collect();
        assert_eq!(splices.register(&text(&json!("one too many"))), None);
        let message = splices.splice(next(json!(placeholders[5]))).unwrap();
        assert_eq!(message, next(json!(5)));
        let again = splices.register(&text(&json!("room again"))).unwrap();
        assert!(!placeholders.contains(&again));
        assert_eq!(splices.waiting(), MOST_WAITING);
    }

    #[test]
    fn placeholders_are_unique_and_carry_a_128_bit_token() {
        let splices = splices();
        let a = splices.register(&text(&json!(1))).unwrap();
        let b = splices.register(&text(&json!(1))).unwrap();
        assert_ne!(a, b);
        let token = a
            .strip_prefix("\0lectern-splice-")
            .and_then(|rest| rest.rsplit_once('-'))
            .map(|(token, _)| token)
            .unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            format!("{}0\"", splices.prefix.quoted)
        );
    }
}
