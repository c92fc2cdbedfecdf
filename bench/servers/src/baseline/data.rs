//! The seed in memory, as a reasonable in-memory server would hold it: the dataset's Vecs,
//! a map from id to position per kind, and each relationship the queries walk as a Vec
//! of positions per owner, sorted once in the list's order. Built at start; never
//! changed, never cached into.

use std::collections::HashMap;

use kyrgyz_relations::model::{Dataset, RecordKind};
use kyrgyz_relations::store::keys::{posting_suffix, SortKey};
use kyrgyz_relations::store::search::{query_tokens, Searchable};

pub struct Db {
    pub data: Dataset,
    pub ids: Ids,
    /// Countries by upper-case ISO code.
    pub country_by_code: HashMap<String, usize>,
    /// Every country, by name (the order of `countries`).
    pub countries_in_order: Vec<usize>,
    /// Every incident, oldest first (the order of `incidents`).
    pub incidents_in_order: Vec<usize>,
    /// Per country, the agreements it is a party to, oldest first.
    pub country_agreements: Vec<Vec<usize>>,
    /// Per agreement, the facilities it covers, by name.
    pub agreement_facilities: Vec<Vec<usize>>,
    /// Per facility, the incidents that happened there, oldest first.
    pub facility_incidents: Vec<Vec<usize>>,
    pub search: SearchIndex,
}

/// Position in the dataset's Vec by id, per kind.
#[derive(Default)]
pub struct Ids {
    pub countries: HashMap<String, usize>,
    pub organizations: HashMap<String, usize>,
    pub people: HashMap<String, usize>,
    pub agreements: HashMap<String, usize>,
    pub facilities: HashMap<String, usize>,
    pub incidents: HashMap<String, usize>,
}

/// An inverted index: every record in search order (kind, then id, as the real server
/// orders results), and per token the positions of the records that have it.
pub struct SearchIndex {
    pub entries: Vec<(RecordKind, usize)>,
    postings: HashMap<String, Vec<u32>>,
}

impl Db {
    pub fn new(data: Dataset) -> Db {
        let ids = Ids {
            countries: positions(&data.countries, |record| &record.id),
            organizations: positions(&data.organizations, |record| &record.id),
            people: positions(&data.people, |record| &record.id),
            agreements: positions(&data.agreements, |record| &record.id),
            facilities: positions(&data.facilities, |record| &record.id),
            incidents: positions(&data.incidents, |record| &record.id),
        };
        let country_by_code = data
            .countries
            .iter()
            .enumerate()
            .map(|(index, country)| (country.code.to_ascii_uppercase(), index))
            .collect();

        let mut country_agreements = vec![Vec::new(); data.countries.len()];
        let mut agreement_facilities = vec![Vec::new(); data.agreements.len()];
        for (index, agreement) in data.agreements.iter().enumerate() {
            for party in &agreement.parties {
                if let Some(&country) = ids.countries.get(party) {
                    country_agreements[country].push(index);
                }
            }
            agreement_facilities[index] = agreement
                .facilities
                .iter()
                .filter_map(|facility| ids.facilities.get(facility).copied())
                .collect();
        }
        let mut facility_incidents = vec![Vec::new(); data.facilities.len()];
        for (index, incident) in data.incidents.iter().enumerate() {
            for facility in &incident.facilities {
                if let Some(&facility) = ids.facilities.get(facility) {
                    facility_incidents[facility].push(index);
                }
            }
        }
        for list in &mut country_agreements {
            in_order(list, &data.agreements);
        }
        for list in &mut agreement_facilities {
            in_order(list, &data.facilities);
        }
        for list in &mut facility_incidents {
            in_order(list, &data.incidents);
        }
        let mut countries_in_order: Vec<usize> = (0..data.countries.len()).collect();
        in_order(&mut countries_in_order, &data.countries);
        let mut incidents_in_order: Vec<usize> = (0..data.incidents.len()).collect();
        in_order(&mut incidents_in_order, &data.incidents);
        let search = SearchIndex::new(&data);
        Db {
            data,
            ids,
            country_by_code,
            countries_in_order,
            incidents_in_order,
            country_agreements,
            agreement_facilities,
            facility_incidents,
            search,
        }
    }
}

impl SearchIndex {
    fn new(data: &Dataset) -> SearchIndex {
        let mut entries: Vec<(RecordKind, usize)> = Vec::with_capacity(data.record_count());
        let kinds = [
            (RecordKind::Country, data.countries.len()),
            (RecordKind::Organization, data.organizations.len()),
            (RecordKind::Person, data.people.len()),
            (RecordKind::Agreement, data.agreements.len()),
            (RecordKind::Facility, data.facilities.len()),
            (RecordKind::Incident, data.incidents.len()),
        ];
        for (kind, count) in kinds {
            entries.extend((0..count).map(|index| (kind, index)));
        }
        entries.sort_by_cached_key(|&(kind, index)| posting_suffix(kind, id_of(data, kind, index)));
        let mut postings: HashMap<String, Vec<u32>> = HashMap::new();
        for (position, &(kind, index)) in entries.iter().enumerate() {
            let position = u32::try_from(position).expect("fewer than 2^32 records in a seed");
            for token in tokens_of(data, kind, index) {
                postings.entry(token).or_default().push(position);
            }
        }
        SearchIndex { entries, postings }
    }

    /// The positions of the records that have every token of `text`, in search order;
    /// `None` when `text` has no token at all.
    pub fn find(&self, text: &str) -> Option<Vec<u32>> {
        let tokens = query_tokens(text);
        if tokens.is_empty() {
            return None;
        }
        let mut lists: Vec<&[u32]> = Vec::with_capacity(tokens.len());
        for token in &tokens {
            match self.postings.get(token) {
                Some(list) => lists.push(list),
                None => return Some(Vec::new()),
            }
        }
        lists.sort_by_key(|list| list.len());
        let (driver, others) = lists
            .split_first()
            .expect("one list per token, at least one");
        Some(
            driver
                .iter()
                .copied()
                .filter(|position| {
                    others
                        .iter()
                        .all(|list| list.binary_search(position).is_ok())
                })
                .collect(),
        )
    }
}

pub fn id_of(data: &Dataset, kind: RecordKind, index: usize) -> &str {
    match kind {
        RecordKind::Country => &data.countries[index].id,
        RecordKind::Organization => &data.organizations[index].id,
        RecordKind::Person => &data.people[index].id,
        RecordKind::Agreement => &data.agreements[index].id,
        RecordKind::Facility => &data.facilities[index].id,
        RecordKind::Incident => &data.incidents[index].id,
    }
}

fn tokens_of(data: &Dataset, kind: RecordKind, index: usize) -> std::collections::BTreeSet<String> {
    match kind {
        RecordKind::Country => data.countries[index].search_tokens(),
        RecordKind::Organization => data.organizations[index].search_tokens(),
        RecordKind::Person => data.people[index].search_tokens(),
        RecordKind::Agreement => data.agreements[index].search_tokens(),
        RecordKind::Facility => data.facilities[index].search_tokens(),
        RecordKind::Incident => data.incidents[index].search_tokens(),
    }
}

fn positions<R>(records: &[R], id: impl Fn(&R) -> &String) -> HashMap<String, usize> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| (id(record).clone(), index))
        .collect()
}

/// Sorts positions into `records` by the records' sort keys (the real server's list
/// order) and drops repeats, as the store's indexes hold each pair once.
fn in_order<R: SortKey>(list: &mut Vec<usize>, records: &[R]) {
    list.sort_by_cached_key(|&index| records[index].sort_key());
    list.dedup();
}
