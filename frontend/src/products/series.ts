/** Pure helpers of the product page: chart rows from daily points, labels. */

import type { Point } from "./types";

export type ChartRow = { day: string } & Record<string, number | null | string>;

/** One row per day: the health score and each feature's adoption (`feature:<key>`). */
export function chartRows(points: Point[], featureKeys: string[]): ChartRow[] {
  return points.map((point) => {
    const row: ChartRow = { day: point.day, health_score: point.health_score };
    for (const key of featureKeys) row[`feature:${key}`] = point.features[key] ?? null;
    return row;
  });
}

/** The feature keys any point mentions, in first-seen order (a removed feature's history stays). */
export function featureKeysOf(points: Point[], known: string[]): string[] {
  const keys = [...known];
  for (const point of points) {
    for (const key of Object.keys(point.features)) if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}

export function formatTrend(trend: number | null | undefined): string {
  if (trend === null || trend === undefined) return "—";
  if (trend === 0) return "±0";
  return trend > 0 ? `+${trend}` : `${trend}`;
}

const METRIC_NAMES: Record<string, string> = {
  feature_adoption: "Adoption",
  product_health: "Health",
  performance_optimization: "Performance signal",
  market_opportunity: "Market signal",
};

export function crossingLabel(metric: string, feature: string | null): string {
  const name = METRIC_NAMES[metric] ?? metric;
  return feature ? `${name} · ${feature}` : name;
}
