// Overview: the served model's stored segment mix (Query.segmentSummary), how fresh it is, the
// last batch-scoring run, and the model card's held-out metrics (beside baselines when served).
import { useEffect, useMemo, useState } from 'react';
import { Chart, type ChartOption } from '../components/Chart';
import { ConfusionMatrix, MetricsTable } from '../components/Metrics';
import { ErrorMessage, Loading } from '../components/Status';
import { ago, dateTime, int, num, pct, segmentLabel } from '../format';
import { OverviewDocument, type OverviewQuery } from '../generated/graphql';
import { extrasOf, modelExtras, type ModelExtras } from '../optional';
import { Link } from '../router';
import { useQuery } from '../useQuery';

export const segmentColors: Record<string, string> = { lapsing: '#b45309', active: '#2563eb', high_value: '#047857' };
const colorOf = (s: string, i: number) => segmentColors[s] ?? ['#7c3aed', '#be185d', '#0f766e'][i % 3]!;

export function Overview() {
  const { data, error, loading } = useQuery(OverviewDocument, {});
  const [extras, setExtras] = useState<Map<string, ModelExtras>>();
  useEffect(() => {
    modelExtras().then(setExtras, () => setExtras(new Map()));
  }, []);
  const summary = data?.segmentSummary;
  // The version served now (an API may list several versions of a model).
  const model = data?.models.find((m) => m.name === summary?.model && m.version === summary?.servedVersion) ?? data?.models.find((m) => m.name === summary?.model);

  const option = useMemo<ChartOption | null>(() => {
    if (!summary) return null;
    return {
      grid: { left: 90, right: 64, top: 10, bottom: 30 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: { type: 'value', name: 'customers', nameLocation: 'middle', nameGap: 22 },
      yAxis: { type: 'category', data: summary.segments.map((s) => segmentLabel(s.segment)), inverse: true },
      series: [
        {
          type: 'bar',
          data: summary.segments.map((s, i) => ({ value: s.count, itemStyle: { color: colorOf(s.segment, i) } })),
          label: { show: true, position: 'right', formatter: (p: { dataIndex: number }) => pct(summary.segments[p.dataIndex]!.share) },
        },
      ],
    };
  }, [summary]);

  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      {loading && !data && <Loading what="the segment summary" />}
      {error && <ErrorMessage error={error} />}
      {summary && (
        <>
          <section aria-labelledby="mix-heading" className="card">
            <h2 id="mix-heading">
              Segment mix of <code>{summary.model}</code> {summary.servedVersion}
            </h2>
            <p>
              <span data-testid="customers-scored">{int(summary.customersScored)}</span> of <span data-testid="customers-total">{int(summary.customersTotal)}</span> customers
              have a stored score. <Link to="/customers">Browse them</Link>.
            </p>
            <div className="split">
              {option && <Chart option={option} label={`Customers per segment: ${summary.segments.map((s) => `${segmentLabel(s.segment)} ${s.count}`).join(', ')}`} height={40 + summary.segments.length * 48} />}
              <table data-testid="segment-table">
                <caption className="sr-only">Customers per segment</caption>
                <thead>
                  <tr>
                    <th scope="col">Segment</th>
                    <th scope="col">Customers</th>
                    <th scope="col">Share</th>
                    <th scope="col">Mean probability</th>
                  </tr>
                </thead>
                <tbody>
                  {summary.segments.map((s, i) => (
                    <tr key={s.segment} data-segment={s.segment}>
                      <th scope="row">
                        <span className="swatch" style={{ background: colorOf(s.segment, i) }} aria-hidden="true" />
                        <Link to={`/customers?segment=${encodeURIComponent(s.segment)}`}>{segmentLabel(s.segment)}</Link>
                      </th>
                      <td className="num" data-field="count" data-value={s.count}>
                        {int(s.count)}
                      </td>
                      <td className="num" data-field="share" data-value={s.share}>
                        {pct(s.share)}
                      </td>
                      <td className="num" data-field="meanProbability" data-value={s.meanProbability ?? ''}>
                        {num(s.meanProbability)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>

          <section aria-labelledby="fresh-heading" className="card">
            <h2 id="fresh-heading">Freshness</h2>
            <Freshness summary={summary} />
          </section>
        </>
      )}
      {model && (
        <section aria-labelledby="metrics-heading" className="card">
          <h2 id="metrics-heading">Held-out quality of {model.name}</h2>
          <div className="split">
            <MetricsTable metrics={model.metrics} baselines={extrasOf(extras, model.name, model.version).baselines} caption={`Metrics of ${model.name} ${model.version} on customers it never saw in training`} />
            <ConfusionMatrix matrix={model.metrics.confusion_matrix} classes={model.classes.map((c) => c.key)} />
          </div>
        </section>
      )}
    </>
  );
}

type Summary = OverviewQuery['segmentSummary'];

function Freshness({ summary }: { summary: Summary }) {
  const stale = summary.storedVersions.some((v) => v !== summary.servedVersion);
  const run = summary.lastRun;
  return (
    <>
      {stale && (
        <p className="warning" role="note">
          Some stored scores were written by another version ({summary.storedVersions.join(', ')}) than the one served ({summary.servedVersion}): run <code>npm run score</code>.
        </p>
      )}
      {summary.customersScored === 0 && (
        <p className="warning" role="note">
          No stored scores yet: run <code>npm run score</code> to fill the segment mix.
        </p>
      )}
      <dl className="facts">
        <dt>Scoring time (as of)</dt>
        <dd>{summary.asOfMin === summary.asOfMax ? dateTime(summary.asOfMax) : `${dateTime(summary.asOfMin)} – ${dateTime(summary.asOfMax)}`}</dd>
        <dt>Written</dt>
        <dd>
          {dateTime(summary.scoredAtMax)} ({ago(summary.scoredAtMax)})
        </dd>
        <dt>Coverage</dt>
        <dd>{summary.customersTotal ? pct(summary.customersScored / summary.customersTotal) : '—'}</dd>
        <dt>Last scoring run</dt>
        <dd>
          {run ? (
            <>
              #{run.id} {run.status}, {int(run.customersScored)} customers, version {run.modelVersion}, started {dateTime(run.startedAt)}
              {run.finishedAt ? `, finished ${dateTime(run.finishedAt)}` : `, last progress ${ago(run.updatedAt)}`}
              {run.status === 'running' && summary.customersTotal > 0 && (
                <progress max={summary.customersTotal} value={run.customersScored} aria-label="Scoring run progress" />
              )}
            </>
          ) : (
            'none'
          )}
        </dd>
      </dl>
    </>
  );
}
