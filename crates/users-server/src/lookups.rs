//! The standard value sets some user fields are checked against, from crates
//! that track the standards: ISO 3166-1 countries (`isocountry`), ISO 639-1
//! languages (`isolang`), the glibc locales (`pure-rust-locales`) and the IANA
//! time zones (`chrono-tz`).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::LazyLock;

/// One accepted value and its English name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value a field accepts.
    pub code: String,
    /// Its English name.
    pub name: String,
}

/// A lookup list: the values of one of the spec's lookup enums
/// (`CountryCode`, `LanguageCode`, `Locale`, `TimeZone`) with their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// ISO 3166-1 alpha-2 country codes, e.g. `US`.
    Countries,
    /// ISO 639-1 language codes, e.g. `en`.
    Languages,
    /// `{iso639}-{iso3166}` locales in lowercase, e.g. `en-us`.
    Locales,
    /// IANA time zones, e.g. `America/New_York`.
    TimeZones,
}

impl Lookup {
    /// Every accepted value, ordered by code.
    pub fn entries(self) -> &'static [Entry] {
        &self.table().1
    }

    /// Whether `code` is accepted.
    pub fn contains(self, code: &str) -> bool {
        self.table().0.contains_key(code)
    }

    fn table(self) -> &'static (BTreeMap<String, usize>, Vec<Entry>) {
        static COUNTRIES: LazyLock<(BTreeMap<String, usize>, Vec<Entry>)> = LazyLock::new(|| {
            index(
                isocountry::CountryCode::iter()
                    .map(|c| (c.alpha2().to_owned(), c.name().to_owned())),
            )
        });
        static LANGUAGES: LazyLock<(BTreeMap<String, usize>, Vec<Entry>)> = LazyLock::new(|| {
            index(languages().map(|(code, name)| (code.to_owned(), name.to_owned())))
        });
        static LOCALES: LazyLock<(BTreeMap<String, usize>, Vec<Entry>)> = LazyLock::new(|| {
            let mut out = Vec::new();
            for (language, language_name) in languages() {
                for country in isocountry::CountryCode::iter() {
                    let glibc = format!("{language}_{}", country.alpha2());
                    if pure_rust_locales::Locale::from_str(&glibc).is_ok() {
                        out.push((
                            format!("{language}-{}", country.alpha2().to_lowercase()),
                            format!("{language_name} ({})", country.name()),
                        ));
                    }
                }
            }
            index(out.into_iter())
        });
        static TIME_ZONES: LazyLock<(BTreeMap<String, usize>, Vec<Entry>)> = LazyLock::new(|| {
            index(
                chrono_tz::TZ_VARIANTS
                    .iter()
                    .map(|tz| (tz.name().to_owned(), tz.name().to_owned())),
            )
        });
        match self {
            Lookup::Countries => &COUNTRIES,
            Lookup::Languages => &LANGUAGES,
            Lookup::Locales => &LOCALES,
            Lookup::TimeZones => &TIME_ZONES,
        }
    }
}

fn languages() -> impl Iterator<Item = (&'static str, &'static str)> {
    isolang::languages().filter_map(|l| l.to_639_1().map(|code| (code, l.to_name())))
}

fn index(entries: impl Iterator<Item = (String, String)>) -> (BTreeMap<String, usize>, Vec<Entry>) {
    let sorted: BTreeMap<String, String> = entries.collect();
    let list: Vec<Entry> = sorted
        .into_iter()
        .map(|(code, name)| Entry { code, name })
        .collect();
    let by_code = list
        .iter()
        .enumerate()
        .map(|(i, e)| (e.code.clone(), i))
        .collect();
    (by_code, list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_hold_the_standard_values() {
        assert!(Lookup::Countries.contains("US") && Lookup::Countries.contains("CA"));
        assert!(!Lookup::Countries.contains("XX") && !Lookup::Countries.contains("us"));
        assert!(Lookup::Countries.entries().len() >= 249);
        assert!(Lookup::Languages.contains("en") && !Lookup::Languages.contains("xx"));
        assert!(Lookup::Locales.contains("en-us") && Lookup::Locales.contains("es-es"));
        assert!(Lookup::Locales.contains("en-gb") && !Lookup::Locales.contains("en-xx"));
        assert!(Lookup::TimeZones.contains("America/New_York"));
        assert!(!Lookup::TimeZones.contains("Mars/Olympus_Mons"));
        let codes: Vec<&str> = Lookup::Countries
            .entries()
            .iter()
            .map(|e| e.code.as_str())
            .collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(codes, sorted);
    }
}
