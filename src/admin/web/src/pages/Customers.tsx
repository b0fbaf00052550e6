// Customers: filter (stored segment and probability, country, spend, last order), sort, page with
// the API's cursors, and export the whole filtered audience as CSV, fetched page by page.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, request } from '../api';
import { csvRow } from '../csv';
import { download } from '../download';
import { ErrorMessage, Loading, Maybe } from '../components/Status';
import { day, int, money, num, segmentLabel } from '../format';
import { CustomerExportDocument, CustomerPageDocument, type CustomerExportQuery, ModelListDocument, type CustomerFilter, type CustomerOrderBy, type CustomerSortField, type SortDirection } from '../generated/graphql';
import { Link, useRouter } from '../router';
import { useQuery } from '../useQuery';

const PAGE_SIZE = 25;
const EXPORT_PAGE_SIZE = 500;

const sortFields: [CustomerSortField, string][] = [
  ['TOTAL_SPENT', 'Total spent'],
  ['ORDER_COUNT', 'Orders'],
  ['LAST_ORDER_AT', 'Last order'],
  ['PROBABILITY', 'Probability'],
  ['CREATED_AT', 'Signed up'],
  ['EXTERNAL_ID', 'External id'],
];

/** The form's fields, as they appear in the page's URL (so a filtered view can be bookmarked). */
const params = ['segment', 'minProbability', 'maxProbability', 'country', 'minSpent', 'maxSpent', 'lastOrderFrom', 'lastOrderTo', 'sort', 'dir'] as const;
type Params = Record<(typeof params)[number], string>;

function readParams(search: URLSearchParams): Params {
  return Object.fromEntries(params.map((p) => [p, search.get(p) ?? ''])) as Params;
}

const endOfDay = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString();

export function toVariables(p: Params): { filter: CustomerFilter; orderBy: CustomerOrderBy } {
  const filter: CustomerFilter = {};
  if (p.segment) filter.segment = p.segment;
  if (p.minProbability) filter.minProbability = Number(p.minProbability);
  if (p.maxProbability) filter.maxProbability = Number(p.maxProbability);
  const countries = p.country
    .split(/[\s,]+/)
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  if (countries.length) filter.countries = countries;
  if (p.minSpent) filter.minTotalSpent = p.minSpent;
  if (p.maxSpent) filter.maxTotalSpent = p.maxSpent;
  if (p.lastOrderFrom) filter.lastOrderFrom = `${p.lastOrderFrom}T00:00:00.000Z`;
  // The form's "to" day is inclusive; the API's bound is exclusive.
  if (p.lastOrderTo) filter.lastOrderTo = endOfDay(p.lastOrderTo);
  const field = (sortFields.find(([f]) => f === p.sort)?.[0] ?? 'TOTAL_SPENT') as CustomerSortField;
  const direction: SortDirection = p.dir === 'ASC' ? 'ASC' : 'DESC';
  return { filter, orderBy: { field, direction } };
}

