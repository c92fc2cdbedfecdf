//! Tree names and key layouts: record trees, order indexes, link indexes, search postings.
//!
//! Pure functions over bytes; the one place that knows how a key is laid out. Sort keys
//! order records the way lists present them and end with the record id, so they are unique
//! and serve as cursors.

use crate::model::{
    Agreement, CalendarDate, Country, Facility, Incident, Organization, PartialDate, Person,
    RecordKind,
};

/// Separates the owner id from the sort key in a link index key. Ids never contain it.
pub const SEPARATOR: u8 = 0;

/// The tree holding `meta` keys: storage format and the imported seed's hash.
pub const META_TREE: &str = "meta";
/// Counts of every list, keyed by the list's key prefix, so `totalCount` is one read.
pub const COUNTS_TREE: &str = "counts";
/// Country code (upper case) to country id.
pub const COUNTRY_CODES_TREE: &str = "country-codes";
/// Search postings: token, separator, kind tag, record id.
pub const SEARCH_TREE: &str = "search";

/// The tree of records of one kind, keyed by id.
pub fn record_tree(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Country => "records/countries",
        RecordKind::Organization => "records/organizations",
        RecordKind::Person => "records/people",
        RecordKind::Agreement => "records/agreements",
        RecordKind::Facility => "records/facilities",
        RecordKind::Incident => "records/incidents",
    }
}

/// The tree listing all records of one kind in their order: its keys are the records'
/// sort keys, which end with their ids (`id_in_sort_key`), and its values are empty.
pub fn order_tree(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Country => "order/countries",
        RecordKind::Organization => "order/organizations",
        RecordKind::Person => "order/people",
        RecordKind::Agreement => "order/agreements",
        RecordKind::Facility => "order/facilities",
        RecordKind::Incident => "order/incidents",
    }
}

/// One direction of a relationship between records; each has its own index tree whose
/// keys are `owner id, SEPARATOR, sort key of the linked record` and whose values are
/// empty: the sort key ends with the linked record's id (`id_in_sort_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Link {
    CountryAgreements,
    CountryFacilities,
    CountryIncidents,
    CountryOrganizations,
    CountryPeople,
    OrganizationCountries,
    OrganizationFacilities,
    OrganizationIncidents,
    OrganizationPeople,
    PersonCountries,
    PersonOrganizations,
    PersonIncidents,
    AgreementCountries,
    AgreementFacilities,
    AgreementIncidents,
    FacilityCountries,
    FacilityOrganizations,
    FacilityAgreements,
    FacilityIncidents,
    IncidentCountries,
    IncidentOrganizations,
    IncidentPeople,
    IncidentAgreements,
    IncidentFacilities,
}

impl Link {
    pub const ALL: [Link; 24] = [
        Link::CountryAgreements,
        Link::CountryFacilities,
        Link::CountryIncidents,
        Link::CountryOrganizations,
        Link::CountryPeople,
        Link::OrganizationCountries,
        Link::OrganizationFacilities,
        Link::OrganizationIncidents,
        Link::OrganizationPeople,
        Link::PersonCountries,
        Link::PersonOrganizations,
        Link::PersonIncidents,
        Link::AgreementCountries,
        Link::AgreementFacilities,
        Link::AgreementIncidents,
        Link::FacilityCountries,
        Link::FacilityOrganizations,
        Link::FacilityAgreements,
        Link::FacilityIncidents,
        Link::IncidentCountries,
        Link::IncidentOrganizations,
        Link::IncidentPeople,
        Link::IncidentAgreements,
        Link::IncidentFacilities,
    ];

