// One customer: stats, order timeline, every segment's probability and the explanation waterfall
// for any served model (default: the served default model), next to the stored batch score.
import { useMemo } from 'react';
import { Chart, type ChartOption } from '../components/Chart';
import { ErrorMessage, Loading, Maybe } from '../components/Status';
import { Waterfall } from '../components/Waterfall';
import { dateTime, day, int, money, pct, segmentLabel } from '../format';
import { CustomerDetailDocument, type CustomerDetailQuery } from '../generated/graphql';
import { Link, useRouter } from '../router';
import { useQuery } from '../useQuery';
import { segmentColors } from '../components/Evaluation';

type Detail = NonNullable<CustomerDetailQuery['customer']>;

const predictionAtVersion = `query PredictionAtVersion($id: ID!, $model: String, $version: String) {
  customer(id: $id) {
    prediction(model: $model, version: $version) {
      model modelVersion asOf segment probability
      segmentProbabilities { segment probability }
      explanation(top: 8) { segment method methodDescription baseValue margin restContribution summary contributions { feature label value contribution } }
    }
  }
}`;

export function Customer({ id }: { id: string }) {
  const { location, navigate } = useRouter();
  const model = location.search.get('model') || null;
  const version = location.search.get('version') || null;
  const { data, error, loading } = useQuery(CustomerDetailDocument, { id, model });
  // A particular version (an API that serves several versions of a model): asked separately, since
  // this build's typed operations know no `version` argument.
  const atVersion = useQuery<{ customer: { prediction: Detail['prediction'] } | null }, { id: string; model: string | null; version: string | null }>(
    predictionAtVersion,
    { id, model, version },
    !version,
  );
  const c = data?.customer;
  const pick = (value: string) => {
    const [name, v] = value.split('@');
    const several = (data?.models ?? []).filter((m) => m.name === name).length > 1;
    const search = new URLSearchParams();
    if (name) search.set('model', name);
    if (name && v && several) search.set('version', v);
    const qs = search.toString();
    navigate(`/customers/${encodeURIComponent(id)}${qs ? `?${qs}` : ''}`, { replace: true });
  };
  const prediction = version ? atVersion.data?.customer?.prediction : c?.prediction;
  const picked = model ? `${model}@${version ?? data?.models.find((m) => m.name === model && m.isDefault)?.version ?? data?.models.find((m) => m.name === model)?.version}` : '';

  return (
    <>
      <p className="crumbs">
        <Link to="/customers">← Customers</Link>
      </p>
      <h1 tabIndex={-1}>{c ? c.name : 'Customer'}</h1>
      {loading && !data && <Loading what="the customer" />}
      {error && <ErrorMessage error={error} />}
      {data && !c && <p role="alert">There is no customer with this id.</p>}
      {c && data && (
        <>
          <section className="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">Profile and purchases</h2>
            <dl className="facts two">
              <dt>External id</dt>
              <dd>{c.externalId}</dd>
              <dt>Email</dt>
              <dd>
                <Maybe value={c.email} />
              </dd>
              <dt>Birth date</dt>
              <dd>
                <Maybe value={c.birthDate} />
              </dd>
              <dt>Gender</dt>
              <dd>{c.gender?.toLowerCase() ?? '—'}</dd>
              <dt>Country</dt>
              <dd>{c.country ?? '—'}</dd>
              <dt>Customer since</dt>
              <dd>{day(c.createdAt)}</dd>
              <dt>Paid orders</dt>
              <dd data-testid="order-count">{int(c.stats.orderCount)}</dd>
              <dt>Total spent</dt>
              <dd>{money(c.stats.totalSpent)}</dd>
              <dt>Average order</dt>
              <dd>{money(c.stats.averageOrderValue)}</dd>
              <dt>First / last order</dt>
              <dd>
                {day(c.stats.firstOrderAt)} / {day(c.stats.lastOrderAt)}
              </dd>
            </dl>
            <OrderTimeline orders={c.orders} />
          </section>

          <section className="card" aria-labelledby="prediction-heading">
            <div className="toolbar">
              <h2 id="prediction-heading">Prediction</h2>
              <div className="field inline">
                <label htmlFor="model-pick">Model</label>
                <select id="model-pick" value={picked} onChange={(e) => pick(e.target.value)}>
                  <option value="">default ({data.models.find((m) => m.isDefault)?.name})</option>
                  {data.models.map((m) => (
                    <option key={`${m.name}@${m.version}`} value={`${m.name}@${m.version}`}>
                      {m.name} {m.version}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            {atVersion.error && <ErrorMessage error={atVersion.error} />}
            {version && atVersion.loading && <Loading what={`version ${version}`} />}
            {prediction ? <Prediction p={prediction} /> : !atVersion.loading && <p className="muted">No prediction.</p>}
            <p className="muted small">
              Stored batch score{c.score ? `: ${segmentLabel(c.score.segment)} ${pct(c.score.probability)} (version ${c.score.modelVersion}, as of ${dateTime(c.score.asOf)})` : ': none yet (npm run score)'}.
            </p>
          </section>
        </>
      )}
    </>
  );
}

function Prediction({ p }: { p: NonNullable<Detail['prediction']> }) {
  const e = p.explanation;
  return (
    <>
      <p>
        <code data-testid="prediction-model">{p.model}</code> {p.modelVersion}, as of {dateTime(p.asOf)}: heading for <strong data-testid="predicted-segment">{segmentLabel(p.segment)}</strong> with probability{' '}
        {pct(p.probability)}.
      </p>
      <table className="probabilities" data-testid="segment-probabilities">
        <caption>Every segment's probability</caption>
        <tbody>
          {p.segmentProbabilities.map((s) => (
            <tr key={s.segment} data-segment={s.segment} data-probability={s.probability}>
              <th scope="row">{segmentLabel(s.segment)}</th>
              <td className="bar-cell">
                <span className="bar" style={{ width: `${(s.probability * 100).toFixed(1)}%`, background: segmentColors[s.segment] ?? '#6b7280' }} />
              </td>
              <td className="num">{pct(s.probability)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {e && (
        <>
          <h3>Why {segmentLabel(e.segment).toLowerCase()}?</h3>
          <p className="summary" data-testid="explanation-summary">
            {e.summary}
          </p>
          <Waterfall explanation={e} />
          <p className="muted small">
            Method: {e.method} — {e.methodDescription}
          </p>
        </>
      )}
    </>
  );
}

function OrderTimeline({ orders }: { orders: Detail['orders'] }) {
  const option = useMemo<ChartOption>(() => {
    const byStatus = (status: string) =>
      orders.edges
        .filter((e) => e.node.status === status)
        .map((e) => [e.node.orderedAt, Number(e.node.amount)]);
    return {
      grid: { left: 56, right: 16, top: 24, bottom: 30 },
      tooltip: { trigger: 'item' },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', name: 'amount ($)' },
      series: [
        { type: 'bar', name: 'paid', data: byStatus('PAID'), barMaxWidth: 6, itemStyle: { color: '#2563eb' } },
        { type: 'bar', name: 'refunded or cancelled', data: [...byStatus('REFUNDED'), ...byStatus('CANCELLED')], barMaxWidth: 6, itemStyle: { color: '#9ca3af' } },
      ],
    };
  }, [orders]);
  if (!orders.totalCount) return <p className="muted">No orders.</p>;
  return (
    <>
      <h3>Orders over time</h3>
      <Chart option={option} label={`${orders.totalCount} orders over time, amounts per order`} height={200} />
      <details>
        <summary>
          Order list ({orders.edges.length}
          {orders.totalCount > orders.edges.length ? ` newest of ${orders.totalCount}` : ''})
        </summary>
        <table className="list">
          <caption className="sr-only">Orders, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Order</th>
              <th scope="col">Items</th>
              <th scope="col">Amount</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {orders.edges.map(({ node: o }) => (
              <tr key={o.id}>
                <td>{dateTime(o.orderedAt)}</td>
                <td>{o.externalId}</td>
                <td className="num">{o.itemCount}</td>
                <td className="num">
                  {o.amount} {o.currency}
                </td>
                <td>{o.status.toLowerCase()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
