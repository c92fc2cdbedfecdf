//! Synthetic seeds of any size, for benchmarks and scale tests (`kyrgyz-relations
//! generate`). The output is a seed directory like `seed/`, valid for `check`, and the
//! same bytes for the same scale and seed number.
//!
//! Records are written one at a time, so generating a million incidents needs no more
//! memory than one record. Fan-out is skewed the way the real data is: a few countries
//! host most facilities and take part in most incidents, most incidents happen at one
//! place. Agreements cover six to fifteen facilities, favouring the busy ones: more than
//! the real seed's one to five, so that the benchmark's nested pages (ten agreements,
//! ten facilities each, ten incidents each) are full at scale.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// How many records of each kind to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub countries: u64,
    pub organizations: u64,
    pub people: u64,
    pub agreements: u64,
    pub facilities: u64,
    pub incidents: u64,
}

impl Scale {
    /// The scale for `incidents` incidents: a tenth as many agreements, a fifth as many
    /// facilities, a hundredth as many people, and countries growing from 12 (the real
    /// seed) to 250 (about every state there is) at a million incidents.
    pub fn for_incidents(incidents: u64) -> Scale {
        let countries = (incidents / 4_000).clamp(12, 250);
        Scale {
            countries,
            organizations: (countries / 4).max(4),
            people: (incidents / 100).max(10),
            agreements: (incidents / 10).max(10),
            facilities: (incidents / 5).max(10),
            incidents,
        }
    }

    pub fn records(&self) -> u64 {
        self.countries
            + self.organizations
            + self.people
            + self.agreements
            + self.facilities
            + self.incidents
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{path} already exists; generate into an empty directory")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a scale needs at least one country and one incident")]
    EmptyScale,
}

