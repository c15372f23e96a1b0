/** A product: its metrics now, their history (recharts), band history and the
 * workflows each crossing started, and open escalations. */

import { useCallback, useEffect, useMemo, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

import { productsApi } from "./api";
import { chartRows, crossingLabel, featureKeysOf, formatTrend } from "./series";
import type { Crossing, Escalation, Metrics, Point, Product } from "./types";

const COLOURS = ["#2f6f5e", "#b7791f", "#3b82f6", "#b42318", "#7c3aed", "#0f766e"];
const RANGES = [7, 30, 90, 365];
const REFRESH_MS = 15000;

function Figure({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="figure" aria-label={label}>
      <div className="figure-label">{label}</div>
      <div className="figure-value">{value}</div>
      {hint && <div className="hint">{hint}</div>}
    </div>
  );
}

const show = (value: number | null | undefined, unit = "") =>
  value === null || value === undefined ? "—" : `${value}${unit}`;

export function ProductPage({ productId, canAcknowledge }: { productId: number; canAcknowledge: boolean }) {
  const [product, setProduct] = useState<Product | null>(null);
  const [metrics, setMetrics] = useState<Metrics | null>(null);
  const [points, setPoints] = useState<Point[]>([]);
  const [crossings, setCrossings] = useState<Crossing[]>([]);
  const [escalations, setEscalations] = useState<Escalation[]>([]);
  const [days, setDays] = useState(30);
  const [error, setError] = useState("");

  const load = useCallback(async () => {
    try {
      const [p, m, a, c, e] = await Promise.all([
        productsApi.product(productId),
        productsApi.metrics(productId),
        productsApi.analytics(productId, days),
        productsApi.crossings(productId),
        productsApi.escalations(productId),
      ]);
      setProduct(p);
      setMetrics(m);
      setPoints(a.points);
      setCrossings(c.results);
      setEscalations(e.results);
      setError("");
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  }, [productId, days]);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  const keys = useMemo(
    () => featureKeysOf(points, product ? product.features.map((f) => f.key) : []),
    [points, product],
  );
  const rows = useMemo(() => chartRows(points, keys), [points, keys]);

  const acknowledge = useCallback(
    async (id: number) => {
      try {
        await productsApi.acknowledge(id);
        await load();
      } catch (failure) {
        setError(failure instanceof Error ? failure.message : String(failure));
      }
    },
    [load],
  );

  if (!product || !metrics) return error ? <p className="field-error page">{error}</p> : <p className="loading">Loading…</p>;
  const open = escalations.filter((e) => e.status === "open");
  return (
    <main className="page product-page">
      <div className="page-head">
        <div>
          <a href="/products/" className="muted small">
            ← Products
          </a>
          <h1>{product.name}</h1>
          <p className="muted small">
            Product manager: {product.manager_email || "—"} · Executive: {product.executive_email || "—"}
          </p>
        </div>
      </div>
      {error && <p className="field-error">{error}</p>}

      <section className="figures" aria-label="Metrics now">
        <Figure
          label="Health score"
          value={show(metrics.health_score)}
          hint={metrics.health_band ? `band: ${metrics.health_band}` : "no band yet"}
        />
        <Figure label="Active users" value={show(metrics.active_users)} hint={`last ${metrics.window_days ?? "—"} days`} />
        <Figure label="Sessions per user" value={show(metrics.engagement)} />
        <Figure label="Error rate" value={show(metrics.error_rate, " %")} />
        <Figure label="NPS" value={show(metrics.nps)} />
      </section>

      <section aria-label="Metrics over time">
        <div className="row">
          <h2>Over time</h2>
          <span className="spacer" />
          <label className="small muted" htmlFor="range">
            Range
          </label>
          <select id="range" value={days} onChange={(e) => setDays(Number(e.target.value))} style={{ width: 120 }}>
            {RANGES.map((r) => (
              <option key={r} value={r}>
                {r} days
              </option>
            ))}
          </select>
        </div>
        {rows.length === 0 ? (
          <p className="muted">No history yet: metrics are computed within seconds of the first usage events.</p>
        ) : (
          <div className="chart" data-testid="metrics-chart">
            <ResponsiveContainer width="100%" height={280}>
              <LineChart data={rows} margin={{ top: 8, right: 24, bottom: 8, left: 0 }}>
                <CartesianGrid stroke="#e4e7eb" />
                <XAxis dataKey="day" />
                <YAxis domain={[0, 100]} />
                <Tooltip />
                <Legend />
                <Line type="monotone" dataKey="health_score" name="Health score" stroke={COLOURS[0]} strokeWidth={2} isAnimationActive={false} connectNulls />
                {keys.map((key, index) => (
                  <Line
                    key={key}
                    type="monotone"
                    dataKey={`feature:${key}`}
                    name={`${key} adoption %`}
                    stroke={COLOURS[(index + 1) % COLOURS.length]}
                    isAnimationActive={false}
                    connectNulls
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
        )}
      </section>

      <section aria-label="Features">
        <h2>Features</h2>
        <table className="workflows">
          <thead>
            <tr>
              <th>Feature</th>
              <th>Adoption</th>
              <th>Trend</th>
              <th>Users / target</th>
              <th>Band</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(metrics.features).map(([key, f]) => (
              <tr key={key}>
                <td>
                  {f.name} <span className="muted small">{key}</span>
                </td>
                <td>{show(f.adoption, " %")}</td>
                <td>{formatTrend(f.trend)}</td>
                <td>
                  {f.users} / {f.target}
                </td>
                <td>{f.band ? <span className="pill">{f.band}</span> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      {open.length > 0 && (
        <section aria-label="Open escalations">
          <h2>Open escalations</h2>
          <ul className="escalations">
            {open.map((e) => (
              <li key={e.id}>
                <span className="pill paused">L{e.level}</span> {e.title}
                {e.escalate_at && <span className="muted small"> · rises at {new Date(e.escalate_at).toLocaleString()}</span>}
                {canAcknowledge && (
                  <button type="button" className="small secondary" onClick={() => void acknowledge(e.id)}>
                    Acknowledge
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}

      <section aria-label="Band history">
        <h2>Band history</h2>
        {crossings.length === 0 ? (
          <p className="muted">No band entered yet.</p>
        ) : (
          <table className="workflows">
            <thead>
              <tr>
                <th>When</th>
                <th>What</th>
                <th>Band</th>
                <th>Value</th>
                <th>Workflows started</th>
              </tr>
            </thead>
            <tbody>
              {crossings.map((c) => (
                <tr key={c.id}>
                  <td>{new Date(c.at).toLocaleString()}</td>
                  <td>{crossingLabel(c.metric, c.feature)}</td>
                  <td>
                    {c.from_band ? `${c.from_band} → ` : ""}
                    <strong>{c.to_band}</strong>
                  </td>
                  <td>{show(c.value)}</td>
                  <td>
                    {c.runs.length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      c.runs.map((run) => (
                        <div key={run.id}>
                          <a href={`/workflows/${run.workflow}/`}>{run.workflow_name}</a>{" "}
                          <span className="muted small">{run.status}</span>
                        </div>
                      ))
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
