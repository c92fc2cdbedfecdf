'use strict'

// The seed in memory: one small object per record, id maps, every list the benchmark's
// queries walk sorted once in the API's order, and an inverted index for search. Built
// once at start; nothing is computed ahead for a particular request.
//
// The orders, keys and rules are ports of the Rust server's:
// - dates: src/model/date.rs (PartialDate: parse, bounds, possibly overlaps / certainly
//   within);
// - list orders and cursors: src/store/keys.rs (name_sort_key, date_sort_key,
//   posting_suffix), cursors being the sort key in unpadded base64url
//   (src/schema/relay.rs);
// - search: src/store/search.rs (tokenize, query_tokens, the texts of each kind).

const fs = require('node:fs')
const path = require('node:path')

const FILES = [
  'countries.json',
  'organizations.json',
  'people.json',
  'agreements.json',
  'facilities.json',
  'incidents.json',
  'documents.json'
]

// ---------------------------------------------------------------------------------------
// Partial dates (src/model/date.rs)

// A day as a number that orders as the day does: year * 10000 + month * 100 + day.
function dayNumber (year, month, day) {
  return year * 10000 + month * 100 + day
}

function daysInMonth (year, month) {
  switch (month) {
    case 4: case 6: case 9: case 11: return 30
    case 2: return ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0) ? 29 : 28
    default: return 31
  }
}

// First and last month of an EDTF sub-year grouping.
const PART_OF_YEAR = {
  21: [3, 5],
  22: [6, 8],
  23: [9, 11],
  24: [12, 2],
  33: [1, 3],
  34: [4, 6],
  35: [7, 9],
  36: [10, 12],
  37: [1, 4],
  38: [5, 8],
  39: [9, 12],
  40: [1, 6],
  41: [7, 12]
}

const PRECISION = { DAY: 0, MONTH: 1, PART_OF_YEAR: 2, YEAR: 3, DECADE: 4 }

const ALL_DIGITS = /^[0-9]+$/

function digits (text, what) {
  if (!ALL_DIGITS.test(text)) throw new Error(`${what} \`${text}\` is not a number`)
  return parseInt(text, 10)
}

function parseYear (text) {
  if (text.length !== 4) throw new Error(`year \`${text}\` must have four digits`)
  return digits(text, 'year')
}

function twoDigits (text, what) {
  if (text.length !== 2) throw new Error(`${what} \`${text}\` must have two digits`)
  return digits(text, what)
}

function cal (year, month, day) {
  return { year, month, day }
}

// One date (not an interval): its first and last day and its precision.
function parseSingle (text) {
  const parts = text.split('-')
  if (parts.length === 1) {
    const year = parts[0]
    // Rust's `ends_with('X')` on a four-byte string.
    if (Buffer.byteLength(year) === 4 && year.endsWith('X')) {
      const decade = digits(year.slice(0, -1), 'decade') * 10
      return {
        earliest: cal(decade, 1, 1),
        latest: cal(decade + 9, 12, daysInMonth(decade + 9, 12)),
        precision: PRECISION.DECADE
      }
    }
    const y = parseYear(year)
    return { earliest: cal(y, 1, 1), latest: cal(y, 12, 31), precision: PRECISION.YEAR }
  }
  if (parts.length === 2) {
    const year = parseYear(parts[0])
    const code = twoDigits(parts[1], 'month')
    if (code >= 1 && code <= 12) {
      return {
        earliest: cal(year, code, 1),
        latest: cal(year, code, daysInMonth(year, code)),
        precision: PRECISION.MONTH
      }
    }
    const part = PART_OF_YEAR[code]
    if (part === undefined) {
      throw new Error(`\`${parts[1]}\` is neither a month (01-12) nor a part of a year (21-24, 33-41)`)
    }
    const [first, last] = part
    // Winter (24) runs from December into the next year.
    const lastYear = last < first ? year + 1 : year
    return {
      earliest: cal(year, first, 1),
      latest: cal(lastYear, last, daysInMonth(lastYear, last)),
      precision: PRECISION.PART_OF_YEAR
    }
  }
  if (parts.length === 3) {
    const year = parseYear(parts[0])
    const month = twoDigits(parts[1], 'month')
    if (month < 1 || month > 12) throw new Error(`month \`${month}\` is not 01-12`)
    const day = twoDigits(parts[2], 'day')
    if (day < 1 || day > daysInMonth(year, month)) {
      throw new Error(`day ${day} does not exist in ${year}-${month}`)
    }
    const date = cal(year, month, day)
    return { earliest: date, latest: date, precision: PRECISION.DAY }
  }
  throw new Error('expected YYYY, YYYX, YYYY-MM, YYYY-MM-DD or an interval A/B')
}

