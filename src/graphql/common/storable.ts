// What PostgreSQL can store and compare, checked before a client value reaches it: a value it
// refuses (a NUL byte, year 0000) would otherwise fail inside the database and be masked as
// INTERNAL_SERVER_ERROR instead of being refused with a code that names the argument.

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text PostgreSQL can store: no NUL (and no lone surrogate, which would be silently replaced by U+FFFD). */
export const isStorableText = (value: string) => !value.includes('\u0000') && !loneSurrogate.test(value);

// Instants PostgreSQL's timestamptz and a 4-digit ISO year both hold.
const firstInstant = Date.parse('0001-01-01T00:00:00.000Z');
const lastInstant = Date.parse('9999-12-31T23:59:59.999Z');

/** True for a Date PostgreSQL can store as timestamptz and JSON can carry as a 4-digit-year ISO string. */
export const isStorableInstant = (date: Date) => !Number.isNaN(date.getTime()) && date.getTime() >= firstInstant && date.getTime() <= lastInstant;
