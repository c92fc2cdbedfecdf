'use strict'

// Posts every request body of the given .jsonl files (one JSON body a line, as
// `bench/perf/perf.py sample` writes them) to two servers and compares their answers:
// status, then the parsed JSON, key order included. Prints the first difference of each
// file, with its path, and exits 1 if any answer differs.
//
//   node compare-answers.js --expected http://127.0.0.1:8001 --actual http://127.0.0.1:8002 \
//       /tmp/bodies/a.jsonl /tmp/bodies/b.jsonl ...
//
// A directory in place of a file means every *.jsonl in it.

const fs = require('node:fs')
const path = require('node:path')
const http = require('node:http')

function parseArgs (argv) {
  const args = { expected: null, actual: null, files: [], ordered: true }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--expected') args.expected = argv[++i]
    else if (arg === '--actual') args.actual = argv[++i]
    else if (arg === '--any-key-order') args.ordered = false
    else args.files.push(arg)
  }
  if (!args.expected || !args.actual || args.files.length === 0) {
    console.error('usage: node compare-answers.js --expected URL --actual URL [--any-key-order] FILE_OR_DIR...')
    process.exit(2)
  }
  const files = []
  for (const item of args.files) {
    if (fs.statSync(item).isDirectory()) {
      for (const name of fs.readdirSync(item).sort()) {
        if (name.endsWith('.jsonl')) files.push(path.join(item, name))
      }
    } else {
      files.push(item)
    }
  }
  args.files = files
  return args
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

function post (base, body) {
  const url = new URL('/graphql', base)
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'content-length': Buffer.byteLength(body)
      }
    }, response => {
      const chunks = []
      response.on('data', chunk => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') }))
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(body)
  })
}

function kindOf (value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

// The first difference between two JSON values, as a path and a description; null if
// they are equal.
function firstDifference (expected, actual, at, ordered) {
  const kind = kindOf(expected)
  if (kind !== kindOf(actual)) {
    return `${at}: ${kind} ${JSON.stringify(expected)} vs ${kindOf(actual)} ${JSON.stringify(actual)}`
  }
  if (kind === 'array') {
    const n = Math.min(expected.length, actual.length)
    for (let i = 0; i < n; i++) {
      const difference = firstDifference(expected[i], actual[i], `${at}[${i}]`, ordered)
      if (difference) return difference
    }
    if (expected.length !== actual.length) {
      return `${at}: ${expected.length} items vs ${actual.length}`
    }
    return null
  }
  if (kind === 'object') {
    const keys = Object.keys(expected)
    const others = Object.keys(actual)
    for (const key of keys) {
      if (!Object.prototype.hasOwnProperty.call(actual, key)) return `${at}.${key}: missing from the actual answer`
    }
    for (const key of others) {
      if (!Object.prototype.hasOwnProperty.call(expected, key)) return `${at}.${key}: not in the expected answer`
    }
    if (ordered && keys.join('\u0000') !== others.join('\u0000')) {
      return `${at}: keys in order ${JSON.stringify(keys)} vs ${JSON.stringify(others)}`
    }
    for (const key of keys) {
      const difference = firstDifference(expected[key], actual[key], `${at}.${key}`, ordered)
      if (difference) return difference
    }
    return null
  }
  return expected === actual ? null : `${at}: ${JSON.stringify(expected)} vs ${JSON.stringify(actual)}`
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  let failed = false
  for (const file of args.files) {
    const bodies = fs.readFileSync(file, 'utf8').split('\n').filter(line => line.trim().length > 0)
    let equal = 0
    let withErrors = 0
    let first = null
    for (let line = 0; line < bodies.length; line++) {
      const body = bodies[line]
      const [expected, actual] = await Promise.all([post(args.expected, body), post(args.actual, body)])
      let difference = null
      if (expected.status !== actual.status) {
        difference = `status ${expected.status} vs ${actual.status}`
      } else {
        const parsedExpected = JSON.parse(expected.text)
        const parsedActual = JSON.parse(actual.text)
        if (parsedExpected.errors) withErrors++
        // Error messages and locations are not what is compared when both answer errors:
        // the data is.
        if (parsedExpected.errors && parsedActual.errors) {
          difference = firstDifference(parsedExpected.data ?? null, parsedActual.data ?? null, 'data', args.ordered)
        } else {
          difference = firstDifference(parsedExpected, parsedActual, '', args.ordered)
        }
      }
      if (difference === null) {
        equal++
      } else if (first === null) {
        first = `line ${line + 1}: ${difference}\n  body: ${body.slice(0, 300)}`
      }
    }
    const verdict = equal === bodies.length ? 'all equal' : `${bodies.length - equal} DIFFER`
    console.log(`${file}: ${bodies.length} bodies, ${equal} equal, ${withErrors} answered with errors by the expected server: ${verdict}`)
    if (first !== null) {
      failed = true
      console.log(`  first difference, ${first}`)
    }
  }
  agent.destroy()
  process.exit(failed ? 1 : 0)
}

main().catch(error => {
  console.error(error)
  process.exit(1)
})