function compareCal (a, b) {
  return dayNumber(a.year, a.month, a.day) - dayNumber(b.year, b.month, b.day)
}

// A PartialDate: `{ text, earliest, latest }`, each bound a calendar day `{year, month,
// day}` or null for an open end. Throws with the real server's reason when invalid.
function parsePartialDate (text) {
  try {
    const slash = text.indexOf('/')
    if (slash >= 0) {
      const startText = text.slice(0, slash)
      const endText = text.slice(slash + 1)
      const start = startText === '..' ? null : parseSingle(startText)
      const end = endText === '..' ? null : parseSingle(endText)
      if (start === null && end === null) throw new Error('an interval needs at least one known end')
      const earliest = start === null ? null : start.earliest
      const latest = end === null ? null : end.latest
      if (earliest !== null && latest !== null && compareCal(earliest, latest) > 0) {
        throw new Error('the interval ends before it starts')
      }
      return { text, earliest, latest }
    }
    const single = parseSingle(text)
    return { text, earliest: single.earliest, latest: single.latest }
  } catch (error) {
    throw new TypeError(`invalid date \`${text}\`: ${error.message}`)
  }
}

// The day as a date sort key holds it (`keys::day_bytes`): the year clamped to 1..65535,
// as the big-endian u32 of [year high, year low, month, day].
function keyDay (date) {
  const year = Math.min(Math.max(date.year, 1), 0xffff)
  return ((year << 16) | (date.month << 8) | date.day) >>> 0
}

const OPEN_START = 0
const OPEN_END = 0xffffffff

// ---------------------------------------------------------------------------------------
// Byte order of UTF-8 strings

// Compares two strings as their UTF-8 bytes compare (code point order). JavaScript's `<`
// compares UTF-16 code units, which differs only between a surrogate and a unit at or
// above U+E000.
function compareUtf8 (a, b) {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000
      }
      return x - y
    }
  }
  return a.length - b.length
}

// ---------------------------------------------------------------------------------------
// Records

const SEPARATOR = '\u0000'

// Records ordered by name: the name lower-cased (Rust's `to_lowercase`), without NULs,
// then a NUL, then the id (`keys::name_sort_key`).
class Named {
  constructor (raw) {
    this.slug = raw.id
    this.name = raw.name
    this.summary = raw.summary
    this.aliases = raw.aliases || []
    this.sortName = raw.name.toLowerCase().split(SEPARATOR).join('')
    this.index = 0
  }

  sortKey () {
    return Buffer.from(this.sortName + SEPARATOR + this.slug, 'utf8')
  }
}

function compareNamed (a, b) {
  return compareUtf8(a.sortName, b.sortName) || compareUtf8(a.slug, b.slug)
}

class Country extends Named {
  constructor (raw) {
    super(raw)
    // The seed's codes are upper-cased at import (ASCII only).
    this.code = asciiUpper(raw.code)
  }
}
Country.prototype.typename = 'Country'
Country.prototype.tag = '1'

class Organization extends Named {
  constructor (raw) {
    super(raw)
    this.kind = raw.kind
  }
}
Organization.prototype.typename = 'Organization'
Organization.prototype.tag = '2'

class Person extends Named {
  constructor (raw) {
    super(raw)
    this.roleTitles = (raw.roles || []).map(role => role.title)
  }
}
Person.prototype.typename = 'Person'
Person.prototype.tag = '3'

class Facility extends Named {
  constructor (raw) {
    super(raw)
    this.kind = raw.kind
    this.location = raw.location || null
    this.agreements = null // set by the agreements that cover it
  }
}
Facility.prototype.typename = 'Facility'
Facility.prototype.tag = '5'

