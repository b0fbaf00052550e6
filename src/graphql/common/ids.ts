import { badInput } from '../errors.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Customer and order ids are UUIDs; anything else is a client error, not a database error. */
export function uuid(field: string, value: string): string {
  if (!uuidPattern.test(value)) throw badInput(field, 'is not a valid id');
  return value.toLowerCase();
}