/// Writes the seed files for `scale` into `dir` (created if missing), refusing to
/// overwrite any: the six files of records and `documents.json`, the one synthetic
/// document every record cites. `seed` picks the pseudo-random sequence.
pub fn generate(dir: &Path, scale: &Scale, seed: u64) -> Result<(), GenerateError> {
    if scale.countries == 0 || scale.incidents == 0 {
        return Err(GenerateError::EmptyScale);
    }
    std::fs::create_dir_all(dir).map_err(|source| GenerateError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for name in crate::seed::FILES {
        let path = dir.join(name);
        if path.exists() {
            return Err(GenerateError::Exists { path });
        }
    }
    let mut generator = Generator {
        scale: *scale,
        random: SplitMix64(seed),
    };
    write_file(dir, "countries.json", scale.countries, |i| {
        generator.country(i)
    })?;
    write_file(dir, "organizations.json", scale.organizations, |i| {
        generator.organization(i)
    })?;
    write_file(dir, "people.json", scale.people, |i| generator.person(i))?;
    write_file(dir, "agreements.json", scale.agreements, |i| {
        generator.agreement(i)
    })?;
    write_file(dir, "facilities.json", scale.facilities, |i| {
        generator.facility(i)
    })?;
    write_file(dir, "incidents.json", scale.incidents, |i| {
        generator.incident(i)
    })?;
    write_file(dir, "documents.json", 1, |_| {
        json!({
            "id": SYNTHETIC_DOCUMENT,
            "title": "A synthetic source document",
            "period": "1991/2013",
            "asOf": "2013-39",
            "summary": "The document every record of a generated seed cites.",
            "sections": (0..20).map(|n| format!("Section {n}")).collect::<Vec<_>>(),
        })
    })
}

/// The id of the one document of a generated seed.
const SYNTHETIC_DOCUMENT: &str = "synthetic";

/// Every this many incidents, one is linked to the next (FOLLOWED_BY, and FOLLOWS back),
/// so the seed has links both ways for the reader to check.
const LINK_EVERY: u64 = 50;

/// Writes `count` records as one JSON array, one record a line.
fn write_file(
    dir: &Path,
    name: &str,
    count: u64,
    mut record: impl FnMut(u64) -> Value,
) -> Result<(), GenerateError> {
    let path = dir.join(name);
    let failed = |source: std::io::Error| GenerateError::Io {
        path: path.clone(),
        source,
    };
    let mut out = BufWriter::new(File::create(&path).map_err(failed)?);
    out.write_all(b"[\n").map_err(failed)?;
    for index in 0..count {
        if index > 0 {
            out.write_all(b",\n").map_err(failed)?;
        }
        serde_json::to_writer(&mut out, &record(index)).map_err(|error| failed(error.into()))?;
    }
    out.write_all(b"\n]\n").map_err(failed)?;
    out.into_inner()
        .map_err(|error| failed(error.into_error()))?
        .sync_all()
        .map_err(failed)
}

const ORGANIZATION_KINDS: [&str; 5] = [
    "INTERGOVERNMENTAL",
    "ECONOMIC_UNION",
    "MILITARY_ALLIANCE",
    "GOVERNMENT_AGENCY",
    "NGO",
];
const AGREEMENT_KINDS: [&str; 8] = [
    "BASING",
    "BORDER_DELIMITATION",
    "BORDER_COMMISSION",
    "SECURITY_COOPERATION",
    "DEBT_SETTLEMENT",
    "ENERGY_SUPPLY",
    "ECONOMIC_ASSISTANCE",
    "ACCESSION",
];
const AGREEMENT_STATUSES: [&str; 5] = ["AGREED", "IN_FORCE", "EXPIRED", "TERMINATED", "PLANNED"];
const FACILITY_KINDS: [&str; 8] = [
    "AIR_BASE",
    "TEST_RANGE",
    "COMMUNICATIONS_STATION",
    "BORDER_SECTOR",
    "ENCLAVE",
    "BORDER_GUARD_POST",
    "OFFICE",
    "HYDROPOWER_PROJECT",
];
const INCIDENT_KINDS: [&str; 10] = [
    "BORDER_CLASH",
    "ARMED_INCURSION",
    "RIOT",
    "SUPPLY_CUTOFF",
    "DISPUTE",
    "STATEMENT",
    "DEPLOYMENT",
    "MILITARY_EXERCISE",
    "OFFICIAL_VISIT",
    "POLICY_DECISION",
];
const CERTAINTIES: [&str; 4] = ["CONFIRMED", "CONFIRMED", "REPORTED", "ALLEGED"];

struct Generator {
    scale: Scale,
    random: SplitMix64,
}

impl Generator {
    fn country(&mut self, index: u64) -> Value {
        // Two letters from the index: AA, AB, ... (676 codes; the scale stops at 250).
        let letter = |n: u64| char::from(b'A' + (n % 26) as u8);
        let code: String = [letter(index / 26), letter(index)].iter().collect();
        json!({
            "id": country_id(index),
            "code": code,
            "name": format!("Country {index}"),
            "aliases": [format!("State {index}")],
            "summary": format!("Synthetic country number {index}."),
            "sources": self.sources(),
        })
    }

    fn organization(&mut self, index: u64) -> Value {
        let members: Vec<Value> = (0..self.random.below(5) + 2)
            .map(|_| {
                json!({
                    "country": country_id(self.skewed(self.scale.countries)),
                    "role": "MEMBER",
                    "since": self.date(),
                })
            })
            .collect::<Vec<_>>();
        json!({
            "id": format!("organization-{index}"),
            "name": format!("Organization {index}"),
            "kind": self.pick(&ORGANIZATION_KINDS),
            "country": null,
            "founded": self.year(),
            "succeededBy": null,
            "members": unique_by_country(members),
            "summary": format!("Synthetic organization number {index}."),
            "sources": self.sources(),
        })
    }

    fn person(&mut self, index: u64) -> Value {
        let country = country_id(self.skewed(self.scale.countries));
        json!({
            "id": format!("person-{index}"),
            "name": format!("Person {index}"),
            "country": country,
            "roles": [{
                "title": "Minister",
                "country": country,
                "organization": null,
                "during": self.date(),
            }],
            "summary": format!("Synthetic person number {index}."),
            "sources": self.sources(),
        })
    }

    fn agreement(&mut self, index: u64) -> Value {
        let first = self.skewed(self.scale.countries);
        let mut second = self.random.below(self.scale.countries);
        if second == first {
            second = (first + 1) % self.scale.countries;
        }
        let parties = if first == second {
            vec![country_id(first)]
        } else {
            vec![country_id(first), country_id(second)]
        };
        // Six to fifteen facilities, the busy ones more often: enough that a page of ten
        // facilities under an agreement is full (the benchmark's nested query (c)).
        let facilities: Vec<String> = (0..6 + self.random.below(10))
            .map(|_| facility_id(self.skewed(self.scale.facilities)))
            .collect();
        let signed = 1991 + self.random.below(34);
        json!({
            "id": format!("agreement-{index}"),
            "title": format!("Agreement {index}"),
            "kind": self.pick(&AGREEMENT_KINDS),
            "status": self.pick(&AGREEMENT_STATUSES),
            "certainty": self.pick(&CERTAINTIES),
            "parties": parties,
            "facilities": dedup(facilities),
            "signed": signed.to_string(),
            "inForceFrom": null,
            "expires": (signed + 1 + self.random.below(20)).to_string(),
            "ended": null,
            "termYears": null,
            "debt": null,
            "debtWriteOffFraction": null,
            "extends": null,
            "summary": format!("Synthetic agreement number {index}."),
            "sources": self.sources(),
        })
    }

    fn facility(&mut self, index: u64) -> Value {
        let host = self.skewed(self.scale.countries);
        let operator = self.skewed(self.scale.countries);
        json!({
            "id": facility_id(index),
            "name": format!("Facility {index}"),
            "kind": self.pick(&FACILITY_KINDS),
            "hostCountry": country_id(host),
            "operator": { "country": country_id(operator) },
            "countries": [],
            "partOf": null,
            "location": { "place": format!("Place {}", self.random.below(10_000)) },
            "opened": self.date(),
            "closed": null,
            "personnel": self.quantity(),
            "aircraftSquadrons": null,
            "agreedLengthKm": null,
            "disputedLengthKm": null,
            "disputedSegments": null,
            "deadlockedSegments": null,
            "summary": format!("Synthetic facility number {index}."),
            "sources": self.sources(),
        })
    }

    fn incident(&mut self, index: u64) -> Value {
        let countries: Vec<String> = (0..self.random.below(3) + 1)
            .map(|_| country_id(self.skewed(self.scale.countries)))
            .collect();
        // Most incidents happen at one place; some at none, a few at two.
        let places = match self.random.below(10) {
            0 | 1 => 0,
            9 => 2,
            _ => 1,
        };
        let facilities: Vec<String> = (0..places)
            .map(|_| facility_id(self.skewed(self.scale.facilities)))
            .collect();
        let agreements: Vec<String> = if self.random.below(10) == 0 {
            vec![format!(
                "agreement-{}",
                self.random.below(self.scale.agreements)
            )]
        } else {
            vec![]
        };
        json!({
            "id": format!("incident-{index}"),
            "title": format!("Incident {index}"),
            "kind": self.pick(&INCIDENT_KINDS),
            "occurred": self.date(),
            "certainty": self.pick(&CERTAINTIES),
            "countries": dedup(countries),
            "facilities": dedup(facilities),
            "organizations": [],
            "people": [],
            "agreements": agreements,
            "location": null,
            "killed": self.quantity(),
            "injured": self.quantity(),
            "casualties": null,
            "participants": null,
            "vehiclesDamaged": null,
            "links": self.links(index),
            "summary": format!("Synthetic incident number {index}."),
            "sources": self.sources(),
        })
    }

    /// Incident `index`'s links: to the next incident from every `LINK_EVERY`th one, and
    /// back from that next one. Drawn from nothing random, so the rest of the sequence is
    /// as it was.
    fn links(&self, index: u64) -> Value {
        let incidents = self.scale.incidents;
        if index.is_multiple_of(LINK_EVERY) && index + 1 < incidents {
            json!([{"kind": "FOLLOWED_BY", "incident": format!("incident-{}", index + 1)}])
        } else if index % LINK_EVERY == 1 {
            json!([{"kind": "FOLLOWS", "incident": format!("incident-{}", index - 1)}])
        } else {
            json!([])
        }
    }

    /// A record's source: the synthetic document, one of its sections and paragraphs.
    fn sources(&mut self) -> Value {
        json!([{
            "document": SYNTHETIC_DOCUMENT,
            "section": format!("Section {}", self.random.below(20)),
            "paragraph": self.random.below(30) + 1,
        }])
    }

    /// An index below `bound`, favouring small ones (the square of a uniform draw): the
    /// first tenth of countries gets about a third of the references.
    fn skewed(&mut self, bound: u64) -> u64 {
        let uniform = self.random.unit();
        ((uniform * uniform * bound as f64) as u64).min(bound.saturating_sub(1))
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.random.below(choices.len() as u64) as usize]
    }

    fn year(&mut self) -> String {
        (1991 + self.random.below(34)).to_string()
    }

    /// A date at the precisions the real seed uses: year, month, day, part of a year, or
    /// a span of months; one in ten unknown.
    fn date(&mut self) -> Value {
        let year = 1991 + self.random.below(34);
        let month = self.random.below(12) + 1;
        match self.random.below(10) {
            0 => Value::Null,
            1 | 2 => json!(year.to_string()),
            3..=5 => json!(format!("{year}-{month:02}")),
            6 | 7 => json!(format!(
                "{year}-{month:02}-{:02}",
                self.random.below(28) + 1
            )),
            8 => json!(format!("{year}-{}", 37 + self.random.below(3))),
            _ => json!(format!(
                "{year}-{month:02}/{year}-{:02}",
                (month + 1).min(12)
            )),
        }
    }

    /// Mostly no figure; else an exact count or a vague range.
    fn quantity(&mut self) -> Value {
        match self.random.below(10) {
            0..=5 => Value::Null,
            6..=8 => json!({ "exact": self.random.below(50) }),
            _ => json!({ "low": 10, "high": 99, "approximate": true }),
        }
    }
}

