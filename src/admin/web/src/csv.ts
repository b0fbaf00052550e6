// CSV for marketing tools: RFC 4180 quoting, and text that a spreadsheet would run as a formula
// (=, +, -, @, tab, CR at the start) is prefixed with an apostrophe.
export function csvCell(value: unknown, text = true): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvRow = (cells: unknown[], numeric: boolean[] = []) => cells.map((c, i) => csvCell(c, !numeric[i])).join(',') + '\r\n';
