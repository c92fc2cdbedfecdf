//! Full-text search: which words of a record are indexed, and how text becomes tokens.
//!
//! Words are lowercased alphanumeric runs of two or more characters; a hyphenated or
//! apostrophized word is also indexed joined up, so "Jalal-Abad" is found by "jalalabad",
//! "Jalal-Abad" and "Abad".

use std::collections::BTreeSet;

use crate::model::{Agreement, Country, Facility, Incident, Location, Organization, Person};

/// Splits text into search tokens, in order, with repeats.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || is_joiner(c))) {
        let parts: Vec<String> = word
            .split(is_joiner)
            .filter(|part| !part.is_empty())
            .map(str::to_lowercase)
            .collect();
        if parts.len() > 1 {
            tokens.push(parts.concat());
        }
        tokens.extend(parts);
    }
    tokens.retain(|token| token.chars().count() >= 2);
    tokens
}

/// The distinct tokens of a query; every one must match.
pub fn query_tokens(text: &str) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || is_joiner(c))) {
        let parts: Vec<&str> = word
            .split(is_joiner)
            .filter(|part| !part.is_empty())
            .collect();
        // "Jalal-Abad" matches the parts; "Jalalabad" matches the joined form.
        tokens.extend(
            parts
                .iter()
                .map(|part| part.to_lowercase())
                .filter(|token| token.chars().count() >= 2),
        );
    }
    tokens
}

fn is_joiner(c: char) -> bool {
    matches!(
        c,
        '-' | '\'' | '\u{2019}' | '\u{2018}' | '\u{2010}' | '\u{2011}'
    )
}

/// The texts of a record that search looks at: names, aliases, codes, places, summary.
pub trait Searchable {
    fn search_texts(&self) -> Vec<&str>;

    fn search_tokens(&self) -> BTreeSet<String> {
        self.search_texts().into_iter().flat_map(tokenize).collect()
    }
}

fn with_aliases<'a>(name: &'a str, aliases: &'a [String], summary: &'a str) -> Vec<&'a str> {
    let mut texts = vec![name, summary];
    texts.extend(aliases.iter().map(String::as_str));
    texts
}

fn location_texts(location: &Option<Location>) -> Vec<&str> {
    let Some(location) = location else {
        return Vec::new();
    };
    let mut texts = vec![location.place.as_str()];
    texts.extend(location.aliases.iter().map(String::as_str));
    texts.extend(location.district.as_deref());
    texts.extend(location.province.as_deref());
    texts
}

impl Searchable for Country {
    fn search_texts(&self) -> Vec<&str> {
        let mut texts = with_aliases(&self.name, &self.aliases, &self.summary);
        texts.push(&self.code);
        texts
    }
}

impl Searchable for Organization {
    fn search_texts(&self) -> Vec<&str> {
        with_aliases(&self.name, &self.aliases, &self.summary)
    }
}

impl Searchable for Person {
    fn search_texts(&self) -> Vec<&str> {
        let mut texts = with_aliases(&self.name, &self.aliases, &self.summary);
        texts.extend(self.roles.iter().map(|role| role.title.as_str()));
        texts
    }
}

impl Searchable for Agreement {
    fn search_texts(&self) -> Vec<&str> {
        with_aliases(&self.title, &self.aliases, &self.summary)
    }
}

impl Searchable for Facility {
    fn search_texts(&self) -> Vec<&str> {
        let mut texts = with_aliases(&self.name, &self.aliases, &self.summary);
        texts.extend(location_texts(&self.location));
        texts
    }
}

impl Searchable for Incident {
    fn search_texts(&self) -> Vec<&str> {
        let mut texts = with_aliases(&self.title, &self.aliases, &self.summary);
        texts.extend(location_texts(&self.location));
        texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_words_are_indexed_whole_and_in_parts() {
        assert_eq!(tokenize("Jalal-Abad"), ["jalalabad", "jalal", "abad"]);
        assert_eq!(
            tokenize("Kyrgyzstan\u{2019}s Kant, 2003!"),
            ["kyrgyzstans", "kyrgyzstan", "kant", "2003"]
        );
        assert_eq!(
            tokenize("a Su-27 at Mailuu-Suu"),
            ["su27", "su", "27", "at", "mailuusuu", "mailuu", "suu"]
        );
    }

    #[test]
    fn queries_match_parts_or_joined_forms() {
        let index: BTreeSet<String> = tokenize("Jalal-Abad Region").into_iter().collect();
        for query in ["Jalal-Abad", "jalalabad", "JALAL abad", "region"] {
            assert!(query_tokens(query).is_subset(&index), "{query}");
        }
        assert!(!query_tokens("Jalal Osh").is_subset(&index));
        assert!(query_tokens(" - ' ").is_empty());
    }
}
