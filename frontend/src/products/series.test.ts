import { describe, expect, it } from "vitest";

import { chartRows, crossingLabel, featureKeysOf, formatTrend } from "./series";
import type { Point } from "./types";

const point = (day: string, health: number | null, features: Record<string, number | null>): Point => ({
  day,
  health_score: health,
  active_users: 1,
  engagement: null,
  error_rate: null,
  nps: null,
  features,
});

describe("chartRows", () => {
  it("puts the health score and each feature's adoption on one row per day", () => {
    const points = [point("2026-11-24", 40, { reports: 10 }), point("2026-11-25", 62.5, { reports: 65, export: 5 })];
    const keys = featureKeysOf(points, ["reports"]);
    expect(keys).toEqual(["reports", "export"]);
    expect(chartRows(points, keys)).toEqual([
      { day: "2026-11-24", health_score: 40, "feature:reports": 10, "feature:export": null },
      { day: "2026-11-25", health_score: 62.5, "feature:reports": 65, "feature:export": 5 },
    ]);
  });
});

describe("labels", () => {
  it("shows a trend with its sign, and nothing when unknown", () => {
    expect(formatTrend(5)).toBe("+5");
    expect(formatTrend(-2.5)).toBe("-2.5");
    expect(formatTrend(0)).toBe("±0");
    expect(formatTrend(null)).toBe("—");
  });
  it("names a crossing by its metric and feature", () => {
    expect(crossingLabel("feature_adoption", "reports")).toBe("Adoption · reports");
    expect(crossingLabel("product_health", null)).toBe("Health");
  });
});