fn country_id(index: u64) -> String {
    format!("country-{index}")
}

fn facility_id(index: u64) -> String {
    format!("facility-{index}")
}

fn dedup(mut ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids
}

fn unique_by_country(mut members: Vec<Value>) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    members.retain(|member| seen.insert(member["country"].to_string()));
    members
}

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and the same sequence on every
/// platform, which is all a deterministic generator needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next() % bound
        }
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_incidents_is_the_scale_issue_four_names() {
        let scale = Scale::for_incidents(1_000_000);
        assert_eq!(
            (
                scale.countries,
                scale.agreements,
                scale.facilities,
                scale.incidents
            ),
            (250, 100_000, 200_000, 1_000_000)
        );
        assert_eq!(Scale::for_incidents(1).countries, 12);
    }

    #[test]
    fn skewed_draws_favour_small_indexes_and_stay_in_bounds() {
        let mut generator = Generator {
            scale: Scale::for_incidents(1000),
            random: SplitMix64(7),
        };
        let draws: Vec<u64> = (0..10_000).map(|_| generator.skewed(100)).collect();
        assert!(draws.iter().all(|&draw| draw < 100));
        let first_tenth = draws.iter().filter(|&&draw| draw < 10).count();
        assert!(
            (2_500..4_000).contains(&first_tenth),
            "{first_tenth} of 10,000 draws in the first tenth"
        );
    }
}
