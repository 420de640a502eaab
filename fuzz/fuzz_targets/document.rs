//! `importer::document::parse` on arbitrary bytes taken as text: it must return (a talk, a
//! page that is not one, or an error) and never panic. A talk that parses is also run through
//! the text repair, as the importer does.
#![no_main]

use importer::document::{Document, parse};
use importer::fix::repair_talk;
use importer::repair::KnownChars;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Document::Talk(mut talk)) = parse(text, "fuzz") {
        let _ = repair_talk(&mut talk, &KnownChars::default());
    }
});