    /// The kinds of record at both ends: `(owner, linked)`.
    pub fn ends(self) -> (RecordKind, RecordKind) {
        use RecordKind::*;
        match self {
            Link::CountryAgreements => (Country, Agreement),
            Link::CountryFacilities => (Country, Facility),
            Link::CountryIncidents => (Country, Incident),
            Link::CountryOrganizations => (Country, Organization),
            Link::CountryPeople => (Country, Person),
            Link::OrganizationCountries => (Organization, Country),
            Link::OrganizationFacilities => (Organization, Facility),
            Link::OrganizationIncidents => (Organization, Incident),
            Link::OrganizationPeople => (Organization, Person),
            Link::PersonCountries => (Person, Country),
            Link::PersonOrganizations => (Person, Organization),
            Link::PersonIncidents => (Person, Incident),
            Link::AgreementCountries => (Agreement, Country),
            Link::AgreementFacilities => (Agreement, Facility),
            Link::AgreementIncidents => (Agreement, Incident),
            Link::FacilityCountries => (Facility, Country),
            Link::FacilityOrganizations => (Facility, Organization),
            Link::FacilityAgreements => (Facility, Agreement),
            Link::FacilityIncidents => (Facility, Incident),
            Link::IncidentCountries => (Incident, Country),
            Link::IncidentOrganizations => (Incident, Organization),
            Link::IncidentPeople => (Incident, Person),
            Link::IncidentAgreements => (Incident, Agreement),
            Link::IncidentFacilities => (Incident, Facility),
        }
    }

    /// The link tree that lists what an `owner` record states it refers to, of kind
    /// `target` (`model::Reference::linked`), owner first: `None` when no tree does.
    pub fn stated(owner: RecordKind, target: RecordKind) -> Option<Link> {
        use RecordKind::*;
        Some(match (owner, target) {
            (Organization, Country) => Link::OrganizationCountries,
            (Person, Country) => Link::PersonCountries,
            (Person, Organization) => Link::PersonOrganizations,
            (Agreement, Country) => Link::AgreementCountries,
            (Agreement, Facility) => Link::AgreementFacilities,
            (Facility, Country) => Link::FacilityCountries,
            (Facility, Organization) => Link::FacilityOrganizations,
            (Incident, Country) => Link::IncidentCountries,
            (Incident, Organization) => Link::IncidentOrganizations,
            (Incident, Person) => Link::IncidentPeople,
            (Incident, Agreement) => Link::IncidentAgreements,
            (Incident, Facility) => Link::IncidentFacilities,
            _ => return None,
        })
    }

    /// The same relationship walked the other way.
    pub fn reverse(self) -> Link {
        let (owner, linked) = self.ends();
        Link::ALL
            .into_iter()
            .find(|link| link.ends() == (linked, owner))
            .expect("every link has a reverse: ALL lists both directions of each relationship")
    }

    pub fn tree(self) -> &'static str {
        // Named once: a page of a linked list asks for its tree's name.
        static TREES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
            Link::ALL
                .iter()
                .map(|link| {
                    let (owner, linked) = link.ends();
                    format!("link/{}/{}", owner.type_name(), linked.type_name())
                })
                .collect()
        });
        let at = Link::ALL
            .iter()
            .position(|link| *link == self)
            .expect("Link::ALL holds every link");
        &TREES[at]
    }
}

/// The key prefix of one owner's entries in a link tree.
pub fn link_prefix(owner: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(owner.len() + 1);
    prefix.extend_from_slice(owner.as_bytes());
    prefix.push(SEPARATOR);
    prefix
}

/// The first key after every key starting with `prefix`, or `None` if there is none.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The key of a country's code in `COUNTRY_CODES_TREE`.
pub fn country_code_key(code: &str) -> Vec<u8> {
    code.to_ascii_uppercase().into_bytes()
}

/// The key under which a list's length is kept in `COUNTS_TREE`.
pub fn count_key(tree: &str, owner: Option<&str>) -> Vec<u8> {
    let mut key = tree.as_bytes().to_vec();
    key.push(SEPARATOR);
    if let Some(owner) = owner {
        key.extend_from_slice(owner.as_bytes());
    }
    key
}

/// One byte per kind, so search postings sort by kind, then id.
pub fn kind_tag(kind: RecordKind) -> u8 {
    match kind {
        RecordKind::Country => b'1',
        RecordKind::Organization => b'2',
        RecordKind::Person => b'3',
        RecordKind::Agreement => b'4',
        RecordKind::Facility => b'5',
        RecordKind::Incident => b'6',
    }
}

