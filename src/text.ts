// Text a caller or a file supplied, made safe to print inside a message or a log line.

/** JSON-quoted, control/format characters escaped, at most `max` characters (then "…"). */
export function quote(value: string, max = 40): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut).replace(/[\p{C}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
