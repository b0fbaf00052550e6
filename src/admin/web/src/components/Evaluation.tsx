// The evaluation stored with a model version (ModelInfo.evaluation): a reliability diagram per
// segment (one-vs-rest) and the confusion matrix, both on the held-out customers. The chart's
// numbers are also in a table (screen readers, copy-paste, tests).
import { useMemo } from 'react';
import type { EvaluationFragment } from '../generated/graphql';
import { int, num, segmentLabel } from '../format';
import { Chart, type ChartOption } from './Chart';
import { ConfusionMatrix } from './Metrics';

export const segmentColors: Record<string, string> = { lapsing: '#b45309', active: '#2563eb', high_value: '#047857' };
export const colorOf = (s: string, i: number) => segmentColors[s] ?? ['#7c3aed', '#be185d', '#0f766e'][i % 3]!;

export function CalibrationPlot({ evaluation, title }: { evaluation: EvaluationFragment; title: string }) {
  const classes = evaluation.calibration.classes;
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 56, right: 16, top: 36, bottom: 44 },
      legend: { top: 0, data: classes.map((c) => segmentLabel(c.segment)) },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'value', min: 0, max: 1, name: 'predicted probability', nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', min: 0, max: 1, name: 'observed share', nameLocation: 'middle', nameGap: 38 },
      series: [
        { type: 'line', name: 'perfect calibration', data: [[0, 0], [1, 1]], symbol: 'none', lineStyle: { type: 'dashed', color: '#6b7280' }, silent: true },
        ...classes.map((c, i) => ({
          type: 'line',
          name: segmentLabel(c.segment),
          color: colorOf(c.segment, i),
          data: c.bins.filter((b) => b.count > 0).map((b) => [b.meanPredicted, b.observed, b.count]),
        })),
      ],
    }),
    [classes],
  );
  return (
    <figure className="evaluation" data-testid="calibration">
      <Chart option={option} height={300} label={`${title}: observed share against predicted probability per segment, ${classes.length} segments, ${evaluation.customers} held-out customers; the table below lists the bins`} />
      <figcaption className="muted small">
        {title}. {evaluation.calibration.method}. {evaluation.heldOut} ({int(evaluation.customers)} customers).
      </figcaption>
      <details>
        <summary>Calibration bins</summary>
        <table className="list small" data-testid="calibration-table">
          <caption className="sr-only">Calibration bins per segment</caption>
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col">Predicted</th>
              <th scope="col">Customers</th>
              <th scope="col">Mean predicted</th>
              <th scope="col">Observed</th>
            </tr>
          </thead>
          <tbody>
            {classes.flatMap((c) =>
              c.bins.map((b) => (
                <tr key={`${c.segment}-${b.lower}`} data-segment={c.segment} data-count={b.count}>
                  <th scope="row">{segmentLabel(c.segment)}</th>
                  <td>
                    {b.lower.toFixed(1)}–{b.upper.toFixed(1)}
                  </td>
                  <td className="num">{int(b.count)}</td>
                  <td className="num">{num(b.meanPredicted)}</td>
                  <td className="num">{num(b.observed)}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

export function EvaluationConfusion({ evaluation }: { evaluation: EvaluationFragment }) {
  return <ConfusionMatrix matrix={evaluation.confusion.matrix} classes={evaluation.confusion.classes} />;
}
