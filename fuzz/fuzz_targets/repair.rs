//! The mojibake repair on arbitrary text: it never panics, and it is idempotent: what it
//! returns needs no further repair (repairing twice equals repairing once).
#![no_main]

use importer::repair::repair;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(once) = repair(text) {
        assert!(
            !once.repairs.is_empty(),
            "a repair that changed {text:?} reports no change"
        );
        assert_ne!(
            once.text, text,
            "a repair of {text:?} reported changes but changed nothing"
        );
        if let Some(twice) = repair(&once.text) {
            panic!(
                "not idempotent: {text:?} -> {:?} -> {:?} ({:?})",
                once.text, twice.text, twice.repairs
            );
        }
    }
});
