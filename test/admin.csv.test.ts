// The dashboard's CSV export format (src/admin/web/src/csv.ts): what a marketing tool or a
// spreadsheet reads back must be exactly the API's values, and text must never run as a formula.
import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from '../src/admin/web/src/csv.js';

/** A minimal RFC 4180 reader, to read back what was written. */
function parse(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\r' && text[i + 1] === '\n') row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
    else cell += ch;
  }
  return rows;
}

describe('CSV export format', () => {
  it('round-trips commas, quotes and line breaks', () => {
    const values = ['Smith, Jane', 'say "hi"', 'two\nlines', 'plain', '***', ''];
    expect(parse(csvRow(values))).toEqual([values]);
  });

  it('writes null as an empty cell and numbers as they are', () => {
    expect(csvRow([null, undefined, 0, 12.5, '-3.20'], [false, false, true, true, true])).toBe(',,0,12.5,-3.20\r\n');
  });

  it('neutralises text a spreadsheet would run as a formula', () => {
    for (const evil of ['=HYPERLINK("http://x")', '+1+1', '-2+3', '@SUM(A1)', '\t=1', '\r=1']) {
      const cell = parse(csvRow([evil]))[0]![0]!;
      expect(cell).toBe(`'${evil}`);
    }
    // Numeric columns keep their sign.
    expect(csvCell(-1.5, false)).toBe('-1.5');
  });
});
