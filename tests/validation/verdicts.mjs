// The reference implementation's verdict on each request of a corpus: whether graphql-js
// (the version package.json pins) refuses it before executing. Driven by
// tests/it/validation.rs.
//
// Usage: node verdicts.mjs SCHEMA.graphql REQUESTS.json
//
// REQUESTS.json is a list of {"query", "variables"?, "operationName"?}. Prints one line of
// JSON: {"version", "verdicts": [{"valid", "errors"}]}, a verdict per request in order.
//
// A request is refused when graphql-js refuses it before execution:
// - its document does not parse;
// - `validate` finds an error, with the specified rules and graphql-js 17's
//   `KnownOperationTypesRule` (the spec's "Operation Type Existence", which 16 leaves to
//   `execute`: a mutation on a schema without a mutation type is refused there, and
//   answered without data), less `MaxIntrospectionDepthRule`, which is no rule of the
//   specification but graphql-js's guard against deep introspection (the server's query
//   guard has limits of its own);
// - the operation cannot be picked (several and no name, or an unknown name), or the
//   variables do not coerce to their declared types: what `execute` checks before it
//   resolves anything, and answers as a request error.

import { readFileSync } from 'node:fs';
import {
  GraphQLError,
  buildSchema,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  version,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';

const [schemaPath, requestsPath] = process.argv.slice(2);
if (!schemaPath || !requestsPath) {
  console.error('usage: node verdicts.mjs SCHEMA.graphql REQUESTS.json');
  process.exit(2);
}

const schema = buildSchema(readFileSync(schemaPath, 'utf8'));
const requests = JSON.parse(readFileSync(requestsPath, 'utf8'));

/** graphql-js 17's rule: an operation's root type must exist in the schema. */
function KnownOperationTypesRule(context) {
  return {
    OperationDefinition(node) {
      if (!context.getSchema().getRootType(node.operation)) {
        context.reportError(
          new GraphQLError(
            `The ${node.operation} operation is not supported by the schema.`,
            { nodes: node },
          ),
        );
      }
    },
  };
}

const rules = [
  ...specifiedRules.filter((rule) => rule.name !== 'MaxIntrospectionDepthRule'),
  KnownOperationTypesRule,
];

function verdict({ query, variables, operationName }) {
  let document;
  try {
    document = parse(query);
  } catch (error) {
    return refused([error]);
  }
  const errors = validate(schema, document, rules);
  if (errors.length > 0) {
    return refused(errors);
  }
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) {
    return refused([
      operationName
        ? `Unknown operation named "${operationName}".`
        : 'Must provide operation name if query contains multiple operations.',
    ]);
  }
  const coerced = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    variables ?? {},
  );
  if (coerced.errors) {
    return refused(coerced.errors);
  }
  return { valid: true, errors: [] };
}

function refused(errors) {
  return {
    valid: false,
    errors: errors.map((error) => (typeof error === 'string' ? error : error.message)),
  };
}

process.stdout.write(
  JSON.stringify({ version, verdicts: requests.map(verdict) }) + '\n',
);