pub fn kind_of_tag(tag: u8) -> Option<RecordKind> {
    RecordKind::ALL
        .into_iter()
        .find(|kind| kind_tag(*kind) == tag)
}

/// A search posting: `token, SEPARATOR, kind tag, id`. The part after the separator is
/// the posting's sort key and cursor.
pub fn posting_key(token: &str, kind: RecordKind, id: &str) -> Vec<u8> {
    let mut key = link_prefix(token);
    key.extend_from_slice(&posting_suffix(kind, id));
    key
}

pub fn posting_suffix(kind: RecordKind, id: &str) -> Vec<u8> {
    let mut suffix = vec![kind_tag(kind)];
    suffix.extend_from_slice(id.as_bytes());
    suffix
}

/// Records sort by name (case-insensitive), then id.
pub fn name_sort_key(name: &str, id: &str) -> Vec<u8> {
    let mut key = name.to_lowercase().into_bytes();
    key.retain(|byte| *byte != SEPARATOR);
    key.push(SEPARATOR);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Records sort chronologically: earliest bound (open start first), latest bound (open
/// end last), id; undated records after all dated ones.
pub fn date_sort_key(date: Option<&PartialDate>, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + id.len());
    match date {
        Some(date) => {
            key.push(0);
            key.extend_from_slice(&date.earliest().map_or([0; 4], day_bytes));
            key.extend_from_slice(&date.latest().map_or([u8::MAX; 4], day_bytes));
        }
        None => key.push(1),
    }
    key.extend_from_slice(id.as_bytes());
    key
}

/// Whether a record whose date sort key is `key` may have a date within `from..=to`:
/// false only when the key proves it cannot (undated, or known to end before `from` or
/// begin after `to`), so a list can skip it without reading the record. Holds for both
/// ways of matching a date range, which both need the date to touch the window.
pub fn date_key_may_match(
    key: &[u8],
    from: Option<CalendarDate>,
    to: Option<CalendarDate>,
) -> bool {
    let (Some(&0), Some(earliest), Some(latest)) = (key.first(), key.get(1..5), key.get(5..9))
    else {
        return false;
    };
    // [0; 4] is an unknown start and [0xFF; 4] an unknown end: neither proves anything.
    let begins_after = to.is_some_and(|to| earliest != [0; 4] && earliest > &day_bytes(to)[..]);
    let ends_before =
        from.is_some_and(|from| latest != [u8::MAX; 4] && latest < &day_bytes(from)[..]);
    !(begins_after || ends_before)
}

/// A key past every date sort key whose date begins on or before `to`: where a scan for
/// dates up to `to` can stop.
pub fn date_key_end(to: CalendarDate) -> Vec<u8> {
    let mut key = vec![0];
    key.extend_from_slice(&day_bytes(to));
    key.extend_from_slice(&[u8::MAX; 5]);
    key
}

/// The first and last day (as `day_number`s) of a short date's sort key: a known start
/// and a known end less than a year after it (within the same day of the next year), the
/// keys `short_dates_start` may skip. `None` for any other key.
pub fn short_date_key_days(key: &[u8]) -> Option<(u32, u32)> {
    let (Some(&0), Some(earliest), Some(latest)) = (key.first(), key.get(1..5), key.get(5..9))
    else {
        return None;
    };
    if earliest == [0; 4] || latest == [u8::MAX; 4] {
        return None;
    }
    let year = u16::from_be_bytes([earliest[0], earliest[1]]);
    let next_year = year.checked_add(1)?;
    let [high, low] = next_year.to_be_bytes();
    if latest >= &[high, low, earliest[2], earliest[3]][..] {
        return None;
    }
    let number = |bytes: &[u8]| u32::from_be_bytes(bytes.try_into().unwrap_or([0; 4]));
    Some((number(earliest), number(latest)))
}

/// A day as a number that sorts as the day does, as date sort keys hold it.
pub fn day_number(day: CalendarDate) -> u32 {
    u32::from_be_bytes(day_bytes(day))
}

/// Adds a short date that begins on day `begins` and ends on day `last` to `ends`, as
/// `short_dates_start` reads them; dates are added in key order.
pub fn add_short_end(ends: &mut Vec<(u32, u32)>, begins: u32, last: u32) {
    match ends.last_mut() {
        // Keys sort by their first day, so a day's dates come together.
        Some((day, latest)) if *day == begins => *latest = (*latest).max(last),
        _ => ends.push((begins, last)),
    }
}

/// Where a scan for short dates (`short_date_key_days`) that may end on or after `from` can
/// begin. `ends` holds, for each day a short date of the list begins on, in order, the
/// last day any of them ends on (`day_number`s): the scan begins on the first day within
/// the year before `from` whose short dates reach `from`, or on `from` when none does. A
/// short date begins less than a year before its end, so none that begins earlier can
/// reach `from`.
pub fn short_dates_start(from: CalendarDate, ends: &[(u32, u32)]) -> Vec<u8> {
    let from_day = day_number(from);
    let year_before = if from.year <= 1 {
        0
    } else {
        day_number(CalendarDate {
            year: from.year - 1,
            ..from
        })
    };
    let first = ends.partition_point(|&(begins, _)| begins < year_before);
    let start = ends[first..]
        .iter()
        .take_while(|&&(begins, _)| begins < from_day)
        .find(|&&(_, last)| last >= from_day)
        .map_or(from_day, |&(begins, _)| begins);
    let mut key = vec![0];
    key.extend_from_slice(&start.to_be_bytes());
    key
}

fn day_bytes(day: CalendarDate) -> [u8; 4] {
    // PartialDate years have four digits, so they fit a u16 and sort above 0.
    let [high, low] = (day.year.clamp(1, i32::from(u16::MAX)) as u16).to_be_bytes();
    [high, low, day.month, day.day]
}

/// How each kind of record is keyed and ordered. A sort key ends with the record's id
/// (which makes it unique), and the order and link trees store nothing else: a reader
/// takes the id from there (`id_in_sort_key`).
pub trait SortKey {
    fn sort_key(&self) -> Vec<u8>;
}

/// The id at the end of the sort key of a `kind` record, or `None` when the key cannot be
/// one (a damaged key). Kinds ordered by name end with `SEPARATOR, id` (names have every
/// `SEPARATOR` taken out, ids never hold one); kinds ordered by date with the id after a
/// fixed-length date part (`date_sort_key`), whose bytes may be anything.
pub fn id_in_sort_key(kind: RecordKind, sort_key: &[u8]) -> Option<&[u8]> {
    let id = match kind {
        RecordKind::Agreement | RecordKind::Incident => match sort_key.first()? {
            0 => sort_key.get(9..)?,
            1 => &sort_key[1..],
            _ => return None,
        },
        RecordKind::Country
        | RecordKind::Organization
        | RecordKind::Person
        | RecordKind::Facility => {
            let separator = sort_key.iter().rposition(|&byte| byte == SEPARATOR)?;
            &sort_key[separator + 1..]
        }
    };
    (!id.is_empty()).then_some(id)
}

impl SortKey for Country {
    fn sort_key(&self) -> Vec<u8> {
        name_sort_key(&self.name, &self.id)
    }
}

impl SortKey for Organization {
    fn sort_key(&self) -> Vec<u8> {
        name_sort_key(&self.name, &self.id)
    }
}

impl SortKey for Person {
    fn sort_key(&self) -> Vec<u8> {
        name_sort_key(&self.name, &self.id)
    }
}

impl SortKey for Facility {
    fn sort_key(&self) -> Vec<u8> {
        name_sort_key(&self.name, &self.id)
    }
}

impl SortKey for Agreement {
    fn sort_key(&self) -> Vec<u8> {
        date_sort_key(self.chronology(), &self.id)
    }
}

impl SortKey for Incident {
    fn sort_key(&self) -> Vec<u8> {
        date_sort_key(self.occurred.as_ref(), &self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first five bytes of the date sort key of dates beginning on `day`.
    fn date_sort_key_of_day(day: CalendarDate) -> Vec<u8> {
        let mut key = vec![0];
        key.extend_from_slice(&day_bytes(day));
        key
    }

    #[test]
    fn a_date_key_is_skipped_only_when_its_date_cannot_touch_the_window() {
        let day = |text: &str| date(text).earliest();
        let key = |text: Option<&str>| date_sort_key(text.map(date).as_ref(), "x");
        let (from, to) = (day("2010"), date("2012").latest());
        for (dated, touches) in [
            (Some("2011-05"), true),
            (Some("2009/2010-01"), true),
            (Some("2012-12-31"), true),
            (Some("2009"), false),
            (Some("2013-01"), false),
            (Some("195X/.."), true),
            (Some("../2011"), true),
            (Some("../2009"), false),
            (Some("2013/.."), false),
            (None, false),
        ] {
            assert_eq!(
                date_key_may_match(&key(dated), from, to),
                touches,
                "{dated:?}"
            );
        }
        assert!(date_key_may_match(&key(Some("1900")), None, to));
        assert!(date_key_may_match(&key(Some("2100")), from, None));
        // Every key of a date up to `to` sorts before the end key; later ones after it.
        let end = date_key_end(to.expect("bounded"));
        assert!(key(Some("2012-12-31")) < end && key(Some("2010/2030")) < end);
        assert!(key(Some("2013-01-01")) > end && key(None) > end);
    }

    fn date(text: &str) -> PartialDate {
        PartialDate::parse(text).expect("valid")
    }

    #[test]
    fn date_keys_follow_chronological_order() {
        let mut dates = vec![
            date("2012-07-06"),
            date("2012"),
            date("../2013-04"),
            date("2012-37"),
            date("195X/.."),
            date("2013-04/2013-05"),
        ];
        let mut by_key = dates.clone();
        by_key.sort_by_key(|d| date_sort_key(Some(d), "x"));
        dates.sort();
        assert_eq!(by_key, dates);
        assert!(date_sort_key(Some(&date("2999")), "z") < date_sort_key(None, "a"));
    }

    #[test]
    fn a_short_date_ending_on_or_after_a_day_begins_after_its_start_key() {
        let day = |text: &str| date(text).earliest().expect("a known day");
        for (text, short) in [
            ("2012", true),
            ("2012-07-06", true),
            ("2012-12/2013-01", true),
            ("2012-03/2013-03", false),
            ("2012/2013", false),
            ("195X", false),
            ("195X/..", false),
            ("../2013-04", false),
        ] {
            let key = date_sort_key(Some(&date(text)), "x");
            assert_eq!(short_date_key_days(&key).is_some(), short, "{text}");
            // The first date sort key of a known start: before it, unknown starts only.
            let known_start = [0, 0, 0, 0, 1];
            assert_eq!(
                key.as_slice() < &known_start[..],
                text.starts_with(".."),
                "{text}"
            );
        }
        assert_eq!(short_date_key_days(&date_sort_key(None, "x")), None);
        // A scan for dates reaching `from` begins on the first day of a short date that
        // reaches it, or on `from` when none begins before it: every short date that
        // reaches `from` sorts at or after that key, and nothing is read before it that a
        // short date's end does not call for.
        let candidates = [
            "2012",
            "2012-06",
            "2012-06-15",
            "2012-06/2012-08",
            "2012-12/2013-01",
            "2012-07/2013-06",
            "2013",
            "2012-37",
            "2013-02",
        ];
        for from in [
            "2013-01-01",
            "2013-06-15",
            "2012-02-29",
            "2000-12-31",
            "2012-08-20",
            "2012-12-31",
        ] {
            let from = day(from);
            for left_out in std::iter::once(None).chain(candidates.iter().copied().map(Some)) {
                let mut keys: Vec<Vec<u8>> = candidates
                    .iter()
                    .filter(|&&text| Some(text) != left_out)
                    .map(|text| date_sort_key(Some(&date(text)), "x"))
                    .filter(|key| short_date_key_days(key).is_some())
                    .collect();
                keys.sort();
                let mut ends: Vec<(u32, u32)> = Vec::new();
                for key in &keys {
                    let (begins, last) = short_date_key_days(key).expect("a short key");
                    add_short_end(&mut ends, begins, last);
                }
                let start = short_dates_start(from, &ends);
                let reaching = keys.iter().filter(|key| {
                    short_date_key_days(key).is_some_and(|(_, last)| last >= day_number(from))
                });
                let expected = reaching
                    .map(|key| key[..5].to_vec())
                    .filter(|begins| begins.as_slice() < &date_sort_key_of_day(from)[..])
                    .min()
                    .unwrap_or_else(|| date_sort_key_of_day(from));
                assert_eq!(start, expected, "from {from} without {left_out:?}");
            }
        }
        // In the year 1, a short date may begin any day before `from`.
        let first_day = CalendarDate {
            year: 1,
            month: 1,
            day: 1,
        };
        let in_march = CalendarDate {
            year: 1,
            month: 3,
            day: 1,
        };
        let ends = [(day_number(first_day), day_number(in_march))];
        assert_eq!(
            short_dates_start(in_march, &ends),
            date_sort_key_of_day(first_day)
        );
    }

    #[test]
    fn name_keys_ignore_case_and_end_with_the_id() {
        assert!(name_sort_key("kant", "b") < name_sort_key("Manas", "a"));
        assert!(name_sort_key("Kant", "a") < name_sort_key("kant", "b"));
        assert!(name_sort_key("Kant", "z") < name_sort_key("Kanta", "a"));
    }

    #[test]
    fn prefix_end_is_the_first_key_after_the_prefix() {
        assert_eq!(prefix_end(b"ab\0"), Some(b"ab\x01".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn every_link_has_a_distinct_tree_and_a_reverse() {
        let trees: std::collections::HashSet<&str> = Link::ALL.iter().map(|l| l.tree()).collect();
        assert_eq!(trees.len(), Link::ALL.len());
        for link in Link::ALL {
            assert_eq!(link.reverse().reverse(), link);
            assert_ne!(link.reverse(), link);
        }
    }

    #[test]
    fn each_relationship_is_stated_one_way() {
        let mut stated = Vec::new();
        for owner in RecordKind::ALL {
            for target in RecordKind::ALL {
                if let Some(link) = Link::stated(owner, target) {
                    assert_eq!(link.ends(), (owner, target));
                    assert_eq!(Link::stated(target, owner), None, "{link:?}");
                    stated.push(link);
                }
            }
        }
        assert_eq!(stated.len() * 2, Link::ALL.len());
    }

    #[test]
    fn kind_tags_round_trip() {
        for kind in RecordKind::ALL {
            assert_eq!(kind_of_tag(kind_tag(kind)), Some(kind));
        }
    }

    #[test]
    fn a_sort_key_gives_back_its_id_and_a_damaged_one_none() {
        // Dates whose bytes hold SEPARATOR, an undated record, a name holding SEPARATOR.
        let dated = date_sort_key(Some(&date("../2013-04")), "a-1");
        assert!(dated[1..9].contains(&SEPARATOR));
        assert_eq!(
            id_in_sort_key(RecordKind::Incident, &dated),
            Some(&b"a-1"[..])
        );
        let undated = date_sort_key(None, "b");
        assert_eq!(
            id_in_sort_key(RecordKind::Agreement, &undated),
            Some(&b"b"[..])
        );
        let named = name_sort_key("Nul\0Name", "c-2");
        assert_eq!(
            id_in_sort_key(RecordKind::Person, &named),
            Some(&b"c-2"[..])
        );
        let agreement = Agreement::bare("d-3");
        assert_eq!(
            id_in_sort_key(RecordKind::Agreement, &agreement.sort_key()),
            Some(&b"d-3"[..])
        );

        for (kind, damaged) in [
            (RecordKind::Incident, &b""[..]),
            (RecordKind::Incident, &dated[..9]),
            (RecordKind::Incident, &dated[..5]),
            (RecordKind::Incident, &b"\x01"[..]),
            (RecordKind::Incident, &b"\x02id"[..]),
            (RecordKind::Country, &b""[..]),
            (RecordKind::Country, &b"no separator"[..]),
            (RecordKind::Country, &b"name\0"[..]),
        ] {
            assert_eq!(id_in_sort_key(kind, damaged), None, "{kind:?} {damaged:?}");
        }
    }
}
