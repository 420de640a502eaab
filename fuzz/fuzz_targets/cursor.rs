//! `service::listing::Cursor::decode` on arbitrary input: never panics, and whatever it accepts
//! encodes back to a cursor that decodes to the same value.
//!
//! The input is tried twice: as the cursor text itself (exercising the base64 layer), and as
//! the bytes inside a cursor, base64-encoded here first (exercising the JSON layer, which the
//! fuzzer would otherwise rarely reach through base64).
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use service::listing::Cursor;

fn check(text: &str) {
    if let Some(cursor) = Cursor::decode(text) {
        let again = Cursor::decode(&cursor.encode());
        assert_eq!(again.as_ref(), Some(&cursor), "{text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    check(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data));
});
