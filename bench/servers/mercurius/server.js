'use strict'

// A real-peer reference server for the load benchmark: the published schema
// (schema.graphql at the repository's root) over the seed held in memory, served by
// mercurius on fastify with graphql-jit (each query compiled after its first use).
//
//   node bench/servers/mercurius/server.js [--seed-dir DIR] --listen 127.0.0.1:PORT
//
// Without --seed-dir it serves the repository's own seed/. It resolves the types, fields
// and arguments that bench/queries use, answering them as the real server does (ids,
// cursors, list orders, date filters, search); see README.md.

const fs = require('node:fs')
const path = require('node:path')
const Fastify = require('fastify')
const mercurius = require('mercurius')
const { GraphQLError } = require('graphql')

const data = require('./data')

const DEFAULT_PAGE_SIZE = 20
const MAX_PAGE_SIZE = 100
const KINDS = new Set(['Country', 'Organization', 'Person', 'Agreement', 'Facility', 'Incident'])

function parseArgs (argv) {
  const args = { seedDir: null, listen: '127.0.0.1:8000' }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`)
      return argv[++i]
    }
    if (arg === '--seed-dir') args.seedDir = value()
    else if (arg.startsWith('--seed-dir=')) args.seedDir = arg.slice('--seed-dir='.length)
    else if (arg === '--listen') args.listen = value()
    else if (arg.startsWith('--listen=')) args.listen = arg.slice('--listen='.length)
    else if (arg === '--help' || arg === '-h') usage(null)
    else usage(`unknown argument ${arg}`)
  }
  const colon = args.listen.lastIndexOf(':')
  const port = Number(args.listen.slice(colon + 1))
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    usage(`--listen takes HOST:PORT, got ${args.listen}`)
  }
  args.host = args.listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
  args.port = port
  return args
}

function usage (problem) {
  const text = 'usage: node server.js [--seed-dir DIR] --listen HOST:PORT'
  if (problem === null) {
    console.log(text)
    process.exit(0)
  }
  console.error(`${problem}\n${text}`)
  process.exit(2)
}

// ---------------------------------------------------------------------------------------
// Errors, ids and cursors, as the real server makes them

function badInput (message) {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } })
}

// `schema::global_id`: "Type:slug" in unpadded base64url.
function globalId (record) {
  return Buffer.from(`${record.typename}:${record.slug}`, 'utf8').toString('base64url')
}

const BASE64URL = /^[A-Za-z0-9_-]*$/
const UTF8 = new TextDecoder('utf-8', { fatal: true })

// `schema::parse_global_id`: the kind and slug of a global id, or a user error.
function parseGlobalId (id) {
  const invalid = () => badInput(`\`${id}\` is not a global id of this API`)
  if (!BASE64URL.test(id) || id.length % 4 === 1) throw invalid()
  let text
  try {
    text = UTF8.decode(Buffer.from(id, 'base64url'))
  } catch {
    throw invalid()
  }
  const colon = text.indexOf(':')
  if (colon < 0) throw invalid()
  const kind = text.slice(0, colon)
  const slug = text.slice(colon + 1)
  if (!KINDS.has(kind) || slug.length === 0) throw invalid()
  return { kind, slug }
}

// A list item's cursor is its sort key (a search result's, its kind tag and id).
function cursor (record) {
  return record.sortKey().toString('base64url')
}

function searchCursor (record) {
  return Buffer.from(record.tag + record.slug, 'utf8').toString('base64url')
}

// ---------------------------------------------------------------------------------------
// Pages

// One page of a list: its nodes, whether more follow, and its length (a number, or a
// function that counts it when `totalCount` is asked for).
class Page {
  constructor (nodes, hasNextPage, total, cursorOf) {
    this.nodes = nodes
    this.hasNextPage = hasNextPage
    this.total = total
    this.cursorOf = cursorOf
  }
}

// How many items a page takes: `first` (default 20, at most 100). Lists here start at
// their beginning: `after`, `last` and `before` are not implemented in this peer.
function limitOf (args) {
  if (args.after != null || args.last != null || args.before != null) {
    throw badInput('this benchmark peer pages with `first` only')
  }
  const first = args.first
  if (first == null) return DEFAULT_PAGE_SIZE
  if (first < 0) throw badInput(`\`first\` must not be negative, got ${first}`)
  if (first > MAX_PAGE_SIZE) {
    throw badInput(`\`first\` is ${first}, above the maximum page size of ${MAX_PAGE_SIZE}; page with \`after\`/\`before\``)
  }
  return first
}

// The first page of a list held in order.
function pageOf (list, args) {
  const limit = limitOf(args)
  if (list.length <= limit) return new Page(list, false, list.length, cursor)
  return new Page(list.slice(0, limit), true, list.length, cursor)
}

const connection = {
  edges: page => page.nodes.map(node => ({ node, cursor: page.cursorOf })),
  pageInfo: page => ({ page }),
  totalCount: page => typeof page.total === 'function' ? page.total() : page.total
}

const edge = {
  cursor: edge => edge.cursor(edge.node)
}

const pageInfo = {
  hasNextPage: info => info.page.hasNextPage,
  hasPreviousPage: () => false,
  startCursor: info => {
    const nodes = info.page.nodes
    return nodes.length === 0 ? null : info.page.cursorOf(nodes[0])
  },
  endCursor: info => {
    const nodes = info.page.nodes
    return nodes.length === 0 ? null : info.page.cursorOf(nodes[nodes.length - 1])
  }
}

