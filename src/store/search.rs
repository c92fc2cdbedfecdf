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
    Tokenizer::default().tokens(text, &mut |token| tokens.push(token.to_owned()));
    tokens
}

/// Splits text into search tokens (lowercased alphanumeric runs of two or more
/// characters, a hyphenated word also joined up, in order, with repeats), into buffers
/// it reuses: no allocation per token for ASCII text. The import keeps one for every
/// record it reads.
#[derive(Default)]
pub(super) struct Tokenizer {
    /// The word's parts, lowercased, end to end: the joined token.
    joined: String,
    ends: Vec<usize>,
}

impl Tokenizer {
    pub(super) fn tokens(&mut self, text: &str, token: &mut impl FnMut(&str)) {
        let long_enough = |token: &str| token.chars().nth(1).is_some();
        for word in text.split(|c: char| !(c.is_alphanumeric() || is_joiner(c))) {
            // Most words: ASCII, one part, so the token is the word, lowercased (a word
            // shorter than two letters, or empty between two separators, is none).
            if word.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
                if word.len() < 2 {
                    continue;
                }
                if word.bytes().any(|byte| byte.is_ascii_uppercase()) {
                    self.joined.clear();
                    self.joined.push_str(word);
                    self.joined.make_ascii_lowercase();
                    token(&self.joined);
                } else {
                    token(word);
                }
                continue;
            }
            self.joined.clear();
            self.ends.clear();
            for part in word.split(is_joiner).filter(|part| !part.is_empty()) {
                if part.is_ascii() {
                    let start = self.joined.len();
                    self.joined.push_str(part);
                    self.joined[start..].make_ascii_lowercase();
                } else {
                    // `to_lowercase` of the part alone (a final sigma depends on where
                    // the part ends).
                    self.joined.push_str(&part.to_lowercase());
                }
                self.ends.push(self.joined.len());
            }
            if self.ends.len() > 1 && long_enough(&self.joined) {
                token(&self.joined);
            }
            let mut start = 0;
            for &end in &self.ends {
                let part = &self.joined[start..end];
                if long_enough(part) {
                    token(part);
                }
                start = end;
            }
        }
    }
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

    /// The rules written plainly, one `String` per part: what `Tokenizer`'s buffers and
    /// ASCII fast path must reproduce.
    fn tokenize_plainly(text: &str) -> Vec<String> {
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

    #[test]
    fn the_tokenizer_makes_the_tokens_the_plain_rules_make() {
        let texts = [
            "Jalal-Abad",
            "Kyrgyzstan\u{2019}s Kant, 2003!",
            "a Su-27 at Mailuu-Suu",
            "ΣΟΦΟΣ-ΣΑΣ Σ-Σ İstanbul-İzmir ĞÜŞ",
            "--x--y-- 'a' b-c-d x‐y‑z ÀÉÎ-õü 1-2 ab- -ab a",
            "Ǆemal ǅ ß-SS ﬁne-ﬂow Ⅻ-Ⅳ ٣٤-٥ 中文-字 e\u{301}-x",
            "Synthetic INCIDENT number 0 x9 Q 42 mIxEd",
            "",
            "   ",
        ];
        let mut tokenizer = Tokenizer::default();
        for text in texts {
            let mut made = Vec::new();
            tokenizer.tokens(text, &mut |token| made.push(token.to_owned()));
            assert_eq!(made, tokenize_plainly(text), "{text:?}");
            assert_eq!(tokenize(text), made, "{text:?}");
        }
    }

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