// Records ordered by date (`keys::date_sort_key`): dated before undated; by earliest day
// (an open start first), then latest day (an open end last), then id.
class Dated {
  constructor (raw, date) {
    this.slug = raw.id
    this.summary = raw.summary
    this.aliases = raw.aliases || []
    this.index = 0
    this.dated = date !== null
    // The bounds as calendar day numbers, for filters (null: open).
    this.from = date && date.earliest ? dayNumber(date.earliest.year, date.earliest.month, date.earliest.day) : null
    this.to = date && date.latest ? dayNumber(date.latest.year, date.latest.month, date.latest.day) : null
    // The bounds as the sort key holds them, for order.
    this.keyFrom = date && date.earliest ? keyDay(date.earliest) : OPEN_START
    this.keyTo = date && date.latest ? keyDay(date.latest) : OPEN_END
  }

  sortKey () {
    const id = Buffer.from(this.slug, 'utf8')
    if (!this.dated) return Buffer.concat([Buffer.from([1]), id])
    const head = Buffer.alloc(9)
    head[0] = 0
    head.writeUInt32BE(this.keyFrom, 1)
    head.writeUInt32BE(this.keyTo, 5)
    return Buffer.concat([head, id])
  }

  // A known start and a known end less than a year after it (`keys::short_date_key_days`).
  isShort () {
    if (!this.dated || this.keyFrom === OPEN_START || this.keyTo === OPEN_END) return false
    const year = this.keyFrom >>> 16
    if (year + 1 > 0xffff) return false
    const nextYear = (((year + 1) << 16) | (this.keyFrom & 0xffff)) >>> 0
    return this.keyTo < nextYear
  }
}

function compareDated (a, b) {
  if (a.dated !== b.dated) return a.dated ? -1 : 1
  if (a.dated) {
    if (a.keyFrom !== b.keyFrom) return a.keyFrom < b.keyFrom ? -1 : 1
    if (a.keyTo !== b.keyTo) return a.keyTo < b.keyTo ? -1 : 1
  }
  return compareUtf8(a.slug, b.slug)
}

function optionalDate (text) {
  return text === undefined || text === null ? null : parsePartialDate(text)
}

class Agreement extends Dated {
  constructor (raw) {
    const signed = optionalDate(raw.signed)
    // Agreements are ordered by `chronology`: signed, else in force from.
    super(raw, signed || optionalDate(raw.inForceFrom))
    this.title = raw.title
    this.kind = raw.kind
    this.status = raw.status
    this.signed = signed === null ? null : signed.text
    this.parties = raw.parties || []
    this.facilityIds = raw.facilities || []
    this.facilities = null
  }
}
Agreement.prototype.typename = 'Agreement'
Agreement.prototype.tag = '4'

class Incident extends Dated {
  constructor (raw) {
    const occurred = optionalDate(raw.occurred)
    super(raw, occurred)
    this.title = raw.title
    this.kind = raw.kind
    this.occurred = occurred === null ? null : occurred.text
    this.facilityIds = raw.facilities || []
    this.location = raw.location || null
  }
}
Incident.prototype.typename = 'Incident'
Incident.prototype.tag = '6'

function asciiUpper (text) {
  return text.replace(/[a-z]+/g, letters => letters.toUpperCase())
}

// ---------------------------------------------------------------------------------------
// Search (src/store/search.rs)