export function Customers() {
  const { location, navigate } = useRouter();
  const current = readParams(location.search);
  const [form, setForm] = useState<Params>(current);
  const searchKey = location.search.toString();
  // Cursors of the pages before the one shown (for "Previous"), and the one shown — for these
  // filters only: other filters start at the first page (a cursor is tied to its ordering).
  const [pager, setPager] = useState<{ key: string; cursors: (string | null)[] }>({ key: searchKey, cursors: [null] });
  const cursors = pager.key === searchKey ? pager.cursors : [null];
  const setCursors = (c: (string | null)[]) => setPager({ key: searchKey, cursors: c });
  useEffect(() => {
    setForm(readParams(new URLSearchParams(searchKey)));
  }, [searchKey]);
  const vars = toVariables(current);
  const after = cursors[cursors.length - 1] ?? null;
  const { data, error, loading } = useQuery(CustomerPageDocument, { ...vars, first: PAGE_SIZE, after });
  const models = useQuery(ModelListDocument, {});
  const segments = models.data?.models.find((m) => m.isDefault)?.classes.map((c) => c.key) ?? [];

  function apply(e: FormEvent) {
    e.preventDefault();
    const search = new URLSearchParams();
    for (const p of params) if (form[p]) search.set(p, form[p]);
    const qs = search.toString();
    navigate(`/customers${qs ? `?${qs}` : ''}`);
  }

  const set = (p: keyof Params) => (e: { target: { value: string } }) => setForm({ ...form, [p]: e.target.value });
  const page = cursors.length;
  const conn = data?.customers;

  return (
    <>
      <h1 tabIndex={-1}>Customers</h1>
      <form className="filters card" onSubmit={apply} aria-label="Filter customers">
        <div className="field">
          <label htmlFor="f-segment">Segment (stored score)</label>
          <select id="f-segment" value={form.segment} onChange={set('segment')}>
            <option value="">any</option>
            {segments.map((s) => (
              <option key={s} value={s}>
                {segmentLabel(s)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-minp">Probability from</label>
          <input id="f-minp" type="number" min={0} max={1} step={0.01} value={form.minProbability} onChange={set('minProbability')} />
        </div>
        <div className="field">
          <label htmlFor="f-maxp">Probability to</label>
          <input id="f-maxp" type="number" min={0} max={1} step={0.01} value={form.maxProbability} onChange={set('maxProbability')} />
        </div>
        <div className="field">
          <label htmlFor="f-country">Countries</label>
          <input id="f-country" type="text" placeholder="DE, FR" value={form.country} onChange={set('country')} aria-describedby="f-country-hint" />
          <span id="f-country-hint" className="sr-only">
            ISO two-letter codes, separated by commas
          </span>
        </div>
        <div className="field">
          <label htmlFor="f-minspent">Spent from ($)</label>
          <input id="f-minspent" type="number" min={0} step={0.01} value={form.minSpent} onChange={set('minSpent')} />
        </div>
        <div className="field">
          <label htmlFor="f-maxspent">Spent to ($)</label>
          <input id="f-maxspent" type="number" min={0} step={0.01} value={form.maxSpent} onChange={set('maxSpent')} />
        </div>
        <div className="field">
          <label htmlFor="f-lastfrom">Last order from</label>
          <input id="f-lastfrom" type="date" value={form.lastOrderFrom} onChange={set('lastOrderFrom')} />
        </div>
        <div className="field">
          <label htmlFor="f-lastto">Last order to</label>
          <input id="f-lastto" type="date" value={form.lastOrderTo} onChange={set('lastOrderTo')} />
        </div>
        <div className="field">
          <label htmlFor="f-sort">Sort by</label>
          <select id="f-sort" value={form.sort || 'TOTAL_SPENT'} onChange={set('sort')}>
            {sortFields.map(([f, label]) => (
              <option key={f} value={f}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-dir">Direction</label>
          <select id="f-dir" value={form.dir || 'DESC'} onChange={set('dir')}>
            <option value="DESC">descending</option>
            <option value="ASC">ascending</option>
          </select>
        </div>
        <div className="actions">
          <button type="submit">Apply filters</button>
          <button type="button" className="secondary" onClick={() => navigate('/customers')}>
            Reset
          </button>
        </div>
      </form>

      {error && <ErrorMessage error={error} />}
      {loading && !data && <Loading what="customers" />}
      {conn && (
        <section aria-labelledby="results-heading">
          <div className="toolbar">
            <h2 id="results-heading" aria-live="polite">
              <span data-testid="total-count">{int(conn.totalCount)}</span> customers
            </h2>
            <ExportButton filter={vars.filter} orderBy={vars.orderBy} total={conn.totalCount} />
          </div>
          <table className="list" data-testid="customer-table" aria-busy={loading}>
            <caption className="sr-only">
              Customers, page {page}, sorted by {sortFields.find(([f]) => f === vars.orderBy.field)?.[1]} {vars.orderBy.direction === 'ASC' ? 'ascending' : 'descending'}
            </caption>
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">Email</th>
                <th scope="col">Country</th>
                <th scope="col">Orders</th>
                <th scope="col">Total spent</th>
                <th scope="col">Last order</th>
                <th scope="col">Segment</th>
                <th scope="col">Probability</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node: c }) => (
                <tr key={c.id}>
                  <td>
                    <Link to={`/customers/${c.id}`} data-testid="customer-link">
                      {c.name}
                    </Link>
                    <div className="muted small">{c.externalId}</div>
                  </td>
                  <td>
                    <Maybe value={c.email} />
                  </td>
                  <td>{c.country ?? '—'}</td>
                  <td className="num">{c.stats.orderCount}</td>
                  <td className="num">{money(c.stats.totalSpent)}</td>
                  <td>{day(c.stats.lastOrderAt)}</td>
                  <td>{c.score ? segmentLabel(c.score.segment) : <span className="muted">not scored</span>}</td>
                  <td className="num">{num(c.score?.probability)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={page === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous
            </button>
            <span>
              Page {page} of {Math.max(1, Math.ceil(conn.totalCount / PAGE_SIZE))}
            </span>
            <button type="button" disabled={!conn.pageInfo.hasNextPage} onClick={() => setCursors([...cursors, conn.pageInfo.endCursor!])}>
              Next
            </button>
          </nav>
        </section>
      )}
    </>
  );
}

const csvHeader = ['id', 'external_id', 'name', 'email', 'gender', 'birth_date', 'country', 'created_at', 'order_count', 'total_spent', 'average_order_value', 'first_order_at', 'last_order_at', 'model_version', 'segment', 'probability', 'scored_as_of'];
const numericColumns = csvHeader.map((h) => ['order_count', 'total_spent', 'average_order_value', 'probability'].includes(h));

function ExportButton({ filter, orderBy, total }: { filter: CustomerFilter; orderBy: CustomerOrderBy; total: number }) {
  const [progress, setProgress] = useState<{ rows: number; total: number } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<number | null>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  async function run() {
    const controller = new AbortController();
    abort.current = controller;
    setError(null);
    setDone(null);
    const parts: string[] = [csvRow(csvHeader)];
    let rows = 0;
    let after: string | null = null;
    setProgress({ rows, total });
    try {
      // Page by page with the API's cursors: one page in flight, each turned into CSV text at once.
      let first = EXPORT_PAGE_SIZE;
      for (;;) {
        let customers: CustomerExportQuery['customers'];
        try {
          ({ customers } = await request(CustomerExportDocument, { filter, orderBy, first, after }, undefined, controller.signal));
        } catch (err) {
          // A server with a smaller MAX_PAGE_SIZE says how large a page may be: continue with that.
          const max = (err as ApiError).errors?.[0]?.extensions?.maxPageSize;
          if ((err as ApiError).code === 'PAGE_SIZE_EXCEEDED' && typeof max === 'number' && max > 0 && max < first) {
            first = max;
            continue;
          }
          throw err;
        }
        let chunk = '';
        for (const { node: c } of customers.edges) {
          chunk += csvRow(
            [c.id, c.externalId, c.name, c.email, c.gender, c.birthDate, c.country, c.createdAt, c.stats.orderCount, c.stats.totalSpent, c.stats.averageOrderValue, c.stats.firstOrderAt, c.stats.lastOrderAt, c.score?.modelVersion, c.score?.segment, c.score?.probability, c.score?.asOf],
            numericColumns,
          );
        }
        parts.push(chunk);
        rows += customers.edges.length;
        setProgress({ rows, total });
        if (!customers.pageInfo.hasNextPage) break;
        after = customers.pageInfo.endCursor ?? null;
      }
      download(parts, `customers-${new Date().toISOString().slice(0, 10)}.csv`);
      setDone(rows);
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(err as ApiError);
    } finally {
      setProgress(null);
    }
  }

  return (
    <div className="export">
      {progress ? (
        <>
          <progress max={progress.total || 1} value={progress.rows} aria-label="Export progress" />
          <span role="status">
            {int(progress.rows)} of {int(progress.total)} rows
          </span>
          <button type="button" className="secondary" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        </>
      ) : (
        <button type="button" onClick={run} disabled={total === 0}>
          Export CSV
        </button>
      )}
      {done !== null && (
        <span role="status" data-testid="export-done">
          Exported {int(done)} rows.
        </span>
      )}
      {error && <ErrorMessage error={error} />}
    </div>
  );
}
