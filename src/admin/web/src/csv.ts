// CSV for marketing tools: RFC 4180 quoting, and text that a spreadsheet would run as a formula
// (=, +, -, @, tab, CR at the start) is prefixed with an apostrophe.
export function csvCell(value: unknown, text = true): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvRow = (cells: unknown[], numeric: boolean[] = []) => cells.map((c, i) => csvCell(c, !numeric[i])).join(',') + '\r\n';

/** Hands a finished file to the browser's download manager. */
export function download(parts: BlobPart[], filename: string, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
