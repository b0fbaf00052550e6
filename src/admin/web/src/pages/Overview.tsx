// Overview: the served model's stored segment mix (Query.segmentSummary), how fresh it is, the mix
// over past batch-scoring runs (Query.scoringRuns), and the model card's held-out metrics beside its
// baselines, with the calibration plot and confusion matrix stored with the version (ModelInfo.evaluation).
import { useMemo } from 'react';
import { Chart, type ChartOption } from '../components/Chart';
import { CalibrationPlot, colorOf, EvaluationConfusion } from '../components/Evaluation';
import { ConfusionMatrix, MetricsTable } from '../components/Metrics';
import { ErrorMessage, Loading } from '../components/Status';
import { ago, dateTime, day, int, num, pct, segmentLabel } from '../format';
import { OverviewDocument, type OverviewQuery } from '../generated/graphql';
import { Link } from '../router';
import { useQuery } from '../useQuery';


export function Overview() {
  const { data, error, loading } = useQuery(OverviewDocument, {});
  const summary = data?.segmentSummary;
  // The version served now (the API lists every loaded version of every model).
  const model = data?.models.find((m) => m.name === summary?.model && m.version === summary?.servedVersion);

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

          <section aria-labelledby="runs-mix-heading" className="card">
            <h2 id="runs-mix-heading">Segment mix over past scoring runs</h2>
            <RunMix runs={data!.scoringRuns} model={summary.model} />
          </section>
        </>
      )}
      {model && (
        <section aria-labelledby="metrics-heading" className="card">
          <h2 id="metrics-heading">
            Held-out quality of <code>{model.name}</code> {model.version}
          </h2>
          <p className="muted small">
            From the model card: trained {model.created ? dateTime(model.created) : 'at an unknown time'} on {String((model.trainingData as { name?: string }).name ?? 'unnamed data')}; measured on customers it never saw in training.
          </p>
          <div className="split">
            <MetricsTable metrics={model.metrics} baselines={model.baselines} caption={`Metrics of ${model.name} ${model.version} on held-out customers`} />
            {model.evaluation ? <EvaluationConfusion evaluation={model.evaluation} /> : <ConfusionMatrix matrix={model.metrics.confusion_matrix} classes={model.classes.map((c) => c.key)} />}
          </div>
          {model.evaluation ? (
            <CalibrationPlot evaluation={model.evaluation} title={`Calibration of ${model.name} ${model.version}`} />
          ) : (
            <p className="muted">This model card has no stored evaluation, so there is no calibration plot.</p>
          )}
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

type Run = OverviewQuery['scoringRuns'][number];

/** Shares per segment of each finished run, oldest left; the table has the counts. */
function RunMix({ runs, model }: { runs: Run[]; model: string }) {
  const withMix = useMemo(() => runs.filter((r) => r.segments).reverse(), [runs]);
  const segments = useMemo(() => [...new Set(withMix.flatMap((r) => r.segments!.map((g) => g.segment)))], [withMix]);
  const label = (r: Run) => `#${r.id} as of ${day(r.asOf)}`;
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 48, right: 16, top: 36, bottom: 40 },
      legend: { top: 0, data: segments.map(segmentLabel) },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: { type: 'category', data: withMix.map(label) },
      yAxis: { type: 'value', min: 0, max: 1, name: 'share', axisLabel: { formatter: (v: number) => `${Math.round(v * 100)} %` } },
      series: segments.map((seg, i) => ({
        type: 'bar',
        stack: 'mix',
        name: segmentLabel(seg),
        color: colorOf(seg, i),
        data: withMix.map((r) => r.segments!.find((g) => g.segment === seg)?.share ?? 0),
      })),
    }),
    [withMix, segments],
  );
  if (!runs.length) return <p className="muted">No finished batch-scoring run of {model} yet (npm run score).</p>;
  return (
    <>
      {withMix.length > 0 && (
        <Chart option={option} height={260} testId="run-mix-chart" label={`Share of each segment in the last ${withMix.length} finished scoring runs of ${model}; the table below lists the counts`} />
      )}
      <table className="list" data-testid="run-mix-table">
        <caption className="muted small">The last {runs.length} finished runs of {model}, newest first: customers per segment as each run wrote them (table ScoreRunSegment).</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Version</th>
            <th scope="col">As of</th>
            <th scope="col">Finished</th>
            {segments.map((s) => (
              <th scope="col" key={s}>
                {segmentLabel(s)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} data-run={r.id}>
              <th scope="row">#{r.id}</th>
              <td>{r.modelVersion}</td>
              <td>{dateTime(r.asOf)}</td>
              <td>{dateTime(r.finishedAt)}</td>
              {segments.map((s) => {
                const g = r.segments?.find((x) => x.segment === s);
                return (
                  <td key={s} className="num" data-segment={s} data-count={g?.count ?? ''}>
                    {g ? `${int(g.count)} (${pct(g.share)})` : r.segments ? '0' : '—'}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {runs.some((r) => !r.segments) && <p className="muted small">— : the run finished before segment mixes were recorded.</p>}
    </>
  );
}
