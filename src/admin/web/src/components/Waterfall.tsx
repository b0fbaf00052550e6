// The explanation as a waterfall: the base value, then each listed contribution, then the sum of
// the rest, ending at the model's margin (log-odds) for the segment. Drawn as SVG rows, each
// labelled, so a screen reader reads it as a list of steps; the numbers are in data attributes.
import { signed } from '../format';

export interface Explained {
  segment: string;
  baseValue: number;
  margin: number;
  restContribution: number;
  contributions: { feature: string; label: string; value: number | null; contribution: number }[];
}

interface Step {
  kind: 'base' | 'contribution' | 'rest' | 'margin';
  label: string;
  detail?: string;
  from: number;
  to: number;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, Math.max(8, n - 1))}…` : s);

function steps(e: Explained): Step[] {
  const out: Step[] = [{ kind: 'base', label: 'Base value', detail: 'before any input', from: 0, to: e.baseValue }];
  let at = e.baseValue;
  for (const c of e.contributions) {
    out.push({ kind: 'contribution', label: c.label, detail: c.value === null ? 'missing' : `= ${+c.value.toFixed(2)}`, from: at, to: at + c.contribution });
    at += c.contribution;
  }
  out.push({ kind: 'rest', label: 'All other inputs', from: at, to: at + e.restContribution });
  out.push({ kind: 'margin', label: 'Margin (log-odds)', from: 0, to: e.margin });
  return out;
}

export function Waterfall({ explanation }: { explanation: Explained }) {
  const rows = steps(explanation);
  const values = rows.flatMap((r) => [r.from, r.to]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const labelW = 330;
  const valueW = 80;
  const plotW = 420;
  const rowH = 28;
  const x = (v: number) => labelW + ((v - lo) / span) * plotW;
  const height = rows.length * rowH + 10;
  return (
    <figure className="waterfall">
      <svg viewBox={`0 0 ${labelW + plotW + valueW} ${height}`} width="100%" role="list" aria-label={`Explanation of ${explanation.segment}: from the base value to the margin`} data-testid="waterfall" data-margin={explanation.margin}>
        <line x1={x(0)} x2={x(0)} y1={0} y2={height} className="axis" />
        {rows.map((r, i) => {
          const delta = r.to - r.from;
          const y = i * rowH + 4;
          const cls = r.kind === 'base' || r.kind === 'margin' ? 'total' : delta >= 0 ? 'up' : 'down';
          const text = r.kind === 'base' || r.kind === 'margin' ? r.to.toFixed(3) : signed(delta);
          return (
            <g key={i} role="listitem" aria-label={`${r.label}${r.detail ? ` (${r.detail})` : ''}: ${text}`} className={`step ${r.kind}`} data-kind={r.kind} data-delta={r.kind === 'margin' ? undefined : delta} data-value={r.to}>
              <text x={labelW - 8} y={y + rowH / 2 + 4} textAnchor="end" className="label">
                {clip(r.label, 48 - (r.detail?.length ?? 0))}
                {r.detail && <tspan className="detail"> {r.detail}</tspan>}
              </text>
              <rect x={Math.min(x(r.from), x(r.to))} y={y + 4} width={Math.max(1, Math.abs(x(r.to) - x(r.from)))} height={rowH - 10} className={cls} />
              {i > 0 && i < rows.length - 1 && <line x1={x(r.from)} x2={x(r.from)} y1={y - 6} y2={y + 4} className="connector" />}
              <text x={labelW + plotW + 6} y={y + rowH / 2 + 4} className="value">
                {text}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="muted small">
        Base value + contributions + all other inputs = margin ({explanation.baseValue.toFixed(3)} {signed(explanation.contributions.reduce((s, c) => s + c.contribution, 0))}{' '}
        {signed(explanation.restContribution)} = {explanation.margin.toFixed(3)}). Positive steps push towards {explanation.segment.replace(/_/g, ' ')}.
      </figcaption>
    </figure>
  );
}
