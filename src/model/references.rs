//! What each kind of record refers to, declared once: the seed checks that every
//! reference names a record (`seed`), and the import lists the linked ones both ways
//! (`store`'s link trees). Knows nothing of either.

use super::{
    Actor, Agreement, Country, Facility, Incident, Organization, Person, RecordKind, Speaker,
    Statement,
};

/// One field of a record that names another record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The field, as the seed spells it (`roles.organization`).
    pub field: &'static str,
    /// The kind of record it names.
    pub target: RecordKind,
    /// Whether the store lists the relationship both ways, as a link tree and its reverse
    /// (`country.incidents`, `incident.countries`). The others (a successor, an extended
    /// agreement, a parent facility, links between incidents, who made a statement) are
    /// read from the record that states them.
    pub linked: bool,
}

const fn linked(field: &'static str, target: RecordKind) -> Reference {
    Reference {
        field,
        target,
        linked: true,
    }
}

const fn stated(field: &'static str, target: RecordKind) -> Reference {
    Reference {
        field,
        target,
        linked: false,
    }
}

/// A record's references to other records, and its country code.
pub trait References {
    /// Calls `refer` with each reference the record states and the id it names, in field
    /// order: the seed reports dangling references in this order.
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str));

    /// The ISO 3166-1 alpha-2 code of a country, unique among countries; other records
    /// have none.
    fn country_code(&self) -> Option<&str> {
        None
    }
}

/// Who made each of a record's statements.
fn statement_references<'a>(
    statements: &'a [Statement],
    refer: &mut dyn FnMut(Reference, &'a str),
) {
    const COUNTRY: Reference = stated("statements.by.country", RecordKind::Country);
    const ORGANIZATION: Reference = stated("statements.by.organization", RecordKind::Organization);
    const PERSON: Reference = stated("statements.by.person", RecordKind::Person);
    for statement in statements {
        match &statement.by {
            Some(Speaker::Country(id)) => refer(COUNTRY, id),
            Some(Speaker::Organization(id)) => refer(ORGANIZATION, id),
            Some(Speaker::Person(id)) => refer(PERSON, id),
            None => {}
        }
    }
}

impl References for Country {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        statement_references(&self.statements, refer);
    }

    fn country_code(&self) -> Option<&str> {
        Some(&self.code)
    }
}

impl References for Organization {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        const COUNTRY: Reference = stated("country", RecordKind::Country);
        const SUCCEEDED_BY: Reference = stated("succeededBy", RecordKind::Organization);
        const MEMBERS: Reference = linked("members.country", RecordKind::Country);
        if let Some(country) = &self.country {
            refer(COUNTRY, country);
        }
        if let Some(successor) = &self.succeeded_by {
            refer(SUCCEEDED_BY, successor);
        }
        for member in &self.members {
            refer(MEMBERS, &member.country);
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Person {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        const COUNTRY: Reference = linked("country", RecordKind::Country);
        const ROLE_COUNTRY: Reference = linked("roles.country", RecordKind::Country);
        const ROLE_ORGANIZATION: Reference = linked("roles.organization", RecordKind::Organization);
        if let Some(country) = &self.country {
            refer(COUNTRY, country);
        }
        for role in &self.roles {
            if let Some(country) = &role.country {
                refer(ROLE_COUNTRY, country);
            }
            if let Some(organization) = &role.organization {
                refer(ROLE_ORGANIZATION, organization);
            }
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Agreement {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        const PARTIES: Reference = linked("parties", RecordKind::Country);
        const FACILITIES: Reference = linked("facilities", RecordKind::Facility);
        const EXTENDS: Reference = stated("extends", RecordKind::Agreement);
        for party in &self.parties {
            refer(PARTIES, party);
        }
        for facility in &self.facilities {
            refer(FACILITIES, facility);
        }
        if let Some(extended) = &self.extends {
            refer(EXTENDS, extended);
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Facility {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        const HOST_COUNTRY: Reference = linked("hostCountry", RecordKind::Country);
        const OPERATOR_COUNTRY: Reference = linked("operator.country", RecordKind::Country);
        const OPERATOR_ORGANIZATION: Reference =
            linked("operator.organization", RecordKind::Organization);
        const COUNTRIES: Reference = linked("countries", RecordKind::Country);
        const PART_OF: Reference = stated("partOf", RecordKind::Facility);
        refer(HOST_COUNTRY, &self.host_country);
        match &self.operator {
            Some(Actor::Country(country)) => refer(OPERATOR_COUNTRY, country),
            Some(Actor::Organization(organization)) => refer(OPERATOR_ORGANIZATION, organization),
            None => {}
        }
        for country in &self.countries {
            refer(COUNTRIES, country);
        }
        if let Some(parent) = &self.part_of {
            refer(PART_OF, parent);
        }
        statement_references(&self.statements, refer);
    }
}

impl References for Incident {
    fn references<'a>(&'a self, refer: &mut dyn FnMut(Reference, &'a str)) {
        const COUNTRIES: Reference = linked("countries", RecordKind::Country);
        const FACILITIES: Reference = linked("facilities", RecordKind::Facility);
        const ORGANIZATIONS: Reference = linked("organizations", RecordKind::Organization);
        const PEOPLE: Reference = linked("people", RecordKind::Person);
        const AGREEMENTS: Reference = linked("agreements", RecordKind::Agreement);
        const LINKS: Reference = stated("links.incident", RecordKind::Incident);
        const SIDES: Reference = stated("casualtiesBySide.country", RecordKind::Country);
        let lists = [
            (COUNTRIES, &self.countries),
            (FACILITIES, &self.facilities),
            (ORGANIZATIONS, &self.organizations),
            (PEOPLE, &self.people),
            (AGREEMENTS, &self.agreements),
        ];
        for (reference, ids) in lists {
            for id in ids {
                refer(reference, id);
            }
        }
        for link in &self.links {
            refer(LINKS, &link.incident);
        }
        for side in &self.casualties_by_side {
            refer(SIDES, &side.country);
        }
        statement_references(&self.statements, refer);
    }
}