const NOT_WORD = /[^\p{Alphabetic}\p{N}\-'\u2018\u2019\u2010\u2011]+/u
const JOINER = /[-'\u2018\u2019\u2010\u2011]/
const ASCII_WORD = /^[A-Za-z0-9]*$/

// At least two characters (code points).
function longEnough (token) {
  if (token.length > 2) return true
  if (token.length < 2) return false
  const first = token.charCodeAt(0)
  return !(first >= 0xd800 && first <= 0xdbff)
}

// The search tokens of a text: lower-cased alphanumeric runs of two or more characters;
// a word joined by hyphens or apostrophes also joined up.
function tokenize (text, into) {
  for (const word of text.split(NOT_WORD)) {
    if (ASCII_WORD.test(word)) {
      if (word.length >= 2) into.add(word.toLowerCase())
      continue
    }
    const parts = []
    for (const part of word.split(JOINER)) {
      if (part.length > 0) parts.push(part.toLowerCase())
    }
    if (parts.length > 1) {
      const joined = parts.join('')
      if (longEnough(joined)) into.add(joined)
    }
    for (const part of parts) {
      if (longEnough(part)) into.add(part)
    }
  }
}

// The distinct tokens of a query (the parts of a joined word, not the joined form).
function queryTokens (text) {
  const tokens = new Set()
  for (const word of text.split(NOT_WORD)) {
    for (const part of word.split(JOINER)) {
      if (part.length === 0) continue
      const token = part.toLowerCase()
      if (longEnough(token)) tokens.add(token)
    }
  }
  return tokens
}

function locationTexts (location, texts) {
  if (location === null) return
  texts.push(location.place)
  if (location.aliases) texts.push(...location.aliases)
  if (location.district != null) texts.push(location.district)
  if (location.province != null) texts.push(location.province)
}

// The texts of a record that search looks at (`Searchable::search_texts`).
function searchTexts (record) {
  const texts = [record.name !== undefined ? record.name : record.title, record.summary, ...record.aliases]
  switch (record.typename) {
    case 'Country': texts.push(record.code); break
    case 'Person': texts.push(...record.roleTitles); break
    case 'Facility': case 'Incident': locationTexts(record.location, texts); break
  }
  return texts
}

// Every record in search order (kind, then id: `keys::posting_suffix`), and per token the
// positions of the records that have it, ascending.
class SearchIndex {
  constructor (kinds) {
    const entries = []
    for (const records of kinds) {
      const sorted = records.slice().sort((a, b) => compareUtf8(a.slug, b.slug))
      for (const record of sorted) entries.push(record)
    }
    const postings = new Map()
    const tokens = new Set()
    for (let position = 0; position < entries.length; position++) {
      tokens.clear()
      for (const text of searchTexts(entries[position])) tokenize(text, tokens)
      for (const token of tokens) {
        const list = postings.get(token)
        if (list === undefined) postings.set(token, [position])
        else list.push(position)
      }
    }
    this.entries = entries
    this.postings = new Map()
    for (const [token, list] of postings) this.postings.set(token, Int32Array.from(list))
  }

  // The records that have every token of `text`, in search order; null when `text` has
  // no token.
  find (text) {
    const tokens = queryTokens(text)
    if (tokens.size === 0) return null
    const lists = []
    for (const token of tokens) {
      const list = this.postings.get(token)
      if (list === undefined) return []
      lists.push(list)
    }
    lists.sort((a, b) => a.length - b.length)
    const driver = lists[0]
    const found = []
    outer:
    for (let i = 0; i < driver.length; i++) {
      const position = driver[i]
      for (let l = 1; l < lists.length; l++) {
        if (!contains(lists[l], position)) continue outer
      }
      found.push(this.entries[position])
    }
    return found
  }
}

function contains (sorted, value) {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const mid = (low + high) >>> 1
    const at = sorted[mid]
    if (at === value) return true
    if (at < value) low = mid + 1
    else high = mid
  }
  return false
}

// ---------------------------------------------------------------------------------------
// Incidents by date

// All incidents, oldest first, and what a date range needs to skip the ones it cannot
// match (as `Store::scan_dated` does): the dated incidents that are not short (an open
// start or end, or a span of a year or more), and by the sort key the position of any day.
class DatedIncidents {
  constructor (incidents) {
    this.list = incidents
    let dated = 0
    while (dated < incidents.length && incidents[dated].dated) dated++
    this.dated = dated
    this.unskippable = []
    for (let i = 0; i < dated; i++) {
      if (!incidents[i].isShort()) this.unskippable.push(i)
    }
  }

  // The first position of a dated incident whose key's first day is at or after `day`.
  firstFrom (day) {
    const list = this.list
    let low = 0
    let high = this.dated
    while (low < high) {
      const mid = (low + high) >>> 1
      if (list[mid].keyFrom < day) low = mid + 1
      else high = mid
    }
    return low
  }

  // The first position of a dated incident whose key's first day is after `day`.
  firstAfter (day) {
    const list = this.list
    let low = 0
    let high = this.dated
    while (low < high) {
      const mid = (low + high) >>> 1
      if (list[mid].keyFrom <= day) low = mid + 1
      else high = mid
    }
    return low
  }

  // The positions, in order, that a filter from `from` to `to` (calendar days, either
  // null) may match: the unskippable ones before the start of the short dates that may
  // reach `from`, then every dated one from there to the last that begins by `to`.
  candidates (from, to) {
    let start = 0
    if (from !== null) {
      const yearBefore = from.year <= 1 ? 0 : keyDay(cal(from.year - 1, from.month, from.day))
      start = this.firstFrom(yearBefore)
    }
    const end = to === null ? this.dated : this.firstAfter(keyDay(to))
    const before = []
    for (const position of this.unskippable) {
      if (position >= start) break
      before.push(position)
    }
    return { before, start, end }
  }
}

// Whether an incident's date matches a date filter (`DateFilter::matches`): undated never
// does; `from` and `to` are day numbers or null.
function dateMatches (record, from, to, certainly) {
  if (!record.dated) return false
  if (certainly) {
    const afterStart = from === null || (record.from !== null && record.from >= from)
    const beforeEnd = to === null || (record.to !== null && record.to <= to)
    return afterStart && beforeEnd
  }
  const startsBeforeEnd = to === null || record.from === null || record.from <= to
  const endsAfterStart = from === null || record.to === null || record.to >= from
  return startsBeforeEnd && endsAfterStart
}

// ---------------------------------------------------------------------------------------
// The store

function readSeed (dir) {
  const read = name => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'))
  const [countries, organizations, people, agreements, facilities, incidents] = FILES.slice(0, 6).map(read)
  return { countries, organizations, people, agreements, facilities, incidents }
}

function byId (records) {
  const map = new Map()
  for (const record of records) map.set(record.slug, record)
  return map
}

// Positions kept once each, in list order.
function inOrder (list, compare) {
  list.sort(compare)
  const kept = []
  for (const record of list) {
    if (kept.length === 0 || kept[kept.length - 1] !== record) kept.push(record)
  }
  return kept
}

class Db {
  constructor (seed) {
    this.countries = seed.countries.map(raw => new Country(raw))
    this.organizations = seed.organizations.map(raw => new Organization(raw))
    this.people = seed.people.map(raw => new Person(raw))
    this.agreements = seed.agreements.map(raw => new Agreement(raw))
    this.facilities = seed.facilities.map(raw => new Facility(raw))
    this.incidents = seed.incidents.map(raw => new Incident(raw))

    this.ids = {
      Country: byId(this.countries),
      Organization: byId(this.organizations),
      Person: byId(this.people),
      Agreement: byId(this.agreements),
      Facility: byId(this.facilities),
      Incident: byId(this.incidents)
    }
    this.countryByCode = new Map()
    for (const country of this.countries) this.countryByCode.set(country.code, country)

    // Per country the agreements it is a party to (oldest first); per agreement the
    // facilities it covers (by name); per facility the incidents there (oldest first).
    for (const country of this.countries) country.agreements = []
    for (const facility of this.facilities) facility.incidents = []
    for (const agreement of this.agreements) {
      for (const party of agreement.parties) {
        const country = this.ids.Country.get(party)
        if (country !== undefined) country.agreements.push(agreement)
      }
      const covered = []
      for (const id of agreement.facilityIds) {
        const facility = this.ids.Facility.get(id)
        if (facility !== undefined) covered.push(facility)
      }
      agreement.facilities = inOrder(covered, compareNamed)
    }
    for (const incident of this.incidents) {
      for (const id of incident.facilityIds) {
        const facility = this.ids.Facility.get(id)
        if (facility !== undefined) facility.incidents.push(incident)
      }
    }
    for (const country of this.countries) country.agreements = inOrder(country.agreements, compareDated)
    for (const facility of this.facilities) facility.incidents = inOrder(facility.incidents, compareDated)

    this.countriesInOrder = inOrder(this.countries.slice(), compareNamed)
    this.incidentsByDate = new DatedIncidents(inOrder(this.incidents.slice(), compareDated))
    this.search = new SearchIndex([
      this.countries,
      this.organizations,
      this.people,
      this.agreements,
      this.facilities,
      this.incidents
    ])
  }

  recordCount () {
    return this.countries.length + this.organizations.length + this.people.length +
      this.agreements.length + this.facilities.length + this.incidents.length
  }
}

function load (dir) {
  return new Db(readSeed(dir))
}

module.exports = {
  load,
  parsePartialDate,
  dayNumber,
  dateMatches,
  tokenize,
  queryTokens
}