// ---------------------------------------------------------------------------------------
// Resolvers

function resolvers (db) {
  const byDate = db.incidentsByDate

  // A page of the incidents, oldest or newest first, those matching a date filter if
  // there is one.
  function incidents (args) {
    const limit = limitOf(args)
    const descending = args.orderBy != null && args.orderBy.direction === 'DESC'
    const all = byDate.list
    const filter = args.occurred
    if (filter == null) {
      if (!descending) return pageOf(all, args)
      const nodes = []
      for (let i = all.length - 1; i >= 0 && nodes.length < limit; i--) nodes.push(all[i])
      return new Page(nodes, all.length > limit, all.length, cursor)
    }
    const fromDate = filter.from == null ? null : filter.from.earliest
    const toDate = filter.to == null ? null : filter.to.latest
    const from = fromDate === null ? null : data.dayNumber(fromDate.year, fromDate.month, fromDate.day)
    const to = toDate === null ? null : data.dayNumber(toDate.year, toDate.month, toDate.day)
    const certainly = filter.match === 'CERTAINLY_WITHIN'
    const { before, start, end } = byDate.candidates(fromDate, toDate)
    const count = () => {
      let total = 0
      for (const i of before) total += data.dateMatches(all[i], from, to, certainly) ? 1 : 0
      for (let i = start; i < end; i++) total += data.dateMatches(all[i], from, to, certainly) ? 1 : 0
      return total
    }
    const nodes = []
    let more = false
    const take = record => {
      if (!data.dateMatches(record, from, to, certainly)) return true
      if (nodes.length === limit) {
        more = true
        return false
      }
      nodes.push(record)
      return true
    }
    if (!descending) {
      let going = true
      for (let b = 0; going && b < before.length; b++) going = take(all[before[b]])
      for (let i = start; going && i < end; i++) going = take(all[i])
    } else {
      let going = true
      for (let i = end - 1; going && i >= start; i--) going = take(all[i])
      for (let b = before.length - 1; going && b >= 0; b--) going = take(all[before[b]])
    }
    return new Page(nodes, more, count, cursor)
  }

  const typeOf = record => record.typename

  return {
    PartialDate: {
      serialize: value => value,
      parseValue: value => {
        if (typeof value !== 'string') throw new TypeError('a PartialDate is a string')
        return data.parsePartialDate(value)
      },
      parseLiteral: ast => {
        if (ast.kind !== 'StringValue') throw new TypeError('a PartialDate is a string')
        return data.parsePartialDate(ast.value)
      }
    },
    Node: { resolveType: typeOf },
    SearchResult: { resolveType: typeOf },
    Query: {
      node: (_, { id }) => {
        const { kind, slug } = parseGlobalId(id)
        return db.ids[kind].get(slug) || null
      },
      country: (_, { code }) => db.countryByCode.get(code.trim().replace(/[a-z]+/g, s => s.toUpperCase())) || null,
      countries: (_, args) => pageOf(db.countriesInOrder, args),
      incidents: (_, args) => incidents(args),
      search: (_, args) => {
        const limit = limitOf(args)
        const found = db.search.find(args.text)
        if (found === null) {
          throw badInput('`text` has no words to search for (words have at least two letters or digits)')
        }
        const nodes = found.length <= limit ? found : found.slice(0, limit)
        return new Page(nodes, found.length > limit, found.length, searchCursor)
      }
    },
    Country: {
      id: globalId,
      slug: record => record.slug,
      agreements: (country, args) => pageOf(country.agreements, args)
    },
    Organization: { id: globalId, slug: record => record.slug },
    Person: { id: globalId, slug: record => record.slug },
    Agreement: {
      id: globalId,
      slug: record => record.slug,
      facilities: (agreement, args) => pageOf(agreement.facilities, args)
    },
    Facility: {
      id: globalId,
      slug: record => record.slug,
      incidents: (facility, args) => pageOf(facility.incidents, args)
    },
    Incident: { id: globalId, slug: record => record.slug },
    CountryConnection: connection,
    AgreementConnection: connection,
    FacilityConnection: connection,
    IncidentConnection: connection,
    SearchResultConnection: connection,
    CountryEdge: edge,
    AgreementEdge: edge,
    FacilityEdge: edge,
    IncidentEdge: edge,
    SearchResultEdge: edge,
    PageInfo: pageInfo
  }
}

// ---------------------------------------------------------------------------------------
// The server

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const started = process.hrtime.bigint()
  const seedDir = args.seedDir === null ? path.join(__dirname, '..', '..', '..', 'seed') : args.seedDir
  const schema = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'schema.graphql'), 'utf8')
  const db = data.load(seedDir)

  const app = Fastify({ logger: false })
  app.register(mercurius, {
    schema,
    resolvers: resolvers(db),
    jit: 1,
    graphiql: false,
    path: '/graphql'
  })
  let ready = false
  app.get('/healthz', async (_, reply) => {
    if (!ready) return reply.code(503).send({ status: 'starting' })
    return { status: 'ok' }
  })
  await app.listen({ host: args.host, port: args.port })
  ready = true
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.error(`mercurius peer: ${db.recordCount()} records from ${seedDir} in ${seconds.toFixed(2)}s; listening on ${args.host}:${args.port}`)

  let closing = false
  const stop = async () => {
    if (closing) return
    closing = true
    try {
      await app.close()
    } finally {
      process.exit(0)
    }
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch(error => {
  console.error(error)
  process.exit(1)
})
