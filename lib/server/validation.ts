// Turns a schema (ajv) failure into one message that names the field, what was expected and what was
// received (house rule 6), e.g. "temperature: expected a number <= 2, got 3".
import { formatValue } from '../errors.js';
import { badRequest, type HttpError } from './http-error.js';

/** The subset of an ajv ErrorObject this module reads (ajv runs with verbose: true). */
export interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: { description?: string; type?: unknown };
}

/** "/messages/0/role" -> "messages[0].role" */
export function fieldName(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out === '' ? 'body' : out;
}

function article(type: string): string {
  if (type === 'null') return 'null';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function expectedText(err: SchemaError): string {
  const p = err.params;
  switch (err.keyword) {
    case 'type': {
      const types = String(p.type).split(',');
      return types.map(article).join(' or ');
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `a number ${String(p.comparison)} ${String(p.limit)}`;
    case 'enum':
      return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return JSON.stringify(p.allowedValue);
    case 'minItems':
      return `at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`;
    case 'maxItems':
      return `at most ${String(p.limit)} items`;
    case 'minLength':
      return `a string of at least ${String(p.limit)} character${p.limit === 1 ? '' : 's'}`;
    case 'maxLength':
      return `a string of at most ${String(p.limit)} characters`;
    case 'minProperties':
      return `an object with at least ${String(p.limit)} field${p.limit === 1 ? '' : 's'}`;
    case 'pattern':
      return `a string matching ${String(p.pattern)}`;
    case 'anyOf':
    case 'oneOf':
      return err.parentSchema?.description ?? 'a value of one of the accepted shapes';
    default:
      return err.message ?? 'a valid value';
  }
}

export function describeSchemaError(errors: readonly SchemaError[]): { message: string; param: string } {
  const union = [...errors].reverse().find((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const err = union ?? errors[0];
  if (!err) return { message: 'body: invalid request', param: 'body' };
  if (err.keyword === 'required') {
    const field = fieldName(err.instancePath, String(err.params.missingProperty));
    return { message: `${field}: required field is missing`, param: field };
  }
  if (err.keyword === 'additionalProperties') {
    const field = fieldName(err.instancePath, String(err.params.additionalProperty));
    return { message: `${field}: unknown field`, param: field };
  }
  const field = fieldName(err.instancePath);
  return { message: `${field}: expected ${expectedText(err)}, got ${formatValue(err.data)}`, param: field };
}

export function schemaErrorToHttp(errors: readonly SchemaError[]): HttpError {
  const { message, param } = describeSchemaError(errors);
  return badRequest(message, param);
}
